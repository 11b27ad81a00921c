//! Strict HTTP/1 request framing for Palisade's client connections.
//!
//! hyper's HTTP/1 parser is lenient in places (bare LF line endings, obs-fold handling, chunk
//! extensions) and normalises others silently. A reverse proxy that forwards what its parser
//! tolerated can be desynchronised from its upstream (request smuggling). [`Http1Guard`] sits
//! between the socket (plain or TLS) and hyper and refuses every ambiguous or malformed framing
//! before hyper sees it.
//!
//! # Model
//!
//! [`FramingState`] is a sans-IO state machine over the client's byte stream (keep-alive and
//! pipelining included):
//!
//! * a request head is held until its empty line arrives, checked line by line as it comes in
//!   (CRLF only, no obs-fold, token names, no whitespace before the colon, no control bytes,
//!   `METHOD SP target SP HTTP/1.0|HTTP/1.1`, one digits-only Content-Length, Transfer-Encoding
//!   exactly `chunked`, never both, no Transfer-Encoding in HTTP/1.0, exactly one Host in
//!   HTTP/1.1, size limits) and only then released to hyper whole;
//! * the body is then forwarded as its framing is checked: Content-Length bytes, or chunked
//!   (hex sizes of at most 16 digits, token-only extensions, CRLF after data, trailers that may
//!   not carry framing fields, last-chunk);
//! * an HTTP/2 prior-knowledge preface switches the connection to pass-through, as does an
//!   accepted upgrade (a `101` answer to a request carrying `Upgrade`) or CONNECT (a `2xx`).
//!   After such a request reads pause until hyper has written its answer; the guard follows the
//!   responses hyper writes to know which request each answers.
//!
//! # What happens on a violation
//!
//! * In a head: the head is never released. Reads pause until hyper has written the responses it
//!   owes for earlier pipelined requests (hyper aborts a busy connection on EOF, dropping them);
//!   then the guard writes a `problem+json` response with [`Violation::status_code`] (400, 414 or
//!   431) and `Connection: close`, and reads report EOF. hyper, idle, shuts the connection down;
//!   the guard then drains unread client bytes for a short while so that the close does not
//!   reset the connection before the client has read the response. The response is written
//!   before the EOF rather than at shutdown because hyper drops (without shutdown) a connection
//!   that once carried a refused upgrade request.
//! * In a body: part of the request already reached hyper, so the read fails with
//!   [`std::io::ErrorKind::InvalidData`]; hyper's body stream errors and the proxy, which buffers
//!   bodies before forwarding, never forwards the request. If hyper still shuts down cleanly
//!   without having answered the request, the guard writes the error response itself.
//!
//! [`GuardHandle::violation`] tells the proxy what happened, for its security event.
//!
//! # Limits
//!
//! * A head violation is answered only when the responses before it were completely written; a
//!   close-delimited response (HTTP/1.0 without length) leaves no room for one.
//! * hyper's own `header_read_timeout` still bounds slow heads: hyper is waiting for a head while
//!   the guard holds the partial one.
//! * Requests carrying `Upgrade` are not pipelined past: the guard waits for their answer.
//! * At most [`MAX_PIPELINED_REQUESTS`] requests are released ahead of their responses;
//!   further reads wait (back-pressure, not an error).
//! * Chunk extensions must be tokens (`;name` or `;name=value`); quoted-string values are refused.
//! * The guard needs a tokio runtime with timers for its lingering close.

mod framing;
mod guard;
mod head;
mod response;
mod violation;

pub use framing::{FramingState, Step, H2_PREFACE, MAX_CHUNK_LINE_BYTES, MAX_PIPELINED_REQUESTS};
pub use guard::{error_response, GuardHandle, Http1Guard};
pub use violation::Violation;

/// Size limits applied to request heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardLimits {
    /// Largest request head (request line, fields and the final CRLF), also the trailer cap.
    pub max_head_bytes: usize,
    /// Most header fields in one head (also the trailer field cap).
    pub max_headers: usize,
    /// Longest request target.
    pub max_uri_bytes: usize,
}

impl Default for GuardLimits {
    fn default() -> Self {
        Self {
            max_head_bytes: 32 * 1024,
            max_headers: 100,
            max_uri_bytes: 8 * 1024,
        }
    }
}
