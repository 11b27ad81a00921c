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
    subject: HeaderName,
    issuer: HeaderName,
    scopes: HeaderName,
    kind: HeaderName,
    claims: Vec<(String, HeaderName)>,
    strip: Vec<HeaderName>,
    /// Tells this configuration's memo apart from another's (see [`Built`]).
    id: usize,
    /// Bit `n` set when an owned name is `n` bytes long (63: longer): most
    /// request headers are ruled out by their length alone.
    owned_lengths: u64,
}

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

impl IdentityHeaders {
    pub fn from_config(config: &IdentityHeadersConfig) -> Result<Self, ConfigError> {
        Ok(IdentityHeaders {
            subject: header_name(&config.subject)?,
            issuer: header_name(&config.issuer)?,
            scopes: header_name(&config.scopes)?,
            kind: header_name(&config.kind)?,
            claims: config
                .claims
                .iter()
                .map(|(claim, name)| Ok((claim.clone(), header_name(name)?)))
                .collect::<Result<_, ConfigError>>()?,
            strip: config
                .strip
                .iter()
                .map(|n| header_name(n))
                .collect::<Result<_, _>>()?,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            owned_lengths: 0,
        }
        .with_owned_lengths())
    }

    fn with_owned_lengths(mut self) -> Self {
        self.owned_lengths = self.owned_names().fold(0, |bits, n| bits | length_bit(n));
        self
    }

    /// Every header name this gateway owns on the upstream request.
    pub fn owned_names(&self) -> impl Iterator<Item = &HeaderName> {
        [&self.subject, &self.issuer, &self.scopes, &self.kind]
            .into_iter()
            .chain(self.claims.iter().map(|(_, n)| n))
            .chain(self.strip.iter())
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
        let mut push = |name: &HeaderName, value: &str| {
            if let Some(v) = header_value(value) {
                out.push((name.clone(), v));
            }
        };
        push(&self.subject, &principal.subject);
        if let Some(issuer) = &principal.issuer {
            push(&self.issuer, issuer);
        }
        if !principal.scopes.is_empty() {
            push(&self.scopes, &principal.scopes.join(" "));
        }
        push(&self.kind, kind_name(principal.kind));
        for (claim, name) in &self.claims {
            if let Some(value) = principal.claims.get(claim) {
                push(name, value);
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
        let mut config = IdentityHeadersConfig::default();
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
        let plain = IdentityHeaders::from_config(&IdentityHeadersConfig::default()).unwrap();
        let renamed = IdentityHeaders::from_config(&IdentityHeadersConfig {
            subject: "X-Who".into(),
            ..IdentityHeadersConfig::default()
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
}
