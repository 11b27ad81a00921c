//! Request path normalisation shared by every path-matching stage
//! (authorization rules, rate limits).
//!
//! Paths are split the way an upstream is likely to interpret them, so an
//! encoded or dotted spelling of a protected path cannot slip past a rule:
//! percent-decoding twice (an encoded `/` becomes a separator, `%252F`-style
//! double encodings are caught), `\` as a separator, `;parameters` removed,
//! empty and `.` segments dropped, `..` resolved.

use percent_encoding::percent_decode_str;
use std::sync::OnceLock;

/// Most segments a path is split into; beyond that the rest is one segment.
pub const MAX_PATH_SEGMENTS: usize = 256;

/// Splits a request path into normalised segments.
pub fn normalize_path(raw_path: &str) -> Vec<String> {
    let path = raw_path.split(['?', '#']).next().unwrap_or("");
    let mut out: Vec<String> = Vec::new();
    for raw in path.split('/') {
        // The common segment needs no decoding: copy it once.
        if !raw.is_empty() && !raw.contains(['%', ';', '\\']) && raw != "." && raw != ".." {
            push_segment(&mut out, raw);
            continue;
        }
        let without_params = raw.split(';').next().unwrap_or("");
        let once = percent_decode_str(without_params).decode_utf8_lossy();
        let twice = percent_decode_str(&once).decode_utf8_lossy();
        for piece in twice.split(['/', '\\']) {
            match piece.split(';').next().unwrap_or("") {
                "" | "." => {}
                ".." => {
                    out.pop();
                }
                seg => push_segment(&mut out, seg),
            }
        }
    }
    out
}

fn push_segment(out: &mut Vec<String>, seg: &str) {
    if out.len() >= MAX_PATH_SEGMENTS {
        if let Some(last) = out.last_mut() {
            last.push('/');
            last.push_str(seg);
        }
    } else {
        out.push(seg.to_owned());
    }
}

/// The normalised segments of a request's path, computed on first use.
#[derive(Debug, Clone, Default)]
pub struct PathSegments(OnceLock<Vec<String>>);

impl PathSegments {
    pub fn get_or_compute(&self, raw_path: &str) -> &[String] {
        self.0.get_or_init(|| normalize_path(raw_path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The normalisation as first written, without the fast path.
    fn reference(raw_path: &str) -> Vec<String> {
        let path = raw_path.split(['?', '#']).next().unwrap_or("");
        let mut out: Vec<String> = Vec::new();
        for raw in path.split('/') {
            let without_params = raw.split(';').next().unwrap_or("");
            let once = percent_decode_str(without_params).decode_utf8_lossy();
            let twice = percent_decode_str(&once).decode_utf8_lossy().into_owned();
            for piece in twice.split(['/', '\\']) {
                match piece.split(';').next().unwrap_or("") {
                    "" | "." => {}
                    ".." => {
                        out.pop();
                    }
                    seg => push_segment(&mut out, seg),
                }
            }
        }
        out
    }

    #[test]
    fn encoded_and_dotted_spellings_normalise_alike() {
        for p in [
            "/api/admin/users",
            "/api/%61dmin/users",
            "/api/x/../admin/users",
            "/api/./admin//users;jsessionid=1",
            "/api%2fadmin%252Fusers",
            "/api\\admin\\users?x=1",
        ] {
            assert_eq!(normalize_path(p), ["api", "admin", "users"], "{p}");
        }
    }

    proptest! {
        #[test]
        fn fast_path_agrees_with_the_reference(raw in "[a-z./;%25\\\\]{0,40}") {
            prop_assert_eq!(normalize_path(&raw), reference(&raw));
        }

        #[test]
        fn never_panics_and_has_no_dot_segments(raw in "\\PC{0,200}") {
            for seg in normalize_path(&raw) {
                prop_assert!(seg != "." && seg != ".." && !seg.is_empty());
            }
        }
    }
}
