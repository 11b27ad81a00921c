//! ECMA-262 `pattern` keywords on the linear-time `regex` engine.
//!
//! JSON Schema patterns are ECMA regular expressions, searched (not anchored).
//! Most translate directly; the differences handled here:
//! * `\d`, `\w` are ASCII-only in ECMA, Unicode-aware in `regex`: rewritten to ASCII classes.
//! * `\uXXXX` becomes `\x{XXXX}`; `\/` becomes `/`.
//! * One form of lookahead is run without backtracking: a `^`-anchored pattern that
//!   starts with lookaheads, `^(?!A)(?=B)R`, is the conjunction "`^R` matches, `^B`
//!   matches and `^A` does not", which is three linear-time searches.
//!
//! Anything else the `regex` crate cannot run (other lookarounds, backreferences)
//! is an error the loader reports with the pattern and its location.
//!
//! The commonest shape in API descriptions, one ASCII class repeated between
//! anchors (`^[A-Z]{2}$`, `^[a-z0-9-]+$`, `^[A-Z0-9-]{3,32}$`), is decided by
//! a byte table and the length instead of a regex search: a tenth of the work
//! for an identifier.

use regex::Regex;
use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// A compiled `pattern` keyword.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    main: Regex,
    required_prefixes: Vec<Regex>,
    forbidden_prefixes: Vec<Regex>,
    /// `main` when it is `^[class]{min,max}$` with an ASCII class.
    anchored_run: Option<AnchoredRun>,
}

/// The whole text is `min..=max` bytes of one ASCII class.
#[derive(Debug, Clone, PartialEq)]
struct AnchoredRun {
    /// Bit `b` set when byte `b` is in the class.
    allowed: [u64; 2],
    min: usize,
    max: Option<usize>,
}

impl AnchoredRun {
    /// Recognises the shape in a parsed pattern.
    fn of(hir: &Hir) -> Option<AnchoredRun> {
        let HirKind::Concat(parts) = hir.kind() else {
            return None;
        };
        let [start, run, end] = parts.as_slice() else {
            return None;
        };
        if start.kind() != &HirKind::Look(Look::Start) || end.kind() != &HirKind::Look(Look::End) {
            return None;
        }
        let (class, min, max) = match run.kind() {
            HirKind::Repetition(rep) => (rep.sub.kind(), rep.min, rep.max),
            other => (other, 1, Some(1)),
        };
        let HirKind::Class(class) = class else {
            return None;
        };
        let ranges: Vec<(u32, u32)> = match class {
            Class::Unicode(c) => c
                .ranges()
                .iter()
                .map(|r| (u32::from(r.start()), u32::from(r.end())))
                .collect(),
            Class::Bytes(c) => c
                .ranges()
                .iter()
                .map(|r| (u32::from(r.start()), u32::from(r.end())))
                .collect(),
        };
        let mut allowed = [0u64; 2];
        for (low, high) in ranges {
            if high > 0x7F {
                return None;
            }
            for b in low..=high {
                if let Some(word) = allowed.get_mut((b / 64) as usize) {
                    *word |= 1 << (b % 64);
                }
            }
        }
        Some(AnchoredRun {
            allowed,
            min: usize::try_from(min).ok()?,
            max: match max {
                Some(m) => Some(usize::try_from(m).ok()?),
                None => None,
            },
        })
    }

    /// Every byte is ASCII and in the class, so bytes are characters.
    fn is_match(&self, text: &str) -> bool {
        let len = text.len();
        len >= self.min
            && self.max.is_none_or(|m| len <= m)
            && text.bytes().all(|b| {
                b < 0x80
                    && self
                        .allowed
                        .get(usize::from(b / 64))
                        .is_some_and(|w| w & (1 << (b % 64)) != 0)
            })
    }
}

impl Pattern {
    pub(crate) fn compile(source: &str) -> Result<Pattern, String> {
        let (lookaheads, rest) = split_leading_lookaheads(source)?;
        let mut required_prefixes = Vec::new();
        let mut forbidden_prefixes = Vec::new();
        for (negative, body) in lookaheads {
            let regex = build(&format!("^(?:{})", translate(&body)?))?;
            if negative {
                forbidden_prefixes.push(regex);
            } else {
                required_prefixes.push(regex);
            }
        }
        let translated = translate(&rest)?;
        let main = build(&translated)?;
        let anchored_run = if required_prefixes.is_empty() && forbidden_prefixes.is_empty() {
            regex_syntax::parse(&translated)
                .ok()
                .and_then(|hir| AnchoredRun::of(&hir))
        } else {
            None
        };
        Ok(Pattern {
            main,
            required_prefixes,
            forbidden_prefixes,
            anchored_run,
        })
    }

    pub(crate) fn is_match(&self, text: &str) -> bool {
        if let Some(run) = &self.anchored_run {
            return run.is_match(text);
        }
        self.main.is_match(text)
            && self.required_prefixes.iter().all(|r| r.is_match(text))
            && !self.forbidden_prefixes.iter().any(|r| r.is_match(text))
    }
}

fn build(pattern: &str) -> Result<Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(4 << 20)
        .dfa_size_limit(2 << 20)
        .build()
        .map_err(|e| match e {
            regex::Error::Syntax(msg) => msg
                .lines()
                .last()
                .unwrap_or("syntax error")
                .trim_start_matches("error: ")
                .to_owned(),
            regex::Error::CompiledTooBig(limit) => format!("compiled form exceeds {limit} bytes"),
            other => other.to_string(),
        })
}

/// Splits `^(?!A)(?=B)rest` into its leading lookaheads and `^rest`.
fn split_leading_lookaheads(source: &str) -> Result<(Vec<(bool, String)>, String), String> {
    let Some(mut rest) = source.strip_prefix('^') else {
        return Ok((Vec::new(), source.to_owned()));
    };
    let mut lookaheads = Vec::new();
    while let Some(negative) = if rest.starts_with("(?!") {
        Some(true)
    } else if rest.starts_with("(?=") {
        Some(false)
    } else {
        None
    } {
        let close = matching_paren(rest).ok_or("unbalanced parenthesis")?;
        let body = rest.get(3..close).ok_or("unbalanced parenthesis")?;
        lookaheads.push((negative, body.to_owned()));
        rest = rest.get(close + 1..).unwrap_or("");
    }
    Ok((lookaheads, format!("^{rest}")))
}

fn matching_paren(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut escaped = false;
    let mut in_class = false;
    for (i, ch) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match ch {
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn translate(source: &str) -> Result<String, String> {
    let mut out = String::with_capacity(source.len() + 8);
    let mut chars = source.chars().peekable();
    let mut in_class = false;
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                let Some(next) = chars.next() else {
                    return Err("pattern ends with a lone backslash".into());
                };
                match next {
                    'd' => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                    'D' => out.push_str(if in_class { "\\D" } else { "[^0-9]" }),
                    'w' => out.push_str(if in_class {
                        "0-9A-Za-z_"
                    } else {
                        "[0-9A-Za-z_]"
                    }),
                    'W' => out.push_str(if in_class { "\\W" } else { "[^0-9A-Za-z_]" }),
                    'u' => {
                        let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                        if hex.len() != 4 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                            return Err("malformed \\u escape".into());
                        }
                        out.push_str(&format!("\\x{{{hex}}}"));
                    }
                    '1'..='9' => return Err("backreferences are not supported".into()),
                    'k' if chars.peek() == Some(&'<') => {
                        return Err("named backreferences are not supported".into())
                    }
                    'c' => return Err("control escapes (\\c) are not supported".into()),
                    '/' => out.push('/'),
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // ECMA allows a literal `[` inside a class; `regex` treats it as nesting.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    return Err("empty character class".into());
                }
            }
            '[' if in_class => out.push_str("\\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '(' if !in_class && chars.peek() == Some(&'?') => {
                let mut lookahead = chars.clone();
                lookahead.next();
                match lookahead.next() {
                    Some('=' | '!') => {
                        return Err(
                            "lookahead is only supported at the start of a `^`-anchored pattern"
                                .into(),
                        )
                    }
                    Some('<') if matches!(lookahead.next(), Some('=' | '!')) => {
                        return Err("lookbehind is not supported".into())
                    }
                    Some('<') => {
                        // ECMA named group `(?<name>...)` is `(?P<name>...)` in older syntax; both work.
                        out.push('(');
                    }
                    _ => out.push('('),
                }
            }
            '&' | '~' | '-' if in_class && chars.peek() == Some(&ch) => {
                // `regex` gives `&&`, `~~` and `--` set-operation meaning inside classes.
                out.push('\\');
                out.push(ch);
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_negative_lookahead_runs_as_conjunction() {
        let p = Pattern::compile("^(?!sink_)[a-zA-Z0-9_-]+$").unwrap();
        assert!(p.is_match("abc_1"));
        assert!(!p.is_match("sink_1"));
        assert!(!p.is_match("a b"));
    }

    #[test]
    fn unsupported_constructs_are_errors() {
        assert!(Pattern::compile("a(?=b)").is_err());
        assert!(Pattern::compile("(a)\\1").is_err());
        assert!(Pattern::compile("(?<=a)b").is_err());
    }

    #[test]
    fn ecma_classes_are_ascii() {
        let p = Pattern::compile("^\\d+$").unwrap();
        assert!(p.is_match("123"));
        assert!(!p.is_match("١٢٣"));
        assert!(Pattern::compile("^\\u00e9\\/[\\w-]$")
            .unwrap()
            .is_match("é/a"));
    }

    #[test]
    fn search_is_unanchored() {
        assert!(Pattern::compile("b+").unwrap().is_match("abbbc"));
    }

    #[test]
    fn one_anchored_class_runs_without_the_regex() {
        for source in [
            "^[A-Z0-9-]{3,32}$",
            "^[A-Z]{2}$",
            "^[a-z]+$",
            "^\\d*$",
            "^[\\x20-\\x7e]?$",
        ] {
            let compiled = Pattern::compile(source).unwrap();
            assert!(compiled.anchored_run.is_some(), "{source}");
        }
        for source in [
            "[A-Z]{2}",
            "^[A-Z]{2}",
            "^a{2}$",
            "^[é]$",
            "^[^a]$",
            "^[^\\x00-\\x7e]?$",
            "^(?!x)[a-z]+$",
            "^[a-z]+$|^[0-9]$",
        ] {
            let compiled = Pattern::compile(source).unwrap();
            assert!(compiled.anchored_run.is_none(), "{source}");
        }
        let sku = Pattern::compile("^[A-Z0-9-]{3,32}$").unwrap();
        assert!(sku.is_match("SKU-10000"));
        assert!(!sku.is_match("SK"));
        assert!(!sku.is_match("sku-10000"));
        assert!(!sku.is_match("SKU-10000\n"));
    }

    proptest::proptest! {
        /// The byte table decides exactly as the regex does.
        #[test]
        fn anchored_runs_agree_with_the_regex(
            which in 0usize..6,
            text in "[A-Za-z0-9 _\\-é\\n\\x7f]{0,12}",
        ) {
            let source = ["^[A-Z0-9-]{3,10}$", "^[A-Z]{2}$", "^[a-z_]+$", "^\\d*$", "^[\\w-]{0,4}$", "^[\\x41-\\x7a]{1,}$"][which];
            let compiled = Pattern::compile(source).unwrap();
            proptest::prop_assert!(compiled.anchored_run.is_some());
            proptest::prop_assert_eq!(compiled.is_match(&text), compiled.main.is_match(&text), "{} on {:?}", source, text);
        }
    }
}
