//! End-to-end tests over real sockets: hyper serves through the guard, a raw client talks to it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use palisade_http1_framing::{GuardHandle, GuardLimits, Http1Guard, Violation};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const IO_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    Http1,
    Auto,
}

/// What the backend service saw: one entry per call.
#[derive(Default)]
struct Seen {
    calls: Vec<String>,
    handles: Vec<GuardHandle>,
}

struct TestServer {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

impl TestServer {
    fn calls(&self) -> Vec<String> {
        self.seen
            .lock()
            .map(|seen| seen.calls.clone())
            .unwrap_or_default()
    }

    fn violation(&self) -> Option<Violation> {
        self.seen
            .lock()
            .ok()
            .and_then(|seen| seen.handles.first().and_then(GuardHandle::violation))
    }

    fn pass_through(&self) -> bool {
        self.seen
            .lock()
            .ok()
            .and_then(|seen| seen.handles.first().map(GuardHandle::is_pass_through))
            .unwrap_or(false)
    }
}

async fn handle(
    request: Request<Incoming>,
    seen: Arc<Mutex<Seen>>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    if path == "/ws" && request.headers().contains_key(http::header::UPGRADE) {
        record(&seen, format!("{method} {path} upgrade"));
        let upgrade = hyper::upgrade::on(request);
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                let mut io = TokioIo::new(upgraded);
                let mut buf = [0u8; 1024];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        let response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(http::header::UPGRADE, "websocket")
            .header(http::header::CONNECTION, "upgrade")
            .body(Full::new(Bytes::new()));
        return Ok(response.unwrap_or_default());
    }
    if path == "/slow" {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    match request.into_body().collect().await {
        Ok(body) => {
            let len = body.to_bytes().len();
            record(&seen, format!("{method} {path} {len}"));
            Ok(Response::new(Full::new(Bytes::from(format!("len={len}")))))
        }
        Err(_) => {
            record(&seen, format!("{method} {path} body-error"));
            let mut response = Response::new(Full::new(Bytes::from_static(b"bad body")));
            *response.status_mut() = StatusCode::BAD_REQUEST;
            Ok(response)
        }
    }
}

fn record(seen: &Arc<Mutex<Seen>>, call: String) {
    if let Ok(mut seen) = seen.lock() {
        seen.calls.push(call);
    }
}

async fn spawn_server(kind: ServerKind, limits: GuardLimits) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let server_seen = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (guard, guard_handle) = Http1Guard::new(stream, limits);
            if let Ok(mut seen) = server_seen.lock() {
                seen.handles.push(guard_handle);
            }
            let conn_seen = server_seen.clone();
            let service = service_fn(move |request| handle(request, conn_seen.clone()));
            let io = TokioIo::new(guard);
            tokio::spawn(async move {
                match kind {
                    ServerKind::Http1 => {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, service)
                            .with_upgrades()
                            .await;
                    }
                    ServerKind::Auto => {
                        let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                            .serve_connection_with_upgrades(io, service)
                            .await;
                    }
                }
            });
        }
    });
    TestServer { addr, seen }
}

/// Reads until the server closes; `None` if it did not close within the timeout.
async fn read_to_close(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(IO_TIMEOUT, async {
        let mut buf = [0u8; 8192];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (received, closed)
}

/// Splits a byte stream of responses into (status, body) pairs.
fn parse_responses(mut bytes: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut responses = Vec::new();
    while !bytes.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        let Ok(httparse::Status::Complete(head_len)) = response.parse(bytes) else {
            panic!(
                "unparsable response bytes: {:?}",
                String::from_utf8_lossy(bytes)
            );
        };
        let status = response.code.unwrap_or(0);
        let length = response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok())
            .unwrap_or(0);
        let body_end = (head_len + length).min(bytes.len());
        responses.push((status, bytes[head_len..body_end].to_vec()));
        bytes = &bytes[body_end..];
    }
    responses
}

async fn exchange(server: &TestServer, request: &[u8]) -> (Vec<(u16, Vec<u8>)>, bool) {
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let (bytes, closed) = read_to_close(&mut stream).await;
    (parse_responses(&bytes), closed)
}

struct Case {
    name: &'static str,
    request: &'static [u8],
    statuses: &'static [u16],
    calls: &'static [&'static str],
    violation: Violation,
}

const fn case(
    name: &'static str,
    request: &'static [u8],
    statuses: &'static [u16],
    calls: &'static [&'static str],
    violation: Violation,
) -> Case {
    Case {
        name,
        request,
        statuses,
        calls,
        violation,
    }
}

const REJECTED_HEADS: &[Case] = &[
    case("cl_te", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", &[400], &[], Violation::ContentLengthWithTransferEncoding),
    case("te_cl", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", &[400], &[], Violation::ContentLengthWithTransferEncoding),
    case("duplicate_cl_equal", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", &[400], &[], Violation::DuplicateContentLength),
    case("duplicate_cl_different", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 30\r\n\r\nhelloGET /x HTTP/1.1\r\nHost: a\r\n\r\n", &[400], &[], Violation::DuplicateContentLength),
    case("cl_list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", &[400], &[], Violation::InvalidContentLength),
    case("cl_sign", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", &[400], &[], Violation::InvalidContentLength),
    case("cl_inner_space", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\nhellohello", &[400], &[], Violation::InvalidContentLength),
    case("cl_hex", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", &[400], &[], Violation::InvalidContentLength),
    case("te_xchunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", &[400], &[], Violation::UnsupportedTransferEncoding),
    case("te_chunked_identity", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", &[400], &[], Violation::UnsupportedTransferEncoding),
    case("te_identity", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello", &[400], &[], Violation::UnsupportedTransferEncoding),
    case("te_gzip_chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", &[400], &[], Violation::UnsupportedTransferEncoding),
    case("te_tab_before_colon", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n", &[400], &[], Violation::WhitespaceBeforeColon),
    case("te_vertical_tab", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n", &[400], &[], Violation::InvalidHeaderValue),
    case("te_space_before_colon", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", &[400], &[], Violation::WhitespaceBeforeColon),
    case("te_underscore", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", &[400], &[], Violation::ObfuscatedFramingHeader),
    case("duplicate_te", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &[400], &[], Violation::DuplicateTransferEncoding),
    case("te_http10", b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &[400], &[], Violation::TransferEncodingInHttp10),
    case("bare_lf_request_line", b"GET / HTTP/1.1\nHost: a\r\n\r\n", &[400], &[], Violation::BareLf),
    case("bare_lf_header", b"GET / HTTP/1.1\r\nHost: a\nX-Smuggle: 1\r\n\r\n", &[400], &[], Violation::BareLf),
    case("bare_lf_head_end", b"GET / HTTP/1.1\r\nHost: a\r\n\n", &[400], &[], Violation::BareLf),
    case("bare_cr_header", b"GET / HTTP/1.1\r\nHost: a\rX-Smuggle: 1\r\n\r\n", &[400], &[], Violation::BareCr),
    case("obs_fold", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", &[400], &[], Violation::ObsFold),
    case("obs_fold_te", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", &[400], &[], Violation::UnsupportedTransferEncoding),
    case("nul_in_header_value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n", &[400], &[], Violation::InvalidHeaderValue),
    case("control_in_header_value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x1bc\r\n\r\n", &[400], &[], Violation::InvalidHeaderValue),
    case("nul_in_uri", b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n", &[400], &[], Violation::InvalidRequestTarget),
    case("tab_in_uri", b"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", &[400], &[], Violation::InvalidRequestTarget),
    case("space_in_target", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", &[400], &[], Violation::InvalidRequestTarget),
    case("http09", b"GET /\r\n\r\n", &[400], &[], Violation::InvalidRequestLine),
    case("http20_request_line", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", &[400], &[], Violation::UnsupportedVersion),
    case("http12_request_line", b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", &[400], &[], Violation::UnsupportedVersion),
    case("header_name_with_space", b"GET / HTTP/1.1\r\nHost: a\r\nX Smuggle: 1\r\n\r\n", &[400], &[], Violation::InvalidHeaderName),
    case("duplicate_host", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &[400], &[], Violation::DuplicateHost),
    case("missing_host", b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n", &[400], &[], Violation::MissingHost),
    case("pipelined_cl_te_after_valid", b"GET /first HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", &[200, 400], &["GET /first 0"], Violation::ContentLengthWithTransferEncoding),
    case("pipelined_violation_after_slow_response", b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nX: \x00\r\n\r\n", &[200, 200, 400], &["GET /slow 0", "GET /x 0"], Violation::InvalidHeaderValue),
    case("pipelined_bare_lf_after_valid", b"POST /first HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /smuggled HTTP/1.1\nHost: a\n\n", &[200, 400], &["POST /first 5"], Violation::BareLf),
];

const REJECTED_BODIES: &[Case] = &[
    case("chunk_size_0x", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", &[400], &["POST / body-error"], Violation::InvalidChunkSize),
    case("chunk_size_negative", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nhello\r\n0\r\n\r\n", &[400], &["POST / body-error"], Violation::InvalidChunkSize),
    case("chunk_size_overflow", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nhello\r\n0\r\n\r\n", &[400], &["POST / body-error"], Violation::ChunkSizeTooLong),
    case("chunk_size_space_semicolon", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 ;\r\nhello\r\n0\r\n\r\n", &[400], &["POST / body-error"], Violation::InvalidChunkSize),
    case("chunk_missing_crlf", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", &[400], &["POST / body-error"], Violation::MissingChunkTerminator),
    case("chunk_bare_lf_size_line", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", &[400], &["POST / body-error"], Violation::BareLf),
    case("chunk_quoted_extension", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\"b\"\r\nhello\r\n0\r\n\r\n", &[400], &["POST / body-error"], Violation::InvalidChunkExtension),
    case("chunk_forbidden_trailer", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n", &[400], &["POST / body-error"], Violation::ForbiddenTrailer),
];

async fn run_cases(kind: ServerKind, cases: &[Case]) {
    for case in cases {
        let server = spawn_server(kind, GuardLimits::default()).await;
        // Every case is followed by a request that must never reach the backend.
        let request = [case.request, b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"].concat();
        let (responses, closed) = exchange(&server, &request).await;
        let statuses: Vec<u16> = responses.iter().map(|(status, _)| *status).collect();
        assert_eq!(statuses, case.statuses, "{}: statuses", case.name);
        assert!(closed, "{}: connection not closed", case.name);
        assert_eq!(server.calls(), case.calls, "{}: backend calls", case.name);
        assert_eq!(
            server.violation(),
            Some(case.violation),
            "{}: violation",
            case.name
        );
        if case.calls.iter().any(|call| call.ends_with("body-error")) {
            // hyper delivered the service's own answer to the failed body.
            assert_eq!(
                responses.last().map(|r| r.1.as_slice()),
                Some(&b"bad body"[..]),
                "{}",
                case.name
            );
        }
    }
}

#[tokio::test]
async fn smuggling_heads_are_rejected_before_hyper() {
    run_cases(ServerKind::Http1, REJECTED_HEADS).await;
}

#[tokio::test]
async fn smuggling_heads_are_rejected_with_auto_builder() {
    run_cases(ServerKind::Auto, REJECTED_HEADS).await;
}

#[tokio::test]
async fn malformed_chunk_framing_fails_the_body() {
    run_cases(ServerKind::Http1, REJECTED_BODIES).await;
}

#[tokio::test]
async fn guard_error_response_is_problem_json() {
    let server = spawn_server(ServerKind::Http1, GuardLimits::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"GET /secret-token HTTP/1.1\nHost: a\n\n")
        .await
        .expect("write");
    let (bytes, closed) = read_to_close(&mut stream).await;
    assert!(closed);
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(text.contains("Content-Type: application/problem+json\r\n"));
    assert!(text.contains("Connection: close\r\n"));
    assert!(text.contains("\"title\":\"Bad Request\""));
    assert!(text.contains("\"code\":\"bare_lf\""));
    assert!(!text.contains("secret-token"), "request data echoed");
}

#[tokio::test]
async fn size_limits_map_to_414_and_431() {
    let limits = GuardLimits::default();
    let long_uri = format!(
        "GET /{} HTTP/1.1\r\nHost: a\r\n\r\n",
        "a".repeat(limits.max_uri_bytes + 1)
    );
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(limits.max_head_bytes)
    );
    let many: String = (0..=limits.max_headers)
        .map(|i| format!("X-{i}: v\r\n"))
        .collect();
    let many_headers = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
    for (request, status, violation) in [
        (long_uri, 414, Violation::UriTooLong),
        (big_head, 431, Violation::HeadTooLarge),
        (many_headers, 431, Violation::TooManyHeaders),
    ] {
        let server = spawn_server(ServerKind::Http1, limits).await;
        let (responses, closed) = exchange(&server, request.as_bytes()).await;
        assert_eq!(
            responses.iter().map(|r| r.0).collect::<Vec<_>>(),
            vec![status],
            "{violation:?}"
        );
        assert!(closed);
        assert!(server.calls().is_empty());
        assert_eq!(server.violation(), Some(violation));
    }
}

#[tokio::test]
async fn pipelined_keep_alive_requests_are_served_in_order() {
    let server = spawn_server(ServerKind::Http1, GuardLimits::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let pipeline = b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n\
POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \tChunked \r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n";
    stream.write_all(pipeline).await.expect("write");
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    while parse_complete(&bytes) < 3 {
        let n = tokio::time::timeout(IO_TIMEOUT, stream.read(&mut buf))
            .await
            .expect("timeout")
            .expect("read");
        assert!(n > 0, "closed early");
        bytes.extend_from_slice(&buf[..n]);
    }
    let responses = parse_responses(&bytes);
    assert_eq!(
        responses,
        vec![
            (200, b"len=0".to_vec()),
            (200, b"len=5".to_vec()),
            (200, b"len=7".to_vec())
        ]
    );
    assert_eq!(
        server.calls(),
        vec!["GET /one 0", "POST /two 5", "POST /three 7"]
    );
    assert_eq!(server.violation(), None);
    stream
        .write_all(b"GET /four HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let (rest, closed) = read_to_close(&mut stream).await;
    assert!(closed);
    assert_eq!(parse_responses(&rest), vec![(200, b"len=0".to_vec())]);
}

fn parse_complete(bytes: &[u8]) -> usize {
    let mut count = 0;
    let mut rest = bytes;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        let Ok(httparse::Status::Complete(head_len)) = response.parse(rest) else {
            return count;
        };
        let length = response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok())
            .unwrap_or(0);
        if rest.len() < head_len + length {
            return count;
        }
        count += 1;
        rest = &rest[head_len + length..];
    }
}

#[tokio::test]
async fn chunked_with_extensions_and_trailers() {
    let server = spawn_server(ServerKind::Http1, GuardLimits::default()).await;
    let request = b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nConnection: close\r\n\r\n\
5;name=value;flag\r\nhello\r\nA;x=1\r\n0123456789\r\n0;last=yes\r\nX-Sum: 15\r\nX-Other: a b\r\n\r\n";
    let (responses, closed) = exchange(&server, request).await;
    assert!(closed);
    assert_eq!(responses, vec![(200, b"len=15".to_vec())]);
    assert_eq!(server.calls(), vec!["POST /c 15"]);
}

#[tokio::test]
async fn large_content_length_body_across_many_reads() {
    let server = spawn_server(ServerKind::Http1, GuardLimits::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let body_len = 1024 * 1024 + 7;
    let head = format!(
        "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n"
    );
    // The head itself arrives in small pieces too.
    for piece in head.as_bytes().chunks(7) {
        stream.write_all(piece).await.expect("write");
        stream.flush().await.expect("flush");
    }
    let body: Vec<u8> = (0..body_len).map(|i| (i % 251) as u8).collect();
    for piece in body.chunks(4093) {
        stream.write_all(piece).await.expect("write");
    }
    let (bytes, closed) = read_to_close(&mut stream).await;
    assert!(closed);
    assert_eq!(
        parse_responses(&bytes),
        vec![(200, format!("len={body_len}").into_bytes())]
    );
    assert_eq!(server.calls(), vec![format!("POST /big {body_len}")]);
}

#[tokio::test]
async fn expect_100_continue() {
    let server = spawn_server(ServerKind::Http1, GuardLimits::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(
            b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .expect("write");
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(IO_TIMEOUT, stream.read(&mut buf))
        .await
        .expect("timeout")
        .expect("read");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 100 Continue\r\n"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    stream.write_all(b"hello world").await.expect("write");
    stream
        .write_all(
            b"POST /next HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        )
        .await
        .expect("write");
    let (bytes, closed) = read_to_close(&mut stream).await;
    assert!(closed);
    assert_eq!(
        parse_responses(&bytes),
        vec![(200, b"len=11".to_vec()), (200, b"len=2".to_vec())]
    );
    assert_eq!(server.calls(), vec!["POST /up 11", "POST /next 2"]);
}

const WS_HANDSHAKE: &[u8] =
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

#[tokio::test]
async fn websocket_upgrade_switches_to_pass_through() {
    for kind in [ServerKind::Http1, ServerKind::Auto] {
        let server = spawn_server(kind, GuardLimits::default()).await;
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream.write_all(WS_HANDSHAKE).await.expect("write");
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tokio::time::timeout(IO_TIMEOUT, stream.read(&mut buf))
                .await
                .expect("timeout")
                .expect("read");
            assert!(n > 0);
            head.extend_from_slice(&buf[..n]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101 "),
            "{:?}",
            String::from_utf8_lossy(&head)
        );
        // Frames that would be rejected as HTTP/1: bare LF, NUL, a smuggled-looking request.
        let frames: &[u8] = b"\x81\x05hello\nGET / HTTP/1.1\nHost: x\n\n\x00\x01\x02";
        stream.write_all(frames).await.expect("write");
        let mut echoed = Vec::new();
        while echoed.len() < frames.len() {
            let n = tokio::time::timeout(IO_TIMEOUT, stream.read(&mut buf))
                .await
                .expect("timeout")
                .expect("read");
            assert!(n > 0);
            echoed.extend_from_slice(&buf[..n]);
        }
        assert_eq!(echoed, frames);
        assert!(server.pass_through());
        assert_eq!(server.violation(), None);
        assert_eq!(server.calls(), vec!["GET /ws upgrade"]);
    }
}

#[tokio::test]
async fn refused_upgrade_resumes_validation() {
    let server = spawn_server(ServerKind::Http1, GuardLimits::default()).await;
    // /other does not upgrade: the next request is validated again, and its bare LF is refused.
    let request =
        b"GET /other HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\
GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\nHost: a\n\n";
    let (responses, closed) = exchange(&server, request).await;
    assert!(closed);
    assert_eq!(
        responses.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![200, 200, 400]
    );
    assert_eq!(server.calls(), vec!["GET /other 0", "GET /ok 0"]);
    assert!(!server.pass_through());
    assert_eq!(server.violation(), Some(Violation::BareLf));
}

#[tokio::test]
async fn h2_prior_knowledge_passes_through() {
    let server = spawn_server(ServerKind::Auto, GuardLimits::default()).await;
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(connection);
    for path in ["/h2-one", "/h2-two"] {
        let request = Request::builder()
            .uri(format!("http://a{path}"))
            .body(Empty::<Bytes>::new())
            .expect("request");
        let response = tokio::time::timeout(IO_TIMEOUT, sender.send_request(request))
            .await
            .expect("timeout")
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), http::Version::HTTP_2);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(&body[..], b"len=0");
    }
    assert!(server.pass_through());
    assert_eq!(server.calls(), vec!["GET /h2-one 0", "GET /h2-two 0"]);
}

#[tokio::test]
async fn alpn_h2_passthrough_constructor() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            let guard = Http1Guard::passthrough(stream);
            assert!(guard.handle().is_pass_through());
            let service = service_fn(|_request: Request<Incoming>| async {
                Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(
                    b"h2",
                ))))
            });
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(guard), service)
                .await;
        }
    });
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(connection);
    let request = Request::builder()
        .uri("http://a/")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&body[..], b"h2");
}

#[tokio::test]
async fn incomplete_head_at_eof_closes_quietly() {
    let server = spawn_server(ServerKind::Http1, GuardLimits::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n")
        .await
        .expect("write");
    stream.shutdown().await.expect("shutdown");
    let (bytes, closed) = read_to_close(&mut stream).await;
    assert!(closed);
    assert!(bytes.is_empty(), "{:?}", String::from_utf8_lossy(&bytes));
    assert!(server.calls().is_empty());
    assert_eq!(server.violation(), None);
}

/// Records whether hyper shut the connection down (as opposed to dropping it).
struct ShutdownProbe {
    inner: TcpStream,
    shut_down: Arc<std::sync::atomic::AtomicBool>,
}

impl tokio::io::AsyncRead for ShutdownProbe {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for ShutdownProbe {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.shut_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// hyper shuts an idle connection down once reads report EOF; the guard relies on this to close
/// after its error response.
#[tokio::test]
async fn hyper_shuts_down_after_eof_while_idle() {
    for request in [
        &b"GET / HTTP/1.1\nHost: a\n\n"[..],
        b"GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shut_down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let probe_flag = shut_down.clone();
        tokio::spawn(async move {
            if let Ok((stream, _)) = listener.accept().await {
                let probe = ShutdownProbe { inner: stream, shut_down: probe_flag };
                let (guard, handle) = Http1Guard::new(probe, GuardLimits::default());
                let service = service_fn(|_request: Request<Incoming>| async {
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let result = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(guard), service).await;
                let _ = done_tx.send((result.is_ok(), handle.violation()));
            }
        });
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request).await.expect("write");
        let (bytes, closed) = read_to_close(&mut stream).await;
        assert!(closed);
        assert_eq!(parse_responses(&bytes).last().map(|r| r.0), Some(400));
        drop(stream);
        let (clean, violation) = tokio::time::timeout(IO_TIMEOUT, done_rx).await.expect("timeout").expect("result");
        assert!(clean, "hyper ended with an error");
        assert!(violation.is_some());
        assert!(shut_down.load(std::sync::atomic::Ordering::SeqCst), "hyper dropped the connection without shutdown");
    }
}

#[tokio::test]
async fn deep_pipeline_is_served_with_back_pressure() {
    let server = spawn_server(ServerKind::Http1, GuardLimits::default()).await;
    let count = 3 * palisade_http1_framing::MAX_PIPELINED_REQUESTS + 5;
    let mut pipeline = Vec::new();
    for i in 0..count {
        pipeline.extend_from_slice(
            format!("POST /p{i} HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc").as_bytes(),
        );
    }
    pipeline.extend_from_slice(b"GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let (responses, closed) = exchange(&server, &pipeline).await;
    assert!(closed);
    assert_eq!(responses.len(), count + 1);
    assert!(responses.iter().all(|(status, _)| *status == 200));
    assert_eq!(server.calls().len(), count + 1);
    assert_eq!(server.violation(), None);
}
