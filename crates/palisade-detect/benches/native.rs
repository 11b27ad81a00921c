//! Native detector throughput: a typical GET, a 1 KiB JSON body and the
//! side-by-side benchmark's 16 KiB product catalog.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use palisade_core::{Detector, Phase, RequestHead, Transaction};
use palisade_detect::NativeDetector;
use std::hint::black_box;

/// About 1 KiB of ordinary API JSON (`order.json`): names with apostrophes,
/// prose, numbers, ids, a URL, nested objects and arrays.
fn json_body() -> String {
    include_str!("order.json").to_string()
}

fn typical_get() -> RequestHead {
    let mut head = RequestHead::synthetic(
        http::Method::GET,
        "/api/v1/products/550e8400-e29b-41d4-a716-446655440000/reviews?page=2&per_page=20&sort=-created_at&q=%22red+shoes%22&lang=en-GB",
    );
    for (name, value) in [
        ("user-agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0 Safari/537.36"),
        ("accept", "application/json"),
        ("accept-language", "en-GB,en;q=0.9"),
        ("referer", "https://shop.example.com/products/42"),
        ("cookie", "sid=8f14e45fceea167a5a36dedd4bea2543; theme=dark; lang=en-GB"),
        ("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl"),
    ] {
        head.headers.append(
            http::HeaderName::from_static(name),
            http::HeaderValue::from_static(value),
        );
    }
    head
}

fn bench(c: &mut Criterion) {
    let detector = NativeDetector::default();
    let body = json_body();
    let catalog = include_str!("../../../bench/wrk/catalog-16k.json");
    let mut group = c.benchmark_group("native");
    for (name, doc) in [("json_body_1k", body.as_str()), ("json_body_16k", catalog)] {
        group.throughput(Throughput::Bytes(doc.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                black_box(detector.inspect_body(
                    Some("application/json"),
                    b"application/json",
                    black_box(doc.as_bytes()),
                ))
            })
        });
    }
    group.finish();
    let head = typical_get();
    c.bench_function("native/typical_get", |b| {
        b.iter(|| {
            let mut tx = Transaction::new(head.clone());
            detector.inspect(Phase::RequestHead, &mut tx);
            black_box(tx.findings.len())
        })
    });
    c.bench_function("detect_sqli/short", |b| {
        b.iter(|| {
            black_box(palisade_detect::sqli::detect_sqli(black_box(
                b"1' or '1'='1",
            )))
        })
    });
    c.bench_function("detect_xss/short", |b| {
        b.iter(|| {
            black_box(palisade_detect::xss::detect_xss(black_box(
                b"<p>Hello <b>world</b></p>",
            )))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
