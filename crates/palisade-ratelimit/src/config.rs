//! Configuration: the `[[rate_limits]]`, `[[login_protection]]`,
//! `[identity_spread]` and `[redis]` sections of `palisade.toml`.
//!
//! Every struct refuses unknown fields.

use serde::Deserialize;
use std::time::Duration;

/// One `[[rate_limits]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Unique name, used in metrics, findings and Redis keys.
    pub name: String,
    /// Path pattern (`/api/**`, `/api/users/*`); default: every path.
    #[serde(default = "default_path")]
    pub path: String,
    /// Methods the limit applies to; empty means all.
    #[serde(default)]
    pub methods: Vec<String>,
    /// What the limit is counted per: `ip`, `principal` (falls back to the
    /// client IP for anonymous requests), `api_key`, `route`, `method`,
    /// `path`, `header:<name>`, `claim:<name>`; several parts combine.
    #[serde(default = "default_key")]
    pub key: Vec<KeyPart>,
    /// Units admitted per period.
    pub rate: u64,
    /// `second`, `minute`, `hour`, `day`, `month` (30 days), or a duration
    /// such as `10s`, `15m`, `2h`, `7d`.
    #[serde(default = "default_period")]
    pub per: Period,
    /// Units that may be spent at once after a quiet period. Default: `rate`.
    #[serde(default)]
    pub burst: Option<u64>,
    /// Units one request costs (cost-weighted quotas).
    #[serde(default = "default_cost")]
    pub cost: u64,
    /// Take the rate from this principal claim when present (`100/minute`);
    /// API keys carry their own limit in the `rate_limit` claim.
    #[serde(default)]
    pub rate_from_claim: Option<String>,
    /// Count in Redis when `[redis]` is configured (default true).
    #[serde(default = "default_true")]
    pub shared: bool,
    /// Which rate-limit fields responses carry: `current` (default),
    /// `legacy`, `both` or `none` (see [`HeaderStyle`]).
    #[serde(default)]
    pub headers: HeaderStyle,
}

/// The rate-limit response fields of a limit. `Retry-After` is sent on
/// every refusal whatever the style.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeaderStyle {
    /// draft-ietf-httpapi-ratelimit-headers-10: `RateLimit-Policy:
    /// "<name>";q=<rate>;w=<seconds>` and `RateLimit: "<name>";r=<remaining>;t=<seconds>`.
    #[default]
    Current,
    /// The separate fields of the drafts up to -06, still read by many
    /// clients: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
    /// and `RateLimit-Policy: <rate>;w=<seconds>;burst=<burst>`.
    Legacy,
    /// The current fields plus the legacy `RateLimit-Limit`,
    /// `RateLimit-Remaining` and `RateLimit-Reset` (one `RateLimit-Policy`,
    /// the current one).
    Both,
    /// No rate-limit fields.
    None,
}

fn default_path() -> String {
    "/**".into()
}
fn default_key() -> Vec<KeyPart> {
    vec![KeyPart::Principal]
}
fn default_period() -> Period {
    Period(Duration::from_secs(1))
}
fn default_cost() -> u64 {
    1
}
fn default_true() -> bool {
    true
}

/// One component of a rate-limit key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum KeyPart {
    /// Client IP (after trusted-proxy resolution); IPv6 by prefix (/64 default).
    Ip,
    /// Principal subject and issuer; the client IP for anonymous requests.
    Principal,
    /// API key id; the limit does not apply to requests without an API key.
    ApiKey,
    /// Route name.
    Route,
    Method,
    /// Normalised request path.
    Path,
    /// A request header value (absent: empty).
    Header(String),
    /// A principal claim; the limit does not apply when it is absent.
    Claim(String),
}

impl TryFrom<String> for KeyPart {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Ok(match s.as_str() {
            "ip" => KeyPart::Ip,
            "principal" => KeyPart::Principal,
            "api_key" => KeyPart::ApiKey,
            "route" => KeyPart::Route,
            "method" => KeyPart::Method,
            "path" => KeyPart::Path,
            other => {
                if let Some(h) = other.strip_prefix("header:").filter(|h| !h.is_empty()) {
                    KeyPart::Header(h.to_ascii_lowercase())
                } else if let Some(c) = other.strip_prefix("claim:").filter(|c| !c.is_empty()) {
                    KeyPart::Claim(c.to_owned())
                } else {
                    return Err(format!(
                        "unknown rate-limit key `{other}` (ip, principal, api_key, route, method, path, header:<name>, claim:<name>)"
                    ));
                }
            }
        })
    }
}

/// A period of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Period(pub Duration);

impl TryFrom<String> for Period {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_period(&s).map(Period)
    }
}

/// Parses `second`, `minute`, `hour`, `day`, `month` or `<n>(ms|s|m|h|d)`.
pub fn parse_period(s: &str) -> Result<Duration, String> {
    let secs = match s {
        "second" | "sec" | "s" => return Ok(Duration::from_secs(1)),
        "minute" | "min" | "m" => return Ok(Duration::from_secs(60)),
        "hour" | "h" => return Ok(Duration::from_secs(3600)),
        "day" | "d" => return Ok(Duration::from_secs(86_400)),
        "month" => return Ok(Duration::from_secs(30 * 86_400)),
        _ => s,
    };
    let split = secs
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(secs.len());
    let (num, unit) = secs.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("invalid period `{s}`"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        "d" => Duration::from_secs(n.saturating_mul(86_400)),
        _ => return Err(format!("invalid period `{s}`")),
    };
    if d.is_zero() {
        return Err(format!("period `{s}` is zero"));
    }
    Ok(d)
}

/// Parses a rate such as `100/minute` or `5/10s`.
pub fn parse_rate(s: &str) -> Option<(u64, Duration)> {
    let (n, per) = s.split_once('/')?;
    let n: u64 = n.trim().parse().ok()?;
    if n == 0 {
        return None;
    }
    Some((n, parse_period(per.trim()).ok()?))
}

/// The `[redis]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:port[/db]` (or `rediss://` when the redis crate supports it).
    pub url: String,
    /// Prefix of every key written.
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
    /// What shared limits do while Redis is unreachable.
    #[serde(default)]
    pub on_error: FailurePolicy,
    #[serde(default = "default_redis_timeout")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_redis_timeout")]
    pub response_timeout_ms: u64,
    /// After a failure, requests use the failure policy for this long before
    /// Redis is tried again (keeps latency flat while Redis is down).
    #[serde(default = "default_retry_interval")]
    pub retry_interval_ms: u64,
}

fn default_prefix() -> String {
    "palisade:".into()
}
fn default_redis_timeout() -> u64 {
    250
}
fn default_retry_interval() -> u64 {
    1000
}

/// Behaviour of shared limits when Redis is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Keep serving, enforcing the same limits per instance (in process).
    #[default]
    FailOpen,
    /// Refuse requests governed by shared limits with 503.
    FailClosed,
}

/// One `[[login_protection]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginProtectionConfig {
    pub name: String,
    #[serde(default = "default_login_method")]
    pub method: String,
    /// Path pattern of the login operation.
    pub path: String,
    /// Where the username is in the request body.
    pub username: UsernameLocation,
    /// Upstream statuses that count as a failed login.
    #[serde(default = "default_failure_statuses")]
    pub failure_statuses: Vec<u16>,
    /// Failures are counted over this window (from the first failure).
    #[serde(default = "default_window")]
    pub window_seconds: u64,
    /// Failures for one username before it is blocked.
    #[serde(default = "default_per_username")]
    pub max_failures_per_username: u64,
    /// Failures from one client IP before it is blocked.
    #[serde(default = "default_per_ip")]
    pub max_failures_per_ip: u64,
    /// Failures by one authenticated principal before it is blocked.
    #[serde(default = "default_per_ip")]
    pub max_failures_per_principal: u64,
    /// Failures (of the username or IP) after which each attempt is delayed.
    #[serde(default = "default_delay_after")]
    pub delay_after: u64,
    /// First delay; doubles with each further failure.
    #[serde(default = "default_delay_base")]
    pub delay_base_ms: u64,
    #[serde(default = "default_delay_max")]
    pub delay_max_ms: u64,
    /// How long a block lasts.
    #[serde(default = "default_window")]
    pub block_seconds: u64,
    /// Credential stuffing: distinct usernames failing from one IP in the window.
    #[serde(default = "default_distinct_usernames")]
    pub distinct_usernames_per_ip: u64,
    /// Distributed guessing: distinct IPs failing on one username in the window.
    #[serde(default = "default_distinct_ips")]
    pub distinct_ips_per_username: u64,
    /// Use Redis when configured (default true).
    #[serde(default = "default_true")]
    pub shared: bool,
}

/// Where the username of a login request is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum UsernameLocation {
    /// RFC 6901 pointer into a JSON body (`/username`, `/user/email`).
    JsonPointer(String),
    /// A field of an `application/x-www-form-urlencoded` body.
    FormField(String),
}

fn default_login_method() -> String {
    "POST".into()
}
fn default_failure_statuses() -> Vec<u16> {
    vec![401, 403]
}
fn default_window() -> u64 {
    900
}
fn default_per_username() -> u64 {
    5
}
fn default_per_ip() -> u64 {
    20
}
fn default_delay_after() -> u64 {
    3
}
fn default_delay_base() -> u64 {
    250
}
fn default_delay_max() -> u64 {
    4000
}
fn default_distinct_usernames() -> u64 {
    10
}
fn default_distinct_ips() -> u64 {
    10
}

/// The `[identity_spread]` section: one principal seen from unusually many
/// IPs, or one IP carrying unusually many principals.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySpreadConfig {
    #[serde(default = "default_spread_window")]
    pub window_seconds: u64,
    #[serde(default = "default_spread_threshold")]
    pub max_ips_per_principal: u64,
    #[serde(default = "default_spread_threshold")]
    pub max_principals_per_ip: u64,
}

impl Default for IdentitySpreadConfig {
    fn default() -> Self {
        IdentitySpreadConfig {
            window_seconds: default_spread_window(),
            max_ips_per_principal: default_spread_threshold(),
            max_principals_per_ip: default_spread_threshold(),
        }
    }
}

fn default_spread_window() -> u64 {
    3600
}
fn default_spread_threshold() -> u64 {
    20
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_and_rates() {
        assert_eq!(parse_period("second").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_period("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_period("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_period("0s").is_err());
        assert!(parse_period("fortnight").is_err());
        assert_eq!(
            parse_rate("100/minute"),
            Some((100, Duration::from_secs(60)))
        );
        assert_eq!(parse_rate("0/minute"), None);
        assert_eq!(parse_rate("x/minute"), None);
    }

    #[test]
    fn key_parts() {
        let c: RateLimitConfig = toml::from_str(
            "name = \"a\"\nrate = 5\nkey = [\"ip\", \"header:X-Tenant\", \"claim:org\"]\n",
        )
        .unwrap();
        assert_eq!(
            c.key,
            vec![
                KeyPart::Ip,
                KeyPart::Header("x-tenant".into()),
                KeyPart::Claim("org".into())
            ]
        );
        assert!(
            toml::from_str::<RateLimitConfig>("name = \"a\"\nrate = 5\nkey = [\"cookie\"]\n")
                .is_err()
        );
        assert!(toml::from_str::<RateLimitConfig>("name = \"a\"\nrate = 5\nburts = 5\n").is_err());
        let l: LoginProtectionConfig = toml::from_str(
            "name = \"l\"\npath = \"/login\"\nusername = { json_pointer = \"/user\" }\n",
        )
        .unwrap();
        assert_eq!(l.username, UsernameLocation::JsonPointer("/user".into()));
    }
}
