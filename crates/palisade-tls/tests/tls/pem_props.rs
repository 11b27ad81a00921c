//! Property tests of PEM loading: arbitrary input never panics, and valid blocks are
//! found whatever surrounds them.

use palisade_test_util::certs::TestPki;
use palisade_tls::pem::{parse_certificates_pem, parse_private_key_pem};
use proptest::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

struct Fixture {
    cert_pem: String,
    cert_der: Vec<u8>,
    key_pem: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let pki = TestPki::new();
        let files = pki.server_cert(&["prop.test"]);
        Fixture {
            cert_pem: files.cert_pem,
            cert_der: files.cert_der,
            key_pem: files.key_pem,
        }
    })
}

/// Text that cannot open a PEM block.
fn filler() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 #.:=\n]{0,200}"
}

fn pem_ish() -> impl Strategy<Value = String> {
    let label = prop_oneof![
        Just("CERTIFICATE"),
        Just("PRIVATE KEY"),
        Just("RSA PRIVATE KEY"),
        Just("EC PRIVATE KEY"),
        Just("X509 CRL"),
        Just("ENCRYPTED PRIVATE KEY"),
    ];
    (label, "[A-Za-z0-9+/=\n]{0,300}", any::<bool>(), filler()).prop_map(
        |(label, body, terminated, tail)| {
            let end = if terminated {
                format!("-----END {label}-----\n")
            } else {
                String::new()
            };
            format!("-----BEGIN {label}-----\n{body}\n{end}{tail}")
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let path = Path::new("fuzz.pem");
        let _ = parse_certificates_pem(&data, path);
        let _ = parse_private_key_pem(&data, path);
    }

    #[test]
    fn pem_shaped_input_never_panics_and_errors_name_the_file(blocks in proptest::collection::vec(pem_ish(), 0..4)) {
        let data = blocks.concat();
        let path = Path::new("/etc/palisade/prop.pem");
        if let Err(error) = parse_certificates_pem(data.as_bytes(), path) {
            prop_assert!(error.to_string().contains("/etc/palisade/prop.pem"), "{}", error);
        }
        if let Err(error) = parse_private_key_pem(data.as_bytes(), path) {
            prop_assert!(error.to_string().contains("/etc/palisade/prop.pem"), "{}", error);
        }
    }

    #[test]
    fn valid_blocks_are_found_among_comments(before in filler(), between in filler(), after in filler()) {
        let fixture = fixture();
        let data = format!("{before}\n{}{between}\n{}{after}", fixture.key_pem, fixture.cert_pem);
        let path = Path::new("bundle.pem");
        let certs = parse_certificates_pem(data.as_bytes(), path).expect("certificate found");
        prop_assert_eq!(certs.len(), 1);
        prop_assert_eq!(certs[0].as_ref(), fixture.cert_der.as_slice());
        prop_assert!(parse_private_key_pem(data.as_bytes(), path).is_ok());
    }

    #[test]
    fn corrupting_a_certificate_is_an_error_not_a_panic(position in 0usize..4096, byte in any::<u8>()) {
        let fixture = fixture();
        let mut data = fixture.cert_pem.clone().into_bytes();
        let index = position % data.len();
        data[index] = byte;
        let path = Path::new("corrupt.pem");
        match parse_certificates_pem(&data, path) {
            Ok(certs) => prop_assert!(certs.len() <= 1),
            Err(error) => prop_assert!(error.to_string().contains("corrupt.pem")),
        }
    }
}
