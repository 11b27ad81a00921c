//! One literal scan per value instead of one regex search per rule.
//!
//! For every `@rx` pattern the literals one of which any match must hold
//! are extracted (when that set is finite and holds no empty string), and
//! the bytes one of which any match must hold; every `@pm` phrase list is
//! such a literal set as it stands. All literals go into one
//! case-insensitive Aho-Corasick automaton. For each transformed value the
//! engine scans it once and gets the set of operators that may match it (a
//! bit per operator, from an index of literal → operators and byte →
//! operators); the others are not run. Cost therefore grows with the length
//! of the values, not with the number of rules.
//!
//! Most values of ordinary requests are *plain* ([`PLAIN_BYTES`]: letters,
//! digits, space and `.,-_@:/`). Each pattern is also restricted to what it
//! can match inside plain text (classes lose their other bytes, branches
//! that need one drop out), which usually leaves a long literal (the
//! command name under quote-obfuscation allowances, the keyword before a
//! required `=` or `(`) or nothing at all, so plain values are judged by
//! that stricter condition.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Capture, Class, ClassBytes, ClassBytesRange, Hir, HirKind, Repetition};
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

/// What any match of `pattern` needs: literals and bytes, for any value
/// and for plain values. `None` when the pattern does not parse.
fn regex_requirements(pattern: &str) -> Option<Requirements> {
    let hir = fold_ascii_case(&parse_byte_pattern(pattern)?);
    let any = (necessary(&hir, 0), bytes_of(&hir));
    let plain = restrict_to_plain(&hir, 0).map(|plain| (necessary(&plain, 0), bytes_of(&plain)));
    Some(Requirements { any, plain })
}

fn bytes_of(hir: &Hir) -> Option<ByteSet> {
    necessary_bytes(hir, 0).filter(|set| byte_set_len(set) <= MAX_REQUIRED_BYTES)
}

/// Literals and bytes one of which every match contains (`None`: no such
/// set), for any value and, when a plain value can match at all, for plain
/// values.
struct Requirements {
    any: Needs,
    plain: Option<Needs>,
}

/// Literals (lowercased) and bytes one of each of which every match holds.
type Needs = (Option<Vec<Vec<u8>>>, Option<ByteSet>);

/// `hir` restricted to matches made of plain bytes only, or `None` when it
/// has no such match. Look-around assertions are kept: around a match in a
/// plain value they only ever see plain bytes, which is what they test.
fn restrict_to_plain(hir: &Hir, depth: usize) -> Option<Hir> {
    if depth > 128 {
        // Too deep to rewrite: keep it whole (a superset of its plain matches).
        return Some(hir.clone());
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(hir.clone()),
        HirKind::Literal(literal) => literal
            .0
            .iter()
            .all(|&b| byte_set_has(&PLAIN_BYTES, b))
            .then(|| hir.clone()),
        HirKind::Class(class) => {
            let mut ranges = Vec::new();
            let mut push_plain = |start: u32, end: u32| {
                for b in start..=end.min(255) {
                    let b = b as u8;
                    if byte_set_has(&PLAIN_BYTES, b) {
                        ranges.push(ClassBytesRange::new(b, b));
                    }
                }
            };
            match class {
                Class::Bytes(c) => c
                    .ranges()
                    .iter()
                    .for_each(|r| push_plain(u32::from(r.start()), u32::from(r.end()))),
                // Characters above ASCII are encoded with bytes >= 0x80,
                // which are not plain.
                Class::Unicode(c) => c
                    .ranges()
                    .iter()
                    .filter(|r| u32::from(r.start()) < 128)
                    .for_each(|r| push_plain(u32::from(r.start()), u32::from(r.end()).min(127))),
            }
            (!ranges.is_empty()).then(|| Hir::class(Class::Bytes(ClassBytes::new(ranges))))
        }
        HirKind::Repetition(rep) => match restrict_to_plain(&rep.sub, depth + 1) {
            Some(sub) => Some(Hir::repetition(Repetition {
                min: rep.min,
                max: rep.max,
                greedy: rep.greedy,
                sub: Box::new(sub),
            })),
            None if rep.min == 0 => Some(Hir::empty()),
            None => None,
        },
        HirKind::Capture(cap) => restrict_to_plain(&cap.sub, depth + 1).map(|sub| {
            Hir::capture(Capture {
                index: cap.index,
                name: cap.name.clone(),
                sub: Box::new(sub),
            })
        }),
        HirKind::Concat(items) => items
            .iter()
            .map(|item| restrict_to_plain(item, depth + 1))
            .collect::<Option<Vec<_>>>()
            .map(Hir::concat),
        HirKind::Alternation(items) => {
            let kept: Vec<Hir> = items
                .iter()
                .filter_map(|item| restrict_to_plain(item, depth + 1))
                .collect();
            (!kept.is_empty()).then(|| Hir::alternation(kept))
        }
    }
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

/// A condition on one value: it holds one of some literals (when given)
/// and one of some bytes (when given).
#[derive(Debug, Clone, Default)]
struct Condition {
    literals: Option<Vec<u32>>,
    bytes: Option<ByteSet>,
}

/// Index of an operator's filter in its [`Prefilter`].
pub type FilterId = u32;

/// The conditions of one operator: for any value, and for plain values
/// (`None`: no plain value can match).
#[derive(Debug, Clone)]
struct Filter {
    any: Condition,
    plain: Option<Condition>,
}

/// Distinct literals, each with its id.
#[derive(Debug, Default)]
struct Literals {
    list: Vec<Vec<u8>>,
    ids: HashMap<Vec<u8>, u32>,
}

impl Literals {
    fn add(&mut self, literals: Vec<Vec<u8>>) -> Vec<u32> {
        let mut ids = Vec::with_capacity(literals.len());
        for literal in literals {
            let next = self.list.len() as u32;
            let id = *self.ids.entry(literal.clone()).or_insert_with(|| {
                self.list.push(literal);
                next
            });
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    /// One case-insensitive automaton over all of them, or `None` when
    /// there are none.
    fn automaton(&self) -> Option<Result<AhoCorasick, aho_corasick::BuildError>> {
        (!self.list.is_empty()).then(|| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&self.list)
        })
    }
}

/// Builds the prefilter: literal ids and operator filters. Plain values
/// are scanned for the literals of plain conditions only, a smaller set of
/// mostly longer literals, so they are scanned faster.
#[derive(Debug, Default)]
pub struct PrefilterBuilder {
    any_literals: Literals,
    plain_literals: Literals,
    filters: Vec<Filter>,
}

impl PrefilterBuilder {
    fn condition(
        literals: &mut Literals,
        needs: Option<Vec<Vec<u8>>>,
        bytes: Option<ByteSet>,
    ) -> Condition {
        Condition {
            literals: needs.map(|l| literals.add(l)),
            bytes,
        }
    }

    fn push(&mut self, filter: Filter) -> FilterId {
        self.filters.push(filter);
        (self.filters.len() - 1) as FilterId
    }

    /// The filter of a regular expression (in `regex` syntax), or `None`
    /// when it has none: no literal or byte that every match needs.
    pub fn regex_filter(&mut self, pattern: &str) -> Option<FilterId> {
        let Requirements { any, plain } = regex_requirements(pattern)?;
        let open = |c: &Needs| c.0.is_none() && c.1.is_none();
        if open(&any) && plain.as_ref().is_some_and(open) {
            return None;
        }
        let any = Self::condition(&mut self.any_literals, any.0, any.1);
        let plain =
            plain.map(|(needs, bytes)| Self::condition(&mut self.plain_literals, needs, bytes));
        Some(self.push(Filter { any, plain }))
    }

    /// The filter of a phrase list (`@pm`): any match is one of the
    /// phrases, compared without regard to ASCII case.
    pub fn phrase_filter(&mut self, phrases: &[Vec<u8>]) -> FilterId {
        let lowered: Vec<Vec<u8>> = phrases.iter().map(|p| p.to_ascii_lowercase()).collect();
        let plain: Vec<Vec<u8>> = lowered.iter().filter(|p| is_plain(p)).cloned().collect();
        let plain = (!plain.is_empty())
            .then(|| Self::condition(&mut self.plain_literals, Some(plain), None));
        let any = Self::condition(&mut self.any_literals, Some(lowered), None);
        self.push(Filter { any, plain })
    }

    /// The prefilter, or `None` when no operator has a filter (or an
    /// automaton cannot be built).
    pub fn build(self) -> Option<Prefilter> {
        if self.filters.is_empty() {
            return None;
        }
        let words = self.filters.len().div_ceil(64);
        let mut any = SideIndex::new(words, &self.any_literals).ok()?;
        let mut plain = SideIndex::new(words, &self.plain_literals).ok()?;
        for (id, filter) in self.filters.iter().enumerate() {
            any.add(id, &filter.any);
            if let Some(condition) = &filter.plain {
                plain.add(id, condition);
            }
        }
        Some(Prefilter {
            filter_count: self.filters.len(),
            any,
            plain,
        })
    }
}

/// For one kind of value (plain or any): which filters each literal and
/// each byte satisfies, and which filters need no literal or no byte.
#[derive(Debug, Clone)]
struct SideIndex {
    automaton: Option<AhoCorasick>,
    /// Filters with no literal condition.
    no_literal: Box<[u64]>,
    /// Filters with no byte condition.
    no_byte: Box<[u64]>,
    by_literal: Vec<Vec<FilterId>>,
    by_byte: Vec<Box<[u64]>>,
}

impl SideIndex {
    fn new(words: usize, literals: &Literals) -> Result<SideIndex, aho_corasick::BuildError> {
        Ok(SideIndex {
            automaton: literals.automaton().transpose()?,
            no_literal: vec![0; words].into(),
            no_byte: vec![0; words].into(),
            by_literal: vec![Vec::new(); literals.list.len()],
            by_byte: vec![vec![0; words].into(); 256],
        })
    }

    fn add(&mut self, id: usize, condition: &Condition) {
        let (word, bit) = (id / 64, 1u64 << (id % 64));
        match &condition.literals {
            None => self.no_literal[word] |= bit,
            Some(ids) => {
                for &literal in ids {
                    self.by_literal[literal as usize].push(id as FilterId);
                }
            }
        }
        match &condition.bytes {
            None => self.no_byte[word] |= bit,
            Some(set) => {
                for b in 0..=255u8 {
                    if byte_set_has(set, b) {
                        self.by_byte[usize::from(b)][word] |= bit;
                    }
                }
            }
        }
    }

    /// Filters `value` satisfies, given the bytes it holds.
    fn candidates(&self, value: &[u8], bytes: &ByteSet) -> Box<[u64]> {
        let mut by_literal = self.no_literal.clone();
        if let Some(automaton) = &self.automaton {
            let mut last = None;
            for m in automaton.find_overlapping_iter(value) {
                let literal = m.pattern().as_usize();
                // A repeat only sets the same bits again.
                if last == Some(literal) {
                    continue;
                }
                last = Some(literal);
                for &id in self.by_literal.get(literal).map_or(&[][..], Vec::as_slice) {
                    by_literal[id as usize / 64] |= 1 << (id % 64);
                }
            }
        }
        // Bytes first into a stack buffer (the rule sets seen have well
        // under 2,048 filters), then one pass that keeps both conditions.
        let mut stack = [0u64; 32];
        let mut heap = Vec::new();
        let by_byte: &mut [u64] = match stack.get_mut(..self.no_byte.len()) {
            Some(words) => words,
            None => {
                heap.resize(self.no_byte.len(), 0);
                &mut heap
            }
        };
        by_byte.copy_from_slice(&self.no_byte);
        for (word_index, &word) in bytes.iter().enumerate() {
            let mut rest = word;
            while rest != 0 {
                let b = word_index * 64 + rest.trailing_zeros() as usize;
                rest &= rest - 1;
                for (out, add) in by_byte.iter_mut().zip(self.by_byte[b].iter()) {
                    *out |= add;
                }
            }
        }
        for (out, bytes_ok) in by_literal.iter_mut().zip(by_byte.iter()) {
            *out &= bytes_ok;
        }
        by_literal
    }
}

/// The shared automaton and the index from what a value holds to the
/// operators that may match it.
#[derive(Debug, Clone)]
pub struct Prefilter {
    filter_count: usize,
    any: SideIndex,
    plain: SideIndex,
}

/// The operators that may match one value (or, merged, some value of a
/// collection): a bit per [`FilterId`].
#[derive(Debug, Clone, Default)]
pub struct Candidates {
    bits: Box<[u64]>,
}

impl Candidates {
    /// Whether the operator with filter `id` may match.
    pub fn admits(&self, id: FilterId) -> bool {
        self.bits
            .get(id as usize / 64)
            .is_some_and(|word| word & (1 << (id % 64)) != 0)
    }

    /// Adds the candidates of another value.
    pub fn merge(&mut self, other: &Candidates) {
        if self.bits.len() < other.bits.len() {
            let mut grown = vec![0; other.bits.len()];
            grown[..self.bits.len()].copy_from_slice(&self.bits);
            self.bits = grown.into();
        }
        for (word, add) in self.bits.iter_mut().zip(other.bits.iter()) {
            *word |= add;
        }
    }
}

/// A set of bytes as a 256-bit mask.
pub type ByteSet = [u64; 4];

fn byte_set_add(set: &mut ByteSet, b: u8) {
    set[usize::from(b >> 6)] |= 1 << (b & 63);
}

fn byte_set_has(set: &ByteSet, b: u8) -> bool {
    set[usize::from(b >> 6)] & (1 << (b & 63)) != 0
}

/// Bytes of a plain value: ASCII letters, digits, space and `.,-_@:/`, what
/// names, words, numbers, dates, e-mail addresses and URLs of ordinary
/// requests are made of. Decoding transformations leave such values as
/// they are, and most rules need some other byte to match at all.
pub const PLAIN_BYTES: ByteSet = plain_bytes();

const fn plain_bytes() -> ByteSet {
    let mut set = [0u64; 4];
    let mut b = 0usize;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric()
            || matches!(c, b' ' | b'.' | b',' | b'-' | b'_' | b'@' | b':' | b'/')
        {
            set[b >> 6] |= 1 << (b & 63);
        }
        b += 1;
    }
    set
}

/// Whether every byte of `value` is plain (see [`PLAIN_BYTES`]).
pub fn is_plain(value: &[u8]) -> bool {
    value.iter().all(|&b| byte_set_has(&PLAIN_BYTES, b))
}

fn byte_set_len(set: &ByteSet) -> u32 {
    set.iter().map(|w| w.count_ones()).sum()
}

/// Most bytes in a useful required-byte set.
const MAX_REQUIRED_BYTES: u32 = 48;

/// Bytes of which every match of `pattern` contains at least one, or `None`.
pub fn required_bytes(pattern: &str) -> Option<ByteSet> {
    let hir = parse_byte_pattern(pattern)?;
    bytes_of(&fold_ascii_case(&hir))
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

impl Prefilter {
    /// How many operators have a filter.
    pub fn filter_count(&self) -> usize {
        self.filter_count
    }

    /// The operators that may match `value`.
    pub fn scan(&self, value: &[u8]) -> Candidates {
        let mut bytes = [0; 4];
        for &b in value {
            byte_set_add(&mut bytes, b);
            byte_set_add(&mut bytes, b.to_ascii_lowercase());
        }
        let plain = bytes
            .iter()
            .zip(PLAIN_BYTES)
            .all(|(have, plain)| have & !plain == 0);
        let side = if plain { &self.plain } else { &self.any };
        Candidates {
            bits: side.candidates(value, &bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_necessary_prefixes() {
        assert!(required_literals("(?i)(?:union|select)\\s+").is_some());
        assert!(required_literals("\\w+").is_none());
        assert!(required_literals("\\W*(?:foo|bar)\\d").unwrap().len() >= 2);
        assert_eq!(
            required_literals("[a-z]+=(?i:exec)").unwrap(),
            vec![b"=exec".to_vec()]
        );
        assert!(required_literals("a?b").is_none());
        let mut builder = PrefilterBuilder::default();
        let words = builder.regex_filter("(?i)(?:union|select)\\s+").unwrap();
        let command = builder.regex_filter("(?i)[;|]\\s*(?:cat|ls)").unwrap();
        let hex = builder.regex_filter("(?i)x[0-9]").unwrap();
        let prefilter = builder.build().unwrap();
        assert_eq!(prefilter.filter_count(), 3);
        assert!(prefilter.scan(b"xx SeLeCt y").admits(words));
        assert!(prefilter.scan(b"UNION\tx").admits(words));
        assert!(!prefilter.scan(b"nothing here").admits(words));
        assert!(prefilter.scan(b"a;ls").admits(command));
        assert!(!prefilter.scan(b"cat ls").admits(command));
        assert!(prefilter.scan(b"X1").admits(hex));
        assert!(!prefilter.scan(b"y1").admits(hex));
        let set = required_bytes("(?i)[;|]\\s*(?:cat|ls)").unwrap();
        assert!(byte_set_has(&set, b';') && !byte_set_has(&set, b'c'));
        assert!(required_bytes("\\w+").is_none());
    }

    #[test]
    fn plain_values_are_judged_by_what_plain_text_can_match() {
        let mut builder = PrefilterBuilder::default();
        // Letters interleaved with optional quotes: no literal for any
        // value, but in plain text only the bare word can match.
        let word = builder
            .regex_filter("(?i)c[\"'\\\\]*a[\"'\\\\]*t(?:\\s|;)")
            .unwrap();
        // Needs `=`, which no plain value holds.
        let handler = builder.regex_filter("(?i)on[a-z]{3,}\\s*=").unwrap();
        let phrases = builder.phrase_filter(&[b"<script".to_vec(), b"onerror".to_vec()]);
        let prefilter = builder.build().unwrap();
        assert!(!prefilter.scan(b"a sturdy widget").admits(word));
        assert!(prefilter.scan(b"cat /etc/passwd").admits(word));
        assert!(prefilter.scan(b"c'a't;").admits(word));
        assert!(!prefilter.scan(b"onerror happened").admits(handler));
        assert!(prefilter.scan(b"onerror=x").admits(handler));
        assert!(prefilter.scan(b"onerror happened").admits(phrases));
        assert!(!prefilter.scan(b"about scripts").admits(phrases));
        assert!(prefilter.scan(b"<SCRIPT>").admits(phrases));
        let mut union = prefilter.scan(b"plain words");
        assert!(!union.admits(handler));
        union.merge(&prefilter.scan(b"onload =1"));
        assert!(union.admits(handler) && !union.admits(word));
    }
}
