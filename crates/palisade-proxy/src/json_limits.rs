//! Structural limits on JSON bodies, checked in one pass over the bytes before
//! any detector parses them: nesting depth and member count. A body built to
//! exhaust a parser (`[[[[…` a million deep, or a million keys) is refused
//! cheaply, in linear time and constant memory.

/// What was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonLimitExceeded {
    Depth(usize),
    Keys(usize),
}

/// Scans `body` as JSON text. Strings (with escapes) are skipped, so brackets
/// and colons inside them do not count. Malformed JSON is not this function's
/// concern: it only bounds the structure a parser would have to build.
pub fn check(body: &[u8], max_depth: usize, max_keys: usize) -> Result<(), JsonLimitExceeded> {
    let mut counts = Structure::new(max_depth, max_keys);
    let mut at = 0usize;
    while let Some(&b) = body.get(at) {
        at += 1;
        match b {
            // Most of a body's bytes are string contents: jump from quote
            // or backslash to the next instead of looking at each byte.
            b'"' => loop {
                let rest = body.get(at..).unwrap_or(&[]);
                match memchr::memchr2(b'"', b'\\', rest) {
                    Some(offset) if rest.get(offset) == Some(&b'\\') => at += offset + 2,
                    Some(offset) => {
                        at += offset + 1;
                        break;
                    }
                    None => return Ok(()),
                }
            },
            other => counts.outside_strings(other)?,
        }
    }
    Ok(())
}

/// Depth and members counted from the bytes outside strings.
struct Structure {
    depth: usize,
    keys: usize,
    max_depth: usize,
    max_keys: usize,
}

impl Structure {
    fn new(max_depth: usize, max_keys: usize) -> Self {
        Structure {
            depth: 0,
            keys: 0,
            max_depth,
            max_keys,
        }
    }

    fn outside_strings(&mut self, b: u8) -> Result<(), JsonLimitExceeded> {
        match b {
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth > self.max_depth {
                    return Err(JsonLimitExceeded::Depth(self.max_depth));
                }
            }
            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
            b':' => {
                self.keys += 1;
                if self.keys > self.max_keys {
                    return Err(JsonLimitExceeded::Keys(self.max_keys));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// True for `application/json` and any `+json` media type.
pub fn is_json_media_type(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn depth_and_keys() {
        assert_eq!(check(b"[[[1]]]", 3, 10), Ok(()));
        assert_eq!(check(b"[[[[1]]]]", 3, 10), Err(JsonLimitExceeded::Depth(3)));
        assert_eq!(
            check(br#"{"a":1,"b":2,"c":3}"#, 5, 2),
            Err(JsonLimitExceeded::Keys(2))
        );
    }

    #[test]
    fn strings_do_not_count() {
        assert_eq!(check(br#"{"a":"[[[[:::{{{\"]]]"}"#, 1, 1), Ok(()));
    }

    /// The plain byte-at-a-time reading of strings the fast scan must agree with.
    fn reference(body: &[u8], max_depth: usize, max_keys: usize) -> Result<(), JsonLimitExceeded> {
        let mut counts = Structure::new(max_depth, max_keys);
        let (mut in_string, mut escaped) = (false, false);
        for &b in body {
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
            } else if b == b'"' {
                in_string = true;
            } else {
                counts.outside_strings(b)?;
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn agrees_with_the_byte_by_byte_reading(
            bytes in proptest::collection::vec(
                prop_oneof![
                    Just(b'"'), Just(b'\\'), Just(b'{'), Just(b'['), Just(b'}'), Just(b']'),
                    Just(b':'), Just(b','), Just(b'a'), any::<u8>(),
                ],
                0..256,
            ),
            max_depth in 0usize..6,
            max_keys in 0usize..6,
        ) {
            prop_assert_eq!(check(&bytes, max_depth, max_keys), reference(&bytes, max_depth, max_keys));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = check(&bytes, 8, 8);
        }

        #[test]
        fn matches_a_parser_on_valid_json(depth in 1usize..40) {
            let text = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
            prop_assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
            prop_assert_eq!(check(text.as_bytes(), depth, 0).is_ok(), true);
            prop_assert_eq!(check(text.as_bytes(), depth - 1, 0).is_err(), true);
        }
    }
}
