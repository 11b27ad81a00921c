#![no_main]
//! Arbitrary text as an OpenAPI description (YAML or JSON): loading must
//! return a result, never panic or hang.

use libfuzzer_sys::fuzz_target;
use palisade_openapi::ApiSpec;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(spec) = ApiSpec::from_str(text, Path::new("/nonexistent-palisade-fuzz")) {
            let _ = spec.match_operation(&http::Method::GET, "/a/b");
        }
    }
});
