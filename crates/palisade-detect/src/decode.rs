//! Bounded decoders for the encodings attackers layer over payloads.
//!
//! Every decoder reads its input once, writes at most as many bytes as it
//! reads (plus a few bytes per `%u`/entity expansion, still bounded by the
//! input length times four), never panics, and leaves malformed escapes in
//! place instead of failing: a WAF must see what the application would see,
//! and most applications pass malformed escapes through.

/// Most rounds of percent-decoding applied to one value (double and triple encoding).
pub const MAX_URL_DECODE_ROUNDS: usize = 3;

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn at(input: &[u8], i: usize) -> u8 {
    input.get(i).copied().unwrap_or(0)
}

fn push_char(out: &mut Vec<u8>, ch: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
}

/// Percent-decodes `input` into `out` (cleared first): `%XX`, IIS-style
/// `%uXXXX`, and `+` as a space when `plus_is_space`. Returns whether anything
/// was decoded.
pub fn percent_decode_into(input: &[u8], plus_is_space: bool, out: &mut Vec<u8>) -> bool {
    out.clear();
    out.reserve(input.len());
    let mut changed = false;
    let mut i = 0;
    while i < input.len() {
        let b = at(input, i);
        if b == b'%' {
            if let (Some(h), Some(l)) = (hex_value(at(input, i + 1)), hex_value(at(input, i + 2))) {
                if i + 2 < input.len() {
                    out.push(h << 4 | l);
                    i += 3;
                    changed = true;
                    continue;
                }
            }
            if matches!(at(input, i + 1), b'u' | b'U') && i + 5 < input.len() {
                let digits = [
                    at(input, i + 2),
                    at(input, i + 3),
                    at(input, i + 4),
                    at(input, i + 5),
                ];
                let mut value: u32 = 0;
                let mut ok = true;
                for d in digits {
                    match hex_value(d) {
                        Some(v) => value = value << 4 | u32::from(v),
                        None => ok = false,
                    }
                }
                if ok {
                    push_char(out, fold_wide_char(value));
                    i += 6;
                    changed = true;
                    continue;
                }
            }
        } else if b == b'+' && plus_is_space {
            out.push(b' ');
            i += 1;
            changed = true;
            continue;
        }
        out.push(b);
        i += 1;
    }
    changed
}

/// Maps a code point to the ASCII character a lenient back end would read
/// (fullwidth forms `U+FF01..U+FF5E`, slash and dot look-alikes), or the
/// character itself.
fn fold_wide_char(value: u32) -> char {
    if (0xFF01..=0xFF5E).contains(&value) {
        return char::from_u32(value - 0xFF01 + 0x21).unwrap_or('\u{FFFD}');
    }
    // "Best fit" look-alikes some back ends map to path punctuation.
    match value {
        0x2215 | 0x2044 => return '/',
        0x2216 | 0xFE68 => return '\\',
        0x2024 => return '.',
        _ => {}
    }
    char::from_u32(value).unwrap_or('\u{FFFD}')
}

/// Decodes one HTML character reference starting at `input[i] == '&'`.
/// Returns the character and the number of bytes consumed. The `;` is
/// optional for numeric references, as browsers accept.
pub fn html_entity_at(input: &[u8], i: usize) -> Option<(char, usize)> {
    if at(input, i) != b'&' {
        return None;
    }
    if at(input, i + 1) == b'#' {
        let (radix, mut j) = if matches!(at(input, i + 2), b'x' | b'X') {
            (16, i + 3)
        } else {
            (10, i + 2)
        };
        let digits_start = j;
        let mut value: u32 = 0;
        while j < input.len() && j - digits_start < 8 {
            let d = at(input, j);
            let v = match (radix, d) {
                (16, _) => hex_value(d).map(u32::from),
                (_, b'0'..=b'9') => Some(u32::from(d - b'0')),
                _ => None,
            };
            match v {
                Some(v) => value = value.saturating_mul(radix).saturating_add(v),
                None => break,
            }
            j += 1;
        }
        // Leading zeros are unbounded in browsers; consume them.
        while j < input.len() && at(input, j).is_ascii_hexdigit() && value == 0 {
            j += 1;
        }
        if j == digits_start {
            return None;
        }
        if at(input, j) == b';' && j < input.len() {
            j += 1;
        }
        return Some((fold_wide_char(value), j - i));
    }
    let name_start = i + 1;
    let mut j = name_start;
    while j < input.len() && j - name_start < 10 && at(input, j).is_ascii_alphanumeric() {
        j += 1;
    }
    let name = input.get(name_start..j)?;
    let ch = match name {
        b"lt" => '<',
        b"gt" => '>',
        b"amp" => '&',
        b"quot" => '"',
        b"apos" => '\'',
        b"colon" => ':',
        b"Tab" => '\t',
        b"NewLine" => '\n',
        b"lpar" => '(',
        b"rpar" => ')',
        b"sol" => '/',
        b"bsol" => '\\',
        b"period" => '.',
        b"comma" => ',',
        b"semi" => ';',
        b"excl" => '!',
        b"num" => '#',
        b"percnt" => '%',
        b"plus" => '+',
        b"equals" => '=',
        b"grave" => '`',
        b"lsqb" | b"lbrack" => '[',
        b"rsqb" | b"rbrack" => ']',
        b"lcub" | b"lbrace" => '{',
        b"rcub" | b"rbrace" => '}',
        b"dollar" => '$',
        b"Hat" => '^',
        b"ast" => '*',
        b"nbsp" => ' ',
        _ => return None,
    };
    if at(input, j) == b';' && j < input.len() {
        j += 1;
    } else if !matches!(name, b"lt" | b"gt" | b"amp" | b"quot") {
        return None;
    }
    Some((ch, j - i))
}

/// Decodes HTML character references into `out` (cleared first).
/// Returns whether anything was decoded.
pub fn html_decode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    out.reserve(input.len());
    let mut changed = false;
    let mut i = 0;
    while i < input.len() {
        if at(input, i) == b'&' {
            if let Some((ch, used)) = html_entity_at(input, i) {
                push_char(out, ch);
                i += used.max(1);
                changed = true;
                continue;
            }
        }
        out.push(at(input, i));
        i += 1;
    }
    changed
}

/// Normalises bytes the way a lenient back end might read them, into `out`
/// (cleared first): overlong UTF-8 encodings of ASCII (`C0 AE` for `.`)
/// become the ASCII byte, fullwidth forms and slash look-alikes become ASCII.
/// Other bytes, NUL included, are kept. Returns whether anything changed.
pub fn normalize_bytes_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    out.reserve(input.len());
    let mut changed = false;
    let mut i = 0;
    while i < input.len() {
        let b = at(input, i);
        if b < 0x80 {
            out.push(b);
            i += 1;
            continue;
        }
        // Two-byte overlong: C0/C1 lead.
        let c1 = at(input, i + 1);
        if matches!(b, 0xC0 | 0xC1) && is_continuation(c1) && i + 1 < input.len() {
            out.push(((b & 0x1F) << 6) | (c1 & 0x3F));
            i += 2;
            changed = true;
            continue;
        }
        let c2 = at(input, i + 2);
        if b == 0xE0 && c1 & 0xE0 == 0x80 && is_continuation(c2) && i + 2 < input.len() {
            let value = (u32::from(c1 & 0x3F) << 6) | u32::from(c2 & 0x3F);
            if value < 0x80 {
                out.push(u8::try_from(value).unwrap_or(b'?'));
            } else {
                push_char(out, char::from_u32(value).unwrap_or('\u{FFFD}'));
            }
            i += 3;
            changed = true;
            continue;
        }
        // Slash and dot look-alikes: U+2215, U+2216, U+2044, U+2024.
        if b == 0xE2 && i + 2 < input.len() {
            let folded = match (c1, c2) {
                (0x88, 0x95) | (0x81, 0x84) => Some(b'/'),
                (0x88, 0x96) => Some(b'\\'),
                (0x80, 0xA4) => Some(b'.'),
                _ => None,
            };
            if let Some(f) = folded {
                out.push(f);
                i += 3;
                changed = true;
                continue;
            }
        }
        // Fullwidth forms EF BC 81 .. EF BD 9E.
        if b == 0xEF && matches!(c1, 0xBC | 0xBD) && is_continuation(c2) && i + 2 < input.len() {
            let value = 0xF000 | (u32::from(c1 & 0x3F) << 6) | u32::from(c2 & 0x3F);
            if (0xFF01..=0xFF5E).contains(&value) {
                out.push(u8::try_from(value - 0xFF01 + 0x21).unwrap_or(b'?'));
                i += 3;
                changed = true;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    changed
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Whether a value is plainly base64 (standard or URL-safe alphabet, long
/// enough, padded or of a valid unpadded length, with the mixed character
/// classes real encodings have) and decodes to mostly printable text.
/// Returns the decoded text.
pub fn plain_base64(value: &[u8], out: &mut Vec<u8>) -> bool {
    use base64::Engine;
    out.clear();
    let trimmed = value.trim_ascii();
    if trimmed.len() < 8 || trimmed.len() > 64 * 1024 {
        return false;
    }
    let body = trimmed
        .strip_suffix(b"==")
        .or_else(|| trimmed.strip_suffix(b"="))
        .unwrap_or(trimmed);
    let mut upper = false;
    let mut lower = false;
    let mut digit = false;
    let mut url_safe = false;
    let mut standard = false;
    for &b in body {
        match b {
            b'A'..=b'Z' => upper = true,
            b'a'..=b'z' => lower = true,
            b'0'..=b'9' => digit = true,
            b'+' | b'/' => standard = true,
            b'-' | b'_' => url_safe = true,
            _ => return false,
        }
    }
    if !(upper && lower) || (standard && url_safe) {
        return false;
    }
    let _ = digit;
    if body.len() % 4 == 1 {
        return false;
    }
    let engine = if url_safe {
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
    } else {
        &base64::engine::general_purpose::STANDARD_NO_PAD
    };
    if engine.decode_vec(body, out).is_err() {
        out.clear();
        return false;
    }
    let printable = out
        .iter()
        .filter(|b| matches!(b, 0x20..=0x7e | b'\t' | b'\n' | b'\r'))
        .count();
    if printable * 100 < out.len() * 95 {
        out.clear();
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pd(s: &str, plus: bool) -> String {
        let mut out = Vec::new();
        percent_decode_into(s.as_bytes(), plus, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn percent_forms() {
        assert_eq!(pd("%27%20or%201%3D1", false), "' or 1=1");
        assert_eq!(pd("a+b", true), "a b");
        assert_eq!(pd("a+b", false), "a+b");
        assert_eq!(pd("%u0027x", false), "'x");
        assert_eq!(pd("%uff1cscript", false), "<script");
        assert_eq!(pd("100%", false), "100%");
        assert_eq!(pd("%zz%4", false), "%zz%4");
        assert_eq!(pd("%252e", false), "%2e");
    }

    #[test]
    fn entities() {
        let mut out = Vec::new();
        html_decode_into(b"&lt;script&gt;&#106;&#x61;&#0000118a&colon;", &mut out);
        assert_eq!(out, b"<script>java:");
        html_decode_into(b"AT&T &unknown; &", &mut out);
        assert_eq!(out, b"AT&T &unknown; &");
    }

    #[test]
    fn overlong_and_fullwidth() {
        let mut out = Vec::new();
        normalize_bytes_into(
            b"\xc0\xae\xc0\xae/\xe0\x80\xaf\x00x\xef\xbc\x9c\xe2\x88\x96",
            &mut out,
        );
        assert_eq!(out, b"..//\x00x<\\");
    }

    #[test]
    fn base64_detection() {
        let mut out = Vec::new();
        assert!(plain_base64(b"JyBvciAxPTEtLQ==", &mut out));
        assert_eq!(out, b"' or 1=1--");
        assert!(!plain_base64(b"hello world", &mut out));
        assert!(!plain_base64(b"abcdefghijklmnop", &mut out)); // lowercase only: an identifier
        assert!(!plain_base64(
            b"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
            &mut out
        ));
    }

    proptest! {
        #[test]
        fn decoders_never_panic_and_stay_bounded(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut out = Vec::new();
            percent_decode_into(&input, true, &mut out);
            prop_assert!(out.len() <= input.len() * 4);
            html_decode_into(&input, &mut out);
            prop_assert!(out.len() <= input.len() * 4);
            normalize_bytes_into(&input, &mut out);
            prop_assert!(out.len() <= input.len());
            plain_base64(&input, &mut out);
            prop_assert!(out.len() <= input.len());
        }
    }
}
