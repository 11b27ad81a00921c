//! Request and response body buffering: detectors see the whole body before a
//! byte reaches the other side, up to an inspection cap. Above the cap a route
//! either refuses the message or streams it on uninspected. Slow senders are cut
//! off by a minimum transfer rate after a grace period (slow POST defence).

use crate::upstream::{BoxError, ProxyBody};
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Limits for reading one body.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Largest body accepted at all.
    pub max_total: u64,
    /// Bodies up to this size are buffered whole.
    pub inspect_cap: u64,
    /// Above `inspect_cap`: stream the rest uninspected instead of refusing.
    pub stream_over_cap: bool,
    /// Minimum bytes per second once `grace` has passed; 0 disables.
    pub min_rate: u64,
    pub grace: Duration,
}

/// What reading a body gave.
pub enum Buffered<B> {
    /// The whole body.
    Complete(Bytes),
    /// The first `inspect_cap` bytes were read; the rest follows uninspected.
    Partial { prefix: Bytes, rest: B },
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("body larger than {0} bytes")]
    TooLarge(u64),
    #[error("body sent too slowly")]
    TooSlow,
    #[error("body could not be read: {0}")]
    Read(String),
}

/// The refusal a declared Content-Length earns before any byte is read.
pub fn declared_too_large(declared: Option<u64>, limits: BodyLimits) -> Option<BodyError> {
    let len = declared?;
    if len > limits.max_total {
        return Some(BodyError::TooLarge(limits.max_total));
    }
    if len > limits.inspect_cap && !limits.stream_over_cap {
        return Some(BodyError::TooLarge(limits.inspect_cap));
    }
    None
}

/// How long a refused request's body is still read, and how much of it.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: u64 = 32 << 20;

/// Reads and discards what is left of a refused request's body, for a
/// bounded time and size. A client is often still sending when the refusal
/// goes out; closing a socket with unread data makes the kernel answer with a
/// reset, which destroys the refusal on its way, so the client would see a
/// broken connection instead of a 413 or 403.
pub async fn linger<B>(mut body: B)
where
    B: Body<Data = Bytes> + Unpin,
{
    let until = tokio::time::Instant::now() + LINGER_TIME;
    let mut read = 0u64;
    while read < LINGER_BYTES {
        match tokio::time::timeout_at(until, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                read += frame.data_ref().map_or(0, |d| d.len() as u64);
            }
            _ => return,
        }
    }
}

/// Reads `body` under `limits`. `declared` is the Content-Length, if any.
pub async fn buffer<B>(
    mut body: B,
    declared: Option<u64>,
    limits: BodyLimits,
) -> Result<Buffered<B>, BodyError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    if let Some(refusal) = declared_too_large(declared, limits) {
        return Err(refusal);
    }
    let start = Instant::now();
    let cap = usize::try_from(limits.inspect_cap).unwrap_or(usize::MAX);
    let mut buf =
        BytesMut::with_capacity(declared.map_or(0, |d| d.min(limits.inspect_cap) as usize));
    loop {
        let received = buf.len() as u64;
        let frame = match deadline(start, received, limits) {
            Some(d) => match tokio::time::timeout_at(d.into(), body.frame()).await {
                Ok(f) => f,
                Err(_) => return Err(BodyError::TooSlow),
            },
            None => body.frame().await,
        };
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if buf.len() + data.len() > cap {
            if !limits.stream_over_cap || (buf.len() + data.len()) as u64 > limits.max_total {
                return Err(BodyError::TooLarge(if limits.stream_over_cap {
                    limits.max_total
                } else {
                    limits.inspect_cap
                }));
            }
            buf.extend_from_slice(&data);
            return Ok(Buffered::Partial {
                prefix: buf.freeze(),
                rest: body,
            });
        }
        buf.extend_from_slice(&data);
    }
    Ok(Buffered::Complete(buf.freeze()))
}

/// When the next frame must have arrived for the sender to keep `min_rate`.
fn deadline(start: Instant, received: u64, limits: BodyLimits) -> Option<Instant> {
    if limits.min_rate == 0 {
        return None;
    }
    // Allow one more chunk's worth of time beyond the bytes already received.
    let allowed =
        Duration::from_secs_f64((received + limits.min_rate) as f64 / limits.min_rate as f64);
    Some(start + limits.grace + allowed)
}

pin_project_lite::pin_project! {
    /// A body that yields `prefix` and then the frames of `rest`, refusing to pass
    /// more than `remaining` bytes of `rest`.
    pub struct PrefixedBody<B> {
        prefix: Option<Bytes>,
        #[pin]
        rest: B,
        remaining: u64,
    }
}

impl<B> PrefixedBody<B> {
    pub fn new(prefix: Bytes, rest: B, max_total: u64) -> Self {
        let remaining = max_total.saturating_sub(prefix.len() as u64);
        PrefixedBody {
            prefix: Some(prefix),
            rest,
            remaining,
        }
    }
}

impl<B> Body for PrefixedBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if let Some(p) = this.prefix.take() {
            if !p.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(p))));
            }
        }
        match this.rest.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    let len = d.len() as u64;
                    if len > *this.remaining {
                        return Poll::Ready(Some(Err(Box::new(BodyError::TooLarge(0)))));
                    }
                    *this.remaining -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.rest.size_hint();
        let n = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        let mut hint = SizeHint::new();
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(n));
        }
        hint.set_lower(inner.lower().saturating_add(n));
        hint
    }
}

/// A complete body as the proxy's body type.
pub fn full(bytes: Bytes) -> ProxyBody {
    http_body_util::Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn empty() -> ProxyBody {
    full(Bytes::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};

    fn limits(max_total: u64, cap: u64, stream: bool) -> BodyLimits {
        BodyLimits {
            max_total,
            inspect_cap: cap,
            stream_over_cap: stream,
            min_rate: 0,
            grace: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn complete_under_cap() {
        let b = Full::new(Bytes::from_static(b"hello"));
        match buffer(b, Some(5), limits(100, 10, false)).await.unwrap() {
            Buffered::Complete(x) => assert_eq!(&x[..], b"hello"),
            Buffered::Partial { .. } => panic!("expected complete"),
        }
    }

    #[tokio::test]
    async fn declared_too_large_refused_early() {
        let b = Full::new(Bytes::from_static(b"hello"));
        assert!(matches!(
            buffer(b, Some(500), limits(100, 10, true)).await,
            Err(BodyError::TooLarge(100))
        ));
    }

    #[tokio::test]
    async fn over_cap_streams_rest() {
        let chunks: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = (0..4)
            .map(|i| Ok(Frame::data(Bytes::from(vec![b'a' + i; 8]))))
            .collect();
        let body = StreamBody::new(futures_util::stream::iter(chunks));
        match buffer(body, None, limits(100, 10, true)).await.unwrap() {
            Buffered::Partial { prefix, rest } => {
                assert_eq!(prefix.len(), 16);
                let all = PrefixedBody::new(prefix, rest, 100)
                    .collect()
                    .await
                    .unwrap()
                    .to_bytes();
                assert_eq!(all.len(), 32);
            }
            Buffered::Complete(_) => panic!("expected partial"),
        }
    }

    #[tokio::test]
    async fn over_cap_blocks_when_not_streaming() {
        let chunks: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = (0..4)
            .map(|_| Ok(Frame::data(Bytes::from(vec![b'x'; 8]))))
            .collect();
        let body = StreamBody::new(futures_util::stream::iter(chunks));
        assert!(matches!(
            buffer(body, None, limits(100, 10, false)).await,
            Err(BodyError::TooLarge(10))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn slow_sender_cut_off() {
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::convert::Infallible>>(4);
        let body = StreamBody::new(tokio_stream_from(rx));
        let l = BodyLimits {
            max_total: 1000,
            inspect_cap: 1000,
            stream_over_cap: false,
            min_rate: 100,
            grace: Duration::from_secs(1),
        };
        let h = tokio::spawn(async move { buffer(body, None, l).await });
        tx.send(Ok(Frame::data(Bytes::from_static(b"a"))))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(matches!(h.await.unwrap(), Err(BodyError::TooSlow)));
        drop(tx);
    }

    fn tokio_stream_from<T>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> {
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
