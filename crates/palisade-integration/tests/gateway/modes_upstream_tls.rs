//! Monitor mode, per-route exclusions, and TLS towards the upstream (CA
//! verification and SPKI pinning).

use crate::common::*;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use palisade_test_util::certs::TestPki;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const SQLI: &str = "/api/products?q=%27%20OR%201%3D1--";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_mode_forwards_and_records() {
    let h = Harness::with_config("[decision]\nmode = \"monitor\"\n").await;
    let r = get(&h.url(SQLI)).await;
    assert_eq!(r.status, 200, "monitor mode forwards: {}", r.text());
    assert!(h.gw.flush_events(Duration::from_secs(5)));
    let store = palisade_events::EventStore::open(&h.events_db()).expect("store");
    let ev = store
        .query(&palisade_events::EventQuery {
            limit: 10,
            ..Default::default()
        })
        .expect("query");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].event["action"], "monitored");
    assert!(ev[0].event["score"].as_u64().unwrap_or(0) >= 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_mode_blocks_and_exclusions_apply() {
    let h = Harness::new().await;
    let r = get(&h.url(SQLI)).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let body = r.text();
    assert!(
        !body.contains("OR 1=1") && !body.contains("sqli"),
        "no request data or rule detail in the refusal: {body}"
    );
    let h = Harness::with_config(
        "[decision]\nexclusions = [{ rule = \"palisade.sqli*\", location = \"query.q\" }]\n",
    )
    .await;
    assert_eq!(
        get(&h.url(SQLI)).await.status,
        200,
        "excluded rule at that location"
    );
    assert_eq!(
        get(&h.url("/api/products?category=%27%20OR%201%3D1--"))
            .await
            .status,
        403,
        "other locations still protected"
    );
}

async fn tls_upstream(pki: &TestPki) -> (SocketAddr, String) {
    let cert = pki.server_cert(&["localhost"]);
    let pin = cert.spki_pin.clone();
    let certs = rustls_pemfile_certs(&cert.cert_pem);
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        pem_body(&cert.key_pem),
    ));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server cert");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                        Bytes::from_static(b"over tls"),
                    )))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (addr, pin)
}

fn pem_body(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("pem base64")
}

fn rustls_pemfile_certs(pem: &str) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    vec![rustls::pki_types::CertificateDer::from(pem_body(pem))]
}

async fn through(pki: &TestPki, up: SocketAddr, tls: &str) -> u16 {
    let toml = format!(
        "[[upstreams]]\nname = \"u\"\naddresses = [\"https://localhost:{}\"]\nconnect_timeout = \"2s\"\ntls = {{ ca = \"{}\"{tls} }}\n[[routes]]\nname = \"u\"\nupstream = \"u\"\n",
        up.port(),
        pki.ca_path().display()
    );
    let h = Harness::with_config(&toml).await;
    get(&h.url("/anything")).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_tls_is_verified_and_pinned() {
    let pki = TestPki::new();
    let (up, pin) = tls_upstream(&pki).await;
    assert_eq!(through(&pki, up, "").await, 200, "CA-verified upstream");
    assert_eq!(
        through(&pki, up, &format!(", spki_pins = [\"{pin}\"]")).await,
        200,
        "right pin"
    );
    // A pin for another key is refused even though the CA verifies.
    let other_pin = pki.server_cert(&["localhost"]).spki_pin;
    assert_eq!(
        through(&pki, up, &format!(", spki_pins = [\"{other_pin}\"]")).await,
        502,
        "wrong pin"
    );
    // An unrelated CA is refused.
    let other = TestPki::new();
    let toml_other = format!(
        "[[upstreams]]\nname = \"u\"\naddresses = [\"https://localhost:{}\"]\ntls = {{ ca = \"{}\" }}\n[[routes]]\nname = \"u\"\nupstream = \"u\"\n",
        up.port(),
        other.ca_path().display()
    );
    let h = Harness::with_config(&toml_other).await;
    assert_eq!(get(&h.url("/x")).await.status, 502);
}
