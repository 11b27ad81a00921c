//! TLS for the Palisade gateway, on rustls.
//!
//! * **Listeners** ([`ServerTlsConfig`] → [`build_server_config`]): several
//!   certificates chosen by the SNI name (exact names, then one-label wildcards such as
//!   `*.example.com`, then the default certificate); TLS 1.2 or 1.3 minimum — nothing
//!   older can be configured, and rustls implements nothing older; ALPN (`h2`,
//!   `http/1.1` by default); optional client certificates (mTLS) verified against a CA
//!   bundle. Every private key is checked against its certificate at load time, and
//!   expired, not-yet-valid or soon-expiring certificates are reported as
//!   [`TlsWarning`]s.
//! * **Accepting** ([`TlsAcceptor`]): the handshake runs under a deadline and yields a
//!   [`HandshakeInfo`] (ALPN, SNI, protocol, verified client identity).
//! * **Upstreams** ([`UpstreamTlsConfig`] → [`build_client_config`],
//!   [`UpstreamConnector`]): verification against a CA bundle (the configured one or
//!   the system bundle file) that cannot be disabled, optional SPKI pinning of the
//!   leaf key on top of the normal verification, optional client certificate.
//! * **PEM loading** ([`pem`]): errors name the file and say what was expected.
//!
//! Every configuration is built with one explicit crypto provider ([`crypto_provider`],
//! *ring*); the process-wide default provider is never consulted.
//!
//! Known limits: no OCSP stapling, no certificate revocation lists for client
//! certificates, no encrypted private keys, no per-key-type certificate selection
//! (one certificate per name), pins are matched against the leaf key only, and
//! 0-RTT early data is always refused.

mod acceptor;
mod client;
mod error;
pub mod pem;
mod server;
pub mod x509;

pub use acceptor::{
    peer_certificate_identity, ClientIdentity, HandshakeInfo, TlsAcceptor,
    DEFAULT_HANDSHAKE_TIMEOUT,
};
pub use client::{
    build_client_config, decode_pins, spki_pin_of_pem_file, UpstreamConnector, UpstreamTlsConfig,
    SYSTEM_CA_BUNDLES,
};
pub use error::TlsError;
pub use server::{
    build_server_config, build_server_config_checked, CertificateConfig, ClientAuthConfig,
    LoadedCertificate, ServerTlsBuild, ServerTlsConfig, TlsVersion, TlsWarning,
    EXPIRY_WARNING_DAYS,
};
pub use x509::{CertificateInfo, SubjectAltName};

pub use rustls;
pub use tokio_rustls;

use std::sync::Arc;

/// The crypto provider every Palisade TLS configuration is built with.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
