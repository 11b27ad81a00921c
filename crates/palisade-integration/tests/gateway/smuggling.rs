//! Request smuggling and malformed framing, over raw sockets through the whole
//! gateway: every ambiguous request is refused (400, or 414/431 for size) and
//! the connection closed; the upstream never sees the smuggled request.

use crate::common::*;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Seen = Arc<Mutex<HashMap<String, usize>>>;

/// An upstream that counts requests by path and reads every body.
async fn counting_upstream() -> (SocketAddr, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen: Seen = Arc::default();
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let s = s.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let s = s.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let _ = req.into_body().collect().await;
                        *s.lock().expect("lock").entry(path).or_default() += 1;
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                            Bytes::from_static(b"ok"),
                        )))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    (addr, seen)
}

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";

fn variants() -> Vec<(&'static str, String)> {
    let s = SMUGGLED;
    vec![
        ("CL.TE", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{s}")),
        ("TE.CL", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n{s}\r\n0\r\n\r\n")),
        ("duplicate CL, different", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 37\r\n\r\n{s}")),
        ("duplicate CL, equal", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc{s}")),
        ("CL list", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 3\r\n\r\nabc{s}")),
        ("CL with plus sign", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc{s}")),
        ("CL in hex", format!("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 0x3\r\n\r\nabc{s}")),
        ("TE xchunked", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{s}")),
        ("TE chunked, identity", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{s}")),
        ("TE with vertical tab", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n{s}")),
        ("space before colon", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n{s}")),
        ("Transfer_Encoding lookalike", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n{s}")),
        ("duplicate TE", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{s}")),
        ("TE in HTTP/1.0", format!("POST /a HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{s}")),
        ("bare LF in headers", format!("GET /a HTTP/1.1\nHost: t\nX: y\n\n{s}")),
        ("bare LF after request line", format!("GET /a HTTP/1.1\nHost: t\r\n\r\n{s}")),
        ("bare CR", format!("GET /a HTTP/1.1\r\nHost: t\rX: y\r\n\r\n{s}")),
        ("obs-fold", format!("GET /a HTTP/1.1\r\nHost: t\r\nX-A: one\r\n two\r\n\r\n{s}")),
        ("NUL in header value", format!("GET /a HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n{s}")),
        ("control byte in URI", format!("GET /a\x01b HTTP/1.1\r\nHost: t\r\n\r\n{s}")),
        ("space in target", format!("GET /a b HTTP/1.1\r\nHost: t\r\n\r\n{s}")),
        ("HTTP/1.2", format!("GET /a HTTP/1.2\r\nHost: t\r\n\r\n{s}")),
        ("HTTP/2.0 request line", format!("GET /a HTTP/2.0\r\nHost: t\r\n\r\n{s}")),
        ("header name with space", format!("GET /a HTTP/1.1\r\nHost: t\r\nX A: b\r\n\r\n{s}")),
        ("missing Host", format!("GET /a HTTP/1.1\r\nX: y\r\n\r\n{s}")),
        ("duplicate Host", format!("GET /a HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n{s}")),
    ]
}

fn body_variants() -> Vec<(&'static str, String)> {
    let s = SMUGGLED;
    vec![
        ("chunk size 0x prefix", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n{s}")),
        ("negative chunk size", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nhello\r\n0\r\n\r\n{s}")),
        ("overflowing chunk size", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nhello\r\n0\r\n\r\n{s}")),
        ("missing CRLF after chunk data", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n{s}")),
        ("bare LF in chunk size line", format!("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n{s}")),
    ]
}

async fn gateway_over(upstream: SocketAddr) -> Harness {
    Harness::with_config(&format!(
        "[[upstreams]]\nname = \"u\"\naddresses = [\"http://{upstream}\"]\n[[routes]]\nname = \"u\"\nupstream = \"u\"\n"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_heads_are_refused_and_never_forwarded() {
    let (up, seen) = counting_upstream().await;
    let h = gateway_over(up).await;
    let cases = variants();
    assert!(cases.len() >= 20);
    for (name, raw) in &cases {
        let resp = raw_exchange(h.addr, raw.as_bytes(), Duration::from_secs(3)).await;
        assert!(
            resp.starts_with("HTTP/1.1 400"),
            "{name}: expected 400, got {resp:?}"
        );
        assert_eq!(
            resp.matches("HTTP/1.1").count(),
            1,
            "{name}: more than one response: {resp}"
        );
        assert!(
            resp.to_ascii_lowercase().contains("connection: close"),
            "{name}: connection not closed: {resp}"
        );
    }
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(
        seen.get("/smuggled"),
        None,
        "smuggled request reached the upstream: {seen:?}"
    );
    assert_eq!(
        seen.get("/a"),
        None,
        "an ambiguous request reached the upstream: {seen:?}"
    );
    // Each refusal is an event and a metric.
    // The event is recorded when the refused connection's task ends, which may
    // be just after the client read its 400.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let events = loop {
        h.gw.flush_events(Duration::from_secs(5));
        let store = palisade_events::EventStore::open(&h.events_db()).expect("store");
        let query = palisade_events::EventQuery {
            limit: 1000,
            ..Default::default()
        };
        let events = store.query(&query).expect("query");
        if events.len() >= cases.len() || std::time::Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        events.len(),
        cases.len(),
        "one event per refused connection"
    );
    assert!(metrics(&h.gw)
        .await
        .contains("palisade_protocol_violations_total"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_chunk_framing_is_refused_and_never_forwarded() {
    let (up, seen) = counting_upstream().await;
    let h = gateway_over(up).await;
    for (name, raw) in body_variants() {
        let resp = raw_exchange(h.addr, raw.as_bytes(), Duration::from_secs(3)).await;
        assert!(
            resp.starts_with("HTTP/1.1 400"),
            "{name}: expected 400, got {resp:?}"
        );
    }
    let seen = seen.lock().expect("lock").clone();
    assert!(seen.is_empty(), "upstream saw {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_pipelined_and_chunked_requests_still_work() {
    let (up, seen) = counting_upstream().await;
    let h = gateway_over(up).await;
    let raw = "GET /one HTTP/1.1\r\nHost: t\r\n\r\nPOST /two HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: y\r\n\r\nGET /three HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let resp = raw_exchange(h.addr, raw.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(resp.matches("HTTP/1.1 200").count(), 3, "{resp}");
    let seen = seen.lock().expect("lock").clone();
    for p in ["/one", "/two", "/three"] {
        assert_eq!(seen.get(p), Some(&1), "{seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_request_then_smuggling_attempt_on_same_connection() {
    let (up, seen) = counting_upstream().await;
    let h = gateway_over(up).await;
    let raw = format!(
        "GET /first HTTP/1.1\r\nHost: t\r\n\r\nPOST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{SMUGGLED}"
    );
    let resp = raw_exchange(h.addr, raw.as_bytes(), Duration::from_secs(5)).await;
    let first = resp.find("HTTP/1.1 200").expect("first answered");
    let refused = resp.find("HTTP/1.1 400").expect("second refused");
    assert!(first < refused, "{resp}");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.get("/first"), Some(&1));
    assert_eq!(seen.get("/smuggled"), None);
}
