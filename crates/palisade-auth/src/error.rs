use thiserror::Error;

/// Why a JWT was refused. The `Display` text is safe to send to clients in
/// `error_description`: it never quotes the token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JwtError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("unsigned tokens (alg none) are refused")]
    AlgorithmNone,
    #[error("token signature is missing")]
    MissingSignature,
    #[error("algorithm {0} is not allowed")]
    AlgorithmNotAllowed(String),
    #[error("critical header extensions are not supported")]
    UnsupportedCritical,
    #[error("token issuer is not trusted")]
    UnknownIssuer,
    #[error("unknown key id")]
    UnknownKid(String),
    #[error("no key for this algorithm")]
    NoKey,
    #[error("signature verification failed")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token issued in the future")]
    IssuedInFuture,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("missing claim {0}")]
    MissingClaim(String),
    #[error("invalid claim {0}")]
    InvalidClaim(&'static str),
    #[error("invalid key material: {0}")]
    KeyMaterial(String),
}

impl JwtError {
    /// Stable short code used in finding rule ids and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            JwtError::Malformed(_) => "malformed",
            JwtError::AlgorithmNone => "alg_none",
            JwtError::MissingSignature => "missing_signature",
            JwtError::AlgorithmNotAllowed(_) => "alg_not_allowed",
            JwtError::UnsupportedCritical => "crit",
            JwtError::UnknownIssuer => "unknown_issuer",
            JwtError::UnknownKid(_) => "unknown_kid",
            JwtError::NoKey => "no_key",
            JwtError::BadSignature => "bad_signature",
            JwtError::Expired => "expired",
            JwtError::NotYetValid => "not_yet_valid",
            JwtError::IssuedInFuture => "iat_future",
            JwtError::WrongIssuer => "wrong_issuer",
            JwtError::WrongAudience => "wrong_audience",
            JwtError::MissingClaim(_) => "missing_claim",
            JwtError::InvalidClaim(_) => "invalid_claim",
            JwtError::KeyMaterial(_) => "key_material",
        }
    }

    /// True for failures that only a forged or tampered token produces, as
    /// opposed to an honest client with a stale token.
    pub fn is_attack_signal(&self) -> bool {
        matches!(
            self,
            JwtError::AlgorithmNone
                | JwtError::MissingSignature
                | JwtError::AlgorithmNotAllowed(_)
                | JwtError::UnsupportedCritical
                | JwtError::BadSignature
                | JwtError::Malformed(_)
        )
    }
}

/// Errors building the engine from configuration.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("issuer {issuer}: {message}")]
    Issuer { issuer: String, message: String },
    #[error("rule {path}: {message}")]
    Rule { path: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    KeyStore(#[from] KeyStoreError),
}

/// Errors fetching a document over HTTP.
#[derive(Debug, Clone, Error)]
pub enum FetchError {
    #[error("invalid URL: {0}")]
    Url(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("timed out")]
    Timeout,
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("unsupported URL scheme {0}")]
    Scheme(String),
}

/// Errors of the API key store.
#[derive(Debug, Error)]
pub enum KeyStoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("no key with id {0}")]
    NotFound(String),
    #[error("invalid input: {0}")]
    Invalid(String),
}
