#![no_main]
//! Every transformation must never panic; the first byte picks a chain.

use libfuzzer_sys::fuzz_target;
use palisade_waf::transforms::{apply_all, Transform};

const NAMES: &[&str] = &[
    "lowercase", "urlDecode", "urlDecodeUni", "htmlEntityDecode", "jsDecode", "cssDecode",
    "cmdLine", "compressWhitespace", "removeWhitespace", "removeNulls", "replaceNulls",
    "replaceComments", "removeComments", "removeCommentsChar", "normalizePath",
    "normalizePathWin", "base64Decode", "base64DecodeExt", "hexDecode", "hexEncode",
    "utf8toUnicode", "escapeSeqDecode", "sqlHexDecode", "length", "sha1", "md5", "trim",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let chain: Vec<Transform> = (0..3)
        .filter_map(|i| NAMES.get((usize::from(selector) >> (i * 2)) % NAMES.len()))
        .filter_map(|n| Transform::from_name(n))
        .collect();
    let _ = apply_all(input, &chain);
    for name in NAMES {
        if let Some(t) = Transform::from_name(name) {
            let _ = t.apply(input);
        }
    }
});
