#![no_main]
//! Client certificate (DER) to principal mapping.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = palisade_auth::principal_from_certificate(data, &palisade_auth::config::MtlsConfig::default());
});
