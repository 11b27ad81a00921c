#![no_main]
//! The XML body processor and XPath subset must never panic.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = palisade_waf::body::parse_xml(data) {
        for xpath in ["/*", "//@*", "//*", "//a", "/a/b/@c"] {
            let _ = doc.select(xpath);
        }
    }
});
