//! Transformation functions (`t:`), with ModSecurity's byte-level semantics.
//!
//! Every function works on bytes; decoders that produce code points above
//! 0xFF keep the low byte, as ModSecurity does without a Unicode map, except
//! that full-width ASCII (U+FF01..U+FF5E) is folded to its ASCII letter.

use base64::Engine as _;
use md5::Digest as _;
use std::borrow::Cow;

/// Declares [`Transform`] and [`Transform::ALL`] from one list, so that
/// the list of every transformation cannot miss one.
macro_rules! transforms {
    ($($name:ident),* $(,)?) => {
        /// A transformation function.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Transform {
            $($name),*
        }

        impl Transform {
            /// Every transformation.
            pub const ALL: [Transform; [$(Transform::$name),*].len()] = [$(Transform::$name),*];
        }
    };
}

transforms! {
    Lowercase,
    Uppercase,
    UrlDecode,
    UrlDecodeUni,
    UrlEncode,
    HtmlEntityDecode,
    JsDecode,
    CssDecode,
    CmdLine,
    CompressWhitespace,
    RemoveWhitespace,
    RemoveNulls,
    ReplaceNulls,
    ReplaceComments,
    RemoveComments,
    RemoveCommentsChar,
    NormalizePath,
    NormalizePathWin,
    Base64Decode,
    Base64DecodeExt,
    Base64Encode,
    HexDecode,
    HexEncode,
    Utf8ToUnicode,
    EscapeSeqDecode,
    SqlHexDecode,
    Length,
    Sha1,
    Md5,
    Trim,
    TrimLeft,
    TrimRight,
}

impl Transform {
    /// Looks a transformation up by its SecLang name (case-insensitive).
    /// `none` is handled by the caller.
    pub fn from_name(name: &str) -> Option<Transform> {
        use Transform::*;
        Some(match name.to_ascii_lowercase().as_str() {
            "lowercase" => Lowercase,
            "uppercase" => Uppercase,
            "urldecode" => UrlDecode,
            "urldecodeuni" => UrlDecodeUni,
            "urlencode" => UrlEncode,
            "htmlentitydecode" => HtmlEntityDecode,
            "jsdecode" => JsDecode,
            "cssdecode" => CssDecode,
            "cmdline" => CmdLine,
            "compresswhitespace" => CompressWhitespace,
            "removewhitespace" => RemoveWhitespace,
            "removenulls" => RemoveNulls,
            "replacenulls" => ReplaceNulls,
            "replacecomments" => ReplaceComments,
            "removecomments" => RemoveComments,
            "removecommentschar" => RemoveCommentsChar,
            "normalizepath" | "normalisepath" => NormalizePath,
            "normalizepathwin" | "normalisepathwin" => NormalizePathWin,
            "base64decode" => Base64Decode,
            "base64decodeext" => Base64DecodeExt,
            "base64encode" => Base64Encode,
            "hexdecode" => HexDecode,
            "hexencode" => HexEncode,
            "utf8tounicode" => Utf8ToUnicode,
            "escapeseqdecode" => EscapeSeqDecode,
            "sqlhexdecode" => SqlHexDecode,
            "length" => Length,
            "sha1" => Sha1,
            "md5" => Md5,
            "trim" => Trim,
            "trimleft" => TrimLeft,
            "trimright" => TrimRight,
            _ => return None,
        })
    }

    /// Applies the transformation; `None` means the input is unchanged.
    pub fn apply(self, input: &[u8]) -> Option<Vec<u8>> {
        // Most values of a request are plain: the quick checks of
        // `may_change` tell, without building the output, that this value
        // comes out as it went in.
        if self.may_change(input) {
            self.compute(input)
        } else {
            None
        }
    }

    /// The output, built without the quick checks (`None`: unchanged, for
    /// the transformations that compare their output with the input).
    fn compute(self, input: &[u8]) -> Option<Vec<u8>> {
        use Transform::*;
        match self {
            Lowercase => Some(input.to_ascii_lowercase()),
            Uppercase => Some(input.to_ascii_uppercase()),
            UrlDecode => changed(input, url_decode(input, false)),
            UrlDecodeUni => changed(input, url_decode(input, true)),
            UrlEncode => changed(input, url_encode(input)),
            HtmlEntityDecode => changed(input, html_entity_decode(input)),
            JsDecode => changed(input, js_decode(input)),
            CssDecode => changed(input, css_decode(input)),
            CmdLine => changed(input, cmd_line(input)),
            CompressWhitespace => changed(input, compress_whitespace(input)),
            RemoveWhitespace => Some(input.iter().copied().filter(|&b| !is_space(b)).collect()),
            RemoveNulls => Some(input.iter().copied().filter(|&b| b != 0).collect()),
            ReplaceNulls => Some(
                input
                    .iter()
                    .map(|&b| if b == 0 { b' ' } else { b })
                    .collect(),
            ),
            ReplaceComments => changed(input, replace_comments(input)),
            RemoveComments => changed(input, remove_comments(input)),
            RemoveCommentsChar => changed(input, remove_comments_char(input)),
            NormalizePath => changed(input, normalize_path(input, false)),
            NormalizePathWin => changed(input, normalize_path(input, true)),
            Base64Decode => Some(base64_decode(input, false)),
            Base64DecodeExt => Some(base64_decode(input, true)),
            Base64Encode => Some(
                base64::engine::general_purpose::STANDARD
                    .encode(input)
                    .into_bytes(),
            ),
            HexDecode => Some(hex_decode(input)),
            HexEncode => Some(hex::encode(input).into_bytes()),
            Utf8ToUnicode => Some(utf8_to_unicode(input)),
            EscapeSeqDecode => changed(input, escape_seq_decode(input)),
            SqlHexDecode => changed(input, sql_hex_decode(input)),
            Length => Some(input.len().to_string().into_bytes()),
            Sha1 => Some(sha1::Sha1::digest(input).to_vec()),
            Md5 => Some(md5::Md5::digest(input).to_vec()),
            Trim => trimmed(input, true, true),
            TrimLeft => trimmed(input, true, false),
            TrimRight => trimmed(input, false, true),
        }
    }
}

/// What a chain of transformations does to a plain value (ASCII letters,
/// digits, space and `.,-_@:/`; see `prefilter::PLAIN_BYTES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainEffect {
    /// Returns it as it is.
    Unchanged,
    /// Returns it lowercased.
    Lowercased,
    /// Anything else: run the chain.
    Other,
}

impl Transform {
    /// This transformation's bit in a [`TransformMask`].
    pub fn bit(self) -> TransformMask {
        1 << (self as u32)
    }

    /// Whether this transformation returns every plain value as it is: the
    /// decoders act only on `%`, `+`, `&`, `\\`, NUL, `/*` or bytes above
    /// ASCII, none of which a plain value holds.
    fn keeps_plain(self) -> bool {
        use Transform::*;
        matches!(
            self,
            UrlDecode
                | UrlDecodeUni
                | HtmlEntityDecode
                | JsDecode
                | CssDecode
                | EscapeSeqDecode
                | RemoveNulls
                | ReplaceNulls
                | Utf8ToUnicode
                | ReplaceComments
        )
    }
}

/// What `chain` does to any plain value. A lowercased plain value is still
/// plain, so the decoders after a `lowercase` keep it too.
pub fn plain_effect(chain: &[Transform]) -> PlainEffect {
    let mut lowered = false;
    for &t in chain {
        match t {
            Transform::Lowercase => lowered = true,
            t if t.keeps_plain() => {}
            _ => return PlainEffect::Other,
        }
    }
    if lowered {
        PlainEffect::Lowercased
    } else {
        PlainEffect::Unchanged
    }
}

/// A set of transformations, a bit each ([`Transform::bit`]).
pub type TransformMask = u64;

/// The transformations in `chain`.
pub fn chain_mask(chain: &[Transform]) -> TransformMask {
    chain.iter().fold(0, |mask, t| mask | t.bit())
}

/// The transformations in `among` that may change `input` if applied to it
/// alone (a superset of those that do: each is judged by the quick check
/// `apply` makes before computing anything). A chain none of whose
/// transformations is in this set returns `input` as it is: each step
/// leaves it unchanged for the next.
pub fn changing(input: &[u8], among: TransformMask) -> TransformMask {
    Transform::ALL
        .iter()
        .filter(|t| among & t.bit() != 0 && t.may_change(input))
        .fold(0, |mask, t| mask | t.bit())
}

impl Transform {
    /// `false` only when this transformation surely returns `input` as it
    /// is; `apply` asks before computing anything.
    pub fn may_change(self, input: &[u8]) -> bool {
        use Transform::*;
        match self {
            Lowercase => input.iter().any(u8::is_ascii_uppercase),
            Uppercase => input.iter().any(u8::is_ascii_lowercase),
            UrlDecode | UrlDecodeUni => input.iter().any(|&b| b == b'%' || b == b'+'),
            HtmlEntityDecode => input.contains(&b'&'),
            JsDecode | CssDecode | EscapeSeqDecode => input.contains(&b'\\'),
            CmdLine => !cmd_line_keeps(input),
            CompressWhitespace => !whitespace_compressed(input),
            RemoveWhitespace => input.iter().any(|&b| is_space(b)),
            RemoveNulls | ReplaceNulls => input.contains(&0),
            ReplaceComments | RemoveComments | RemoveCommentsChar => has_comment_marker(input),
            NormalizePath | NormalizePathWin => !path_is_plain(input),
            Utf8ToUnicode => !input.is_ascii(),
            SqlHexDecode => input
                .windows(2)
                .any(|w| w[0] == b'0' && w[1] | 0x20 == b'x'),
            Trim => {
                input.first().is_some_and(|&b| is_space(b))
                    || input.last().is_some_and(|&b| is_space(b))
            }
            TrimLeft => input.first().is_some_and(|&b| is_space(b)),
            TrimRight => input.last().is_some_and(|&b| is_space(b)),
            UrlEncode | Base64Decode | Base64DecodeExt | Base64Encode | HexDecode | HexEncode
            | Length | Sha1 | Md5 => true,
        }
    }
}

/// Applies a chain of transformations.
pub fn apply_all<'a>(input: &'a [u8], chain: &[Transform]) -> Cow<'a, [u8]> {
    let mut value: Cow<'a, [u8]> = Cow::Borrowed(input);
    for t in chain {
        if let Some(next) = t.apply(&value) {
            value = Cow::Owned(next);
        }
    }
    value
}

// Checks that tell, without building the output, that a transformation
// would return its input unchanged: most values in a request are plain, and
// each transformation chain is applied to every value a rule reads.

/// `cmdLine` keeps `input` when it holds no byte it deletes or replaces, no
/// uppercase letter, no whitespace run and no space before `/` or `(`.
fn cmd_line_keeps(input: &[u8]) -> bool {
    let mut previous_space = false;
    for &b in input {
        match b {
            b'"' | b'\'' | b'\\' | b'^' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C | b',' | b';' => {
                return false
            }
            b'A'..=b'Z' => return false,
            b' ' if previous_space => return false,
            b'/' | b'(' if previous_space => return false,
            _ => {}
        }
        previous_space = b == b' ';
    }
    true
}

/// `compressWhitespace` keeps `input` when its only whitespace is single spaces.
fn whitespace_compressed(input: &[u8]) -> bool {
    let mut previous_space = false;
    for &b in input {
        let space = is_space(b);
        if space && (b != b' ' || previous_space) {
            return false;
        }
        previous_space = space;
    }
    true
}

/// Whether `input` holds anything the comment transformations act on:
/// `#`, `/*`, `*/` or `--` (which `<!--` and `-->` contain).
fn has_comment_marker(input: &[u8]) -> bool {
    input.contains(&b'#')
        || input
            .windows(2)
            .any(|w| matches!(w, [b'/', b'*'] | [b'*', b'/'] | [b'-', b'-']))
}

/// A value with no separator that is not `.` or `..` is its own normal form.
fn path_is_plain(input: &[u8]) -> bool {
    !input.iter().any(|&b| b == b'/' || b == b'\\') && input != b"." && input != b".."
}

fn changed(input: &[u8], output: Vec<u8>) -> Option<Vec<u8>> {
    (output != input).then_some(output)
}

fn trimmed(input: &[u8], left: bool, right: bool) -> Option<Vec<u8>> {
    let mut start = 0;
    let mut end = input.len();
    if left {
        while start < end && is_space(input[start]) {
            start += 1;
        }
    }
    if right {
        while end > start && is_space(input[end - 1]) {
            end -= 1;
        }
    }
    (start != 0 || end != input.len()).then(|| input[start..end].to_vec())
}

/// Whitespace as ModSecurity's `isspace` plus the non-breaking space.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C | 0xA0)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn hex_pair(input: &[u8], at: usize) -> Option<u8> {
    let hi = hex_value(*input.get(at)?)?;
    let lo = hex_value(*input.get(at + 1)?)?;
    Some(hi << 4 | lo)
}

/// Low byte of a code point, folding full-width ASCII to ASCII.
fn unicode_to_byte(code: u32) -> u8 {
    if (0xFF01..=0xFF5E).contains(&code) {
        ((code & 0xFF) as u8).wrapping_add(0x20)
    } else {
        (code & 0xFF) as u8
    }
}

fn hex_quad(input: &[u8], at: usize) -> Option<u32> {
    let mut value = 0u32;
    for k in 0..4 {
        value = value << 4 | u32::from(hex_value(*input.get(at + k)?)?);
    }
    Some(value)
}

pub(crate) fn url_decode(input: &[u8], unicode: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            if unicode && matches!(input.get(i + 1), Some(b'u' | b'U')) {
                if let Some(code) = hex_quad(input, i + 2) {
                    out.push(unicode_to_byte(code));
                    i += 6;
                    continue;
                }
            }
            if let Some(v) = hex_pair(input, i + 1) {
                out.push(v);
                i += 3;
                continue;
            }
            out.push(b);
        } else if b == b'+' {
            out.push(b' ');
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

fn url_encode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for &b in input {
        if b == b' ' {
            out.push(b'+');
        } else if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*') {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02x}").as_bytes());
        }
    }
    out
}

fn html_entity_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'&' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let rest = &input[i + 1..];
        if rest.first() == Some(&b'#') {
            let (hex, digits_start) = match rest.get(1) {
                Some(b'x' | b'X') => (true, 2),
                _ => (false, 1),
            };
            let mut j = digits_start;
            let mut value: u32 = 0;
            while let Some(&d) = rest.get(j) {
                let digit = if hex {
                    hex_value(d).map(u32::from)
                } else {
                    d.is_ascii_digit().then(|| u32::from(d - b'0'))
                };
                let Some(digit) = digit else { break };
                value = value
                    .saturating_mul(if hex { 16 } else { 10 })
                    .saturating_add(digit);
                j += 1;
            }
            if j > digits_start {
                out.push((value & 0xFF) as u8);
                if rest.get(j) == Some(&b';') {
                    j += 1;
                }
                i += 1 + j;
                continue;
            }
        } else {
            let name_len = rest
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            let name = rest[..name_len].to_ascii_lowercase();
            let decoded = match name.as_slice() {
                b"quot" => Some(b'"'),
                b"amp" => Some(b'&'),
                b"lt" => Some(b'<'),
                b"gt" => Some(b'>'),
                b"nbsp" => Some(0xA0),
                b"apos" => Some(b'\''),
                _ => None,
            };
            if let Some(decoded) = decoded {
                out.push(decoded);
                let mut consumed = name_len;
                if rest.get(consumed) == Some(&b';') {
                    consumed += 1;
                }
                i += 1 + consumed;
                continue;
            }
        }
        out.push(b'&');
        i += 1;
    }
    out
}

fn js_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' || i + 1 >= input.len() {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let e = input[i + 1];
        match e {
            b'u' => {
                if let Some(code) = hex_quad(input, i + 2) {
                    out.push(unicode_to_byte(code));
                    i += 6;
                    continue;
                }
                out.push(b'u');
                i += 2;
            }
            b'x' => {
                if let Some(v) = hex_pair(input, i + 2) {
                    out.push(v);
                    i += 4;
                    continue;
                }
                out.push(b'x');
                i += 2;
            }
            b'0'..=b'7' => {
                let mut j = i + 1;
                let mut value: u32 = 0;
                while j < i + 4 && input.get(j).is_some_and(|d| (b'0'..=b'7').contains(d)) {
                    value = value * 8 + u32::from(input[j] - b'0');
                    j += 1;
                }
                out.push((value & 0xFF) as u8);
                i = j;
            }
            _ => {
                out.push(match e {
                    b'a' => 0x07,
                    b'b' => 0x08,
                    b'f' => 0x0C,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'v' => 0x0B,
                    other => other,
                });
                i += 2;
            }
        }
    }
    out
}

fn css_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let Some(&next) = input.get(i + 1) else {
            // A trailing backslash is dropped.
            i += 1;
            continue;
        };
        let hex_len = input[i + 1..]
            .iter()
            .take(6)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if hex_len > 0 {
            let mut value: u32 = 0;
            for &d in &input[i + 1..i + 1 + hex_len] {
                value = value << 4 | u32::from(hex_value(d).unwrap_or(0));
            }
            out.push(unicode_to_byte(value));
            i += 1 + hex_len;
            // One whitespace character after a hex escape is part of it.
            if input
                .get(i)
                .is_some_and(|&b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0C))
            {
                i += 1;
            }
        } else if next == b'\n' {
            i += 2;
        } else {
            out.push(next);
            i += 2;
        }
    }
    out
}

fn cmd_line(input: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(input.len());
    let mut in_space = false;
    for &b in input {
        match b {
            b'"' | b'\'' | b'\\' | b'^' => {}
            b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C | b',' | b';' => {
                if !in_space {
                    out.push(b' ');
                    in_space = true;
                }
            }
            b'/' | b'(' => {
                if in_space {
                    out.pop();
                }
                in_space = false;
                out.push(b);
            }
            other => {
                in_space = false;
                out.push(other.to_ascii_lowercase());
            }
        }
    }
    out
}

fn compress_whitespace(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut in_space = false;
    for &b in input {
        if is_space(b) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            in_space = false;
            out.push(b);
        }
    }
    out
}

fn replace_comments(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'/' && input.get(i + 1) == Some(&b'*') {
            match memchr::memmem::find(&input[i + 2..], b"*/") {
                Some(end) => i += 2 + end + 2,
                None => i = input.len(),
            }
            out.push(b' ');
        } else if input[i] == b'*' && input.get(i + 1) == Some(&b'/') {
            // An unopened comment close is also replaced.
            out.push(b' ');
            i += 2;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

fn remove_comments(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        if rest.starts_with(b"/*") {
            match memchr::memmem::find(&rest[2..], b"*/") {
                Some(end) => i += 2 + end + 2,
                None => i = input.len(),
            }
        } else if rest.starts_with(b"<!--") {
            match memchr::memmem::find(&rest[4..], b"-->") {
                Some(end) => i += 4 + end + 3,
                None => i = input.len(),
            }
        } else if rest.starts_with(b"--") || rest[0] == b'#' {
            // Line comment: up to the end of the line.
            match memchr::memchr(b'\n', rest) {
                Some(end) => i += end,
                None => i = input.len(),
            }
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    out
}

fn remove_comments_char(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let rest = &input[i..];
        if rest.starts_with(b"/*") || rest.starts_with(b"*/") || rest.starts_with(b"--") {
            i += 2;
        } else if rest.starts_with(b"<!--") {
            i += 4;
        } else if rest.starts_with(b"-->") {
            i += 3;
        } else if rest[0] == b'#' {
            i += 1;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    out
}

fn normalize_path(input: &[u8], windows: bool) -> Vec<u8> {
    let converted: Vec<u8> = if windows {
        input
            .iter()
            .map(|&b| if b == b'\\' { b'/' } else { b })
            .collect()
    } else {
        input.to_vec()
    };
    if converted.is_empty() {
        return converted;
    }
    let absolute = converted.first() == Some(&b'/');
    let trailing = converted.last() == Some(&b'/')
        || converted.ends_with(b"/.")
        || converted.ends_with(b"/..")
        || converted == b"."
        || converted == b"..";
    let mut segments: Vec<&[u8]> = Vec::new();
    for segment in converted.split(|&b| b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." => {
                if segments.last().is_some_and(|s| *s != b"..") {
                    segments.pop();
                } else if !absolute {
                    segments.push(segment);
                }
            }
            other => segments.push(other),
        }
    }
    let mut out = Vec::with_capacity(converted.len());
    if absolute {
        out.push(b'/');
    }
    for (n, segment) in segments.iter().enumerate() {
        if n > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(segment);
    }
    if trailing && !segments.is_empty() {
        out.push(b'/');
    }
    out
}

fn base64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// Decodes base64; stops at the first invalid character unless `skip_invalid`.
fn base64_decode(input: &[u8], skip_invalid: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in input {
        if b == b'=' {
            if skip_invalid {
                continue;
            }
            break;
        }
        let Some(v) = base64_value(b) else {
            if skip_invalid {
                continue;
            }
            break;
        };
        acc = acc << 6 | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits & 0xFF) as u8);
        }
    }
    out
}

fn hex_decode(input: &[u8]) -> Vec<u8> {
    input
        .chunks(2)
        .filter_map(|pair| match pair {
            [hi, lo] => Some(hex_value(*hi)? << 4 | hex_value(*lo)?),
            _ => None,
        })
        .collect()
}

fn utf8_to_unicode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() * 2);
    for chunk in input.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_ascii() {
                out.push(c as u8);
            } else {
                out.extend_from_slice(format!("%u{:04x}", u32::from(c) & 0xFFFF).as_bytes());
            }
        }
        out.extend_from_slice(chunk.invalid());
    }
    out
}

fn escape_seq_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' || i + 1 >= input.len() {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let e = input[i + 1];
        let simple = match e {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0C),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0B),
            b'\\' => Some(b'\\'),
            b'?' => Some(b'?'),
            b'\'' => Some(b'\''),
            b'"' => Some(b'"'),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            i += 2;
        } else if e == b'x' || e == b'X' {
            if let Some(v) = hex_pair(input, i + 2) {
                out.push(v);
                i += 4;
            } else {
                out.push(b'\\');
                i += 1;
            }
        } else if (b'0'..=b'7').contains(&e) {
            let mut j = i + 1;
            let mut value: u32 = 0;
            while j < i + 4 && input.get(j).is_some_and(|d| (b'0'..=b'7').contains(d)) {
                value = value * 8 + u32::from(input[j] - b'0');
                j += 1;
            }
            out.push((value & 0xFF) as u8);
            i = j;
        } else {
            out.push(b'\\');
            i += 1;
        }
    }
    out
}

fn sql_hex_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'0'
            && matches!(input.get(i + 1), Some(b'x' | b'X'))
            && hex_pair(input, i + 2).is_some()
        {
            i += 2;
            while let Some(v) = hex_pair(input, i) {
                out.push(v);
                i += 2;
            }
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, input: &[u8]) -> Vec<u8> {
        let transform = Transform::from_name(name).unwrap();
        transform.apply(input).unwrap_or_else(|| input.to_vec())
    }

    #[test]
    fn case() {
        assert_eq!(t("lowercase", b"AbC"), b"abc");
        assert_eq!(t("uppercase", b"AbC"), b"ABC");
    }

    #[test]
    fn url_decoding() {
        assert_eq!(t("urlDecode", b"a%20b+c%zz%4"), b"a b c%zz%4");
        assert_eq!(t("urlDecodeUni", b"%u0041%uff41%41"), b"AaA".to_vec());
        assert_eq!(t("urlDecode", b"%u0041"), b"%u0041");
        assert_eq!(t("urlEncode", b"a b/"), b"a+b%2f");
    }

    #[test]
    fn html_entities() {
        assert_eq!(
            t(
                "htmlEntityDecode",
                b"&lt;a&gt; &#x41;&#66 &quot;&amp;&nbsp;&bogus;"
            ),
            b"<a> AB \"&\xA0&bogus;".to_vec()
        );
    }

    #[test]
    fn js_and_css() {
        assert_eq!(t("jsDecode", b"\\x41\\u0042\\n\\101\\q"), b"AB\nAq");
        assert_eq!(t("cssDecode", b"\\41 b\\\"\\000041x"), b"Ab\"Ax");
    }

    #[test]
    fn cmd_line_normalisation() {
        assert_eq!(
            t("cmdLine", b"C^AT  /ETC/\"pass\"wd ;, ls ("),
            b"cat/etc/passwd ls("
        );
    }

    #[test]
    fn whitespace_and_nulls() {
        assert_eq!(t("compressWhitespace", b"a \t\n b"), b"a b");
        assert_eq!(t("removeWhitespace", b" a b\t"), b"ab");
        assert_eq!(t("removeNulls", b"a\0b"), b"ab");
        assert_eq!(t("replaceNulls", b"a\0b"), b"a b");
        assert_eq!(t("trim", b"  a  "), b"a");
        assert_eq!(t("trimLeft", b"  a  "), b"a  ");
        assert_eq!(t("trimRight", b"  a  "), b"  a");
    }

    #[test]
    fn comments() {
        assert_eq!(t("replaceComments", b"a/*x*/b/*open"), b"a b ");
        assert_eq!(t("removeComments", b"a/*x*/b<!--c-->d--e"), b"abd");
        assert_eq!(t("removeCommentsChar", b"a/*b*/c--d#e"), b"abcde");
    }

    #[test]
    fn paths() {
        assert_eq!(t("normalizePath", b"/a//b/./c/../d"), b"/a/b/d");
        assert_eq!(t("normalisePath", b"/../../etc/passwd"), b"/etc/passwd");
        assert_eq!(t("normalizePath", b"a/b/../../../c/"), b"../c/");
        assert_eq!(t("normalizePathWin", b"c:\\a\\..\\b"), b"c:/b");
    }

    #[test]
    fn encodings() {
        assert_eq!(t("base64Decode", b"aGVsbG8=x"), b"hello");
        assert_eq!(t("base64Decode", b"aGV*sbG8="), b"he");
        assert_eq!(t("base64DecodeExt", b"aGV*sbG8="), b"hello");
        assert_eq!(t("base64Encode", b"hi"), b"aGk=");
        assert_eq!(t("hexDecode", b"414a"), b"AJ");
        assert_eq!(t("hexEncode", b"AJ"), b"414a");
        assert_eq!(t("sqlHexDecode", b"x 0x414243 y"), b"x ABC y");
        assert_eq!(t("utf8toUnicode", "é".as_bytes()), b"%u00e9");
        assert_eq!(t("escapeSeqDecode", b"\\x41\\n\\101\\z"), b"A\nA\\z");
    }

    #[test]
    fn digests_and_length() {
        assert_eq!(t("length", b"abcd"), b"4");
        assert_eq!(
            hex::encode(t("sha1", b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex::encode(t("md5", b"abc")),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }

    #[test]
    fn plain_effect_of_typical_chains() {
        use Transform::*;
        assert_eq!(plain_effect(&[]), PlainEffect::Unchanged);
        assert_eq!(
            plain_effect(&[
                Utf8ToUnicode,
                UrlDecodeUni,
                HtmlEntityDecode,
                JsDecode,
                CssDecode,
                RemoveNulls
            ]),
            PlainEffect::Unchanged
        );
        assert_eq!(
            plain_effect(&[UrlDecodeUni, Lowercase, RemoveNulls]),
            PlainEffect::Lowercased
        );
        assert_eq!(plain_effect(&[UrlDecodeUni, CmdLine]), PlainEffect::Other);
        assert_eq!(
            plain_effect(&[Lowercase, RemoveWhitespace]),
            PlainEffect::Other
        );
    }

    proptest::proptest! {
        /// A chain that holds none of the transformations that may change
        /// a value alone leaves that value as it is, and a transformation
        /// judged not to change a value does not.
        #[test]
        fn chains_outside_the_changing_set_keep_the_value(
            input in proptest::collection::vec(proptest::sample::select(
                b" \taZ0x%+/\\.#*-<>&;\"'".to_vec()), 0..24),
            picks in proptest::collection::vec(0usize..Transform::ALL.len(), 0..6),
        ) {
            let chain: Vec<Transform> = picks.iter().map(|&i| Transform::ALL[i]).collect();
            if chain_mask(&chain) & changing(&input, TransformMask::MAX) == 0 {
                proptest::prop_assert_eq!(&apply_all(&input, &chain)[..], &input[..], "{:?}", chain);
            }
            for t in Transform::ALL {
                if !t.may_change(&input) {
                    let computed = t.compute(&input);
                    proptest::prop_assert!(computed.is_none_or(|out| out == input), "{:?}", t);
                }
            }
        }

        #[test]
        fn transforms_never_panic(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            for name in ["urlDecodeUni", "htmlEntityDecode", "jsDecode", "cssDecode", "cmdLine",
                "normalizePathWin", "base64DecodeExt", "utf8toUnicode", "escapeSeqDecode",
                "sqlHexDecode", "removeComments", "replaceComments", "hexDecode"] {
                let _ = Transform::from_name(name).unwrap().apply(&input);
            }
        }

        /// Chains judged to keep (or only lowercase) plain values do so.
        #[test]
        fn plain_effects_hold_on_plain_values(
            input in proptest::collection::vec(proptest::sample::select(
                b"aZ09 .,-_@:/xX".to_vec()), 0..24),
            picks in proptest::collection::vec(0usize..Transform::ALL.len(), 0..6),
        ) {
            let single = Transform::ALL.iter().map(|&t| vec![t]);
            let chain: Vec<Transform> = picks.iter().map(|&i| Transform::ALL[i]).collect();
            for chain in single.chain([chain]) {
                let out = apply_all(&input, &chain);
                match plain_effect(&chain) {
                    PlainEffect::Unchanged => proptest::prop_assert_eq!(&out[..], &input[..], "{:?}", chain),
                    PlainEffect::Lowercased => proptest::prop_assert_eq!(out.to_vec(), input.to_ascii_lowercase(), "{:?}", chain),
                    PlainEffect::Other => {}
                }
            }
        }

        /// The shortcuts that skip a transformation on plain values agree
        /// with running it, on inputs dense in the bytes they look for.
        #[test]
        fn unchanged_shortcuts_agree_with_the_transformations(
            input in proptest::collection::vec(proptest::sample::select(
                b" \t\n\xa0aZ0x%+/\\.#*-<>!\"'^,;(".to_vec()), 0..24)
        ) {
            let full: [(&str, Vec<u8>); 11] = [
                ("urlDecode", url_decode(&input, false)),
                ("urlDecodeUni", url_decode(&input, true)),
                ("cmdLine", cmd_line(&input)),
                ("compressWhitespace", compress_whitespace(&input)),
                ("replaceComments", replace_comments(&input)),
                ("removeComments", remove_comments(&input)),
                ("removeCommentsChar", remove_comments_char(&input)),
                ("normalizePath", normalize_path(&input, false)),
                ("normalizePathWin", normalize_path(&input, true)),
                ("sqlHexDecode", sql_hex_decode(&input)),
                ("lowercase", input.to_ascii_lowercase()),
            ];
            for (name, expected) in full {
                let got = t(name, &input);
                proptest::prop_assert_eq!(got, expected, "{}", name);
            }
        }
    }
}
