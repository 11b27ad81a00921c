#![no_main]
//! JWT shape/header inspection and full verification of arbitrary tokens.
use libfuzzer_sys::fuzz_target;
use palisade_auth::jwt::{inspect_token, parse_algorithm, verify_token, ClaimPolicy, VerificationKey};

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let Ok(header) = inspect_token(token) else { return };
    let keys = [VerificationKey::hmac_secret(Some("k".into()), b"fuzzing-secret-fuzzing-secret-32")];
    let policy = ClaimPolicy {
        issuer: "https://issuer.example".into(),
        audiences: vec!["palisade-demo".into()],
        leeway: 30,
        max_age: Some(3600),
        required: vec!["exp".into(), "sub".into()],
        subject_claim: "sub".into(),
        scope_claims: vec!["scope".into(), "scp".into()],
    };
    let Ok(hs256) = parse_algorithm("HS256") else { return };
    let _ = verify_token(token, &header, &[hs256], &keys, &policy, 1_700_000_000);
});
