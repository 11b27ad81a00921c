//! Every DoS limit, over real sockets.

use crate::common::*;
use http::Method;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_limit_is_413_and_under_limit_passes() {
    let h = Harness::with_config("[limits]\nmax_body = \"4KiB\"\ninspect_body = \"4KiB\"\n").await;
    let c = client();
    let ok = send(
        &c,
        Method::POST,
        &h.url("/api/echo"),
        &[("content-type", "text/plain")],
        &[b'a'; 4000],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["body_bytes"], 4000);
    let big = send(
        &c,
        Method::POST,
        &h.url("/api/echo"),
        &[("content-type", "text/plain")],
        &[b'a'; 5000],
    )
    .await;
    assert_eq!(big.status, 413);
    assert_eq!(big.headers["content-type"], "application/problem+json");
}

/// A client still uploading a body the gateway refused reads the refusal,
/// not a connection reset: the rest of the body is read and discarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_still_gets_its_answer() {
    let h =
        Harness::with_config("[limits]\nmax_body = \"64KiB\"\ninspect_body = \"64KiB\"\n").await;
    for (what, path) in [
        ("declared too large", "/api/echo"),
        (
            "blocked on its head",
            "/api/echo?q=1%27%20OR%20%271%27%3D%271",
        ),
    ] {
        let body_len = if what == "declared too large" {
            8 << 20
        } else {
            4 << 20
        };
        let stream = TcpStream::connect(h.addr).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: {body_len}\r\n\r\n"
        );
        let writer = tokio::spawn(async move {
            write.write_all(head.as_bytes()).await?;
            let chunk = vec![b'a'; 64 << 10];
            let mut sent = 0;
            while sent < body_len {
                write.write_all(&chunk).await?;
                sent += chunk.len();
            }
            write.flush().await
        });
        // Read only once the whole body is on its way, as a simple client does.
        let sent = tokio::time::timeout(Duration::from_secs(10), writer).await;
        assert!(
            matches!(sent, Ok(Ok(Ok(())))),
            "{what}: upload cut short: {sent:?}"
        );
        let mut answer = vec![0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(5), read.read(&mut answer))
            .await
            .expect("answer in time")
            .unwrap_or(0);
        let text = String::from_utf8_lossy(&answer[..n]);
        let expected = if what == "declared too large" {
            "HTTP/1.1 413"
        } else {
            "HTTP/1.1 403"
        };
        assert!(text.starts_with(expected), "{what}: {text:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_over_limit_is_413() {
    let h = Harness::with_config("[limits]\nmax_body = \"4KiB\"\ninspect_body = \"4KiB\"\n").await;
    let chunk = format!("{:x}\r\n{}\r\n", 3000, "b".repeat(3000));
    let req = format!(
        "POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n{chunk}{chunk}0\r\n\r\n"
    );
    let resp = raw_exchange(h.addr, req.as_bytes(), Duration::from_secs(3)).await;
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_inspection_cap_streams_when_route_says_so() {
    let h = Harness::with_config(
        "[limits]\nmax_body = \"1MiB\"\ninspect_body = \"1KiB\"\nover_inspect_cap = \"stream\"\n",
    )
    .await;
    let r = send(
        &client(),
        Method::POST,
        &h.url("/api/echo"),
        &[("content-type", "text/plain")],
        &[b'z'; 8192],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["body_bytes"], 8192);
    h.gw.flush_events(Duration::from_secs(5));
    let store = palisade_events::EventStore::open(&h.events_db()).expect("store");
    let ev = store
        .query(&palisade_events::EventQuery {
            rule: Some("palisade.body.uninspected".into()),
            limit: 5,
            ..Default::default()
        })
        .expect("query");
    assert_eq!(ev.len(), 1, "an event says the body went uninspected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_inspection_cap_blocks_by_default() {
    let h = Harness::with_config("[limits]\nmax_body = \"1MiB\"\ninspect_body = \"1KiB\"\n").await;
    let r = send(
        &client(),
        Method::POST,
        &h.url("/api/echo"),
        &[("content-type", "text/plain")],
        &[b'z'; 8192],
    )
    .await;
    assert_eq!(r.status, 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uri_and_header_limits() {
    let h =
        Harness::with_config("[limits]\nmax_uri_bytes = \"2KiB\"\nmax_header_count = 40\n").await;
    let long = format!("/api/products?q={}", "a".repeat(3000));
    assert_eq!(get(&h.url(&long)).await.status, 414);
    let c = client();
    let names: Vec<String> = (0..60).map(|i| format!("x-h{i}")).collect();
    let headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    let r = send(&c, Method::GET, &h.url("/api/products"), &headers, b"").await;
    assert_eq!(r.status, 431);
    // Header bytes beyond the limit: refused by the HTTP layer before routing.
    let huge = format!(
        "GET /api/products HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "v".repeat(40_000)
    );
    let resp = raw_exchange(h.addr, huge.as_bytes(), Duration::from_secs(3)).await;
    assert!(
        resp.is_empty() || resp.starts_with("HTTP/1.1 431") || resp.starts_with("HTTP/1.1 400"),
        "{resp}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_and_content_type_allow_lists() {
    let h = Harness::with_config(
        "[[upstreams]]\nname = \"api\"\naddresses = [\"{api}\"]\n[[routes]]\nname = \"api\"\nupstream = \"api\"\nmethods = [\"GET\", \"POST\"]\ncontent_types = [\"application/json\"]\n",
    )
    .await;
    let c = client();
    let r = send(&c, Method::DELETE, &h.url("/api/orders/1"), &[], b"").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "GET, POST");
    let r = send(
        &c,
        Method::POST,
        &h.url("/api/echo"),
        &[("content-type", "application/xml")],
        b"<a/>",
    )
    .await;
    assert_eq!(r.status, 415);
    let r = send(
        &c,
        Method::POST,
        &h.url("/api/echo"),
        &[("content-type", "application/json")],
        b"{}",
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_depth_and_key_limits() {
    let h = Harness::with_config("[limits]\njson_max_depth = 16\njson_max_keys = 100\n").await;
    let c = client();
    let deep = format!("{}1{}", "[".repeat(17), "]".repeat(17));
    let r = send(
        &c,
        Method::POST,
        &h.url("/api/echo"),
        &[("content-type", "application/json")],
        deep.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    let many: String = format!(
        "{{{}}}",
        (0..150)
            .map(|i| format!("\"k{i}\":1"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let r = send(
        &c,
        Method::POST,
        &h.url("/api/echo"),
        &[("content-type", "application/json")],
        many.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    let fine = format!("{}1{}", "[".repeat(16), "]".repeat(16));
    let r = send(
        &c,
        Method::POST,
        &h.url("/api/echo"),
        &[("content-type", "application/json")],
        fine.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_post_is_cut_off() {
    let h = Harness::with_config("[limits]\nmin_body_rate = 1000\nbody_grace = \"1s\"\n").await;
    let mut s = TcpStream::connect(h.addr).await.expect("connect");
    s.write_all(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
        .await
        .expect("write");
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Trickle 10 bytes a second, far below 1000 B/s.
    loop {
        tokio::select! {
            n = s.read(&mut buf) => {
                match n { Ok(0) | Err(_) => break, Ok(n) => out.extend_from_slice(&buf[..n]) }
            }
            _ = tokio::time::sleep(Duration::from_millis(1000)) => {
                if s.write_all(b"aaaaaaaaaa").await.is_err() { break; }
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "slow body never cut off"
        );
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_does_not_starve_normal_clients() {
    let h = Harness::with_config(
        "[limits]\nheader_read_timeout = \"2s\"\nmax_connections_per_ip = 1000\n",
    )
    .await;
    let addr = h.addr;
    // 500 connections that each send a partial request head, then a byte every 500 ms.
    let mut slow = Vec::new();
    for _ in 0..500 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /api/products HTTP/1.1\r\nHost: t\r\nX-a: ")
            .await
            .expect("write");
        slow.push(s);
    }
    let dripper = tokio::spawn(async move {
        let mut closed = 0usize;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(6) {
            tokio::time::sleep(Duration::from_millis(500)).await;
            closed = 0;
            for s in slow.iter_mut() {
                if s.write_all(b"a").await.is_err() {
                    closed += 1;
                }
            }
        }
        // Try reading: closed connections return EOF or an error.
        for s in slow.iter_mut() {
            let mut b = [0u8; 64];
            match tokio::time::timeout(Duration::from_millis(20), s.read(&mut b)).await {
                Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
                Ok(Ok(_)) => closed += 1, // an error response is also a close
                Err(_) => {}
            }
        }
        closed
    });
    // Meanwhile a normal client keeps getting answers quickly.
    let c = client();
    for _ in 0..20 {
        let t = Instant::now();
        let r = send(&c, Method::GET, &h.url("/api/products"), &[], b"").await;
        assert_eq!(r.status, 200);
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "normal request took {:?}",
            t.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let closed = dripper.await.expect("dripper");
    assert!(
        closed >= 450,
        "only {closed} of 500 slow connections were closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_client_connection_limit() {
    let h = Harness::with_config("[limits]\nmax_connections_per_ip = 5\n").await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(TcpStream::connect(h.addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let resp = raw_exchange(
        h.addr,
        b"GET /api/products HTTP/1.1\r\nHost: t\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    assert!(resp.is_empty(), "sixth connection was served: {resp}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(get(&h.url("/api/products")).await.status, 200);
    assert!(metrics(&h.gw)
        .await
        .contains("palisade_connections_rejected_total"));
}
