//! Cost of the guard in front of hyper: keep-alive requests over loopback, with and without it.

use std::net::SocketAddr;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use palisade_http1_framing::{GuardLimits, Http1Guard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const REQUESTS_PER_ITERATION: usize = 100;

async fn echo_length(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = request.into_body().collect().await?.to_bytes();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "{:05}",
        body.len()
    )))))
}

async fn serve(guarded: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let builder = hyper::server::conn::http1::Builder::new();
                if guarded {
                    let (guard, _handle) = Http1Guard::new(stream, GuardLimits::default());
                    let _ = builder
                        .serve_connection(TokioIo::new(guard), service_fn(echo_length))
                        .await;
                } else {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service_fn(echo_length))
                        .await;
                }
            });
        }
    });
    addr
}

/// Sends requests one after another on one connection; each response is exactly `response_len`.
async fn round_trips(stream: &mut TcpStream, request: &[u8], response_len: usize) {
    let mut response = vec![0u8; response_len];
    for _ in 0..REQUESTS_PER_ITERATION {
        stream.write_all(request).await.expect("write");
        stream.read_exact(&mut response).await.expect("read");
    }
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut json = b"POST /orders HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n\r\n".to_vec();
    json.extend(std::iter::repeat_n(b'x', 1024));
    let requests: [(&str, Vec<u8>); 2] = [
        ("GET", b"GET /products?id=42&sort=price HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\nUser-Agent: bench\r\n\r\n".to_vec()),
        ("POST 1 KiB", json),
    ];
    let mut group = c.benchmark_group("hyper_keep_alive");
    group.throughput(Throughput::Elements(REQUESTS_PER_ITERATION as u64));
    for (name, request) in &requests {
        for guarded in [false, true] {
            let mut stream = runtime.block_on(async {
                let addr = serve(guarded).await;
                TcpStream::connect(addr).await.expect("connect")
            });
            let response_len = runtime.block_on(async {
                stream.write_all(request).await.expect("write");
                let mut buf = vec![0u8; 4096];
                let n = stream.read(&mut buf).await.expect("read");
                n
            });
            let label = format!("{name} {}", if guarded { "guarded" } else { "plain" });
            group.bench_function(label, |b| {
                b.iter(|| runtime.block_on(round_trips(&mut stream, request, response_len)))
            });
        }
    }
    group.finish();
}

criterion_group!(overhead, benches);
criterion_main!(overhead);
