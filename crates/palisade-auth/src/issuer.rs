//! Trusted issuers: their keys (static and JWKS) and the JWKS cache.

use crate::config::IssuerConfig;
use crate::error::{ConfigError, FetchError, JwtError};
use crate::fetch::HttpFetcher;
use crate::jwt::{self, ClaimPolicy, UnverifiedToken, VerificationKey, VerifiedJwt};
use arc_swap::ArcSwap;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::Algorithm;
use sha2::Digest as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a JWKS refresh failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JwksError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Parse(#[from] JwtError),
}

/// A JWKS document kept in memory and refreshed from its URL.
pub struct JwksCache {
    url: String,
    fetcher: Arc<dyn HttpFetcher>,
    keys: ArcSwap<Vec<VerificationKey>>,
    refresh_every: Duration,
    min_refetch: Duration,
    last_kid_refetch: Mutex<Option<Instant>>,
    fetch_lock: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
    generation: AtomicU64,
    document_digest: Mutex<[u8; 32]>,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("url", &self.url)
            .field("keys", &self.keys.load().len())
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    pub fn new(
        url: String,
        fetcher: Arc<dyn HttpFetcher>,
        refresh_every: Duration,
        min_refetch: Duration,
    ) -> Self {
        JwksCache {
            url,
            fetcher,
            keys: ArcSwap::from_pointee(Vec::new()),
            refresh_every,
            min_refetch,
            last_kid_refetch: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            document_digest: Mutex::new([0; 32]),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn refresh_interval(&self) -> Duration {
        self.refresh_every
    }

    /// Keys currently cached.
    pub fn keys(&self) -> Arc<Vec<VerificationKey>> {
        self.keys.load_full()
    }

    /// Increases whenever the fetched key set changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Fetches attempted so far.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Fetches the document now and replaces the cached keys. On failure the
    /// previous keys stay in use.
    pub async fn refresh(&self) -> Result<usize, JwksError> {
        let _single_flight = self.fetch_lock.lock().await;
        self.fetch_locked().await
    }

    async fn fetch_locked(&self) -> Result<usize, JwksError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("palisade_auth_jwks_fetches_total").increment(1);
        let response = self.fetcher.get(&self.url).await.inspect_err(|e| {
            metrics::counter!("palisade_auth_jwks_fetch_errors_total").increment(1);
            tracing::warn!(url = %self.url, error = %e, "JWKS fetch failed");
        })?;
        if response.status != 200 {
            metrics::counter!("palisade_auth_jwks_fetch_errors_total").increment(1);
            return Err(FetchError::Status(response.status).into());
        }
        let keys = jwt::parse_jwks(&response.body)?;
        let count = keys.len();
        self.keys.store(Arc::new(keys));
        let digest: [u8; 32] = sha2::Sha256::digest(&response.body).into();
        if let Ok(mut previous) = self.document_digest.lock() {
            if *previous != digest {
                *previous = digest;
                self.generation.fetch_add(1, Ordering::Release);
            }
        }
        Ok(count)
    }

    /// Refetches because a token named an unknown `kid`, at most once per
    /// `min_refetch`. Returns true when a fetch happened and succeeded.
    pub async fn refetch_for_unknown_kid(&self) -> bool {
        let _single_flight = self.fetch_lock.lock().await;
        {
            let Ok(mut last) = self.last_kid_refetch.lock() else {
                return false;
            };
            if last.is_some_and(|t| t.elapsed() < self.min_refetch) {
                return false;
            }
            *last = Some(Instant::now());
        }
        self.fetch_locked().await.is_ok()
    }
}

/// One trusted issuer.
#[derive(Debug)]
pub struct Issuer {
    pub policy: ClaimPolicy,
    pub allowed: Vec<Algorithm>,
    static_keys: Vec<VerificationKey>,
    jwks: Option<Arc<JwksCache>>,
}

impl Issuer {
    /// Builds an issuer; relative key paths are resolved against `base_dir`.
    pub fn from_config(
        config: &IssuerConfig,
        base_dir: &Path,
        fetcher: &Arc<dyn HttpFetcher>,
    ) -> Result<Self, ConfigError> {
        let err = |message: String| ConfigError::Issuer {
            issuer: config.issuer.clone(),
            message,
        };
        if config.issuer.is_empty() {
            return Err(err("`issuer` must not be empty".into()));
        }
        if config.algorithms.is_empty() {
            return Err(err("`algorithms` must list at least one algorithm".into()));
        }
        let mut allowed = Vec::new();
        for name in &config.algorithms {
            allowed.push(jwt::parse_algorithm(name).map_err(|e| err(e.to_string()))?);
        }
        let mut static_keys = Vec::new();
        for key in &config.keys {
            let sources = [
                key.pem_file.is_some(),
                key.jwk_file.is_some(),
                key.secret_env.is_some(),
                key.secret_file.is_some(),
            ];
            if sources.iter().filter(|s| **s).count() != 1 {
                return Err(err(
                    "each key needs exactly one of pem_file, jwk_file, secret_env, secret_file"
                        .into(),
                ));
            }
            let loaded = if let Some(p) = &key.pem_file {
                let pem = read_file(base_dir, p)?;
                VerificationKey::from_public_pem(key.kid.clone(), &pem)
                    .map_err(|e| err(e.to_string()))?
            } else if let Some(p) = &key.jwk_file {
                let text = read_file(base_dir, p)?;
                let jwk: Jwk =
                    serde_json::from_slice(&text).map_err(|e| err(format!("JWK: {e}")))?;
                let mut k = VerificationKey::from_jwk(&jwk).map_err(|e| err(e.to_string()))?;
                if key.kid.is_some() {
                    k.kid = key.kid.clone();
                }
                k
            } else {
                let secret = crate::read_secret(
                    base_dir,
                    key.secret_env.as_deref(),
                    key.secret_file.as_deref(),
                )
                .map_err(|e| err(e.to_string()))?;
                if secret.len() < 32 {
                    return Err(err("HMAC secrets must be at least 32 bytes".into()));
                }
                VerificationKey::hmac_secret(key.kid.clone(), &secret)
            };
            if !allowed.iter().any(|a| a.family() == loaded.family) {
                return Err(err(format!(
                    "key {:?} fits none of the allowed algorithms",
                    key.kid.as_deref().unwrap_or("(no kid)")
                )));
            }
            static_keys.push(loaded);
        }
        if let Some(p) = &config.jwks_file {
            let doc = read_file(base_dir, p)?;
            static_keys.extend(jwt::parse_jwks(&doc).map_err(|e| err(e.to_string()))?);
        }
        let jwks = config.jwks_url.as_ref().map(|url| {
            Arc::new(JwksCache::new(
                url.clone(),
                Arc::clone(fetcher),
                Duration::from_secs(config.jwks_refresh_seconds.max(1)),
                Duration::from_secs(config.jwks_min_refetch_seconds),
            ))
        });
        if static_keys.is_empty() && jwks.is_none() {
            return Err(err("no keys: set keys, jwks_file or jwks_url".into()));
        }
        Ok(Issuer {
            policy: ClaimPolicy {
                issuer: config.issuer.clone(),
                audiences: config.audiences.clone(),
                leeway: config.leeway_seconds,
                max_age: config.max_age_seconds,
                required: config.required_claims.clone(),
                subject_claim: config.subject_claim.clone(),
                scope_claims: config.scope_claims.clone(),
            },
            allowed,
            static_keys,
            jwks,
        })
    }

    /// An issuer from parts (tests, embedding).
    pub fn new(
        policy: ClaimPolicy,
        allowed: Vec<Algorithm>,
        keys: Vec<VerificationKey>,
        jwks: Option<Arc<JwksCache>>,
    ) -> Self {
        Issuer {
            policy,
            allowed,
            static_keys: keys,
            jwks,
        }
    }

    pub fn jwks(&self) -> Option<&Arc<JwksCache>> {
        self.jwks.as_ref()
    }

    /// Verifies with the keys in memory; no I/O.
    pub fn verify(
        &self,
        token: &str,
        header: &UnverifiedToken,
        now: u64,
    ) -> Result<VerifiedJwt, JwtError> {
        let jwks_keys = self.jwks.as_ref().map(|j| j.keys());
        let all: Vec<VerificationKey>;
        let keys: &[VerificationKey] = match &jwks_keys {
            Some(fetched) if !fetched.is_empty() => {
                all = self
                    .static_keys
                    .iter()
                    .chain(fetched.iter())
                    .cloned()
                    .collect();
                &all
            }
            _ => &self.static_keys,
        };
        jwt::verify_token(token, header, &self.allowed, keys, &self.policy, now)
    }

    /// Verifies, refreshing the JWKS once (rate-limited) when the token names
    /// an unknown `kid`.
    pub async fn verify_with_refresh(
        &self,
        token: &str,
        header: &UnverifiedToken,
        now: u64,
    ) -> Result<VerifiedJwt, JwtError> {
        match self.verify(token, header, now) {
            Err(JwtError::UnknownKid(kid)) => match &self.jwks {
                Some(jwks) if jwks.refetch_for_unknown_kid().await => {
                    self.verify(token, header, now)
                }
                _ => Err(JwtError::UnknownKid(kid)),
            },
            Err(JwtError::NoKey) if self.jwks.as_ref().is_some_and(|j| j.keys().is_empty()) => {
                match &self.jwks {
                    Some(jwks) if jwks.refetch_for_unknown_kid().await => {
                        self.verify(token, header, now)
                    }
                    _ => Err(JwtError::NoKey),
                }
            }
            other => other,
        }
    }
}

fn read_file(base_dir: &Path, path: &Path) -> Result<Vec<u8>, ConfigError> {
    let full = base_dir.join(path);
    std::fs::read(&full).map_err(|source| ConfigError::Io {
        path: full.display().to_string(),
        source,
    })
}
