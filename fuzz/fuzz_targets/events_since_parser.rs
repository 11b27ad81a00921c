#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(duration) = palisade_events::parse_since(text) {
            assert!(duration.as_secs() <= palisade_events::MAX_SINCE_SECS);
            let _ = palisade_events::cutoff_ms(palisade_events::now_ms(), duration);
        }
    }
});
