//! Rate limits per route and key, local or shared, and the response headers.
//!
//! Headers follow draft-ietf-httpapi-ratelimit-headers-10 by default:
//! `RateLimit-Policy: "<name>";q=<rate>;w=<window seconds>` and
//! `RateLimit: "<name>";r=<remaining>;t=<seconds until the allowance is
//! fully replenished>`. A limit may ask instead for the separate fields of
//! the drafts up to -06 that many clients still read (`RateLimit-Limit`,
//! units available in a burst; `RateLimit-Remaining`; `RateLimit-Reset`;
//! `RateLimit-Policy: <rate>;w=<seconds>;burst=<burst>`), for both, or for
//! none (see [`HeaderStyle`]). `Retry-After` (seconds) comes with every 429.
//! When several limits apply, the most restrictive one is reported.
//!
//! Every applicable limit is charged in turn; a request refused by a later
//! limit has still consumed the earlier ones (this keeps each limit a single
//! atomic operation in Redis).

use crate::config::{FailurePolicy, HeaderStyle, KeyPart, RateLimitConfig};
use crate::counters::LocalState;
use crate::gcra::{GcraDecision, GcraParams, LocalGcra};
use crate::shared::SharedStore;
use crate::{client_key, ConfigError};
use http::{HeaderName, HeaderValue, Method, StatusCode};
use palisade_auth::PathPattern;
use palisade_core::{
    Category, Detector, Enforcement, Finding, Location, Phase, Principal, RequestHead, Severity,
    Transaction, WorkerCounter,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The IETF httpapi `RateLimit-*` field names, checked at compile time.
const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// A compiled limit.
#[derive(Debug, Clone)]
pub struct Limit {
    pub name: &'static str,
    pattern: PathPattern,
    methods: Vec<Method>,
    key: Vec<KeyPart>,
    pub rate: u64,
    pub period: Duration,
    pub burst: u64,
    pub cost: u64,
    rate_from_claim: Option<String>,
    pub shared: bool,
    /// `palisade_ratelimit_decisions_total` for this limit, registered once
    /// (a per-request registration would allocate and hash its labels).
    decisions: DecisionCounters,
    headers: HeaderStyle,
    /// The response fields that depend on the configured rate only.
    fixed_headers: FixedHeaders,
    /// The name as a structured-field String, for `RateLimit`.
    quoted_name: &'static str,
}

/// Response field values of one limit that do not change from request to
/// request (for the configured rate; a rate taken from a claim builds its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedHeaders {
    /// `RateLimit-Policy` in the current form.
    policy: HeaderValue,
    /// `RateLimit-Policy` in the legacy form.
    legacy_policy: HeaderValue,
    /// `RateLimit-Limit` (legacy).
    legacy_limit: HeaderValue,
}

impl FixedHeaders {
    fn new(name: &str, rate: u64, window: Duration, burst: u64) -> Option<FixedHeaders> {
        Some(FixedHeaders {
            policy: policy_value(name, rate, window)?,
            legacy_policy: legacy_policy_value(rate, window, burst)?,
            legacy_limit: HeaderValue::from(burst),
        })
    }

    /// The same values with `'static` spellings (see [`configured_value`]).
    fn configured(self) -> FixedHeaders {
        FixedHeaders {
            policy: configured_value(self.policy),
            legacy_policy: configured_value(self.legacy_policy),
            legacy_limit: configured_value(self.legacy_limit),
        }
    }
}

/// `name` as a structured-field String (RFC 8941 §3.3.3): quoted, `"` and
/// `\` escaped; bytes a String cannot hold become `_`.
fn sf_string(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('_'),
        }
    }
    out.push('"');
    out
}

fn policy_value(name: &str, rate: u64, window: Duration) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{};q={rate};w={}",
        sf_string(name),
        ceil_secs(window)
    ))
    .ok()
}

fn legacy_policy_value(rate: u64, window: Duration, burst: u64) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("{rate};w={};burst={burst}", ceil_secs(window))).ok()
}

/// `RateLimit: "<name>";r=<remaining>;t=<reset>`, spelled into one buffer
/// of exactly its length, which becomes the value without a further copy or
/// allocation (`Bytes` adopts a full vector as it is).
fn ratelimit_value(quoted_name: &str, remaining: u64, reset: u64) -> Option<HeaderValue> {
    let len = quoted_name.len() + 6 + decimal_len(remaining) + decimal_len(reset);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(quoted_name.as_bytes());
    out.extend_from_slice(b";r=");
    push_decimal(&mut out, remaining);
    out.extend_from_slice(b";t=");
    push_decimal(&mut out, reset);
    HeaderValue::try_from(out).ok()
}

thread_local! {
    /// The `RateLimit` value this thread spelled last, with what it says.
    static LAST_RATELIMIT: std::cell::RefCell<Option<(&'static str, u64, u64, HeaderValue)>> =
        const { std::cell::RefCell::new(None) };
}

/// [`ratelimit_value`], reusing the last one this thread spelled when it says
/// the same: a limit far from exhausted (most of them, most of the time)
/// reports the same remaining count and reset on response after response, and
/// a copy shares the bytes instead of allocating and checking them again.
fn recent_ratelimit_value(
    quoted_name: &'static str,
    remaining: u64,
    reset: u64,
) -> Option<HeaderValue> {
    LAST_RATELIMIT.with_borrow_mut(|last| {
        if let Some((name, r, t, value)) = last.as_ref() {
            // Names are interned, so one address and length is one name.
            if std::ptr::eq(*name, quoted_name) && (*r, *t) == (remaining, reset) {
                return Some(value.clone());
            }
        }
        let value = ratelimit_value(quoted_name, remaining, reset)?;
        *last = Some((quoted_name, remaining, reset, value.clone()));
        Some(value)
    })
}

/// Digits of `n` in decimal.
fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |l| l as usize + 1)
}

/// Spells `n` three digits at a time from [`THREE_DIGITS`].
fn push_decimal(out: &mut Vec<u8>, n: u64) {
    let mut spelled = [0u8; 21];
    let mut start = spelled.len();
    let mut rest = n;
    while rest >= 1000 {
        let group = (rest % 1000) as usize * 3;
        rest /= 1000;
        start -= 3;
        spelled[start..start + 3].copy_from_slice(&THREE_DIGITS[group..group + 3]);
    }
    let head = below_thousand(rest);
    start -= head.len();
    spelled[start..start + head.len()].copy_from_slice(head);
    out.extend_from_slice(&spelled[start..]);
}

/// The decimal spelling of `n` (below 1,000; empty otherwise), without
/// leading zeros, from [`THREE_DIGITS`].
fn below_thousand(n: u64) -> &'static [u8] {
    let digits = decimal_len(n);
    let end = n as usize * 3 + 3;
    THREE_DIGITS.get(end - digits..end).unwrap_or_default()
}

/// `value` with a `'static` spelling (see [`palisade_core::intern`]), so the
/// per-response clone copies a pointer.
fn configured_value(value: HeaderValue) -> HeaderValue {
    match value.to_str() {
        Ok(text) => HeaderValue::from_static(palisade_core::intern(text)),
        Err(_) => value,
    }
}

#[derive(Clone, Debug)]
struct DecisionCounters {
    allowed: WorkerCounter,
    limited: WorkerCounter,
}

impl DecisionCounters {
    fn register(limit: &str) -> Self {
        DecisionCounters {
            allowed: WorkerCounter::new(metrics::counter!(
                "palisade_ratelimit_decisions_total",
                "limit" => limit.to_string(),
                "result" => "allowed"
            )),
            limited: WorkerCounter::new(metrics::counter!(
                "palisade_ratelimit_decisions_total",
                "limit" => limit.to_string(),
                "result" => "limited"
            )),
        }
    }
}

impl Limit {
    pub fn compile(config: &RateLimitConfig) -> Result<Self, ConfigError> {
        let err = |m: String| ConfigError(format!("rate limit {}: {m}", config.name));
        if config.rate == 0 {
            return Err(err("rate must be at least 1".into()));
        }
        if config.key.is_empty() {
            return Err(err("key must name at least one part".into()));
        }
        let pattern = PathPattern::parse(&config.path, true).map_err(err)?;
        let methods = config
            .methods
            .iter()
            .map(|m| {
                Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .map_err(|_| err(format!("invalid method {m}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let burst = config.burst.unwrap_or(config.rate);
        if burst == 0 {
            return Err(err("burst must be at least 1".into()));
        }
        Ok(Limit {
            name: palisade_core::intern(&config.name),
            pattern,
            methods,
            key: config.key.clone(),
            rate: config.rate,
            period: config.per.0,
            burst,
            cost: config.cost.max(1),
            rate_from_claim: config.rate_from_claim.clone(),
            shared: config.shared,
            decisions: DecisionCounters::register(&config.name),
            headers: config.headers,
            fixed_headers: FixedHeaders::new(&config.name, config.rate, config.per.0, burst)
                .ok_or_else(|| err("rate-limit header values".into()))?
                .configured(),
            quoted_name: palisade_core::intern(&sf_string(&config.name)),
        })
    }

    fn applies(&self, head: &RequestHead) -> bool {
        (self.methods.is_empty() || self.methods.contains(&head.method))
            && self.pattern.matches_segments(head.normalized_segments())
    }

    /// GCRA parameters for this request (a claim may carry its own rate).
    fn params(&self, principal: Option<&Principal>) -> (GcraParams, u64, Duration, u64) {
        if let Some(claim) = &self.rate_from_claim {
            if let Some((rate, period)) = principal
                .and_then(|p| p.claims.get(claim))
                .and_then(|v| crate::config::parse_rate(v))
            {
                return (GcraParams::new(rate, period, rate), rate, period, rate);
            }
        }
        (
            GcraParams::new(self.rate, self.period, self.burst),
            self.rate,
            self.period,
            self.burst,
        )
    }

    /// The counting key, or `None` when a required part is missing.
    pub fn key_for(
        &self,
        head: &RequestHead,
        principal: Option<&Principal>,
        ipv6_prefix: u8,
    ) -> Option<String> {
        let mut out = String::with_capacity(64);
        self.write_key(&mut out, head, principal, ipv6_prefix)
            .map(|()| out)
    }

    /// Writes the counting key into `out` (cleared first); `None` when a
    /// required part is missing.
    fn write_key(
        &self,
        out: &mut String,
        head: &RequestHead,
        principal: Option<&Principal>,
        ipv6_prefix: u8,
    ) -> Option<()> {
        out.clear();
        out.push_str(self.name);
        for part in &self.key {
            out.push('\u{1f}');
            match part {
                KeyPart::Ip => out.push_str(&client_key(head.client_ip, ipv6_prefix)),
                KeyPart::Principal => match principal {
                    Some(p) => {
                        out.push_str("p:");
                        out.push_str(p.issuer.as_deref().unwrap_or(""));
                        out.push('|');
                        out.push_str(&p.subject);
                    }
                    None => {
                        out.push_str("ip:");
                        out.push_str(&client_key(head.client_ip, ipv6_prefix));
                    }
                },
                KeyPart::ApiKey => {
                    let id = principal.and_then(|p| p.claims.get("api_key_id"))?;
                    out.push_str(id);
                }
                KeyPart::Route => out.push_str(&head.route),
                KeyPart::Method => out.push_str(head.method.as_str()),
                KeyPart::Path => out.push_str(&head.normalized_segments().join("/")),
                KeyPart::Header(name) => {
                    let v = head
                        .headers
                        .get(name.as_str())
                        .map(|v| v.as_bytes())
                        .unwrap_or(b"");
                    out.push_str(&String::from_utf8_lossy(&v[..v.len().min(256)]));
                }
                KeyPart::Claim(name) => {
                    let v = principal.and_then(|p| p.claims.get(name))?;
                    out.push_str(&v.chars().take(256).collect::<String>());
                }
            }
        }
        Some(())
    }
}

thread_local! {
    /// The buffer rate-limit keys are written into, reused from request to
    /// request on a worker thread (a request that finds it taken by another
    /// in flight on the same thread builds its own).
    static KEY_BUFFER: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// Where the limit was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Local,
    Redis,
    /// Redis unavailable, counted locally (fail-open).
    LocalFallback,
    /// Redis unavailable, refused (fail-closed).
    Unavailable,
}

/// The state of the most restrictive applicable limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitStatus {
    pub name: &'static str,
    pub rate: u64,
    pub window: Duration,
    pub burst: u64,
    pub remaining: u64,
    pub reset_after: Duration,
    pub retry_after: Option<Duration>,
    pub backend: Backend,
    /// Which response fields report it.
    pub headers: HeaderStyle,
    /// The limit's name as a structured-field String.
    pub quoted_name: &'static str,
    /// Field values built once per limit, when this request's rate is the
    /// limit's own (not from a claim).
    pub fixed_headers: Option<FixedHeaders>,
}

/// The verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RateLimitOutcome {
    pub allowed: bool,
    /// `None` when no limit applied.
    pub status: Option<LimitStatus>,
}

/// Every number below 1,000 as three digits, leading zeros included.
static THREE_DIGITS: [u8; 3000] = {
    let mut table = [0u8; 3000];
    let mut n = 0;
    while n < 1000 {
        table[3 * n] = b'0' + (n / 100) as u8;
        table[3 * n + 1] = b'0' + (n / 10 % 10) as u8;
        table[3 * n + 2] = b'0' + (n % 10) as u8;
        n += 1;
    }
    table
};

/// A header value for a count or a number of seconds. Those below 1,000
/// (a reset, a retry, what remains of most limits) point into a static table
/// instead of allocating one per response.
fn number_value(n: u64) -> HeaderValue {
    if n >= 1000 {
        let mut spelled = Vec::with_capacity(20);
        push_decimal(&mut spelled, n);
        return HeaderValue::try_from(spelled).unwrap_or_else(|_| n.into());
    }
    match std::str::from_utf8(below_thousand(n)) {
        Ok(text) => HeaderValue::from_static(text),
        Err(_) => HeaderValue::from(n),
    }
}

fn ceil_secs(d: Duration) -> u64 {
    let s = d.as_secs();
    if d.subsec_nanos() > 0 {
        s + 1
    } else {
        s
    }
}

impl RateLimitOutcome {
    /// `RateLimit-*` headers for the response (allowed or not).
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut out = Vec::new();
        self.for_each_header(|name, value| out.push((name, value)));
        out
    }

    /// Sets the `RateLimit-*` headers in `headers`, replacing any there.
    pub fn write_headers(&self, headers: &mut http::HeaderMap) {
        self.for_each_header(|name, value| {
            headers.insert(name, value);
        });
    }

    fn for_each_header(&self, mut emit: impl FnMut(HeaderName, HeaderValue)) {
        let Some(s) = &self.status else {
            return;
        };
        if s.backend == Backend::Unavailable {
            emit(http::header::RETRY_AFTER, HeaderValue::from(1u64));
            return;
        }
        let reset = ceil_secs(s.reset_after);
        let built;
        let fixed = match &s.fixed_headers {
            Some(fixed) => Some(fixed),
            None => {
                built = FixedHeaders::new(s.name, s.rate, s.window, s.burst);
                built.as_ref()
            }
        };
        let (current, legacy) = match s.headers {
            HeaderStyle::Current => (true, false),
            HeaderStyle::Legacy => (false, true),
            HeaderStyle::Both => (true, true),
            HeaderStyle::None => (false, false),
        };
        if current {
            if let Some(fixed) = fixed {
                emit(RATELIMIT_POLICY, fixed.policy.clone());
            }
            if let Some(value) = recent_ratelimit_value(s.quoted_name, s.remaining, reset) {
                emit(RATELIMIT, value);
            }
        }
        if legacy {
            if let Some(fixed) = fixed {
                emit(RATELIMIT_LIMIT, fixed.legacy_limit.clone());
            }
            emit(RATELIMIT_REMAINING, number_value(s.remaining));
            emit(RATELIMIT_RESET, number_value(reset));
            if let (Some(fixed), false) = (fixed, current) {
                emit(RATELIMIT_POLICY, fixed.legacy_policy.clone());
            }
        }
        if let Some(retry) = s.retry_after {
            emit(
                http::header::RETRY_AFTER,
                number_value(ceil_secs(retry).max(1)),
            );
        }
    }

    /// A finding enforcing 429 (or 503 when fail-closed) when refused.
    pub fn finding(&self) -> Option<Finding> {
        if self.allowed {
            return None;
        }
        let s = self.status.as_ref()?;
        let (status, title, message) = if s.backend == Backend::Unavailable {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Rate limiting unavailable",
                format!(
                    "limit {} could not be checked (redis down, fail-closed)",
                    s.name
                ),
            )
        } else {
            (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
                format!(
                    "limit {} exceeded ({} per {}s)",
                    s.name,
                    s.rate,
                    s.window.as_secs()
                ),
            )
        };
        let mut enforcement = Enforcement::new(status, title);
        for (n, v) in self.headers() {
            enforcement = enforcement.with_header(n, v);
        }
        Some(
            Finding::new(
                format!("palisade.ratelimit.{}", s.name),
                Category::RateLimit,
                Severity::Notice,
                Location::new("connection"),
                s.name,
                message,
            )
            .enforce(enforcement),
        )
    }
}

/// Rate limiter over all configured limits.
pub struct RateLimiter {
    limits: Vec<Limit>,
    local: Arc<LocalGcra>,
    shared: Option<Arc<SharedStore>>,
    ipv6_prefix: u8,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("limits", &self.limits.len())
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

impl RateLimiter {
    /// Builds the limiter; `shared` enables Redis for limits marked `shared`.
    pub fn new(
        configs: &[RateLimitConfig],
        shared: Option<Arc<SharedStore>>,
    ) -> Result<Self, ConfigError> {
        Self::with_state(configs, shared, &LocalState::default())
    }

    /// A limiter whose in-process counts live in `state`, so that they outlive
    /// this limiter (a configuration reload keeps every client's allowance).
    pub fn with_state(
        configs: &[RateLimitConfig],
        shared: Option<Arc<SharedStore>>,
        state: &LocalState,
    ) -> Result<Self, ConfigError> {
        let mut names = std::collections::HashSet::new();
        let mut limits = Vec::new();
        for c in configs {
            if !names.insert(c.name.as_str()) {
                return Err(ConfigError(format!("rate limit {} declared twice", c.name)));
            }
            limits.push(Limit::compile(c)?);
        }
        Ok(RateLimiter {
            limits,
            local: state.gcra.clone(),
            shared,
            ipv6_prefix: 64,
        })
    }

    /// True when every limit is counted in process (no Redis round trip can
    /// be needed): [`RateLimiter::check_local`] then decides as
    /// [`RateLimiter::check`] would.
    pub fn is_local(&self) -> bool {
        self.shared.is_none() || self.limits.iter().all(|l| !l.shared)
    }

    /// Prefix length IPv6 clients are grouped by (default 64).
    pub fn with_ipv6_prefix(mut self, prefix: u8) -> Self {
        self.ipv6_prefix = prefix.min(128);
        self
    }

    pub fn limits(&self) -> &[Limit] {
        &self.limits
    }

    /// Checks every applicable limit, using Redis for shared ones.
    pub async fn check(
        &self,
        head: &RequestHead,
        principal: Option<&Principal>,
    ) -> RateLimitOutcome {
        let mut summary = Summary::default();
        let mut key = KEY_BUFFER.take();
        for limit in self.limits.iter().filter(|l| l.applies(head)) {
            if limit
                .write_key(&mut key, head, principal, self.ipv6_prefix)
                .is_none()
            {
                continue;
            }
            let (params, rate, period, burst) = limit.params(principal);
            let (decision, backend) = match (&self.shared, limit.shared) {
                (Some(store), true) => {
                    let redis_key = store.key(&format!("rl:{}:{}", limit.name, hashed(&key)));
                    // Boxed: the Redis round trip's state is large, and held
                    // inline it would enlarge every caller's future, local
                    // limits included.
                    let step = Box::pin(store.gcra_leased(&redis_key, params, limit.cost));
                    match step.await {
                        Ok(d) => (d, Backend::Redis),
                        Err(_) => match store.config().on_error {
                            FailurePolicy::FailOpen => {
                                metrics::counter!("palisade_ratelimit_redis_fallback_total", "policy" => "fail_open").increment(1);
                                (
                                    self.local.check(&key, limit.cost, params),
                                    Backend::LocalFallback,
                                )
                            }
                            FailurePolicy::FailClosed => {
                                metrics::counter!("palisade_ratelimit_redis_fallback_total", "policy" => "fail_closed").increment(1);
                                (
                                    GcraDecision {
                                        allowed: false,
                                        remaining: 0,
                                        reset_after_us: 1_000_000,
                                        retry_after_us: 1_000_000,
                                    },
                                    Backend::Unavailable,
                                )
                            }
                        },
                    }
                }
                _ => (self.local.check(&key, limit.cost, params), Backend::Local),
            };
            summary.add(status_of(limit, decision, backend, rate, period, burst));
        }
        KEY_BUFFER.set(key);
        summary.outcome()
    }

    /// Checks every applicable limit in process only (shared limits are
    /// counted per instance). No I/O.
    pub fn check_local(
        &self,
        head: &RequestHead,
        principal: Option<&Principal>,
    ) -> RateLimitOutcome {
        let mut summary = Summary::default();
        let mut key = KEY_BUFFER.take();
        for limit in self.limits.iter().filter(|l| l.applies(head)) {
            if limit
                .write_key(&mut key, head, principal, self.ipv6_prefix)
                .is_none()
            {
                continue;
            }
            let (params, rate, period, burst) = limit.params(principal);
            let decision = self.local.check(&key, limit.cost, params);
            summary.add(status_of(
                limit,
                decision,
                Backend::Local,
                rate,
                period,
                burst,
            ));
        }
        KEY_BUFFER.set(key);
        summary.outcome()
    }
}

fn hashed(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

fn status_of(
    limit: &Limit,
    d: GcraDecision,
    backend: Backend,
    rate: u64,
    period: Duration,
    burst: u64,
) -> LimitStatus {
    if d.allowed {
        limit.decisions.allowed.increment(1);
    } else {
        limit.decisions.limited.increment(1);
    }
    LimitStatus {
        name: limit.name,
        rate,
        window: period,
        burst,
        remaining: d.remaining,
        reset_after: Duration::from_micros(d.reset_after_us),
        retry_after: (!d.allowed).then(|| Duration::from_micros(d.retry_after_us)),
        backend,
        headers: limit.headers,
        quoted_name: limit.quoted_name,
        fixed_headers: (rate == limit.rate && period == limit.period && burst == limit.burst)
            .then(|| limit.fixed_headers.clone()),
    }
}

/// The outcome over every applicable limit, folded one status at a time
/// (most requests meet one limit: no list is built): when all admitted, the
/// status with the fewest remaining (the first of equals); otherwise the
/// refusal with the longest wait (the last of equals).
#[derive(Default)]
struct Summary {
    tightest_admitted: Option<LimitStatus>,
    longest_refusal: Option<LimitStatus>,
}

impl Summary {
    fn add(&mut self, status: LimitStatus) {
        if status.retry_after.is_some() {
            if self
                .longest_refusal
                .as_ref()
                .is_none_or(|best| status.retry_after >= best.retry_after)
            {
                self.longest_refusal = Some(status);
            }
        } else if self
            .tightest_admitted
            .as_ref()
            .is_none_or(|best| status.remaining < best.remaining)
        {
            self.tightest_admitted = Some(status);
        }
    }

    fn outcome(self) -> RateLimitOutcome {
        match self.longest_refusal {
            Some(refusal) => RateLimitOutcome {
                allowed: false,
                status: Some(refusal),
            },
            None => RateLimitOutcome {
                allowed: true,
                status: self.tightest_admitted,
            },
        }
    }
}

/// Where the limiter keeps its outcome in `Transaction::state`, so the proxy
/// can add the `RateLimit-*` headers to the response.
#[derive(Debug, Clone)]
pub struct RateLimitState(pub RateLimitOutcome);

impl Detector for RateLimiter {
    fn name(&self) -> &'static str {
        "ratelimit"
    }

    fn wants(&self, phase: Phase) -> bool {
        phase == Phase::RequestHead
    }

    /// Local counting only; for shared limits call [`RateLimiter::check`]
    /// and [`record_outcome`] from the async request path instead.
    fn inspect(&self, phase: Phase, tx: &mut Transaction) {
        if phase != Phase::RequestHead || tx.state.get::<RateLimitState>().is_some() {
            return;
        }
        let outcome = self.check_local(&tx.request, tx.principal.as_ref());
        record_outcome(tx, outcome);
    }
}

/// Stores the outcome in the transaction and reports the finding if refused.
pub fn record_outcome(tx: &mut Transaction, outcome: RateLimitOutcome) {
    if outcome.status.is_none() {
        return;
    }
    if let Some(f) = outcome.finding() {
        tx.report(f);
    }
    tx.state.insert(RateLimitState(outcome));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratelimit_values_fill_their_buffer_exactly() {
        for n in (0..2_100).chain([9_999, 10_000, 12_345, 1_000_000, 99_999_999, u64::MAX]) {
            assert_eq!(decimal_len(n), n.to_string().len(), "{n}");
            let value = ratelimit_value("\"l\"", n, 7).unwrap();
            assert_eq!(value, format!("\"l\";r={n};t=7").as_str());
        }
    }

    #[test]
    fn a_repeated_ratelimit_value_is_the_same_and_a_new_one_is_new() {
        let a = palisade_core::intern("\"a\"");
        let b = palisade_core::intern("\"b\"");
        assert_eq!(recent_ratelimit_value(a, 5, 1).unwrap(), "\"a\";r=5;t=1");
        assert_eq!(recent_ratelimit_value(a, 5, 1).unwrap(), "\"a\";r=5;t=1");
        assert_eq!(recent_ratelimit_value(a, 4, 1).unwrap(), "\"a\";r=4;t=1");
        assert_eq!(recent_ratelimit_value(a, 4, 2).unwrap(), "\"a\";r=4;t=2");
        assert_eq!(recent_ratelimit_value(b, 4, 2).unwrap(), "\"b\";r=4;t=2");
        assert_eq!(recent_ratelimit_value(a, 4, 2).unwrap(), "\"a\";r=4;t=2");
    }

    #[test]
    fn number_values_spell_the_number() {
        for n in (0..2_000).chain([9_999, 10_000, 100_000_000, u64::MAX]) {
            assert_eq!(number_value(n), HeaderValue::from(n), "{n}");
        }
    }
}
