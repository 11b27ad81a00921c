//! Rate-limit cost per request in process: one GCRA step on a per-principal
//! limit that never refuses (the side-by-side benchmark's identity runs),
//! with the `RateLimit-*` response headers built from its outcome.

use criterion::{criterion_group, criterion_main, Criterion};
use palisade_core::{Principal, PrincipalKind, RequestHead, Transaction};
use palisade_ratelimit::{record_outcome, RateLimitConfig, RateLimiter};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let config: RateLimitConfig = toml::from_str(
        r#"
name = "bench-per-principal"
path = "/api/**"
key = ["principal"]
rate = 100000000
per = "second"
"#,
    )
    .expect("config");
    let limiter = RateLimiter::new(&[config], None).expect("limiter");
    let head = RequestHead::synthetic(
        http::Method::GET,
        "/api/products?q=desk&category=office&limit=20&page=2&sort=price",
    );
    let principal = Principal::new(PrincipalKind::Jwt, "bench");
    c.bench_function("ratelimit/local_step_and_headers", |b| {
        b.iter(|| {
            let mut tx = Transaction::new(head.clone());
            tx.principal = Some(principal.clone());
            let outcome = limiter.check_local(&tx.request, tx.principal.as_ref());
            let headers = outcome.headers();
            assert!(outcome.allowed);
            record_outcome(&mut tx, outcome);
            black_box((tx, headers))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
