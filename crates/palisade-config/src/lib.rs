//! Palisade's configuration: typed TOML with `deny_unknown_fields` everywhere, so a
//! typo is an error that names the file and line instead of a silently ignored key.
//!
//! [`Config::from_toml`] parses and [`Config::validate`] checks what the types
//! alone cannot (references between sections, sane limits). The command-line
//! flags of `palisade serve` are applied on top with [`Config::apply_overrides`].
//! Every field is documented here; `docs/CONFIG.md` shows a complete example.

mod units;

pub use units::{parse_size, parse_span, Size, Span};

use ipnet::IpNet;
use palisade_core::{Exclusion, Mode};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub use palisade_tls::{ServerTlsConfig, UpstreamTlsConfig};

/// The whole gateway configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Worker threads serving client connections, each with its own event loop
    /// and upstream connection pool. 0 (the default) starts one per CPU core.
    #[serde(default)]
    pub workers: usize,
    /// Whether each worker is pinned to a CPU of its own.
    #[serde(default)]
    pub worker_pinning: WorkerPinning,
    /// Where clients connect. Default: one plain listener on 127.0.0.1:8080.
    #[serde(default)]
    pub listeners: Vec<ListenerConfig>,
    /// The admin listener (`/metrics`, `/healthz`, `/readyz`, `/reload`).
    #[serde(default)]
    pub admin: AdminConfig,
    /// Named upstream clusters.
    #[serde(default)]
    pub upstreams: Vec<UpstreamConfig>,
    /// Routes, matched by host and longest path prefix.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Protocol and resource limits (DoS defence).
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Peers whose `X-Forwarded-For`/`Forwarded` headers are believed.
    #[serde(default)]
    pub trusted_proxies: Vec<IpNet>,
    /// Default decision settings; routes may override them.
    #[serde(default)]
    pub decision: DecisionConfig,
    /// Response hygiene: header stripping, error scrubbing, security headers.
    #[serde(default)]
    pub response: ResponseConfig,
    /// Native injection detectors (on by default).
    #[serde(default)]
    pub detect: DetectConfig,
    /// An OpenAPI description enforced on every route that has none of its own.
    #[serde(default)]
    pub openapi: Option<OpenApiConfig>,
    /// Where security events are recorded (SQLite store, JSON lines).
    #[serde(default)]
    pub events: Option<palisade_events::EventsConfig>,
    /// The OWASP Core Rule Set (or any SecLang rules) run by the native SecLang engine.
    #[serde(default)]
    pub crs: Option<palisade_waf::WafConfig>,
    /// Authentication and authorization at the gateway (JWT, API keys, introspection,
    /// signed requests, mTLS principals, rules). See `palisade_auth::AuthConfig`.
    #[serde(default)]
    pub auth: Option<palisade_auth::AuthConfig>,
    /// Redis shared by several gateways for limits and brute-force counters.
    #[serde(default)]
    pub redis: Option<palisade_ratelimit::RedisConfig>,
    /// Rate limits and quotas (GCRA).
    #[serde(default)]
    pub rate_limits: Vec<palisade_ratelimit::RateLimitConfig>,
    /// Brute-force and credential-stuffing defence on login operations.
    #[serde(default)]
    pub login_protection: Vec<palisade_ratelimit::LoginProtectionConfig>,
    /// Events for one principal seen from many addresses, or one address with many principals.
    #[serde(default)]
    pub identity_spread: Option<palisade_ratelimit::IdentitySpreadConfig>,
}

/// The native detectors of `palisade-detect`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Tuning of the native detector; see `palisade_detect::NativeConfig`.
    #[serde(default)]
    pub native: palisade_detect::NativeConfig,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            enabled: true,
            native: palisade_detect::NativeConfig::default(),
        }
    }
}

/// OpenAPI positive security: the document and what to do with what it does not allow.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenApiConfig {
    /// OpenAPI 3.0 or 3.1 document, YAML or JSON. Relative paths are relative to the config file.
    pub spec: PathBuf,
    /// Enforcement modes and limits; `x-palisade-*` extensions in the document take precedence.
    #[serde(default)]
    pub policy: palisade_openapi::OpenApiPolicy,
}

/// One listening socket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    pub address: SocketAddr,
    /// TLS: certificates chosen by SNI, TLS 1.2+ only, HTTP/2 through ALPN, optional mTLS.
    #[serde(default)]
    pub tls: Option<ServerTlsConfig>,
    /// `Strict-Transport-Security` max-age sent on responses of a TLS listener; `0` disables it.
    #[serde(default = "default_hsts")]
    pub hsts_max_age: Span,
    /// Time allowed for a TLS handshake.
    #[serde(default = "default_handshake_timeout")]
    pub tls_handshake_timeout: Span,
    /// Answer every request on this (plain) listener with a redirect to HTTPS on this port.
    #[serde(default)]
    pub redirect_to_https_port: Option<u16>,
}

impl ListenerConfig {
    pub fn plain(address: SocketAddr) -> Self {
        ListenerConfig {
            address,
            tls: None,
            hsts_max_age: default_hsts(),
            tls_handshake_timeout: default_handshake_timeout(),
            redirect_to_https_port: None,
        }
    }
}

fn default_hsts() -> Span {
    Span::secs(31_536_000)
}
fn default_handshake_timeout() -> Span {
    Span::secs(10)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of the admin listener; loopback by default. `enabled = false` turns it off.
    #[serde(default = "default_admin_addr")]
    pub address: SocketAddr,
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            address: default_admin_addr(),
            enabled: true,
        }
    }
}

fn default_admin_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9901))
}
fn yes() -> bool {
    true
}

/// A named group of upstream servers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    pub name: String,
    /// `http://host:port` or `https://host:port`, used round robin.
    pub addresses: Vec<String>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Span,
    /// Time allowed for the upstream's response head.
    #[serde(default = "default_read_timeout")]
    pub read_timeout: Span,
    /// Consecutive failures after which an address is taken out of rotation.
    #[serde(default = "default_eject_failures")]
    pub eject_after_failures: u32,
    /// How long an ejected address stays out.
    #[serde(default = "default_eject_time")]
    pub eject_for: Span,
    /// TLS towards the upstream (for `https://` addresses).
    #[serde(default)]
    pub tls: Option<UpstreamTlsConfig>,
    /// Idle pooled connections kept per address.
    #[serde(default = "default_pool_idle")]
    pub pool_max_idle: usize,
}

fn default_connect_timeout() -> Span {
    Span::secs(5)
}
fn default_read_timeout() -> Span {
    Span::secs(30)
}
fn default_eject_failures() -> u32 {
    5
}
fn default_eject_time() -> Span {
    Span::secs(10)
}
fn default_pool_idle() -> usize {
    256
}

/// What to do with a body larger than the inspection cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OverCap {
    /// Refuse with 413.
    #[default]
    Block,
    /// Forward without inspection; an event records it.
    Stream,
}

/// A route: requests whose host and path match go to `upstream` under these rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub name: String,
    /// Host to match (`api.example.com` or `*.example.com`); any host when absent.
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default = "default_prefix")]
    pub path_prefix: String,
    pub upstream: String,
    #[serde(default)]
    pub mode: Option<Mode>,
    #[serde(default)]
    pub inbound_threshold: Option<u32>,
    #[serde(default)]
    pub outbound_threshold: Option<u32>,
    /// Allowed methods; any when empty.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Allowed request media types (`application/json`, `multipart/form-data`...); any when empty.
    #[serde(default)]
    pub content_types: Vec<String>,
    #[serde(default)]
    pub max_body: Option<Size>,
    #[serde(default)]
    pub inspect_body: Option<Size>,
    #[serde(default)]
    pub over_inspect_cap: Option<OverCap>,
    /// False-positive exclusions for this route, added to the global ones.
    #[serde(default)]
    pub exclusions: Vec<Exclusion>,
    /// OpenAPI description for this route, replacing the global one.
    #[serde(default)]
    pub openapi: Option<OpenApiConfig>,
}

fn default_prefix() -> String {
    "/".into()
}

/// Protocol and resource limits. All are on by default.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request head (request line + headers).
    pub max_header_bytes: Size,
    pub max_header_count: usize,
    pub max_uri_bytes: Size,
    /// Largest request body accepted (413 above).
    pub max_body: Size,
    /// Bodies up to this size are buffered and inspected before forwarding.
    pub inspect_body: Size,
    pub over_inspect_cap: OverCap,
    /// Largest response body buffered for inspection.
    pub inspect_response: Size,
    /// The request head must arrive within this time (slowloris defence).
    /// On HTTP/1.1 keep-alive connections this is also the idle timeout between requests.
    pub header_read_timeout: Span,
    /// Minimum request-body rate once `body_grace` has passed (slow POST defence).
    pub min_body_rate: Size,
    pub body_grace: Span,
    /// A connection with no traffic in either direction for this long is closed.
    pub idle_timeout: Span,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub h2_max_concurrent_streams: u32,
    /// Streams a client may reset before the connection is closed (rapid-reset defence).
    pub h2_max_pending_resets: usize,
    pub json_max_depth: usize,
    pub json_max_keys: usize,
    /// Time allowed for a request to be fully handled when draining on shutdown.
    pub drain_timeout: Span,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_header_bytes: Size(32 * 1024),
            max_header_count: 100,
            max_uri_bytes: Size(8 * 1024),
            max_body: Size(10 << 20),
            inspect_body: Size(1 << 20),
            over_inspect_cap: OverCap::Block,
            inspect_response: Size(1 << 20),
            header_read_timeout: Span::secs(20),
            min_body_rate: Size(1024),
            body_grace: Span::secs(5),
            idle_timeout: Span::secs(120),
            max_connections: 20_000,
            max_connections_per_ip: 512,
            h2_max_concurrent_streams: 128,
            h2_max_pending_resets: 32,
            json_max_depth: 64,
            json_max_keys: 10_000,
            drain_timeout: Span::secs(30),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecisionConfig {
    pub mode: Mode,
    pub inbound_threshold: u32,
    pub outbound_threshold: u32,
    pub exclusions: Vec<Exclusion>,
}

impl Default for DecisionConfig {
    fn default() -> Self {
        let p = palisade_core::DecisionPolicy::default();
        DecisionConfig {
            mode: p.mode,
            inbound_threshold: p.inbound_threshold,
            outbound_threshold: p.outbound_threshold,
            exclusions: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResponseConfig {
    /// Response headers removed before the client sees them.
    pub strip_headers: Vec<String>,
    /// Replace upstream 5xx bodies that leak stack traces, SQL errors or paths.
    pub scrub_errors: bool,
    /// Add `X-Content-Type-Options: nosniff`.
    pub nosniff: bool,
}

impl Default for ResponseConfig {
    fn default() -> Self {
        ResponseConfig {
            strip_headers: [
                "server",
                "x-powered-by",
                "x-aspnet-version",
                "x-aspnetmvc-version",
                "x-runtime",
                "x-version",
                "x-generator",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            scrub_errors: true,
            nosniff: true,
        }
    }
}

/// A configuration error, with the file and line where it was found when known.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        file: String,
        line: Option<usize>,
        message: String,
    },
}

/// Command-line values that override the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    /// `--openapi FILE`: the global OpenAPI description.
    pub openapi: Option<PathBuf>,
    /// `--redis URL`: share limits through this Redis.
    pub redis: Option<String>,
    /// `--crs DIR`: run the Core Rule Set found there.
    pub crs: Option<PathBuf>,
    /// `--paranoia N`: CRS paranoia level.
    pub paranoia: Option<u8>,
    pub upstream: Option<String>,
    pub mode: Option<Mode>,
    pub admin: Option<SocketAddr>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.display().to_string(),
            source,
        })?;
        let config = Config::from_toml(&text, &path.display().to_string())?;
        config.validate(&text, &path.display().to_string())?;
        Ok(config)
    }

    /// Parses TOML text; `file` names it in errors. Does not validate.
    pub fn from_toml(text: &str, file: &str) -> Result<Config, ConfigError> {
        toml::from_str::<Config>(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
            ConfigError::Syntax {
                file: file.to_string(),
                line,
                column,
                message: e.message().to_string(),
            }
        })
    }

    /// Applies command-line overrides: `--upstream` replaces the upstreams with one
    /// named `default` and adds a catch-all route to it when no route exists.
    pub fn apply_overrides(&mut self, o: &Overrides) {
        if let Some(listen) = o.listen {
            match self.listeners.first_mut() {
                Some(l) => l.address = listen,
                None => self.listeners.push(ListenerConfig::plain(listen)),
            }
        }
        if let Some(up) = &o.upstream {
            if self.upstreams.is_empty() {
                self.upstreams.push(UpstreamConfig::single("default", up));
            } else {
                // An explicit --upstream wins over the addresses in the file.
                for u in &mut self.upstreams {
                    u.addresses = vec![up.clone()];
                }
            }
            if self.routes.is_empty() {
                self.routes
                    .push(RouteConfig::catch_all("default", "default"));
            }
        }
        if let Some(mode) = o.mode {
            self.decision.mode = mode;
            for r in &mut self.routes {
                r.mode = None;
            }
        }
        if let Some(spec) = &o.openapi {
            let policy = self.openapi.take().map(|o| o.policy).unwrap_or_default();
            self.openapi = Some(OpenApiConfig {
                spec: spec.clone(),
                policy,
            });
        }
        if let Some(dir) = &o.crs {
            let mut crs = self.crs.take().unwrap_or_default();
            crs.rules_dir = Some(dir.clone());
            self.crs = Some(crs);
        }
        if let (Some(level), Some(crs)) = (o.paranoia, self.crs.as_mut()) {
            crs.paranoia = level;
        }
        if let Some(url) = &o.redis {
            match &mut self.redis {
                Some(r) => r.url = url.clone(),
                None => {
                    let text = format!("url = {}", toml::Value::String(url.clone()));
                    self.redis = toml::from_str(&text).ok();
                }
            }
        }
        if let Some(admin) = o.admin {
            self.admin.address = admin;
            self.admin.enabled = true;
        }
        if self.listeners.is_empty() {
            self.listeners.push(ListenerConfig::plain(SocketAddr::from((
                [127, 0, 0, 1],
                8080,
            ))));
        }
    }

    /// Checks what the types cannot: references, names, sane limits.
    pub fn validate(&self, text: &str, file: &str) -> Result<(), ConfigError> {
        let err = |needle: &str, message: String| ConfigError::Invalid {
            file: file.to_string(),
            line: find_line(text, needle),
            message,
        };
        let mut names = std::collections::HashSet::new();
        for u in &self.upstreams {
            if !names.insert(u.name.as_str()) {
                return Err(err(
                    &u.name,
                    format!("upstream `{}` is defined twice", u.name),
                ));
            }
            if u.addresses.is_empty() {
                return Err(err(
                    &u.name,
                    format!("upstream `{}` has no addresses", u.name),
                ));
            }
            for a in &u.addresses {
                validate_upstream_url(a)
                    .map_err(|m| err(a, format!("upstream `{}`: {m}", u.name)))?;
            }
        }
        let mut route_names = std::collections::HashSet::new();
        for r in &self.routes {
            if !route_names.insert(r.name.as_str()) {
                return Err(err(&r.name, format!("route `{}` is defined twice", r.name)));
            }
            if !self.upstreams.iter().any(|u| u.name == r.upstream) {
                return Err(err(
                    &r.upstream,
                    format!("route `{}` names unknown upstream `{}`", r.name, r.upstream),
                ));
            }
            if !r.path_prefix.starts_with('/') {
                return Err(err(
                    &r.path_prefix,
                    format!("route `{}`: path_prefix must start with `/`", r.name),
                ));
            }
            for m in &r.methods {
                if http::Method::from_bytes(m.as_bytes()).is_err() {
                    return Err(err(
                        m,
                        format!("route `{}`: `{m}` is not an HTTP method", r.name),
                    ));
                }
            }
        }
        for l in &self.listeners {
            if let Some(tls) = &l.tls {
                if tls.certificates.is_empty() {
                    return Err(err(
                        "certificates",
                        format!("listener {}: TLS needs at least one certificate", l.address),
                    ));
                }
            }
        }
        let lim = &self.limits;
        if lim.inspect_body > lim.max_body {
            return Err(err(
                "inspect_body",
                "limits.inspect_body is larger than limits.max_body".into(),
            ));
        }
        if lim.max_connections == 0 || lim.max_connections_per_ip == 0 {
            return Err(err(
                "max_connections",
                "connection limits must be at least 1".into(),
            ));
        }
        if lim.max_header_bytes.0 < 1024 {
            return Err(err(
                "max_header_bytes",
                "limits.max_header_bytes must be at least 1KiB".into(),
            ));
        }
        if lim.json_max_depth == 0 {
            return Err(err(
                "json_max_depth",
                "limits.json_max_depth must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

impl UpstreamConfig {
    pub fn single(name: &str, address: &str) -> Self {
        UpstreamConfig {
            name: name.into(),
            addresses: vec![address.into()],
            connect_timeout: default_connect_timeout(),
            read_timeout: default_read_timeout(),
            eject_after_failures: default_eject_failures(),
            eject_for: default_eject_time(),
            tls: None,
            pool_max_idle: default_pool_idle(),
        }
    }
}

impl RouteConfig {
    pub fn catch_all(name: &str, upstream: &str) -> Self {
        RouteConfig {
            name: name.into(),
            host: None,
            path_prefix: "/".into(),
            upstream: upstream.into(),
            mode: None,
            inbound_threshold: None,
            outbound_threshold: None,
            methods: Vec::new(),
            content_types: Vec::new(),
            max_body: None,
            inspect_body: None,
            over_inspect_cap: None,
            exclusions: Vec::new(),
            openapi: None,
        }
    }
}

/// Checks an upstream address is `http(s)://host:port` with no path.
pub fn validate_upstream_url(a: &str) -> Result<(), String> {
    let uri: http::Uri = a.parse().map_err(|e| format!("`{a}` is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(format!("`{a}` must start with http:// or https://")),
    }
    if uri.host().is_none() {
        return Err(format!("`{a}` has no host"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(format!("`{a}` must not have a path or query"));
    }
    Ok(())
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map(|p| before.len() - p)
        .unwrap_or(before.len() + 1);
    (line, column)
}

/// Best-effort line of the first occurrence of `needle` (for semantic errors).
fn find_line(text: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_line() {
        let text = "[limits]\nmax_body = \"1MiB\"\nmax_bodyy = 3\n";
        let e = Config::from_toml(text, "p.toml").unwrap_err().to_string();
        assert!(e.starts_with("p.toml:3:"), "{e}");
        assert!(e.contains("max_bodyy"), "{e}");
    }

    #[test]
    fn workers_are_pinned_unless_turned_off() {
        let pinned = Config::from_toml("workers = 2\n", "p.toml").unwrap();
        assert_eq!(pinned.worker_pinning, WorkerPinning::Cores);
        let off = Config::from_toml("worker_pinning = \"off\"\n", "p.toml").unwrap();
        assert_eq!(off.worker_pinning, WorkerPinning::Off);
        let e = Config::from_toml("worker_pinning = \"numa\"\n", "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml:1:") && e.contains("numa"), "{e}");
    }

    #[test]
    fn full_example_parses_and_validates() {
        let text = r#"
trusted_proxies = ["10.0.0.0/8", "::1/128"]
[[listeners]]
address = "127.0.0.1:8443"
[listeners.tls]
certificates = [{ cert = "c.pem", key = "k.pem", server_names = ["api.test"] }]
min_version = "1.3"

[[upstreams]]
name = "api"
addresses = ["http://127.0.0.1:5000", "http://127.0.0.1:5001"]
read_timeout = "15s"

[[routes]]
name = "api"
path_prefix = "/api"
upstream = "api"
mode = "monitor"
methods = ["GET", "POST"]
max_body = "64KiB"
exclusions = [{ rule = "942100", location = "json.$.comment" }]

[limits]
max_body = "2MiB"
inspect_body = "1MiB"
header_read_timeout = "10s"

[decision]
mode = "block"
inbound_threshold = 5
"#;
        let c = Config::from_toml(text, "x.toml").unwrap();
        c.validate(text, "x.toml").unwrap();
        assert_eq!(c.routes[0].max_body, Some(Size(65536)));
        assert_eq!(c.routes[0].mode, Some(Mode::Monitor));
        assert_eq!(c.upstreams[0].read_timeout, Span::secs(15));
    }

    #[test]
    fn semantic_errors_name_line() {
        let text = "[[upstreams]]\nname = \"a\"\naddresses = [\"http://127.0.0.1:1\"]\n[[routes]]\nname = \"r\"\nupstream = \"nope\"\n";
        let c = Config::from_toml(text, "f.toml").unwrap();
        let e = c.validate(text, "f.toml").unwrap_err().to_string();
        assert_eq!(e, "f.toml:6: route `r` names unknown upstream `nope`");
    }

    #[test]
    fn bad_upstream_url() {
        assert!(validate_upstream_url("ftp://x").is_err());
        assert!(validate_upstream_url("http://127.0.0.1:80/path").is_err());
        assert!(validate_upstream_url("http://127.0.0.1:5000").is_ok());
    }

    #[test]
    fn overrides_make_a_zero_config_gateway() {
        let mut c = Config::default();
        c.apply_overrides(&Overrides {
            listen: Some("127.0.0.1:1234".parse().unwrap()),
            upstream: Some("http://127.0.0.1:5000".into()),
            mode: Some(Mode::Monitor),
            ..Overrides::default()
        });
        assert_eq!(c.listeners[0].address.port(), 1234);
        assert_eq!(c.routes[0].upstream, "default");
        assert_eq!(c.decision.mode, Mode::Monitor);
        c.validate("", "-").unwrap();
    }

    #[test]
    fn inspect_cap_above_body_limit_is_refused() {
        let text = "[limits]\nmax_body = \"1KiB\"\ninspect_body = \"2KiB\"\n";
        let c = Config::from_toml(text, "f").unwrap();
        assert!(c.validate(text, "f").is_err());
    }
}

/// Where worker threads run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WorkerPinning {
    /// Worker N runs only on the N-th CPU this process may use, when there
    /// are no more workers than such CPUs (otherwise as `off`). Left to
    /// itself the scheduler can keep two busy workers on one core while
    /// another core idles.
    #[default]
    Cores,
    /// Workers run wherever the scheduler puts them: for hosts where other
    /// busy processes share the cores.
    Off,
}
