//! Identity headers forwarded to the upstream.
//!
//! The upstream trusts these headers, so a client must never be able to set
//! them: every configured name is removed from the request first, whether or
//! not a principal was verified, and only then are the verified values added.

use crate::config::IdentityHeadersConfig;
use crate::error::ConfigError;
use http::{HeaderMap, HeaderName, HeaderValue};
use palisade_core::{Principal, PrincipalKind};

/// Compiled identity header names.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    subject: HeaderName,
    issuer: HeaderName,
    scopes: HeaderName,
    kind: HeaderName,
    claims: Vec<(String, HeaderName)>,
    strip: Vec<HeaderName>,
}

fn header_name(name: &str) -> Result<HeaderName, ConfigError> {
    HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
        .map_err(|_| ConfigError::Invalid(format!("invalid identity header name `{name}`")))
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
        })
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
        // Requests rarely carry any of these: look for them among the
        // request's few header names before paying a map removal for each.
        let supplied: Vec<HeaderName> = headers
            .keys()
            .filter(|present| self.owned_names().any(|owned| owned == *present))
            .cloned()
            .collect();
        for name in supplied {
            headers.remove(name);
        }
        let Some(principal) = principal else {
            return;
        };
        set(headers, &self.subject, &principal.subject);
        if let Some(issuer) = &principal.issuer {
            set(headers, &self.issuer, issuer);
        }
        if !principal.scopes.is_empty() {
            set(headers, &self.scopes, &principal.scopes.join(" "));
        }
        headers.insert(
            self.kind.clone(),
            HeaderValue::from_static(kind_name(principal.kind)),
        );
        for (claim, name) in &self.claims {
            if let Some(value) = principal.claims.get(claim) {
                set(headers, name, value);
            }
        }
    }
}

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

fn set(headers: &mut HeaderMap, name: &HeaderName, value: &str) {
    let printable = value.bytes().all(|b| (0x20..0x7f).contains(&b));
    let text = if printable {
        std::borrow::Cow::Borrowed(value)
    } else {
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
        std::borrow::Cow::Owned(out)
    };
    if let Ok(v) = HeaderValue::from_str(&text) {
        headers.insert(name.clone(), v);
    }
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
        let ih = IdentityHeaders::from_config(&config).unwrap();
        let mut headers = HeaderMap::new();
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
}
