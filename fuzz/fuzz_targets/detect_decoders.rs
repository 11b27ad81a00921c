#![no_main]
//! Decoders and extractors of palisade-detect must never panic and must stay
//! bounded on arbitrary bytes.

use libfuzzer_sys::fuzz_target;
use palisade_detect::{decode, extract, json, xml};

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    decode::percent_decode_into(data, true, &mut out);
    assert!(out.len() <= data.len() * 4);
    decode::html_decode_into(data, &mut out);
    assert!(out.len() <= data.len() * 4);
    decode::normalize_bytes_into(data, &mut out);
    assert!(out.len() <= data.len());
    decode::plain_base64(data, &mut out);
    assert!(out.len() <= data.len());
    let mut items = 0usize;
    json::scan(data, 1000, &mut |_| items += 1);
    xml::scan(data, 1000, &mut |_| items += 1);
    extract::for_each_pair(data, 1000, &mut |_, _| items += 1);
    extract::for_each_cookie(data, 1000, &mut |_, _| items += 1);
    extract::for_each_part(data, b"boundary", 1000, &mut |_| items += 1);
    extract::for_each_graphql_string(data, 1000, &mut |_| items += 1);
    let mut scratch = Vec::new();
    palisade_detect::checks::resolve_lookups(data, &mut scratch);
    assert!(scratch.len() <= data.len());
});
