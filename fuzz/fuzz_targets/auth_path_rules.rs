#![no_main]
//! Path normalisation and pattern matching used by access rules and limits.
use libfuzzer_sys::fuzz_target;
use palisade_auth::authz::normalize_path;
use palisade_auth::PathPattern;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (pattern, path) = text.split_once('\n').unwrap_or(("/api/**", &text));
    let _ = normalize_path(path);
    if let Ok(p) = PathPattern::parse(pattern, true) {
        let _ = p.matches(path);
    }
});
