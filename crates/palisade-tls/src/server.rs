//! Downstream (listener) TLS: certificates chosen by SNI, TLS 1.2+ only, ALPN, mTLS.

use crate::pem::{load_certificates, load_private_key};
use crate::x509::CertificateInfo;
use crate::{crypto_provider, TlsError};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::OffsetDateTime;

/// A certificate expiring within this many days is reported as a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// TLS settings of one listener.
///
/// ```toml
/// min_version = "1.2"
/// alpn = ["h2", "http/1.1"]
/// certificates = [
///   { cert = "/etc/palisade/api.pem", key = "/etc/palisade/api.key", default = true },
///   { cert = "/etc/palisade/admin.pem", key = "/etc/palisade/admin.key", server_names = ["admin.example.com"] },
/// ]
/// client_auth = { ca = "/etc/palisade/clients-ca.pem", required = true }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTlsConfig {
    /// Certificates chosen by the SNI name the client sends. At least one.
    pub certificates: Vec<CertificateConfig>,
    /// Lowest protocol version accepted: TLS 1.2 (default) or TLS 1.3. Anything older
    /// cannot be expressed.
    #[serde(default)]
    pub min_version: TlsVersion,
    /// ALPN protocols offered, in preference order. A client that offers ALPN but none
    /// of these is refused (RFC 7301); a client that offers no ALPN gets HTTP/1.1.
    #[serde(default = "default_alpn")]
    pub alpn: Vec<String>,
    /// Client certificate authentication (mTLS).
    #[serde(default)]
    pub client_auth: Option<ClientAuthConfig>,
}

impl ServerTlsConfig {
    /// One certificate, TLS 1.2+, `h2` and `http/1.1`, no client authentication.
    pub fn single(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> ServerTlsConfig {
        ServerTlsConfig {
            certificates: vec![CertificateConfig::new(cert, key)],
            min_version: TlsVersion::default(),
            alpn: default_alpn(),
            client_auth: None,
        }
    }
}

/// One certificate chain and its key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// PEM file: the leaf certificate first, then intermediates.
    pub cert: PathBuf,
    /// PEM private key: PKCS#8, PKCS#1 (RSA) or SEC1 (EC). Not encrypted.
    pub key: PathBuf,
    /// SNI names served by this certificate: exact (`api.example.com`) or wildcard
    /// (`*.example.com`, which matches exactly one more label). When empty, the DNS
    /// subject alternative names of the certificate are used.
    #[serde(default)]
    pub server_names: Vec<String>,
    /// Serve this certificate when the client sends no SNI or an unknown name.
    /// When no certificate says so, the first one is the default.
    #[serde(default)]
    pub default: bool,
}

impl CertificateConfig {
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> CertificateConfig {
        CertificateConfig {
            cert: cert.into(),
            key: key.into(),
            server_names: Vec::new(),
            default: false,
        }
    }

    pub fn with_server_names<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Self {
        self.server_names = names.into_iter().map(Into::into).collect();
        self
    }

    pub fn as_default(mut self) -> Self {
        self.default = true;
        self
    }
}

/// Client certificate authentication.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAuthConfig {
    /// PEM bundle of the CAs that issue client certificates.
    pub ca: PathBuf,
    /// `true` (default): a client without a valid certificate cannot complete the
    /// handshake. `false`: a certificate is requested and verified if sent, and the
    /// connection proceeds without one otherwise.
    #[serde(default = "yes")]
    pub required: bool,
}

/// A TLS protocol version that may be the minimum of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Deserialize, Serialize)]
pub enum TlsVersion {
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    #[serde(rename = "1.3")]
    Tls13,
}

impl TlsVersion {
    fn enabled_versions(self) -> &'static [&'static SupportedProtocolVersion] {
        static TLS12_AND_13: [&SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        static TLS13_ONLY: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        match self {
            TlsVersion::Tls12 => &TLS12_AND_13,
            TlsVersion::Tls13 => &TLS13_ONLY,
        }
    }
}

impl std::str::FromStr for TlsVersion {
    type Err = TlsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "1.2" | "TLSv1.2" | "tls1.2" => Ok(TlsVersion::Tls12),
            "1.3" | "TLSv1.3" | "tls1.3" => Ok(TlsVersion::Tls13),
            other => Err(TlsError::UnsupportedVersion(other.to_owned())),
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        })
    }
}

fn default_alpn() -> Vec<String> {
    vec!["h2".to_owned(), "http/1.1".to_owned()]
}

fn yes() -> bool {
    true
}

/// Something an operator should know about a configuration that still works.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsWarning {
    /// The certificate is past its `notAfter`: clients that verify it will refuse it.
    Expired {
        cert: PathBuf,
        not_after: OffsetDateTime,
    },
    /// The certificate's `notBefore` is in the future.
    NotYetValid {
        cert: PathBuf,
        not_before: OffsetDateTime,
    },
    /// The certificate expires within [`EXPIRY_WARNING_DAYS`] days.
    ExpiresSoon {
        cert: PathBuf,
        not_after: OffsetDateTime,
    },
    /// A configured server name is not covered by the certificate's names, so clients
    /// that verify the name will refuse the certificate.
    NameNotInCertificate { cert: PathBuf, name: String },
    /// Two certificates claim the same name through their SANs; the first one serves it.
    NameShadowed {
        name: String,
        served_by: PathBuf,
        shadowed: PathBuf,
    },
}

impl fmt::Display for TlsWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsWarning::Expired { cert, not_after } => {
                write!(f, "{}: certificate expired on {not_after}", cert.display())
            }
            TlsWarning::NotYetValid { cert, not_before } => {
                write!(
                    f,
                    "{}: certificate is not valid before {not_before}",
                    cert.display()
                )
            }
            TlsWarning::ExpiresSoon { cert, not_after } => {
                write!(f, "{}: certificate expires on {not_after}", cert.display())
            }
            TlsWarning::NameNotInCertificate { cert, name } => write!(
                f,
                "{}: server name `{name}` is not among the certificate's names",
                cert.display()
            ),
            TlsWarning::NameShadowed {
                name,
                served_by,
                shadowed,
            } => write!(
                f,
                "server name `{name}` of {} is already served by {}",
                shadowed.display(),
                served_by.display()
            ),
        }
    }
}

/// What [`build_server_config_checked`] loaded, for `check-config` style reports.
#[derive(Debug, Clone)]
pub struct LoadedCertificate {
    pub cert_path: PathBuf,
    /// Names this certificate is selected for.
    pub server_names: Vec<String>,
    pub is_default: bool,
    pub info: CertificateInfo,
}

/// A built listener configuration with what was found along the way.
#[derive(Debug, Clone)]
pub struct ServerTlsBuild {
    pub config: Arc<ServerConfig>,
    pub certificates: Vec<LoadedCertificate>,
    pub warnings: Vec<TlsWarning>,
}

/// Builds the rustls configuration of a listener; warnings (expired certificates and
/// the like) are logged with `tracing::warn!`.
pub fn build_server_config(config: &ServerTlsConfig) -> Result<Arc<ServerConfig>, TlsError> {
    let built = build_server_config_checked(config)?;
    for warning in &built.warnings {
        tracing::warn!(%warning, "TLS certificate");
    }
    Ok(built.config)
}

/// Builds the rustls configuration of a listener and returns the warnings instead of
/// logging them.
pub fn build_server_config_checked(config: &ServerTlsConfig) -> Result<ServerTlsBuild, TlsError> {
    build_server_config_at(config, OffsetDateTime::now_utc())
}

fn build_server_config_at(
    config: &ServerTlsConfig,
    now: OffsetDateTime,
) -> Result<ServerTlsBuild, TlsError> {
    let provider = crypto_provider();
    if config.certificates.is_empty() {
        return Err(TlsError::NoCertificates);
    }
    let alpn = alpn_protocols(&config.alpn)?;

    let mut default_index: Option<usize> = None;
    for (index, certificate) in config.certificates.iter().enumerate() {
        if certificate.default {
            if let Some(first) = default_index {
                return Err(TlsError::SeveralDefaults {
                    first: config.certificates[first].cert.clone(),
                    second: certificate.cert.clone(),
                });
            }
            default_index = Some(index);
        }
    }
    let default_index = default_index.unwrap_or(0);

    let mut warnings = Vec::new();
    let mut loaded = Vec::with_capacity(config.certificates.len());
    let mut resolver = SniResolver::default();
    // Which configured certificate serves each name, and whether it was named explicitly.
    let mut owners: HashMap<String, (usize, bool)> = HashMap::new();

    for (index, certificate) in config.certificates.iter().enumerate() {
        let chain = load_certificates(&certificate.cert)?;
        let key_der = load_private_key(&certificate.key)?;
        let signing_key = provider
            .key_provider
            .load_private_key(key_der)
            .map_err(|e| TlsError::UnusableKey {
                path: certificate.key.clone(),
                reason: e.to_string(),
            })?;
        let leaf_info = match chain.first() {
            Some(leaf) => CertificateInfo::parse(leaf.as_ref()).map_err(|reason| {
                TlsError::InvalidCertificate {
                    path: certificate.cert.clone(),
                    index: 1,
                    reason,
                }
            })?,
            None => {
                return Err(TlsError::NoCertificate {
                    path: certificate.cert.clone(),
                    hint: "",
                })
            }
        };
        let certified = CertifiedKey::new(chain, signing_key);
        check_key_matches(&certified, certificate)?;
        let certified = Arc::new(certified);

        validity_warnings(&leaf_info, &certificate.cert, now, &mut warnings);

        let explicit = !certificate.server_names.is_empty();
        let names: Vec<String> = if explicit {
            let mut names = Vec::with_capacity(certificate.server_names.len());
            for name in &certificate.server_names {
                let name = normalize_server_name(name, &certificate.cert)?;
                if !certificate_covers(&leaf_info, &name) {
                    warnings.push(TlsWarning::NameNotInCertificate {
                        cert: certificate.cert.clone(),
                        name: name.clone(),
                    });
                }
                names.push(name);
            }
            names
        } else {
            // SAN entries that are not valid SNI names (IP literals cannot be sent as SNI,
            // odd wildcards cannot be matched) are not routing keys; skip them.
            leaf_info
                .dns_names()
                .filter_map(|name| normalize_server_name(&name, &certificate.cert).ok())
                .collect()
        };
        if names.is_empty() && index != default_index {
            return Err(TlsError::NoServerNames {
                cert: certificate.cert.clone(),
            });
        }

        let mut served = Vec::with_capacity(names.len());
        for name in names {
            match owners.get(&name) {
                Some(&(owner, owner_explicit)) => {
                    if explicit && owner_explicit {
                        return Err(TlsError::DuplicateServerName {
                            name,
                            first: config.certificates[owner].cert.clone(),
                            second: certificate.cert.clone(),
                        });
                    }
                    if explicit {
                        // An explicit name beats a name merely found in another certificate.
                        owners.insert(name.clone(), (index, true));
                        resolver.insert(&name, Arc::clone(&certified));
                        warnings.push(TlsWarning::NameShadowed {
                            name: name.clone(),
                            served_by: certificate.cert.clone(),
                            shadowed: config.certificates[owner].cert.clone(),
                        });
                        served.push(name);
                    } else {
                        warnings.push(TlsWarning::NameShadowed {
                            name,
                            served_by: config.certificates[owner].cert.clone(),
                            shadowed: certificate.cert.clone(),
                        });
                    }
                }
                None => {
                    owners.insert(name.clone(), (index, explicit));
                    resolver.insert(&name, Arc::clone(&certified));
                    served.push(name);
                }
            }
        }
        if index == default_index {
            resolver.default = Some(Arc::clone(&certified));
        }
        loaded.push(LoadedCertificate {
            cert_path: certificate.cert.clone(),
            server_names: served,
            is_default: index == default_index,
            info: leaf_info,
        });
    }
    // A name first served by one certificate may have been taken over by a later
    // explicit one: only report the names each certificate really serves.
    for (index, certificate) in loaded.iter_mut().enumerate() {
        certificate
            .server_names
            .retain(|name| owners.get(name).map(|&(owner, _)| owner) == Some(index));
    }

    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(config.min_version.enabled_versions())?;
    let builder = match &config.client_auth {
        None => builder.with_no_client_auth(),
        Some(client_auth) => {
            let roots = load_trust_anchors(&client_auth.ca)?;
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            let verifier = if client_auth.required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            builder.with_client_cert_verifier(verifier.build()?)
        }
    };
    let mut server_config = builder.with_cert_resolver(Arc::new(resolver));
    server_config.alpn_protocols = alpn;
    // 0-RTT data is replayable; an inspecting proxy must never act on it.
    server_config.max_early_data_size = 0;
    Ok(ServerTlsBuild {
        config: Arc::new(server_config),
        certificates: loaded,
        warnings,
    })
}

fn check_key_matches(
    certified: &CertifiedKey,
    certificate: &CertificateConfig,
) -> Result<(), TlsError> {
    match certified.keys_match() {
        Ok(()) => Ok(()),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::KeyMismatch {
                cert: certificate.cert.clone(),
                key: certificate.key.clone(),
            })
        }
        // The key type cannot report its public half; the handshake will still fail
        // if the pair is inconsistent, so there is nothing more to check here.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(()),
        Err(other) => Err(TlsError::UnusableKey {
            path: certificate.key.clone(),
            reason: other.to_string(),
        }),
    }
}

fn validity_warnings(
    info: &CertificateInfo,
    cert: &Path,
    now: OffsetDateTime,
    warnings: &mut Vec<TlsWarning>,
) {
    if info.not_after < now {
        warnings.push(TlsWarning::Expired {
            cert: cert.to_path_buf(),
            not_after: info.not_after,
        });
    } else if info.not_after < now + time::Duration::days(EXPIRY_WARNING_DAYS) {
        warnings.push(TlsWarning::ExpiresSoon {
            cert: cert.to_path_buf(),
            not_after: info.not_after,
        });
    }
    if info.not_before > now {
        warnings.push(TlsWarning::NotYetValid {
            cert: cert.to_path_buf(),
            not_before: info.not_before,
        });
    }
}

/// Reads a PEM CA bundle into a root store; every certificate must be usable.
pub(crate) fn load_trust_anchors(path: &Path) -> Result<RootCertStore, TlsError> {
    let certificates = load_certificates(path)?;
    let mut roots = RootCertStore::empty();
    for (index, certificate) in certificates.into_iter().enumerate() {
        roots
            .add(certificate)
            .map_err(|e| TlsError::NoTrustAnchors {
                path: path.to_path_buf(),
                reason: format!("certificate #{}: {e}", index + 1),
            })?;
    }
    Ok(roots)
}

fn alpn_protocols(protocols: &[String]) -> Result<Vec<Vec<u8>>, TlsError> {
    protocols
        .iter()
        .map(|protocol| {
            if protocol.is_empty() {
                Err(TlsError::InvalidAlpn {
                    protocol: protocol.clone(),
                    reason: "empty",
                })
            } else if protocol.len() > 255 {
                Err(TlsError::InvalidAlpn {
                    protocol: protocol.clone(),
                    reason: "longer than 255 bytes",
                })
            } else {
                Ok(protocol.as_bytes().to_vec())
            }
        })
        .collect()
}

/// Lowercases a configured name and checks it is a DNS name or a `*.` wildcard.
fn normalize_server_name(name: &str, cert: &Path) -> Result<String, TlsError> {
    let invalid = |reason| TlsError::InvalidServerName {
        name: name.to_owned(),
        cert: cert.to_path_buf(),
        reason,
    };
    let lowered = name.trim_end_matches('.').to_ascii_lowercase();
    if lowered.is_empty() {
        return Err(invalid("empty"));
    }
    if lowered.len() > 253 {
        return Err(invalid("longer than 253 characters"));
    }
    if lowered.parse::<std::net::IpAddr>().is_ok() {
        return Err(invalid("IP addresses cannot be sent as SNI"));
    }
    let host = match lowered.strip_prefix("*.") {
        Some(rest) => rest,
        None => lowered.as_str(),
    };
    if host.is_empty() {
        return Err(invalid("wildcard without a domain"));
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(invalid("empty label"));
        }
        if label.len() > 63 {
            return Err(invalid("label longer than 63 characters"));
        }
        if label.contains('*') {
            return Err(invalid(
                "a wildcard may only be the whole first label (`*.example.com`)",
            ));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid("only letters, digits, `-` and `_` are allowed (use the xn-- form of international names)"));
        }
    }
    Ok(lowered)
}

/// True when a client verifying `name` against the certificate would accept it.
fn certificate_covers(info: &CertificateInfo, name: &str) -> bool {
    info.dns_names().any(|san| {
        let san = san.trim_end_matches('.');
        if san == name {
            return true;
        }
        // A wildcard SAN covers exactly one label, and never a configured wildcard.
        match (san.strip_prefix("*."), name.split_once('.')) {
            (Some(san_parent), Some((first, parent))) => {
                first != "*" && !first.is_empty() && san_parent == parent
            }
            _ => false,
        }
    })
}

/// Picks the certificate for a handshake from the SNI name.
#[derive(Default)]
struct SniResolver {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Keyed by the part after `*.`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl fmt::Debug for SniResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SniResolver")
            .field("exact", &self.exact.keys().collect::<Vec<_>>())
            .field("wildcard", &self.wildcard.keys().collect::<Vec<_>>())
            .field("has_default", &self.default.is_some())
            .finish()
    }
}

impl SniResolver {
    /// `name` is already normalized.
    fn insert(&mut self, name: &str, key: Arc<CertifiedKey>) {
        match name.strip_prefix("*.") {
            Some(suffix) => self.wildcard.insert(suffix.to_owned(), key),
            None => self.exact.insert(name.to_owned(), key),
        };
    }

    fn lookup(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        if let Some(requested) = server_name {
            let requested = requested.trim_end_matches('.');
            let lowered;
            let requested = if requested.bytes().any(|b| b.is_ascii_uppercase()) {
                lowered = requested.to_ascii_lowercase();
                lowered.as_str()
            } else {
                requested
            };
            if let Some(key) = self.exact.get(requested) {
                return Some(Arc::clone(key));
            }
            if let Some((first, parent)) = requested.split_once('.') {
                if !first.is_empty() {
                    if let Some(key) = self.wildcard.get(parent) {
                        return Some(Arc::clone(key));
                    }
                }
            }
        }
        self.default.clone()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.lookup(client_hello.server_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_are_normalized_and_checked() {
        let cert = Path::new("c.pem");
        assert_eq!(
            normalize_server_name("API.Example.com.", cert).unwrap(),
            "api.example.com"
        );
        assert_eq!(
            normalize_server_name("*.Example.com", cert).unwrap(),
            "*.example.com"
        );
        for bad in [
            "",
            "*.",
            "a..b",
            "*a.example.com",
            "a.*.example.com",
            "10.0.0.1",
            "a b.com",
            "ex@mple.com",
        ] {
            assert!(
                normalize_server_name(bad, cert).is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn version_strings_parse() {
        assert_eq!("1.2".parse::<TlsVersion>().unwrap(), TlsVersion::Tls12);
        assert_eq!("1.3".parse::<TlsVersion>().unwrap(), TlsVersion::Tls13);
        for old in ["1.1", "1.0", "ssl3", ""] {
            assert!(matches!(
                old.parse::<TlsVersion>(),
                Err(TlsError::UnsupportedVersion(_))
            ));
        }
    }

    #[test]
    fn alpn_rejects_empty_and_oversized() {
        assert!(alpn_protocols(&["h2".into()]).is_ok());
        assert!(alpn_protocols(&[String::new()]).is_err());
        assert!(alpn_protocols(&["x".repeat(256)]).is_err());
    }
}
