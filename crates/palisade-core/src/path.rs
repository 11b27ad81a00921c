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
pub fn normalize_path(raw_path: &str) -> Vec<PathSegment> {
    // One pass over the bytes, which finds the end of the path, the
    // separators and whether a segment needs decoding all at once: this runs
    // on every request that meets a path rule. The list is allocated once,
    // at the right size for the common path (no encoded separators).
    let bytes = raw_path.as_bytes();
    let separators = bytes.iter().filter(|&&b| b == b'/').count();
    let mut out: Vec<PathSegment> = Vec::with_capacity((separators + 1).min(MAX_PATH_SEGMENTS));
    let mut start = 0;
    let mut needs_decoding = false;
    for (i, b) in bytes.iter().copied().chain([b'?']).enumerate() {
        match b {
            b'/' | b'?' | b'#' => {
                // The bytes split on are ASCII, so both ends are char boundaries.
                let raw = raw_path.get(start..i).unwrap_or("");
                if needs_decoding || raw == "." || raw == ".." {
                    push_decoded(&mut out, raw);
                } else if !raw.is_empty() {
                    push_segment(&mut out, raw);
                }
                if b != b'/' {
                    break;
                }
                start = i + 1;
                needs_decoding = false;
            }
            b'%' | b';' | b'\\' => needs_decoding = true,
            _ => {}
        }
    }
    out
}

/// A segment with parameters, percent-encoding, backslashes or dots.
fn push_decoded(out: &mut Vec<PathSegment>, raw: &str) {
    let without_params = raw.split(';').next().unwrap_or("");
    let once = percent_decode_str(without_params).decode_utf8_lossy();
    let twice = percent_decode_str(&once).decode_utf8_lossy();
    for piece in twice.split(['/', '\\']) {
        match piece.split(';').next().unwrap_or("") {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            seg => push_segment(out, seg),
        }
    }
}

fn push_segment(out: &mut Vec<PathSegment>, seg: &str) {
    if out.len() >= MAX_PATH_SEGMENTS {
        if let Some(last) = out.last_mut() {
            *last = PathSegment::new(&format!("{}/{seg}", last.as_str()));
        }
    } else {
        out.push(PathSegment::new(seg));
    }
}

/// Bytes of a segment kept inside the [`PathSegment`] itself.
const INLINE_SEGMENT: usize = 22;

/// One normalised path segment. Segments are short (`api`, `orders`, an id),
/// and a path is split on every request that meets a path rule: those up to
/// 22 bytes are held inline, so a path costs one allocation for its list
/// rather than one more per segment.
#[derive(Clone)]
pub struct PathSegment(SegmentText);

#[derive(Clone)]
enum SegmentText {
    Inline {
        len: u8,
        bytes: [u8; INLINE_SEGMENT],
    },
    Heap(Box<str>),
}

impl PathSegment {
    pub fn new(text: &str) -> PathSegment {
        let mut bytes = [0u8; INLINE_SEGMENT];
        match (bytes.get_mut(..text.len()), u8::try_from(text.len())) {
            (Some(inline), Ok(len)) => {
                inline.copy_from_slice(text.as_bytes());
                PathSegment(SegmentText::Inline { len, bytes })
            }
            _ => PathSegment(SegmentText::Heap(text.into())),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Copied from a `&str` whole, so always UTF-8.
            SegmentText::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            SegmentText::Heap(text) => text,
        }
    }
}

impl std::ops::Deref for PathSegment {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for PathSegment {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for PathSegment {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for PathSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for PathSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for PathSegment {
    fn eq(&self, other: &PathSegment) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for PathSegment {}

impl PartialEq<str> for PathSegment {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for PathSegment {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for PathSegment {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

/// The normalised segments of a request's path, computed on first use.
#[derive(Debug, Clone, Default)]
pub struct PathSegments(OnceLock<Vec<PathSegment>>);

impl PathSegments {
    pub fn get_or_compute(&self, raw_path: &str) -> &[PathSegment] {
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
                    seg if out.len() >= MAX_PATH_SEGMENTS => {
                        if let Some(last) = out.last_mut() {
                            last.push('/');
                            last.push_str(seg);
                        }
                    }
                    seg => out.push(seg.to_owned()),
                }
            }
        }
        out
    }

    #[test]
    fn segments_short_and_long_read_back_whole() {
        let long = "a-segment-longer-than-twenty-two-bytes";
        let exact = "twenty-two-bytes-exact";
        assert_eq!(exact.len(), INLINE_SEGMENT);
        let segments = normalize_path(&format!("/api/{long}/{exact}/é"));
        assert_eq!(segments, ["api", long, exact, "é"]);
        assert_eq!(segments.join("/"), format!("api/{long}/{exact}/é"));
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
        fn fast_path_agrees_with_the_reference(raw in "[a-z./;%25\\\\?#]{0,40}") {
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
