//! The identity engine the proxy runs per request.
//!
//! Two ways to drive it:
//!
//! * **async then sync** (recommended): call [`AuthEngine::authenticate`]
//!   before the detector pipeline. It may do I/O (JWKS refetch on an unknown
//!   `kid`, token introspection) and records the outcome in
//!   `Transaction::state` and `Transaction::principal`. The
//!   [`Detector`] implementation then only authorizes.
//! * **sync only**: run the engine as a [`Detector`]; at
//!   [`Phase::RequestHead`] it authenticates with what is in memory (cached
//!   JWKS keys, cached introspection answers, the API key snapshot) and
//!   authorizes. An unknown `kid` triggers a background JWKS refetch when a
//!   tokio runtime is present; the request itself is refused.
//!
//! Signed requests need the body: when a request carries a signature header
//! the decision waits for [`Phase::RequestBody`].

use crate::apikey::{ApiKeyIndex, ApiKeyStore};
use crate::authz::{AuthzDecision, RuleSet};
use crate::config::{ApiKeysConfig, AuthConfig, CredentialKind, TokenLocation};
use crate::error::{ConfigError, JwtError, KeyStoreError};
use crate::fetch::{HttpFetcher, HyperFetcher};
use crate::identity_headers::IdentityHeaders;
use crate::introspection::{
    CachedIntrospector, HttpIntrospector, IntrospectionResult, TokenIntrospector,
};
use crate::issuer::{Issuer, JwksError};
use crate::jwt::VerifiedJwt;
use crate::jwt::{self, UnverifiedToken};
use crate::mtls::{principal_from_certificate, PeerCertificate};
use crate::signature::SignatureVerifier;
use crate::token::{bearer_bytes, extract_token, query_value, single_header, ExtractError};
use crate::verified_cache::VerifiedTokenCache;
use arc_swap::ArcSwap;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use palisade_core::{
    Category, Detector, Enforcement, Finding, Location, OperationSecurity, Phase, Principal,
    Severity, Transaction,
};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A clock returning unix seconds (replaceable in tests).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

fn system_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A refused credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFailure {
    pub credential: CredentialKind,
    /// Short stable code (`expired`, `alg_none`, `unknown`...).
    pub code: &'static str,
    /// Client-safe description for `error_description`.
    pub description: String,
    /// Where the credential was (`header.authorization`...).
    pub location: String,
    /// True when only a forged or tampered credential fails this way.
    pub attack: bool,
}

/// What authentication concluded, kept in `Transaction::state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// No credential was presented.
    Anonymous,
    /// `Transaction::principal` holds the verified identity.
    Authenticated,
    /// A credential was presented and refused.
    Failed(AuthFailure),
    /// A signed request waiting for its body.
    PendingSignature,
}

/// Work the sync pass could not finish without I/O.
enum Pending {
    JwtRefresh {
        issuer: usize,
        token: String,
        header: UnverifiedToken,
        location: String,
    },
    Introspection {
        token: String,
        location: String,
    },
}

enum Step {
    Done(AuthOutcome, Option<Principal>),
    Needs(Pending),
}

/// The identity and authorization engine.
pub struct AuthEngine {
    realm: String,
    issuers: Vec<Issuer>,
    token_locations: Vec<TokenLocation>,
    api_key_header: Option<HeaderName>,
    api_key_query: Option<String>,
    static_api_keys: ApiKeyIndex,
    api_keys: ArcSwap<ApiKeyIndex>,
    key_store: Option<Arc<ApiKeyStore>>,
    key_reload: Duration,
    introspection: Option<CachedIntrospector>,
    signatures: Option<SignatureVerifier>,
    mtls: crate::config::MtlsConfig,
    rules: RuleSet,
    identity_headers: IdentityHeaders,
    clock: Clock,
    jwt_cache: VerifiedTokenCache,
    key_generation: AtomicU64,
}

impl std::fmt::Debug for AuthEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthEngine")
            .field("realm", &self.realm)
            .field("issuers", &self.issuers.len())
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl AuthEngine {
    /// Builds the engine with the default HTTP client. Relative paths in the
    /// configuration are resolved against `base_dir` (the config file's directory).
    pub fn from_config(config: &AuthConfig, base_dir: &Path) -> Result<Self, ConfigError> {
        let timeout = Duration::from_secs(5);
        let fetcher = match &config.tls_ca_file {
            Some(path) => {
                let full = base_dir.join(path);
                let pem = std::fs::read(&full).map_err(|source| ConfigError::Io {
                    path: full.display().to_string(),
                    source,
                })?;
                HyperFetcher::with_extra_ca(timeout, &pem)
            }
            None => HyperFetcher::new(timeout),
        }
        .map_err(|e| ConfigError::Invalid(format!("HTTP client: {e}")))?;
        let fetcher: Arc<dyn HttpFetcher> = Arc::new(fetcher);
        Self::from_config_with(config, base_dir, fetcher)
    }

    /// Builds the engine with a caller-supplied HTTP client.
    pub fn from_config_with(
        config: &AuthConfig,
        base_dir: &Path,
        fetcher: Arc<dyn HttpFetcher>,
    ) -> Result<Self, ConfigError> {
        let issuers = config
            .issuers
            .iter()
            .map(|i| Issuer::from_config(i, base_dir, &fetcher))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = std::collections::HashSet::new();
        for i in &config.issuers {
            if !seen.insert(i.issuer.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "issuer {} declared twice",
                    i.issuer
                )));
            }
        }
        let (api_key_header, api_key_query, static_api_keys, key_store, key_reload) =
            match &config.api_keys {
                Some(ak) => api_keys_from_config(ak, base_dir)?,
                None => (
                    None,
                    None,
                    ApiKeyIndex::default(),
                    None,
                    Duration::from_secs(10),
                ),
            };
        let mut index = static_api_keys.clone();
        if let Some(store) = &key_store {
            index.merge(store.load_index()?);
        }
        let introspection = match &config.introspection {
            Some(ic) => {
                let http: Arc<dyn TokenIntrospector> =
                    Arc::new(HttpIntrospector::from_config(ic, Arc::clone(&fetcher))?);
                Some(CachedIntrospector::new(
                    http,
                    Duration::from_secs(ic.cache_ttl_seconds),
                    Duration::from_secs(ic.negative_ttl_seconds),
                    ic.cache_entries,
                ))
            }
            None => None,
        };
        let signatures = match &config.signatures {
            Some(sc) => Some(SignatureVerifier::from_config(sc, base_dir)?),
            None => None,
        };
        let token_locations = if config.token_locations.is_empty() {
            vec![TokenLocation::Bearer]
        } else {
            config.token_locations.clone()
        };
        Ok(AuthEngine {
            realm: config.realm.replace(['"', '\\'], ""),
            issuers,
            token_locations,
            api_key_header,
            api_key_query,
            static_api_keys,
            api_keys: ArcSwap::from_pointee(index),
            key_store,
            key_reload,
            introspection,
            signatures,
            mtls: config.mtls.clone(),
            rules: RuleSet::compile(
                &config.rules,
                config.default_access,
                config.case_insensitive_paths,
            )?,
            identity_headers: IdentityHeaders::from_config(&config.identity_headers)?,
            clock: Arc::new(system_clock),
            jwt_cache: VerifiedTokenCache::new(config.jwt_cache_entries),
            key_generation: AtomicU64::new(0),
        })
    }

    /// Replaces the clock (tests, replays).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the introspection backend (tests, custom transports).
    pub fn with_introspector(mut self, introspector: CachedIntrospector) -> Self {
        self.introspection = Some(introspector);
        self
    }

    pub fn issuers(&self) -> &[Issuer] {
        &self.issuers
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Fetches every JWKS now (call once at start-up, before serving).
    pub async fn refresh_jwks(&self) -> Vec<(String, JwksError)> {
        let mut errors = Vec::new();
        for issuer in &self.issuers {
            if let Some(jwks) = issuer.jwks() {
                if let Err(e) = jwks.refresh().await {
                    errors.push((jwks.url().to_owned(), e));
                }
            }
        }
        errors
    }

    /// Re-reads the API key store into the request-path snapshot.
    pub fn reload_api_keys(&self) -> Result<usize, KeyStoreError> {
        let mut index = self.static_api_keys.clone();
        if let Some(store) = &self.key_store {
            index.merge(store.load_index()?);
        }
        let n = index.len();
        self.api_keys.store(Arc::new(index));
        Ok(n)
    }

    /// Starts the scheduled JWKS refreshes and API key reloads. Must be called
    /// inside a tokio runtime; the tasks stop when the engine is dropped.
    pub fn spawn_background_tasks(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        for (index, issuer) in self.issuers.iter().enumerate() {
            let Some(jwks) = issuer.jwks() else {
                continue;
            };
            let every = jwks.refresh_interval();
            let weak = Arc::downgrade(self);
            handles.push(tokio::spawn(async move {
                let mut ticker = tokio::time::interval(every);
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    let Some(engine) = weak.upgrade() else {
                        return;
                    };
                    if let Some(jwks) = engine.issuers.get(index).and_then(|i| i.jwks()) {
                        let _ = jwks.refresh().await;
                    }
                }
            }));
        }
        if self.key_store.is_some() {
            let weak = Arc::downgrade(self);
            let every = self.key_reload;
            handles.push(tokio::spawn(async move {
                let mut ticker = tokio::time::interval(every);
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    let Some(engine) = weak.upgrade() else {
                        return;
                    };
                    if let Err(e) = engine.reload_api_keys() {
                        tracing::warn!(error = %e, "API key store reload failed");
                    }
                }
            }));
        }
        handles
    }

    /// Removes client-supplied identity headers from the upstream request and
    /// sets the verified ones.
    pub fn apply_identity_headers(&self, headers: &mut HeaderMap, principal: Option<&Principal>) {
        self.identity_headers.apply(headers, principal);
    }

    /// Authenticates with I/O where needed (JWKS refetch, introspection) and
    /// records the outcome in the transaction. Idempotent.
    pub async fn authenticate(&self, tx: &mut Transaction) {
        if tx.state.get::<AuthOutcome>().is_some() {
            return;
        }
        let now = (self.clock)();
        let (outcome, principal) = match self.authenticate_step(tx, now) {
            Step::Done(outcome, principal) => (outcome, principal),
            Step::Needs(Pending::JwtRefresh {
                issuer,
                token,
                header,
                location,
            }) => {
                let result = match self.issuers.get(issuer) {
                    // The rare paths with I/O are boxed so that the common
                    // one (a cached or offline verification) keeps a small
                    // future.
                    Some(i) => Box::pin(i.verify_with_refresh(&token, &header, now)).await,
                    None => Err(JwtError::UnknownIssuer),
                };
                self.jwt_verified(&token, result, location, now)
            }
            Step::Needs(Pending::Introspection { token, location }) => match &self.introspection {
                Some(cache) => match Box::pin(cache.introspect(&token, now)).await {
                    Ok(result) => introspection_outcome(result, location),
                    Err(e) => {
                        tracing::warn!(error = %e, "token introspection failed");
                        metrics::counter!("palisade_auth_introspection_errors_total").increment(1);
                        failed(
                            CredentialKind::OpaqueToken,
                            "introspection_unavailable",
                            "token could not be verified",
                            location,
                            false,
                        )
                    }
                },
                None => failed(
                    CredentialKind::OpaqueToken,
                    "unverifiable",
                    "token is not verifiable",
                    location,
                    false,
                ),
            },
        };
        record(tx, outcome, principal);
    }

    /// [`authenticate`](Self::authenticate) when it needs no I/O (a token
    /// verified before or against keys in memory, an API key, a client
    /// certificate). `false` when it would need some: nothing was recorded,
    /// and `authenticate` does the whole work.
    pub fn authenticate_now(&self, tx: &mut Transaction) -> bool {
        if tx.state.get::<AuthOutcome>().is_some() {
            return true;
        }
        let now = (self.clock)();
        match self.authenticate_step(tx, now) {
            Step::Done(outcome, principal) => {
                record(tx, outcome, principal);
                true
            }
            Step::Needs(_) => false,
        }
    }

    /// Authenticates with what is in memory; no I/O.
    pub fn authenticate_offline(&self, tx: &mut Transaction) {
        if tx.state.get::<AuthOutcome>().is_some() {
            return;
        }
        let now = (self.clock)();
        let (outcome, principal) = match self.authenticate_step(tx, now) {
            Step::Done(outcome, principal) => (outcome, principal),
            Step::Needs(Pending::JwtRefresh {
                issuer,
                token,
                header,
                location,
            }) => {
                let result = match self.issuers.get(issuer) {
                    Some(i) => {
                        let r = i.verify(&token, &header, now);
                        if matches!(r, Err(JwtError::UnknownKid(_)) | Err(JwtError::NoKey)) {
                            if let (Some(jwks), Ok(rt)) =
                                (i.jwks(), tokio::runtime::Handle::try_current())
                            {
                                let jwks = Arc::clone(jwks);
                                rt.spawn(async move {
                                    jwks.refetch_for_unknown_kid().await;
                                });
                            }
                        }
                        r
                    }
                    None => Err(JwtError::UnknownIssuer),
                };
                self.jwt_verified(&token, result, location, now)
            }
            Step::Needs(Pending::Introspection { token, location }) => {
                match self.introspection.as_ref().and_then(|c| c.cached(&token)) {
                    Some(result) => introspection_outcome(result, location),
                    None => failed(
                        CredentialKind::OpaqueToken,
                        "introspection_unavailable",
                        "token could not be verified",
                        location,
                        false,
                    ),
                }
            }
        };
        record(tx, outcome, principal);
    }

    fn authenticate_step(&self, tx: &Transaction, now: u64) -> Step {
        if let Some(principal) = &tx.principal {
            return Step::Done(AuthOutcome::Authenticated, Some(principal.clone()));
        }
        if let Some(PeerCertificate(der)) = tx.state.get::<PeerCertificate>() {
            return match principal_from_certificate(der, &self.mtls) {
                Ok(p) => Step::Done(AuthOutcome::Authenticated, Some(p)),
                Err(e) => Step::Done(
                    AuthOutcome::Failed(AuthFailure {
                        credential: CredentialKind::ClientCertificate,
                        code: "certificate",
                        description: e.to_string(),
                        location: "connection".into(),
                        attack: false,
                    }),
                    None,
                ),
            };
        }
        let headers = &tx.request.headers;
        // A bearer token seen and verified before: found by its bytes,
        // without copying and re-checking them (the first configured
        // location wins, as in `extract_token`).
        if let (Some(TokenLocation::Bearer), false) =
            (self.token_locations.first(), self.issuers.is_empty())
        {
            if let Some(raw) = bearer_bytes(headers) {
                self.sync_key_generation();
                if let Some(principal) = self.jwt_cache.get_bytes(raw, now) {
                    return Step::Done(AuthOutcome::Authenticated, Some(principal));
                }
            }
        }
        match extract_token(headers, &self.token_locations) {
            Err(e) => {
                return done(failed(
                    CredentialKind::Jwt,
                    extract_code(e),
                    &e.to_string(),
                    "header.authorization".into(),
                    matches!(e, ExtractError::Ambiguous),
                ))
            }
            Ok(Some(found)) => return self.token_step(found.token, found.location, now),
            Ok(None) => {}
        }
        if let Some(step) = self.api_key_step(tx, now) {
            return step;
        }
        if let Some(sig) = &self.signatures {
            if sig.is_signed(headers) {
                return Step::Done(AuthOutcome::PendingSignature, None);
            }
        }
        Step::Done(AuthOutcome::Anonymous, None)
    }

    fn token_step(&self, token: String, location: String, now: u64) -> Step {
        // Only verified JWTs enter the cache, so a hit needs no other check
        // (and spares a pass over the token on every repeated request).
        if !self.issuers.is_empty() {
            self.sync_key_generation();
            if let Some(principal) = self.jwt_cache.get(&token, now) {
                return Step::Done(AuthOutcome::Authenticated, Some(principal));
            }
        }
        let looks_like_jws = token.bytes().filter(|b| *b == b'.').count() == 2;
        if !looks_like_jws || self.issuers.is_empty() {
            if self.introspection.is_some() && !looks_like_jws {
                return Step::Needs(Pending::Introspection { token, location });
            }
            return done(failed(
                CredentialKind::Jwt,
                "malformed",
                "token is not a signed JWT",
                location,
                false,
            ));
        }
        let header = match jwt::inspect_token(&token) {
            Ok(h) => h,
            Err(e) => return done(jwt_result(Err(e), location)),
        };
        let issuer_index = match &header.issuer {
            Some(iss) => self.issuers.iter().position(|i| &i.policy.issuer == iss),
            None if self.issuers.len() == 1 => Some(0),
            None => None,
        };
        let Some(index) = issuer_index else {
            return done(jwt_result(Err(JwtError::UnknownIssuer), location));
        };
        let Some(issuer) = self.issuers.get(index) else {
            return done(jwt_result(Err(JwtError::UnknownIssuer), location));
        };
        match issuer.verify(&token, &header, now) {
            Err(JwtError::UnknownKid(_)) | Err(JwtError::NoKey) if issuer.jwks().is_some() => {
                Step::Needs(Pending::JwtRefresh {
                    issuer: index,
                    token,
                    header,
                    location,
                })
            }
            result => done(self.jwt_verified(&token, result, location, now)),
        }
    }

    /// Clears the verified-token cache when any issuer's key set changed.
    fn sync_key_generation(&self) {
        let current: u64 = self
            .issuers
            .iter()
            .filter_map(|i| i.jwks().map(|j| j.generation()))
            .sum();
        // Read before writing: a write on every request would bounce this
        // line, and the engine fields beside it, between the workers' cores.
        if self.key_generation.load(Ordering::Acquire) != current
            && self.key_generation.swap(current, Ordering::AcqRel) != current
        {
            self.jwt_cache.clear();
        }
    }

    fn jwt_verified(
        &self,
        token: &str,
        result: Result<VerifiedJwt, JwtError>,
        location: String,
        now: u64,
    ) -> (AuthOutcome, Option<Principal>) {
        if let Ok(v) = &result {
            self.jwt_cache
                .insert(token, v.principal.clone(), now, v.valid_from, v.valid_until);
        }
        jwt_result(result.map(|v| v.principal), location)
    }

    fn api_key_step(&self, tx: &Transaction, now: u64) -> Option<Step> {
        let headers = &tx.request.headers;
        let (presented, location) = if let Some(name) = &self.api_key_header {
            match single_header(headers, name.as_str()) {
                Err(e) => {
                    return Some(done(failed(
                        CredentialKind::ApiKey,
                        extract_code(e),
                        &e.to_string(),
                        format!("header.{name}"),
                        false,
                    )))
                }
                Ok(Some(v)) => (Some(v), format!("header.{name}")),
                Ok(None) => (None, String::new()),
            }
        } else {
            (None, String::new())
        };
        let (presented, location) = match (presented, &self.api_key_query) {
            (Some(v), _) => (v, location),
            (None, Some(q)) => match query_value(tx.request.query(), q) {
                Err(e) => {
                    return Some(done(failed(
                        CredentialKind::ApiKey,
                        extract_code(e),
                        &e.to_string(),
                        format!("query.{q}"),
                        false,
                    )))
                }
                Ok(Some(v)) => (v, format!("query.{q}")),
                Ok(None) => return None,
            },
            (None, None) => return None,
        };
        let index = self.api_keys.load();
        Some(match index.verify(presented.trim(), now as i64) {
            Ok(p) => Step::Done(AuthOutcome::Authenticated, Some(p)),
            Err(e) => done(failed(
                CredentialKind::ApiKey,
                e.code(),
                &e.to_string(),
                location,
                false,
            )),
        })
    }

    fn verify_signature(&self, tx: &mut Transaction) {
        let Some(sig) = &self.signatures else {
            return;
        };
        let now = (self.clock)();
        let outcome = if tx.request_body_uninspected {
            failed(
                CredentialKind::SignedRequest,
                "body_uninspected",
                "request body too large to verify",
                "body".into(),
                false,
            )
        } else {
            let body = tx.request_body.clone().unwrap_or_default();
            let path_and_query = tx
                .request
                .uri
                .path_and_query()
                .map(|pq| pq.as_str().to_owned())
                .unwrap_or_else(|| tx.request.path().to_owned());
            match sig.verify(
                &tx.request.method,
                &path_and_query,
                &tx.request.headers,
                &body,
                now,
            ) {
                Ok(p) => (AuthOutcome::Authenticated, Some(p)),
                Err(e) => failed(
                    CredentialKind::SignedRequest,
                    e.code(),
                    &e.to_string(),
                    "header.x-palisade-signature".into(),
                    matches!(
                        e,
                        crate::signature::SignatureError::Mismatch
                            | crate::signature::SignatureError::Replay
                    ),
                ),
            }
        };
        tx.state.remove::<AuthOutcome>();
        record(tx, outcome.0, outcome.1);
    }

    /// Authorizes the transaction and reports findings (401/403 enforcement).
    /// An `Arc<OperationSecurity>` in `tx.state` (the API description's
    /// `security` for the operation addressed) applies where no configured
    /// rule does.
    pub fn authorize(&self, tx: &mut Transaction) {
        let decision = self.rules.authorize_segments(
            &tx.request.method,
            tx.request.normalized_segments(),
            tx.principal.as_ref(),
            tx.state.get::<Arc<OperationSecurity>>().map(|o| &**o),
        );
        let forged = |o: &AuthOutcome| matches!(o, AuthOutcome::Failed(f) if f.attack);
        // The common case, an allowed request with nothing to report, copies nothing.
        if decision == AuthzDecision::Allow && !tx.state.get::<AuthOutcome>().is_some_and(forged) {
            return;
        }
        let outcome = tx
            .state
            .get::<AuthOutcome>()
            .cloned()
            .unwrap_or(AuthOutcome::Anonymous);
        // Only refusals name the path; allowed requests skip the copies.
        let path = match decision {
            AuthzDecision::Allow => String::new(),
            _ => tx.request.path().to_owned(),
        };
        match decision {
            AuthzDecision::Allow => {
                if let AuthOutcome::Failed(failure) = &outcome {
                    if failure.attack {
                        tx.report(
                            Finding::new(
                                format!("palisade.auth.{}", failure.code),
                                Category::BrokenAuthentication,
                                Severity::Warning,
                                Location::new(failure.location.clone()),
                                failure.code,
                                format!("forged or tampered credential: {}", failure.description),
                            )
                            .with_score(Severity::Notice.default_score()),
                        );
                    }
                }
            }
            AuthzDecision::Unauthenticated => {
                let finding = match &outcome {
                    AuthOutcome::Failed(failure) => Finding::new(
                        format!("palisade.auth.{}", failure.code),
                        Category::BrokenAuthentication,
                        if failure.attack {
                            Severity::Critical
                        } else {
                            Severity::Warning
                        },
                        Location::new(failure.location.clone()),
                        failure.code,
                        format!("credential refused: {}", failure.description),
                    )
                    .enforce(self.unauthorized(Some(&failure.description))),
                    _ => Finding::new(
                        "palisade.auth.missing",
                        Category::BrokenAuthentication,
                        Severity::Notice,
                        Location::new("path"),
                        &path,
                        "authentication required",
                    )
                    .enforce(self.unauthorized(None)),
                };
                tx.report(finding);
            }
            AuthzDecision::Denied => tx.report(
                Finding::new(
                    "palisade.authz.denied",
                    Category::BrokenFunctionAuthorization,
                    Severity::Warning,
                    Location::new("path"),
                    &path,
                    "route closed by policy",
                )
                .enforce(Enforcement::new(StatusCode::FORBIDDEN, "Forbidden")),
            ),
            AuthzDecision::MissingScopes(missing) => {
                let scope = missing.join(" ").replace(['"', '\\'], "");
                let challenge = format!(
                    "Bearer realm=\"{}\", error=\"insufficient_scope\", scope=\"{}\"",
                    self.realm, scope
                );
                let mut enforcement = Enforcement::new(StatusCode::FORBIDDEN, "Insufficient scope");
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    enforcement = enforcement.with_header(http::header::WWW_AUTHENTICATE, v);
                }
                tx.report(
                    Finding::new(
                        "palisade.authz.scope",
                        Category::BrokenFunctionAuthorization,
                        Severity::Error,
                        Location::new("path"),
                        &path,
                        format!("missing scope: {scope}"),
                    )
                    .enforce(enforcement),
                );
            }
            AuthzDecision::ClaimMismatch(claim) => tx.report(
                Finding::new(
                    "palisade.authz.claim",
                    Category::BrokenFunctionAuthorization,
                    Severity::Error,
                    Location::new("path"),
                    &path,
                    format!("claim rule on `{claim}` not satisfied"),
                )
                .enforce(Enforcement::new(StatusCode::FORBIDDEN, "Forbidden")),
            ),
            AuthzDecision::WrongCredential => tx.report(
                Finding::new(
                    "palisade.authz.credential_kind",
                    Category::BrokenFunctionAuthorization,
                    Severity::Error,
                    Location::new("path"),
                    &path,
                    "credential kind not accepted on this route",
                )
                .enforce(Enforcement::new(StatusCode::FORBIDDEN, "Forbidden")),
            ),
        }
    }

    /// A 401 with an RFC 6750 challenge (`error="invalid_token"` when a
    /// credential was presented and refused).
    pub fn unauthorized(&self, invalid: Option<&str>) -> Enforcement {
        let challenge = match invalid {
            Some(description) => {
                let description: String = description
                    .chars()
                    .filter(|c| c.is_ascii_graphic() || *c == ' ')
                    .filter(|c| *c != '"' && *c != '\\')
                    .collect();
                format!(
                    "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"{}\"",
                    self.realm, description
                )
            }
            None => format!("Bearer realm=\"{}\"", self.realm),
        };
        let enforcement = Enforcement::new(StatusCode::UNAUTHORIZED, "Authentication required");
        match HeaderValue::from_str(&challenge) {
            Ok(v) => enforcement.with_header(http::header::WWW_AUTHENTICATE, v),
            Err(_) => enforcement,
        }
    }
}

impl Detector for AuthEngine {
    fn name(&self) -> &'static str {
        "auth"
    }

    fn wants(&self, phase: Phase) -> bool {
        match phase {
            Phase::RequestHead => true,
            Phase::RequestBody => self.signatures.is_some(),
            _ => false,
        }
    }

    fn inspect(&self, phase: Phase, tx: &mut Transaction) {
        match phase {
            Phase::RequestHead => {
                self.authenticate_offline(tx);
                if tx.state.get::<AuthOutcome>() != Some(&AuthOutcome::PendingSignature) {
                    self.authorize(tx);
                }
            }
            Phase::RequestBody
                if tx.state.get::<AuthOutcome>() == Some(&AuthOutcome::PendingSignature) =>
            {
                self.verify_signature(tx);
                self.authorize(tx);
            }
            _ => {}
        }
    }
}

/// Header name, query parameter, static keys, store and reload interval.
type ApiKeySettings = (
    Option<HeaderName>,
    Option<String>,
    ApiKeyIndex,
    Option<Arc<ApiKeyStore>>,
    Duration,
);

fn api_keys_from_config(
    config: &ApiKeysConfig,
    base_dir: &Path,
) -> Result<ApiKeySettings, ConfigError> {
    let header = match &config.header {
        Some(h) => Some(
            HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes())
                .map_err(|_| ConfigError::Invalid(format!("invalid API key header `{h}`")))?,
        ),
        None => None,
    };
    let mut records = Vec::new();
    for k in &config.keys {
        if k.sha256.len() != 64 || hex::decode(&k.sha256).is_err() {
            return Err(ConfigError::Invalid(format!(
                "API key {}: sha256 must be 64 hex characters",
                k.id
            )));
        }
        records.push(crate::apikey::ApiKeyRecord {
            id: k.id.clone(),
            sha256: k.sha256.to_ascii_lowercase(),
            owner: k.owner.clone(),
            scopes: k.scopes.clone(),
            rate_limit: k.rate_limit.clone(),
            created_at: 0,
            expires_at: k.expires_at,
            revoked_at: None,
        });
    }
    let store = match &config.store {
        Some(path) => Some(Arc::new(ApiKeyStore::open(&base_dir.join(path))?)),
        None => None,
    };
    Ok((
        header,
        config.query.clone(),
        ApiKeyIndex::new(records),
        store,
        Duration::from_secs(config.reload_seconds.max(1)),
    ))
}

fn done(pair: (AuthOutcome, Option<Principal>)) -> Step {
    Step::Done(pair.0, pair.1)
}

fn failed(
    credential: CredentialKind,
    code: &'static str,
    description: &str,
    location: String,
    attack: bool,
) -> (AuthOutcome, Option<Principal>) {
    metrics::counter!("palisade_auth_failures_total", "code" => code).increment(1);
    (
        AuthOutcome::Failed(AuthFailure {
            credential,
            code,
            description: description.to_owned(),
            location,
            attack,
        }),
        None,
    )
}

fn jwt_result(
    result: Result<Principal, JwtError>,
    location: String,
) -> (AuthOutcome, Option<Principal>) {
    match result {
        Ok(p) => (AuthOutcome::Authenticated, Some(p)),
        Err(e) => {
            let attack = e.is_attack_signal();
            failed(
                CredentialKind::Jwt,
                e.code(),
                &e.to_string(),
                location,
                attack,
            )
        }
    }
}

fn introspection_outcome(
    result: IntrospectionResult,
    location: String,
) -> (AuthOutcome, Option<Principal>) {
    match result {
        IntrospectionResult::Active { principal, .. } => {
            (AuthOutcome::Authenticated, Some(principal))
        }
        IntrospectionResult::Inactive => failed(
            CredentialKind::OpaqueToken,
            "inactive",
            "token is not active",
            location,
            false,
        ),
    }
}

fn extract_code(e: ExtractError) -> &'static str {
    match e {
        ExtractError::Ambiguous => "ambiguous",
        ExtractError::Malformed => "malformed",
        ExtractError::TooLong => "too_long",
    }
}

fn record(tx: &mut Transaction, outcome: AuthOutcome, principal: Option<Principal>) {
    if principal.is_some() {
        tx.principal = principal;
    }
    tx.state.insert(outcome);
}
