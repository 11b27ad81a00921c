//! The guard over a TLS stream: valid requests are served, a smuggling attempt is refused with
//! the error response inside the TLS session.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use palisade_http1_framing::{GuardLimits, Http1Guard, Violation};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn echo_length(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = request.into_body().collect().await?.to_bytes();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "len={}",
        body.len()
    )))))
}

async fn tls_exchange(request: &[u8]) -> (String, Option<Violation>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let cert_der: CertificateDer<'static> = certified.cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let server_config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key_der)
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (violation_tx, violation_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let Ok(tls) = acceptor.accept(stream).await else {
            return;
        };
        let (guard, handle) = Http1Guard::new(tls, GuardLimits::default());
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(guard), service_fn(echo_length))
            .await;
        let _ = violation_tx.send(handle.violation());
    });

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der).expect("root");
    let client_config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut tls = connector
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("tls handshake");
    tls.write_all(request).await.expect("write");
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tls.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "server did not close");
    drop(tls);
    let violation = tokio::time::timeout(Duration::from_secs(5), violation_rx)
        .await
        .expect("timeout")
        .expect("result");
    (String::from_utf8_lossy(&received).into_owned(), violation)
}

#[tokio::test]
async fn guard_over_tls() {
    let (text, violation) = tls_exchange(
        b"POST /a HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("len=3"), "{text}");
    assert_eq!(violation, None);

    let (text, violation) = tls_exchange(
        b"GET /a HTTP/1.1\r\nHost: localhost\r\n\r\nPOST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    let second = text
        .find("HTTP/1.1 400 Bad Request\r\n")
        .expect("400 after the 200");
    assert!(text[second..].contains("application/problem+json"));
    assert_eq!(
        violation,
        Some(Violation::ContentLengthWithTransferEncoding)
    );
}
