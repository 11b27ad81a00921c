#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.pem");
    if let Ok(certificates) = palisade_tls::pem::parse_certificates_pem(data, path) {
        for certificate in &certificates {
            let _ = palisade_tls::CertificateInfo::parse(certificate.as_ref());
        }
    }
    let _ = palisade_tls::pem::parse_private_key_pem(data, path);
    let _ = palisade_tls::x509::spki_pin(data);
});
