#![no_main]
//! Arbitrary configuration text: parsing and validation return errors, never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(cfg) = palisade_config::Config::from_toml(text, "fuzz.toml") {
            let _ = cfg.validate(text, "fuzz.toml");
        }
        let _ = palisade_config::parse_size(text);
        let _ = palisade_config::parse_span(text);
    }
});
