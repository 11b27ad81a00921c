//! Per-request cost of the identity and rate-limit engines.
//!
//! ```text
//! cargo run --release -p palisade-ratelimit --example identity-bench [-- redis://127.0.0.1:6379]
//! ```
//!
//! Measures, on one core: JWT (RS256) verification plus authorization through
//! the detector (signature verified every time, and verified-token cache
//! hits); a local GCRA check; and, when a Redis URL is given, the
//! shared GCRA check (sequential latency and throughput with 64 requests in
//! flight).

use http::{HeaderValue, Method};
use palisade_auth::{AuthConfig, AuthEngine};
use palisade_core::{Detector, Phase, RequestHead, Transaction};
use palisade_ratelimit::{FailurePolicy, RateLimitConfig, RateLimiter, RedisConfig, SharedStore};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn example_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/identity")
}

fn token() -> String {
    let pem = std::fs::read(example_dir().join("keys/test-signing-key.pem")).expect("test key");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = serde_json::json!({
        "iss": "https://issuer.example", "aud": "palisade-demo", "sub": "bench",
        "scope": "admin orders:read", "iat": now, "exp": now + 3600
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("palisade-demo-test-1".into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(&pem).expect("key"),
    )
    .expect("sign")
}

fn report(name: &str, n: u32, elapsed: Duration) {
    let per = elapsed / n;
    println!(
        "{name:<44} {n:>8} ops  {:>9.2} µs/op  {:>10.0} ops/s",
        per.as_secs_f64() * 1e6,
        n as f64 / elapsed.as_secs_f64()
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    #[derive(serde::Deserialize)]
    struct Doc {
        auth: AuthConfig,
        rate_limits: Vec<RateLimitConfig>,
    }
    let text =
        std::fs::read_to_string(example_dir().join("palisade.toml")).expect("example config");
    let doc: Doc = toml::from_str(&text).expect("parse");
    let engine = AuthEngine::from_config(&doc.auth, &example_dir()).expect("engine");
    let bearer = HeaderValue::from_str(&format!("Bearer {}", token())).expect("header");
    let mut head = RequestHead::synthetic(Method::GET, "/api/admin/users");
    head.headers.insert("authorization", bearer);

    let mut uncached_config = doc.auth.clone();
    uncached_config.jwt_cache_entries = 0;
    let uncached = AuthEngine::from_config(&uncached_config, &example_dir()).expect("engine");
    let n = 5_000;
    let start = Instant::now();
    for _ in 0..n {
        let mut tx = Transaction::new(head.clone());
        uncached.inspect(Phase::RequestHead, &mut tx);
        assert!(tx.findings.is_empty());
    }
    report(
        "auth: RS256 verify + authorize (no cache)",
        n,
        start.elapsed(),
    );

    let n = 200_000;
    let start = Instant::now();
    for _ in 0..n {
        let mut tx = Transaction::new(head.clone());
        engine.inspect(Phase::RequestHead, &mut tx);
        assert!(tx.findings.is_empty());
    }
    report(
        "auth: RS256 JWT, verified-token cache hit",
        n,
        start.elapsed(),
    );

    let start = Instant::now();
    for _ in 0..n {
        let mut tx = Transaction::new(head.clone());
        std::hint::black_box(&mut tx);
    }
    report("baseline: transaction construction", n, start.elapsed());

    let local = RateLimiter::new(
        &[toml::from_str(
            "name = \"bench\"\nkey = [\"principal\"]\nrate = 1000000000\nper = \"second\"\n",
        )
        .expect("limit")],
        None,
    )
    .expect("limiter");
    let principal = palisade_core::Principal::new(palisade_core::PrincipalKind::Jwt, "bench");
    let n = 1_000_000;
    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(local.check_local(&head, Some(&principal)));
    }
    report("ratelimit: local GCRA check", n, start.elapsed());

    if let Some(url) = std::env::args().nth(1) {
        let store = Arc::new(
            SharedStore::new(RedisConfig {
                url,
                key_prefix: "bench:".into(),
                on_error: FailurePolicy::FailClosed,
                connect_timeout_ms: 500,
                response_timeout_ms: 500,
                retry_interval_ms: 1000,
            })
            .expect("redis url"),
        );
        let shared = Arc::new(
            RateLimiter::new(&doc.rate_limits, Some(store))
                .expect("limiter")
                .with_ipv6_prefix(64),
        );
        let mut limited = RequestHead::synthetic(Method::GET, "/api/limited");
        limited.headers = head.headers.clone();
        let n = 5_000;
        let start = Instant::now();
        for i in 0..n {
            let p = palisade_core::Principal::new(
                palisade_core::PrincipalKind::Jwt,
                format!("user-{}", i % 1000),
            );
            let o = shared.check(&limited, Some(&p)).await;
            assert_eq!(
                o.status.map(|s| s.backend),
                Some(palisade_ratelimit::Backend::Redis)
            );
        }
        report("ratelimit: Redis GCRA, sequential", n, start.elapsed());
        let n = 50_000u32;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for t in 0..64u32 {
            let shared = Arc::clone(&shared);
            let limited = limited.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..n / 64 {
                    let p = palisade_core::Principal::new(
                        palisade_core::PrincipalKind::Jwt,
                        format!("u-{t}-{}", i % 100),
                    );
                    std::hint::black_box(shared.check(&limited, Some(&p)).await);
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        report(
            "ratelimit: Redis GCRA, 64 in flight",
            n / 64 * 64,
            start.elapsed(),
        );
    }
}
