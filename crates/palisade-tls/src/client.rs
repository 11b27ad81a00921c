//! Upstream (client side) TLS: verification against a CA bundle, optional SPKI
//! pinning, optional client certificate.

use crate::pem::{load_certificates, load_private_key};
use crate::server::load_trust_anchors;
use crate::{crypto_provider, TlsError};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// System CA bundles tried, in order, when no `ca` is configured.
pub const SYSTEM_CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// TLS towards an upstream.
///
/// Verification cannot be turned off: an upstream with a private certificate is
/// verified against its own CA (`ca`), and may additionally be pinned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTlsConfig {
    /// PEM bundle of trusted CAs; default: the first existing [`SYSTEM_CA_BUNDLES`] file.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Name to send as SNI and to verify instead of the host of the upstream address.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Accepted leaf public keys: base64 SHA-256 of the SubjectPublicKeyInfo (the
    /// `sha256/` prefix of HPKP-style pins is accepted). When not empty, the chain must
    /// verify *and* the leaf key must match one pin.
    #[serde(default)]
    pub spki_pins: Vec<String>,
    /// Client certificate chain (PEM) presented to the upstream.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// Key of `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

impl UpstreamTlsConfig {
    /// The name to verify for an upstream whose address has host `host`: the
    /// configured `server_name` if any, else `host` (a DNS name or an IP literal).
    pub fn verify_name(&self, host: &str) -> Result<ServerName<'static>, TlsError> {
        let name = self.server_name.as_deref().unwrap_or(host);
        let name = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name);
        ServerName::try_from(name.to_owned()).map_err(|_| TlsError::InvalidUpstreamName {
            name: name.to_owned(),
        })
    }
}

/// Builds the rustls client configuration for one upstream.
pub fn build_client_config(config: &UpstreamTlsConfig) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = crypto_provider();
    let ca_path = match &config.ca {
        Some(path) => path.clone(),
        None => system_ca_bundle()?,
    };
    let roots = Arc::new(load_trust_anchors(&ca_path)?);
    let pins = decode_pins(&config.spki_pins)?;
    let webpki = WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
        .build()
        .map_err(|e| TlsError::Config(e.to_string()))?;

    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = if pins.is_empty() {
        builder.with_webpki_verifier(webpki)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedServerVerifier {
                inner: webpki,
                pins,
            }))
    };
    let client_config = match (&config.client_cert, &config.client_key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let chain = load_certificates(cert)?;
            let key_der = load_private_key(key)?;
            let signing_key = provider
                .key_provider
                .load_private_key(key_der.clone_key())
                .map_err(|e| TlsError::UnusableKey {
                    path: key.clone(),
                    reason: e.to_string(),
                })?;
            let certified = CertifiedKey::new(chain.clone(), signing_key);
            if let Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) =
                certified.keys_match()
            {
                return Err(TlsError::KeyMismatch {
                    cert: cert.clone(),
                    key: key.clone(),
                });
            }
            builder.with_client_auth_cert(chain, key_der)?
        }
        _ => return Err(TlsError::IncompleteClientCertificate),
    };
    // ALPN is left empty on purpose: the HTTP client that uses this configuration
    // decides which protocols it speaks (hyper-rustls refuses a pre-set list).
    Ok(Arc::new(client_config))
}

fn system_ca_bundle() -> Result<PathBuf, TlsError> {
    SYSTEM_CA_BUNDLES
        .iter()
        .map(Path::new)
        .find(|path| path.is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| TlsError::NoSystemTrustBundle {
            tried: SYSTEM_CA_BUNDLES.join(", "),
        })
}

/// Decodes configured pins into SHA-256 digests.
pub fn decode_pins(pins: &[String]) -> Result<Vec<[u8; 32]>, TlsError> {
    pins.iter()
        .map(|pin| {
            let encoded = pin.trim();
            let encoded = encoded.strip_prefix("sha256/").unwrap_or(encoded);
            BASE64
                .decode(encoded)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| TlsError::InvalidPin { pin: pin.clone() })
        })
        .collect()
}

/// Runs the normal WebPKI verification, then requires the leaf's public key to be
/// one of the pins.
#[derive(Debug)]
struct PinnedServerVerifier {
    inner: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
}

impl ServerCertVerifier for PinnedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let pin = leaf_spki_digest(end_entity.as_ref()).ok_or(
            rustls::Error::InvalidCertificate(CertificateError::BadEncoding),
        )?;
        if self.pins.iter().any(|accepted| accepted == &pin) {
            Ok(verified)
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn leaf_spki_digest(cert_der: &[u8]) -> Option<[u8; 32]> {
    use sha2::{Digest, Sha256};
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(cert_der).ok()?;
    Some(Sha256::digest(cert.public_key().raw).into())
}

/// Wraps connections to one upstream in TLS.
#[derive(Clone)]
pub struct UpstreamConnector {
    connector: tokio_rustls::TlsConnector,
    server_name_override: Option<ServerName<'static>>,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for UpstreamConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamConnector")
            .field("server_name_override", &self.server_name_override)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl UpstreamConnector {
    pub fn new(config: &UpstreamTlsConfig, handshake_timeout: Duration) -> Result<Self, TlsError> {
        let client_config = build_client_config(config)?;
        let server_name_override = match &config.server_name {
            Some(name) => Some(config.verify_name(name)?),
            None => None,
        };
        Ok(UpstreamConnector {
            connector: tokio_rustls::TlsConnector::from(client_config),
            server_name_override,
            handshake_timeout,
        })
    }

    /// Performs the handshake over `io`, verifying the configured server name or
    /// else `host`.
    pub async fn connect<IO>(
        &self,
        host: &str,
        io: IO,
    ) -> Result<tokio_rustls::client::TlsStream<IO>, TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let name = match &self.server_name_override {
            Some(name) => name.clone(),
            None => UpstreamTlsConfig::default().verify_name(host)?,
        };
        match tokio::time::timeout(self.handshake_timeout, self.connector.connect(name, io)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(error)) => Err(TlsError::Handshake(error)),
            Err(_) => Err(TlsError::HandshakeTimeout(self.handshake_timeout)),
        }
    }
}

/// SPKI pin of the first certificate in a PEM file (for `check-config` and operators
/// preparing `spki_pins`).
pub fn spki_pin_of_pem_file(path: &Path) -> Result<String, TlsError> {
    let chain = load_certificates(path)?;
    let leaf = chain.first().ok_or_else(|| TlsError::NoCertificate {
        path: path.to_path_buf(),
        hint: "",
    })?;
    crate::x509::spki_pin(leaf.as_ref()).map_err(|reason| TlsError::InvalidCertificate {
        path: path.to_path_buf(),
        index: 1,
        reason,
    })
}
