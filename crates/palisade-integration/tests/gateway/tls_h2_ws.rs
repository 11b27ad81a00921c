//! TLS termination (HTTP/1.1 and HTTP/2 through ALPN), HSTS, the HTTPS
//! redirect listener, cleartext HTTP/2, and WebSocket upgrades.

use crate::common::*;
use bytes::Bytes;
use http::{Request, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use palisade_test_util::certs::TestPki;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn tls_client(pki: &TestPki, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            pki.ca_cert_der().to_vec(),
        ))
        .expect("ca");
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

async fn tls_get(
    addr: SocketAddr,
    pki: &TestPki,
    alpn: &[&[u8]],
    path: &str,
) -> (http::response::Parts, Bytes, Version) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let tls = tls_client(pki, alpn)
        .connect(name, tcp)
        .await
        .expect("handshake");
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let io = TokioIo::new(tls);
    let req = Request::builder()
        .uri(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .expect("req");
    let resp = if h2 {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .expect("h2");
        tokio::spawn(conn);
        let req = Request::builder()
            .uri(format!("https://localhost{path}"))
            .body(Empty::<Bytes>::new())
            .expect("req");
        sender.send_request(req).await.expect("h2 response")
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.expect("h1");
        tokio::spawn(conn);
        sender.send_request(req).await.expect("h1 response")
    };
    let version = resp.version();
    let (parts, body) = resp.into_parts();
    (
        parts,
        body.collect().await.expect("body").to_bytes(),
        version,
    )
}

async fn tls_harness(pki: &TestPki) -> Harness {
    let cert = pki.server_cert(&["localhost", "api.test"]);
    let toml = format!(
        "[[listeners]]\naddress = \"127.0.0.1:0\"\n[listeners.tls]\ncertificates = [{{ cert = \"{}\", key = \"{}\" }}]\n\n[[listeners]]\naddress = \"127.0.0.1:0\"\nredirect_to_https_port = 8443\n",
        cert.cert_path.display(),
        cert.key_path.display()
    );
    Harness::with_config(&toml).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_http1_and_http2_with_hsts() {
    let pki = TestPki::new();
    let h = tls_harness(&pki).await;
    let (parts, body, version) = tls_get(h.addr, &pki, &[b"http/1.1"], "/api/echo").await;
    assert_eq!(parts.status, 200);
    assert_eq!(version, Version::HTTP_11);
    assert!(parts.headers["strict-transport-security"]
        .to_str()
        .unwrap_or("")
        .starts_with("max-age=31536000"));
    let echo: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(echo["headers"]["x-forwarded-proto"][0], "https");

    let (parts, _, version) = tls_get(h.addr, &pki, &[b"h2", b"http/1.1"], "/api/products").await;
    assert_eq!(parts.status, 200);
    assert_eq!(version, Version::HTTP_2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_listener_redirects_to_https() {
    let pki = TestPki::new();
    let h = tls_harness(&pki).await;
    let plain = h.gw.listen_addrs[1];
    let r = send(
        &client(),
        http::Method::GET,
        &format!("http://{plain}/api/products?q=1"),
        &[("host", "api.test")],
        b"",
    )
    .await;
    assert_eq!(r.status, 308);
    assert_eq!(
        r.headers["location"],
        "https://api.test:8443/api/products?q=1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshake_with_untrusted_client_config_fails_cleanly() {
    let pki = TestPki::new();
    let other = TestPki::new();
    let h = tls_harness(&pki).await;
    let tcp = TcpStream::connect(h.addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    assert!(tls_client(&other, &[]).connect(name, tcp).await.is_err());
    // The gateway keeps serving.
    let (parts, _, _) = tls_get(h.addr, &pki, &[], "/api/products").await;
    assert_eq!(parts.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleartext_http2_prior_knowledge() {
    let h = Harness::new().await;
    let tcp = TcpStream::connect(h.addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("h2c");
    tokio::spawn(conn);
    for _ in 0..3 {
        let req = Request::builder()
            .uri(format!("http://{}/api/products", h.addr))
            .body(Empty::<Bytes>::new())
            .expect("req");
        let resp = sender.send_request(req).await.expect("response");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), Version::HTTP_2);
    }
}

fn ws_frame(payload: &[u8]) -> Vec<u8> {
    // Client frames are masked (RFC 6455 §5.3); payloads here are < 126 bytes.
    let mask = [0x11u8, 0x22, 0x33, 0x44];
    let mut f = vec![0x81, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrade_is_tunnelled() {
    let h = Harness::new().await;
    let mut s = TcpStream::connect(h.addr).await.expect("connect");
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .expect("write");
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    s.write_all(&ws_frame(b"hello palisade"))
        .await
        .expect("frame");
    let mut got = Vec::new();
    while got.len() < 2 + 14 {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("in time")
            .expect("read");
        assert!(n > 0, "tunnel closed");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got[0] & 0x0f, 0x1, "text frame");
    assert_eq!(&got[2..16], b"hello palisade");
}

/// The HTTP/2 stream limit is announced in SETTINGS, and a rapid-reset flood
/// (streams opened and cancelled at once, CVE-2023-44487) gets the
/// connection closed while other clients keep being served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_stream_limit_and_rapid_reset_flood() {
    let h = Harness::with_config(
        r#"
[limits]
h2_max_concurrent_streams = 16
h2_max_pending_resets = 20
"#,
    )
    .await;
    let tcp = TcpStream::connect(h.addr).await.expect("connect");
    let (client, conn) = h2::client::handshake(tcp).await.expect("h2c handshake");
    let driver = tokio::spawn(conn);
    let mut client = client.ready().await.expect("ready");
    // The first request settles SETTINGS; the announced limit then applies.
    let req = http::Request::get(format!("http://{}/api/products", h.addr))
        .body(())
        .expect("req");
    let (resp, _) = client.send_request(req, true).expect("send");
    assert_eq!(resp.await.expect("response").status(), 200);
    assert_eq!(client.current_max_send_streams(), 16);

    let mut refused_after = None;
    for i in 0..20_000u32 {
        let ready = tokio::time::timeout(Duration::from_secs(5), client.clone().ready()).await;
        let mut ready = match ready {
            Ok(Ok(c)) => c,
            _ => {
                refused_after = Some(i);
                break;
            }
        };
        let req = http::Request::post(format!("http://{}/api/orders", h.addr))
            .body(())
            .expect("req");
        match ready.send_request(req, false) {
            Ok((_, mut stream)) => stream.send_reset(h2::Reason::CANCEL),
            Err(_) => {
                refused_after = Some(i);
                break;
            }
        }
        if i % 64 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let closed = tokio::time::timeout(Duration::from_secs(5), driver).await;
    assert!(
        refused_after.is_some() && closed.is_ok(),
        "the flooding connection was not closed (refused after {refused_after:?})"
    );
    // Everyone else is still served.
    assert_eq!(get(&h.url("/api/products")).await.status, 200);
}
