//! The few X.509 facts the gateway needs: names, validity and the public key digest.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::net::IpAddr;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

/// One subject alternative name of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum SubjectAltName {
    Dns(String),
    Email(String),
    Uri(String),
    Ip(IpAddr),
}

impl fmt::Display for SubjectAltName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectAltName::Dns(name) => write!(f, "DNS:{name}"),
            SubjectAltName::Email(email) => write!(f, "email:{email}"),
            SubjectAltName::Uri(uri) => write!(f, "URI:{uri}"),
            SubjectAltName::Ip(ip) => write!(f, "IP:{ip}"),
        }
    }
}

/// What the gateway reads from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// Subject distinguished name in RFC 4514-like text form.
    pub subject: String,
    /// First common name of the subject, if any.
    pub subject_cn: Option<String>,
    pub issuer: String,
    pub serial_hex: String,
    pub sans: Vec<SubjectAltName>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// SPKI pin: base64 of the SHA-256 of the DER SubjectPublicKeyInfo.
    pub spki_sha256: String,
}

impl CertificateInfo {
    /// Parses a DER certificate; the error is a human-readable reason.
    pub fn parse(der: &[u8]) -> Result<CertificateInfo, String> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        if !rest.is_empty() {
            return Err(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            ));
        }
        let subject_cn = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let mut sans = Vec::new();
        let extension = cert
            .subject_alternative_name()
            .map_err(|e| format!("subject alternative names: {e}"))?;
        if let Some(extension) = extension {
            for name in &extension.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => sans.push(SubjectAltName::Dns((*dns).to_owned())),
                    GeneralName::RFC822Name(email) => {
                        sans.push(SubjectAltName::Email((*email).to_owned()))
                    }
                    GeneralName::URI(uri) => sans.push(SubjectAltName::Uri((*uri).to_owned())),
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            sans.push(SubjectAltName::Ip(ip));
                        }
                    }
                    _ => {}
                }
            }
        }
        let validity = cert.validity();
        Ok(CertificateInfo {
            subject: cert.subject().to_string(),
            subject_cn,
            issuer: cert.issuer().to_string(),
            serial_hex: cert.raw_serial_as_string(),
            sans,
            not_before: validity.not_before.to_datetime(),
            not_after: validity.not_after.to_datetime(),
            spki_sha256: spki_pin_of_spki_der(cert.public_key().raw),
        })
    }

    /// DNS names among the subject alternative names, lowercased.
    pub fn dns_names(&self) -> impl Iterator<Item = String> + '_ {
        self.sans.iter().filter_map(|san| match san {
            SubjectAltName::Dns(name) => Some(name.to_ascii_lowercase()),
            _ => None,
        })
    }
}

/// SPKI pin (base64 SHA-256 of the SubjectPublicKeyInfo) of a DER certificate.
pub fn spki_pin(cert_der: &[u8]) -> Result<String, String> {
    let (_, cert) = X509Certificate::from_der(cert_der).map_err(|e| e.to_string())?;
    Ok(spki_pin_of_spki_der(cert.public_key().raw))
}

/// SPKI pin of an already extracted DER SubjectPublicKeyInfo.
pub fn spki_pin_of_spki_der(spki_der: &[u8]) -> String {
    BASE64.encode(Sha256::digest(spki_der))
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from)
}
