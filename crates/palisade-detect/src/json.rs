//! A streaming JSON scanner that reports every object key and string value
//! with its path, without building a tree and without recursion.
//!
//! It is lenient the way an inspection engine must be: it never fails on
//! input, it reports what it could read before a syntax error, and it says
//! whether the document was well formed.

/// What the scanner found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonItemKind {
    Key,
    String,
}

/// One key or string value. `path()` renders its `$`-rooted location
/// (`$.user.tags[2]`); for a key it includes the key itself. `parent_key`
/// is, for a key, the key of the enclosing member (`constructor` for
/// `{"constructor":{"prototype":..}}`) and, for a value, the key that names it.
#[derive(Debug)]
pub struct JsonItem<'a> {
    pub kind: JsonItemKind,
    pub value: &'a [u8],
    pub parent_key: &'a [u8],
    frames: &'a [Frame],
    keys: &'a [u8],
}

impl JsonItem<'_> {
    /// The item's path, rendered on demand (most items never need one).
    pub fn path(&self) -> String {
        let mut path = String::from("$");
        for frame in self.frames {
            if path.len() >= MAX_PATH_LEN {
                path.push('…');
                break;
            }
            match frame.container {
                Container::Object => {
                    let key = self
                        .keys
                        .get(frame.key_start..frame.key_start + frame.key_len)
                        .unwrap_or(&[]);
                    push_key(&mut path, key);
                }
                Container::Array(index) => {
                    use std::fmt::Write;
                    let _ = write!(path, "[{index}]");
                }
            }
        }
        path
    }
}

/// Outcome of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonScan {
    pub well_formed: bool,
    /// Non-empty keys and strings reported.
    pub items: usize,
    /// Whether the scan stopped at `max_items` with strings left unread.
    pub truncated: bool,
    /// Deepest nesting seen.
    pub depth: usize,
}

/// Longest path rendered; deeper paths are elided with `…`.
const MAX_PATH_LEN: usize = 256;
const MAX_KEY_IN_PATH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array(usize),
}

#[derive(Debug)]
struct Frame {
    container: Container,
    key_start: usize,
    key_len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Value,
    AfterValue,
    KeyOrEnd,
    Key,
    Colon,
    ValueOrEnd,
}

fn at(input: &[u8], i: usize) -> u8 {
    input.get(i).copied().unwrap_or(0)
}

fn skip_ws(input: &[u8], i: usize) -> usize {
    match input.get(i..) {
        Some(rest) => rest
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .map_or(input.len(), |p| i + p),
        None => i,
    }
}

/// Length of the literal (number, `true`, `null`...) starting at `i`.
fn literal_len(input: &[u8], i: usize) -> usize {
    input.get(i..).map_or(0, |rest| {
        rest.iter()
            .position(|b| {
                matches!(
                    b,
                    b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'{' | b'[' | b':'
                )
            })
            .unwrap_or(rest.len())
    })
}

/// Position of the first `"` or `\\` in `rest`. Most strings in API bodies
/// are short: a plain loop over their first bytes beats setting up a vector
/// search, which takes over for longer ones.
fn string_stop(rest: &[u8]) -> Option<usize> {
    const SHORT: usize = 24;
    let head = rest.get(..SHORT.min(rest.len())).unwrap_or(rest);
    match head.iter().position(|b| matches!(b, b'"' | b'\\')) {
        Some(p) => Some(p),
        None => memchr::memchr2(b'"', b'\\', rest.get(head.len()..)?).map(|p| head.len() + p),
    }
}

/// Reads a JSON string starting after its opening quote: a string without
/// escapes is borrowed from `input`, any other is decoded into `out`.
/// Returns the string and the position after its closing quote, or `None`
/// when unterminated.
fn read_str<'a>(input: &'a [u8], i: usize, out: &'a mut Vec<u8>) -> Option<(&'a [u8], usize)> {
    let rest = input.get(i..)?;
    let stop = string_stop(rest)?;
    if rest.get(stop) == Some(&b'"') {
        return Some((rest.get(..stop)?, i + stop + 1));
    }
    let next = read_string(input, i, out)?;
    Some((out.as_slice(), next))
}

/// Reads a JSON string starting after its opening quote into `out`,
/// resolving escapes (`\uXXXX` with surrogate pairs). Returns the position
/// after the closing quote, or `None` when unterminated.
fn read_string(input: &[u8], mut i: usize, out: &mut Vec<u8>) -> Option<usize> {
    out.clear();
    loop {
        let rest = input.get(i..)?;
        let stop = memchr::memchr2(b'"', b'\\', rest)?;
        out.extend_from_slice(rest.get(..stop)?);
        i += stop;
        if at(input, i) == b'"' {
            return Some(i + 1);
        }
        let esc = at(input, i + 1);
        i += 2;
        match esc {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => match hex4(input, i) {
                Some(h) => {
                    i += 4;
                    let ch = if (0xD800..0xDC00).contains(&h)
                        && at(input, i) == b'\\'
                        && at(input, i + 1) == b'u'
                    {
                        match hex4(input, i + 2) {
                            Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                i += 6;
                                char::from_u32(0x10000 + ((h - 0xD800) << 10) + (lo - 0xDC00))
                            }
                            _ => None,
                        }
                    } else {
                        char::from_u32(h)
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(
                        ch.unwrap_or('\u{FFFD}').encode_utf8(&mut buf).as_bytes(),
                    );
                }
                None => out.extend_from_slice(b"\\u"),
            },
            0 if i > input.len() => return None,
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
}

fn hex4(input: &[u8], i: usize) -> Option<u32> {
    let mut v = 0u32;
    for k in 0..4 {
        let d = char::from(at(input, i + k)).to_digit(16)?;
        v = v << 4 | d;
    }
    Some(v)
}

fn push_key(path: &mut String, key: &[u8]) {
    path.push('.');
    if key.len() <= MAX_KEY_IN_PATH && key.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        path.push_str(std::str::from_utf8(key).unwrap_or(""));
        return;
    }
    let text = String::from_utf8_lossy(key);
    for (n, ch) in text.chars().enumerate() {
        if n >= MAX_KEY_IN_PATH {
            path.push('…');
            break;
        }
        path.push(if ch.is_control() { '?' } else { ch });
    }
}

/// Scans `input`, calling `visit` for every key and string value, in
/// document order, until `max_items` non-empty ones were reported (empty
/// strings are reported without counting, so padding cannot use up the limit).
pub fn scan(input: &[u8], max_items: usize, visit: &mut dyn FnMut(&JsonItem<'_>)) -> JsonScan {
    let mut frames: Vec<Frame> = Vec::new();
    let mut keys: Vec<u8> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut state = State::Value;
    let mut i = skip_ws(input, 0);
    let mut items = 0;
    let mut depth = 0;
    let mut well_formed = true;
    let mut truncated = false;
    loop {
        i = skip_ws(input, i);
        if items >= max_items {
            truncated = input
                .get(i..)
                .is_some_and(|rest| memchr::memchr(b'"', rest).is_some());
            break;
        }
        if i >= input.len() {
            well_formed &= frames.is_empty() && state == State::AfterValue;
            break;
        }
        let b = at(input, i);
        match state {
            State::Value | State::ValueOrEnd => {
                if state == State::ValueOrEnd && b == b']' {
                    state = close(&mut frames, &mut keys);
                    i += 1;
                    continue;
                }
                match b {
                    b'{' | b'[' => {
                        frames.push(Frame {
                            container: if b == b'{' {
                                Container::Object
                            } else {
                                Container::Array(0)
                            },
                            key_start: keys.len(),
                            key_len: 0,
                        });
                        depth = depth.max(frames.len());
                        state = if b == b'{' {
                            State::KeyOrEnd
                        } else {
                            State::ValueOrEnd
                        };
                        i += 1;
                    }
                    b'"' => {
                        let Some((value, next)) = read_str(input, i + 1, &mut buf) else {
                            well_formed = false;
                            break;
                        };
                        items += usize::from(!value.is_empty());
                        visit(&JsonItem {
                            kind: JsonItemKind::String,
                            value,
                            parent_key: parent_key(&frames, &keys),
                            frames: &frames,
                            keys: &keys,
                        });
                        i = next;
                        state = State::AfterValue;
                    }
                    _ => {
                        // number, true, false, null (or garbage): skip the token
                        let start = i;
                        i += literal_len(input, i);
                        if i == start {
                            well_formed = false;
                            break;
                        }
                        state = State::AfterValue;
                    }
                }
            }
            State::AfterValue => {
                let Some(top) = frames.last_mut() else {
                    well_formed = false;
                    break;
                };
                match (b, top.container) {
                    (b',', Container::Object) => {
                        keys.truncate(top.key_start);
                        top.key_len = 0;
                        state = State::Key;
                        i += 1;
                    }
                    (b',', Container::Array(n)) => {
                        top.container = Container::Array(n + 1);
                        state = State::Value;
                        i += 1;
                    }
                    (b'}', Container::Object) | (b']', Container::Array(_)) => {
                        state = close(&mut frames, &mut keys);
                        i += 1;
                    }
                    _ => {
                        well_formed = false;
                        break;
                    }
                }
            }
            State::KeyOrEnd | State::Key => {
                if b == b'}' && state == State::KeyOrEnd {
                    state = close(&mut frames, &mut keys);
                    i += 1;
                    continue;
                }
                if b != b'"' {
                    well_formed = false;
                    break;
                }
                let Some((key, next)) = read_str(input, i + 1, &mut buf) else {
                    well_formed = false;
                    break;
                };
                if let Some(top) = frames.last_mut() {
                    keys.truncate(top.key_start);
                    keys.extend_from_slice(key);
                    top.key_len = key.len();
                }
                items += usize::from(!key.is_empty());
                // The enclosing member's key lives in `keys` below this frame's.
                let outer = frames.get(..frames.len().saturating_sub(1)).unwrap_or(&[]);
                visit(&JsonItem {
                    kind: JsonItemKind::Key,
                    value: key,
                    parent_key: parent_key(outer, &keys),
                    frames: &frames,
                    keys: &keys,
                });
                i = next;
                state = State::Colon;
            }
            State::Colon => {
                if b != b':' {
                    well_formed = false;
                    break;
                }
                i += 1;
                state = State::Value;
            }
        }
    }
    JsonScan {
        well_formed,
        items,
        truncated,
        depth,
    }
}

/// The key of the innermost object member containing the current position.
fn parent_key<'k>(frames: &[Frame], keys: &'k [u8]) -> &'k [u8] {
    for frame in frames.iter().rev() {
        if frame.container == Container::Object {
            return keys
                .get(frame.key_start..frame.key_start + frame.key_len)
                .unwrap_or(&[]);
        }
    }
    &[]
}

fn close(frames: &mut Vec<Frame>, keys: &mut Vec<u8>) -> State {
    if let Some(frame) = frames.pop() {
        keys.truncate(frame.key_start);
    }
    State::AfterValue
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn collect(input: &str) -> (Vec<(JsonItemKind, String, String, String)>, JsonScan) {
        let mut out = Vec::new();
        let scan = scan(input.as_bytes(), 1000, &mut |item| {
            out.push((
                item.kind,
                item.path(),
                String::from_utf8_lossy(item.value).into_owned(),
                String::from_utf8_lossy(item.parent_key).into_owned(),
            ))
        });
        (out, scan)
    }

    #[test]
    fn paths_and_escapes() {
        let (items, scan) = collect(
            r#"{"user":{"name":"O\u0027Brien","tags":["a","b\n"]},"n":1,"x":[{"k":"v"}],"constructor":{"prototype":{}}}"#,
        );
        assert!(scan.well_formed);
        let find = |p: &str, k: JsonItemKind| items.iter().find(|i| i.1 == p && i.0 == k).cloned();
        assert_eq!(
            find("$.user.name", JsonItemKind::String).unwrap().2,
            "O'Brien"
        );
        assert_eq!(
            find("$.user.tags[1]", JsonItemKind::String).unwrap().2,
            "b\n"
        );
        assert_eq!(find("$.x[0].k", JsonItemKind::String).unwrap().2, "v");
        let proto = find("$.constructor.prototype", JsonItemKind::Key).unwrap();
        assert_eq!(proto.3, "constructor");
    }

    #[test]
    fn surrogates_and_malformed() {
        let (items, _) = collect(r#"["\ud83d\ude00", "\ud800x"]"#);
        assert_eq!(items[0].2, "😀");
        assert!(items[1].2.starts_with('\u{FFFD}'));
        let (items, scan) = collect(r#"{"a":"b", "c": "unterminated"#);
        assert!(!scan.well_formed);
        assert_eq!(items.len(), 3);
    }

    #[test]
    fn deep_nesting_is_iterative() {
        let deep = "[".repeat(100_000) + "\"x\"" + &"]".repeat(100_000);
        let (items, scan) = collect(&deep);
        assert_eq!(items.len(), 1);
        assert!(scan.well_formed);
        assert!(items[0].1.len() <= MAX_PATH_LEN + 16);
    }

    proptest! {
        #[test]
        fn never_panics(input in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut n = 0;
            let s = scan(&input, 50, &mut |_| n += 1);
            prop_assert!(s.items <= 50);
        }

        #[test]
        fn round_trips_strings(v in "[^\"\\\\]{0,40}") {
            let doc = serde_json::json!({"k": v.clone()}).to_string();
            let (items, scan) = collect(&doc);
            prop_assert!(scan.well_formed);
            prop_assert_eq!(&items[1].2, &v);
        }
    }
}
