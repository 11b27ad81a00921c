#![no_main]
//! The native detector on arbitrary bodies of every supported media type and
//! on arbitrary query strings: no panic, deterministic, bounded output.

use libfuzzer_sys::fuzz_target;
use palisade_detect::NativeDetector;

const MEDIA: &[(&str, &[u8])] = &[
    ("application/json", b"application/json"),
    ("application/x-www-form-urlencoded", b"application/x-www-form-urlencoded"),
    ("multipart/form-data", b"multipart/form-data; boundary=xyz"),
    ("application/xml", b"application/xml"),
    ("application/graphql", b"application/graphql"),
    ("text/plain", b"text/plain"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let detector = NativeDetector::default();
    let (media, content_type) = MEDIA[usize::from(selector) % MEDIA.len()];
    let first = detector.inspect_body(Some(media), content_type, body);
    let second = detector.inspect_body(Some(media), content_type, body);
    assert_eq!(first, second);
    // at most one finding per category per location, a bounded number of locations
    assert!(first.len() <= 64 * (detector.config().max_values + 1));
    for f in &first {
        assert!(f.evidence.as_str().chars().count() <= 1000);
    }
    let query: String = body
        .iter()
        .map(|b| if b.is_ascii_graphic() && *b != b'#' { char::from(*b) } else { '+' })
        .collect();
    let head = palisade_core::RequestHead::synthetic(http::Method::GET, &format!("/p/{query}?{query}"));
    assert_eq!(detector.inspect_head(&head), detector.inspect_head(&head));
});
