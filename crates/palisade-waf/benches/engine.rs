//! Engine time per request with CRS v4 at paranoia level 1.
//!
//! Run: `cargo bench -p palisade-waf --bench engine`
//! (needs ../shared/crs-v4.28.0; skips with a notice when it is absent).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use palisade_waf::{Waf, WafConfig};
use std::hint::black_box;
use std::path::Path;

#[path = "support/requests.rs"]
mod requests;
use requests::{get_5_params, json_body, json_post};

fn crs() -> Option<Waf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs-v4.28.0");
    if !dir.is_dir() {
        eprintln!("skipping: {} not present", dir.display());
        return None;
    }
    Some(Waf::load(&WafConfig::crs(dir, 1)).expect("CRS loads"))
}

fn bench(c: &mut Criterion) {
    let Some(waf) = crs() else { return };
    let get = get_5_params();
    let post = json_post();
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
