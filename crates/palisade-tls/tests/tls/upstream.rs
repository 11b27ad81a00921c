//! Upstream TLS over real sockets: CA verification, SPKI pinning, server name
//! override and client certificates.

use crate::common::{serve_one, GREETING};
use palisade_test_util::certs::{CertFiles, TestPki};
use palisade_tls::{
    build_client_config, build_server_config, ClientAuthConfig, ServerTlsConfig, TlsAcceptor,
    TlsError, UpstreamConnector, UpstreamTlsConfig,
};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

struct Upstream {
    pki: TestPki,
    cert: CertFiles,
}

fn upstream() -> Upstream {
    let pki = TestPki::new();
    let cert = pki.server_cert(&["upstream.test", "127.0.0.1"]);
    Upstream { pki, cert }
}

/// Connects through an [`UpstreamConnector`] to a TLS listener; returns what both
/// sides saw.
async fn connect(
    server: ServerTlsConfig,
    client: &UpstreamTlsConfig,
    host: &str,
) -> (
    Result<Vec<u8>, TlsError>,
    Result<palisade_tls::HandshakeInfo, TlsError>,
) {
    let server = build_server_config(&server).expect("server config");
    let (addr, server_task) = serve_one(TlsAcceptor::new(server, Duration::from_secs(5))).await;
    let connector = UpstreamConnector::new(client, Duration::from_secs(5));
    let client_result = async {
        let connector = connector?;
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(TlsError::Handshake)?;
        let mut tls = connector.connect(host, tcp).await?;
        let mut received = Vec::new();
        tls.read_to_end(&mut received)
            .await
            .map_err(TlsError::Handshake)?;
        Ok(received)
    }
    .await;
    if client_result.is_err() {
        // The listener may still be waiting for a connection that never came.
        server_task.abort();
        return (client_result, Err(TlsError::NoCertificates));
    }
    let server_result = server_task.await.expect("server task");
    (client_result, server_result)
}

fn listener(upstream: &Upstream) -> ServerTlsConfig {
    ServerTlsConfig::single(&upstream.cert.cert_path, &upstream.cert.key_path)
}

#[tokio::test]
async fn verifies_against_the_configured_ca_and_refuses_another_ca() {
    let up = upstream();
    let trusting = UpstreamTlsConfig {
        ca: Some(up.pki.ca_path().to_path_buf()),
        ..UpstreamTlsConfig::default()
    };
    let (client, _) = connect(listener(&up), &trusting, "upstream.test").await;
    assert_eq!(client.expect("handshake with trusted CA"), GREETING);

    // Verification by IP address SAN, no SNI.
    let (client, _) = connect(listener(&up), &trusting, "127.0.0.1").await;
    assert_eq!(client.expect("handshake by IP"), GREETING);

    let wrong_ca = TestPki::with_ca_name("Unrelated CA");
    let distrusting = UpstreamTlsConfig {
        ca: Some(wrong_ca.ca_path().to_path_buf()),
        ..UpstreamTlsConfig::default()
    };
    let (client, _) = connect(listener(&up), &distrusting, "upstream.test").await;
    let error = client.expect_err("CA mismatch must be refused");
    assert!(error.to_string().contains("certificate"), "{error}");

    // A name the certificate does not cover.
    let (client, _) = connect(listener(&up), &trusting, "elsewhere.test").await;
    assert!(client.is_err());
}

#[tokio::test]
async fn spki_pins_accept_the_right_key_and_refuse_others() {
    let up = upstream();
    let with_pins = |pins: Vec<String>, ca: &std::path::Path| UpstreamTlsConfig {
        ca: Some(ca.to_path_buf()),
        spki_pins: pins,
        ..UpstreamTlsConfig::default()
    };

    let decoy = up.pki.server_cert(&["decoy.test"]).spki_pin;
    let right = with_pins(
        vec![decoy.clone(), up.cert.spki_pin.clone()],
        up.pki.ca_path(),
    );
    let (client, _) = connect(listener(&up), &right, "upstream.test").await;
    assert_eq!(client.expect("pinned key accepted"), GREETING);

    let hpkp_style = with_pins(
        vec![format!("sha256/{}", up.cert.spki_pin)],
        up.pki.ca_path(),
    );
    let (client, _) = connect(listener(&up), &hpkp_style, "upstream.test").await;
    assert_eq!(client.expect("sha256/ prefix accepted"), GREETING);

    let wrong = with_pins(vec![decoy], up.pki.ca_path());
    let (client, _) = connect(listener(&up), &wrong, "upstream.test").await;
    assert!(client.is_err(), "wrong pin must be refused");

    // A correct pin does not replace chain verification.
    let other_ca = TestPki::with_ca_name("Unrelated CA");
    let pinned_but_untrusted = with_pins(vec![up.cert.spki_pin.clone()], other_ca.ca_path());
    let (client, _) = connect(listener(&up), &pinned_but_untrusted, "upstream.test").await;
    assert!(
        client.is_err(),
        "CA mismatch must be refused even with a matching pin"
    );
}

#[test]
fn malformed_pins_are_configuration_errors() {
    let up = upstream();
    for pin in ["not base64!", "AAAA", ""] {
        let config = UpstreamTlsConfig {
            ca: Some(up.pki.ca_path().to_path_buf()),
            spki_pins: vec![pin.to_owned()],
            ..UpstreamTlsConfig::default()
        };
        let error = build_client_config(&config).expect_err("bad pin accepted");
        assert!(matches!(error, TlsError::InvalidPin { .. }), "{error}");
    }
}

#[tokio::test]
async fn server_name_override_is_verified_instead_of_the_address() {
    let up = upstream();
    let config = UpstreamTlsConfig {
        ca: Some(up.pki.ca_path().to_path_buf()),
        server_name: Some("upstream.test".into()),
        ..UpstreamTlsConfig::default()
    };
    let (client, server) = connect(listener(&up), &config, "10.9.9.9").await;
    assert_eq!(client.expect("override verified"), GREETING);
    assert_eq!(
        server.expect("server side").sni.as_deref(),
        Some("upstream.test")
    );
}

#[tokio::test]
async fn presents_a_client_certificate_to_an_mtls_upstream() {
    let up = upstream();
    let mut server = listener(&up);
    server.client_auth = Some(ClientAuthConfig {
        ca: up.pki.ca_path().to_path_buf(),
        required: true,
    });
    let gateway = up.pki.client_cert("palisade-gateway");
    let config = UpstreamTlsConfig {
        ca: Some(up.pki.ca_path().to_path_buf()),
        client_cert: Some(gateway.cert_path.clone()),
        client_key: Some(gateway.key_path.clone()),
        ..UpstreamTlsConfig::default()
    };
    let (client, server_info) = connect(server.clone(), &config, "upstream.test").await;
    assert_eq!(client.expect("mTLS handshake"), GREETING);
    let identity = server_info
        .expect("server side")
        .client_identity
        .expect("identity");
    assert_eq!(identity.subject_cn.as_deref(), Some("palisade-gateway"));

    let half = UpstreamTlsConfig {
        client_key: None,
        ..config.clone()
    };
    assert!(matches!(
        build_client_config(&half),
        Err(TlsError::IncompleteClientCertificate)
    ));

    let other = up.pki.client_cert("other");
    let mismatched = UpstreamTlsConfig {
        client_key: Some(other.key_path.clone()),
        ..config
    };
    let error = build_client_config(&mismatched).expect_err("mismatched client key");
    assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
}

#[test]
fn upstream_config_is_strict_toml() {
    let parsed: UpstreamTlsConfig =
        toml::from_str("ca = \"/etc/ca.pem\"\nspki_pins = [\"abc\"]\nserver_name = \"api\"")
            .expect("valid upstream TLS config");
    assert_eq!(parsed.server_name.as_deref(), Some("api"));
    let error = toml::from_str::<UpstreamTlsConfig>("insecure_skip_verify = true")
        .expect_err("unknown keys are errors");
    assert!(
        error.to_string().contains("insecure_skip_verify"),
        "{error}"
    );
}

#[test]
fn client_config_leaves_alpn_to_the_http_client() {
    // hyper-rustls refuses a configuration with ALPN already set.
    let up = upstream();
    let config = build_client_config(&UpstreamTlsConfig {
        ca: Some(up.pki.ca_path().to_path_buf()),
        spki_pins: vec![up.cert.spki_pin.clone()],
        ..UpstreamTlsConfig::default()
    })
    .expect("client config");
    assert!(config.alpn_protocols.is_empty());
}
