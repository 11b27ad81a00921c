#![no_main]
//! RFC 7662 introspection responses.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = palisade_auth::introspection::parse_introspection_response(data, &["palisade-demo".to_owned()]);
});
