//! Thread-per-core serving: connections opened together are spread over
//! the workers instead of all landing on whichever worker woke first.

use crate::common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens a keep-alive connection and has one request answered on it.
async fn answered_connection(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /api/products HTTP/1.1\r\nHost: shop.example\r\n\r\n")
        .await
        .expect("write");
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("answer in time")
            .expect("read");
        assert!(n > 0, "connection closed before an answer");
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_keep_alive_connections_is_spread_over_the_workers() {
    let h = Harness::with_config("workers = 3\n").await;
    let opened = futures_util::future::join_all((0..30).map(|_| answered_connection(h.addr))).await;
    let loads = h.gw.connections_per_worker();
    assert_eq!(loads.len(), 3);
    assert_eq!(loads.iter().sum::<usize>(), opened.len(), "{loads:?}");
    let (min, max) = (loads.iter().min(), loads.iter().max());
    assert!(
        max.zip(min).is_some_and(|(max, min)| max - min <= 2),
        "connections per worker {loads:?}"
    );
    // Closed connections are no longer counted against their worker.
    drop(opened);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.gw.connections_per_worker().iter().sum::<usize>() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            h.gw.connections_per_worker()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
