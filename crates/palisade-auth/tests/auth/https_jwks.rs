//! JWKS fetched over real TLS from a local server with a test CA.

use crate::common::*;
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use palisade_auth::{AuthConfig, AuthEngine};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Starts an HTTPS server for `localhost` serving the example JWKS; returns
/// (port, CA PEM, hit counter).
async fn https_jwks_server() -> (u16, String, Arc<AtomicUsize>) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(server_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(move |_req| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from(jwks_document()),
                        )))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (port, ca.pem(), hits)
}

fn config(port: u16, ca_file: Option<&str>) -> AuthConfig {
    let ca = ca_file
        .map(|f| format!("tls_ca_file = \"{f}\"\n"))
        .unwrap_or_default();
    toml::from_str(&format!(
        r#"
{ca}
[[issuers]]
issuer = "{ISSUER}"
audiences = ["{AUDIENCE}"]
algorithms = ["RS256"]
jwks_url = "https://localhost:{port}/jwks.json"
"#
    ))
    .unwrap()
}

#[tokio::test]
async fn jwks_over_https_with_a_configured_ca() {
    let (port, ca_pem, hits) = https_jwks_server().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
    let engine = AuthEngine::from_config(&config(port, Some("ca.pem")), dir.path()).unwrap();
    let errors = engine.refresh_jwks().await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let token = mint_rs256(&claims("alice", ""));
    let mut head = palisade_core::RequestHead::synthetic(http::Method::GET, "/api/x");
    head.headers
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let mut tx = palisade_core::Transaction::new(head);
    engine.authenticate(&mut tx).await;
    assert_eq!(&*tx.principal.unwrap().subject, "alice");

    // Without the CA the server is not trusted: no keys are loaded.
    let untrusting = AuthEngine::from_config(&config(port, None), dir.path()).unwrap();
    let errors = untrusting.refresh_jwks().await;
    assert_eq!(errors.len(), 1);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "no request completed over an untrusted connection"
    );
}
