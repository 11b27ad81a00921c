#![no_main]
//! Username extraction from login bodies (JSON pointer and form field).
use libfuzzer_sys::fuzz_target;
use palisade_ratelimit::bruteforce::extract_username;
use palisade_ratelimit::config::UsernameLocation;

fuzz_target!(|data: &[u8]| {
    let _ = extract_username(data, &UsernameLocation::JsonPointer("/user/name".into()));
    let _ = extract_username(data, &UsernameLocation::FormField("username".into()));
});
