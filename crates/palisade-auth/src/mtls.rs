//! Client certificates to principals.
//!
//! The TLS layer verifies the chain against the configured CA; this module
//! only maps an already verified leaf certificate (DER) to a [`Principal`].

use crate::config::{CertSubjectSource, MtlsConfig};
use palisade_core::{Principal, PrincipalKind};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// A verified client certificate, DER-encoded. The proxy may put one in
/// `Transaction::state`; the engine then authenticates the request with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCertificate(pub std::sync::Arc<[u8]>);

/// Why a certificate could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("certificate is not valid DER X.509")]
    Parse,
    #[error("certificate has no usable subject name")]
    NoSubject,
}

/// Maps a verified client certificate to a principal.
///
/// Claims: `cn`, `san_dns`, `san_uri`, `san_email` (comma-joined when several),
/// `serial` (hex) and `issuer_dn`.
pub fn principal_from_certificate(
    der: &[u8],
    config: &MtlsConfig,
) -> Result<Principal, CertificateError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|_| CertificateError::Parse)?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned);
    let mut dns = Vec::new();
    let mut uris = Vec::new();
    let mut emails = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns.push((*d).to_owned()),
                GeneralName::URI(u) => uris.push((*u).to_owned()),
                GeneralName::RFC822Name(e) => emails.push((*e).to_owned()),
                _ => {}
            }
        }
    }
    let subject = config
        .subject_from
        .iter()
        .find_map(|source| match source {
            CertSubjectSource::Cn => cn.clone(),
            CertSubjectSource::SanDns => dns.first().cloned(),
            CertSubjectSource::SanUri => uris.first().cloned(),
            CertSubjectSource::SanEmail => emails.first().cloned(),
        })
        .filter(|s| !s.is_empty())
        .ok_or(CertificateError::NoSubject)?;
    let mut principal = Principal::new(PrincipalKind::ClientCertificate, subject);
    principal.issuer = Some(cert.issuer().to_string().into());
    principal.scopes = config.scopes.as_slice().into();
    if let Some(cn) = cn {
        std::sync::Arc::make_mut(&mut principal.claims).insert("cn".into(), cn);
    }
    for (name, values) in [
        ("san_dns", &dns),
        ("san_uri", &uris),
        ("san_email", &emails),
    ] {
        if !values.is_empty() {
            std::sync::Arc::make_mut(&mut principal.claims).insert(name.into(), values.join(","));
        }
    }
    std::sync::Arc::make_mut(&mut principal.claims)
        .insert("serial".into(), cert.raw_serial_as_string());
    std::sync::Arc::make_mut(&mut principal.claims)
        .insert("issuer_dn".into(), cert.issuer().to_string());
    Ok(principal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

    fn cert(cn: Option<&str>, sans: Vec<SanType>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        if let Some(cn) = cn {
            dn.push(DnType::CommonName, cn);
        }
        params.distinguished_name = dn;
        params.subject_alt_names = sans;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn subject_sources_in_order() {
        let der = cert(
            Some("billing-client"),
            vec![
                SanType::URI("spiffe://example.org/billing".try_into().unwrap()),
                SanType::DnsName("billing.internal".try_into().unwrap()),
            ],
        );
        let p = principal_from_certificate(&der, &MtlsConfig::default()).unwrap();
        assert_eq!(&*p.subject, "spiffe://example.org/billing");
        assert_eq!(p.kind, PrincipalKind::ClientCertificate);
        assert_eq!(p.claims["cn"], "billing-client");
        assert_eq!(p.claims["san_dns"], "billing.internal");
        let cn_first = MtlsConfig {
            subject_from: vec![CertSubjectSource::Cn],
            scopes: vec!["internal".into()],
        };
        let p = principal_from_certificate(&der, &cn_first).unwrap();
        assert_eq!(&*p.subject, "billing-client");
        assert!(p.has_scope("internal"));
    }

    #[test]
    fn no_subject_and_garbage() {
        let der = cert(None, vec![]);
        let only_cn = MtlsConfig {
            subject_from: vec![CertSubjectSource::Cn],
            scopes: vec![],
        };
        assert_eq!(
            principal_from_certificate(&der, &only_cn),
            Err(CertificateError::NoSubject)
        );
        assert_eq!(
            principal_from_certificate(b"not a cert", &only_cn),
            Err(CertificateError::Parse)
        );
    }
}
