//! OAuth 2.0 token introspection (RFC 7662) for opaque tokens, with a bounded
//! TTL cache keyed by the token's SHA-256 (tokens themselves are not kept).

use crate::config::IntrospectionConfig;
use crate::error::FetchError;
use crate::fetch::{BoxFuture, HttpFetcher};
use crate::jwt::flatten_claims;
use base64::Engine as _;
use palisade_core::{Principal, PrincipalKind};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What an authorization server said about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntrospectionResult {
    Active {
        principal: Principal,
        exp: Option<u64>,
    },
    Inactive,
}

/// Why introspection could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IntrospectionError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("introspection response is not valid: {0}")]
    BadResponse(&'static str),
}

/// Something that can introspect a token (the HTTP client below, or a test double).
pub trait TokenIntrospector: Send + Sync + 'static {
    fn introspect<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<IntrospectionResult, IntrospectionError>>;
}

/// RFC 7662 over HTTP with client credentials in HTTP Basic.
pub struct HttpIntrospector {
    url: String,
    authorization: String,
    audiences: Vec<String>,
    fetcher: Arc<dyn HttpFetcher>,
}

impl std::fmt::Debug for HttpIntrospector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpIntrospector")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn form_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl HttpIntrospector {
    pub fn new(
        url: String,
        client_id: &str,
        client_secret: &str,
        audiences: Vec<String>,
        fetcher: Arc<dyn HttpFetcher>,
    ) -> Self {
        // RFC 6749 §2.3.1: form-encode id and secret before Basic encoding.
        let credentials = format!("{}:{}", form_encode(client_id), form_encode(client_secret));
        HttpIntrospector {
            url,
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            ),
            audiences,
            fetcher,
        }
    }

    pub fn from_config(
        config: &IntrospectionConfig,
        fetcher: Arc<dyn HttpFetcher>,
    ) -> Result<Self, crate::error::ConfigError> {
        let secret = match &config.client_secret_env {
            Some(var) => std::env::var(var).map_err(|_| {
                crate::error::ConfigError::Invalid(format!(
                    "environment variable {var} (introspection secret) is not set"
                ))
            })?,
            None => String::new(),
        };
        Ok(Self::new(
            config.url.clone(),
            &config.client_id,
            &secret,
            config.audiences.clone(),
            fetcher,
        ))
    }
}

/// Interprets an RFC 7662 response body.
pub fn parse_introspection_response(
    body: &[u8],
    audiences: &[String],
) -> Result<IntrospectionResult, IntrospectionError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| IntrospectionError::BadResponse("not JSON"))?;
    let obj: &Map<String, Value> = value
        .as_object()
        .ok_or(IntrospectionError::BadResponse("not an object"))?;
    match obj.get("active") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Ok(IntrospectionResult::Inactive),
        _ => return Err(IntrospectionError::BadResponse("no boolean `active`")),
    }
    if !audiences.is_empty() {
        let ok = match obj.get("aud") {
            Some(Value::String(a)) => audiences.contains(a),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .any(|a| audiences.iter().any(|x| x == a)),
            _ => false,
        };
        if !ok {
            return Ok(IntrospectionResult::Inactive);
        }
    }
    let subject = obj
        .get("sub")
        .or_else(|| obj.get("username"))
        .or_else(|| obj.get("client_id"))
        .and_then(Value::as_str)
        .ok_or(IntrospectionError::BadResponse(
            "no sub, username or client_id",
        ))?;
    let mut principal = Principal::new(PrincipalKind::OpaqueToken, subject);
    principal.issuer = obj.get("iss").and_then(Value::as_str).map(Arc::from);
    if let Some(scope) = obj.get("scope").and_then(Value::as_str) {
        principal.scopes = scope
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
            .into();
    }
    principal.claims = std::sync::Arc::new(flatten_claims(obj));
    let exp = obj.get("exp").and_then(Value::as_u64);
    Ok(IntrospectionResult::Active { principal, exp })
}

impl TokenIntrospector for HttpIntrospector {
    fn introspect<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<IntrospectionResult, IntrospectionError>> {
        Box::pin(async move {
            let form = format!("token={}&token_type_hint=access_token", form_encode(token));
            let response = self
                .fetcher
                .post_form(&self.url, form, Some(self.authorization.clone()))
                .await?;
            if response.status != 200 {
                return Err(FetchError::Status(response.status).into());
            }
            parse_introspection_response(&response.body, &self.audiences)
        })
    }
}

/// Entries by token hash, and hashes in insertion order for eviction.
type CacheState = (HashMap<[u8; 32], CacheEntry>, VecDeque<[u8; 32]>);

struct CacheEntry {
    expires: Instant,
    result: IntrospectionResult,
}

/// A bounded TTL cache in front of a [`TokenIntrospector`].
pub struct CachedIntrospector {
    inner: Arc<dyn TokenIntrospector>,
    ttl: Duration,
    negative_ttl: Duration,
    capacity: usize,
    state: Mutex<CacheState>,
}

impl std::fmt::Debug for CachedIntrospector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedIntrospector")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl CachedIntrospector {
    pub fn new(
        inner: Arc<dyn TokenIntrospector>,
        ttl: Duration,
        negative_ttl: Duration,
        capacity: usize,
    ) -> Self {
        CachedIntrospector {
            inner,
            ttl,
            negative_ttl,
            capacity: capacity.max(1),
            state: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// The cached answer, if still fresh.
    pub fn cached(&self, token: &str) -> Option<IntrospectionResult> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let state = self.state.lock().ok()?;
        state
            .0
            .get(&key)
            .filter(|e| e.expires > Instant::now())
            .map(|e| e.result.clone())
    }

    /// Cached answer or a fresh introspection.
    pub async fn introspect(
        &self,
        token: &str,
        now_unix: u64,
    ) -> Result<IntrospectionResult, IntrospectionError> {
        if let Some(hit) = self.cached(token) {
            metrics::counter!("palisade_auth_introspection_cache_hits_total").increment(1);
            return Ok(hit);
        }
        let result = self.inner.introspect(token).await?;
        let ttl = match &result {
            IntrospectionResult::Active { exp, .. } => {
                let until_exp = exp.map_or(self.ttl, |e| {
                    Duration::from_secs(e.saturating_sub(now_unix))
                });
                self.ttl.min(until_exp)
            }
            IntrospectionResult::Inactive => self.negative_ttl,
        };
        if let IntrospectionResult::Active { exp: Some(e), .. } = &result {
            if *e <= now_unix {
                return Ok(IntrospectionResult::Inactive);
            }
        }
        if !ttl.is_zero() {
            self.insert(token, result.clone(), ttl);
        }
        Ok(result)
    }

    fn insert(&self, token: &str, result: IntrospectionResult, ttl: Duration) {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let (map, order) = &mut *state;
        let now = Instant::now();
        if map.len() >= self.capacity {
            map.retain(|_, e| e.expires > now);
            order.retain(|k| map.contains_key(k));
        }
        while map.len() >= self.capacity {
            match order.pop_front() {
                Some(oldest) => {
                    map.remove(&oldest);
                }
                None => break,
            }
        }
        if map
            .insert(
                key,
                CacheEntry {
                    expires: now + ttl,
                    result,
                },
            )
            .is_none()
        {
            order.push_back(key);
        }
    }

    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.0.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(AtomicUsize);
    impl TokenIntrospector for Counting {
        fn introspect<'a>(
            &'a self,
            token: &'a str,
        ) -> BoxFuture<'a, Result<IntrospectionResult, IntrospectionError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            let body = if token.starts_with("good") {
                format!(r#"{{"active":true,"sub":"{token}","scope":"a b","exp":4000000000}}"#)
            } else {
                r#"{"active":false}"#.to_owned()
            };
            Box::pin(async move { parse_introspection_response(body.as_bytes(), &[]) })
        }
    }

    #[tokio::test]
    async fn cache_is_bounded_and_used() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let cache = CachedIntrospector::new(
            inner.clone(),
            Duration::from_secs(60),
            Duration::from_secs(5),
            3,
        );
        for _ in 0..3 {
            let r = cache.introspect("good-1", 1_700_000_000).await.unwrap();
            assert!(
                matches!(r, IntrospectionResult::Active { ref principal, .. } if principal.has_scope("b"))
            );
        }
        assert_eq!(inner.0.load(Ordering::SeqCst), 1);
        assert_eq!(
            cache.introspect("bad", 1_700_000_000).await.unwrap(),
            IntrospectionResult::Inactive
        );
        for i in 0..10 {
            cache
                .introspect(&format!("good-{i}"), 1_700_000_000)
                .await
                .unwrap();
        }
        assert!(cache.len() <= 3);
    }

    #[test]
    fn response_parsing() {
        assert!(parse_introspection_response(b"{}", &[]).is_err());
        assert!(parse_introspection_response(b"[]", &[]).is_err());
        let aud = vec!["api".to_owned()];
        assert_eq!(
            parse_introspection_response(br#"{"active":true,"sub":"x","aud":"other"}"#, &aud)
                .unwrap(),
            IntrospectionResult::Inactive
        );
        assert!(matches!(
            parse_introspection_response(br#"{"active":true,"sub":"x","aud":["api"]}"#, &aud)
                .unwrap(),
            IntrospectionResult::Active { .. }
        ));
    }
}
