//! Identity cost per request once a client's token is known: authenticating
//! a repeated RS256 bearer token (served by the verified-token cache) and
//! authorizing the request, with the configuration of the side-by-side
//! benchmark's identity runs (`bench/compare.sh`, `palisade-identity`).
//! Also the first, uncached verification, for comparison.

use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use palisade_auth::config::AuthConfig;
use palisade_auth::engine::AuthEngine;
use palisade_core::{RequestHead, Transaction};
use std::hint::black_box;
use std::path::Path;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/identity");

fn engine() -> AuthEngine {
    let config: AuthConfig = toml::from_str(
        r#"
default_access = "anonymous"

[[issuers]]
issuer = "https://issuer.example"
audiences = ["palisade-demo"]
algorithms = ["RS256"]
jwks_file = "jwks.json"

[[rules]]
path = "/api/**"
access = "authenticated"
"#,
    )
    .expect("config");
    AuthEngine::from_config(&config, Path::new(EXAMPLES)).expect("engine")
}

fn token(subject: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = serde_json::json!({
        "iss": "https://issuer.example", "aud": "palisade-demo", "sub": subject,
        "scope": "read", "iat": now, "nbf": now, "exp": now + 86_400,
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("palisade-demo-test-1".into());
    let pem = std::fs::read(format!("{EXAMPLES}/keys/test-signing-key.pem")).expect("key");
    let key = EncodingKey::from_rsa_pem(&pem).expect("RSA key");
    jsonwebtoken::encode(&header, &claims, &key).expect("token")
}

fn request(token: &str) -> RequestHead {
    let mut head = RequestHead::synthetic(
        http::Method::GET,
        "/api/products?q=desk&category=office&limit=20&page=2&sort=price",
    );
    head.headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    head
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let warm = engine();
    let head = request(&token("bench"));
    c.bench_function("identity/cached_rs256_token", |b| {
        b.iter(|| {
            let mut tx = Transaction::new(head.clone());
            runtime.block_on(warm.authenticate(&mut tx));
            warm.authorize(&mut tx);
            assert!(tx.principal.is_some());
            black_box(tx)
        })
    });
    c.bench_function("identity/first_rs256_verification", |b| {
        // A fresh engine per batch keeps every verification uncached.
        b.iter_batched(
            || (engine(), Transaction::new(head.clone())),
            |(engine, mut tx)| {
                runtime.block_on(engine.authenticate(&mut tx));
                black_box(tx)
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
