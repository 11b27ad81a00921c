//! A throw-away public key infrastructure for tests.
//!
//! [`TestPki::new`] creates a certificate authority and a temporary directory; every
//! certificate it issues is written there as PEM (certificate and PKCS#8 key in separate
//! files) so the code under test loads it exactly as it would load an operator's files.
//! The directory is deleted when the [`TestPki`] is dropped.
//!
//! These helpers panic on failure: they only ever run inside tests, where a failure to
//! generate a key or write a temporary file is a broken test environment.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SignatureAlgorithm,
};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use time::{Duration, OffsetDateTime};

/// Signature algorithm of a generated key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyAlgorithm {
    #[default]
    EcdsaP256,
    EcdsaP384,
    Ed25519,
}

impl KeyAlgorithm {
    fn rcgen(self) -> &'static SignatureAlgorithm {
        match self {
            KeyAlgorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyAlgorithm::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }
}

/// How to issue a certificate; [`CertOptions::default`] gives a certificate valid from an
/// hour ago for a year, with an ECDSA P-256 key.
#[derive(Debug, Clone)]
pub struct CertOptions {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub key_algorithm: KeyAlgorithm,
}

impl Default for CertOptions {
    fn default() -> Self {
        let now = OffsetDateTime::now_utc();
        CertOptions {
            not_before: now - Duration::hours(1),
            not_after: now + Duration::days(365),
            key_algorithm: KeyAlgorithm::default(),
        }
    }
}

impl CertOptions {
    /// A certificate whose validity ended yesterday.
    pub fn expired() -> Self {
        let now = OffsetDateTime::now_utc();
        CertOptions {
            not_before: now - Duration::days(30),
            not_after: now - Duration::days(1),
            key_algorithm: KeyAlgorithm::default(),
        }
    }

    /// A certificate that is valid but expires within `days` days.
    pub fn expiring_in_days(days: i64) -> Self {
        CertOptions {
            not_after: OffsetDateTime::now_utc() + Duration::days(days),
            ..CertOptions::default()
        }
    }

    pub fn with_key_algorithm(mut self, key_algorithm: KeyAlgorithm) -> Self {
        self.key_algorithm = key_algorithm;
        self
    }
}

/// PEM files of one issued certificate and its private key.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The leaf certificate, PEM.
    pub cert_path: PathBuf,
    /// Its private key, PKCS#8 PEM.
    pub key_path: PathBuf,
    pub cert_pem: String,
    pub key_pem: String,
    /// DER of the leaf certificate.
    pub cert_der: Vec<u8>,
    /// Base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo, computed from the
    /// generated key (independently of any certificate parser).
    pub spki_pin: String,
}

/// A test certificate authority and the directory its files are written to.
pub struct TestPki {
    dir: tempfile::TempDir,
    ca_key: KeyPair,
    ca_params: CertificateParams,
    ca_cert_pem: String,
    ca_cert_der: Vec<u8>,
    ca_path: PathBuf,
    next_file: AtomicUsize,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki")
            .field("dir", &self.dir.path())
            .field("ca_path", &self.ca_path)
            .finish_non_exhaustive()
    }
}

impl Default for TestPki {
    fn default() -> Self {
        TestPki::new()
    }
}

/// Base64 SHA-256 of a DER SubjectPublicKeyInfo: the format of an SPKI pin.
pub fn spki_pin_of_spki_der(spki_der: &[u8]) -> String {
    BASE64.encode(Sha256::digest(spki_der))
}

impl TestPki {
    /// A CA named "Palisade Test CA" in a fresh temporary directory.
    pub fn new() -> TestPki {
        TestPki::with_ca_name("Palisade Test CA")
    }

    /// A CA with the given common name; two `TestPki`s never trust each other.
    pub fn with_ca_name(common_name: &str) -> TestPki {
        let dir = tempfile::Builder::new()
            .prefix("palisade-pki-")
            .tempdir()
            .expect("create temporary directory for test PKI");
        let ca_key =
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("generate CA key");
        let mut ca_params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, common_name);
        name.push(DnType::OrganizationName, "Palisade tests");
        ca_params.distinguished_name = name;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        ca_params.not_before = now - Duration::days(1);
        ca_params.not_after = now + Duration::days(3650);
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");
        let ca_cert_pem = ca_cert.pem();
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, &ca_cert_pem).expect("write CA certificate");
        TestPki {
            dir,
            ca_key,
            ca_params,
            ca_cert_pem,
            ca_cert_der: ca_cert.der().to_vec(),
            ca_path,
            next_file: AtomicUsize::new(0),
        }
    }

    /// Directory holding every file of this PKI.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// PEM file of the CA certificate (the trust anchor).
    pub fn ca_path(&self) -> &Path {
        &self.ca_path
    }

    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    pub fn ca_cert_der(&self) -> &[u8] {
        &self.ca_cert_der
    }

    /// SPKI pin of the CA's key.
    pub fn ca_spki_pin(&self) -> String {
        spki_pin_of_spki_der(&self.ca_key.subject_public_key_info())
    }

    /// A server certificate for `names` (DNS names, wildcards like `*.api.test`, or IP
    /// addresses), signed by this CA.
    pub fn server_cert(&self, names: &[&str]) -> CertFiles {
        self.server_cert_with(names, &CertOptions::default())
    }

    pub fn server_cert_with(&self, names: &[&str], options: &CertOptions) -> CertFiles {
        let owned: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(owned).expect("valid subject alternative names");
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("server"),
        );
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.issue(params, options, "server")
    }

    /// A client certificate with common name `name` and the URI SAN
    /// `spiffe://palisade.test/{name}`, signed by this CA.
    pub fn client_cert(&self, name: &str) -> CertFiles {
        self.client_cert_with(name, &CertOptions::default())
    }

    pub fn client_cert_with(&self, name: &str, options: &CertOptions) -> CertFiles {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        let uri = format!("spiffe://palisade.test/{name}");
        params.subject_alt_names =
            vec![SanType::URI(uri.try_into().expect("client name is ASCII"))];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.issue(params, options, "client")
    }

    /// Writes `contents` to a new file of this PKI's directory (for malformed-input tests).
    pub fn write_file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    fn issue(&self, mut params: CertificateParams, options: &CertOptions, kind: &str) -> CertFiles {
        params.not_before = options.not_before;
        params.not_after = options.not_after;
        let key = KeyPair::generate_for(options.key_algorithm.rcgen()).expect("generate key");
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).expect("sign certificate");
        let n = self.next_file.fetch_add(1, Ordering::Relaxed);
        let cert_path = self.dir.path().join(format!("{kind}-{n}.crt.pem"));
        let key_path = self.dir.path().join(format!("{kind}-{n}.key.pem"));
        let cert_pem = cert.pem();
        let key_pem = key.serialize_pem();
        std::fs::write(&cert_path, &cert_pem).expect("write certificate");
        std::fs::write(&key_path, &key_pem).expect("write key");
        CertFiles {
            cert_path,
            key_path,
            cert_pem,
            key_pem,
            cert_der: cert.der().to_vec(),
            spki_pin: spki_pin_of_spki_der(&key.subject_public_key_info()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_distinct_files_signed_by_the_ca() {
        let pki = TestPki::new();
        let a = pki.server_cert(&["localhost", "api.test"]);
        let b = pki.client_cert("alice");
        assert_ne!(a.cert_path, b.cert_path);
        assert!(a.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(a.key_pem.contains("PRIVATE KEY"));
        assert!(pki.ca_path().exists());
        assert_ne!(a.spki_pin, b.spki_pin);
        assert_eq!(a.spki_pin.len(), 44);
    }
}
