//! Follows the responses hyper writes so the guard knows which request each one answers.
//!
//! The input is hyper's own output, so this reader is tolerant rather than strict: it only needs
//! status codes and where each response ends.

/// A response head seen on the write side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub(crate) status: u16,
    pub(crate) content_length: Option<u64>,
    pub(crate) chunked: bool,
}

/// How the body of the response whose head was just reported is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseBody {
    None,
    Length(u64),
    Chunked,
    /// Until the connection closes (or the connection left HTTP/1 altogether).
    UntilClose,
}

const LINE_KEEP: usize = 64;

#[derive(Debug, Clone, Copy)]
enum ChunkPhase {
    Size { value: u64, in_extension: bool },
    Data { remaining: u64 },
    DataEnd,
    Trailer { line_empty: bool },
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Head,
    Body(ResponseBody),
    Chunked(ChunkPhase),
}

#[derive(Debug)]
pub(crate) struct ResponseTracker {
    phase: Phase,
    line: [u8; LINE_KEEP],
    line_len: usize,
    head_started: bool,
    first_line_done: bool,
    head: ResponseHead,
}

impl Default for ResponseTracker {
    fn default() -> Self {
        Self {
            phase: Phase::Head,
            line: [0; LINE_KEEP],
            line_len: 0,
            head_started: false,
            first_line_done: false,
            head: ResponseHead {
                status: 0,
                content_length: None,
                chunked: false,
            },
        }
    }
}

impl ResponseTracker {
    /// True between responses: nothing of a response has been written yet.
    pub(crate) fn at_boundary(&self) -> bool {
        matches!(self.phase, Phase::Head) && !self.head_started
    }

    /// Consumes bytes until a response head completes; returns the bytes consumed and that head.
    /// The caller must then call [`ResponseTracker::start_body`].
    pub(crate) fn advance(&mut self, bytes: &[u8]) -> (usize, Option<ResponseHead>) {
        let mut index = 0;
        while let Some(&byte) = bytes.get(index) {
            match self.phase {
                Phase::Head => {
                    // A line at a time: heads are hyper's own, well-formed
                    // output, and searching for the line end is far cheaper
                    // than stepping through every byte.
                    self.head_started = true;
                    let rest = bytes.get(index..).unwrap_or_default();
                    match memchr::memchr(b'\n', rest) {
                        Some(end) => {
                            let tail = rest.get(..end).unwrap_or_default();
                            index += end + 1;
                            // A line written whole is read where it lies;
                            // only one split across writes is gathered.
                            let ended = if self.line_len == 0 {
                                self.end_line(tail, false)
                            } else {
                                self.keep_line_bytes(tail);
                                let kept = self.line_len.min(LINE_KEEP);
                                let overflowed = self.line_len > LINE_KEEP;
                                self.line_len = 0;
                                let line = self.line;
                                self.end_line(line.get(..kept).unwrap_or_default(), overflowed)
                            };
                            if let Some(head) = ended {
                                return (index, Some(head));
                            }
                        }
                        None => {
                            self.keep_line_bytes(rest);
                            index = bytes.len();
                        }
                    }
                }
                Phase::Body(ResponseBody::None) => self.phase = Phase::Head,
                Phase::Body(ResponseBody::UntilClose) => return (bytes.len(), None),
                Phase::Body(ResponseBody::Length(remaining)) => {
                    let available = bytes.len() - index;
                    let take = usize::try_from(remaining).map_or(available, |r| r.min(available));
                    index += take;
                    let remaining = remaining - take as u64;
                    self.phase = if remaining == 0 {
                        Phase::Head
                    } else {
                        Phase::Body(ResponseBody::Length(remaining))
                    };
                }
                Phase::Body(ResponseBody::Chunked) => {
                    self.phase = Phase::Chunked(ChunkPhase::Size {
                        value: 0,
                        in_extension: false,
                    })
                }
                Phase::Chunked(ChunkPhase::Data { remaining }) => {
                    let available = bytes.len() - index;
                    let take = usize::try_from(remaining).map_or(available, |r| r.min(available));
                    index += take;
                    let remaining = remaining - take as u64;
                    self.phase = Phase::Chunked(if remaining == 0 {
                        ChunkPhase::DataEnd
                    } else {
                        ChunkPhase::Data { remaining }
                    });
                }
                Phase::Chunked(chunk) => {
                    index += 1;
                    self.phase = chunk_byte(chunk, byte);
                }
            }
        }
        if let Phase::Body(ResponseBody::None) = self.phase {
            self.phase = Phase::Head;
        }
        (index, None)
    }

    pub(crate) fn start_body(&mut self, body: ResponseBody) {
        self.phase = match body {
            ResponseBody::None | ResponseBody::Length(0) => Phase::Head,
            other => Phase::Body(other),
        };
    }

    /// Adds bytes of the current head line (no line end among them); only
    /// the first `LINE_KEEP` are kept, the length counts them all.
    fn keep_line_bytes(&mut self, part: &[u8]) {
        let start = self.line_len.min(LINE_KEEP);
        let take = part.len().min(LINE_KEEP - start);
        if let (Some(slots), Some(kept)) =
            (self.line.get_mut(start..start + take), part.get(..take))
        {
            slots.copy_from_slice(kept);
        }
        self.line_len = self.line_len.saturating_add(part.len());
    }

    /// The head line just ended: the status line, a header, or the end of
    /// the head. `overflowed`: only its first `LINE_KEEP` bytes are in `line`.
    fn end_line(&mut self, mut line: &[u8], overflowed: bool) -> Option<ResponseHead> {
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if !self.first_line_done {
            self.first_line_done = true;
            self.head = ResponseHead {
                status: parse_status(line),
                content_length: None,
                chunked: false,
            };
            return None;
        }
        if line.is_empty() && !overflowed {
            self.first_line_done = false;
            self.head_started = false;
            return Some(self.head);
        }
        // A header name never holds a colon or a space (hyper writes only
        // valid names), so the two that delimit a body are recognised by
        // their length and spelling, without searching the line.
        if let Some(value) = header_value(line, b"content-length") {
            self.head.content_length = std::str::from_utf8(value.trim_ascii())
                .ok()
                .and_then(|v| v.parse().ok());
        } else if let Some(value) = header_value(line, b"transfer-encoding") {
            let last = value
                .rsplit(|&b| b == b',')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            self.head.chunked = last.eq_ignore_ascii_case(b"chunked");
        }
        None
    }
}

/// The value of header line `line` when its name is `name` (any case).
fn header_value<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    match line.split_at_checked(name.len()) {
        Some((found, [b':', value @ ..])) if found.eq_ignore_ascii_case(name) => Some(value),
        _ => None,
    }
}

fn parse_status(line: &[u8]) -> u16 {
    let digits = line.get(9..12).unwrap_or_default();
    if digits.len() == 3 && digits.iter().all(u8::is_ascii_digit) {
        digits
            .iter()
            .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'))
    } else {
        0
    }
}

fn chunk_byte(chunk: ChunkPhase, byte: u8) -> Phase {
    let next = match chunk {
        ChunkPhase::Size {
            value,
            in_extension,
        } => match byte {
            b'\n' if value == 0 => ChunkPhase::Trailer { line_empty: true },
            b'\n' => ChunkPhase::Data { remaining: value },
            b';' => ChunkPhase::Size {
                value,
                in_extension: true,
            },
            _ if in_extension => chunk,
            _ => match (byte as char).to_digit(16) {
                Some(d) => ChunkPhase::Size {
                    value: value.saturating_mul(16).saturating_add(u64::from(d)),
                    in_extension,
                },
                None => chunk,
            },
        },
        ChunkPhase::DataEnd => match byte {
            b'\n' => ChunkPhase::Size {
                value: 0,
                in_extension: false,
            },
            _ => ChunkPhase::DataEnd,
        },
        ChunkPhase::Trailer { line_empty } => match byte {
            b'\n' if line_empty => return Phase::Head,
            b'\n' => ChunkPhase::Trailer { line_empty: true },
            b'\r' => ChunkPhase::Trailer { line_empty },
            _ => ChunkPhase::Trailer { line_empty: false },
        },
        ChunkPhase::Data { .. } => chunk,
    };
    Phase::Chunked(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heads(
        tracker: &mut ResponseTracker,
        mut bytes: &[u8],
        body_for: impl Fn(ResponseHead) -> ResponseBody,
    ) -> Vec<u16> {
        let mut statuses = Vec::new();
        while !bytes.is_empty() {
            let (used, head) = tracker.advance(bytes);
            bytes = &bytes[used..];
            if let Some(head) = head {
                statuses.push(head.status);
                tracker.start_body(body_for(head));
            }
        }
        statuses
    }

    fn default_body(head: ResponseHead) -> ResponseBody {
        if (100..200).contains(&head.status) || head.status == 204 || head.status == 304 {
            ResponseBody::None
        } else if head.chunked {
            ResponseBody::Chunked
        } else if let Some(length) = head.content_length {
            ResponseBody::Length(length)
        } else {
            ResponseBody::UntilClose
        }
    }

    #[test]
    fn follows_pipelined_responses_byte_by_byte() {
        let stream: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello\
HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nt: v\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\
HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n";
        let mut whole = ResponseTracker::default();
        assert_eq!(
            heads(&mut whole, stream, default_body),
            vec![100, 200, 200, 204, 101]
        );
        let mut split = ResponseTracker::default();
        let mut statuses = Vec::new();
        for byte in stream.chunks(1) {
            statuses.extend(heads(&mut split, byte, default_body));
        }
        assert_eq!(statuses, vec![100, 200, 200, 204, 101]);
        assert!(split.at_boundary());
    }

    proptest::proptest! {
        /// However hyper's output is cut into writes, the same responses are
        /// seen, long header lines included.
        #[test]
        fn any_split_of_the_stream_gives_the_same_responses(
            filler in proptest::collection::vec(0usize..150, 1..6),
            cuts in proptest::collection::vec(1usize..40, 1..40),
        ) {
            let mut stream = Vec::new();
            let mut expected = Vec::new();
            for (n, width) in filler.iter().enumerate() {
                // Statuses that carry a body (not 1xx, 204 or 304).
                let status = 400 + n as u16;
                stream.extend_from_slice(
                    format!("HTTP/1.1 {status} OK\r\nx-filler: {}\r\ncontent-length: 3\r\n\r\nabc", "f".repeat(*width))
                        .as_bytes(),
                );
                expected.push(status);
            }
            let mut whole = ResponseTracker::default();
            proptest::prop_assert_eq!(heads(&mut whole, &stream, default_body), expected.clone());
            let mut split = ResponseTracker::default();
            let mut statuses = Vec::new();
            let mut rest = stream.as_slice();
            for cut in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (piece, tail) = rest.split_at((*cut).min(rest.len()));
                statuses.extend(heads(&mut split, piece, default_body));
                rest = tail;
            }
            proptest::prop_assert_eq!(statuses, expected);
            proptest::prop_assert!(split.at_boundary());
        }
    }

    #[test]
    fn head_response_has_no_body() {
        let mut tracker = ResponseTracker::default();
        let stream = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            heads(&mut tracker, stream, |_| ResponseBody::None),
            vec![200, 404]
        );
    }
}
