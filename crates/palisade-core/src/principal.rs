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
/// Scopes and claims are shared (`Arc`): a principal is cloned from the
/// verified-token cache on every request, and that clone must stay cheap.
/// Change them with `Arc::make_mut`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// Subject: JWT `sub`, API key owner, certificate subject...
    pub subject: String,
    pub issuer: Option<String>,
    pub scopes: Arc<[String]>,
    /// Flattened claims usable in authorization rules and rate-limit keys.
    pub claims: Arc<BTreeMap<String, String>>,
}

impl Principal {
    pub fn new(kind: PrincipalKind, subject: impl Into<String>) -> Self {
        Principal {
            kind,
            subject: subject.into(),
            issuer: None,
            scopes: Arc::from([]),
            claims: Arc::default(),
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}
