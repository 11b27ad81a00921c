//! Feeds arbitrary client bytes, split into arbitrary reads, through the sans-IO HTTP/1 framing
//! state machine, interleaving server responses; checks that only input bytes are forwarded, in
//! order, and that nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_http1_framing::{FramingState, GuardLimits, Step};

const RESPONSES: [&[u8]; 3] = [
    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
];

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else {
        return;
    };
    let piece = usize::from(control & 0x3f) + 1;
    let response = RESPONSES[usize::from(control >> 6) % RESPONSES.len()];
    let limits = GuardLimits {
        max_head_bytes: 4096,
        max_headers: 32,
        max_uri_bytes: 1024,
    };
    let mut state = FramingState::new(limits);
    let mut forwarded: Vec<u8> = Vec::new();
    let mut offset = 0;
    let mut stalls = 0;
    while offset < input.len() {
        let end = (offset + piece).min(input.len());
        let chunk = &input[offset..end];
        match state.feed(chunk) {
            Ok(Step::Forward(n)) => {
                assert!(n <= chunk.len());
                forwarded.extend_from_slice(&chunk[..n]);
                offset += n;
                assert_eq!(forwarded.len(), offset);
            }
            Ok(Step::Held(n)) => {
                assert!(n <= chunk.len());
                offset += n;
            }
            Ok(Step::Release(n)) => {
                assert!(n <= chunk.len());
                offset += n;
                forwarded.extend_from_slice(state.held());
                assert_eq!(forwarded.len(), offset);
            }
            Ok(Step::AwaitResponses) => {
                state.observe_response(response);
                stalls += 1;
                if stalls > 64 {
                    break;
                }
            }
            Err(_) => {
                assert!(state.violation().is_some());
                break;
            }
        }
        assert!(
            input.starts_with(&forwarded),
            "forwarded bytes must be the input, in order"
        );
    }
    // The write side must cope with arbitrary bytes too.
    let mut responses = FramingState::new(limits);
    responses.observe_response(input);
});
