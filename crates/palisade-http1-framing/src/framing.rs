//! The sans-IO framing state machine.

use std::collections::VecDeque;

use crate::head::{
    is_field_value_byte, is_framing_field, is_tchar, BodyFraming, HeadFacts, RequestKind,
};
use crate::response::{ResponseBody, ResponseTracker};
use crate::{GuardLimits, Violation};

/// The HTTP/2 connection preface (RFC 9113 §3.4).
pub const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Requests handed over but not yet answered beyond which reads pause until responses catch up.
pub const MAX_PIPELINED_REQUESTS: usize = 16;

/// Longest chunk-size line (size and extensions) accepted.
pub const MAX_CHUNK_LINE_BYTES: usize = 4096;

const MAX_CHUNK_SIZE_DIGITS: u8 = 16;
const TRAILER_NAME_KEEP: usize = 20;
/// Head buffer capacity kept between requests; larger buffers are freed so idle connections stay
/// small. A head carrying a bearer token or a few cookies is one to two KiB: such a client's
/// requests then reuse the buffer instead of growing a new one each time.
const HEAD_BUFFER_KEEP_CAPACITY: usize = 2048;
/// First allocation of the head buffer: a request line and a handful of headers.
const HEAD_BUFFER_FIRST_CAPACITY: usize = 512;

/// What [`FramingState::feed`] did with the start of its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The first `n` input bytes are validated body (or pass-through) bytes: forward them unchanged.
    Forward(usize),
    /// The first `n` input bytes were taken into the head buffer; the head is not complete yet.
    Held(usize),
    /// The first `n` input bytes completed the held bytes, which are now validated: forward
    /// [`FramingState::held`] entirely before feeding anything else.
    Release(usize),
    /// Nothing consumed: the state waits for responses to be written (an upgrade or CONNECT
    /// request awaits its answer, or too many requests are unanswered). Feed
    /// [`FramingState::observe_response`] with what the server writes, then retry.
    AwaitResponses,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Body { remaining: u64 },
    Chunked(Chunk),
    AwaitResponse { seq: u64 },
    PassThrough,
    Failed { violation: Violation, in_body: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size {
        value: u64,
        digits: u8,
        line: usize,
    },
    ExtensionName {
        value: u64,
        started: bool,
        line: usize,
    },
    ExtensionValueStart {
        value: u64,
        line: usize,
    },
    ExtensionValue {
        value: u64,
        line: usize,
    },
    SizeLf {
        value: u64,
    },
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    TrailerLineStart {
        total: usize,
        fields: usize,
    },
    TrailerName {
        total: usize,
        fields: usize,
        name: [u8; TRAILER_NAME_KEEP],
        len: usize,
    },
    TrailerValue {
        total: usize,
        fields: usize,
    },
    TrailerValueLf {
        total: usize,
        fields: usize,
    },
    EndLf,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    seq: u64,
    kind: RequestKind,
    is_head_method: bool,
}

/// Incremental scan of one request head: line endings are checked as bytes arrive, each line is
/// validated as soon as it ends.
#[derive(Debug, Default)]
struct HeadScan {
    buf: Vec<u8>,
    line_start: usize,
    after_cr: bool,
    request_line_done: bool,
    first_space: Option<usize>,
    facts: HeadFacts,
    complete: bool,
}

impl HeadScan {
    fn reset(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if buf.capacity() > HEAD_BUFFER_KEEP_CAPACITY {
            buf = Vec::new();
        }
        *self = HeadScan {
            buf,
            ..HeadScan::default()
        };
    }

    /// Appends bytes up to and including the end of the head; returns how many were consumed and
    /// whether the head is complete.
    fn scan(&mut self, input: &[u8], limits: &GuardLimits) -> Result<(usize, bool), Violation> {
        let mut index = 0;
        while index < input.len() {
            if self.after_cr {
                if input.get(index) != Some(&b'\n') {
                    return Err(Violation::BareCr);
                }
                self.append(b"\n", limits)?;
                index += 1;
                self.after_cr = false;
                if self.end_line(limits)? {
                    return Ok((index, true));
                }
                continue;
            }
            let rest = input.get(index..).unwrap_or_default();
            let segment_len = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
            let (segment, terminator) = rest.split_at(segment_len);
            self.append(segment, limits)?;
            index += segment_len;
            match terminator.first() {
                None => break,
                Some(b'\n') => return Err(Violation::BareLf),
                Some(_) => {
                    self.append(b"\r", limits)?;
                    self.after_cr = true;
                    index += 1;
                }
            }
        }
        Ok((index, false))
    }

    fn append(&mut self, bytes: &[u8], limits: &GuardLimits) -> Result<(), Violation> {
        if !self.request_line_done {
            self.check_target_so_far(bytes, limits)?;
        }
        if self.buf.len() + bytes.len() > limits.max_head_bytes {
            return Err(Violation::HeadTooLarge);
        }
        if self.buf.capacity() == 0 {
            self.buf
                .reserve(HEAD_BUFFER_FIRST_CAPACITY.max(bytes.len()));
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// Reports an over-long target before the request line ends, so a huge URI is a 414 rather
    /// than a 431 or a wait for the head limit.
    fn check_target_so_far(&mut self, bytes: &[u8], limits: &GuardLimits) -> Result<(), Violation> {
        if self.first_space.is_none() {
            if let Some(space) = memchr::memchr(b' ', bytes) {
                self.first_space = Some(self.buf.len() + space);
            }
        }
        if let Some(space) = self.first_space {
            let after_space = (self.buf.len() + bytes.len()).saturating_sub(space + 1);
            if after_space > limits.max_uri_bytes.saturating_add(b" HTTP/1.1\r".len()) {
                return Err(Violation::UriTooLong);
            }
        }
        Ok(())
    }

    /// Called once CRLF was appended; returns whether the head is complete.
    fn end_line(&mut self, limits: &GuardLimits) -> Result<bool, Violation> {
        let line_end = self.buf.len().saturating_sub(2);
        let line = self.buf.get(self.line_start..line_end).unwrap_or_default();
        let head_done = if !self.request_line_done {
            if !line.is_empty() {
                self.facts.request_line(line, limits)?;
                self.request_line_done = true;
            } else {
                // Leading empty lines before a request line are tolerated (RFC 9112 §2.2).
                self.first_space = None;
            }
            false
        } else if line.is_empty() {
            true
        } else {
            self.facts.field_line(line, limits)?;
            false
        };
        self.line_start = self.buf.len();
        self.complete = head_done;
        Ok(head_done)
    }
}

/// Sans-IO HTTP/1 request-framing state for one connection.
///
/// Drive it with [`FramingState::feed`] on bytes read from the client and
/// [`FramingState::observe_response`] on bytes written to it. Bytes reach the server only as
/// [`Step::Forward`] input or as [`FramingState::held`] after [`Step::Release`], so a rejected head
/// is never seen by the server.
#[derive(Debug)]
pub struct FramingState {
    limits: GuardLimits,
    phase: Phase,
    head: HeadScan,
    connection_start: bool,
    preface_match: bool,
    pending: VecDeque<Pending>,
    next_seq: u64,
    current: Option<Pending>,
    responses: ResponseTracker,
    responses_pass_through: bool,
    answered_upgrade: Option<(u64, bool)>,
}

impl FramingState {
    /// A state for a new client connection, expecting HTTP/1 or the HTTP/2 preface.
    pub fn new(limits: GuardLimits) -> Self {
        Self {
            limits,
            phase: Phase::Head,
            head: HeadScan::default(),
            connection_start: true,
            preface_match: true,
            pending: VecDeque::new(),
            next_seq: 0,
            current: None,
            responses: ResponseTracker::default(),
            responses_pass_through: false,
            answered_upgrade: None,
        }
    }

    /// A state that forwards everything unchecked (the connection negotiated HTTP/2 via ALPN).
    pub fn pass_through() -> Self {
        let mut state = Self::new(GuardLimits::default());
        state.phase = Phase::PassThrough;
        state.responses_pass_through = true;
        state
    }

    /// The violation that stopped the stream, if any.
    pub fn violation(&self) -> Option<Violation> {
        match self.phase {
            Phase::Failed { violation, .. } => Some(violation),
            _ => None,
        }
    }

    /// True when the violation was found inside a message body, i.e. after part of that request
    /// was already forwarded.
    pub fn violation_in_body(&self) -> bool {
        matches!(self.phase, Phase::Failed { in_body: true, .. })
    }

    /// True once the connection left HTTP/1 (HTTP/2 preface, ALPN h2, or an accepted upgrade).
    pub fn is_pass_through(&self) -> bool {
        self.phase == Phase::PassThrough
    }

    /// True when nothing of a response is partially written.
    pub fn responses_at_boundary(&self) -> bool {
        self.responses_pass_through || self.responses.at_boundary()
    }

    /// Requests forwarded whose final response has not started yet.
    pub fn unanswered_requests(&self) -> usize {
        self.pending.len()
    }

    /// The validated head bytes after [`Step::Release`]; valid until the next `feed`.
    pub fn held(&self) -> &[u8] {
        &self.head.buf
    }

    /// True while reads must wait for the server's responses: `feed` would return
    /// [`Step::AwaitResponses`], or a head was rejected and answers to earlier requests are still
    /// owed (hyper treats EOF on a busy connection as an abort and would drop them).
    pub fn awaiting_responses(&self) -> bool {
        match self.phase {
            Phase::AwaitResponse { .. } => true,
            Phase::Head => self.head_start() && self.pending.len() >= MAX_PIPELINED_REQUESTS,
            Phase::Failed { in_body: false, .. } => self.responses_outstanding(),
            _ => false,
        }
    }

    /// True while a forwarded request has no response yet or a response is partly written.
    pub fn responses_outstanding(&self) -> bool {
        !self.responses_pass_through && (!self.pending.is_empty() || !self.responses.at_boundary())
    }

    fn head_start(&self) -> bool {
        self.head.complete || self.head.buf.is_empty()
    }

    /// Consumes a prefix of `input` (bytes from the client) and says what to do with it.
    ///
    /// Body violations are reported at the offending byte: the valid bytes before it come back as
    /// [`Step::Forward`] first and the next call returns the error. After an error every call
    /// returns the same error.
    pub fn feed(&mut self, input: &[u8]) -> Result<Step, Violation> {
        let result = match self.phase {
            Phase::Failed { violation, .. } => return Err(violation),
            Phase::PassThrough => return Ok(Step::Forward(input.len())),
            Phase::AwaitResponse { .. } => return Ok(Step::AwaitResponses),
            Phase::Head => self.feed_head(input),
            Phase::Body { remaining } => Ok(self.feed_fixed(input, remaining)),
            Phase::Chunked(chunk) => self.feed_chunked(input, chunk),
        };
        if let Err(violation) = result {
            let in_body = !matches!(self.phase, Phase::Head);
            self.phase = Phase::Failed { violation, in_body };
        }
        result
    }

    fn feed_head(&mut self, input: &[u8]) -> Result<Step, Violation> {
        if self.head.complete {
            self.head.reset();
        }
        if self.head.buf.is_empty() && self.pending.len() >= MAX_PIPELINED_REQUESTS {
            return Ok(Step::AwaitResponses);
        }
        if self.connection_start && self.preface_match {
            if let Some(step) = self.match_preface(input)? {
                return Ok(step);
            }
        }
        let (consumed, complete) = self.head.scan(input, &self.limits)?;
        if !complete {
            return Ok(Step::Held(consumed));
        }
        self.connection_start = false;
        let summary = self.head.facts.finish()?;
        let request = Pending {
            seq: self.next_seq,
            kind: summary.kind,
            is_head_method: summary.is_head_method,
        };
        self.next_seq += 1;
        self.pending.push_back(request);
        self.current = Some(request);
        match summary.body {
            BodyFraming::None => self.message_done(),
            BodyFraming::Length(remaining) => self.phase = Phase::Body { remaining },
            BodyFraming::Chunked => {
                self.phase = Phase::Chunked(Chunk::Size {
                    value: 0,
                    digits: 0,
                    line: 0,
                })
            }
        }
        Ok(Step::Release(consumed))
    }

    /// Holds bytes while they match the HTTP/2 preface; `None` when they stopped matching and the
    /// held bytes were rescanned as HTTP/1.
    fn match_preface(&mut self, input: &[u8]) -> Result<Option<Step>, Violation> {
        let have = self.head.buf.len();
        let expected = H2_PREFACE.get(have..).unwrap_or_default();
        let take = expected.len().min(input.len());
        if input.get(..take) == expected.get(..take) {
            self.head
                .buf
                .extend_from_slice(input.get(..take).unwrap_or_default());
            if have + take == H2_PREFACE.len() {
                self.phase = Phase::PassThrough;
                self.responses_pass_through = true;
                return Ok(Some(Step::Release(take)));
            }
            return Ok(Some(Step::Held(take)));
        }
        self.preface_match = false;
        let held = std::mem::take(&mut self.head.buf);
        self.head.reset();
        // The held bytes are a strict prefix of the preface, which is not a valid HTTP/1 head, so
        // rescanning them either fails or leaves the head incomplete.
        let (_, complete) = self.head.scan(&held, &self.limits)?;
        if complete {
            return Err(Violation::UnsupportedVersion);
        }
        Ok(None)
    }

    fn feed_fixed(&mut self, input: &[u8], remaining: u64) -> Step {
        let take = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
        let remaining = remaining - take as u64;
        if remaining == 0 {
            self.message_done();
        } else {
            self.phase = Phase::Body { remaining };
        }
        Step::Forward(take)
    }

    fn feed_chunked(&mut self, input: &[u8], mut chunk: Chunk) -> Result<Step, Violation> {
        let mut index = 0;
        while index < input.len() {
            if let Chunk::Data { remaining } = chunk {
                let available = input.len() - index;
                let take = usize::try_from(remaining).map_or(available, |r| r.min(available));
                index += take;
                let remaining = remaining - take as u64;
                chunk = if remaining == 0 {
                    Chunk::DataCr
                } else {
                    Chunk::Data { remaining }
                };
                continue;
            }
            let byte = input.get(index).copied().unwrap_or_default();
            match chunk_step(chunk, byte, &self.limits) {
                Ok(Some(next)) => chunk = next,
                Ok(None) => {
                    self.message_done();
                    return Ok(Step::Forward(index + 1));
                }
                Err(_) if index > 0 => {
                    self.phase = Phase::Chunked(chunk);
                    return Ok(Step::Forward(index));
                }
                Err(violation) => return Err(violation),
            }
            index += 1;
        }
        self.phase = Phase::Chunked(chunk);
        Ok(Step::Forward(index))
    }

    fn message_done(&mut self) {
        let current = self.current.take();
        self.phase = Phase::Head;
        let Some(request) = current else { return };
        if request.kind == RequestKind::Plain {
            return;
        }
        match self.answered_upgrade {
            Some((seq, true)) if seq == request.seq => self.phase = Phase::PassThrough,
            Some((seq, false)) if seq == request.seq => {}
            _ => self.phase = Phase::AwaitResponse { seq: request.seq },
        }
    }

    /// Follows bytes the server wrote to the client, in order. Returns true when this lifted an
    /// [`Step::AwaitResponses`] wait.
    pub fn observe_response(&mut self, mut bytes: &[u8]) -> bool {
        let was_waiting = self.awaiting_responses();
        while !bytes.is_empty() && !self.responses_pass_through {
            let (used, head) = self.responses.advance(bytes);
            bytes = bytes.get(used..).unwrap_or_default();
            if let Some(head) = head {
                let body = self.on_response_head(head.status, head.content_length, head.chunked);
                self.responses.start_body(body);
            }
        }
        was_waiting && !self.awaiting_responses()
    }

    fn on_response_head(
        &mut self,
        status: u16,
        content_length: Option<u64>,
        chunked: bool,
    ) -> ResponseBody {
        let request = self.pending.front().copied();
        let switches = match request.map(|r| r.kind) {
            Some(RequestKind::Upgrade) => status == 101,
            Some(RequestKind::Connect) => (200..300).contains(&status),
            _ => false,
        };
        if (100..200).contains(&status) && !switches && status != 101 {
            return ResponseBody::None;
        }
        self.pending.pop_front();
        if let Some(request) = request.filter(|r| r.kind != RequestKind::Plain) {
            self.answered_upgrade = Some((request.seq, switches));
            if switches {
                self.phase = Phase::PassThrough;
                self.responses_pass_through = true;
                return ResponseBody::UntilClose;
            }
            if self.phase == (Phase::AwaitResponse { seq: request.seq }) {
                self.phase = Phase::Head;
            }
        }
        if request.is_some_and(|r| r.is_head_method) || matches!(status, 101 | 204 | 304) {
            ResponseBody::None
        } else if chunked {
            ResponseBody::Chunked
        } else if let Some(length) = content_length {
            ResponseBody::Length(length)
        } else {
            ResponseBody::UntilClose
        }
    }
}

/// One byte of chunked framing outside chunk data. `Ok(None)` means the message ended with it.
fn chunk_step(chunk: Chunk, byte: u8, limits: &GuardLimits) -> Result<Option<Chunk>, Violation> {
    let next_line = |line: usize| {
        if line + 1 > MAX_CHUNK_LINE_BYTES {
            Err(Violation::ChunkLineTooLong)
        } else {
            Ok(line + 1)
        }
    };
    let trailer_total = |total: usize| {
        if total + 1 > limits.max_head_bytes {
            Err(Violation::TrailersTooLarge)
        } else {
            Ok(total + 1)
        }
    };
    let next = match chunk {
        Chunk::Size {
            value,
            digits,
            line,
        } => {
            let line = next_line(line)?;
            match byte {
                b';' if digits > 0 => Chunk::ExtensionName {
                    value,
                    started: false,
                    line,
                },
                b'\r' if digits > 0 => Chunk::SizeLf { value },
                b'\n' => return Err(Violation::BareLf),
                _ => {
                    let digit = (byte as char)
                        .to_digit(16)
                        .ok_or(Violation::InvalidChunkSize)?;
                    if digits >= MAX_CHUNK_SIZE_DIGITS {
                        return Err(Violation::ChunkSizeTooLong);
                    }
                    Chunk::Size {
                        value: (value << 4) | u64::from(digit),
                        digits: digits + 1,
                        line,
                    }
                }
            }
        }
        Chunk::ExtensionName {
            value,
            started,
            line,
        } => {
            let line = next_line(line)?;
            match byte {
                _ if is_tchar(byte) => Chunk::ExtensionName {
                    value,
                    started: true,
                    line,
                },
                b'=' if started => Chunk::ExtensionValueStart { value, line },
                b';' if started => Chunk::ExtensionName {
                    value,
                    started: false,
                    line,
                },
                b'\r' if started => Chunk::SizeLf { value },
                b'\n' => return Err(Violation::BareLf),
                _ => return Err(Violation::InvalidChunkExtension),
            }
        }
        Chunk::ExtensionValueStart { value, line } => {
            let line = next_line(line)?;
            match byte {
                _ if is_tchar(byte) => Chunk::ExtensionValue { value, line },
                b'\n' => return Err(Violation::BareLf),
                _ => return Err(Violation::InvalidChunkExtension),
            }
        }
        Chunk::ExtensionValue { value, line } => {
            let line = next_line(line)?;
            match byte {
                _ if is_tchar(byte) => Chunk::ExtensionValue { value, line },
                b';' => Chunk::ExtensionName {
                    value,
                    started: false,
                    line,
                },
                b'\r' => Chunk::SizeLf { value },
                b'\n' => return Err(Violation::BareLf),
                _ => return Err(Violation::InvalidChunkExtension),
            }
        }
        Chunk::SizeLf { value } => match byte {
            b'\n' if value == 0 => Chunk::TrailerLineStart {
                total: 0,
                fields: 0,
            },
            b'\n' => Chunk::Data { remaining: value },
            _ => return Err(Violation::BareCr),
        },
        Chunk::Data { .. } => chunk,
        Chunk::DataCr => match byte {
            b'\r' => Chunk::DataLf,
            _ => return Err(Violation::MissingChunkTerminator),
        },
        Chunk::DataLf => match byte {
            b'\n' => Chunk::Size {
                value: 0,
                digits: 0,
                line: 0,
            },
            _ => return Err(Violation::MissingChunkTerminator),
        },
        Chunk::TrailerLineStart { total, fields } => {
            let total = trailer_total(total)?;
            match byte {
                b'\r' => Chunk::EndLf,
                b'\n' => return Err(Violation::BareLf),
                b' ' | b'\t' => return Err(Violation::ObsFold),
                _ if is_tchar(byte) => {
                    if fields + 1 > limits.max_headers {
                        return Err(Violation::TrailersTooLarge);
                    }
                    let mut name = [0; TRAILER_NAME_KEEP];
                    name[0] = byte;
                    Chunk::TrailerName {
                        total,
                        fields: fields + 1,
                        name,
                        len: 1,
                    }
                }
                _ => return Err(Violation::InvalidHeaderName),
            }
        }
        Chunk::TrailerName {
            total,
            fields,
            mut name,
            len,
        } => {
            let total = trailer_total(total)?;
            match byte {
                b':' => {
                    let kept = name.get(..len).unwrap_or_default();
                    if len <= TRAILER_NAME_KEEP && is_framing_field(kept) {
                        return Err(Violation::ForbiddenTrailer);
                    }
                    Chunk::TrailerValue { total, fields }
                }
                b' ' | b'\t' => return Err(Violation::WhitespaceBeforeColon),
                b'\n' => return Err(Violation::BareLf),
                _ if is_tchar(byte) => {
                    if let Some(slot) = name.get_mut(len) {
                        *slot = byte;
                    }
                    Chunk::TrailerName {
                        total,
                        fields,
                        name,
                        len: len.saturating_add(1),
                    }
                }
                _ => return Err(Violation::InvalidHeaderName),
            }
        }
        Chunk::TrailerValue { total, fields } => {
            let total = trailer_total(total)?;
            match byte {
                b'\r' => Chunk::TrailerValueLf { total, fields },
                b'\n' => return Err(Violation::BareLf),
                _ if is_field_value_byte(byte) => Chunk::TrailerValue { total, fields },
                _ => return Err(Violation::InvalidHeaderValue),
            }
        }
        Chunk::TrailerValueLf { total, fields } => {
            let total = trailer_total(total)?;
            match byte {
                b'\n' => Chunk::TrailerLineStart { total, fields },
                _ => return Err(Violation::BareCr),
            }
        }
        Chunk::EndLf => match byte {
            b'\n' => return Ok(None),
            _ => return Err(Violation::BareCr),
        },
    };
    Ok(Some(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds everything, answering nothing; returns (forwarded bytes, result of the last feed).
    fn run(state: &mut FramingState, mut input: &[u8]) -> (Vec<u8>, Result<Step, Violation>) {
        let mut out = Vec::new();
        loop {
            let step = state.feed(input);
            match step {
                Ok(Step::Forward(n)) => {
                    out.extend_from_slice(&input[..n]);
                    input = &input[n..];
                }
                Ok(Step::Held(n)) => input = &input[n..],
                Ok(Step::Release(n)) => {
                    out.extend_from_slice(state.held());
                    input = &input[n..];
                }
                Ok(Step::AwaitResponses) | Err(_) => return (out, step),
            }
            if input.is_empty() {
                return (out, step);
            }
        }
    }

    fn state() -> FramingState {
        FramingState::new(GuardLimits::default())
    }

    #[test]
    fn h2_preface_switches_to_pass_through_in_any_split() {
        let mut stream = H2_PREFACE.to_vec();
        stream.extend_from_slice(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00\nbare LF is fine here\r");
        for split in 1..stream.len() {
            let mut s = state();
            let (mut out, _) = run(&mut s, &stream[..split]);
            let (rest, result) = run(&mut s, &stream[split..]);
            out.extend(rest);
            assert!(result.is_ok(), "split {split}");
            assert_eq!(out, stream, "split {split}");
            assert!(s.is_pass_through());
        }
    }

    #[test]
    fn preface_lookalikes_are_http1() {
        let mut s = state();
        let (out, result) = run(&mut s, b"PRX /a HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(matches!(result, Ok(Step::Release(_))));
        assert_eq!(out, b"PRX /a HTTP/1.1\r\nHost: a\r\n\r\n");
        let mut s = state();
        assert_eq!(
            run(&mut s, b"PRI * HTTP/2.0\r\n\r\nXX").1,
            Err(Violation::UnsupportedVersion)
        );
        let mut s = state();
        let (_, result) = run(
            &mut s,
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        );
        assert_eq!(result, Err(Violation::UnsupportedVersion));
        assert!(!s.is_pass_through());
    }

    #[test]
    fn body_violation_is_reported_at_the_offending_byte() {
        let mut s = state();
        let head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(s.feed(head), Ok(Step::Release(n)) if n == head.len()));
        assert_eq!(s.feed(b"3\r\nabcX"), Ok(Step::Forward(6)));
        assert_eq!(s.feed(b"X"), Err(Violation::MissingChunkTerminator));
        assert!(s.violation_in_body());
        assert_eq!(s.feed(b"anything"), Err(Violation::MissingChunkTerminator));
        assert_eq!(s.violation(), Some(Violation::MissingChunkTerminator));
    }

    #[test]
    fn upgrade_waits_for_101_then_passes_through() {
        let mut s = state();
        let head =
            b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";
        assert!(matches!(s.feed(head), Ok(Step::Release(_))));
        assert_eq!(s.feed(b"\x81\x00 not http\n"), Ok(Step::AwaitResponses));
        assert!(s.awaiting_responses());
        assert!(
            s.observe_response(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
        );
        assert!(s.is_pass_through());
        let frame = b"\x81\x00 not http\n";
        assert_eq!(s.feed(frame), Ok(Step::Forward(frame.len())));
    }

    #[test]
    fn refused_upgrade_resumes_validation() {
        let mut s = state();
        let head = b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n";
        assert!(matches!(s.feed(head), Ok(Step::Release(_))));
        assert_eq!(s.feed(b"GET"), Ok(Step::AwaitResponses));
        assert!(!s.observe_response(b"HTTP/1.1 100 Continue\r\n\r\n"));
        assert!(s.observe_response(b"HTTP/1.1 426 Upgrade Required\r\ncontent-length: 2\r\n\r\nno"));
        assert!(!s.is_pass_through());
        assert_eq!(
            s.feed(b"GET / HTTP/1.1\nHost: a\n\n"),
            Err(Violation::BareLf)
        );
    }

    #[test]
    fn connect_tunnel_after_2xx() {
        let mut s = state();
        assert!(matches!(
            s.feed(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
            Ok(Step::Release(_))
        ));
        assert_eq!(s.feed(b"\x16\x03\x01"), Ok(Step::AwaitResponses));
        s.observe_response(b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(s.feed(b"\x16\x03\x01"), Ok(Step::Forward(3)));
    }

    #[test]
    fn pipelining_pauses_at_the_depth_limit() {
        let mut s = state();
        let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        for _ in 0..MAX_PIPELINED_REQUESTS {
            assert!(matches!(s.feed(request), Ok(Step::Release(_))));
        }
        assert_eq!(s.feed(request), Ok(Step::AwaitResponses));
        assert!(s.observe_response(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
        assert!(matches!(s.feed(request), Ok(Step::Release(_))));
        assert_eq!(s.unanswered_requests(), MAX_PIPELINED_REQUESTS);
    }

    #[test]
    fn head_responses_carry_no_body() {
        let mut s = state();
        assert!(matches!(
            s.feed(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Ok(Step::Release(_))
        ));
        assert!(matches!(
            s.feed(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            Ok(Step::Release(_))
        ));
        s.observe_response(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n");
        assert!(s.responses_at_boundary());
        assert_eq!(s.unanswered_requests(), 1);
        s.observe_response(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        );
        assert!(s.responses_at_boundary());
        assert!(!s.responses_outstanding());
    }

    #[test]
    fn rejected_head_waits_for_owed_responses() {
        let mut s = state();
        let (_, result) = run(
            &mut s,
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\nHost: a\n\n",
        );
        assert_eq!(result, Err(Violation::BareLf));
        assert!(s.awaiting_responses());
        assert!(s.observe_response(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
        assert!(!s.awaiting_responses());
        assert!(!s.violation_in_body());
    }

    #[test]
    fn chunk_lines() {
        let head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
        let cases: &[(&[u8], Option<Violation>)] = &[
            (b"A\r\n0123456789\r\n0\r\n\r\n", None),
            (b"0000000000000001;a;b=c\r\nx\r\n00;z\r\nT: v\r\n\r\n", None),
            (b"ffffffffffffffff\r\n", None),
            (b"1ffffffffffffffff\r\n", Some(Violation::ChunkSizeTooLong)),
            (b";a\r\n", Some(Violation::InvalidChunkSize)),
            (b"\r\n", Some(Violation::InvalidChunkSize)),
            (b"5;\r\n", Some(Violation::InvalidChunkExtension)),
            (b"5;a=\r\n", Some(Violation::InvalidChunkExtension)),
            (b"5;a =b\r\n", Some(Violation::InvalidChunkExtension)),
            (b"5\rx", Some(Violation::BareCr)),
            (
                b"0\r\nX : y\r\n\r\n",
                Some(Violation::WhitespaceBeforeColon),
            ),
            (b"0\r\n y\r\n\r\n", Some(Violation::ObsFold)),
            (
                b"0\r\nX: a\x00\r\n\r\n",
                Some(Violation::InvalidHeaderValue),
            ),
            (b"0\r\nX: a\r\n\n", Some(Violation::BareLf)),
            (
                b"0\r\nTransfer_Encoding: chunked\r\n\r\n",
                Some(Violation::ForbiddenTrailer),
            ),
            (b"0\r\nhost: b\r\n\r\n", Some(Violation::ForbiddenTrailer)),
        ];
        for (body, expected) in cases {
            let mut s = state();
            assert!(matches!(s.feed(head), Ok(Step::Release(_))));
            let (_, result) = run(&mut s, body);
            match expected {
                None => assert!(
                    result.is_ok(),
                    "{:?}: {result:?}",
                    String::from_utf8_lossy(body)
                ),
                Some(v) => assert_eq!(result, Err(*v), "{:?}", String::from_utf8_lossy(body)),
            }
        }
        let long_line = [b"5;".as_slice(), &[b'a'; MAX_CHUNK_LINE_BYTES], b"\r\n"].concat();
        let mut s = state();
        assert!(matches!(s.feed(head), Ok(Step::Release(_))));
        assert_eq!(run(&mut s, &long_line).1, Err(Violation::ChunkLineTooLong));
    }

    #[test]
    fn long_target_is_reported_before_the_line_ends() {
        let limits = GuardLimits {
            max_uri_bytes: 100,
            ..GuardLimits::default()
        };
        let mut s = FramingState::new(limits);
        assert!(matches!(s.feed(b"GET /"), Ok(Step::Held(5))));
        assert_eq!(s.feed(&[b'a'; 200]), Err(Violation::UriTooLong));
        let mut s = FramingState::new(GuardLimits {
            max_head_bytes: 64,
            ..GuardLimits::default()
        });
        assert_eq!(
            run(
                &mut s,
                b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            )
            .1,
            Err(Violation::HeadTooLarge)
        );
    }

    #[test]
    fn leading_empty_lines_are_tolerated_but_bare_lf_is_not() {
        let mut s = state();
        let (out, result) = run(&mut s, b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(matches!(result, Ok(Step::Release(_))));
        assert_eq!(out, b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let mut s = state();
        assert_eq!(
            run(&mut s, b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").1,
            Err(Violation::BareLf)
        );
    }
}
