//! Configuration of the identity engine: the `[auth]` section of `palisade.toml`.
//!
//! Every struct refuses unknown fields so a typo is an error at load time, not a
//! silently ignored security control. Secrets (HMAC keys, client secrets) are
//! never written in the file itself: they are read from an environment variable
//! (`*_env`) or a file (`*_file`).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The `[auth]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Realm announced in `WWW-Authenticate` challenges.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// Trusted JWT issuers.
    #[serde(default)]
    pub issuers: Vec<IssuerConfig>,
    /// Where bearer tokens (JWT or opaque) are looked for, in order. Default:
    /// the `Authorization: Bearer` header only.
    #[serde(default)]
    pub token_locations: Vec<TokenLocation>,
    /// API keys presented in a header or query parameter.
    #[serde(default)]
    pub api_keys: Option<ApiKeysConfig>,
    /// OAuth 2.0 token introspection (RFC 7662) for opaque tokens.
    #[serde(default)]
    pub introspection: Option<IntrospectionConfig>,
    /// HMAC-signed requests.
    #[serde(default)]
    pub signatures: Option<SignaturesConfig>,
    /// How a verified client certificate becomes a principal.
    #[serde(default)]
    pub mtls: MtlsConfig,
    /// Access rules, first match wins.
    #[serde(default)]
    pub rules: Vec<AccessRuleConfig>,
    /// What applies to a request no rule matches.
    #[serde(default)]
    pub default_access: Access,
    /// Match rule paths without regard to ASCII case (default true: upstreams
    /// that route case-insensitively must not open a bypass).
    #[serde(default = "default_true")]
    pub case_insensitive_paths: bool,
    /// Headers carrying the verified identity to the upstream.
    #[serde(default)]
    pub identity_headers: IdentityHeadersConfig,
    /// Extra CA certificates (PEM) trusted for `https://` JWKS and
    /// introspection endpoints, besides the system's roots.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Verified JWTs remembered so repeated tokens skip signature
    /// verification (0 disables; see `verified_cache`).
    #[serde(default = "default_jwt_cache")]
    pub jwt_cache_entries: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            realm: default_realm(),
            issuers: Vec::new(),
            token_locations: Vec::new(),
            api_keys: None,
            introspection: None,
            signatures: None,
            mtls: MtlsConfig::default(),
            rules: Vec::new(),
            default_access: Access::default(),
            case_insensitive_paths: true,
            identity_headers: IdentityHeadersConfig::default(),
            tls_ca_file: None,
            jwt_cache_entries: default_jwt_cache(),
        }
    }
}

/// One trusted token issuer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Exact value the `iss` claim must carry.
    pub issuer: String,
    /// Accepted `aud` values; a token must name at least one. Empty: the
    /// audience is not checked (not recommended).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Algorithm allow-list (`RS256`, `ES256`, `EdDSA`, `HS256`...). `none` is
    /// refused at load time. Each key is only ever used with algorithms of its
    /// own family.
    pub algorithms: Vec<String>,
    /// Static verification keys.
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
    /// JWKS document URL (`http://` or `https://`), fetched at start, every
    /// `jwks_refresh_seconds` and when a token names an unknown `kid`.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// JWKS document read from disk once at start.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    #[serde(default = "default_jwks_refresh")]
    pub jwks_refresh_seconds: u64,
    /// Minimum time between two fetches caused by unknown `kid`s, so forged
    /// kids cannot turn the gateway into a JWKS request amplifier.
    #[serde(default = "default_jwks_min_refetch")]
    pub jwks_min_refetch_seconds: u64,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Refuse tokens whose `iat` is older than this.
    #[serde(default)]
    pub max_age_seconds: Option<u64>,
    /// Claims that must be present. Default: `exp` and `sub`.
    #[serde(default = "default_required_claims")]
    pub required_claims: Vec<String>,
    /// Claim holding the subject.
    #[serde(default = "default_subject_claim")]
    pub subject_claim: String,
    /// Claims holding scopes, a space-separated string or an array.
    #[serde(default = "default_scope_claims")]
    pub scope_claims: Vec<String>,
}

/// A static verification key. Exactly one of `pem_file`, `jwk_file`,
/// `secret_env`, `secret_file` must be set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Key id matched against the token's `kid`. A key without one is tried
    /// for tokens without `kid`.
    #[serde(default)]
    pub kid: Option<String>,
    /// Public key in PEM (SPKI, or PKCS#1 for RSA).
    #[serde(default)]
    pub pem_file: Option<PathBuf>,
    /// A single public JWK (RSA, EC or OKP).
    #[serde(default)]
    pub jwk_file: Option<PathBuf>,
    /// HMAC secret read from this environment variable.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// HMAC secret read from this file (trailing newline trimmed).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
}

/// Where a bearer token is read from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenLocation {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// The whole value of a header (`X-Access-Token: <token>`).
    Header { name: String },
    /// A cookie.
    Cookie { name: String },
}

/// API keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysConfig {
    /// Header carrying the key (default `x-api-key`).
    #[serde(default = "default_api_key_header")]
    pub header: Option<String>,
    /// Query parameter carrying the key; off by default because URLs end up in logs.
    #[serde(default)]
    pub query: Option<String>,
    /// SQLite key store managed by `palisade keys create|revoke|list`.
    #[serde(default)]
    pub store: Option<PathBuf>,
    /// How often the store is re-read by a running gateway.
    #[serde(default = "default_key_reload")]
    pub reload_seconds: u64,
    /// Keys declared in the configuration, by hash only.
    #[serde(default)]
    pub keys: Vec<StaticApiKeyConfig>,
}

/// An API key declared in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticApiKeyConfig {
    /// The key's public id (the part after `pk_`).
    pub id: String,
    /// Hex SHA-256 of the whole key, as printed by `palisade keys create`.
    pub sha256: String,
    pub owner: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Rate limit carried into the principal (`100/minute`), used by limits
    /// that read the `rate_limit` claim.
    #[serde(default)]
    pub rate_limit: Option<String>,
    /// Unix time after which the key is refused.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// OAuth 2.0 token introspection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionConfig {
    /// Introspection endpoint.
    pub url: String,
    pub client_id: String,
    /// Environment variable holding the client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// Upper bound on how long an active answer is cached (also bounded by the token's `exp`).
    #[serde(default = "default_introspection_ttl")]
    pub cache_ttl_seconds: u64,
    /// How long an inactive answer is cached.
    #[serde(default = "default_negative_ttl")]
    pub negative_ttl_seconds: u64,
    #[serde(default = "default_cache_entries")]
    pub cache_entries: usize,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Accepted `aud` values (empty: not checked).
    #[serde(default)]
    pub audiences: Vec<String>,
}

/// HMAC request signatures. The canonical string is described in
/// [`crate::signature`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignaturesConfig {
    pub keys: Vec<SignatureKeyConfig>,
    /// Headers covered by the signature, in this order, besides the fixed fields.
    #[serde(default = "default_signed_headers")]
    pub signed_headers: Vec<String>,
    /// Largest accepted difference between the signed timestamp and now.
    #[serde(default = "default_skew")]
    pub max_skew_seconds: u64,
    /// Nonces remembered for replay defence (oldest dropped first once full).
    #[serde(default = "default_nonce_entries")]
    pub nonce_cache_entries: usize,
    #[serde(default = "default_key_id_header")]
    pub key_id_header: String,
    #[serde(default = "default_timestamp_header")]
    pub timestamp_header: String,
    #[serde(default = "default_nonce_header")]
    pub nonce_header: String,
    #[serde(default = "default_signature_header")]
    pub signature_header: String,
}

/// A shared secret for signed requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureKeyConfig {
    pub id: String,
    pub owner: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
}

/// Mapping of verified client certificates to principals.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsConfig {
    /// Where the subject comes from, first present wins.
    #[serde(default = "default_subject_sources")]
    pub subject_from: Vec<CertSubjectSource>,
    /// Scopes given to every certificate principal.
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl Default for MtlsConfig {
    fn default() -> Self {
        MtlsConfig {
            subject_from: default_subject_sources(),
            scopes: Vec::new(),
        }
    }
}

/// A certificate field that can name the principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertSubjectSource {
    /// Subject common name.
    Cn,
    /// First DNS subjectAltName.
    SanDns,
    /// First URI subjectAltName (SPIFFE ids).
    SanUri,
    /// First email subjectAltName.
    SanEmail,
}

/// What a route demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// No credential needed (a valid one is still verified and forwarded).
    #[default]
    Anonymous,
    /// A verified principal is needed.
    Authenticated,
    /// Nobody may call it.
    Deny,
}

/// Credential kinds a rule may restrict itself to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    Jwt,
    OpaqueToken,
    ApiKey,
    ClientCertificate,
    SignedRequest,
}

/// One access rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRuleConfig {
    /// Path pattern: literal segments, `*` for one segment, `**` for any
    /// number of segments (`/api/admin/**`).
    pub path: String,
    /// Methods the rule applies to; empty means all.
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default = "default_rule_access")]
    pub access: Access,
    /// Accepted credential kinds; empty means any.
    #[serde(default)]
    pub accept: Vec<CredentialKind>,
    /// Scopes that must all be granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Claim rules: each named claim must hold one of the listed values
    /// (`role = ["admin"]` reads as `role in [admin]`). For array claims any
    /// element may match.
    #[serde(default)]
    pub claims: BTreeMap<String, Vec<String>>,
}

/// Headers that carry the verified identity upstream. Client-supplied copies
/// of every one of them, and of every default name whether forwarded or not,
/// are always removed. An empty name forwards nothing for that field.
///
/// By default the upstream learns who the caller is and what it may do (the
/// subject and its scopes) and nothing more: the issuer and the kind of
/// credential are forwarded only when named, since every header sent costs
/// each request on both sides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityHeadersConfig {
    /// The principal: JWT `sub`, API key owner, certificate subject...
    #[serde(default = "default_subject_header")]
    pub subject: String,
    /// The token issuer (`x-palisade-issuer` is the usual name); off by default.
    #[serde(default)]
    pub issuer: String,
    /// Granted scopes, space-separated.
    #[serde(default = "default_scopes_header")]
    pub scopes: String,
    /// Credential kind: `jwt`, `opaque_token`, `api_key`, `client_certificate`
    /// or `signed_request` (`x-palisade-auth-kind` is the usual name); off by
    /// default.
    #[serde(default)]
    pub kind: String,
    /// Claim name to header name.
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
    /// Further client headers to strip (a legacy `X-User`, say).
    #[serde(default)]
    pub strip: Vec<String>,
}

impl Default for IdentityHeadersConfig {
    fn default() -> Self {
        IdentityHeadersConfig {
            subject: default_subject_header(),
            issuer: String::new(),
            scopes: default_scopes_header(),
            kind: String::new(),
            claims: BTreeMap::new(),
            strip: Vec::new(),
        }
    }
}

fn default_jwt_cache() -> usize {
    10_000
}
fn default_realm() -> String {
    "palisade".into()
}
fn default_true() -> bool {
    true
}
fn default_jwks_refresh() -> u64 {
    300
}
fn default_jwks_min_refetch() -> u64 {
    30
}
fn default_leeway() -> u64 {
    30
}
fn default_required_claims() -> Vec<String> {
    vec!["exp".into(), "sub".into()]
}
fn default_subject_claim() -> String {
    "sub".into()
}
fn default_scope_claims() -> Vec<String> {
    vec!["scope".into(), "scp".into()]
}
fn default_api_key_header() -> Option<String> {
    Some("x-api-key".into())
}
fn default_key_reload() -> u64 {
    10
}
fn default_introspection_ttl() -> u64 {
    60
}
fn default_negative_ttl() -> u64 {
    10
}
fn default_cache_entries() -> usize {
    10_000
}
fn default_timeout_ms() -> u64 {
    2_000
}
fn default_signed_headers() -> Vec<String> {
    vec!["host".into(), "content-type".into()]
}
fn default_skew() -> u64 {
    300
}
fn default_nonce_entries() -> usize {
    100_000
}
fn default_key_id_header() -> String {
    "x-palisade-key-id".into()
}
fn default_timestamp_header() -> String {
    "x-palisade-timestamp".into()
}
fn default_nonce_header() -> String {
    "x-palisade-nonce".into()
}
fn default_signature_header() -> String {
    "x-palisade-signature".into()
}
fn default_subject_sources() -> Vec<CertSubjectSource> {
    vec![
        CertSubjectSource::SanUri,
        CertSubjectSource::Cn,
        CertSubjectSource::SanDns,
        CertSubjectSource::SanEmail,
    ]
}
fn default_rule_access() -> Access {
    Access::Authenticated
}
fn default_subject_header() -> String {
    "x-palisade-subject".into()
}
fn default_scopes_header() -> String {
    "x-palisade-scopes".into()
}
