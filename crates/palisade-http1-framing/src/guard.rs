//! The tokio I/O wrapper around [`FramingState`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::framing::{FramingState, Step};
use crate::{GuardLimits, Violation};

/// How long a rejected connection keeps draining client bytes after its error response, so that
/// closing with unread data does not reset the connection before the client reads the response.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_MAX_BYTES: usize = 256 * 1024;

/// Observes a guarded connection from outside (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct GuardHandle {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    violation: OnceLock<Violation>,
    pass_through: AtomicBool,
}

impl GuardHandle {
    /// The framing violation that stopped the connection, if any.
    pub fn violation(&self) -> Option<Violation> {
        self.shared.violation.get().copied()
    }

    /// True once the connection left HTTP/1 validation (HTTP/2, an accepted upgrade or CONNECT).
    pub fn is_pass_through(&self) -> bool {
        self.shared.pass_through.load(Ordering::Relaxed)
    }
}

enum Closing {
    Open,
    WritingError {
        response: Vec<u8>,
        written: usize,
    },
    Flushing,
    ErrorSent,
    ShuttingDown,
    Lingering {
        deadline: Pin<Box<tokio::time::Sleep>>,
        drained: usize,
    },
    Closed,
}

pin_project_lite::pin_project! {
    /// A client connection whose HTTP/1 request framing is validated before the server reads it.
    ///
    /// Reads hand over a request head only once it is complete and valid, then the body as its
    /// framing is checked. On a head violation, reads wait until the server has answered every
    /// request handed over before it, then the guard writes the error response and reads end
    /// (EOF), after which hyper shuts the connection down. On a body violation reads fail with
    /// [`io::ErrorKind::InvalidData`] (the server's body stream errors). Writes are followed to
    /// know when an upgrade or CONNECT was accepted.
    pub struct Http1Guard<IO> {
        #[pin]
        io: IO,
        state: FramingState,
        handle: GuardHandle,
        leftover: Vec<u8>,
        leftover_pos: usize,
        releasing: Option<usize>,
        read_waker: Option<Waker>,
        closing: Closing,
    }
}

impl<IO> std::fmt::Debug for Http1Guard<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http1Guard")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<IO> Http1Guard<IO> {
    /// Wraps a client connection (plain or TLS) that speaks HTTP/1, or HTTP/2 with prior knowledge.
    pub fn new(io: IO, limits: GuardLimits) -> (Self, GuardHandle) {
        let guard = Self::with_state(io, FramingState::new(limits));
        let handle = guard.handle.clone();
        (guard, handle)
    }

    /// Wraps a connection that negotiated HTTP/2 through ALPN: bytes pass unchecked.
    pub fn passthrough(io: IO) -> Self {
        let guard = Self::with_state(io, FramingState::pass_through());
        guard
            .handle
            .shared
            .pass_through
            .store(true, Ordering::Relaxed);
        guard
    }

    fn with_state(io: IO, state: FramingState) -> Self {
        Self {
            io,
            state,
            handle: GuardHandle::default(),
            leftover: Vec::new(),
            leftover_pos: 0,
            releasing: None,
            read_waker: None,
            closing: Closing::Open,
        }
    }

    /// Another handle on this connection.
    pub fn handle(&self) -> GuardHandle {
        self.handle.clone()
    }

    /// The wrapped connection (e.g. to read TLS session details).
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// The framing state, for inspection.
    pub fn state(&self) -> &FramingState {
        &self.state
    }
}

fn publish(state: &FramingState, handle: &GuardHandle) {
    if let Some(violation) = state.violation() {
        let _ = handle.shared.violation.set(violation);
    }
    if state.is_pass_through() {
        handle.shared.pass_through.store(true, Ordering::Relaxed);
    }
}

/// The response written when the server closes a connection after a head violation.
pub fn error_response(violation: Violation) -> Vec<u8> {
    let status = violation.status_code();
    let title = violation.reason_phrase();
    let body = format!(
        "{{\"type\":\"about:blank\",\"title\":\"{title}\",\"status\":{status},\
\"detail\":\"The request framing is malformed or ambiguous.\",\"code\":\"{}\"}}",
        violation.as_str()
    );
    let mut response = format!(
        "HTTP/1.1 {status} {title}\r\nContent-Type: application/problem+json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body.as_bytes());
    response
}

/// Drives the error response out: `WritingError` → `Flushing` → `ErrorSent`.
fn poll_send_error<IO: AsyncWrite>(
    mut io: Pin<&mut IO>,
    closing: &mut Closing,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    loop {
        match closing {
            Closing::WritingError { response, written } => {
                while let Some(rest) = response.get(*written..).filter(|rest| !rest.is_empty()) {
                    let n = ready!(io.as_mut().poll_write(cx, rest))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    *written += n;
                }
                *closing = Closing::Flushing;
            }
            Closing::Flushing => {
                ready!(io.as_mut().poll_flush(cx))?;
                *closing = Closing::ErrorSent;
            }
            _ => return Poll::Ready(Ok(())),
        }
    }
}

impl<IO: AsyncRead + AsyncWrite> AsyncRead for Http1Guard<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut this = self.project();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if let Some(position) = *this.releasing {
                let held = this.state.held();
                let rest = held.get(position..).unwrap_or_default();
                let n = rest.len().min(buf.remaining());
                buf.put_slice(rest.get(..n).unwrap_or_default());
                let position = position + n;
                *this.releasing = (position < held.len()).then_some(position);
                publish(this.state, this.handle);
                if n > 0 {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            if this.state.awaiting_responses() {
                publish(this.state, this.handle);
                *this.read_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            if let Some(violation) = this.state.violation() {
                publish(this.state, this.handle);
                if this.state.violation_in_body() {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, violation)));
                }
                // Every earlier request is answered and hyper writes nothing more once it sees EOF,
                // so the error response goes out now, before the EOF: hyper does not always shut
                // the connection down (it drops it after a refused upgrade).
                if matches!(this.closing, Closing::Open) && should_answer(this.state) {
                    *this.closing = Closing::WritingError {
                        response: error_response(violation),
                        written: 0,
                    };
                }
                ready!(poll_send_error(this.io.as_mut(), this.closing, cx))?;
                return Poll::Ready(Ok(()));
            }

            if *this.leftover_pos < this.leftover.len() {
                let input = this.leftover.get(*this.leftover_pos..).unwrap_or_default();
                let input = input.get(..buf.remaining()).unwrap_or(input);
                match this.state.feed(input) {
                    Ok(Step::Forward(n)) => {
                        buf.put_slice(input.get(..n).unwrap_or_default());
                        *this.leftover_pos += n;
                        publish(this.state, this.handle);
                        if n > 0 {
                            return Poll::Ready(Ok(()));
                        }
                    }
                    Ok(Step::Held(n)) => *this.leftover_pos += n,
                    Ok(Step::Release(n)) => {
                        *this.leftover_pos += n;
                        *this.releasing = Some(0);
                    }
                    Ok(Step::AwaitResponses) | Err(_) => {}
                }
                continue;
            }
            if this.leftover.capacity() > 0 {
                // Freed rather than kept: it is only needed when a read straddles a message
                // boundary, and idle connections should hold no buffers.
                *this.leftover = Vec::new();
                *this.leftover_pos = 0;
            }

            // Read straight into the caller's buffer; body bytes stay in place and anything that is
            // not forwarded yet is moved aside.
            let before = buf.filled().len();
            ready!(this.io.as_mut().poll_read(cx, buf))?;
            let after = buf.filled().len();
            if after == before {
                return Poll::Ready(Ok(()));
            }
            let mut position = before;
            while position < after {
                let input = buf.filled().get(position..after).unwrap_or_default();
                let consumed = match this.state.feed(input) {
                    Ok(Step::Forward(n)) => {
                        position += n;
                        continue;
                    }
                    Ok(Step::Held(n)) => n,
                    Ok(Step::Release(n)) => {
                        *this.releasing = Some(0);
                        n
                    }
                    Ok(Step::AwaitResponses) | Err(_) => 0,
                };
                let rest = buf
                    .filled()
                    .get(position + consumed..after)
                    .unwrap_or_default();
                this.leftover.extend_from_slice(rest);
                *this.leftover_pos = 0;
                break;
            }
            buf.set_filled(position);
            publish(this.state, this.handle);
            if position > before {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<IO: AsyncRead + AsyncWrite> AsyncWrite for Http1Guard<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let written = ready!(this.io.poll_write(cx, data))?;
        if this
            .state
            .observe_response(data.get(..written).unwrap_or_default())
        {
            if let Some(waker) = this.read_waker.take() {
                waker.wake();
            }
        }
        publish(this.state, this.handle);
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let written = ready!(this.io.poll_write_vectored(cx, bufs))?;
        let mut left = written;
        let mut lifted = false;
        for slice in bufs {
            if left == 0 {
                break;
            }
            let take = slice.len().min(left);
            lifted |= this
                .state
                .observe_response(slice.get(..take).unwrap_or_default());
            left -= take;
        }
        if lifted {
            if let Some(waker) = this.read_waker.take() {
                waker.wake();
            }
        }
        publish(this.state, this.handle);
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut this = self.project();
        loop {
            match this.closing {
                Closing::Open => {
                    *this.closing = match this.state.violation() {
                        Some(violation) if should_answer(this.state) => Closing::WritingError {
                            response: error_response(violation),
                            written: 0,
                        },
                        _ => Closing::ShuttingDown,
                    };
                }
                Closing::WritingError { .. } | Closing::Flushing => {
                    ready!(poll_send_error(this.io.as_mut(), this.closing, cx))?;
                }
                Closing::ErrorSent => *this.closing = Closing::ShuttingDown,
                Closing::ShuttingDown => {
                    ready!(this.io.as_mut().poll_shutdown(cx))?;
                    *this.closing = if this.state.violation().is_some() {
                        Closing::Lingering {
                            deadline: Box::pin(tokio::time::sleep(LINGER)),
                            drained: 0,
                        }
                    } else {
                        Closing::Closed
                    };
                }
                Closing::Lingering { deadline, drained } => {
                    let mut scratch = [0u8; 2048];
                    loop {
                        let mut sink = ReadBuf::new(&mut scratch);
                        match this.io.as_mut().poll_read(cx, &mut sink) {
                            Poll::Ready(Ok(())) if !sink.filled().is_empty() => {
                                *drained += sink.filled().len();
                                if *drained >= LINGER_MAX_BYTES {
                                    break;
                                }
                            }
                            Poll::Ready(_) => break,
                            Poll::Pending => {
                                if deadline.as_mut().poll(cx).is_ready() {
                                    break;
                                }
                                return Poll::Pending;
                            }
                        }
                    }
                    *this.closing = Closing::Closed;
                }
                Closing::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// The error response is written only between responses, and only if the offending request has no
/// answer yet: a head violation was never handed over; a body violation's request may have been
/// answered by the server already.
fn should_answer(state: &FramingState) -> bool {
    !state.is_pass_through()
        && state.responses_at_boundary()
        && (!state.violation_in_body() || state.unanswered_requests() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Idle keep-alive connections are numerous: the guard adds a fixed, small amount of memory
    /// and no buffers while idle.
    #[test]
    fn guard_is_small_when_idle() {
        let size = std::mem::size_of::<Http1Guard<tokio::net::TcpStream>>()
            - std::mem::size_of::<tokio::net::TcpStream>();
        println!("guard overhead per connection: {size} bytes");
        assert!(size <= 512, "{size}");
    }
}
