//! Rule evaluation: one [`WafTransaction`] per HTTP exchange.

use crate::body::{self, MultipartFlags, Pair, UploadedFile, XmlDocument};
use crate::operators::OpContext;
use crate::prefilter::{is_plain, Candidates, Prefilter};
use crate::rules::{
    id_in, target_excludes, AggregateSlots, AllowScope, BodyProcessor, Ctl, Disruptive, EngineMode,
    IdRanges, Item, Rule, RuleSet, RuntimeAction, SetVarOp, SEVERITIES,
};
use crate::transforms;
use crate::transforms::PlainEffect;
use crate::variables::{Macro, MacroPart, Selector, Target, Var};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The request as seen on the wire, before any normalisation.
#[derive(Debug, Clone)]
pub struct RequestInput {
    pub method: Vec<u8>,
    /// Request target exactly as sent (origin form or absolute form).
    pub uri: Vec<u8>,
    /// `HTTP/1.1`, `HTTP/2.0`...
    pub protocol: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub remote_addr: IpAddr,
    pub remote_port: u16,
    pub server_port: u16,
}

impl RequestInput {
    pub fn new(method: &str, uri: &str) -> Self {
        RequestInput {
            method: method.as_bytes().to_vec(),
            uri: uri.as_bytes().to_vec(),
            protocol: b"HTTP/1.1".to_vec(),
            headers: Vec::new(),
            remote_addr: IpAddr::from([127, 0, 0, 1]),
            remote_port: 0,
            server_port: 80,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.as_bytes().to_vec(), value.as_bytes().to_vec()));
        self
    }
}

/// The response head from the upstream.
#[derive(Debug, Clone)]
pub struct ResponseInput {
    pub status: u16,
    pub protocol: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A disruptive action that took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interruption {
    pub rule_id: u64,
    pub phase: u8,
    pub status: u16,
    /// `deny`, `drop`, `redirect` or `reject` (body over the limit).
    pub action: &'static str,
    pub redirect: Option<String>,
    pub message: String,
}

/// A rule (chain) that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    pub id: u64,
    pub phase: u8,
    pub message: String,
    pub logdata: String,
    /// 0 (emergency) to 7 (debug), when the rule sets one.
    pub severity: Option<u8>,
    pub tags: Arc<[String]>,
    /// `ARGS:foo`, `REQUEST_HEADERS:User-Agent`...
    pub matched_var_name: String,
    /// Like `matched_var_name`, naming the specific collection
    /// (`ARGS_GET:foo` where the rule said `ARGS`).
    pub matched_source: String,
    /// The value after transformations.
    pub matched_value: Vec<u8>,
    /// Whether the rule logs (`log`, not `nolog`).
    pub logged: bool,
    /// Whether its disruptive action would stop the transaction
    /// (`deny`, `drop`, `redirect`, or `block` resolving to one of them).
    pub disruptive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AllowState {
    None,
    Request,
    All,
}

/// Value of one target, borrowed from the transaction where possible.
struct Value<'a> {
    var: Var,
    /// The collection the value really comes from (`ARGS` may be either
    /// `ARGS_GET` or `ARGS_POST`).
    origin: Var,
    key: Cow<'a, [u8]>,
    value: Cow<'a, [u8]>,
}

struct Hit {
    var: Var,
    origin: Var,
    key: Vec<u8>,
    value: Vec<u8>,
    captures: Option<Vec<Vec<u8>>>,
}

const MUTABLE_COLLECTIONS: [Var; 6] = [
    Var::Tx,
    Var::Ip,
    Var::Global,
    Var::Session,
    Var::User,
    Var::Resource,
];

fn collection_index(var: Var) -> Option<usize> {
    MUTABLE_COLLECTIONS.iter().position(|v| *v == var)
}

/// A value after one transformation chain, with its prefilter scan.
#[derive(Debug)]
struct Transformed {
    /// The value before transformation; `None` when unchanged (= `value`).
    source: Option<Vec<u8>>,
    value: Vec<u8>,
    hits: OnceLock<Candidates>,
    /// The untransformed value's entry, when `value` differs from it only
    /// by lowercased letters: its scan stands for this one.
    scan_of: Option<Arc<Transformed>>,
}

impl Transformed {
    /// Literals and bytes in this value. A lowercased value shares its
    /// source's scan: literals are matched without regard to case, and the
    /// source's byte set holds every byte of the lowercased value (plus
    /// uppercase letters, which can only let more rules through).
    fn hits(&self, prefilter: &Prefilter) -> &Candidates {
        match &self.scan_of {
            Some(base) => base.hits(prefilter),
            None => self.hits.get_or_init(|| prefilter.scan(&self.value)),
        }
    }
}

/// Whether `lowered` is `source` with some ASCII letters lowercased.
fn lowercased_from(source: &[u8], lowered: &[u8]) -> bool {
    source.len() == lowered.len()
        && source
            .iter()
            .zip(lowered)
            .all(|(s, l)| s == l || s.to_ascii_lowercase() == *l)
}

/// A quick non-cryptographic hash; collisions are resolved by comparing
/// the source bytes.
fn fast_hash(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        hash = (hash ^ u64::from_le_bytes(word))
            .wrapping_mul(0x0100_0000_01b3)
            .rotate_left(23);
    }
    for &b in chunks.remainder() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Cache slot for "no transformation changed the value".
const IDENTITY_CHAIN: u32 = u32::MAX;

/// Most bytes of transformed values kept per transaction.
const TRANSFORM_CACHE_BYTES: usize = 4 << 20;

/// Entries by (chain id, hash of the source value).
/// Hashing for the per-transaction caches, whose keys are small integers or
/// already a hash of the value (`fast_hash`): one multiply per word is
/// enough, where SipHash would hash them again at every rule. Collisions in
/// `fast_hash` collide under any map hasher, and a bucket compares the values
/// themselves, so a keyed hash would buy nothing here.
#[derive(Debug, Clone, Copy, Default)]
struct SmallKeyHash;

#[derive(Debug, Default)]
struct SmallKeyHasher(u64);

impl std::hash::BuildHasher for SmallKeyHash {
    type Hasher = SmallKeyHasher;

    fn build_hasher(&self) -> SmallKeyHasher {
        SmallKeyHasher(0)
    }
}

impl SmallKeyHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for SmallKeyHasher {
    fn finish(&self) -> u64 {
        // The map takes its bucket from the low bits and its tag from the
        // high ones: fold the well-mixed high half down.
        self.0 ^ (self.0 >> 32)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word.get_mut(..chunk.len())
                .unwrap_or(&mut [])
                .copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.mix(n as u64);
    }
}

type TransformMap = HashMap<(u32, u64), Vec<Arc<Transformed>>, SmallKeyHash>;

/// Transformed values by (chain, source value), shared by all rules that
/// apply the same chain to the same value.
#[derive(Debug, Default)]
struct TransformCache {
    entries: Mutex<(TransformMap, usize)>,
}

impl Clone for TransformCache {
    fn clone(&self) -> Self {
        let guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        TransformCache {
            entries: Mutex::new(guard.clone()),
        }
    }
}

impl TransformCache {
    fn get(
        &self,
        chain_id: u32,
        chain: &[transforms::Transform],
        source: &[u8],
    ) -> Arc<Transformed> {
        let key = (chain_id, fast_hash(source));
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = guard.0.get(&key).and_then(|bucket| {
            bucket
                .iter()
                .find(|t| t.source.as_deref().unwrap_or(&t.value) == source)
        }) {
            return Arc::clone(found);
        }
        let entry = match transforms::apply_all(source, chain) {
            // Unchanged: share one entry (and its scan) among every chain
            // that leaves this value as it is.
            Cow::Borrowed(_) if chain_id != IDENTITY_CHAIN => {
                drop(guard);
                let shared = self.get(IDENTITY_CHAIN, &[], source);
                guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
                shared
            }
            Cow::Borrowed(_) => Arc::new(Transformed {
                source: None,
                value: source.to_vec(),
                hits: OnceLock::new(),
                scan_of: None,
            }),
            Cow::Owned(value) => {
                let scan_of = if chain_id != IDENTITY_CHAIN && lowercased_from(source, &value) {
                    drop(guard);
                    let base = self.get(IDENTITY_CHAIN, &[], source);
                    guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
                    Some(base)
                } else {
                    None
                };
                Arc::new(Transformed {
                    source: Some(source.to_vec()),
                    value,
                    hits: OnceLock::new(),
                    scan_of,
                })
            }
        };
        let size = entry.source.as_ref().map_or(0, Vec::len) + entry.value.len();
        if guard.1 + size <= TRANSFORM_CACHE_BYTES {
            guard.1 += size;
            guard.0.entry(key).or_default().push(Arc::clone(&entry));
        }
        entry
    }
}

/// The operators some value of a whole collection may match (its values as
/// they are, or the values one transformation chain changes), for the
/// current phase, one slot per [`AggregateSlots`] index. Lets a rule that no
/// value of its targets can satisfy be skipped without looking at each
/// value; a filled slot is read with one atomic load.
#[derive(Debug, Default)]
struct AggregateCache {
    slots: Vec<OnceLock<Candidates>>,
    /// Per collection, for each value in gathering order, the
    /// transformations that would change it ([`transforms::changing`]).
    changing: Mutex<HashMap<Var, ChangingMasks, SmallKeyHash>>,
}

impl Clone for AggregateCache {
    fn clone(&self) -> Self {
        let changing = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        AggregateCache {
            slots: self.slots.clone(),
            changing: Mutex::new(changing.clone()),
        }
    }
}

/// The transformations that may change each value of a collection, and
/// any of its values.
#[derive(Debug, Clone)]
struct ChangingMasks {
    each: Arc<[transforms::TransformMask]>,
    any: transforms::TransformMask,
}

impl AggregateCache {
    fn new(slots: usize) -> AggregateCache {
        AggregateCache {
            slots: (0..slots).map(|_| OnceLock::new()).collect(),
            changing: Mutex::default(),
        }
    }

    /// Forgets what phase `phase` may see differently: everything before
    /// the first phase, after it all but the collections of the request
    /// line and headers, which are set once before phase 1.
    fn clear_for_phase(&mut self, phase: u8, slot_vars: &[Var]) {
        for (slot, var) in self.slots.iter_mut().zip(slot_vars) {
            if phase <= 1 || !is_request_head_collection(*var) {
                slot.take();
            }
        }
        let mut changing = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        changing.retain(|var, _| phase > 1 && is_request_head_collection(*var));
    }
}

/// Appends `n` in decimal.
fn write_integer(out: &mut Vec<u8>, n: i64) {
    use std::io::Write as _;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{n}");
}

/// Every value of `var`.
fn whole_collection(var: Var) -> Target {
    Target {
        var,
        selector: Selector::All,
        count: false,
        exclude: false,
    }
}

/// Whether `rule`'s operator can match a value with these literals and bytes.
fn may_match(rule: &Rule, candidates: &Candidates) -> bool {
    rule.filter.is_none_or(|id| candidates.admits(id))
}

/// Collections filled from the request line and headers before phase 1
/// and never changed afterwards.
fn is_request_head_collection(var: Var) -> bool {
    matches!(
        var,
        Var::ArgsGet
            | Var::ArgsGetNames
            | Var::RequestHeaders
            | Var::RequestHeadersNames
            | Var::RequestCookies
            | Var::RequestCookiesNames
            | Var::RequestUri
            | Var::RequestUriRaw
            | Var::RequestFilename
            | Var::RequestBasename
            | Var::RequestLine
            | Var::QueryString
    )
}

/// Collections that rules cannot modify during a phase.
pub(crate) fn is_stable_collection(var: Var) -> bool {
    is_request_head_collection(var)
        || matches!(
            var,
            Var::Args
                | Var::ArgsPost
                | Var::ArgsNames
                | Var::ArgsPostNames
                | Var::RequestBody
                | Var::Files
                | Var::FilesNames
                | Var::MultipartPartHeaders
                | Var::ResponseBody
                | Var::ResponseHeaders
                | Var::ResponseHeadersNames
        )
}

/// Per-transaction state. Cheap to create; lives across the four phases.
#[derive(Debug, Clone)]
pub struct WafTransaction {
    rules: Arc<RuleSet>,
    mode: EngineMode,
    started: Instant,
    unique_id: Vec<u8>,
    args_get: Vec<Pair>,
    args_post: Vec<Pair>,
    request_headers: Vec<Pair>,
    request_cookies: Vec<Pair>,
    request_uri: Vec<u8>,
    request_uri_raw: Vec<u8>,
    request_filename: Vec<u8>,
    request_basename: Vec<u8>,
    request_line: Vec<u8>,
    request_method: Vec<u8>,
    request_protocol: Vec<u8>,
    query_string: Vec<u8>,
    request_body: Option<Vec<u8>>,
    request_body_length: usize,
    content_type: Vec<u8>,
    files: Vec<UploadedFile>,
    multipart_part_headers: Vec<Pair>,
    multipart_flags: MultipartFlags,
    multipart_name: Vec<u8>,
    multipart_filename: Vec<u8>,
    reqbody_error: bool,
    reqbody_error_msg: Vec<u8>,
    body_processor: Option<BodyProcessor>,
    body_access: bool,
    response_body_access: bool,
    force_body_variable: bool,
    urlencoded_error: bool,
    xml: Option<XmlDocument>,
    collections: [BTreeMap<Vec<u8>, Vec<u8>>; 6],
    matched_var: Vec<u8>,
    matched_var_name: Vec<u8>,
    matched_source: Vec<u8>,
    matched_vars: Vec<(Vec<u8>, Vec<u8>)>,
    response_headers: Vec<Pair>,
    response_status: Vec<u8>,
    response_protocol: Vec<u8>,
    response_body: Option<Vec<u8>>,
    remote_addr: Vec<u8>,
    remote_port: Vec<u8>,
    server_port: Vec<u8>,
    highest_severity: u8,
    removed_ids: IdRanges,
    removed_tags: Vec<regex::bytes::Regex>,
    removed_msgs: Vec<regex::bytes::Regex>,
    removed_targets_by_id: Vec<(IdRanges, Vec<Target>)>,
    removed_targets_by_tag: Vec<(regex::bytes::Regex, Vec<Target>)>,
    removed_targets_by_msg: Vec<(regex::bytes::Regex, Vec<Target>)>,
    allow: AllowState,
    interruption: Option<Interruption>,
    matches: Vec<MatchedRule>,
    phases_done: u8,
    cache: TransformCache,
    aggregates: AggregateCache,
}

static UNIQUE_COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_id() -> Vec<u8> {
    let n = UNIQUE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!("{t:016x}{n:08x}").into_bytes()
}

use crate::operators::to_integer;

fn flag(value: bool) -> Cow<'static, [u8]> {
    Cow::Borrowed(if value { b"1" } else { b"0" })
}

/// Detects the body processor from the `Content-Type` media type.
fn processor_for(content_type: &[u8]) -> Option<BodyProcessor> {
    let lower = content_type.to_ascii_lowercase();
    let essence = lower
        .split(|&b| b == b';')
        .next()
        .unwrap_or(&[])
        .trim_ascii();
    if essence == b"application/x-www-form-urlencoded" {
        Some(BodyProcessor::UrlEncoded)
    } else if essence == b"multipart/form-data" {
        Some(BodyProcessor::Multipart)
    } else if essence.ends_with(b"/json") || essence.ends_with(b"+json") {
        Some(BodyProcessor::Json)
    } else if essence.ends_with(b"/xml") || essence.ends_with(b"+xml") {
        Some(BodyProcessor::Xml)
    } else {
        None
    }
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl WafTransaction {
    pub(crate) fn new(rules: &Arc<RuleSet>) -> Self {
        WafTransaction {
            rules: Arc::clone(rules),
            mode: rules.engine_mode,
            started: Instant::now(),
            unique_id: unique_id(),
            args_get: Vec::new(),
            args_post: Vec::new(),
            request_headers: Vec::new(),
            request_cookies: Vec::new(),
            request_uri: Vec::new(),
            request_uri_raw: Vec::new(),
            request_filename: Vec::new(),
            request_basename: Vec::new(),
            request_line: Vec::new(),
            request_method: Vec::new(),
            request_protocol: Vec::new(),
            query_string: Vec::new(),
            request_body: None,
            request_body_length: 0,
            content_type: Vec::new(),
            files: Vec::new(),
            multipart_part_headers: Vec::new(),
            multipart_flags: MultipartFlags::default(),
            multipart_name: Vec::new(),
            multipart_filename: Vec::new(),
            reqbody_error: false,
            reqbody_error_msg: Vec::new(),
            body_processor: None,
            body_access: rules.request_body_access,
            response_body_access: rules.response_body_access,
            force_body_variable: false,
            urlencoded_error: false,
            xml: None,
            collections: Default::default(),
            matched_var: Vec::new(),
            matched_var_name: Vec::new(),
            matched_source: Vec::new(),
            matched_vars: Vec::new(),
            response_headers: Vec::new(),
            response_status: Vec::new(),
            response_protocol: Vec::new(),
            response_body: None,
            remote_addr: Vec::new(),
            remote_port: Vec::new(),
            server_port: Vec::new(),
            highest_severity: 255,
            removed_ids: Vec::new(),
            removed_tags: Vec::new(),
            removed_msgs: Vec::new(),
            removed_targets_by_id: Vec::new(),
            removed_targets_by_tag: Vec::new(),
            removed_targets_by_msg: Vec::new(),
            allow: AllowState::None,
            interruption: None,
            matches: Vec::new(),
            phases_done: 0,
            cache: TransformCache::default(),
            aggregates: AggregateCache::new(rules.aggregate_slot_vars.len()),
        }
    }

    /// The disruptive action that stopped the transaction, if any.
    pub fn interruption(&self) -> Option<&Interruption> {
        self.interruption.as_ref()
    }

    /// Every rule that matched so far, in evaluation order.
    pub fn matched_rules(&self) -> &[MatchedRule] {
        &self.matches
    }

    /// A `TX` variable, for callers that read CRS scores.
    pub fn tx_var(&self, name: &str) -> Option<&[u8]> {
        self.collections[0]
            .get(name.to_ascii_lowercase().as_bytes())
            .map(Vec::as_slice)
    }

    /// Highest phase that ran (0 before the first).
    pub fn phases_done(&self) -> u8 {
        self.phases_done
    }

    /// Phase 1: request line and headers.
    pub fn process_request_headers(&mut self, request: &RequestInput) {
        let rules = Arc::clone(&self.rules);
        let rules = &*rules;
        self.request_method = request.method.clone();
        self.request_protocol = request.protocol.clone();
        self.request_uri_raw = request.uri.clone();
        let mut uri = request.uri.as_slice();
        // Absolute form: drop scheme and authority.
        if let Some(pos) = memchr::memmem::find(uri, b"://") {
            if !uri[..pos].contains(&b'/') && !uri[..pos].contains(&b'?') {
                let after = &uri[pos + 3..];
                uri = match after.iter().position(|&b| b == b'/' || b == b'?') {
                    Some(p) => &after[p..],
                    None => b"/",
                };
            }
        }
        self.request_uri = uri.to_vec();
        let (path, query) = match memchr::memchr(b'?', uri) {
            Some(q) => (&uri[..q], Some(&uri[q + 1..])),
            None => (uri, None),
        };
        let path = path.split(|&b| b == b'#').next().unwrap_or(path);
        // `+` is not a space in a path.
        self.request_filename = decode_path(path);
        self.request_basename = match self.request_filename.iter().rposition(|&b| b == b'/') {
            Some(p) => self.request_filename[p + 1..].to_vec(),
            None => self.request_filename.clone(),
        };
        if let Some(query) = query {
            let query = query.split(|&b| b == b'#').next().unwrap_or(query);
            self.query_string = query.to_vec();
            let (args, invalid) = body::parse_urlencoded(query, rules.argument_separator);
            self.args_get = args;
            self.urlencoded_error |= invalid;
        }
        let mut line = request.method.clone();
        line.push(b' ');
        line.extend_from_slice(&request.uri);
        if !request.protocol.is_empty() {
            line.push(b' ');
            line.extend_from_slice(&request.protocol);
        }
        self.request_line = line;
        self.request_headers = request.headers.clone();
        for (name, value) in &request.headers {
            if name.eq_ignore_ascii_case(b"cookie") {
                self.request_cookies.extend(parse_cookies(value));
            } else if name.eq_ignore_ascii_case(b"content-type") {
                self.content_type = value.clone();
            }
        }
        self.body_processor = processor_for(&self.content_type);
        self.remote_addr = request.remote_addr.to_string().into_bytes();
        self.remote_port = request.remote_port.to_string().into_bytes();
        self.server_port = request.server_port.to_string().into_bytes();
        self.run_phase(1);
    }

    /// Phase 2: the request body (empty when there is none).
    pub fn process_request_body(&mut self, body_bytes: &[u8]) {
        let rules = Arc::clone(&self.rules);
        let rules = &*rules;
        if self.interruption.is_none() && self.mode != EngineMode::Off && self.body_access {
            let mut body_bytes = body_bytes;
            if body_bytes.len() > rules.request_body_limit {
                if rules.request_body_reject_over_limit && self.mode == EngineMode::On {
                    self.interruption = Some(Interruption {
                        rule_id: 0,
                        phase: 2,
                        status: 413,
                        action: "reject",
                        redirect: None,
                        message: "Request body larger than SecRequestBodyLimit".into(),
                    });
                    self.phases_done = 2;
                    return;
                }
                body_bytes = &body_bytes[..rules.request_body_limit];
            }
            self.request_body_length = body_bytes.len();
            self.request_body = Some(body_bytes.to_vec());
            if !body_bytes.is_empty() {
                self.process_body(rules, body_bytes);
            }
        }
        self.run_phase(2);
    }

    fn process_body(&mut self, rules: &RuleSet, body_bytes: &[u8]) {
        match self.body_processor {
            Some(BodyProcessor::UrlEncoded) => {
                let (args, invalid) = body::parse_urlencoded(body_bytes, rules.argument_separator);
                self.args_post = args;
                self.urlencoded_error |= invalid;
            }
            Some(BodyProcessor::Json) => match body::parse_json(body_bytes) {
                Ok(args) => self.args_post = args,
                Err(e) => self.set_body_error(e),
            },
            Some(BodyProcessor::Xml) => match body::parse_xml(body_bytes) {
                Ok(doc) => self.xml = Some(doc),
                Err(e) => self.set_body_error(e),
            },
            Some(BodyProcessor::Multipart) => {
                let parsed = body::parse_multipart(&self.content_type, body_bytes, 100);
                self.args_post = parsed.args;
                self.multipart_part_headers = parsed.part_headers;
                self.multipart_flags = parsed.flags;
                if let Some(last) = self.files.last() {
                    self.multipart_filename = last.filename.clone();
                }
                self.files = parsed.files;
                if let Some(last) = self.files.last() {
                    self.multipart_filename = last.filename.clone();
                    self.multipart_name = last.field.clone();
                }
                if let Some(e) = parsed.error {
                    self.set_body_error(e);
                }
            }
            None => {}
        }
    }

    fn set_body_error(&mut self, message: String) {
        self.reqbody_error = true;
        self.reqbody_error_msg = message.into_bytes();
    }

    /// Phase 3: response status and headers.
    pub fn process_response_headers(&mut self, response: &ResponseInput) {
        self.response_status = response.status.to_string().into_bytes();
        self.response_protocol = response.protocol.clone();
        self.response_headers = response.headers.clone();
        self.run_phase(3);
    }

    /// Phase 4 (response body), then phase 5 (logging).
    pub fn process_response_body(&mut self, body_bytes: &[u8]) {
        let rules = Arc::clone(&self.rules);
        let rules = &*rules;
        if self.response_body_access && self.response_type_inspected(rules) {
            let limit = body_bytes.len().min(rules.response_body_limit);
            self.response_body = Some(body_bytes[..limit].to_vec());
        }
        self.run_phase(4);
        self.run_phase(5);
    }

    fn response_type_inspected(&self, rules: &RuleSet) -> bool {
        let content_type = self
            .response_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(b"content-type"))
            .map(|(_, v)| v.to_ascii_lowercase());
        match content_type {
            None => true,
            Some(ct) => {
                let essence = ct.split(|&b| b == b';').next().unwrap_or(&[]).trim_ascii();
                rules
                    .response_body_mime_types
                    .iter()
                    .any(|m| m.as_bytes() == essence)
            }
        }
    }

    fn rule_removed(&self, rule: &Rule) -> bool {
        id_in(&self.removed_ids, rule.id)
            || (!self.removed_tags.is_empty()
                && rule
                    .tags
                    .iter()
                    .any(|t| self.removed_tags.iter().any(|re| re.is_match(t.as_bytes()))))
            || (!self.removed_msgs.is_empty()
                && rule
                    .msg
                    .as_ref()
                    .and_then(Macro::as_literal)
                    .is_some_and(|m| self.removed_msgs.iter().any(|re| re.is_match(m))))
    }

    pub(crate) fn run_phase(&mut self, phase: u8) {
        let rules = Arc::clone(&self.rules);
        let rules = &*rules;
        self.phases_done = self.phases_done.max(phase);
        if self.mode == EngineMode::Off || self.interruption.is_some() {
            return;
        }
        match self.allow {
            AllowState::All if phase != 5 => return,
            AllowState::Request if phase <= 2 => return,
            _ => {}
        }
        let Some(items) = rules.phases.get(usize::from(phase - 1)) else {
            return;
        };
        self.aggregates
            .clear_for_phase(phase, &rules.aggregate_slot_vars);
        let mut skip_after: Option<&str> = None;
        let mut skip_rules = 0u32;
        for item in items {
            let rule = match item {
                Item::Marker(name) => {
                    if skip_after == Some(name.as_str()) {
                        skip_after = None;
                    }
                    continue;
                }
                Item::Rule(rule) => rule,
            };
            if skip_after.is_some() {
                continue;
            }
            if skip_rules > 0 {
                skip_rules -= 1;
                continue;
            }
            if self.rule_removed(rule) {
                continue;
            }
            self.matched_vars.clear();
            if !self.evaluate_chain(rule, rule) {
                continue;
            }
            // Actions that run once the whole chain matched.
            let mut link = Some(&**rule);
            while let Some(current) = link {
                for action in &current.actions {
                    match action {
                        RuntimeAction::Ctl(ctl) => self.apply_ctl(ctl),
                        RuntimeAction::Skip(n) => skip_rules = *n,
                        RuntimeAction::SkipAfter(marker) => skip_after = Some(marker.as_str()),
                        RuntimeAction::InitCol => {}
                    }
                }
                link = current.chain.as_deref();
            }
            let disruptive = match &rule.disruptive {
                Some(Disruptive::Block) => rules
                    .default_disruptive
                    .get(usize::from(phase - 1))
                    .cloned()
                    .unwrap_or(Disruptive::Pass),
                Some(other) => other.clone(),
                None => Disruptive::Pass,
            };
            let stops = matches!(
                disruptive,
                Disruptive::Deny | Disruptive::Drop | Disruptive::Redirect(_)
            );
            self.record_match(rule, phase, stops);
            if self.mode != EngineMode::On {
                continue;
            }
            match disruptive {
                Disruptive::Deny | Disruptive::Drop | Disruptive::Redirect(_) => {
                    let (action, status, redirect) = match &disruptive {
                        Disruptive::Deny => ("deny", rule.status.unwrap_or(403), None),
                        Disruptive::Drop => ("drop", rule.status.unwrap_or(403), None),
                        Disruptive::Redirect(to) => {
                            ("redirect", rule.status.unwrap_or(302), Some(to.clone()))
                        }
                        _ => ("deny", 403, None),
                    };
                    let message = rule
                        .msg
                        .as_ref()
                        .map(|m| String::from_utf8_lossy(&self.expand(m, rule)).into_owned())
                        .unwrap_or_default();
                    self.interruption = Some(Interruption {
                        rule_id: rule.id,
                        phase,
                        status,
                        action,
                        redirect,
                        message,
                    });
                    return;
                }
                Disruptive::Allow(scope) => {
                    match scope {
                        AllowScope::Phase => {}
                        AllowScope::Request => self.allow = AllowState::Request,
                        AllowScope::All => self.allow = AllowState::All,
                    }
                    return;
                }
                Disruptive::Pass | Disruptive::Block => {}
            }
        }
    }

    fn record_match(&mut self, rule: &Rule, phase: u8, disruptive: bool) {
        if let Some(severity) = rule.severity {
            self.highest_severity = self.highest_severity.min(severity);
        }
        let message = rule
            .msg
            .as_ref()
            .map(|m| String::from_utf8_lossy(&self.expand(m, rule)).into_owned())
            .unwrap_or_default();
        let logdata = rule
            .logdata
            .as_ref()
            .map(|m| String::from_utf8_lossy(&self.expand(m, rule)).into_owned())
            .unwrap_or_default();
        self.matches.push(MatchedRule {
            id: rule.id,
            phase,
            message,
            logdata,
            severity: rule.severity,
            tags: Arc::clone(&rule.tags),
            matched_var_name: String::from_utf8_lossy(&self.matched_var_name).into_owned(),
            matched_source: String::from_utf8_lossy(&self.matched_source).into_owned(),
            matched_value: self.matched_var.clone(),
            logged: rule.log,
            disruptive,
        });
    }

    fn apply_ctl(&mut self, ctl: &Ctl) {
        match ctl {
            Ctl::RuleRemoveById(ranges) => self.removed_ids.extend(ranges.iter().copied()),
            Ctl::RuleRemoveByTag(re) => self.removed_tags.push((**re).clone()),
            Ctl::RuleRemoveByMsg(re) => self.removed_msgs.push((**re).clone()),
            Ctl::RuleRemoveTargetById(ranges, targets) => self
                .removed_targets_by_id
                .push((ranges.clone(), targets.clone())),
            Ctl::RuleRemoveTargetByTag(re, targets) => self
                .removed_targets_by_tag
                .push(((**re).clone(), targets.clone())),
            Ctl::RuleRemoveTargetByMsg(re, targets) => self
                .removed_targets_by_msg
                .push(((**re).clone(), targets.clone())),
            Ctl::RuleEngine(mode) => self.mode = *mode,
            Ctl::RequestBodyProcessor(p) => self.body_processor = Some(*p),
            Ctl::RequestBodyAccess(on) => self.body_access = *on,
            Ctl::ResponseBodyAccess(on) => self.response_body_access = *on,
            Ctl::ForceRequestBodyVariable(on) => self.force_body_variable = *on,
            Ctl::Ignored => {}
        }
    }

    /// Targets that `ctl:ruleRemoveTarget*` took away from `root` in this
    /// transaction. Judged once per rule: the tag and message patterns do
    /// not depend on the value.
    fn removed_targets(&self, root: &Rule) -> Vec<&Target> {
        let mut removed = Vec::new();
        for (ranges, targets) in &self.removed_targets_by_id {
            if id_in(ranges, root.id) {
                removed.extend(targets.iter());
            }
        }
        for (re, targets) in &self.removed_targets_by_tag {
            if root.tags.iter().any(|tag| re.is_match(tag.as_bytes())) {
                removed.extend(targets.iter());
            }
        }
        for (re, targets) in &self.removed_targets_by_msg {
            if root
                .msg
                .as_ref()
                .and_then(Macro::as_literal)
                .is_some_and(|m| re.is_match(m))
            {
                removed.extend(targets.iter());
            }
        }
        removed
    }

    fn evaluate_chain(&mut self, root: &Rule, link: &Rule) -> bool {
        if !self.evaluate_link(root, link) {
            return false;
        }
        match &link.chain {
            Some(next) => self.evaluate_chain(root, next),
            None => true,
        }
    }

    fn evaluate_link(&mut self, root: &Rule, rule: &Rule) -> bool {
        if rule.unconditional {
            self.run_setvars(rule);
            return true;
        }
        let hits = self.find_hits(root, rule);
        if hits.is_empty() {
            return false;
        }
        for hit in hits {
            if let Some(groups) = &hit.captures {
                for (i, group) in groups.iter().enumerate() {
                    self.collections[0].insert(i.to_string().into_bytes(), group.clone());
                }
            }
            let mut name = hit.var.name().as_bytes().to_vec();
            if hit.var.is_collection() && !hit.key.is_empty() {
                name.push(b':');
                name.extend_from_slice(&hit.key);
            }
            let mut source = hit.origin.name().as_bytes().to_vec();
            if hit.origin.is_collection() && !hit.key.is_empty() {
                source.push(b':');
                source.extend_from_slice(&hit.key);
            }
            self.matched_source = source;
            self.matched_var = hit.value.clone();
            self.matched_var_name = name.clone();
            self.matched_vars.push((name, hit.value));
            self.run_setvars(rule);
        }
        true
    }

    /// Whether `rule` may match some value of `var`, judged from the
    /// operators the values of `var` may match after `rule`'s chain: the
    /// union of the values' own scans (shared by every chain), plus scans of
    /// the values the chain changes. A value the chain leaves as it is (or,
    /// plain, only lowercases: the literals are matched without regard to
    /// case) is covered by its own scan.
    fn aggregate_may_match(
        &self,
        var: Var,
        slots: AggregateSlots,
        rule: &Rule,
        prefilter: &Prefilter,
    ) -> bool {
        let as_they_are = || {
            self.union_of(var, rule, |_, value, all| {
                all.merge(self.cache.get(IDENTITY_CHAIN, &[], value).hits(prefilter));
            })
        };
        if self.aggregate(slots.as_they_are, rule, as_they_are) {
            return true;
        }
        self.aggregate(slots.chained, rule, || {
            let changing = self.changing_masks(var, rule);
            // No value of `var` is changed by any transformation of the
            // chain: the union is empty, with no need to gather the values.
            if changing.any & rule.chain_mask == 0 {
                return Candidates::default();
            }
            self.union_of(var, rule, |index, value, all| {
                if changing
                    .each
                    .get(index)
                    .is_some_and(|mask| mask & rule.chain_mask == 0)
                    || (rule.plain_effect != PlainEffect::Other && is_plain(value))
                {
                    return;
                }
                if let Cow::Owned(transformed) = transforms::apply_all(value, &rule.transforms) {
                    all.merge(&prefilter.scan(&transformed));
                }
            })
        })
    }

    /// For each value of `var` in gathering order, the transformations that
    /// would change it; computed once per phase and shared by every chain.
    fn changing_masks(&self, var: Var, rule: &Rule) -> ChangingMasks {
        if let Some(found) = self
            .aggregates
            .changing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&var)
        {
            return found.clone();
        }
        let mut values = Vec::with_capacity(8);
        self.gather(&whole_collection(var), rule, &mut values);
        let each: Arc<[transforms::TransformMask]> = values
            .iter()
            .map(|v| transforms::changing(&v.value, self.rules.used_transforms))
            .collect();
        let masks = ChangingMasks {
            any: each.iter().fold(0, |any, mask| any | mask),
            each,
        };
        self.aggregates
            .changing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(var, masks.clone());
        masks
    }

    /// Whether `rule` may match the union kept in `slot`, which `compute`
    /// makes the first time in a phase.
    fn aggregate(&self, slot: u32, rule: &Rule, compute: impl FnOnce() -> Candidates) -> bool {
        match self.aggregates.slots.get(slot as usize) {
            Some(cell) => may_match(rule, cell.get_or_init(compute)),
            None => true,
        }
    }

    /// The union `add` makes of the values of `var`, in gathering order.
    fn union_of(
        &self,
        var: Var,
        rule: &Rule,
        add: impl Fn(usize, &[u8], &mut Candidates),
    ) -> Candidates {
        let mut values = Vec::with_capacity(8);
        self.gather(&whole_collection(var), rule, &mut values);
        let mut all = Candidates::default();
        for (index, value) in values.iter().enumerate() {
            add(index, &value.value, &mut all);
        }
        all
    }

    fn find_hits(&self, root: &Rule, rule: &Rule) -> Vec<Hit> {
        let mut values = Vec::new();
        let prefiltered = match &self.rules.prefilter {
            Some(prefilter)
                if rule.filter.is_some() && !rule.operator.negated && !rule.multi_match =>
            {
                Some(prefilter)
            }
            _ => None,
        };
        for (index, target) in rule.targets.iter().enumerate() {
            if let (Some(prefilter), Some(Some(slots))) =
                (prefiltered, rule.aggregate_slots.get(index))
            {
                if !self.aggregate_may_match(target.var, *slots, rule, prefilter) {
                    continue;
                }
            }
            self.gather(target, rule, &mut values);
        }
        let mut hits = Vec::new();
        if values.is_empty() {
            return hits;
        }
        let removed = self.removed_targets(root);
        let expand = |m: &Macro| self.expand(m, rule);
        for value in values {
            if rule
                .exclusions
                .iter()
                .any(|e| target_excludes(e, value.var, &value.key))
            {
                continue;
            }
            if removed
                .iter()
                .any(|t| target_excludes(t, value.var, &value.key))
            {
                continue;
            }
            let want_captures = rule.capture && !rule.operator.negated;
            if !rule.multi_match {
                let has_filter = rule.filter.is_some();
                // A plain value under a chain that keeps it (or only
                // lowercases it) is judged from its own scan and is not
                // copied unless the operator runs.
                let plain_source =
                    rule.plain_effect != PlainEffect::Other && is_plain(&value.value);
                // Filtered operators share transformed values (and their
                // scans) through the cache; others transform in place.
                let cached = match (&self.rules.prefilter, has_filter, plain_source) {
                    (Some(_), true, true) => {
                        Some(self.cache.get(IDENTITY_CHAIN, &[], &value.value))
                    }
                    (Some(_), true, false) => Some(self.cache.get(
                        rule.transform_chain,
                        &rule.transforms,
                        &value.value,
                    )),
                    _ => None,
                };
                let excluded_by_prefilter = match (&self.rules.prefilter, &cached) {
                    (Some(prefilter), Some(entry)) => !may_match(rule, entry.hits(prefilter)),
                    _ => false,
                };
                if excluded_by_prefilter && !rule.operator.negated {
                    continue;
                }
                // The operator's input: a plain value (lowercased if the
                // chain does), the cached entry, or the chain run here.
                let direct = if plain_source {
                    let lower = rule.plain_effect == PlainEffect::Lowercased
                        && value.value.iter().any(u8::is_ascii_uppercase);
                    Some(if lower {
                        Cow::Owned(value.value.to_ascii_lowercase())
                    } else {
                        Cow::Borrowed(&value.value[..])
                    })
                } else if cached.is_none() {
                    Some(transforms::apply_all(&value.value, &rule.transforms))
                } else {
                    None
                };
                let transformed: &[u8] = match (&direct, &cached) {
                    (Some(v), _) => v,
                    (None, Some(entry)) => &entry.value,
                    (None, None) => &[],
                };
                let mut groups = Vec::new();
                let operator_matched = !excluded_by_prefilter && {
                    let mut ctx = OpContext {
                        expand: &expand,
                        captures: if want_captures {
                            Some(&mut groups)
                        } else {
                            None
                        },
                    };
                    rule.operator.evaluate(transformed, &mut ctx)
                };
                if operator_matched != rule.operator.negated {
                    hits.push(Hit {
                        var: value.var,
                        origin: value.origin,
                        key: value.key.to_vec(),
                        value: transformed.to_vec(),
                        captures: (want_captures && !groups.is_empty()).then_some(groups),
                    });
                }
                continue;
            }
            let mut steps = vec![value.value.clone()];
            let mut current = value.value.clone();
            for t in &rule.transforms {
                if let Some(next) = t.apply(&current) {
                    current = Cow::Owned(next);
                    steps.push(current.clone());
                }
            }
            for candidate in steps {
                let mut groups = Vec::new();
                let mut ctx = OpContext {
                    expand: &expand,
                    captures: if want_captures {
                        Some(&mut groups)
                    } else {
                        None
                    },
                };
                let matched = rule.operator.evaluate(&candidate, &mut ctx) != rule.operator.negated;
                if matched {
                    hits.push(Hit {
                        var: value.var,
                        origin: value.origin,
                        key: value.key.to_vec(),
                        value: candidate.into_owned(),
                        captures: (want_captures && !groups.is_empty()).then_some(groups),
                    });
                    break;
                }
            }
        }
        hits
    }

    fn run_setvars(&mut self, rule: &Rule) {
        for setvar in &rule.setvars {
            let Some(index) = collection_index(setvar.collection) else {
                continue;
            };
            // Most keys are written literally and in lowercase already:
            // use them as they are rather than expanding into a copy.
            let key: Cow<'_, [u8]> = match setvar.key.as_literal() {
                Some(literal) if !literal.iter().any(u8::is_ascii_uppercase) => {
                    Cow::Borrowed(literal)
                }
                _ => Cow::Owned(self.expand(&setvar.key, rule).to_ascii_lowercase()),
            };
            match &setvar.op {
                SetVarOp::Delete => {
                    self.collections[index].remove(&*key);
                }
                SetVarOp::Set(value) => {
                    let value = match value.as_literal() {
                        Some(literal) => Cow::Borrowed(literal),
                        None => Cow::Owned(self.expand(value, rule)),
                    };
                    match self.collections[index].get_mut(&*key) {
                        Some(slot) => {
                            slot.clear();
                            slot.extend_from_slice(&value);
                        }
                        None => {
                            self.collections[index].insert(key.into_owned(), value.into_owned());
                        }
                    }
                }
                SetVarOp::Add(value) | SetVarOp::Sub(value) => {
                    let delta = match value.as_literal() {
                        Some(literal) => to_integer(literal),
                        None => to_integer(&self.expand(value, rule)),
                    };
                    let current = self.collections[index]
                        .get(&*key)
                        .map(|v| to_integer(v))
                        .unwrap_or(0);
                    let next = if matches!(setvar.op, SetVarOp::Add(_)) {
                        current.saturating_add(delta)
                    } else {
                        current.saturating_sub(delta)
                    };
                    match self.collections[index].get_mut(&*key) {
                        Some(slot) => {
                            slot.clear();
                            write_integer(slot, next);
                        }
                        None => {
                            let mut number = Vec::new();
                            write_integer(&mut number, next);
                            self.collections[index].insert(key.into_owned(), number);
                        }
                    }
                }
            }
        }
    }

    /// Expands `%{...}` references.
    pub(crate) fn expand(&self, m: &Macro, rule: &Rule) -> Vec<u8> {
        let mut out = Vec::new();
        for part in &m.parts {
            match part {
                MacroPart::Literal(l) => out.extend_from_slice(l),
                MacroPart::Variable { var, key } => {
                    if let (Some(index), Some(key)) = (collection_index(*var), key) {
                        if let Some(v) = self.collections[index].get(key) {
                            out.extend_from_slice(v);
                        }
                        continue;
                    }
                    let target = Target {
                        var: *var,
                        selector: match key {
                            Some(k) if var.is_collection() => Selector::Key(k.clone()),
                            _ => Selector::All,
                        },
                        count: false,
                        exclude: false,
                    };
                    let mut values = Vec::new();
                    self.gather(&target, rule, &mut values);
                    if let Some(first) = values.first() {
                        out.extend_from_slice(&first.value);
                    }
                }
            }
        }
        out
    }

    fn gather<'a>(&'a self, target: &Target, rule: &Rule, out: &mut Vec<Value<'a>>) {
        let start = out.len();
        self.gather_values(target, rule, out);
        if target.count {
            let count = out.len() - start;
            out.truncate(start);
            out.push(Value {
                var: target.var,
                origin: target.var,
                key: Cow::Borrowed(b""),
                value: Cow::Owned(count.to_string().into_bytes()),
            });
        }
    }

    fn gather_values<'a>(&'a self, target: &Target, rule: &Rule, out: &mut Vec<Value<'a>>) {
        let var = target.var;
        let sel = &target.selector;
        let pairs = |out: &mut Vec<Value<'a>>, list: &'a [Pair], origin: Var| {
            for (k, v) in list {
                if sel.matches(k) {
                    out.push(Value {
                        var,
                        origin,
                        key: Cow::Borrowed(k),
                        value: Cow::Borrowed(v),
                    });
                }
            }
        };
        let names = |out: &mut Vec<Value<'a>>, list: &'a [Pair], origin: Var| {
            for (k, _) in list {
                if sel.matches(k) {
                    out.push(Value {
                        var,
                        origin,
                        key: Cow::Borrowed(k),
                        value: Cow::Borrowed(k),
                    });
                }
            }
        };
        let scalar = |out: &mut Vec<Value<'a>>, value: Cow<'a, [u8]>| {
            out.push(Value {
                var,
                origin: var,
                key: Cow::Borrowed(b""),
                value,
            });
        };
        match var {
            Var::Args => {
                pairs(out, &self.args_get, Var::ArgsGet);
                pairs(out, &self.args_post, Var::ArgsPost);
            }
            Var::ArgsGet => pairs(out, &self.args_get, Var::ArgsGet),
            Var::ArgsPost => pairs(out, &self.args_post, Var::ArgsPost),
            Var::ArgsNames => {
                names(out, &self.args_get, Var::ArgsGet);
                names(out, &self.args_post, Var::ArgsPost);
            }
            Var::ArgsGetNames => names(out, &self.args_get, Var::ArgsGet),
            Var::ArgsPostNames => names(out, &self.args_post, Var::ArgsPost),
            Var::ArgsCombinedSize => {
                let size: usize = self
                    .args_get
                    .iter()
                    .chain(&self.args_post)
                    .map(|(k, v)| k.len() + v.len())
                    .sum();
                scalar(out, Cow::Owned(size.to_string().into_bytes()));
            }
            Var::RequestHeaders => pairs(out, &self.request_headers, var),
            Var::RequestHeadersNames => names(out, &self.request_headers, var),
            Var::RequestCookies => pairs(out, &self.request_cookies, var),
            Var::RequestCookiesNames => names(out, &self.request_cookies, var),
            Var::RequestUri => scalar(out, Cow::Borrowed(&self.request_uri)),
            Var::RequestUriRaw => scalar(out, Cow::Borrowed(&self.request_uri_raw)),
            Var::RequestFilename | Var::PathInfo => {
                scalar(out, Cow::Borrowed(&self.request_filename))
            }
            Var::RequestBasename => scalar(out, Cow::Borrowed(&self.request_basename)),
            Var::RequestLine => scalar(out, Cow::Borrowed(&self.request_line)),
            Var::RequestMethod => scalar(out, Cow::Borrowed(&self.request_method)),
            Var::RequestProtocol => scalar(out, Cow::Borrowed(&self.request_protocol)),
            Var::QueryString => scalar(out, Cow::Borrowed(&self.query_string)),
            Var::RequestBody => {
                if let Some(body) = &self.request_body {
                    // The XML and multipart processors consume the body (as
                    // in ModSecurity); other bodies, and any body under
                    // `forceRequestBodyVariable`, are exposed as REQUEST_BODY.
                    let exposed = self.force_body_variable
                        || !matches!(
                            self.body_processor,
                            Some(BodyProcessor::Xml | BodyProcessor::Multipart)
                        );
                    if exposed {
                        scalar(out, Cow::Borrowed(body));
                    }
                }
            }
            Var::RequestBodyLength => scalar(
                out,
                Cow::Owned(self.request_body_length.to_string().into_bytes()),
            ),
            Var::FullRequest => {
                let mut full = self.request_line.clone();
                full.extend_from_slice(b"\r\n");
                body::push_header_block(&mut full, &self.request_headers);
                if let Some(body) = &self.request_body {
                    full.extend_from_slice(body);
                }
                scalar(out, Cow::Owned(full));
            }
            Var::FullRequestLength => {
                let length = self.request_line.len()
                    + self
                        .request_headers
                        .iter()
                        .map(|(k, v)| k.len() + v.len() + 4)
                        .sum::<usize>()
                    + 4
                    + self.request_body_length;
                scalar(out, Cow::Owned(length.to_string().into_bytes()));
            }
            Var::Files => {
                for f in &self.files {
                    if sel.matches(&f.field) {
                        out.push(Value {
                            var,
                            origin: var,
                            key: Cow::Borrowed(&f.field),
                            value: Cow::Borrowed(&f.filename),
                        });
                    }
                }
            }
            Var::FilesNames => {
                for f in &self.files {
                    if sel.matches(&f.field) {
                        out.push(Value {
                            var,
                            origin: var,
                            key: Cow::Borrowed(&f.field),
                            value: Cow::Borrowed(&f.field),
                        });
                    }
                }
            }
            Var::FilesSizes => {
                for f in &self.files {
                    if sel.matches(&f.field) {
                        out.push(Value {
                            var,
                            origin: var,
                            key: Cow::Borrowed(&f.field),
                            value: Cow::Owned(f.size.to_string().into_bytes()),
                        });
                    }
                }
            }
            Var::FilesCombinedSize => {
                let size: usize = self.files.iter().map(|f| f.size).sum();
                scalar(out, Cow::Owned(size.to_string().into_bytes()));
            }
            Var::FilesTmpNames | Var::FilesTmpContent => {}
            Var::MultipartPartHeaders => pairs(out, &self.multipart_part_headers, var),
            Var::MultipartFilename => scalar(out, Cow::Borrowed(&self.multipart_filename)),
            Var::MultipartName => scalar(out, Cow::Borrowed(&self.multipart_name)),
            Var::MultipartStrictError => {
                let f = &self.multipart_flags;
                scalar(
                    out,
                    flag(
                        f.any()
                            || (self.body_processor == Some(BodyProcessor::Multipart)
                                && self.reqbody_error),
                    ),
                )
            }
            Var::MultipartUnmatchedBoundary => {
                scalar(out, flag(self.multipart_flags.unmatched_boundary))
            }
            Var::MultipartBoundaryQuoted => scalar(out, flag(self.multipart_flags.boundary_quoted)),
            Var::MultipartBoundaryWhitespace => {
                scalar(out, flag(self.multipart_flags.boundary_whitespace))
            }
            Var::MultipartDataBefore => scalar(out, flag(self.multipart_flags.data_before)),
            Var::MultipartDataAfter => scalar(out, flag(self.multipart_flags.data_after)),
            Var::MultipartHeaderFolding => scalar(out, flag(self.multipart_flags.header_folding)),
            Var::MultipartLfLine => scalar(out, flag(self.multipart_flags.lf_line)),
            Var::MultipartCrlfLfLines => scalar(out, flag(self.multipart_flags.crlf_lf_lines())),
            Var::MultipartMissingSemicolon => {
                scalar(out, flag(self.multipart_flags.missing_semicolon))
            }
            Var::MultipartInvalidQuoting => scalar(out, flag(self.multipart_flags.invalid_quoting)),
            Var::MultipartInvalidPart => scalar(out, flag(self.multipart_flags.invalid_part)),
            Var::MultipartInvalidHeaderFolding => {
                scalar(out, flag(self.multipart_flags.invalid_header_folding))
            }
            Var::MultipartFileLimitExceeded => {
                scalar(out, flag(self.multipart_flags.file_limit_exceeded))
            }
            Var::ReqbodyError | Var::ReqbodyProcessorError => scalar(out, flag(self.reqbody_error)),
            Var::ReqbodyErrorMsg | Var::ReqbodyProcessorErrorMsg => {
                scalar(out, Cow::Borrowed(&self.reqbody_error_msg))
            }
            Var::ReqbodyProcessor => {
                if let Some(p) = self.body_processor {
                    scalar(out, Cow::Borrowed(p.name().as_bytes()))
                }
            }
            Var::UrlencodedError => scalar(out, flag(self.urlencoded_error)),
            Var::InboundDataError => scalar(out, flag(false)),
            Var::OutboundDataError => scalar(out, flag(false)),
            Var::Xml => {
                if let Some(doc) = &self.xml {
                    let xpath = match sel {
                        Selector::Key(k) => String::from_utf8_lossy(k).into_owned(),
                        _ => "/*".to_string(),
                    };
                    for value in doc.select(&xpath) {
                        out.push(Value {
                            var,
                            origin: var,
                            key: Cow::Owned(xpath.clone().into_bytes()),
                            value: Cow::Owned(value),
                        });
                    }
                }
            }
            Var::Tx | Var::Ip | Var::Global | Var::Session | Var::User | Var::Resource => {
                let Some(index) = collection_index(var) else {
                    return;
                };
                let map = &self.collections[index];
                match sel {
                    Selector::Key(k) => {
                        if let Some((key, v)) = map.get_key_value(k.as_slice()) {
                            out.push(Value {
                                var,
                                origin: var,
                                key: Cow::Borrowed(key),
                                value: Cow::Borrowed(v),
                            });
                        }
                    }
                    _ => {
                        for (k, v) in map {
                            if sel.matches(k) {
                                out.push(Value {
                                    var,
                                    origin: var,
                                    key: Cow::Borrowed(k),
                                    value: Cow::Borrowed(v),
                                });
                            }
                        }
                    }
                }
            }
            Var::Geo | Var::Env => {}
            Var::Rule => {
                let entries: [(&[u8], Vec<u8>); 4] = [
                    (b"id", rule.id.to_string().into_bytes()),
                    (b"phase", rule.phase.to_string().into_bytes()),
                    (
                        b"severity",
                        rule.severity
                            .map(|s| s.to_string().into_bytes())
                            .unwrap_or_default(),
                    ),
                    (
                        b"msg",
                        rule.msg
                            .as_ref()
                            .and_then(Macro::as_literal)
                            .map(<[u8]>::to_vec)
                            .unwrap_or_default(),
                    ),
                ];
                for (k, v) in entries {
                    if sel.matches(k) {
                        out.push(Value {
                            var,
                            origin: var,
                            key: Cow::Borrowed(k),
                            value: Cow::Owned(v),
                        });
                    }
                }
            }
            Var::MatchedVar => scalar(out, Cow::Borrowed(&self.matched_var)),
            Var::MatchedVarName => scalar(out, Cow::Borrowed(&self.matched_var_name)),
            Var::MatchedVars => pairs(out, &self.matched_vars, var),
            Var::MatchedVarsNames => names(out, &self.matched_vars, var),
            Var::ResponseHeaders => pairs(out, &self.response_headers, var),
            Var::ResponseHeadersNames => names(out, &self.response_headers, var),
            Var::ResponseStatus => scalar(out, Cow::Borrowed(&self.response_status)),
            Var::ResponseProtocol => scalar(out, Cow::Borrowed(&self.response_protocol)),
            Var::ResponseBody => {
                if let Some(body) = &self.response_body {
                    scalar(out, Cow::Borrowed(body));
                }
            }
            Var::ResponseContentType | Var::ResponseContentLength => {
                let wanted: &[u8] = if var == Var::ResponseContentType {
                    b"content-type"
                } else {
                    b"content-length"
                };
                if let Some((_, v)) = self
                    .response_headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(wanted))
                {
                    scalar(out, Cow::Borrowed(v));
                }
            }
            Var::StatusLine => {
                let mut line = self.response_protocol.clone();
                line.push(b' ');
                line.extend_from_slice(&self.response_status);
                scalar(out, Cow::Owned(line));
            }
            Var::RemoteAddr | Var::RemoteHost => scalar(out, Cow::Borrowed(&self.remote_addr)),
            Var::RemotePort => scalar(out, Cow::Borrowed(&self.remote_port)),
            Var::ServerPort => scalar(out, Cow::Borrowed(&self.server_port)),
            Var::ServerAddr => scalar(out, Cow::Borrowed(b"127.0.0.1")),
            Var::ServerName => {
                if let Some((_, host)) = self
                    .request_headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(b"host"))
                {
                    scalar(out, Cow::Borrowed(host));
                }
            }
            Var::RemoteUser | Var::AuthType | Var::WebserverErrorLog => {}
            Var::UniqueId => scalar(out, Cow::Borrowed(&self.unique_id)),
            Var::Duration => scalar(
                out,
                Cow::Owned(self.started.elapsed().as_micros().to_string().into_bytes()),
            ),
            Var::HighestSeverity => scalar(
                out,
                Cow::Owned(self.highest_severity.to_string().into_bytes()),
            ),
            Var::Time
            | Var::TimeDay
            | Var::TimeEpoch
            | Var::TimeHour
            | Var::TimeMin
            | Var::TimeMon
            | Var::TimeSec
            | Var::TimeWday
            | Var::TimeYear => scalar(out, Cow::Owned(time_value(var))),
        }
    }
}

fn time_value(var: Var) -> Vec<u8> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let text = match var {
        Var::TimeEpoch => secs.to_string(),
        Var::TimeYear => year.to_string(),
        Var::TimeMon => format!("{month:02}"),
        Var::TimeDay => format!("{day:02}"),
        Var::TimeHour => format!("{hour:02}"),
        Var::TimeMin => format!("{minute:02}"),
        Var::TimeSec => format!("{second:02}"),
        Var::TimeWday => ((days + 4).rem_euclid(7)).to_string(),
        _ => format!("{hour:02}:{minute:02}:{second:02}"),
    };
    text.into_bytes()
}

/// Percent-decodes a path (`+` stays a plus sign).
fn decode_path(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'%' {
            if let (Some(a), Some(b)) = (path.get(i + 1), path.get(i + 2)) {
                if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() {
                    let hex = [*a, *b];
                    if let Ok(v) = u8::from_str_radix(&String::from_utf8_lossy(&hex), 16) {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                }
            }
        }
        out.push(path[i]);
        i += 1;
    }
    out
}

/// Splits a `Cookie` header into name/value pairs (version 0 format).
fn parse_cookies(header: &[u8]) -> Vec<Pair> {
    let mut out = Vec::new();
    for piece in header.split(|&b| b == b';') {
        let piece = piece.trim_ascii();
        if piece.is_empty() {
            continue;
        }
        match memchr::memchr(b'=', piece) {
            Some(eq) => out.push((piece[..eq].trim_ascii().to_vec(), piece[eq + 1..].to_vec())),
            None => out.push((piece.to_vec(), Vec::new())),
        }
    }
    out
}

/// The severity name for a numeric severity.
pub fn severity_name(severity: u8) -> &'static str {
    SEVERITIES
        .get(usize::from(severity))
        .copied()
        .unwrap_or("UNKNOWN")
}
