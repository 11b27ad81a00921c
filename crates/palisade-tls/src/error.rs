use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while loading TLS material, building a TLS
/// configuration or performing a handshake.
///
/// Errors about files always name the file, so an operator can act on the message
/// without reading the code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: malformed PEM: {reason}", path.display())]
    MalformedPem { path: PathBuf, reason: String },
    #[error("{}: no certificate found (expected a PEM `BEGIN CERTIFICATE` block){hint}", path.display())]
    NoCertificate { path: PathBuf, hint: &'static str },
    #[error(
        "{}: no private key found (expected a PEM `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` block){hint}",
        path.display()
    )]
    NoPrivateKey { path: PathBuf, hint: &'static str },
    #[error("{}: private key is not usable: {reason}", path.display())]
    UnusableKey { path: PathBuf, reason: String },
    #[error("{}: certificate #{index} cannot be parsed: {reason}", path.display())]
    InvalidCertificate {
        path: PathBuf,
        index: usize,
        reason: String,
    },
    #[error("private key {} does not belong to certificate {}", key.display(), cert.display())]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("{}: no usable CA certificate: {reason}", path.display())]
    NoTrustAnchors { path: PathBuf, reason: String },
    #[error("no CA bundle configured and none of the system bundles exists ({tried})")]
    NoSystemTrustBundle { tried: String },
    #[error("TLS listener needs at least one certificate")]
    NoCertificates,
    #[error("more than one certificate is marked `default` ({} and {})", first.display(), second.display())]
    SeveralDefaults { first: PathBuf, second: PathBuf },
    #[error("invalid server name `{name}` for {}: {reason}", cert.display())]
    InvalidServerName {
        name: String,
        cert: PathBuf,
        reason: &'static str,
    },
    #[error("server name `{name}` is configured for both {} and {}", first.display(), second.display())]
    DuplicateServerName {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{}: no server name: the certificate has no DNS subject alternative name; set `server_names`", cert.display())]
    NoServerNames { cert: PathBuf },
    #[error("invalid ALPN protocol `{protocol}`: {reason}")]
    InvalidAlpn {
        protocol: String,
        reason: &'static str,
    },
    #[error(
        "unsupported TLS version `{0}`: use \"1.2\" or \"1.3\" (older versions cannot be enabled)"
    )]
    UnsupportedVersion(String),
    #[error("invalid SPKI pin `{pin}`: expected the base64 of a 32-byte SHA-256 digest")]
    InvalidPin { pin: String },
    #[error("invalid upstream server name `{name}`")]
    InvalidUpstreamName { name: String },
    #[error("`client_cert` and `client_key` must be given together")]
    IncompleteClientCertificate,
    #[error("TLS configuration rejected: {0}")]
    Config(String),
    #[error("TLS handshake did not complete within {0:?}")]
    HandshakeTimeout(Duration),
    #[error("TLS handshake failed: {0}")]
    Handshake(#[source] std::io::Error),
}

impl From<rustls::Error> for TlsError {
    fn from(error: rustls::Error) -> Self {
        TlsError::Config(error.to_string())
    }
}

impl From<rustls::server::VerifierBuilderError> for TlsError {
    fn from(error: rustls::server::VerifierBuilderError) -> Self {
        TlsError::Config(error.to_string())
    }
}
