//! Engine time per request with CRS v4 at paranoia level 1.
//!
//! Run: `cargo bench -p palisade-waf --bench engine`
//! (needs ../shared/crs-v4.28.0; skips with a notice when it is absent).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use palisade_waf::{RequestInput, Waf, WafConfig};
use std::hint::black_box;
use std::path::Path;

fn crs() -> Option<Waf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs-v4.28.0");
    if !dir.is_dir() {
        eprintln!("skipping: {} not present", dir.display());
        return None;
    }
    Some(Waf::load(&WafConfig::crs(dir, 1)).expect("CRS loads"))
}

fn headers(request: RequestInput) -> RequestInput {
    request
        .header("Host", "api.example.com")
        .header(
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
        )
        .header("Accept", "application/json")
        .header("Accept-Language", "en-US,en;q=0.9")
        .header("Accept-Encoding", "gzip, deflate, br")
        .header(
            "Cookie",
            "session=4f1c2a9b8e7d6c5b4a39281706f5e4d3; theme=dark",
        )
}

/// A JSON document of roughly `target` bytes shaped like an API payload.
fn json_body(target: usize) -> Vec<u8> {
    let mut items = Vec::new();
    let mut size = 0;
    let mut n = 0;
    while size < target {
        let item = format!(
            r#"{{"id":{n},"name":"Widget number {n}","description":"A sturdy widget for everyday use, model {n}","price":{}.99,"tags":["tools","home","garden"],"in_stock":true}}"#,
            n * 3 + 7
        );
        size += item.len() + 1;
        items.push(item);
        n += 1;
    }
    format!(
        r#"{{"order":{{"customer":"alice@example.com","items":[{}]}}}}"#,
        items.join(",")
    )
    .into_bytes()
}

fn bench(c: &mut Criterion) {
    let Some(waf) = crs() else { return };
    let get = headers(RequestInput::new(
        "GET",
        "/api/v1/products?category=tools&sort=price&order=asc&page=2&limit=50",
    ));
    let post = headers(RequestInput::new("POST", "/api/v1/orders"))
        .header("Content-Type", "application/json");
    let small = json_body(1024);
    let large = json_body(16 * 1024);

    let mut group = c.benchmark_group("crs_pl1");
    group.throughput(Throughput::Elements(1));
    group.bench_function("get_5_params", |b| {
        b.iter(|| {
            let mut tx = waf.transaction();
            tx.process_request_headers(black_box(&get));
            tx.process_request_body(b"");
            black_box(tx.matched_rules().len())
        })
    });
    for (name, body) in [("json_post_1k", &small), ("json_post_16k", &large)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut tx = waf.transaction();
                tx.process_request_headers(black_box(&post));
                tx.process_request_body(black_box(body));
                black_box(tx.matched_rules().len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
