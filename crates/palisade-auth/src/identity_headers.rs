//! Identity headers forwarded to the upstream.
//!
//! The upstream trusts these headers, so a client must never be able to set
//! them: every configured name is removed from the request first, whether or
//! not a principal was verified, and only then are the verified values added.

use crate::config::IdentityHeadersConfig;
use crate::error::ConfigError;
use http::{HeaderMap, HeaderName, HeaderValue};
use palisade_core::{Principal, PrincipalKind};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Compiled identity header names.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    subject: Option<HeaderName>,
    issuer: Option<HeaderName>,
    scopes: Option<HeaderName>,
    kind: Option<HeaderName>,
    claims: Vec<(String, HeaderName)>,
    /// Removed from every request: the configured `strip` names and the
    /// default names of fields not forwarded (an upstream may once have been
    /// told to trust them).
    strip: Vec<HeaderName>,
    /// Tells this configuration's memo apart from another's (see [`Built`]).
    id: usize,
    /// Bit `n` set when an owned name is `n` bytes long (63: longer): most
    /// request headers are ruled out by their length alone.
    owned_lengths: u64,
}

/// The names Palisade's identity fields have by default, removed from every
/// request whatever is forwarded.
const DEFAULT_NAMES: [&str; 4] = [
    "x-palisade-subject",
    "x-palisade-issuer",
    "x-palisade-scopes",
    "x-palisade-auth-kind",
];

fn length_bit(name: &HeaderName) -> u64 {
    1 << name.as_str().len().min(63)
}

/// A validated name with a `'static` spelling, so that setting it on a
/// request copies a pointer (see [`palisade_core::intern`]).
fn header_name(name: &str) -> Result<HeaderName, ConfigError> {
    let lower = name.to_ascii_lowercase();
    HeaderName::from_bytes(lower.as_bytes())
        .map_err(|_| ConfigError::Invalid(format!("invalid identity header name `{name}`")))?;
    Ok(HeaderName::from_static(palisade_core::intern(&lower)))
}

/// A forwarded field's header, or none when its name is empty.
fn forwarded(name: &str) -> Result<Option<HeaderName>, ConfigError> {
    if name.is_empty() {
        return Ok(None);
    }
    header_name(name).map(Some)
}

impl IdentityHeaders {
    pub fn from_config(config: &IdentityHeadersConfig) -> Result<Self, ConfigError> {
        let mut strip: Vec<HeaderName> = config
            .strip
            .iter()
            .map(String::as_str)
            .chain(DEFAULT_NAMES)
            .map(header_name)
            .collect::<Result<_, _>>()?;
        let mut headers = IdentityHeaders {
            subject: forwarded(&config.subject)?,
            issuer: forwarded(&config.issuer)?,
            scopes: forwarded(&config.scopes)?,
            kind: forwarded(&config.kind)?,
            claims: config
                .claims
                .iter()
                .map(|(claim, name)| Ok((claim.clone(), header_name(name)?)))
                .collect::<Result<_, ConfigError>>()?,
            strip: Vec::new(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            owned_lengths: 0,
        };
        // Each name compared once per request header, however often named.
        strip.retain(|n| !headers.forwarded_names().any(|f| f == n));
        strip.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        strip.dedup();
        headers.strip = strip;
        headers.owned_lengths = headers
            .owned_names()
            .fold(0, |bits, n| bits | length_bit(n));
        Ok(headers)
    }

    /// The names that carry a verified value upstream.
    fn forwarded_names(&self) -> impl Iterator<Item = &HeaderName> {
        [&self.subject, &self.issuer, &self.scopes, &self.kind]
            .into_iter()
            .flatten()
            .chain(self.claims.iter().map(|(_, n)| n))
    }

    /// Every header name this gateway owns on the upstream request.
    pub fn owned_names(&self) -> impl Iterator<Item = &HeaderName> {
        self.forwarded_names().chain(self.strip.iter())
    }

    /// Removes client-supplied copies of the identity headers, then sets the
    /// verified ones. Values that cannot be carried in a header (control
    /// characters) are percent-encoded rather than dropped silently.
    pub fn apply(&self, headers: &mut HeaderMap, principal: Option<&Principal>) {
        // Requests rarely carry any of these: most names present are ruled
        // out by their length before being compared.
        palisade_core::remove_headers_where(headers, |present| {
            self.owned_lengths & length_bit(present) != 0
                && self.owned_names().any(|owned| owned == present)
        });
        let Some(principal) = principal else {
            return;
        };
        LAST_BUILT.with_borrow_mut(|last| {
            let fresh = match last {
                Some(built) if built.owner == self.id && built.principal == *principal => {
                    // Equal but held elsewhere (a cache's copy): keep this
                    // one, so the next comparison is by pointer.
                    if !std::sync::Arc::ptr_eq(&built.principal.claims, &principal.claims) {
                        built.principal = principal.clone();
                    }
                    built
                }
                _ => last.insert(Built {
                    owner: self.id,
                    principal: principal.clone(),
                    headers: self.build(principal),
                }),
            };
            for (name, value) in &fresh.headers {
                headers.insert(name.clone(), value.clone());
            }
        });
    }

    /// The headers carrying `principal`.
    fn build(&self, principal: &Principal) -> Vec<(HeaderName, HeaderValue)> {
        let mut out = Vec::with_capacity(4 + self.claims.len());
        let push = |out: &mut Vec<(HeaderName, HeaderValue)>, name: &HeaderName, value: &str| {
            if let Some(v) = header_value(value) {
                out.push((name.clone(), v));
            }
        };
        if let Some(name) = &self.subject {
            push(&mut out, name, &principal.subject);
        }
        if let (Some(name), Some(issuer)) = (&self.issuer, &principal.issuer) {
            push(&mut out, name, issuer);
        }
        if let Some(name) = self
            .scopes
            .as_ref()
            .filter(|_| !principal.scopes.is_empty())
        {
            push(&mut out, name, &principal.scopes.join(" "));
        }
        if let Some(name) = &self.kind {
            // A fixed spelling: its copies on each request share nothing to count.
            out.push((
                name.clone(),
                HeaderValue::from_static(kind_name(principal.kind)),
            ));
        }
        for (claim, name) in &self.claims {
            if let Some(value) = principal.claims.get(claim) {
                push(&mut out, name, value);
            }
        }
        out
    }
}

/// The identity headers last built on this thread. A client sends request
/// after request as the same principal, and building the values copies and
/// checks every one of them; comparing the principal is much cheaper (its
/// scopes and claims are shared, so equal ones compare by pointer).
struct Built {
    /// Which [`IdentityHeaders`] built them (configurations differ in names).
    owner: usize,
    principal: Principal,
    headers: Vec<(HeaderName, HeaderValue)>,
}

thread_local! {
    static LAST_BUILT: std::cell::RefCell<Option<Built>> = const { std::cell::RefCell::new(None) };
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// Stable name of a principal kind (`jwt`, `api_key`...).
pub fn kind_name(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::Jwt => "jwt",
        PrincipalKind::OpaqueToken => "opaque_token",
        PrincipalKind::ApiKey => "api_key",
        PrincipalKind::ClientCertificate => "client_certificate",
        PrincipalKind::SignedRequest => "signed_request",
    }
}

fn header_value(value: &str) -> Option<HeaderValue> {
    let printable = value.bytes().all(|b| (0x20..0x7f).contains(&b));
    if printable {
        return HeaderValue::from_str(value).ok();
    }
    // Non-printable or non-ASCII bytes (and `%` itself, so the encoding
    // stays reversible) are percent-encoded.
    let mut out = String::with_capacity(value.len() * 2);
    for b in value.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_spoofed_headers_and_sets_verified_ones() {
        let mut config = IdentityHeadersConfig {
            kind: "X-Palisade-Auth-Kind".into(),
            ..IdentityHeadersConfig::default()
        };
        config
            .claims
            .insert("role".into(), "X-Palisade-Role".into());
        config.strip.push("X-User".into());
        let long = format!("x-{}", "a".repeat(70));
        config.strip.push(long.to_uppercase());
        let ih = IdentityHeaders::from_config(&config).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_bytes(long.as_bytes()).unwrap(),
            HeaderValue::from_static("spoofed"),
        );
        headers.insert(
            HeaderName::from_bytes(format!("x-{}", "b".repeat(70)).as_bytes()).unwrap(),
            HeaderValue::from_static("kept"),
        );
        headers.insert("x-palisade-subject", HeaderValue::from_static("admin"));
        headers.append("x-palisade-subject", HeaderValue::from_static("root"));
        headers.insert("x-palisade-scopes", HeaderValue::from_static("admin"));
        headers.insert("x-palisade-role", HeaderValue::from_static("admin"));
        headers.insert("x-user", HeaderValue::from_static("admin"));
        ih.apply(&mut headers, None);
        for n in [
            "x-palisade-subject",
            "x-palisade-scopes",
            "x-palisade-role",
            "x-user",
        ] {
            assert!(headers.get(n).is_none(), "{n} kept");
        }
        assert!(headers.get(&long).is_none());
        assert_eq!(headers.len(), 1, "the unrelated long header stays");
        let mut p = Principal::new(PrincipalKind::Jwt, "alice\r\nX-Evil: 1");
        p.scopes = vec!["read".into(), "write".into()].into();
        std::sync::Arc::make_mut(&mut p.claims).insert("role".into(), "user".into());
        headers.insert("x-palisade-subject", HeaderValue::from_static("admin"));
        ih.apply(&mut headers, Some(&p));
        assert_eq!(headers.get_all("x-palisade-subject").iter().count(), 1);
        assert_eq!(headers["x-palisade-subject"], "alice%0D%0AX-Evil: 1");
        assert_eq!(headers["x-palisade-scopes"], "read write");
        assert_eq!(headers["x-palisade-role"], "user");
        assert_eq!(headers["x-palisade-auth-kind"], "jwt");
        let mut p = Principal::new(PrincipalKind::ApiKey, "zoë");
        p.scopes = std::sync::Arc::from([]);
        ih.apply(&mut headers, Some(&p));
        assert_eq!(headers["x-palisade-subject"], "zo%C3%AB");
        assert!(headers.get("x-palisade-scopes").is_none());
    }

    #[test]
    fn values_follow_the_principal_and_the_configuration_applied() {
        let with_issuer = IdentityHeadersConfig {
            issuer: "x-palisade-issuer".into(),
            kind: "x-palisade-auth-kind".into(),
            ..IdentityHeadersConfig::default()
        };
        let plain = IdentityHeaders::from_config(&with_issuer).unwrap();
        let renamed = IdentityHeaders::from_config(&IdentityHeadersConfig {
            subject: "X-Who".into(),
            ..with_issuer.clone()
        })
        .unwrap();
        let alice = Principal::new(PrincipalKind::Jwt, "alice");
        let mut bob = Principal::new(PrincipalKind::Jwt, "bob");
        bob.issuer = Some("https://issuer.example".into());
        for _ in 0..2 {
            for (ih, principal, name) in [
                (&plain, &alice, "x-palisade-subject"),
                (&plain, &bob, "x-palisade-subject"),
                (&renamed, &bob, "x-who"),
                (&renamed, &alice, "x-who"),
            ] {
                let mut headers = HeaderMap::new();
                ih.apply(&mut headers, Some(principal));
                assert_eq!(headers[name], *principal.subject, "{name}");
                assert_eq!(headers.len(), 2 + usize::from(principal.issuer.is_some()));
                assert_eq!(
                    headers
                        .get("x-palisade-issuer")
                        .map(|v| v.to_str().unwrap()),
                    principal.issuer.as_deref()
                );
            }
        }
    }

    #[test]
    fn by_default_only_subject_and_scopes_go_upstream_and_every_default_name_is_stripped() {
        let ih = IdentityHeaders::from_config(&IdentityHeadersConfig::default()).unwrap();
        let mut headers = HeaderMap::new();
        for name in DEFAULT_NAMES {
            headers.insert(name, HeaderValue::from_static("spoofed"));
        }
        headers.insert("x-other", HeaderValue::from_static("kept"));
        let mut p = Principal::new(PrincipalKind::Jwt, "alice");
        p.issuer = Some("https://issuer.example".into());
        p.scopes = vec!["read".into()].into();
        ih.apply(&mut headers, Some(&p));
        assert_eq!(headers["x-palisade-subject"], "alice");
        assert_eq!(headers["x-palisade-scopes"], "read");
        assert!(headers.get("x-palisade-issuer").is_none());
        assert!(headers.get("x-palisade-auth-kind").is_none());
        assert_eq!(headers["x-other"], "kept");
        assert_eq!(headers.len(), 3);

        // An empty name forwards nothing, and a renamed field's default
        // name is still stripped.
        let renamed = IdentityHeaders::from_config(&IdentityHeadersConfig {
            subject: "x-user-id".into(),
            scopes: String::new(),
            ..IdentityHeadersConfig::default()
        })
        .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-palisade-subject", HeaderValue::from_static("root"));
        headers.insert("x-palisade-scopes", HeaderValue::from_static("admin"));
        headers.insert("x-user-id", HeaderValue::from_static("root"));
        renamed.apply(&mut headers, Some(&p));
        assert_eq!(headers["x-user-id"], "alice");
        assert_eq!(headers.len(), 1, "{headers:?}");
        renamed.apply(&mut headers, None);
        assert!(headers.is_empty());
    }
}
