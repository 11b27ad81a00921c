#![no_main]
//! HMAC signature header parsing and canonical string construction.
use libfuzzer_sys::fuzz_target;
use palisade_auth::signature::{canonical_string, parse_params};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let f: Vec<&str> = text.splitn(5, '\n').collect();
    let get = |i: usize| f.get(i).copied().unwrap_or("");
    let _ = parse_params(get(0), get(1), get(2), get(3));
    let headers = http::HeaderMap::new();
    let _ = canonical_string(&http::Method::POST, get(4), 1, get(2), &["host".into()], &headers, data);
});
