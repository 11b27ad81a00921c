#![no_main]
//! SecLang parsing and rule compilation must never panic on any input.

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = palisade_waf::Waf::from_text(&text, Path::new("fuzz.conf"));
    let _ = palisade_waf::seclang::split_words(&text);
    let _ = palisade_waf::variables::parse_targets(&text);
    let _ = palisade_waf::regex_compat::translate(&text);
});
