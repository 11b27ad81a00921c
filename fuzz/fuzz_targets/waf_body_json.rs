#![no_main]
//! The JSON body processor must never panic on any input.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = palisade_waf::body::parse_json(data);
});
