//! The `native` detector: where values are taken from, how they are decoded,
//! which checks run on them, and how signals become scored findings.

use crate::byte_set::ByteSet;
use crate::checks::{self, Confidence, Signal, Value};
use crate::decode::{
    html_decode_into, normalize_bytes_into, percent_decode_into, plain_base64,
    MAX_URL_DECODE_ROUNDS,
};
use crate::extract;
use crate::json::{self, JsonItemKind};
use crate::value::{is_inert_shape_of, Source, ValueContext};
use crate::xml::{self, XmlItemKind};
use palisade_core::{Category, Detector, Finding, Location, Phase, Severity, Transaction};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The categories the native detector knows.
pub const NATIVE_CATEGORIES: &[Category] = &[
    Category::SqlInjection,
    Category::Xss,
    Category::NosqlInjection,
    Category::CommandInjection,
    Category::PathTraversal,
    Category::RemoteFileInclusion,
    Category::Ssrf,
    Category::TemplateInjection,
    Category::LdapInjection,
    Category::XpathInjection,
    Category::Xxe,
    Category::CrlfInjection,
    Category::JndiInjection,
    Category::PrototypePollution,
    Category::CodeInjection,
];

/// Configuration of the native detector. Every field has a default, so an
/// empty table is a complete configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NativeConfig {
    /// Categories to detect; defaults to all of [`NATIVE_CATEGORIES`].
    pub categories: Vec<Category>,
    /// Anomaly score per category, replacing the confidence-derived score
    /// (5 strong, 3 medium, 2 weak) of every finding in that category.
    pub scores: BTreeMap<Category, u32>,
    /// Most non-empty values (parameters, keys, strings, attributes...)
    /// inspected per request; the rest are skipped and a notice finding
    /// says so.
    pub max_values: usize,
    /// Longest value inspected, in bytes; longer values are inspected up to this length.
    pub max_value_bytes: usize,
    /// Longest body inspected, in bytes.
    pub max_body_bytes: usize,
    /// Request headers whose values are inspected (lowercase names). Every
    /// header is still checked for JNDI lookups.
    pub headers: Vec<String>,
    /// Whether cookies are inspected.
    pub cookies: bool,
    /// Whether values that are plainly base64 are decoded and inspected too.
    pub decode_base64: bool,
}

impl Default for NativeConfig {
    fn default() -> Self {
        NativeConfig {
            categories: NATIVE_CATEGORIES.to_vec(),
            scores: BTreeMap::new(),
            max_values: 4096,
            max_value_bytes: 64 * 1024,
            max_body_bytes: 4 * 1024 * 1024,
            headers: [
                "user-agent",
                "referer",
                "origin",
                "x-forwarded-for",
                "x-forwarded-host",
                "x-real-ip",
                "x-client-ip",
                "true-client-ip",
                "x-original-url",
                "x-rewrite-url",
                "forwarded",
                "content-type",
                "accept-language",
                "x-api-version",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            cookies: true,
            decode_base64: true,
        }
    }
}

/// Native attack detection as a pipeline [`Detector`] named `native`.
#[derive(Debug, Clone)]
pub struct NativeDetector {
    config: NativeConfig,
    headers: Vec<http::HeaderName>,
}

impl NativeDetector {
    pub fn new(config: NativeConfig) -> Self {
        let headers = config
            .headers
            .iter()
            .filter_map(|h| http::HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()).ok())
            .collect();
        NativeDetector { config, headers }
    }

    pub fn config(&self) -> &NativeConfig {
        &self.config
    }

    /// Inspects the request line, headers and cookies; returns the findings.
    pub fn inspect_head(&self, head: &palisade_core::RequestHead) -> Vec<Finding> {
        let mut inspector = Inspector::new(&self.config);
        inspector.head(head, &self.headers);
        inspector.finish()
    }

    /// Inspects a request body of the given media type (lowercase, no parameters);
    /// `content_type` is the full header value (for the multipart boundary).
    pub fn inspect_body(
        &self,
        media_type: Option<&str>,
        content_type: &[u8],
        body: &[u8],
    ) -> Vec<Finding> {
        let mut inspector = Inspector::new(&self.config);
        inspector.body(media_type, content_type, body);
        inspector.finish()
    }
}

impl Default for NativeDetector {
    fn default() -> Self {
        NativeDetector::new(NativeConfig::default())
    }
}

impl Detector for NativeDetector {
    fn name(&self) -> &'static str {
        "native"
    }

    fn wants(&self, phase: Phase) -> bool {
        matches!(phase, Phase::RequestHead | Phase::RequestBody)
    }

    fn inspect(&self, phase: Phase, tx: &mut Transaction) {
        // Weak findings share one budget across the phases of a request.
        let weak_used = tx.state.get::<WeakScoreUsed>().map_or(0, |w| w.0);
        let mut inspector = Inspector::new(&self.config);
        inspector.weak_total = weak_used;
        match phase {
            Phase::RequestHead => inspector.head(&tx.request, &self.headers),
            Phase::RequestBody => {
                let Some(body) = tx.request_body.as_ref() else {
                    return;
                };
                if body.is_empty() {
                    return;
                }
                let media = tx.request.media_type();
                let content_type = tx
                    .request
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .map(|v| v.as_bytes())
                    .unwrap_or(b"");
                inspector.body(media.as_deref(), content_type, body);
            }
            Phase::ResponseHead | Phase::ResponseBody => return,
        }
        let weak_total = inspector.weak_total;
        for finding in inspector.finish() {
            tx.report(finding);
        }
        tx.state.insert(WeakScoreUsed(weak_total));
    }
}

/// Score already spent by weak findings on this request (kept in
/// `Transaction::state` between the head and body phases).
#[derive(Debug, Clone, Copy)]
struct WeakScoreUsed(u32);

/// Bytes of plain tokens (identifiers, numbers, single-case codes such as
/// `created_at`, `SKU-000123`, `42`) that no check can match.
const PLAIN_BYTES: ByteSet = ByteSet::from_bytes(b"_-")
    .with_range(b'0', b'9')
    .with_range(b'a', b'z')
    .with_range(b'A', b'Z');
/// Bytes that start an encoding `decode` undoes.
const DECODE_BYTES: ByteSet = ByteSet::from_bytes(b"%&\0").with_range(0x80, 0xff);
const UPPER_BYTES: ByteSet = ByteSet::from_bytes(b"").with_range(b'A', b'Z');
const LOWER_BYTES: ByteSet = ByteSet::from_bytes(b"").with_range(b'a', b'z');

/// What a raw value's byte set says: whether it needs decoding, and
/// whether it is a plain token that is not mixed-case enough to be base64
/// text.
fn classify_raw(raw: &[u8], bytes: &ByteSet) -> (bool, bool) {
    let mixed_case = bytes.intersects(&UPPER_BYTES) && bytes.intersects(&LOWER_BYTES);
    let plain = bytes.is_subset(&PLAIN_BYTES) && !(mixed_case && raw.len() >= 8);
    (bytes.intersects(&DECODE_BYTES), plain)
}

/// Whether a body of unknown type is text worth inspecting: its first KiB is
/// valid UTF-8 (allowing a cut final character) with few control bytes.
/// Compressed and binary uploads are not.
fn looks_textual(body: &[u8]) -> bool {
    let head = body.get(..body.len().min(1024)).unwrap_or(body);
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.valid_up_to() + 4 >= head.len(),
    };
    let controls = head
        .iter()
        .filter(|b| **b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        .count();
    valid && controls * 100 <= head.len()
}

fn category_bit(category: Category) -> u32 {
    NATIVE_CATEGORIES
        .iter()
        .position(|c| *c == category)
        .map_or(0, |p| 1 << p)
}

/// Per-request inspection state: reusable buffers and the findings so far.
struct Inspector<'c> {
    config: &'c NativeConfig,
    enabled: u32,
    decoded: Vec<u8>,
    tmp: Vec<u8>,
    lower: Vec<u8>,
    scratch: Vec<u8>,
    base64: Vec<u8>,
    findings: Vec<Finding>,
    values: usize,
    weak_total: u32,
    truncated: bool,
    /// Signals raised so far, kept or not (to know whether a value was clean).
    signals: usize,
    clean_keys: CleanKeys,
}

/// JSON keys (with their parent key) already inspected in this body and
/// found clean, so that an array of a thousand objects does not inspect the
/// same ten keys a thousand times. Direct-mapped with a fixed number of
/// slots: a collision only evicts, so crafted keys cost at most a miss. The
/// pairs are copied into one buffer, bounded, so remembering a key costs no
/// allocation of its own.
struct CleanKeys {
    /// Per slot: where its pair starts in `pairs`, the key's length, and the
    /// pair's length (`EMPTY` when the slot is free).
    slots: [(u32, u16, u16); Self::SLOTS],
    pairs: Vec<u8>,
}

impl CleanKeys {
    const SLOTS: usize = 64;
    /// Longer pairs are inspected every time rather than remembered.
    const MAX_PAIR: usize = 256;
    /// Most bytes remembered per body; later keys are inspected every time.
    const MAX_BYTES: usize = 16 * 1024;
    /// Smaller JSON bodies rarely repeat keys enough to pay for remembering them.
    const MIN_BODY: usize = 2048;
    const EMPTY: (u32, u16, u16) = (u32::MAX, 0, 0);

    fn new() -> Self {
        CleanKeys {
            slots: [Self::EMPTY; Self::SLOTS],
            pairs: Vec::new(),
        }
    }

    /// The slot for `key` under `parent`, or `None` when the pair is too
    /// long to remember.
    fn slot(key: &[u8], parent: &[u8]) -> Option<usize> {
        if key.len() + parent.len() > Self::MAX_PAIR {
            return None;
        }
        let hash = word_hash(word_hash(key.len() as u64, key), parent);
        Some((hash >> 58) as usize)
    }

    fn contains(&self, slot: usize, key: &[u8], parent: &[u8]) -> bool {
        let Some((start, key_len, len)) = self.slots.get(slot).copied() else {
            return false;
        };
        if start == u32::MAX {
            return false;
        }
        let (start, key_len, len) = (start as usize, usize::from(key_len), usize::from(len));
        key_len == key.len()
            && len == key.len() + parent.len()
            && self.pairs.get(start..start + key_len) == Some(key)
            && self.pairs.get(start + key_len..start + len) == Some(parent)
    }

    fn insert(&mut self, slot: usize, key: &[u8], parent: &[u8]) {
        let len = key.len() + parent.len();
        if self.pairs.len() + len > Self::MAX_BYTES {
            return;
        }
        // Both bounds keep every figure within its field.
        let (Ok(start), Ok(key_len), Ok(len)) = (
            u32::try_from(self.pairs.len()),
            u16::try_from(key.len()),
            u16::try_from(len),
        ) else {
            return;
        };
        self.pairs.extend_from_slice(key);
        self.pairs.extend_from_slice(parent);
        if let Some(s) = self.slots.get_mut(slot) {
            *s = (start, key_len, len);
        }
    }
}

/// A fast, unkeyed hash, eight bytes at a time. Only for bounded tables
/// where a collision costs a miss, never for maps an attacker could fill.
fn word_hash(mut hash: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let w = <[u8; 8]>::try_from(word).map_or(0, u64::from_le_bytes);
        hash = (hash.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let tail = words
        .remainder()
        .iter()
        .rev()
        .fold(0u64, |w, &b| w << 8 | u64::from(b));
    (hash.rotate_left(5) ^ tail).wrapping_mul(K)
}

/// A multipart part copied out of the body: name, file name, content type, content.
type OwnedPart = (String, Option<Vec<u8>>, Vec<u8>, Vec<u8>);

/// Most score weak signals may add to one request together.
const WEAK_BUDGET: u32 = 4;

impl<'c> Inspector<'c> {
    fn new(config: &'c NativeConfig) -> Self {
        let enabled = config
            .categories
            .iter()
            .fold(0, |m, c| m | category_bit(*c));
        Inspector {
            config,
            enabled,
            decoded: Vec::new(),
            tmp: Vec::new(),
            lower: Vec::new(),
            scratch: Vec::new(),
            base64: Vec::new(),
            findings: Vec::new(),
            values: 0,
            weak_total: 0,
            truncated: false,
            signals: 0,
            clean_keys: CleanKeys::new(),
        }
    }

    fn finish(mut self) -> Vec<Finding> {
        if self.truncated {
            self.findings.push(
                Finding::new(
                    "palisade.limit.values",
                    Category::ResourceLimit,
                    Severity::Info,
                    Location::new("request"),
                    "",
                    "Too many values: the rest were not inspected",
                )
                .with_score(0),
            );
        }
        self.findings
    }

    fn enabled(&self, category: Category) -> bool {
        self.enabled & category_bit(category) != 0
    }

    fn budget(&mut self) -> bool {
        if self.values >= self.config.max_values {
            self.truncated = true;
            return false;
        }
        self.values += 1;
        true
    }

    fn emit(&mut self, sig: Signal, location: &dyn Fn() -> Location, evidence_from: &[u8]) {
        self.signals += 1;
        if !self.enabled(sig.category) {
            return;
        }
        let location = location();
        let rule_id = format!("palisade.{}", sig.rule);
        let mut score = sig.confidence.score();
        if let Some(s) = self.config.scores.get(&sig.category) {
            score = *s;
        }
        // One finding per category and location: the strongest.
        if let Some(existing) = self
            .findings
            .iter()
            .position(|f| f.location == location && f.category == sig.category)
        {
            if self
                .findings
                .get(existing)
                .is_some_and(|f| f.score >= score)
            {
                return;
            }
            let replaced = self.findings.remove(existing);
            if replaced.severity == Severity::Notice {
                self.weak_total = self.weak_total.saturating_sub(replaced.score);
            }
        }
        if sig.confidence == Confidence::Weak {
            if self.weak_total + score > WEAK_BUDGET {
                return;
            }
            self.weak_total += score;
        }
        let severity = match sig.confidence {
            Confidence::Strong => Severity::Critical,
            Confidence::Medium => Severity::Warning,
            Confidence::Weak => Severity::Notice,
        };
        let start = sig.at.saturating_sub(12).min(evidence_from.len());
        let end = (start + 120).min(evidence_from.len());
        let evidence = String::from_utf8_lossy(evidence_from.get(start..end).unwrap_or(&[]));
        self.findings.push(
            Finding::new(
                rule_id,
                sig.category,
                severity,
                location,
                &evidence,
                sig.message,
            )
            .with_score(score),
        );
    }

    /// Decodes `raw` through the attacker's layers into `self.decoded`.
    fn decode(&mut self, raw: &[u8]) {
        let raw = raw
            .get(..self.config.max_value_bytes.min(raw.len()))
            .unwrap_or(raw);
        self.decoded.clear();
        self.decoded.extend_from_slice(raw);
        for _ in 0..MAX_URL_DECODE_ROUNDS {
            if memchr::memchr(b'%', &self.decoded).is_none()
                || !percent_decode_into(&self.decoded, false, &mut self.tmp)
            {
                break;
            }
            std::mem::swap(&mut self.decoded, &mut self.tmp);
        }
        if memchr::memchr(b'&', &self.decoded).is_some()
            && html_decode_into(&self.decoded, &mut self.tmp)
        {
            std::mem::swap(&mut self.decoded, &mut self.tmp);
        }
        if self.decoded.iter().any(|b| *b >= 0x80 || *b == 0)
            && normalize_bytes_into(&self.decoded, &mut self.tmp)
        {
            std::mem::swap(&mut self.decoded, &mut self.tmp);
        }
    }

    /// Inspects one value: decodes, clears inert shapes, runs the checks.
    fn value(&mut self, raw: &[u8], source: Source, name: &str, location: &dyn Fn() -> Location) {
        if raw.is_empty() || !self.budget() {
            return;
        }
        let raw = raw
            .get(..self.config.max_value_bytes.min(raw.len()))
            .unwrap_or(raw);
        let raw_bytes = ByteSet::of(raw);
        let (needs_decoding, plain) = classify_raw(raw, &raw_bytes);
        if plain {
            return;
        }
        let decoded = if needs_decoding {
            self.decode(raw);
            std::mem::take(&mut self.decoded)
        } else {
            Vec::new()
        };
        let (view, view_bytes): (&[u8], ByteSet) = if needs_decoding {
            (&decoded, ByteSet::of(&decoded))
        } else {
            (raw, raw_bytes)
        };
        self.analyze_or_clear(view, &view_bytes, source, name, location);
        if self.config.decode_base64 && view.len() >= 8 {
            let mut b64 = std::mem::take(&mut self.base64);
            if plain_base64(view, &mut b64) {
                self.analyze_or_clear(&b64, &ByteSet::of(&b64), source, name, location);
            }
            self.base64 = b64;
        }
        if needs_decoding {
            self.decoded = decoded;
        }
    }

    /// `v` lowercased (ASCII) in the reusable buffer, taken out of `self`
    /// so checks can borrow it beside `self`; put it back in `self.lower`.
    fn take_lowered(&mut self, v: &[u8]) -> Vec<u8> {
        let mut lower = std::mem::take(&mut self.lower);
        lower.clear();
        lower.extend_from_slice(v);
        lower.make_ascii_lowercase();
        lower
    }

    /// Inert shapes get only the address check (a bare `169.254.169.254`
    /// is inert text but not an inert URL parameter); the rest gets every check.
    fn analyze_or_clear(
        &mut self,
        v: &[u8],
        bytes: &ByteSet,
        source: Source,
        name: &str,
        location: &dyn Fn() -> Location,
    ) {
        if !is_inert_shape_of(v, bytes) {
            self.analyze(v, bytes, source, name, location);
            return;
        }
        if source != Source::FileContent && bytes.has_any(b".:") && v.len() <= 255 {
            let lower = self.take_lowered(v);
            let ctx = ValueContext::new(source, name, b"");
            if let Some(sig) = checks::url_checks(&Value::with_bytes(v, &lower, *bytes), &ctx) {
                self.emit(sig, location, v);
            }
            self.lower = lower;
        }
    }

    fn analyze(
        &mut self,
        v: &[u8],
        bytes: &ByteSet,
        source: Source,
        name: &str,
        location: &dyn Fn() -> Location,
    ) {
        let lower = self.take_lowered(v);
        let ctx = ValueContext::new(source, name, v);
        let value = Value::with_bytes(v, &lower, *bytes);
        let mut scratch = std::mem::take(&mut self.scratch);
        let report = |this: &mut Self, sig: Option<Signal>| {
            if let Some(sig) = sig {
                // Attack syntax in a name, key or path segment is not data.
                let sig = if source.is_structural() && sig.confidence == Confidence::Medium {
                    Signal {
                        confidence: Confidence::Strong,
                        ..sig
                    }
                } else {
                    sig
                };
                this.emit(sig, location, v);
            }
        };
        if source == Source::FileContent {
            report(self, checks::xxe(&value, &ctx));
            report(self, checks::xss(&value, &ctx));
        } else {
            let is_browser_url_header =
                source == Source::Header && matches!(name, "referer" | "origin");
            report(self, checks::sqli(&value, &ctx));
            report(self, checks::xss(&value, &ctx));
            report(self, checks::nosql(&value, &ctx));
            report(self, checks::cmdi(&value, &ctx, &mut scratch));
            report(self, checks::traversal(&value, &ctx));
            if !is_browser_url_header {
                report(self, checks::url_checks(&value, &ctx));
            }
            report(self, checks::ssti(&value, &ctx));
            report(self, checks::ldap(&value, &ctx));
            report(self, checks::xpath(&value, &ctx));
            report(self, checks::xxe(&value, &ctx));
            report(self, checks::crlf(&value, &ctx));
            report(self, checks::jndi(&value, &mut scratch));
            report(self, checks::prototype_value(&value));
            report(self, checks::code(&value, &ctx));
        }
        self.scratch = scratch;
        self.lower = lower;
    }

    /// Checks on a name (parameter or JSON key) that only names can fail.
    fn name_checks(&mut self, name: &[u8], parent: &[u8], location: &dyn Fn() -> Location) {
        if let Some(sig) = checks::prototype_key(name) {
            self.emit(sig, location, name);
        } else if name.eq_ignore_ascii_case(b"prototype")
            && parent.eq_ignore_ascii_case(b"constructor")
        {
            if let Some(sig) = checks::prototype_key(b"constructor.prototype") {
                self.emit(sig, location, name);
            }
        }
        if let Some(sig) = checks::nosql_key(name) {
            self.emit(sig, location, name);
        }
        // Bracketed parameter names: `user[$ne]`, `a[__proto__][x]`.
        let mut rest = name;
        while let Some(open) = memchr::memchr(b'[', rest) {
            let after = rest.get(open + 1..).unwrap_or(&[]);
            let close = memchr::memchr(b']', after).unwrap_or(after.len());
            let segment = after.get(..close).unwrap_or(&[]);
            if let Some(sig) = checks::nosql_key(segment) {
                self.emit(sig, location, name);
            }
            rest = after.get(close..).unwrap_or(&[]);
        }
    }

    fn head(&mut self, head: &palisade_core::RequestHead, headers: &[http::HeaderName]) {
        for (index, segment) in head.path().split('/').filter(|s| !s.is_empty()).enumerate() {
            let location = || Location::path_segment(index);
            if self.dot_segment(segment.as_bytes()) {
                self.emit(
                    Signal {
                        category: Category::PathTraversal,
                        rule: "traversal",
                        confidence: Confidence::Strong,
                        at: 0,
                        message: "Dot-dot path segment",
                    },
                    &location,
                    segment.as_bytes(),
                );
            }
            self.value(segment.as_bytes(), Source::PathSegment, "", &location);
        }
        if let Some(query) = head.query() {
            let max = self.config.max_values;
            let truncated = extract::for_each_pair(query.as_bytes(), max, &mut |name, value| {
                self.named_value(name, value, Source::QueryValue);
            });
            self.truncated |= truncated;
        }
        for header in headers {
            for value in head.headers.get_all(header) {
                let name = header.as_str();
                self.value(value.as_bytes(), Source::Header, name, &|| {
                    Location::header(name)
                });
            }
        }
        if self.config.cookies {
            let max = self.config.max_values;
            for header in head.headers.get_all(http::header::COOKIE) {
                let truncated =
                    extract::for_each_cookie(header.as_bytes(), max, &mut |name, value| {
                        self.named_value(name, value, Source::Cookie);
                    });
                self.truncated |= truncated;
            }
        }
        // Every other header: JNDI lookups are logged from anywhere.
        if self.enabled(Category::JndiInjection) {
            for (name, value) in &head.headers {
                if headers.contains(name) || name == http::header::COOKIE {
                    continue;
                }
                let raw = value.as_bytes();
                // Most values hold neither `$` nor `%`: one scan rules them
                // out before any substring search is set up.
                if memchr::memchr2(b'$', b'%', raw).is_none() {
                    continue;
                }
                // `%24%7b` in any case, found without a lowercase copy of
                // every header value.
                let encoded = memchr::memmem::find_iter(raw, b"%24").any(|at| {
                    raw.get(at + 3..at + 6)
                        .is_some_and(|brace| brace.eq_ignore_ascii_case(b"%7b"))
                });
                if memchr::memmem::find(raw, b"${").is_none() && !encoded {
                    continue;
                }
                let mut decoded_buf = Vec::new();
                let bytes: &[u8] = if encoded {
                    percent_decode_into(raw, false, &mut decoded_buf);
                    &decoded_buf
                } else {
                    raw
                };
                let lower = bytes.to_ascii_lowercase();
                let v = Value::new(bytes, &lower);
                let mut scratch = std::mem::take(&mut self.scratch);
                if let Some(sig) = checks::jndi(&v, &mut scratch) {
                    let n = name.as_str();
                    self.emit(sig, &|| Location::header(n), bytes);
                }
                self.scratch = scratch;
            }
        }
    }

    /// A query parameter or cookie (`source` says which): its name, as a
    /// name and as a value, then its value.
    fn named_value(&mut self, name: &[u8], value: &[u8], source: Source) {
        let name_text = String::from_utf8_lossy(name);
        let (part, location): (&str, fn(&str) -> Location) = match source {
            Source::Cookie => ("cookie", Location::cookie),
            _ => ("query", Location::query),
        };
        let at = || location(&name_text);
        self.name_checks(name, b"", &at);
        self.value(name, Source::ParamName, "", &|| {
            Location::new(format!("{part}.{name_text}.name"))
        });
        self.value(value, source, &name_text, &at);
    }

    /// `..`, `%2e%2e`, `..;` as a whole path segment.
    fn dot_segment(&mut self, segment: &[u8]) -> bool {
        self.decode(segment);
        let d = self.decoded.trim_ascii();
        let d = d.split(|b| *b == b';').next().unwrap_or(d);
        d.len() >= 2 && d.iter().all(|b| *b == b'.')
    }

    fn body(&mut self, media_type: Option<&str>, content_type: &[u8], body: &[u8]) {
        let body = body
            .get(..self.config.max_body_bytes.min(body.len()))
            .unwrap_or(body);
        let media = media_type.unwrap_or("");
        let trimmed = body.trim_ascii_start();
        if media.ends_with("json")
            || (media.is_empty() || media == "text/plain")
                && matches!(trimmed.first(), Some(b'{' | b'['))
        {
            self.json_body(body);
        } else if media == "application/x-www-form-urlencoded" {
            self.form_body(body);
        } else if media.starts_with("multipart/") {
            self.multipart_body(content_type, body);
        } else if media.ends_with("xml")
            || (media.is_empty() || media == "text/plain") && trimmed.first() == Some(&b'<')
        {
            self.xml_body(body);
        } else if media == "application/graphql" {
            self.graphql(body, "body");
        } else if looks_textual(body) {
            self.value(body, Source::RawBody, "", &|| Location::new("body"));
        }
    }

    fn json_body(&mut self, body: &[u8]) {
        let max = self.config.max_values;
        let remember_keys = body.len() >= CleanKeys::MIN_BODY;
        let scan = json::scan(body, max, &mut |item| {
            let location = || Location::json(&item.path());
            match item.kind {
                JsonItemKind::Key => {
                    let (key, parent) = (item.value, item.parent_key);
                    let slot = remember_keys
                        .then(|| CleanKeys::slot(key, parent))
                        .flatten();
                    if slot.is_some_and(|s| self.clean_keys.contains(s, key, parent)) {
                        // Counted as inspected, as it would have been.
                        if !item.value.is_empty() {
                            self.budget();
                        }
                        return;
                    }
                    let before = self.signals;
                    self.name_checks(item.value, item.parent_key, &location);
                    self.value(item.value, Source::JsonKey, "", &location);
                    if let Some(slot) = slot.filter(|_| self.signals == before) {
                        self.clean_keys.insert(slot, key, parent);
                    }
                }
                JsonItemKind::String => {
                    let name = std::str::from_utf8(item.parent_key).map_or_else(
                        |_| String::from_utf8_lossy(item.parent_key),
                        std::borrow::Cow::Borrowed,
                    );
                    if name == "query" && extract::looks_like_graphql(item.value) {
                        self.graphql(item.value, &format!("json.{}", item.path()));
                    } else {
                        self.value(item.value, Source::JsonValue, &name, &location);
                    }
                }
            }
        });
        self.truncated |= scan.truncated;
        if !scan.well_formed {
            self.value(body, Source::RawBody, "", &|| Location::new("body"));
        }
    }

    fn graphql(&mut self, doc: &[u8], location: &str) {
        let mut strings: Vec<Vec<u8>> = Vec::new();
        extract::for_each_graphql_string(doc, self.config.max_values, &mut |s| {
            strings.push(s.to_vec())
        });
        for s in &strings {
            self.value(s, Source::GraphqlArgument, "", &|| Location::new(location));
        }
    }

    fn form_body(&mut self, body: &[u8]) {
        let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        self.truncated |= extract::for_each_pair(body, self.config.max_values, &mut |n, v| {
            pairs.push((n.to_vec(), v.to_vec()))
        });
        for (name, value) in &pairs {
            let name_text = String::from_utf8_lossy(name);
            let location = || Location::form(&name_text);
            self.name_checks(name, b"", &location);
            self.value(name, Source::ParamName, "", &|| {
                Location::new(format!("form.{name_text}.name"))
            });
            self.value(value, Source::FormValue, &name_text, &location);
        }
    }

    fn multipart_body(&mut self, content_type: &[u8], body: &[u8]) {
        let Some(boundary) = extract::header_parameter(content_type, b"boundary") else {
            self.value(body, Source::RawBody, "", &|| Location::new("body"));
            return;
        };
        let mut parts: Vec<OwnedPart> = Vec::new();
        extract::for_each_part(body, boundary, self.config.max_values, &mut |p| {
            parts.push((
                String::from_utf8_lossy(p.name).into_owned(),
                p.filename.map(<[u8]>::to_vec),
                p.content_type.to_ascii_lowercase(),
                p.body.to_vec(),
            ))
        });
        for (name, filename, content_type, content) in &parts {
            let location = || Location::new(format!("multipart.{name}"));
            self.name_checks(name.as_bytes(), b"", &location);
            match filename {
                Some(filename) => {
                    self.value(filename, Source::MultipartFilename, name, &|| {
                        Location::new(format!("multipart.{name}.filename"))
                    });
                    let lower_name = filename.to_ascii_lowercase();
                    let markup = content_type.ends_with(b"xml")
                        || content_type.starts_with(b"text/html")
                        || [&b".xml"[..], b".svg", b".html", b".htm", b".xhtml"]
                            .iter()
                            .any(|e| lower_name.ends_with(e));
                    if markup {
                        self.value(content, Source::FileContent, name, &location);
                    }
                }
                None => {
                    if content_type.ends_with(b"json") {
                        self.json_body(content);
                    } else {
                        self.value(content, Source::MultipartValue, name, &location);
                    }
                }
            }
        }
    }

    fn xml_body(&mut self, body: &[u8]) {
        let mut items: Vec<(XmlItemKind, String, Vec<u8>)> = Vec::new();
        xml::scan(body, self.config.max_values, &mut |item| {
            items.push((item.kind, item.path.to_string(), item.value.to_vec()))
        });
        for (kind, path, value) in &items {
            let location = || Location::new(format!("xml.{path}"));
            match kind {
                XmlItemKind::Doctype | XmlItemKind::ProcessingInstruction => {
                    let lower = value.to_ascii_lowercase();
                    let v = Value::new(value, &lower);
                    let ctx = ValueContext::new(Source::XmlText, "", b"");
                    if let Some(sig) = checks::xxe(&v, &ctx) {
                        self.emit(sig, &location, value);
                    }
                }
                XmlItemKind::Text => self.value(value, Source::XmlText, "", &location),
                XmlItemKind::Attribute => {
                    let name = path.rsplit('@').next().unwrap_or("").to_string();
                    if name.eq_ignore_ascii_case("href")
                        && path.to_ascii_lowercase().contains("include")
                    {
                        self.emit(
                            Signal {
                                category: Category::Xxe,
                                rule: "xxe.xinclude",
                                confidence: Confidence::Strong,
                                at: 0,
                                message: "XInclude",
                            },
                            &location,
                            value,
                        );
                    }
                    self.value(value, Source::XmlAttribute, &name, &location)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;
    use palisade_core::{DecisionPolicy, RequestHead};

    fn run(
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Vec<Finding> {
        let detector = NativeDetector::default();
        let mut head = RequestHead::synthetic(method, uri);
        for (n, v) in headers {
            head.headers.append(
                http::HeaderName::from_bytes(n.as_bytes()).expect("name"),
                http::HeaderValue::from_str(v).expect("value"),
            );
        }
        let mut tx = Transaction::new(head);
        detector.inspect(Phase::RequestHead, &mut tx);
        if let Some(b) = body {
            tx.request_body = Some(bytes::Bytes::from(b.to_string()));
            detector.inspect(Phase::RequestBody, &mut tx);
        }
        tx.findings
    }

    fn blocked(findings: &[Finding]) -> bool {
        DecisionPolicy::default()
            .decide(Phase::RequestBody, findings)
            .action
            == palisade_core::Action::Blocked
    }

    #[test]
    fn query_sqli_is_blocked_with_location() {
        let f = run(
            Method::GET,
            "/items?id=1%27%20or%20%271%27%3D%271&sort=name",
            &[],
            None,
        );
        assert!(blocked(&f), "{f:?}");
        assert_eq!(f[0].rule_id, "palisade.sqli");
        assert_eq!(f[0].location.as_str(), "query.id");
        assert_eq!(f[0].category, Category::SqlInjection);
    }

    #[test]
    fn json_at_depth_and_keys() {
        let f = run(
            Method::POST,
            "/api/users",
            &[("content-type", "application/json")],
            Some(
                r#"{"user":{"profile":{"bio":"<img src=x onerror=alert(1)>"}},"filter":{"password":{"$ne":null}}}"#,
            ),
        );
        assert!(
            f.iter()
                .any(|x| x.location.as_str() == "json.$.user.profile.bio"
                    && x.category == Category::Xss),
            "{f:?}"
        );
        assert!(
            f.iter().any(|x| x.category == Category::NosqlInjection
                && x.location.as_str() == "json.$.filter.password.$ne"),
            "{f:?}"
        );
    }

    #[test]
    fn benign_api_traffic_passes() {
        let f = run(
            Method::POST,
            "/api/v1/orders/550e8400-e29b-41d4-a716-446655440000/comments?page=2&q=%22red%20shoes%22",
            &[
                ("content-type", "application/json"),
                ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"),
                ("referer", "http://localhost:3000/orders"),
                ("cookie", "session=abc123; theme=dark"),
            ],
            Some(r#"{"author":"Conan O'Brien","email":"conan@example.com","text":"Select the best option; I'd drop the 2nd one. Use `ls -la` to check.","rating":5,"tags":["a&b","c"],"html":"<p>Great <b>product</b> <a href=\"https://example.com\">link</a></p>"}"#),
        );
        assert!(!blocked(&f), "{f:?}");
    }

    #[test]
    fn path_multipart_xml_headers() {
        let f = run(Method::GET, "/static/..%2f..%2fetc%2fpasswd", &[], None);
        assert!(
            blocked(&f) && f[0].location.as_str().starts_with("path["),
            "{f:?}"
        );
        let f = run(
            Method::GET,
            "/",
            &[("user-agent", "${${lower:j}ndi:ldap://x.example/a}")],
            None,
        );
        assert!(
            blocked(&f) && f[0].location.as_str() == "header.user-agent",
            "{f:?}"
        );
        let f = run(
            Method::GET,
            "/",
            &[("x-custom", "${jndi:ldap://x.example/a}")],
            None,
        );
        assert!(blocked(&f), "{f:?}");
        let body = "--b\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"../../../etc/cron.d/x\"\r\n\r\nx\r\n--b--\r\n";
        let f = run(
            Method::POST,
            "/upload",
            &[("content-type", "multipart/form-data; boundary=b")],
            Some(body),
        );
        assert!(
            blocked(&f) && f[0].location.as_str() == "multipart.doc.filename",
            "{f:?}"
        );
        let xml = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        let f = run(
            Method::POST,
            "/xml",
            &[("content-type", "application/xml")],
            Some(xml),
        );
        assert!(
            blocked(&f) && f.iter().any(|x| x.category == Category::Xxe),
            "{f:?}"
        );
        let f = run(Method::GET, "/a?__proto__[admin]=1", &[], None);
        assert!(
            blocked(&f) && f[0].category == Category::PrototypePollution,
            "{f:?}"
        );
        let f = run(Method::GET, "/login?user[$ne]=x", &[], None);
        assert!(
            blocked(&f) && f[0].category == Category::NosqlInjection,
            "{f:?}"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn bodies_never_panic_and_are_deterministic(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            media in 0usize..6,
        ) {
            let kinds: [(&str, &[u8]); 6] = [
                ("application/json", b"application/json"),
                ("application/x-www-form-urlencoded", b""),
                ("multipart/form-data", b"multipart/form-data; boundary=b"),
                ("application/xml", b""),
                ("application/graphql", b""),
                ("text/plain", b""),
            ];
            let (m, ct) = kinds[media];
            let d = NativeDetector::default();
            let a = d.inspect_body(Some(m), ct, &body);
            let b = d.inspect_body(Some(m), ct, &body);
            proptest::prop_assert_eq!(&a, &b);
            for f in &a {
                proptest::prop_assert!(f.evidence.as_str().chars().count() <= 1000);
            }
        }

        #[test]
        fn json_strings_anywhere_are_bounded(values in proptest::collection::vec(".{0,40}", 0..30)) {
            let doc = serde_json::json!({"a": {"b": values.clone()}, "c": values}).to_string();
            let d = NativeDetector::new(NativeConfig { max_values: 10, ..NativeConfig::default() });
            let f = d.inspect_body(Some("application/json"), b"application/json", doc.as_bytes());
            // at most one finding per category per location, over at most 10 values
            proptest::prop_assert!(f.len() <= 10 * 2 * NATIVE_CATEGORIES.len() + 1);
        }
    }

    #[test]
    fn empty_padding_does_not_push_an_attack_past_the_value_limit() {
        let attack = "1' or '1'='1";
        let padding = "&".repeat(5000);
        let f = run(
            Method::GET,
            &format!("/items?{padding}id=1%27%20or%20%271%27%3D%271"),
            &[],
            None,
        );
        assert!(blocked(&f), "query: {f:?}");
        let f = run(
            Method::POST,
            "/items",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(&format!("{padding}id=1%27%20or%20%271%27%3D%271")),
        );
        assert!(blocked(&f), "form: {f:?}");
        let f = run(
            Method::GET,
            "/items",
            &[("cookie", &format!("{}id={attack}", ";".repeat(5000)))],
            None,
        );
        assert!(blocked(&f), "cookie: {f:?}");
        let mut strings = vec![String::new(); 5000];
        strings.push(attack.to_string());
        let doc = serde_json::json!({ "list": strings }).to_string();
        let f = run(
            Method::POST,
            "/items",
            &[("content-type", "application/json")],
            Some(&doc),
        );
        assert!(blocked(&f), "json: {f:?}");
    }

    #[test]
    fn values_past_the_limit_are_reported_as_not_inspected() {
        let d = NativeDetector::new(NativeConfig {
            max_values: 10,
            ..NativeConfig::default()
        });
        let doc = serde_json::json!({ "list": vec!["x y"; 20] }).to_string();
        let form = vec!["a=x+y"; 20].join("&");
        for (media, body) in [
            ("application/json", doc),
            ("application/x-www-form-urlencoded", form),
        ] {
            let f = d.inspect_body(Some(media), media.as_bytes(), body.as_bytes());
            assert!(
                f.iter().any(|x| x.rule_id == "palisade.limit.values"),
                "{media}: {f:?}"
            );
        }
    }

    #[test]
    fn keys_seen_clean_are_still_caught_where_they_turn_dangerous() {
        let mut items: Vec<serde_json::Value> = (0..200)
            .map(|i| serde_json::json!({"sku": format!("SKU-{i}"), "x": {"prototype": 1}}))
            .collect();
        items[150] = serde_json::json!({"sku": "SKU-150", "__proto__": {"admin": true}});
        items[170] = serde_json::json!({"sku": "SKU-170", "filter": {"$where": "1"}});
        items[180] = serde_json::json!({"sku": "SKU-180", "constructor": {"prototype": 1}});
        let doc = serde_json::Value::Array(items).to_string();
        let f = NativeDetector::default().inspect_body(
            Some("application/json"),
            b"application/json",
            doc.as_bytes(),
        );
        let at = |path: &str, category: Category| {
            f.iter()
                .any(|x| x.location.as_str() == format!("json.{path}") && x.category == category)
        };
        assert!(
            at("$[150].__proto__", Category::PrototypePollution),
            "{f:?}"
        );
        assert!(
            at("$[170].filter.$where", Category::NosqlInjection),
            "{f:?}"
        );
        assert!(
            at("$[180].constructor.prototype", Category::PrototypePollution),
            "{f:?}"
        );
        assert_eq!(f.len(), 3, "{f:?}");
    }

    #[test]
    fn weak_findings_never_block_across_phases() {
        // a URL to localhost in prose is weak, in the query and in the body
        let text = "Locally I run it on http://localhost:8080 and it works fine for me";
        let f = run(
            Method::POST,
            &format!(
                "/notes?text={}&other={}",
                text.replace(' ', "%20"),
                text.replace(' ', "%20")
            ),
            &[("content-type", "application/json")],
            Some(&format!(r#"{{"a":"{text}","b":"{text}","c":"{text}"}}"#)),
        );
        assert!(!f.is_empty(), "weak signals are still reported");
        assert!(
            f.iter().map(|x| x.score).sum::<u32>() <= WEAK_BUDGET,
            "{f:?}"
        );
        assert!(!blocked(&f), "{f:?}");
    }

    #[test]
    fn config_deserializes_strictly() {
        let c: NativeConfig = serde_json::from_str(
            r#"{"categories":["sql_injection"],"scores":{"sql_injection":3}}"#,
        )
        .expect("config");
        assert_eq!(c.categories, vec![Category::SqlInjection]);
        assert!(serde_json::from_str::<NativeConfig>(r#"{"bogus":1}"#).is_err());
        let d = NativeDetector::new(c);
        let f = d.inspect_head(&RequestHead::synthetic(
            Method::GET,
            "/?q=%3Cscript%3Ealert(1)%3C/script%3E&id=1%20or%201=1",
        ));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].score, 3);
    }
}
