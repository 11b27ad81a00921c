//! Fixed-iteration timing of the native detector on the benchmark's 1 KiB
//! JSON body, for measuring CPU time on a busy machine:
//! `cargo run --release --example bench_loop -- 200000`.

use palisade_detect::NativeDetector;
use std::hint::black_box;
use std::time::Instant;

const BODY: &str = include_str!("../benches/order.json");

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let detector = NativeDetector::default();
    let start = Instant::now();
    let mut findings = 0;
    for _ in 0..iterations {
        findings += black_box(detector.inspect_body(
            Some("application/json"),
            b"application/json",
            black_box(BODY.as_bytes()),
        ))
        .len();
    }
    let elapsed = start.elapsed();
    println!(
        "{} bytes, {iterations} iterations, {:.2} µs/iter (wall), {findings} findings",
        BODY.len(),
        elapsed.as_secs_f64() * 1e6 / f64::from(iterations)
    );
}
