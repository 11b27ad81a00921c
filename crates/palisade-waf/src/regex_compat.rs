//! Translation of PCRE patterns (as written in SecLang rules) into the syntax
//! of the linear-time `regex` crate, matching bytes the way PCRE does without
//! its UTF mode.
//!
//! Patterns are compiled with `(?s)` (dot matches newline) and `(?m)` (`^`/`$`
//! match at line boundaries), the flags ModSecurity v3 uses for `@rx`.
//!
//! Constructs with no linear-time equivalent are handled explicitly and
//! recorded as [`Approximation`]s, each making the pattern match a superset
//! of what PCRE would match (a rule can fire more often, never less often):
//!
//! * possessive quantifiers (`a*+`) and atomic groups (`(?>...)`) become
//!   ordinary greedy ones; on a yes/no match question this only differs when
//!   backtracking into the possessive part would have been needed;
//! * lookaround assertions (`(?=..)`, `(?!..)`, `(?<=..)`, `(?<!..)`) are
//!   dropped;
//! * a backreference `\N` is replaced by a copy of group N's pattern (it then
//!   matches text of the same shape rather than the identical text).
//!
//! `\G`, `\K`, recursion and conditionals are rejected with an error.

use regex::bytes::{Regex, RegexBuilder};
use std::fmt::Write as _;

/// A construct that had to be rewritten into a broader one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Approximation {
    PossessiveQuantifier,
    AtomicGroup,
    Lookaround,
    Backreference,
}

impl Approximation {
    pub fn as_str(self) -> &'static str {
        match self {
            Approximation::PossessiveQuantifier => "possessive quantifier made greedy",
            Approximation::AtomicGroup => "atomic group made non-atomic",
            Approximation::Lookaround => "lookaround assertion dropped",
            Approximation::Backreference => "backreference replaced by its group's pattern",
        }
    }
}

/// A translated pattern.
#[derive(Debug, Clone)]
pub struct Translated {
    pub pattern: String,
    pub approximations: Vec<Approximation>,
}

/// Compiles a PCRE pattern into a byte regex.
pub fn compile(pcre: &str) -> Result<(Regex, Vec<Approximation>), String> {
    let translated = translate(pcre)?;
    let full = format!("(?sm){}", translated.pattern);
    let build = |unicode: bool| {
        RegexBuilder::new(&full)
            .unicode(unicode)
            .size_limit(64 << 20)
            .dfa_size_limit(16 << 20)
            .build()
    };
    match build(false) {
        Ok(re) => Ok((re, translated.approximations)),
        Err(first) => build(true)
            .map(|re| (re, translated.approximations.clone()))
            .map_err(|_| first.to_string()),
    }
}

fn push_byte(out: &mut String, byte: u8) {
    let _ = write!(out, "\\x{byte:02X}");
}

fn push_code_point(out: &mut String, value: u32) {
    if value <= 0xFF {
        push_byte(out, value as u8);
    } else if let Some(c) = char::from_u32(value) {
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            push_byte(out, b);
        }
    }
}

fn push_literal_char(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || c == ' ' || c == '_' {
        out.push(c);
    } else if c.is_ascii() {
        push_byte(out, c as u8);
    } else {
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            push_byte(out, b);
        }
    }
}

struct Group {
    capturing: bool,
    start: usize,
    /// Output length before a dropped lookaround, to truncate back to.
    dropped: bool,
}

/// Translates PCRE syntax to `regex` syntax.
pub fn translate(pcre: &str) -> Result<Translated, String> {
    let chars: Vec<char> = pcre.chars().collect();
    let mut out = String::with_capacity(pcre.len() + 16);
    let mut approximations = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut captured: Vec<Option<String>> = Vec::new();
    let mut i = 0;
    let mut after_quantifier = false;
    while i < chars.len() {
        let c = chars[i];
        let was_quantifier = after_quantifier;
        after_quantifier = false;
        match c {
            '\\' => {
                i = translate_escape(&chars, i, &mut out, false, &captured, &mut approximations)?;
                continue;
            }
            '[' => {
                i = translate_class(&chars, i, &mut out)?;
                continue;
            }
            '(' => {
                if chars.get(i + 1) == Some(&'?') {
                    let rest: String = chars[i + 2..].iter().take(3).collect();
                    if rest.starts_with('#') {
                        // Comment group: skip to the closing parenthesis.
                        while i < chars.len() && chars[i] != ')' {
                            i += 1;
                        }
                        i += 1;
                        continue;
                    }
                    if rest.starts_with('=')
                        || rest.starts_with('!')
                        || rest.starts_with("<=")
                        || rest.starts_with("<!")
                    {
                        approximations.push(Approximation::Lookaround);
                        groups.push(Group {
                            capturing: false,
                            start: out.len(),
                            dropped: true,
                        });
                        out.push_str("(?:");
                        i += if rest.starts_with('<') { 4 } else { 3 };
                        continue;
                    }
                    if rest.starts_with('>') {
                        approximations.push(Approximation::AtomicGroup);
                        groups.push(Group {
                            capturing: false,
                            start: out.len(),
                            dropped: false,
                        });
                        out.push_str("(?:");
                        i += 3;
                        continue;
                    }
                    if rest.starts_with("P<") || (rest.starts_with('<') && !rest.starts_with("<="))
                    {
                        let skip = if rest.starts_with('P') { 4 } else { 3 };
                        captured.push(None);
                        groups.push(Group {
                            capturing: true,
                            start: out.len(),
                            dropped: false,
                        });
                        out.push_str("(?P<");
                        i += skip;
                        continue;
                    }
                    if rest.starts_with('|')
                        || rest.starts_with('(')
                        || rest.starts_with('R')
                        || rest.starts_with('&')
                        || rest.starts_with("P>")
                        || rest.starts_with("P=")
                        || rest
                            .chars()
                            .next()
                            .is_some_and(|c| c.is_ascii_digit() || c == '+')
                    {
                        return Err(format!("unsupported PCRE group construct (?{rest}"));
                    }
                    // Flag groups `(?i)`, `(?i:`, `(?:`.
                    let mut j = i + 2;
                    let mut flags = String::new();
                    while let Some(&f) = chars.get(j) {
                        if f == ':' || f == ')' {
                            break;
                        }
                        if !matches!(f, 'i' | 'm' | 's' | 'x' | 'U' | '-') {
                            return Err(format!("unsupported inline flag `{f}`"));
                        }
                        flags.push(f);
                        j += 1;
                    }
                    match chars.get(j) {
                        Some(')') => {
                            out.push_str("(?");
                            out.push_str(&flags);
                            out.push(')');
                            i = j + 1;
                        }
                        Some(':') => {
                            groups.push(Group {
                                capturing: false,
                                start: out.len(),
                                dropped: false,
                            });
                            out.push_str("(?");
                            out.push_str(&flags);
                            out.push(':');
                            i = j + 1;
                        }
                        _ => return Err("unterminated group flags".into()),
                    }
                    continue;
                }
                captured.push(None);
                groups.push(Group {
                    capturing: true,
                    start: out.len(),
                    dropped: false,
                });
                out.push('(');
            }
            ')' => {
                let Some(group) = groups.pop() else {
                    return Err("unbalanced `)`".into());
                };
                if group.dropped {
                    out.truncate(group.start);
                    out.push_str("(?:)");
                } else {
                    out.push(')');
                    if group.capturing {
                        let index = captured.iter().position(Option::is_none);
                        // Groups close innermost first; the last open
                        // capturing slot is the innermost one.
                        let slot = captured.iter().rposition(Option::is_none).or(index);
                        if let Some(slot) = slot {
                            captured[slot] = Some(out[group.start..].to_string());
                        }
                    }
                }
                // A quantifier may follow a group.
            }
            '*' | '+' | '?' => {
                if was_quantifier && c == '+' {
                    approximations.push(Approximation::PossessiveQuantifier);
                    i += 1;
                    continue;
                }
                out.push(c);
                // `*?` lazy: the `?` belongs to the quantifier.
                if chars.get(i + 1) == Some(&'?') {
                    out.push('?');
                    i += 1;
                } else {
                    after_quantifier = true;
                }
            }
            '{' => {
                if let Some(end) = counted_repetition(&chars, i) {
                    let body: String = chars[i..=end].iter().collect();
                    out.push_str(&body);
                    i = end + 1;
                    if chars.get(i) == Some(&'?') {
                        out.push('?');
                        i += 1;
                    } else {
                        after_quantifier = true;
                    }
                    continue;
                }
                out.push_str("\\{");
            }
            '}' => out.push_str("\\}"),
            '.' | '^' | '$' | '|' => out.push(c),
            other => push_literal_char(&mut out, other),
        }
        i += 1;
    }
    if !groups.is_empty() {
        return Err("unbalanced `(`".into());
    }
    approximations.sort();
    approximations.dedup();
    Ok(Translated {
        pattern: out,
        approximations,
    })
}

/// Returns the index of the closing brace when `{` at `start` opens a valid
/// PCRE counted repetition (`{n}`, `{n,}`, `{n,m}`).
fn counted_repetition(chars: &[char], start: usize) -> Option<usize> {
    let mut j = start + 1;
    let digits_start = j;
    while chars.get(j).is_some_and(char::is_ascii_digit) {
        j += 1;
    }
    if j == digits_start {
        return None;
    }
    if chars.get(j) == Some(&'}') {
        return Some(j);
    }
    if chars.get(j) != Some(&',') {
        return None;
    }
    j += 1;
    while chars.get(j).is_some_and(char::is_ascii_digit) {
        j += 1;
    }
    (chars.get(j) == Some(&'}')).then_some(j)
}

fn parse_hex_escape(chars: &[char], start: usize) -> (u32, usize) {
    // `start` points at the character after `x`.
    if chars.get(start) == Some(&'{') {
        let mut j = start + 1;
        let mut value: u32 = 0;
        while let Some(d) = chars.get(j).and_then(|c| c.to_digit(16)) {
            value = value.saturating_mul(16).saturating_add(d);
            j += 1;
        }
        if chars.get(j) == Some(&'}') {
            j += 1;
        }
        return (value, j);
    }
    let mut j = start;
    let mut value = 0;
    while j < start + 2 {
        match chars.get(j).and_then(|c| c.to_digit(16)) {
            Some(d) => value = value * 16 + d,
            None => break,
        }
        j += 1;
    }
    (value, j)
}

/// Translates the escape at `chars[i] == '\\'`, returning the next index.
fn translate_escape(
    chars: &[char],
    i: usize,
    out: &mut String,
    in_class: bool,
    captured: &[Option<String>],
    approximations: &mut Vec<Approximation>,
) -> Result<usize, String> {
    let Some(&e) = chars.get(i + 1) else {
        return Err("pattern ends with a backslash".into());
    };
    let mut next = i + 2;
    match e {
        'd' | 'D' | 'w' | 'W' | 's' | 'S' => {
            out.push('\\');
            out.push(e);
        }
        'b' if in_class => push_byte(out, 0x08),
        'b' | 'B' | 'A' | 'z' if !in_class => {
            out.push('\\');
            out.push(e);
        }
        'Z' if !in_class => out.push_str("(?:\\n?\\z)"),
        'n' => out.push_str("\\n"),
        'r' => out.push_str("\\r"),
        't' => out.push_str("\\t"),
        'f' => out.push_str("\\x0C"),
        'e' => out.push_str("\\x1B"),
        'a' => out.push_str("\\x07"),
        'h' => out.push_str(if in_class { "\\t \\xA0" } else { "[\\t \\xA0]" }),
        'v' if !in_class => out.push_str("[\\n\\x0B\\x0C\\r\\x85]"),
        'v' => out.push_str("\\n\\x0B\\x0C\\r\\x85"),
        'H' if !in_class => out.push_str("[^\\t \\xA0]"),
        'V' if !in_class => out.push_str("[^\\n\\x0B\\x0C\\r\\x85]"),
        'R' if !in_class => out.push_str("(?:\\r\\n|[\\n\\x0B\\x0C\\r\\x85])"),
        'N' if !in_class => out.push_str("[^\\n]"),
        'x' => {
            let (value, end) = parse_hex_escape(chars, i + 2);
            push_code_point(out, value);
            next = end;
        }
        'c' => {
            let Some(&ctl) = chars.get(i + 2) else {
                return Err("\\c at end of pattern".into());
            };
            push_byte(out, (ctl.to_ascii_uppercase() as u8) ^ 0x40);
            next = i + 3;
        }
        'p' | 'P' => {
            // Unicode property: kept; forces Unicode mode for this pattern.
            out.push('\\');
            out.push(e);
        }
        'Q' => {
            let mut j = i + 2;
            while j < chars.len() {
                if chars[j] == '\\' && chars.get(j + 1) == Some(&'E') {
                    j += 2;
                    break;
                }
                push_literal_char(out, chars[j]);
                j += 1;
            }
            next = j;
        }
        'E' => {}
        '0'..='9' => {
            let is_octal = e == '0' || in_class || {
                // `\1`..`\9` are backreferences when that many groups exist.
                let digits: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                digits
                    .parse::<usize>()
                    .map_or(true, |n| n > captured.len() && digits.len() > 1)
            };
            if is_octal {
                let mut j = i + 1;
                let mut value: u32 = 0;
                while j < i + 4 && chars.get(j).is_some_and(|c| ('0'..='7').contains(c)) {
                    value = value * 8 + chars[j].to_digit(8).unwrap_or(0);
                    j += 1;
                }
                push_code_point(out, value & 0xFF);
                next = j;
            } else {
                let digits: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                let n: usize = digits.parse().map_err(|_| "bad backreference")?;
                next = i + 1 + digits.len();
                match captured.get(n.wrapping_sub(1)).cloned().flatten() {
                    Some(group) => {
                        approximations.push(Approximation::Backreference);
                        // Strip the capturing parenthesis so group numbering is stable.
                        let inner = group
                            .strip_prefix('(')
                            .and_then(|g| g.strip_suffix(')'))
                            .unwrap_or(&group);
                        out.push_str("(?:");
                        out.push_str(inner);
                        out.push(')');
                    }
                    None => return Err(format!("backreference \\{n} to an unclosed group")),
                }
            }
        }
        'G' | 'K' | 'X' | 'C' | 'g' | 'k' => {
            return Err(format!("unsupported PCRE escape \\{e}"));
        }
        other if other.is_ascii_alphanumeric() => {
            return Err(format!("unknown escape \\{other}"));
        }
        other => push_literal_char(out, other),
    }
    Ok(next)
}

/// What the previous item of a bracket expression was, to tell a range
/// `-` from a literal one the way PCRE does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClassItem {
    Start,
    Single,
    Set,
    RangeDash,
    RangeEnd,
}

/// Translates a bracket expression starting at `chars[i] == '['`.
fn translate_class(chars: &[char], i: usize, out: &mut String) -> Result<usize, String> {
    let mut j = i + 1;
    out.push('[');
    if chars.get(j) == Some(&'^') {
        out.push('^');
        j += 1;
    }
    let mut previous = ClassItem::Start;
    let mut unused = Vec::new();
    let after_single = |previous: ClassItem| {
        if previous == ClassItem::RangeDash {
            ClassItem::RangeEnd
        } else {
            ClassItem::Single
        }
    };
    loop {
        let Some(&c) = chars.get(j) else {
            return Err("unterminated character class".into());
        };
        match c {
            ']' if previous != ClassItem::Start => {
                if previous == ClassItem::RangeDash {
                    // `[a-]`: the dash was literal after all.
                    out.pop();
                    push_byte(out, b'-');
                }
                out.push(']');
                return Ok(j + 1);
            }
            '[' if chars.get(j + 1) == Some(&':') => {
                let rest: String = chars[j..].iter().take(12).collect();
                match rest.find(":]") {
                    Some(end) => {
                        out.push_str(&rest[..end + 2]);
                        j += rest[..end + 2].chars().count();
                        previous = ClassItem::Set;
                    }
                    None => {
                        push_byte(out, b'[');
                        j += 1;
                        previous = after_single(previous);
                    }
                }
            }
            '\\' => {
                let is_set = matches!(
                    chars.get(j + 1),
                    Some('d' | 'D' | 'w' | 'W' | 's' | 'S' | 'h' | 'H' | 'v' | 'V' | 'p' | 'P')
                );
                j = translate_escape(chars, j, out, true, &[], &mut unused)?;
                previous = if is_set {
                    ClassItem::Set
                } else {
                    after_single(previous)
                };
            }
            '-' => {
                let next_closes = chars.get(j + 1) == Some(&']');
                if previous == ClassItem::Single && !next_closes {
                    out.push('-');
                    previous = ClassItem::RangeDash;
                } else {
                    push_byte(out, b'-');
                    previous = after_single(previous);
                }
                j += 1;
            }
            other => {
                push_literal_char(out, other);
                j += 1;
                previous = after_single(previous);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_match(pcre: &str, input: &str) -> bool {
        compile(pcre).unwrap().0.is_match(input.as_bytes())
    }

    #[test]
    fn plain_patterns() {
        assert!(is_match(r"(?i)select\s+\w+", "SELECT  foo"));
        assert!(is_match(r"a\/b\-c", "a/b-c"));
        assert!(is_match(r"[\w\-\.]+@", "a-b.c@"));
        assert!(is_match(r"\x41\x{42}\103", "ABC"));
        assert!(is_match(r"^\d{2,3}$", "123"));
        assert!(is_match(r"a{,2}", "a{,2}"));
        assert!(is_match(r"[]a]", "]"));
        assert!(is_match(r"^[\--9]+$", "-./09"));
        assert!(is_match(r"^['-\+A-\]]+$", "'+AZ]"));
        assert!(is_match(r"^[a-z-9]+$", "a-9"));
        assert!(is_match(r"^[\w-]+$", "a-b"));
        assert!(!is_match(r"^[\--9]+$", "a"));
        assert!(is_match(r"[[:alpha:]]+", "abc"));
        assert!(is_match(r"\<script", "<script"));
        assert!(!is_match(r"\<script", "script"));
    }

    #[test]
    fn non_ascii_bytes_match_like_pcre_without_utf() {
        assert!(is_match("é", "café"));
        assert!(is_match("[\\x80-\\xff]", "é"));
    }

    #[test]
    fn unsupported_constructs_are_approximated() {
        let (re, approx) = compile(r"a*+b").unwrap();
        assert!(re.is_match(b"aab"));
        assert_eq!(approx, vec![Approximation::PossessiveQuantifier]);
        let (re, approx) = compile(r"(?<!\\)x(?=y)").unwrap();
        assert!(re.is_match(b"xy"));
        assert_eq!(approx, vec![Approximation::Lookaround]);
        let (re, approx) = compile(r#"(['"])a\1"#).unwrap();
        assert!(re.is_match(b"'a'"));
        assert_eq!(approx, vec![Approximation::Backreference]);
        let (_, approx) = compile(r"(?>ab|a)c").unwrap();
        assert_eq!(approx, vec![Approximation::AtomicGroup]);
        assert!(compile(r"a\Gb").is_err());
    }

    #[test]
    fn dot_matches_newline_and_multiline_anchors() {
        assert!(is_match("a.b", "a\nb"));
        assert!(is_match("^b$", "a\nb\nc"));
    }
}
