#![no_main]
//! `detect_xss` never panics and is deterministic.

use libfuzzer_sys::fuzz_target;
use palisade_detect::xss;

fuzz_target!(|data: &[u8]| {
    assert_eq!(xss::detect_xss(data), xss::detect_xss(data));
    let _ = xss::find_xss(data);
});
