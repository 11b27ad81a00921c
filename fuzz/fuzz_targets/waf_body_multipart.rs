#![no_main]
//! The multipart body processor must never panic: the first line is the
//! Content-Type, the rest is the body.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = match data.iter().position(|&b| b == b'\n') {
        Some(p) => (&data[..p], &data[p + 1..]),
        None => (&b"multipart/form-data; boundary=x"[..], data),
    };
    let _ = palisade_waf::body::parse_multipart(content_type, body, 16);
});
