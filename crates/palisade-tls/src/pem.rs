//! Loading certificates and private keys from PEM files.
//!
//! The parsing functions take the file contents and the path separately so that they can
//! be fuzzed and property-tested without touching the file system, while every error
//! still names the file it came from.

use crate::TlsError;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// Refuse to read files larger than this: no legitimate certificate chain or key is
/// anywhere near it, and a mistaken path (a log file, a device) must not exhaust memory.
pub const MAX_PEM_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads a whole PEM file, with the path in every error.
pub fn read_pem_file(path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read as _;
    let read_error = |source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut data = Vec::new();
    file.take(MAX_PEM_FILE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(read_error)?;
    if data.len() as u64 > MAX_PEM_FILE_BYTES {
        return Err(TlsError::MalformedPem {
            path: path.to_path_buf(),
            reason: format!("file is larger than {MAX_PEM_FILE_BYTES} bytes"),
        });
    }
    Ok(data)
}

/// Loads every `CERTIFICATE` block of a PEM file, in file order (leaf first for a chain).
pub fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    parse_certificates_pem(&read_pem_file(path)?, path)
}

/// Loads the first private key (PKCS#8, PKCS#1 RSA or SEC1 EC) of a PEM file.
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    parse_private_key_pem(&read_pem_file(path)?, path)
}

/// Parses every `CERTIFICATE` block of `data`; `source` only serves error messages.
///
/// Text outside PEM blocks is ignored, as is customary for certificate bundles with
/// comments. Other block types (keys, parameters) are skipped. Each certificate is
/// parsed as X.509 so that a corrupt DER payload is reported here, with its position,
/// rather than as an obscure handshake failure later.
pub fn parse_certificates_pem(
    data: &[u8],
    source: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut certificates = Vec::new();
    for item in CertificateDer::pem_slice_iter(data) {
        let der = item.map_err(|e| pem_error(e, source))?;
        crate::x509::CertificateInfo::parse(der.as_ref()).map_err(|reason| {
            TlsError::InvalidCertificate {
                path: source.to_path_buf(),
                index: certificates.len() + 1,
                reason,
            }
        })?;
        certificates.push(der);
    }
    if certificates.is_empty() {
        let hint = if contains(data, b"PRIVATE KEY-----") {
            " (this looks like a private key file: are `cert` and `key` swapped?)"
        } else {
            ""
        };
        return Err(TlsError::NoCertificate {
            path: source.to_path_buf(),
            hint,
        });
    }
    Ok(certificates)
}

/// Parses the first private key of `data`; `source` only serves error messages.
pub fn parse_private_key_pem(
    data: &[u8],
    source: &Path,
) -> Result<PrivateKeyDer<'static>, TlsError> {
    match PrivateKeyDer::from_pem_slice(data) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => {
            let hint = if contains(data, b"BEGIN ENCRYPTED PRIVATE KEY") {
                " (encrypted keys are not supported: decrypt it, e.g. `openssl pkey -in KEY -out KEY.plain`)"
            } else if contains(data, b"BEGIN CERTIFICATE") {
                " (this looks like a certificate file: are `cert` and `key` swapped?)"
            } else {
                ""
            };
            Err(TlsError::NoPrivateKey {
                path: source.to_path_buf(),
                hint,
            })
        }
        Err(other) => Err(pem_error(other, source)),
    }
}

fn pem_error(error: pem::Error, source: &Path) -> TlsError {
    let reason = match error {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "missing end marker `{}`",
            String::from_utf8_lossy(&end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "illegal section start line `{}`",
            String::from_utf8_lossy(&line)
                .chars()
                .take(80)
                .collect::<String>()
        ),
        pem::Error::Base64Decode(detail) => format!("invalid base64 in a PEM block: {detail}"),
        other => other.to_string(),
    };
    TlsError::MalformedPem {
        path: source.to_path_buf(),
        reason,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
