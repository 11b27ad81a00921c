use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How a principal was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    Jwt,
    OpaqueToken,
    ApiKey,
    ClientCertificate,
    SignedRequest,
}

/// A verified identity, set by the identity phase and used by authorization,
/// rate limiting and events.
///
/// Every part is shared (`Arc`): a principal is cloned from the
/// verified-token cache on every request, and that clone must not allocate.
/// Change scopes and claims with `Arc::make_mut`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// Subject: JWT `sub`, API key owner, certificate subject...
    pub subject: Arc<str>,
    pub issuer: Option<Arc<str>>,
    pub scopes: Arc<[String]>,
    /// Flattened claims usable in authorization rules and rate-limit keys.
    pub claims: Arc<BTreeMap<String, String>>,
}

impl Principal {
    pub fn new(kind: PrincipalKind, subject: impl Into<Arc<str>>) -> Self {
        Principal {
            kind,
            subject: subject.into(),
            issuer: None,
            scopes: Arc::from([]),
            claims: Arc::default(),
        }
    }

    /// A copy that shares no allocation with `self`. Clones of a principal
    /// kept by one thread then count references only that thread touches,
    /// instead of moving a cache line every worker shares.
    pub fn detached(&self) -> Principal {
        Principal {
            kind: self.kind,
            subject: Arc::from(&*self.subject),
            issuer: self.issuer.as_deref().map(Arc::from),
            scopes: self.scopes.iter().cloned().collect(),
            claims: Arc::new(BTreeMap::clone(&self.claims)),
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detached_copy_is_equal_and_shares_nothing() {
        let mut p = Principal::new(PrincipalKind::Jwt, "alice");
        p.issuer = Some("https://issuer.example".into());
        p.scopes = vec!["read".to_owned()].into();
        Arc::make_mut(&mut p.claims).insert("tenant".into(), "t1".into());
        let d = p.detached();
        assert_eq!(d, p);
        assert!(!Arc::ptr_eq(&d.subject, &p.subject));
        assert!(!Arc::ptr_eq(&d.scopes, &p.scopes));
        assert!(!Arc::ptr_eq(&d.claims, &p.claims));
    }
}
