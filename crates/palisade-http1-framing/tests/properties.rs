//! Property tests: the guard frames valid pipelines exactly like an independent reader, its
//! result does not depend on how the stream is split into reads, and no input makes it panic.

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use palisade_http1_framing::{FramingState, GuardLimits, Http1Guard, Step, Violation};
use proptest::prelude::*;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Debug, Clone)]
struct Chunk {
    data: Vec<u8>,
    extension: String,
    zero_padding: usize,
    uppercase: bool,
}

#[derive(Debug, Clone)]
enum Body {
    Empty,
    Length(Vec<u8>),
    Chunked {
        chunks: Vec<Chunk>,
        trailers: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone)]
struct Req {
    leading_empty_lines: usize,
    method: &'static str,
    target: String,
    http10: bool,
    fields: Vec<(String, String)>,
    body: Body,
}

impl Req {
    fn encode(&self, out: &mut Vec<u8>) {
        for _ in 0..self.leading_empty_lines {
            out.extend_from_slice(b"\r\n");
        }
        let version = if self.http10 { "HTTP/1.0" } else { "HTTP/1.1" };
        out.extend_from_slice(
            format!(
                "{} {} {version}\r\nHost: example.test\r\n",
                self.method, self.target
            )
            .as_bytes(),
        );
        for (name, value) in &self.fields {
            out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        }
        match &self.body {
            Body::Empty => out.extend_from_slice(b"\r\n"),
            Body::Length(data) => {
                out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", data.len()).as_bytes());
                out.extend_from_slice(data);
            }
            Body::Chunked { chunks, trailers } => {
                out.extend_from_slice(b"transfer-encoding: Chunked\r\n\r\n");
                for chunk in chunks {
                    let size = if chunk.uppercase {
                        format!("{:X}", chunk.data.len())
                    } else {
                        format!("{:x}", chunk.data.len())
                    };
                    out.extend_from_slice(
                        format!(
                            "{}{size}{}\r\n",
                            "0".repeat(chunk.zero_padding),
                            chunk.extension
                        )
                        .as_bytes(),
                    );
                    out.extend_from_slice(&chunk.data);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n");
                for (name, value) in trailers {
                    out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
                }
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

fn field_name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,12}".prop_filter("not a framing field", |name| {
        let lower = name.to_ascii_lowercase().replace('_', "-");
        ![
            "content-length",
            "transfer-encoding",
            "host",
            "upgrade",
            "expect",
        ]
        .contains(&lower.as_str())
    })
}

fn chunk() -> impl Strategy<Value = Chunk> {
    (
        prop::collection::vec(any::<u8>(), 1..40),
        "(;[a-z]{1,4}(=[A-Za-z0-9!#.~]{1,4})?){0,2}",
        0..3usize,
        any::<bool>(),
    )
        .prop_map(|(data, extension, zero_padding, uppercase)| Chunk {
            data,
            extension,
            zero_padding,
            uppercase,
        })
}

fn body(http10: bool) -> BoxedStrategy<Body> {
    let length = prop::collection::vec(any::<u8>(), 0..200).prop_map(Body::Length);
    if http10 {
        return prop_oneof![Just(Body::Empty), length].boxed();
    }
    let chunked = (
        prop::collection::vec(chunk(), 0..5),
        prop::collection::vec(("X-[A-Za-z]{1,8}", "[ -~]{0,10}"), 0..3),
    )
        .prop_map(|(chunks, trailers)| Body::Chunked { chunks, trailers });
    prop_oneof![Just(Body::Empty), length, chunked].boxed()
}

fn request() -> impl Strategy<Value = Req> {
    (
        0..2usize,
        prop::sample::select(vec![
            "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "X-Custom",
        ]),
        "/[A-Za-z0-9/._~%?=&-]{0,30}",
        prop::bool::weighted(0.2),
        prop::collection::vec((field_name(), "[\t -~]{0,20}"), 0..5),
    )
        .prop_flat_map(|(leading_empty_lines, method, target, http10, fields)| {
            body(http10).prop_map(move |body| Req {
                leading_empty_lines,
                method,
                target: target.clone(),
                http10,
                fields: fields.clone(),
                body,
            })
        })
}

fn pipeline() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(request(), 1..6).prop_map(|requests| {
        let mut out = Vec::new();
        for request in &requests {
            request.encode(&mut out);
        }
        out
    })
}

/// An independent reading of a valid pipeline: the offsets where each head ends, using httparse
/// for heads and its chunk-size parser for chunked bodies.
fn reference_head_ends(mut input: &[u8]) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut offset = 0;
    while !input.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        let Ok(httparse::Status::Complete(head_len)) = request.parse(input) else {
            panic!(
                "reference could not parse {:?}",
                String::from_utf8_lossy(input)
            );
        };
        ends.push(offset + head_len);
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value)
        };
        let body_len = if header("transfer-encoding").is_some() {
            chunked_len(&input[head_len..])
        } else {
            header("content-length")
                .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse().ok())
                .unwrap_or(0)
        };
        let consumed = head_len + body_len;
        offset += consumed;
        input = &input[consumed..];
    }
    ends
}

fn chunked_len(body: &[u8]) -> usize {
    let mut position = 0;
    loop {
        let Ok(httparse::Status::Complete((line, size))) =
            httparse::parse_chunk_size(&body[position..])
        else {
            panic!("reference chunk size");
        };
        position += line;
        if size == 0 {
            break;
        }
        position += size as usize + 2;
    }
    loop {
        let line_end = body[position..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("trailer line");
        position += line_end + 2;
        if line_end == 0 {
            return position;
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    forwarded: Vec<u8>,
    head_ends: Vec<usize>,
    violation: Option<Violation>,
}

/// Feeds `input` in pieces of the given sizes (cycled), answering every request with an empty 200
/// whenever the state waits for responses.
fn drive(input: &[u8], piece_sizes: &[usize]) -> Outcome {
    let mut state = FramingState::new(GuardLimits::default());
    let mut outcome = Outcome {
        forwarded: Vec::new(),
        head_ends: Vec::new(),
        violation: None,
    };
    let mut offset = 0;
    let mut sizes = piece_sizes.iter().copied().cycle();
    while offset < input.len() {
        let size = sizes.next().unwrap_or(input.len()).max(1);
        let end = (offset + size).min(input.len());
        while offset < end {
            let piece = &input[offset..end];
            match state.feed(piece) {
                Ok(Step::Forward(n)) => {
                    outcome.forwarded.extend_from_slice(&piece[..n]);
                    offset += n;
                }
                Ok(Step::Held(n)) => offset += n,
                Ok(Step::Release(n)) => {
                    offset += n;
                    outcome.forwarded.extend_from_slice(state.held());
                    outcome.head_ends.push(offset);
                }
                Ok(Step::AwaitResponses) => {
                    for _ in 0..state.unanswered_requests().max(1) {
                        state.observe_response(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                    }
                    if state.awaiting_responses() {
                        return outcome;
                    }
                }
                Err(violation) => {
                    outcome.violation = Some(violation);
                    return outcome;
                }
            }
        }
    }
    outcome
}

/// A client connection that delivers its bytes in scripted read sizes and swallows writes.
struct ScriptedIo {
    data: Vec<u8>,
    position: usize,
    read_sizes: Vec<usize>,
    reads: usize,
}

impl AsyncRead for ScriptedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let size = self
            .read_sizes
            .get(self.reads % self.read_sizes.len().max(1))
            .copied()
            .unwrap_or(usize::MAX)
            .max(1);
        self.reads += 1;
        let end = (self.position + size.min(buf.remaining())).min(self.data.len());
        let start = self.position;
        buf.put_slice(&self.data[start..end]);
        self.position = end;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ScriptedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Reads everything the guard hands over, with the given read-buffer sizes, until EOF, an error,
/// or a wait for responses that this harness never writes.
fn read_through_guard(input: &[u8], io_sizes: &[usize], buffer_sizes: &[usize]) -> (Vec<u8>, bool) {
    let io = ScriptedIo {
        data: input.to_vec(),
        position: 0,
        read_sizes: io_sizes.to_vec(),
        reads: 0,
    };
    let (mut guard, _handle) = Http1Guard::new(io, GuardLimits::default());
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    let mut storage = vec![0u8; 4096];
    for read in 0.. {
        let size = buffer_sizes
            .get(read % buffer_sizes.len().max(1))
            .copied()
            .unwrap_or(4096)
            .clamp(1, 4096);
        let mut buf = ReadBuf::new(&mut storage[..size]);
        match Pin::new(&mut guard).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => return (out, false),
            Poll::Ready(Ok(())) => out.extend_from_slice(buf.filled()),
            Poll::Ready(Err(_)) => return (out, true),
            Poll::Pending => return (out, false),
        }
    }
    (out, false)
}

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1..70usize, 1..12)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn valid_pipelines_pass_unchanged_and_framed_like_the_reference(input in pipeline(), cuts in sizes()) {
        let outcome = drive(&input, &cuts);
        prop_assert_eq!(outcome.violation, None);
        prop_assert_eq!(&outcome.forwarded, &input);
        prop_assert_eq!(outcome.head_ends, reference_head_ends(&input));
    }

    #[test]
    fn guard_reads_match_the_state_machine(input in pipeline(), io_sizes in sizes(), buffer_sizes in sizes()) {
        let (read, failed) = read_through_guard(&input, &io_sizes, &buffer_sizes);
        prop_assert!(!failed);
        prop_assert_eq!(read, input);
    }

    #[test]
    fn mutated_pipelines_give_the_same_outcome_in_any_split(
        input in pipeline(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cuts_a in sizes(),
        cuts_b in sizes(),
        buffer_sizes in sizes(),
    ) {
        let mut input = input;
        for (index, byte) in flips {
            let at = index.index(input.len());
            input[at] = byte;
        }
        let a = drive(&input, &cuts_a);
        let b = drive(&input, &cuts_b);
        prop_assert_eq!(&a, &b);
        prop_assert!(input.starts_with(&a.forwarded));
        let (read, _) = read_through_guard(&input, &cuts_a, &buffer_sizes);
        // The guard stops where the state machine stops, except that it never reports a wait the
        // harness cannot answer: its output is a prefix of the state machine's.
        prop_assert!(a.forwarded.starts_with(&read));
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..600), cuts in sizes()) {
        let outcome = drive(&input, &cuts);
        prop_assert!(input.starts_with(&outcome.forwarded));
        let mut state = FramingState::new(GuardLimits::default());
        state.observe_response(&input);
    }
}
