//! Brute-force and credential-stuffing defence for declared login operations,
//! and identity-spread signals for every authenticated request.
//!
//! Per login rule, failed attempts (upstream statuses in `failure_statuses`)
//! are counted per username (hashed: usernames never reach Redis or logs), per
//! client IP (IPv6 by /64) and per authenticated principal, over a window that
//! starts at the first failure. From `delay_after` failures each further
//! attempt is delayed (doubling from `delay_base_ms` up to `delay_max_ms`);
//! at the maximum the username, IP or principal is blocked for
//! `block_seconds`. A success clears the username's counter, not the IP's.
//!
//! Signals (findings, no blocking of their own):
//! * one IP failing on many distinct usernames → credential stuffing
//!   (`AutomatedThreat`);
//! * one username failing from many distinct IPs → distributed guessing
//!   (`BruteForce`);
//! * one principal seen from many IPs, or one IP carrying many principals
//!   ([`IdentitySpread`]) → shared or stolen credentials (`AutomatedThreat`).
//!
//! Driving it from the proxy: after the request body is read, call
//! [`LoginGuard::attempt`]; if it returns an attempt, await
//! [`LoginGuard::check`] and apply the verdict (sleep for `Delay`, answer
//! the finding's 429 for `Blocked`); after the upstream answered, await
//! [`LoginGuard::record`] with the status and add the findings to the event.

use crate::client_key;
use crate::config::{IdentitySpreadConfig, LoginProtectionConfig, UsernameLocation};
use crate::counters::Counters;
use crate::ConfigError;
use http::{HeaderValue, Method, StatusCode};
use palisade_auth::PathPattern;
use palisade_core::{Category, Enforcement, Finding, Location, Principal, Severity, Transaction};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Longest username considered.
const MAX_USERNAME: usize = 512;

struct LoginRule {
    config: LoginProtectionConfig,
    method: Method,
    pattern: PathPattern,
}

/// One login attempt, identified without keeping the username.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAttempt {
    rule: usize,
    pub rule_name: Arc<str>,
    /// SHA-256 of the rule name and normalised username (hex, 32 chars).
    pub username_hash: Option<String>,
    pub client: String,
    pub principal: Option<String>,
}

/// What scope a block applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockScope {
    Username,
    ClientIp,
    Principal,
}

impl BlockScope {
    fn as_str(self) -> &'static str {
        match self {
            BlockScope::Username => "username",
            BlockScope::ClientIp => "client_ip",
            BlockScope::Principal => "principal",
        }
    }
}

/// What to do with an attempt before forwarding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginVerdict {
    Allow,
    /// Forward after waiting this long.
    Delay(Duration),
    /// Refuse with 429.
    Blocked {
        rule: Arc<str>,
        scope: BlockScope,
        retry_after: Duration,
    },
}

impl LoginVerdict {
    /// The finding enforcing a block (429 with `Retry-After`).
    pub fn finding(&self) -> Option<Finding> {
        let LoginVerdict::Blocked {
            rule,
            scope,
            retry_after,
        } = self
        else {
            return None;
        };
        let secs = retry_after.as_secs().max(1);
        let enforcement = Enforcement::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed login attempts",
        )
        .with_header(http::header::RETRY_AFTER, HeaderValue::from(secs));
        Some(
            Finding::new(
                format!("palisade.bruteforce.{}.blocked", scope.as_str()),
                Category::BruteForce,
                Severity::Warning,
                Location::new("connection"),
                rule,
                format!(
                    "login rule {rule}: {} blocked after repeated failures",
                    scope.as_str()
                ),
            )
            .enforce(enforcement),
        )
    }
}

/// Login brute-force defence.
pub struct LoginGuard {
    rules: Vec<LoginRule>,
    counters: Arc<Counters>,
    ipv6_prefix: u8,
}

impl std::fmt::Debug for LoginGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginGuard")
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl LoginGuard {
    pub fn new(
        configs: &[LoginProtectionConfig],
        counters: Arc<Counters>,
    ) -> Result<Self, ConfigError> {
        let mut rules = Vec::new();
        for c in configs {
            let err = |m: String| ConfigError(format!("login protection {}: {m}", c.name));
            let method = Method::from_bytes(c.method.to_ascii_uppercase().as_bytes())
                .map_err(|_| err("invalid method".into()))?;
            let pattern = PathPattern::parse(&c.path, true).map_err(err)?;
            if let UsernameLocation::JsonPointer(p) = &c.username {
                if !p.is_empty() && !p.starts_with('/') {
                    return Err(err("json_pointer must start with `/`".into()));
                }
            }
            if c.max_failures_per_username == 0
                || c.max_failures_per_ip == 0
                || c.max_failures_per_principal == 0
            {
                return Err(err("failure limits must be at least 1".into()));
            }
            rules.push(LoginRule {
                config: c.clone(),
                method,
                pattern,
            });
        }
        Ok(LoginGuard {
            rules,
            counters,
            ipv6_prefix: 64,
        })
    }

    /// Whether a request is a login attempt of some rule (method and path only).
    pub fn is_login(&self, method: &Method, path: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.method == *method && r.pattern.matches(path))
    }

    /// Identifies a login attempt; reads the username from the buffered body.
    pub fn attempt(&self, tx: &Transaction) -> Option<LoginAttempt> {
        let (index, rule) =
            self.rules.iter().enumerate().find(|(_, r)| {
                r.method == tx.request.method && r.pattern.matches(tx.request.path())
            })?;
        let username = tx
            .request_body
            .as_deref()
            .and_then(|body| extract_username(body, &rule.config.username));
        Some(LoginAttempt {
            rule: index,
            rule_name: Arc::from(rule.config.name.as_str()),
            username_hash: username.map(|u| hash_username(&rule.config.name, &u)),
            client: client_key(tx.request.client_ip, self.ipv6_prefix),
            principal: tx.principal.as_ref().map(principal_key),
        })
    }

    fn keys(&self, attempt: &LoginAttempt) -> Vec<(BlockScope, String)> {
        let name = &attempt.rule_name;
        let mut keys = Vec::new();
        if let Some(u) = &attempt.username_hash {
            keys.push((BlockScope::Username, format!("bf:{name}:u:{u}")));
        }
        keys.push((
            BlockScope::ClientIp,
            format!("bf:{name}:ip:{}", attempt.client),
        ));
        if let Some(p) = &attempt.principal {
            keys.push((
                BlockScope::Principal,
                format!("bf:{name}:p:{}", short_hash(p)),
            ));
        }
        keys
    }

    /// Decides before forwarding.
    pub async fn check(&self, attempt: &LoginAttempt) -> LoginVerdict {
        let Some(rule) = self.rules.get(attempt.rule) else {
            return LoginVerdict::Allow;
        };
        let c = &rule.config;
        let mut worst = 0;
        for (scope, key) in self.keys(attempt) {
            if let Some(retry_after) = self
                .counters
                .block_remaining(&format!("{key}:block"), c.shared)
                .await
            {
                metrics::counter!("palisade_bruteforce_blocked_total", "rule" => c.name.clone())
                    .increment(1);
                return LoginVerdict::Blocked {
                    rule: Arc::clone(&attempt.rule_name),
                    scope,
                    retry_after,
                };
            }
            worst = worst.max(self.counters.get(&format!("{key}:fail"), c.shared).await);
        }
        if worst >= c.delay_after && c.delay_base_ms > 0 {
            let exponent = (worst - c.delay_after).min(20) as u32;
            let delay = c
                .delay_base_ms
                .saturating_mul(1u64 << exponent)
                .min(c.delay_max_ms);
            return LoginVerdict::Delay(Duration::from_millis(delay));
        }
        LoginVerdict::Allow
    }

    /// Records the upstream's answer; returns findings for the event.
    pub async fn record(&self, attempt: &LoginAttempt, status: u16) -> Vec<Finding> {
        let Some(rule) = self.rules.get(attempt.rule) else {
            return Vec::new();
        };
        let c = &rule.config;
        let mut findings = Vec::new();
        let window = Duration::from_secs(c.window_seconds.max(1));
        let keys = self.keys(attempt);
        if !c.failure_statuses.contains(&status) {
            if (200..300).contains(&status) {
                if let Some((_, key)) = keys.iter().find(|(s, _)| *s == BlockScope::Username) {
                    self.counters.delete(&format!("{key}:fail"), c.shared).await;
                }
            }
            return findings;
        }
        metrics::counter!("palisade_bruteforce_failures_total", "rule" => c.name.clone())
            .increment(1);
        for (scope, key) in &keys {
            let count = self
                .counters
                .incr(&format!("{key}:fail"), window, c.shared)
                .await;
            let max = match scope {
                BlockScope::Username => c.max_failures_per_username,
                BlockScope::ClientIp => c.max_failures_per_ip,
                BlockScope::Principal => c.max_failures_per_principal,
            };
            if count >= max {
                self.counters
                    .set_block(
                        &format!("{key}:block"),
                        Duration::from_secs(c.block_seconds.max(1)),
                        c.shared,
                    )
                    .await;
                if count == max {
                    findings.push(Finding::new(
                        format!("palisade.bruteforce.{}", scope.as_str()),
                        Category::BruteForce,
                        Severity::Warning,
                        Location::new("connection"),
                        &c.name,
                        format!(
                            "login rule {}: {count} failures for one {}; blocked for {}s",
                            c.name,
                            scope.as_str(),
                            c.block_seconds
                        ),
                    ));
                }
            }
        }
        if let Some(user) = &attempt.username_hash {
            let usernames = self
                .counters
                .add_distinct(
                    &format!("bf:{}:ip-users:{}", c.name, attempt.client),
                    user,
                    window,
                    c.shared,
                )
                .await;
            if usernames == c.distinct_usernames_per_ip + 1 {
                findings.push(Finding::new(
                    "palisade.bruteforce.credential_stuffing",
                    Category::AutomatedThreat,
                    Severity::Warning,
                    Location::new("connection"),
                    &c.name,
                    format!("one client failed logins on {usernames} distinct usernames"),
                ));
            }
            let ips = self
                .counters
                .add_distinct(
                    &format!("bf:{}:user-ips:{user}", c.name),
                    &attempt.client,
                    window,
                    c.shared,
                )
                .await;
            if ips == c.distinct_ips_per_username + 1 {
                findings.push(Finding::new(
                    "palisade.bruteforce.distributed",
                    Category::BruteForce,
                    Severity::Warning,
                    Location::new("connection"),
                    &c.name,
                    format!("one username failed logins from {ips} distinct clients"),
                ));
            }
        }
        findings
    }
}

/// Reads the username from a login body.
pub fn extract_username(body: &[u8], location: &UsernameLocation) -> Option<String> {
    let raw = match location {
        UsernameLocation::JsonPointer(pointer) => {
            let value: serde_json::Value = serde_json::from_slice(body).ok()?;
            match value.pointer(pointer)? {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return None,
            }
        }
        UsernameLocation::FormField(field) => {
            let text = std::str::from_utf8(body).ok()?;
            let mut found = None;
            for pair in text.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let k = form_decode(k);
                if k == *field {
                    found = Some(form_decode(v));
                    break;
                }
            }
            found?
        }
    };
    let normalised: String = raw
        .trim()
        .chars()
        .take(MAX_USERNAME)
        .flat_map(char::to_lowercase)
        .collect();
    (!normalised.is_empty()).then_some(normalised)
}

fn form_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn hash_username(rule: &str, username: &str) -> String {
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    h.update([0]);
    h.update(username.as_bytes());
    hex::encode(&h.finalize()[..16])
}

fn short_hash(s: &str) -> String {
    hex::encode(&Sha256::digest(s.as_bytes())[..16])
}

fn principal_key(p: &Principal) -> String {
    format!("{}|{}", p.issuer.as_deref().unwrap_or(""), p.subject)
}

/// One principal from many IPs, or one IP with many principals.
pub struct IdentitySpread {
    config: IdentitySpreadConfig,
    counters: Arc<Counters>,
    shared: bool,
    ipv6_prefix: u8,
}

impl std::fmt::Debug for IdentitySpread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentitySpread")
            .field("config", &self.config)
            .finish()
    }
}

impl IdentitySpread {
    pub fn new(config: IdentitySpreadConfig, counters: Arc<Counters>, shared: bool) -> Self {
        IdentitySpread {
            config,
            counters,
            shared,
            ipv6_prefix: 64,
        }
    }

    /// Records that `principal` used `client_ip`; returns findings the first
    /// time a threshold is crossed within the window.
    pub async fn observe(
        &self,
        principal: &Principal,
        client_ip: std::net::IpAddr,
    ) -> Vec<Finding> {
        let window = Duration::from_secs(self.config.window_seconds.max(1));
        let client = client_key(client_ip, self.ipv6_prefix);
        let who = short_hash(&principal_key(principal));
        let mut findings = Vec::new();
        let ips = self
            .counters
            .add_distinct(&format!("spread:p:{who}"), &client, window, self.shared)
            .await;
        if ips == self.config.max_ips_per_principal + 1 {
            findings.push(Finding::new(
                "palisade.abuse.principal_many_ips",
                Category::AutomatedThreat,
                Severity::Notice,
                Location::new("connection"),
                &principal.subject,
                format!("principal seen from {ips} distinct clients"),
            ));
        }
        let principals = self
            .counters
            .add_distinct(&format!("spread:ip:{client}"), &who, window, self.shared)
            .await;
        if principals == self.config.max_principals_per_ip + 1 {
            findings.push(Finding::new(
                "palisade.abuse.ip_many_principals",
                Category::AutomatedThreat,
                Severity::Notice,
                Location::new("connection"),
                &client,
                format!("one client used {principals} distinct principals"),
            ));
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn usernames_from_json_and_forms() {
        let json = UsernameLocation::JsonPointer("/user/email".into());
        assert_eq!(
            extract_username(br#"{"user":{"email":" Alice@Example.COM "}}"#, &json).as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(
            extract_username(br#"{"user":{"email":["x"]}}"#, &json),
            None
        );
        assert_eq!(extract_username(b"not json", &json), None);
        let form = UsernameLocation::FormField("username".into());
        assert_eq!(
            extract_username(b"password=x&username=bob%40example.com", &form).as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(
            extract_username(
                b"user+name=bob",
                &UsernameLocation::FormField("user name".into())
            )
            .as_deref(),
            Some("bob")
        );
        assert_eq!(extract_username(b"password=x", &form), None);
    }

    proptest! {
        #[test]
        fn extraction_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300), ptr in "\\PC{0,20}") {
            let _ = extract_username(&body, &UsernameLocation::JsonPointer(ptr.clone()));
            let _ = extract_username(&body, &UsernameLocation::FormField(ptr));
        }
    }
}
