#![no_main]
//! JWKS documents as fetched from an issuer.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = palisade_auth::jwt::parse_jwks(data);
});
