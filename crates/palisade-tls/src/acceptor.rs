//! Accepting TLS connections with a deadline, and what a handshake tells the proxy.

use crate::x509::{CertificateInfo, SubjectAltName};
use crate::TlsError;
use palisade_core::{Principal, PrincipalKind};
use rustls::{ProtocolVersion, ServerConfig, ServerConnection};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// Handshake deadline used by [`TlsAcceptor::with_default_timeout`]: generous for real
/// clients on slow links, short enough that idle sockets do not pile up.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The verified client certificate of an mTLS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// First common name of the subject.
    pub subject_cn: Option<String>,
    /// Full subject distinguished name.
    pub subject: String,
    pub issuer: String,
    pub serial_hex: String,
    pub sans: Vec<SubjectAltName>,
    /// SPKI pin of the client key (stable across re-issued certificates with the same key).
    pub spki_sha256: String,
    /// DER of the leaf certificate.
    pub der: Vec<u8>,
}

impl ClientIdentity {
    /// The identity as a [`Principal`] for the identity phase: the subject is the
    /// common name, else the first SAN, else the full distinguished name.
    pub fn to_principal(&self) -> Principal {
        let subject = self
            .subject_cn
            .clone()
            .or_else(|| self.sans.first().map(san_value))
            .unwrap_or_else(|| self.subject.clone());
        let mut principal = Principal::new(PrincipalKind::ClientCertificate, subject);
        principal.issuer = Some(self.issuer.as_str().into());
        std::sync::Arc::make_mut(&mut principal.claims)
            .insert("cert.subject".to_owned(), self.subject.clone());
        std::sync::Arc::make_mut(&mut principal.claims)
            .insert("cert.serial".to_owned(), self.serial_hex.clone());
        std::sync::Arc::make_mut(&mut principal.claims)
            .insert("cert.spki_sha256".to_owned(), self.spki_sha256.clone());
        for (index, san) in self.sans.iter().enumerate() {
            std::sync::Arc::make_mut(&mut principal.claims)
                .insert(format!("cert.san.{index}"), san.to_string());
        }
        principal
    }
}

fn san_value(san: &SubjectAltName) -> String {
    match san {
        SubjectAltName::Dns(v) | SubjectAltName::Email(v) | SubjectAltName::Uri(v) => v.clone(),
        SubjectAltName::Ip(ip) => ip.to_string(),
    }
}

/// The client certificate of a completed handshake, if the client sent one.
///
/// rustls only completes a handshake whose client certificate verified against the
/// configured CAs, so what this returns is authenticated.
pub fn peer_certificate_identity(conn: &ServerConnection) -> Option<ClientIdentity> {
    let leaf = conn.peer_certificates()?.first()?;
    let info = CertificateInfo::parse(leaf.as_ref()).ok()?;
    Some(ClientIdentity {
        subject_cn: info.subject_cn,
        subject: info.subject,
        issuer: info.issuer,
        serial_hex: info.serial_hex,
        sans: info.sans,
        spki_sha256: info.spki_sha256,
        der: leaf.as_ref().to_vec(),
    })
}

/// What the proxy needs to know about a TLS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeInfo {
    /// Negotiated ALPN protocol (`b"h2"`, `b"http/1.1"`), if any.
    pub alpn: Option<Vec<u8>>,
    /// SNI name sent by the client.
    pub sni: Option<String>,
    pub client_identity: Option<ClientIdentity>,
    pub protocol_version: Option<ProtocolVersion>,
    /// IANA name of the negotiated cipher suite, for logs.
    pub cipher_suite: Option<String>,
}

impl HandshakeInfo {
    pub fn from_connection(conn: &ServerConnection) -> HandshakeInfo {
        HandshakeInfo {
            alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
            sni: conn.server_name().map(str::to_owned),
            client_identity: peer_certificate_identity(conn),
            protocol_version: conn.protocol_version(),
            cipher_suite: conn
                .negotiated_cipher_suite()
                .map(|suite| format!("{:?}", suite.suite())),
        }
    }

    /// True when the client negotiated HTTP/2.
    pub fn is_h2(&self) -> bool {
        self.alpn.as_deref() == Some(b"h2")
    }
}

/// Accepts TLS connections with a handshake deadline.
///
/// Cheap to clone; build a new one from a new [`ServerConfig`] on reload (connections
/// already accepted keep the configuration they were accepted with).
#[derive(Clone)]
pub struct TlsAcceptor {
    inner: tokio_rustls::TlsAcceptor,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    pub fn new(config: Arc<ServerConfig>, handshake_timeout: Duration) -> TlsAcceptor {
        TlsAcceptor {
            inner: tokio_rustls::TlsAcceptor::from(config),
            handshake_timeout,
        }
    }

    pub fn with_default_timeout(config: Arc<ServerConfig>) -> TlsAcceptor {
        TlsAcceptor::new(config, DEFAULT_HANDSHAKE_TIMEOUT)
    }

    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// Runs the server handshake on `io`; fails if it does not finish in time.
    pub async fn accept<IO>(
        &self,
        io: IO,
    ) -> Result<(tokio_rustls::server::TlsStream<IO>, HandshakeInfo), TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        match tokio::time::timeout(self.handshake_timeout, self.inner.accept(io)).await {
            Ok(Ok(stream)) => {
                let info = HandshakeInfo::from_connection(stream.get_ref().1);
                Ok((stream, info))
            }
            Ok(Err(error)) => Err(TlsError::Handshake(error)),
            Err(_) => Err(TlsError::HandshakeTimeout(self.handshake_timeout)),
        }
    }
}
