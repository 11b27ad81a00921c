//! One literal scan per value instead of one regex search per rule.
//!
//! For every `@rx` pattern the literals any match must start with are
//! extracted (when that set is finite and contains no empty string); every
//! `@pm` phrase list is such a set as it stands. All of these literals go
//! into one case-insensitive Aho-Corasick automaton. For
//! each transformed value the engine scans it once and records which
//! literals occur; a rule whose literals are all absent cannot match, so its
//! regex is not run. Cost therefore grows with the length of the values, not
//! with the number of rules.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Capture, Class, Hir, HirKind, Repetition};
use regex_syntax::ParserBuilder;
use std::collections::HashMap;

/// Most literals accepted for one pattern; larger sets filter too little.
const MAX_LITERALS_PER_PATTERN: usize = 512;
/// Shortest useful literal length.
const MIN_LITERAL_LEN: usize = 2;

/// Parses `pattern` over bytes: without Unicode classes where it allows, with
/// them where it needs them (`\p{..}`); `None` when it does not parse.
fn parse_byte_pattern(pattern: &str) -> Option<Hir> {
    match ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
    {
        Ok(hir) => Some(hir),
        Err(_) => ParserBuilder::new().utf8(false).build().parse(pattern).ok(),
    }
}

/// Literals of which any match of `pattern` (in `regex` syntax) contains
/// at least one, lowercased, or `None` when no useful set exists.
pub fn required_literals(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = parse_byte_pattern(pattern)?;
    necessary(&fold_ascii_case(&hir), 0)
}

/// Prefix literals of `hir`: every match of `hir` starts with one.
fn prefix_literals(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let mut extractor = Extractor::new();
    extractor.kind(ExtractKind::Prefix).limit_total(1024);
    let mut seq = extractor.extract(hir);
    seq.optimize_for_prefix_by_preference();
    let literals = seq.literals()?;
    if literals.is_empty() || literals.len() > MAX_LITERALS_PER_PATTERN {
        return None;
    }
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(literals.len());
    for literal in literals {
        if literal.as_bytes().len() < MIN_LITERAL_LEN {
            return None;
        }
        let lowered = literal.as_bytes().to_ascii_lowercase();
        if !out.contains(&lowered) {
            out.push(lowered);
        }
    }
    Some(out)
}

/// Preference between two literal sets: longer shortest literal, then fewer.
fn better(a: Option<Vec<Vec<u8>>>, b: Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
    let score = |set: &Vec<Vec<u8>>| {
        let shortest = set.iter().map(Vec::len).min().unwrap_or(0).min(8);
        (shortest, usize::MAX - set.len())
    };
    match (a, b) {
        (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// A set of literals one of which every match of `hir` contains.
fn necessary(hir: &Hir, depth: usize) -> Option<Vec<Vec<u8>>> {
    if depth > 64 {
        return None;
    }
    match hir.kind() {
        HirKind::Concat(items) => {
            let mut best = None;
            for start in 0..items.len() {
                let tail = Hir::concat(items[start..].to_vec());
                best = better(best, prefix_literals(&tail));
                best = better(best, necessary(&items[start], depth + 1));
            }
            best
        }
        HirKind::Alternation(items) => {
            let mut union: Vec<Vec<u8>> = Vec::new();
            for item in items {
                for literal in necessary(item, depth + 1)? {
                    if !union.contains(&literal) {
                        union.push(literal);
                    }
                }
            }
            (union.len() <= MAX_LITERALS_PER_PATTERN).then_some(union)
        }
        HirKind::Repetition(rep) if rep.min >= 1 => necessary(&rep.sub, depth + 1),
        HirKind::Capture(cap) => necessary(&cap.sub, depth + 1),
        HirKind::Literal(_) => prefix_literals(hir),
        _ => None,
    }
}

/// The lowercase letter when `class` is exactly one ASCII letter in both cases.
fn case_pair(class: &Class) -> Option<u8> {
    let pairs: Vec<(u32, u32)> = match class {
        Class::Bytes(c) => c
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .collect(),
        Class::Unicode(c) => c
            .ranges()
            .iter()
            .map(|r| (u32::from(r.start()), u32::from(r.end())))
            .collect(),
    };
    match pairs.as_slice() {
        [(a, a2), (b, b2)] if a == a2 && b == b2 && *a < 128 && *b == *a + 32 => {
            let lower = *b as u8;
            lower.is_ascii_lowercase().then_some(lower)
        }
        // Unicode case folding adds the Kelvin sign and the long s.
        [(a, a2), (b, b2), (c, c2)]
            if a == a2 && b == b2 && c == c2 && *b == *a + 32 && *c > 127 =>
        {
            let lower = *b as u8;
            lower.is_ascii_lowercase().then_some(lower)
        }
        _ => None,
    }
}

/// Rewrites case-insensitive letters (`[Ss]`) as lowercase literals, so that
/// literal extraction does not multiply case variants. Sound for a
/// prefilter matched case-insensitively.
fn fold_ascii_case(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Class(class) => match case_pair(class) {
            Some(lower) => Hir::literal(vec![lower]),
            None => hir.clone(),
        },
        HirKind::Concat(items) => Hir::concat(items.iter().map(fold_ascii_case).collect()),
        HirKind::Alternation(items) => {
            Hir::alternation(items.iter().map(fold_ascii_case).collect())
        }
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            min: rep.min,
            max: rep.max,
            greedy: rep.greedy,
            sub: Box::new(fold_ascii_case(&rep.sub)),
        }),
        HirKind::Capture(cap) => Hir::capture(Capture {
            index: cap.index,
            name: cap.name.clone(),
            sub: Box::new(fold_ascii_case(&cap.sub)),
        }),
        _ => hir.clone(),
    }
}

/// The shared automaton and the literal ids of each pattern.
#[derive(Debug, Clone)]
pub struct Prefilter {
    automaton: AhoCorasick,
    literal_count: usize,
}

/// Builds literal ids for patterns.
#[derive(Debug, Default)]
pub struct PrefilterBuilder {
    literals: Vec<Vec<u8>>,
    ids: HashMap<Vec<u8>, u32>,
}

impl PrefilterBuilder {
    /// Registers a pattern's literals, returning their ids.
    pub fn add(&mut self, literals: Vec<Vec<u8>>) -> Vec<u32> {
        let mut ids = Vec::with_capacity(literals.len());
        for literal in literals {
            let next = self.literals.len() as u32;
            let id = *self.ids.entry(literal.clone()).or_insert_with(|| {
                self.literals.push(literal);
                next
            });
            ids.push(id);
        }
        ids
    }

    pub fn build(self) -> Option<Prefilter> {
        if self.literals.is_empty() {
            return None;
        }
        let automaton = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&self.literals)
            .ok()?;
        Some(Prefilter {
            automaton,
            literal_count: self.literals.len(),
        })
    }
}

/// Which literals occur in one value.
#[derive(Debug, Clone, Default)]
pub struct LiteralHits {
    bits: Vec<u64>,
    /// Bytes present in the value (and their ASCII lowercase forms).
    bytes: ByteSet,
}

/// A set of bytes as a 256-bit mask.
pub type ByteSet = [u64; 4];

fn byte_set_add(set: &mut ByteSet, b: u8) {
    set[usize::from(b >> 6)] |= 1 << (b & 63);
}

fn byte_set_len(set: &ByteSet) -> u32 {
    set.iter().map(|w| w.count_ones()).sum()
}

/// Most bytes in a useful required-byte set.
const MAX_REQUIRED_BYTES: u32 = 48;

/// Bytes of which every match of `pattern` contains at least one, or `None`.
pub fn required_bytes(pattern: &str) -> Option<ByteSet> {
    let hir = parse_byte_pattern(pattern)?;
    necessary_bytes(&fold_ascii_case(&hir), 0).filter(|set| byte_set_len(set) <= MAX_REQUIRED_BYTES)
}

fn necessary_bytes(hir: &Hir, depth: usize) -> Option<ByteSet> {
    if depth > 64 {
        return None;
    }
    match hir.kind() {
        HirKind::Literal(literal) => {
            let first = *literal.0.first()?;
            let mut set = [0; 4];
            byte_set_add(&mut set, first);
            Some(set)
        }
        HirKind::Class(Class::Bytes(class)) => {
            let mut set = [0; 4];
            for range in class.ranges() {
                for b in range.start()..=range.end() {
                    byte_set_add(&mut set, b);
                }
            }
            Some(set)
        }
        HirKind::Class(Class::Unicode(class)) => {
            let mut set = [0; 4];
            for range in class.ranges() {
                if u32::from(range.end()) > 127 {
                    return None;
                }
                for c in range.start()..=range.end() {
                    byte_set_add(&mut set, c as u8);
                }
            }
            Some(set)
        }
        HirKind::Concat(items) => items
            .iter()
            .filter_map(|item| necessary_bytes(item, depth + 1))
            .min_by_key(byte_set_len),
        HirKind::Alternation(items) => {
            let mut union = [0u64; 4];
            for item in items {
                let set = necessary_bytes(item, depth + 1)?;
                for (u, s) in union.iter_mut().zip(set) {
                    *u |= s;
                }
            }
            Some(union)
        }
        HirKind::Repetition(rep) if rep.min >= 1 => necessary_bytes(&rep.sub, depth + 1),
        HirKind::Capture(cap) => necessary_bytes(&cap.sub, depth + 1),
        _ => None,
    }
}

impl LiteralHits {
    /// Adds the literals seen in `other`.
    pub fn merge(&mut self, other: &LiteralHits) {
        if self.bits.len() < other.bits.len() {
            self.bits.resize(other.bits.len(), 0);
        }
        for (word, add) in self.bits.iter_mut().zip(&other.bits) {
            *word |= add;
        }
        for (word, add) in self.bytes.iter_mut().zip(other.bytes) {
            *word |= add;
        }
    }

    /// Whether the value holds any byte of `set`.
    pub fn contains_any_byte(&self, set: &ByteSet) -> bool {
        self.bytes.iter().zip(set).any(|(a, b)| a & b != 0)
    }

    pub fn contains_any(&self, ids: &[u32]) -> bool {
        ids.iter().any(|&id| {
            self.bits
                .get(id as usize / 64)
                .is_some_and(|word| word & (1 << (id % 64)) != 0)
        })
    }
}

impl Prefilter {
    pub fn scan(&self, value: &[u8]) -> LiteralHits {
        let mut bits = vec![0u64; self.literal_count.div_ceil(64)];
        for m in self.automaton.find_overlapping_iter(value) {
            let id = m.pattern().as_usize();
            if let Some(word) = bits.get_mut(id / 64) {
                *word |= 1 << (id % 64);
            }
        }
        let mut bytes = [0; 4];
        for &b in value {
            byte_set_add(&mut bytes, b);
            byte_set_add(&mut bytes, b.to_ascii_lowercase());
        }
        LiteralHits { bits, bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_necessary_prefixes() {
        let lits = required_literals("(?i)(?:union|select)\\s+").unwrap();
        assert!(required_literals("\\w+").is_none());
        assert!(required_literals("\\W*(?:foo|bar)\\d").unwrap().len() >= 2);
        assert_eq!(
            required_literals("[a-z]+=(?i:exec)").unwrap(),
            vec![b"=exec".to_vec()]
        );
        assert!(required_literals("a?b").is_none());
        let mut builder = PrefilterBuilder::default();
        let ids = builder.add(lits);
        let prefilter = builder.build().unwrap();
        assert!(prefilter.scan(b"xx SeLeCt y").contains_any(&ids));
        assert!(prefilter.scan(b"UNION\tx").contains_any(&ids));
        assert!(!prefilter.scan(b"nothing here").contains_any(&ids));
        let set = required_bytes("(?i)[;|]\\s*(?:cat|ls)").unwrap();
        assert!(prefilter.scan(b"a;ls").contains_any_byte(&set));
        assert!(!prefilter.scan(b"cat ls").contains_any_byte(&set));
        let set = required_bytes("(?i)x[0-9]").unwrap();
        assert!(prefilter.scan(b"X").contains_any_byte(&set));
        assert!(required_bytes("\\w+").is_none());
    }
}
