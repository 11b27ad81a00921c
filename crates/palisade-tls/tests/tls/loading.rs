//! Loading certificates and keys: errors that name the file, key/certificate
//! consistency, validity warnings and strict configuration parsing.

use palisade_test_util::certs::{CertOptions, KeyAlgorithm, TestPki};
use palisade_tls::{
    build_server_config, build_server_config_checked, spki_pin_of_pem_file, CertificateConfig,
    ServerTlsConfig, TlsError, TlsVersion, TlsWarning,
};
use std::path::Path;

fn message_names(error: &TlsError, path: &Path) {
    let text = error.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "error does not name {}: {text}",
        path.display()
    );
}

#[test]
fn missing_files_are_named() {
    let pki = TestPki::new();
    let cert = pki.server_cert(&["localhost"]);
    let missing = pki.dir().join("nope.pem");
    let error = build_server_config(&ServerTlsConfig::single(&missing, &cert.key_path))
        .expect_err("missing cert");
    assert!(matches!(error, TlsError::Read { .. }), "{error}");
    message_names(&error, &missing);

    let error = build_server_config(&ServerTlsConfig::single(&cert.cert_path, &missing))
        .expect_err("missing key");
    message_names(&error, &missing);
}

#[test]
fn bad_pem_is_reported_with_the_file_and_the_reason() {
    let pki = TestPki::new();
    let good = pki.server_cert(&["localhost"]);

    let garbage = pki.write_file("garbage.pem", "this is not a certificate\n");
    let error = build_server_config(&ServerTlsConfig::single(&garbage, &good.key_path))
        .expect_err("garbage cert");
    assert!(matches!(error, TlsError::NoCertificate { .. }), "{error}");
    message_names(&error, &garbage);

    let truncated_text = &good.cert_pem[..good.cert_pem.len() / 2];
    let truncated = pki.write_file("truncated.pem", truncated_text);
    let error = build_server_config(&ServerTlsConfig::single(&truncated, &good.key_path))
        .expect_err("truncated cert");
    assert!(matches!(error, TlsError::MalformedPem { .. }), "{error}");
    message_names(&error, &truncated);

    // Valid PEM framing and base64, but the DER inside is not a certificate.
    let not_der = pki.write_file(
        "not-der.pem",
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    );
    let error = build_server_config(&ServerTlsConfig::single(&not_der, &good.key_path))
        .expect_err("not a certificate");
    assert!(
        matches!(error, TlsError::InvalidCertificate { index: 1, .. }),
        "{error}"
    );
    message_names(&error, &not_der);

    let bad_base64 = pki.write_file(
        "bad-base64.pem",
        "-----BEGIN CERTIFICATE-----\n!!!!****\n-----END CERTIFICATE-----\n",
    );
    let error = build_server_config(&ServerTlsConfig::single(&bad_base64, &good.key_path))
        .expect_err("bad base64");
    message_names(&error, &bad_base64);

    let no_key = pki.write_file("no-key.pem", "nothing here");
    let error = build_server_config(&ServerTlsConfig::single(&good.cert_path, &no_key))
        .expect_err("no key");
    assert!(matches!(error, TlsError::NoPrivateKey { .. }), "{error}");
    message_names(&error, &no_key);

    let encrypted = pki.write_file(
        "encrypted.pem",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let error = build_server_config(&ServerTlsConfig::single(&good.cert_path, &encrypted))
        .expect_err("encrypted key");
    assert!(error.to_string().contains("encrypted"), "{error}");
}

#[test]
fn swapped_cert_and_key_get_a_hint() {
    let pki = TestPki::new();
    let good = pki.server_cert(&["localhost"]);
    let error = build_server_config(&ServerTlsConfig::single(&good.key_path, &good.cert_path))
        .expect_err("swapped");
    assert!(error.to_string().contains("swapped"), "{error}");
    message_names(&error, &good.key_path);
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_refused() {
    let pki = TestPki::new();
    let first = pki.server_cert(&["localhost"]);
    let second = pki.server_cert(&["localhost"]);
    let error = build_server_config(&ServerTlsConfig::single(&first.cert_path, &second.key_path))
        .expect_err("mismatched key");
    assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
    message_names(&error, &first.cert_path);
    message_names(&error, &second.key_path);

    // Different algorithms are refused too.
    let ed = pki.server_cert_with(
        &["localhost"],
        &CertOptions::default().with_key_algorithm(KeyAlgorithm::Ed25519),
    );
    let error = build_server_config(&ServerTlsConfig::single(&first.cert_path, &ed.key_path))
        .expect_err("mismatched key type");
    assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
}

#[test]
fn every_supported_key_algorithm_loads() {
    let pki = TestPki::new();
    for algorithm in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
    ] {
        let cert = pki.server_cert_with(
            &["localhost"],
            &CertOptions::default().with_key_algorithm(algorithm),
        );
        build_server_config(&ServerTlsConfig::single(&cert.cert_path, &cert.key_path))
            .unwrap_or_else(|e| panic!("{algorithm:?}: {e}"));
    }
}

#[test]
fn a_combined_pem_file_serves_as_both_cert_and_key() {
    let pki = TestPki::new();
    let cert = pki.server_cert(&["localhost"]);
    let combined = pki.write_file("combined.pem", format!("{}{}", cert.key_pem, cert.cert_pem));
    build_server_config(&ServerTlsConfig::single(&combined, &combined)).expect("combined file");
}

#[test]
fn validity_problems_are_warnings() {
    let pki = TestPki::new();
    let expired = pki.server_cert_with(&["old.test"], &CertOptions::expired());
    let soon = pki.server_cert_with(&["soon.test"], &CertOptions::expiring_in_days(3));
    let fine = pki.server_cert(&["fine.test"]);
    let built = build_server_config_checked(&ServerTlsConfig {
        certificates: vec![
            CertificateConfig::new(&fine.cert_path, &fine.key_path),
            CertificateConfig::new(&expired.cert_path, &expired.key_path),
            CertificateConfig::new(&soon.cert_path, &soon.key_path),
        ],
        min_version: TlsVersion::Tls12,
        alpn: vec!["http/1.1".into()],
        client_auth: None,
    })
    .expect("expired certificates still load");
    assert_eq!(built.warnings.len(), 2, "{:?}", built.warnings);
    assert!(built
        .warnings
        .iter()
        .any(|w| matches!(w, TlsWarning::Expired { cert, .. } if cert == &expired.cert_path)));
    assert!(built
        .warnings
        .iter()
        .any(|w| matches!(w, TlsWarning::ExpiresSoon { cert, .. } if cert == &soon.cert_path)));
    assert!(built
        .warnings
        .iter()
        .all(|w| w.to_string().contains(".crt.pem")));
    assert_eq!(built.certificates.len(), 3);
    assert!(built.certificates[0].is_default);
    assert_eq!(
        built.certificates[1].server_names,
        vec!["old.test".to_owned()]
    );
}

#[test]
fn server_name_problems() {
    let pki = TestPki::new();
    let a = pki.server_cert(&["a.test"]);
    let b = pki.server_cert(&["b.test"]);
    let config = |certs| ServerTlsConfig {
        certificates: certs,
        min_version: TlsVersion::Tls12,
        alpn: vec!["h2".into()],
        client_auth: None,
    };

    let error = build_server_config(&config(vec![
        CertificateConfig::new(&a.cert_path, &a.key_path).with_server_names(["same.test"]),
        CertificateConfig::new(&b.cert_path, &b.key_path).with_server_names(["SAME.test"]),
    ]))
    .expect_err("duplicate explicit name");
    assert!(
        matches!(error, TlsError::DuplicateServerName { .. }),
        "{error}"
    );

    let error = build_server_config(&config(vec![CertificateConfig::new(
        &a.cert_path,
        &a.key_path,
    )
    .with_server_names(["bad name"])]))
    .expect_err("invalid name");
    assert!(
        matches!(error, TlsError::InvalidServerName { .. }),
        "{error}"
    );

    let built = build_server_config_checked(&config(vec![CertificateConfig::new(
        &a.cert_path,
        &a.key_path,
    )
    .with_server_names(["b.test"])]))
    .expect("name not in certificate is only a warning");
    assert!(matches!(
        built.warnings.as_slice(),
        [TlsWarning::NameNotInCertificate { name, .. }] if name == "b.test"
    ));

    let error = build_server_config(&config(vec![
        CertificateConfig::new(&a.cert_path, &a.key_path).as_default(),
        CertificateConfig::new(&b.cert_path, &b.key_path).as_default(),
    ]))
    .expect_err("two defaults");
    assert!(matches!(error, TlsError::SeveralDefaults { .. }), "{error}");

    assert!(matches!(
        build_server_config(&config(Vec::new())),
        Err(TlsError::NoCertificates)
    ));

    // Overlapping SANs: the first certificate keeps the name, with a warning.
    let overlap = pki.server_cert(&["a.test", "c.test"]);
    let built = build_server_config_checked(&config(vec![
        CertificateConfig::new(&a.cert_path, &a.key_path),
        CertificateConfig::new(&overlap.cert_path, &overlap.key_path),
    ]))
    .expect("overlap");
    assert_eq!(
        built.certificates[1].server_names,
        vec!["c.test".to_owned()]
    );
    assert!(matches!(
        built.warnings.as_slice(),
        [TlsWarning::NameShadowed { name, .. }] if name == "a.test"
    ));
}

#[test]
fn mtls_ca_problems_name_the_file() {
    let pki = TestPki::new();
    let cert = pki.server_cert(&["localhost"]);
    let mut config = ServerTlsConfig::single(&cert.cert_path, &cert.key_path);
    let empty = pki.write_file("empty-ca.pem", "");
    config.client_auth = Some(palisade_tls::ClientAuthConfig {
        ca: empty.clone(),
        required: true,
    });
    let error = build_server_config(&config).expect_err("empty CA");
    message_names(&error, &empty);
}

#[test]
fn server_config_parses_from_strict_toml() {
    let text = r#"
        min_version = "1.3"
        alpn = ["http/1.1"]
        certificates = [
          { cert = "/etc/p/a.pem", key = "/etc/p/a.key", server_names = ["a.example.com"] },
          { cert = "/etc/p/b.pem", key = "/etc/p/b.key", default = true },
        ]
        client_auth = { ca = "/etc/p/ca.pem" }
    "#;
    let parsed: ServerTlsConfig = toml::from_str(text).expect("valid");
    assert_eq!(parsed.min_version, TlsVersion::Tls13);
    assert_eq!(parsed.certificates.len(), 2);
    assert!(parsed.certificates[1].default);
    assert!(parsed.client_auth.expect("client auth").required);

    let defaults: ServerTlsConfig =
        toml::from_str("certificates = [{ cert = \"c\", key = \"k\" }]").expect("valid");
    assert_eq!(defaults.min_version, TlsVersion::Tls12);
    assert_eq!(defaults.alpn, vec!["h2".to_owned(), "http/1.1".to_owned()]);

    let error = toml::from_str::<ServerTlsConfig>(
        "certificates = [{ cert = \"c\", key = \"k\", sni = [\"x\"] }]",
    )
    .expect_err("unknown key");
    assert!(error.to_string().contains("sni"), "{error}");
}

#[test]
fn spki_pin_of_a_pem_file_matches_the_generated_key() {
    let pki = TestPki::new();
    let cert = pki.server_cert(&["localhost"]);
    assert_eq!(
        spki_pin_of_pem_file(&cert.cert_path).expect("pin"),
        cert.spki_pin
    );
    assert_eq!(
        spki_pin_of_pem_file(pki.ca_path()).expect("pin"),
        pki.ca_spki_pin()
    );
}

/// Reads one DER tag-length-value; returns (tag, contents, rest).
fn read_tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        let (bytes, rest) = rest.split_at_checked(count)?;
        (
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b)),
            rest,
        )
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[test]
fn sec1_ec_private_keys_load() {
    use palisade_tls::rustls::pki_types::{pem::PemObject, PrivatePkcs8KeyDer};
    let pki = TestPki::new();
    let cert = pki.server_cert(&["localhost"]);
    let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(cert.key_pem.as_bytes()).expect("pkcs8");
    // PrivateKeyInfo ::= SEQUENCE { version, algorithm, privateKey OCTET STRING (ECPrivateKey) }
    let (_, info, _) = read_tlv(pkcs8.secret_pkcs8_der()).expect("PrivateKeyInfo");
    let (_, _, rest) = read_tlv(info).expect("version");
    let (_, _, rest) = read_tlv(rest).expect("algorithm");
    let (tag, sec1, _) = read_tlv(rest).expect("privateKey");
    assert_eq!(tag, 0x04);
    let sec1_path = pki.write_file("sec1.key.pem", pem_encode("EC PRIVATE KEY", sec1));
    build_server_config(&ServerTlsConfig::single(&cert.cert_path, &sec1_path))
        .expect("SEC1 key loads");
    let other = pki.server_cert(&["localhost"]);
    let error = build_server_config(&ServerTlsConfig::single(&other.cert_path, &sec1_path))
        .expect_err("SEC1 key of another certificate");
    assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
}

/// RSA keys in PKCS#1 form; the key is made by the `openssl` tool because the
/// test CA's crypto backend cannot generate RSA keys.
#[test]
fn pkcs1_rsa_private_keys_load() {
    use std::process::Command;
    let pki = TestPki::new();
    let key = pki.dir().join("rsa.key.pem");
    let cert = pki.dir().join("rsa.crt.pem");
    let generated = Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048")
        .output();
    match generated {
        Ok(output) if output.status.success() => {}
        _ => {
            eprintln!("skipping: `openssl genrsa -traditional` is not available");
            return;
        }
    }
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-subj",
            "/CN=rsa.test",
            "-days",
            "2",
            "-addext",
        ])
        .arg("subjectAltName=DNS:rsa.test")
        .arg("-key")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl req");
    assert!(status.status.success(), "{status:?}");
    let key_text = std::fs::read_to_string(&key).expect("key");
    assert!(
        key_text.contains("BEGIN RSA PRIVATE KEY"),
        "not PKCS#1: {key_text}"
    );
    let built = build_server_config_checked(&ServerTlsConfig::single(&cert, &key))
        .expect("PKCS#1 RSA key loads");
    assert_eq!(
        built.certificates[0].server_names,
        vec!["rsa.test".to_owned()]
    );

    let ec = pki.server_cert(&["localhost"]);
    let error = build_server_config(&ServerTlsConfig::single(&cert, &ec.key_path))
        .expect_err("EC key for an RSA certificate");
    assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
}
