//! Listener TLS over real sockets: SNI selection, protocol versions, ALPN, mTLS and the
//! handshake deadline.

use crate::common::{handshake, serve_one, ClientBuilder};
use palisade_test_util::certs::TestPki;
use palisade_tls::rustls::{self, ProtocolVersion};
use palisade_tls::{
    build_server_config, CertificateConfig, ClientAuthConfig, ServerTlsConfig, SubjectAltName,
    TlsAcceptor, TlsError, TlsVersion,
};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn tls_config(certificates: Vec<CertificateConfig>) -> ServerTlsConfig {
    ServerTlsConfig {
        certificates,
        min_version: TlsVersion::Tls12,
        alpn: vec!["h2".into(), "http/1.1".into()],
        client_auth: None,
    }
}

#[tokio::test]
async fn sni_selects_among_three_certificates_with_wildcard_and_default() {
    let pki = TestPki::new();
    // The default certificate also covers `fallback.test` but is only configured for
    // `a.test`, so a handshake for `fallback.test` can only succeed through the fallback.
    let default_cert = pki.server_cert(&["a.test", "fallback.test"]);
    let wildcard_cert = pki.server_cert(&["*.wild.test"]);
    let c_cert = pki.server_cert(&["c.test"]);
    let server = build_server_config(&tls_config(vec![
        CertificateConfig::new(&wildcard_cert.cert_path, &wildcard_cert.key_path),
        CertificateConfig::new(&default_cert.cert_path, &default_cert.key_path)
            .with_server_names(["a.test"])
            .as_default(),
        CertificateConfig::new(&c_cert.cert_path, &c_cert.key_path),
    ]))
    .expect("server config");
    let client = ClientBuilder::trusting(&pki).build();

    let cases = [
        ("c.test", &c_cert, Some("c.test")),
        ("a.test", &default_cert, Some("a.test")),
        ("api.wild.test", &wildcard_cert, Some("api.wild.test")),
        ("fallback.test", &default_cert, Some("fallback.test")),
    ];
    for (sni, expected, expected_sni) in cases {
        let (info, view) = handshake(server.clone(), client.clone(), sni)
            .await
            .expect_ok();
        assert_eq!(
            view.peer_leaf, expected.cert_der,
            "wrong certificate for {sni}"
        );
        assert_eq!(info.sni.as_deref(), expected_sni);
    }

    // A wildcard covers one label only: a deeper name gets the default certificate,
    // which the client then rightly refuses for that name.
    let outcome = handshake(server.clone(), client.clone(), "x.api.wild.test").await;
    let error = outcome
        .client
        .expect_err("default cert does not cover x.api.wild.test");
    assert!(error.to_string().contains("certificate"), "{error}");

    // No SNI (connecting by IP address): the default certificate.
    let pki_ip = TestPki::new();
    let ip_cert = pki_ip.server_cert(&["127.0.0.1", "ip.test"]);
    let other = pki_ip.server_cert(&["other.test"]);
    let server = build_server_config(&tls_config(vec![
        CertificateConfig::new(&other.cert_path, &other.key_path),
        CertificateConfig::new(&ip_cert.cert_path, &ip_cert.key_path).as_default(),
    ]))
    .expect("server config");
    let (info, view) = handshake(
        server,
        ClientBuilder::trusting(&pki_ip).build(),
        "127.0.0.1",
    )
    .await
    .expect_ok();
    assert_eq!(info.sni, None);
    assert_eq!(view.peer_leaf, ip_cert.cert_der);
}

#[tokio::test]
async fn sni_lookup_ignores_case() {
    let pki = TestPki::new();
    let first = pki.server_cert(&["first.test"]);
    let second = pki.server_cert(&["second.test"]);
    let server = build_server_config(&tls_config(vec![
        CertificateConfig::new(&first.cert_path, &first.key_path),
        CertificateConfig::new(&second.cert_path, &second.key_path),
    ]))
    .expect("server config");
    let (_, view) = handshake(server, ClientBuilder::trusting(&pki).build(), "SECOND.Test")
        .await
        .expect_ok();
    assert_eq!(view.peer_leaf, second.cert_der);
}

#[tokio::test]
async fn negotiates_tls12_and_tls13_and_enforces_a_tls13_minimum() {
    let pki = TestPki::new();
    let cert = pki.server_cert(&["localhost"]);
    let server = build_server_config(&ServerTlsConfig::single(&cert.cert_path, &cert.key_path))
        .expect("server config");

    let tls12_client = ClientBuilder::trusting(&pki)
        .versions(&[&rustls::version::TLS12])
        .build();
    let tls13_client = ClientBuilder::trusting(&pki)
        .versions(&[&rustls::version::TLS13])
        .build();
    let (info, view) = handshake(server.clone(), tls12_client.clone(), "localhost")
        .await
        .expect_ok();
    assert_eq!(view.version, Some(ProtocolVersion::TLSv1_2));
    assert_eq!(info.protocol_version, Some(ProtocolVersion::TLSv1_2));
    let (info, _) = handshake(server.clone(), tls13_client.clone(), "localhost")
        .await
        .expect_ok();
    assert_eq!(info.protocol_version, Some(ProtocolVersion::TLSv1_3));

    let mut strict = ServerTlsConfig::single(&cert.cert_path, &cert.key_path);
    strict.min_version = TlsVersion::Tls13;
    let strict = build_server_config(&strict).expect("server config");
    let (info, _) = handshake(strict.clone(), tls13_client, "localhost")
        .await
        .expect_ok();
    assert_eq!(info.protocol_version, Some(ProtocolVersion::TLSv1_3));
    let outcome = handshake(strict, tls12_client, "localhost")
        .await
        .expect_refused();
    assert!(
        matches!(outcome.server, Err(TlsError::Handshake(_))),
        "{outcome:?}"
    );
}

/// A ClientHello without the supported_versions extension, so `legacy_version` is the
/// version offered, written byte by byte because no maintained client library can still
/// offer TLS 1.0/1.1. Apart from the version it is acceptable to the server: it offers
/// AEAD suites, curves and signature schemes the server supports.
fn legacy_client_hello(version: [u8; 2]) -> Vec<u8> {
    let mut extensions = Vec::new();
    // supported_groups: x25519, secp256r1
    extensions.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    // ec_point_formats: uncompressed
    extensions.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256
    extensions.extend_from_slice(&[0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x08, 0x04]);
    let mut body = version.to_vec();
    body.extend_from_slice(&[0x42; 32]);
    body.push(0x00); // empty session id
                     // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2b, 0xc0, 0x2f]);
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    body.extend_from_slice(&u16::try_from(extensions.len()).unwrap().to_be_bytes());
    body.extend_from_slice(&extensions);
    let mut handshake = vec![0x01];
    handshake.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&u16::try_from(handshake.len()).unwrap().to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// Sends a raw ClientHello and returns the first bytes the server answers with.
async fn raw_hello_response(
    version: [u8; 2],
) -> (Vec<u8>, Result<palisade_tls::HandshakeInfo, TlsError>) {
    let pki = TestPki::new();
    let cert = pki.server_cert(&["localhost"]);
    let server = build_server_config(&ServerTlsConfig::single(&cert.cert_path, &cert.key_path))
        .expect("server config");
    let (addr, server_task) = serve_one(TlsAcceptor::new(server, Duration::from_millis(500))).await;
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(&legacy_client_hello(version))
        .await
        .expect("send hello");
    let mut response = vec![0; 7];
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_exact(&mut response))
        .await
        .expect("server answers promptly");
    if read.is_err() {
        response.clear();
    }
    drop(tcp);
    (response, server_task.await.expect("server task"))
}

#[tokio::test]
async fn tls10_and_tls11_client_hellos_are_refused_with_a_protocol_version_alert() {
    // Control: the same hello offering TLS 1.2 gets a ServerHello (handshake record).
    let (response, _) = raw_hello_response([0x03, 0x03]).await;
    assert_eq!(
        response.first(),
        Some(&0x16),
        "TLS 1.2 hello not answered: {response:?}"
    );

    for version in [[0x03, 0x01], [0x03, 0x02]] {
        let (response, server) = raw_hello_response(version).await;
        // An alert record (type 21) carrying a fatal (2) protocol_version (70) alert.
        assert_eq!(
            response.first(),
            Some(&0x15),
            "not an alert record: {response:?}"
        );
        assert_eq!(
            response.get(5..7),
            Some(&[0x02, 0x46][..]),
            "not protocol_version: {response:?}"
        );
        assert!(matches!(server, Err(TlsError::Handshake(_))), "{server:?}");
    }
}

#[test]
fn versions_older_than_tls12_cannot_be_configured() {
    for old in ["1.0", "1.1", "SSLv3"] {
        let toml = format!(
            "min_version = \"{old}\"\ncertificates = [{{ cert = \"c.pem\", key = \"k.pem\" }}]"
        );
        let error = toml::from_str::<ServerTlsConfig>(&toml).expect_err("old version accepted");
        assert!(error.to_string().contains("1.2"), "{error}");
        assert!(old.parse::<TlsVersion>().is_err());
    }
}

#[tokio::test]
async fn alpn_negotiates_h2_then_http11_and_refuses_unknown_protocols() {
    let pki = TestPki::new();
    let cert = pki.server_cert(&["localhost"]);
    let server = build_server_config(&ServerTlsConfig::single(&cert.cert_path, &cert.key_path))
        .expect("server config");

    let browser = ClientBuilder::trusting(&pki)
        .alpn(&["h2", "http/1.1"])
        .build();
    let (info, view) = handshake(server.clone(), browser, "localhost")
        .await
        .expect_ok();
    assert_eq!(info.alpn.as_deref(), Some(&b"h2"[..]));
    assert!(info.is_h2());
    assert_eq!(view.alpn.as_deref(), Some(&b"h2"[..]));

    let h1_only = ClientBuilder::trusting(&pki).alpn(&["http/1.1"]).build();
    let (info, _) = handshake(server.clone(), h1_only, "localhost")
        .await
        .expect_ok();
    assert_eq!(info.alpn.as_deref(), Some(&b"http/1.1"[..]));

    let no_alpn = ClientBuilder::trusting(&pki).build();
    let (info, _) = handshake(server.clone(), no_alpn, "localhost")
        .await
        .expect_ok();
    assert_eq!(info.alpn, None);

    let unknown = ClientBuilder::trusting(&pki).alpn(&["spdy/3"]).build();
    handshake(server, unknown, "localhost")
        .await
        .expect_refused();
}

fn mtls_server(pki: &TestPki, client_ca: &std::path::Path, required: bool) -> ServerTlsConfig {
    let cert = pki.server_cert(&["localhost"]);
    let mut config = ServerTlsConfig::single(&cert.cert_path, &cert.key_path);
    config.client_auth = Some(ClientAuthConfig {
        ca: client_ca.to_path_buf(),
        required,
    });
    config
}

#[tokio::test]
async fn required_client_certificates_are_verified_and_identified() {
    let pki = TestPki::new();
    let server = build_server_config(&mtls_server(&pki, pki.ca_path(), true)).expect("config");

    let anonymous = ClientBuilder::trusting(&pki).build();
    let outcome = handshake(server.clone(), anonymous, "localhost")
        .await
        .expect_refused();
    assert!(outcome.server.is_err());

    let rogue_pki = TestPki::with_ca_name("Rogue CA");
    let rogue = rogue_pki.client_cert("mallory");
    let rogue_client = ClientBuilder::trusting(&pki).client_cert(&rogue).build();
    let outcome = handshake(server.clone(), rogue_client, "localhost")
        .await
        .expect_refused();
    assert!(outcome.server.is_err());

    let alice = pki.client_cert("alice");
    let alice_client = ClientBuilder::trusting(&pki).client_cert(&alice).build();
    let (info, _) = handshake(server, alice_client, "localhost")
        .await
        .expect_ok();
    let identity = info.client_identity.expect("client identity");
    assert_eq!(identity.subject_cn.as_deref(), Some("alice"));
    assert_eq!(
        identity.sans,
        vec![SubjectAltName::Uri("spiffe://palisade.test/alice".into())]
    );
    assert_eq!(identity.der, alice.cert_der);
    assert_eq!(identity.spki_sha256, alice.spki_pin);
    assert!(
        identity.issuer.contains("Palisade Test CA"),
        "{}",
        identity.issuer
    );

    let principal = identity.to_principal();
    assert_eq!(
        principal.kind,
        palisade_core::PrincipalKind::ClientCertificate
    );
    assert_eq!(&*principal.subject, "alice");
    assert_eq!(
        principal.claims.get("cert.san.0").map(String::as_str),
        Some("URI:spiffe://palisade.test/alice")
    );
}

#[tokio::test]
async fn optional_client_certificates_allow_anonymous_clients_but_verify_presented_ones() {
    let pki = TestPki::new();
    let server = build_server_config(&mtls_server(&pki, pki.ca_path(), false)).expect("config");

    let (info, _) = handshake(
        server.clone(),
        ClientBuilder::trusting(&pki).build(),
        "localhost",
    )
    .await
    .expect_ok();
    assert_eq!(info.client_identity, None);

    let bob = pki.client_cert("bob");
    let (info, _) = handshake(
        server.clone(),
        ClientBuilder::trusting(&pki).client_cert(&bob).build(),
        "localhost",
    )
    .await
    .expect_ok();
    assert_eq!(
        info.client_identity.and_then(|id| id.subject_cn).as_deref(),
        Some("bob")
    );

    let rogue = TestPki::with_ca_name("Rogue CA").client_cert("mallory");
    handshake(
        server,
        ClientBuilder::trusting(&pki).client_cert(&rogue).build(),
        "localhost",
    )
    .await
    .expect_refused();
}

#[tokio::test]
async fn a_silent_client_is_cut_off_at_the_handshake_deadline() {
    let pki = TestPki::new();
    let cert = pki.server_cert(&["localhost"]);
    let server = build_server_config(&ServerTlsConfig::single(&cert.cert_path, &cert.key_path))
        .expect("server config");
    let deadline = Duration::from_millis(300);
    let (addr, server_task) = serve_one(TlsAcceptor::new(server, deadline)).await;
    let started = Instant::now();
    let _silent = TcpStream::connect(addr).await.expect("connect");
    let result = server_task.await.expect("server task");
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(TlsError::HandshakeTimeout(d)) if d == deadline),
        "{result:?}"
    );
    assert!(elapsed >= deadline, "gave up too early: {elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(3),
        "gave up too late: {elapsed:?}"
    );
}
