#![no_main]
//! `detect_sqli` never panics and is deterministic.

use libfuzzer_sys::fuzz_target;
use palisade_detect::sqli;

fuzz_target!(|data: &[u8]| {
    let first = sqli::detect_sqli(data);
    let second = sqli::detect_sqli(data);
    assert_eq!(first, second);
    if let Some(m) = first {
        assert!(!m.fingerprint.is_empty() && m.fingerprint.len() <= 8);
    }
    let _ = sqli::analyze(data);
});
