//! Strings fixed by a configuration, kept for the life of the process.
//!
//! A header name or value built from a `&'static str` is cloned by copying a
//! pointer. One built at run time counts references in a block that every
//! worker thread shares, so each request's clone and drop moves that cache
//! line from core to core. Configuration strings (header names, rate-limit
//! names and policies) are few, and reloads repeat them: each distinct string
//! is kept once, however many configurations use it.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// The process-wide copy of `text`.
pub fn intern(text: &str) -> &'static str {
    static INTERNED: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut interned = INTERNED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(kept) = interned.get(text) {
        return kept;
    }
    let kept: &'static str = Box::leak(text.into());
    interned.insert(kept);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_copy() {
        let a = intern(&String::from("x-palisade-subject"));
        let b = intern(&String::from("x-palisade-subject"));
        assert_eq!(a, "x-palisade-subject");
        assert!(std::ptr::eq(a, b));
        assert!(!std::ptr::eq(a, intern("x-palisade-issuer")));
    }
}
