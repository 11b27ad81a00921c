#![no_main]
//! Arbitrary X-Forwarded-For / Forwarded values from a trusted peer.
use libfuzzer_sys::fuzz_target;
use palisade_proxy::client_ip::TrustedProxies;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (xff, fwd) = data.split_at(split);
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_bytes(xff) {
        headers.insert("x-forwarded-for", v);
    }
    if let Ok(v) = http::HeaderValue::from_bytes(fwd.get(1..).unwrap_or_default()) {
        headers.insert("forwarded", v);
    }
    let trusted = TrustedProxies::new(vec!["127.0.0.0/8".parse().unwrap_or_default(), "::1/128".parse().unwrap_or_default()]);
    let ip = trusted.client_ip("127.0.0.1".parse().unwrap_or(std::net::IpAddr::from([127, 0, 0, 1])), &headers);
    let _ = palisade_proxy::client_ip::client_key(ip);
    let mut out = headers.clone();
    palisade_proxy::forwarding::strip_hop_by_hop(&mut out, false);
});
