#![no_main]
//! Bearer, cookie, header and query credential extraction.
use libfuzzer_sys::fuzz_target;
use palisade_auth::config::TokenLocation;
use palisade_auth::token::{extract_token, query_value};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let auth = parts.next().unwrap_or("");
    let cookie = parts.next().unwrap_or("");
    let query = parts.next().unwrap_or("");
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(auth) {
        headers.insert("authorization", v);
    }
    if let Ok(v) = http::HeaderValue::from_str(cookie) {
        headers.insert("cookie", v);
    }
    let locations = [
        TokenLocation::Bearer,
        TokenLocation::Cookie { name: "session".into() },
        TokenLocation::Header { name: "x-token".into() },
    ];
    let _ = extract_token(&headers, &locations);
    let _ = query_value(Some(query), "api_key");
});
