//! Throughput of the sans-IO framing core on typical traffic shapes.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use palisade_http1_framing::{FramingState, GuardLimits, Step};

/// Feeds `input` in reads of `read_size`, answering requests when the state waits.
fn run(input: &[u8], read_size: usize) -> usize {
    let mut state = FramingState::new(GuardLimits::default());
    let mut forwarded = 0;
    for read in input.chunks(read_size) {
        let mut rest = read;
        while !rest.is_empty() {
            match state.feed(rest) {
                Ok(Step::Forward(n)) => {
                    forwarded += n;
                    rest = &rest[n..];
                }
                Ok(Step::Held(n)) => rest = &rest[n..],
                Ok(Step::Release(n)) => {
                    forwarded += state.held().len();
                    rest = &rest[n..];
                }
                Ok(Step::AwaitResponses) => {
                    for _ in 0..state.unanswered_requests() {
                        state.observe_response(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                    }
                }
                Err(violation) => panic!("benchmark input rejected: {violation}"),
            }
        }
    }
    forwarded
}

fn typical_get() -> Vec<u8> {
    b"GET /api/v1/orders?customer=42&status=open&page=3 HTTP/1.1\r\nHost: shop.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n\
Accept: application/json\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n\
Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl\r\n\
Cookie: session=abcdef0123456789; theme=dark\r\nX-Request-Id: 6f1c2b7e-1a2b-4c3d-9e8f-001122334455\r\n\r\n"
        .to_vec()
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("framing");

    let heads: Vec<u8> = typical_get().repeat(100);
    group.throughput(Throughput::Bytes(heads.len() as u64));
    group.bench_function("100 pipelined GET heads, 4 KiB reads", |b| {
        b.iter(|| run(black_box(&heads), 4096))
    });

    let mut post = b"POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n".to_vec();
    post.extend(std::iter::repeat_n(b'x', 1 << 20));
    group.throughput(Throughput::Bytes(post.len() as u64));
    group.bench_function("1 MiB Content-Length body, 16 KiB reads", |b| {
        b.iter(|| run(black_box(&post), 16 * 1024))
    });

    let mut chunked =
        b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..128 {
        chunked.extend_from_slice(b"2000;ext=1\r\n");
        chunked.extend(std::iter::repeat_n(b'y', 0x2000));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    group.throughput(Throughput::Bytes(chunked.len() as u64));
    group.bench_function("1 MiB chunked body in 8 KiB chunks, 16 KiB reads", |b| {
        b.iter(|| run(black_box(&chunked), 16 * 1024))
    });
    group.finish();
}

criterion_group!(framing, benches);
criterion_main!(framing);
