//! Operators (`@rx`, `@pm`, `@eq`...).

use crate::regex_compat::{self, Approximation};
use crate::variables::Macro;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use ipnet::IpNet;
use regex::bytes::Regex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A compiled operator.
#[derive(Debug, Clone)]
pub struct Operator {
    pub kind: OpKind,
    pub negated: bool,
    /// Name as written, for messages.
    pub name: &'static str,
}

/// Regular expressions built from a macro at run time, by expanded text.
/// Bounded: when full, the cache is cleared.
#[derive(Debug, Default)]
pub struct RegexCache {
    entries: Mutex<HashMap<Vec<u8>, Option<Regex>>>,
}

/// Most distinct expansions kept per operator.
const REGEX_CACHE_LIMIT: usize = 64;

impl RegexCache {
    fn get(&self, pattern: &[u8]) -> Option<Regex> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = entries.get(pattern) {
            return found.clone();
        }
        let compiled = std::str::from_utf8(pattern)
            .ok()
            .and_then(|p| regex_compat::compile(p).ok())
            .map(|(re, _)| re);
        if entries.len() >= REGEX_CACHE_LIMIT {
            entries.clear();
        }
        entries.insert(pattern.to_vec(), compiled.clone());
        compiled
    }
}

#[derive(Debug, Clone)]
pub enum OpKind {
    Rx(Box<Regex>),
    /// `@rx` whose pattern contains `%{...}`: expanded, then compiled (and
    /// cached) at run time. A pattern that does not compile never matches.
    RxMacro(Macro, Arc<RegexCache>),
    /// `@pm` / `@pmFromFile`: the matcher and its phrases (which also go
    /// into the rule set's literal prefilter).
    Pm(Box<AhoCorasick>, Arc<[Vec<u8>]>),
    StrEq(Macro),
    Contains(Macro),
    ContainsWord(Macro),
    BeginsWith(Macro),
    EndsWith(Macro),
    Within(Macro),
    StrMatch(Vec<u8>),
    Eq(Macro),
    Ge(Macro),
    Gt(Macro),
    Le(Macro),
    Lt(Macro),
    IpMatch(Vec<IpNet>),
    ValidateByteRange(Box<[bool; 256]>),
    ValidateUrlEncoding,
    ValidateUtf8Encoding,
    DetectSqli,
    DetectXss,
    UnconditionalMatch,
    NoMatch,
    /// `@rbl`: DNS block lists need network access; never matches.
    Rbl,
    /// `@geoLookup`: no GeoIP database is loaded; never matches and leaves
    /// `GEO` empty.
    GeoLookup,
}

/// What the operator needs from the transaction while running.
pub struct OpContext<'a> {
    pub expand: &'a dyn Fn(&Macro) -> Vec<u8>,
    /// Filled with capture groups (index 0 = whole match) when requested.
    pub captures: Option<&'a mut Vec<Vec<u8>>>,
}

/// Result of compiling an operator, with notes about approximations.
pub struct Compiled {
    pub operator: Operator,
    pub approximations: Vec<Approximation>,
}

/// `atoi`-style: optional sign and leading digits after blanks, else 0.
pub(crate) fn to_integer(bytes: &[u8]) -> i64 {
    let trimmed = bytes.trim_ascii();
    let (negative, digits) = match trimmed.first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let mut value: i64 = 0;
    for &b in digits.iter().take_while(|b| b.is_ascii_digit()) {
        value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if negative {
        -value
    } else {
        value
    }
}

fn phrase_matcher(phrases: &[Vec<u8>]) -> Result<AhoCorasick, String> {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .build(phrases)
        .map_err(|e| e.to_string())
}

/// Reads a data file for `@pmFromFile`/`@ipMatchFromFile`: one entry per
/// line, `#` comments and blank lines skipped.
fn read_data_file(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

fn parse_ip_list<'a>(items: impl Iterator<Item = &'a str>) -> Result<Vec<IpNet>, String> {
    let mut nets = Vec::new();
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let net = match item.parse::<IpNet>() {
            Ok(n) => n,
            Err(_) => {
                let ip: IpAddr = item
                    .parse()
                    .map_err(|_| format!("bad IP address `{item}`"))?;
                IpNet::from(ip)
            }
        };
        nets.push(net);
    }
    Ok(nets)
}

fn byte_ranges(spec: &str) -> Result<Box<[bool; 256]>, String> {
    let mut allowed = Box::new([false; 256]);
    for part in spec.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let lo: u8 = lo.parse().map_err(|_| format!("bad byte range `{part}`"))?;
        let hi: u8 = hi.parse().map_err(|_| format!("bad byte range `{part}`"))?;
        if lo > hi {
            return Err(format!("bad byte range `{part}`"));
        }
        for b in lo..=hi {
            allowed[usize::from(b)] = true;
        }
    }
    Ok(allowed)
}

/// Compiles the operator text of a `SecRule`; `rule_dir` resolves data files.
pub fn compile(text: &str, rule_dir: &Path) -> Result<Compiled, String> {
    let trimmed = text.trim_start();
    let (negated, rest) = match trimmed.strip_prefix('!') {
        Some(r) => (true, r.trim_start()),
        None => (false, trimmed),
    };
    let (name, param) = match rest.strip_prefix('@') {
        Some(r) => match r.find(char::is_whitespace) {
            Some(pos) => (&r[..pos], r[pos..].trim_start()),
            None => (r, ""),
        },
        None => ("rx", rest),
    };
    let lower = name.to_ascii_lowercase();
    let mut approximations = Vec::new();
    let macro_param = || Macro::parse(param);
    let (kind, canonical): (OpKind, &'static str) = match lower.as_str() {
        "rx" if param.contains("%{") => (
            OpKind::RxMacro(macro_param()?, Arc::new(RegexCache::default())),
            "rx",
        ),
        "rx" => {
            let (re, approx) = regex_compat::compile(param)?;
            approximations = approx;
            (OpKind::Rx(Box::new(re)), "rx")
        }
        "pm" => {
            let phrases: Vec<Vec<u8>> = param
                .split_whitespace()
                .map(|p| p.as_bytes().to_vec())
                .collect();
            if phrases.is_empty() {
                return Err("@pm needs at least one phrase".into());
            }
            (
                OpKind::Pm(Box::new(phrase_matcher(&phrases)?), phrases.into()),
                "pm",
            )
        }
        "pmfromfile" | "pmf" => {
            let mut phrases = Vec::new();
            for file in param.split_whitespace() {
                let path = rule_dir.join(file);
                phrases.extend(read_data_file(&path)?.into_iter().map(String::into_bytes));
            }
            if phrases.is_empty() {
                return Err("@pmFromFile found no phrases".into());
            }
            (
                OpKind::Pm(Box::new(phrase_matcher(&phrases)?), phrases.into()),
                "pmFromFile",
            )
        }
        "streq" => (OpKind::StrEq(macro_param()?), "streq"),
        "contains" => (OpKind::Contains(macro_param()?), "contains"),
        "containsword" => (OpKind::ContainsWord(macro_param()?), "containsWord"),
        "beginswith" => (OpKind::BeginsWith(macro_param()?), "beginsWith"),
        "endswith" => (OpKind::EndsWith(macro_param()?), "endsWith"),
        "within" => (OpKind::Within(macro_param()?), "within"),
        "strmatch" => (OpKind::StrMatch(param.as_bytes().to_vec()), "strmatch"),
        "eq" => (OpKind::Eq(macro_param()?), "eq"),
        "ge" => (OpKind::Ge(macro_param()?), "ge"),
        "gt" => (OpKind::Gt(macro_param()?), "gt"),
        "le" => (OpKind::Le(macro_param()?), "le"),
        "lt" => (OpKind::Lt(macro_param()?), "lt"),
        "ipmatch" => (OpKind::IpMatch(parse_ip_list(param.split(','))?), "ipMatch"),
        "ipmatchfromfile" | "ipmatchf" => {
            let entries = read_data_file(&rule_dir.join(param.trim()))?;
            (
                OpKind::IpMatch(parse_ip_list(entries.iter().map(String::as_str))?),
                "ipMatchFromFile",
            )
        }
        "validatebyterange" => (
            OpKind::ValidateByteRange(byte_ranges(param)?),
            "validateByteRange",
        ),
        "validateurlencoding" => (OpKind::ValidateUrlEncoding, "validateUrlEncoding"),
        "validateutf8encoding" => (OpKind::ValidateUtf8Encoding, "validateUtf8Encoding"),
        "detectsqli" => (OpKind::DetectSqli, "detectSQLi"),
        "detectxss" => (OpKind::DetectXss, "detectXSS"),
        "unconditionalmatch" => (OpKind::UnconditionalMatch, "unconditionalMatch"),
        "nomatch" => (OpKind::NoMatch, "noMatch"),
        "rbl" => (OpKind::Rbl, "rbl"),
        "geolookup" => (OpKind::GeoLookup, "geoLookup"),
        other => return Err(format!("unsupported operator @{other}")),
    };
    Ok(Compiled {
        operator: Operator {
            kind,
            negated,
            name: canonical,
        },
        approximations,
    })
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn contains_word(haystack: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    memchr::memmem::find_iter(haystack, needle).any(|start| {
        let end = start + needle.len();
        let before_ok = start == 0 || !is_word_byte(haystack[start - 1]);
        let after_ok = end >= haystack.len() || !is_word_byte(haystack[end]);
        before_ok && after_ok
    })
}

fn invalid_url_encoding(input: &[u8]) -> bool {
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            match (input.get(i + 1), input.get(i + 2)) {
                (Some(a), Some(b)) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i += 3,
                _ => return true,
            }
        } else {
            i += 1;
        }
    }
    false
}

/// The parameter text: borrowed when it has no macro.
fn param<'m>(m: &'m Macro, ctx: &OpContext<'_>) -> std::borrow::Cow<'m, [u8]> {
    match m.as_literal() {
        Some(literal) => std::borrow::Cow::Borrowed(literal),
        None => std::borrow::Cow::Owned((ctx.expand)(m)),
    }
}

impl Operator {
    /// Runs the operator (without applying `negated`).
    pub fn evaluate(&self, input: &[u8], ctx: &mut OpContext<'_>) -> bool {
        match &self.kind {
            OpKind::Rx(re) => match ctx.captures.as_deref_mut() {
                // Capture groups cost more than a yes/no search: only
                // collect them for values that match.
                Some(_) if !re.is_match(input) => false,
                Some(captures) => match re.captures(input) {
                    Some(groups) => {
                        captures.clear();
                        for group in groups.iter().take(10) {
                            captures.push(group.map(|m| m.as_bytes().to_vec()).unwrap_or_default());
                        }
                        true
                    }
                    None => false,
                },
                None => re.is_match(input),
            },
            OpKind::RxMacro(m, cache) => {
                let pattern = (ctx.expand)(m);
                match cache.get(&pattern) {
                    Some(re) => {
                        let boxed = Operator {
                            kind: OpKind::Rx(Box::new(re)),
                            negated: false,
                            name: "rx",
                        };
                        boxed.evaluate(input, ctx)
                    }
                    None => false,
                }
            }
            OpKind::Pm(ac, _) => match ac.find(input) {
                Some(m) => {
                    if let Some(captures) = ctx.captures.as_deref_mut() {
                        captures.clear();
                        captures.push(input[m.start()..m.end()].to_vec());
                    }
                    true
                }
                None => false,
            },
            OpKind::StrEq(m) => *param(m, ctx) == *input,
            OpKind::Contains(m) => {
                let needle = param(m, ctx);
                memchr::memmem::find(input, &needle).is_some()
            }
            OpKind::ContainsWord(m) => contains_word(input, &param(m, ctx)),
            OpKind::BeginsWith(m) => input.starts_with(&param(m, ctx)),
            OpKind::EndsWith(m) => input.ends_with(&param(m, ctx)),
            OpKind::Within(m) => {
                let haystack = param(m, ctx);
                memchr::memmem::find(&haystack, input).is_some()
            }
            OpKind::StrMatch(needle) => memchr::memmem::find(input, needle).is_some(),
            OpKind::Eq(m) => to_integer(input) == to_integer(&param(m, ctx)),
            OpKind::Ge(m) => to_integer(input) >= to_integer(&param(m, ctx)),
            OpKind::Gt(m) => to_integer(input) > to_integer(&param(m, ctx)),
            OpKind::Le(m) => to_integer(input) <= to_integer(&param(m, ctx)),
            OpKind::Lt(m) => to_integer(input) < to_integer(&param(m, ctx)),
            OpKind::IpMatch(nets) => std::str::from_utf8(input)
                .ok()
                .and_then(|s| s.trim().parse::<IpAddr>().ok())
                .is_some_and(|ip| nets.iter().any(|n| n.contains(&ip))),
            OpKind::ValidateByteRange(allowed) => input.iter().any(|&b| !allowed[usize::from(b)]),
            OpKind::ValidateUrlEncoding => invalid_url_encoding(input),
            OpKind::ValidateUtf8Encoding => std::str::from_utf8(input).is_err(),
            OpKind::DetectSqli => match palisade_detect::sqli::detect_sqli(input) {
                Some(found) => {
                    if let Some(captures) = ctx.captures.as_deref_mut() {
                        captures.clear();
                        captures.push(found.fingerprint.into_bytes());
                    }
                    true
                }
                None => false,
            },
            OpKind::DetectXss => palisade_detect::xss::detect_xss(input),
            OpKind::UnconditionalMatch => true,
            OpKind::NoMatch | OpKind::Rbl | OpKind::GeoLookup => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(op: &str, input: &str) -> bool {
        let compiled = compile(op, Path::new(".")).unwrap();
        let expand = |m: &Macro| m.as_literal().unwrap_or_default().to_vec();
        let mut ctx = OpContext {
            expand: &expand,
            captures: None,
        };
        compiled.operator.evaluate(input.as_bytes(), &mut ctx) != compiled.operator.negated
    }

    #[test]
    fn string_operators() {
        assert!(run("@streq abc", "abc"));
        assert!(!run("@streq abc", "abcd"));
        assert!(run("@contains bc", "abcd"));
        assert!(run("@containsWord foo", "a foo."));
        assert!(!run("@containsWord foo", "afoo"));
        assert!(run("@beginsWith ab", "abc"));
        assert!(run("@endsWith bc", "abc"));
        assert!(run("@within GET POST", "POST"));
        assert!(!run("@within GET POST", "PUT"));
        assert!(run("!@within GET POST", "PUT"));
        assert!(run("@strmatch x", "axb"));
    }

    #[test]
    fn numeric_operators() {
        assert!(run("@eq 0", "0"));
        assert!(run("@eq 0", ""));
        assert!(run("@gt 5", "12abc"));
        assert!(run("@ge 5", "5"));
        assert!(run("@lt 5", "-3"));
        assert!(run("@le 5", "5"));
    }

    #[test]
    fn pattern_operators() {
        assert!(run("@rx ^a.c$", "abc"));
        assert!(run("a+", "caab"));
        assert!(run("@pm foo BAR", "xxbarxx"));
        assert!(run("@rx ^%{tx.x}$", ""));
        assert!(!run("@pm foo bar", "xxbaxx"));
        assert!(compile("@nope x", Path::new(".")).is_err());
    }

    #[test]
    fn validation_operators() {
        assert!(run("@validateByteRange 32-126", "a\x01"));
        assert!(!run("@validateByteRange 32-126,10", "a b\n"));
        assert!(run("@validateUrlEncoding", "a%zz"));
        assert!(run("@validateUrlEncoding", "a%2"));
        assert!(!run("@validateUrlEncoding", "a%20"));
        assert!(!run("@validateUtf8Encoding", "é"));
        assert!(run("@ipMatch 10.0.0.0/8,192.168.1.1", "10.1.2.3"));
        assert!(run("@ipMatch 10.0.0.0/8,192.168.1.1", "192.168.1.1"));
        assert!(!run("@ipMatch 10.0.0.0/8", "11.0.0.1"));
        assert!(run("@unconditionalMatch", ""));
        assert!(!run("@noMatch", ""));
        assert!(!run("@rbl bl.example", "1.2.3.4"));
    }

    #[test]
    fn captures_fill_groups() {
        let compiled = compile("@rx (a)(b)?", Path::new(".")).unwrap();
        let expand = |_: &Macro| Vec::new();
        let mut groups = Vec::new();
        let mut ctx = OpContext {
            expand: &expand,
            captures: Some(&mut groups),
        };
        assert!(compiled.operator.evaluate(b"xa", &mut ctx));
        assert_eq!(groups, vec![b"a".to_vec(), b"a".to_vec(), Vec::new()]);
    }
}
