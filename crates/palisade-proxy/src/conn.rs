//! Accepting connections: connection limits (total and per client address),
//! TLS, the idle timeout, HTTP/1.1 and HTTP/2 through hyper with the protocol
//! limits configured, and graceful draining on shutdown.

use crate::balance::{Balancer, Slot};
use crate::client_ip::client_key;
use crate::pipeline::{handle, ConnInfo};
use crate::Gateway;
use http::HeaderValue;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use palisade_config::LimitsConfig;
use palisade_http1_framing::{GuardHandle, GuardLimits, Http1Guard};
use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// TLS settings of one listener, already built.
#[derive(Clone)]
pub struct ListenerTls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub hsts: Option<HeaderValue>,
    pub handshake_timeout: Duration,
}

/// One listener as the accept loop sees it.
#[derive(Clone)]
pub struct ListenerSpec {
    pub tls: Option<ListenerTls>,
    pub redirect_https_port: Option<u16>,
}

/// Connection accounting shared by every listener of a process.
#[derive(Debug)]
pub struct ConnLimits {
    total: Arc<Semaphore>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    max_per_ip: usize,
}

impl ConnLimits {
    pub fn new(limits: &LimitsConfig) -> Arc<ConnLimits> {
        Arc::new(ConnLimits {
            total: Arc::new(Semaphore::new(limits.max_connections)),
            per_ip: Mutex::new(HashMap::new()),
            max_per_ip: limits.max_connections_per_ip,
        })
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnPermit, &'static str> {
        let permit = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| "max_connections")?;
        let key = client_key(ip);
        let mut map = self.per_ip.lock().map_err(|_| "poisoned")?;
        let n = map.entry(key).or_insert(0);
        if *n >= self.max_per_ip {
            return Err("max_connections_per_ip");
        }
        *n += 1;
        Ok(ConnPermit {
            _permit: permit,
            key,
            limits: self.clone(),
        })
    }
}

struct ConnPermit {
    _permit: OwnedSemaphorePermit,
    key: IpAddr,
    limits: Arc<ConnLimits>,
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        if let Ok(mut map) = self.limits.per_ip.lock() {
            if let Some(n) = map.get_mut(&self.key) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&self.key);
                }
            }
        }
    }
}

/// A connection accepted by one worker and served by another (see
/// [`crate::balance`]).
pub struct HandedOver {
    stream: std::net::TcpStream,
    admitted: Admitted,
}

/// An accepted connection admitted by the connection limits, counted
/// against the worker that serves it.
struct Admitted {
    peer: SocketAddr,
    spec: ListenerSpec,
    permit: ConnPermit,
    slot: Slot<HandedOver>,
}

/// What a listener needs to know about the worker it runs on.
#[derive(Clone)]
pub struct WorkerSeat {
    /// This worker, from 0.
    pub index: usize,
    pub balancer: Arc<Balancer<HandedOver>>,
    /// Held by every connection this worker serves: the worker's drain
    /// waits until every clone is gone.
    pub alive: mpsc::Sender<()>,
}

/// Accepts connections until `shutdown` turns true. Each connection is
/// served on this worker or, when this worker already serves clearly more
/// than another, handed to that one. Draining is the worker's: every
/// connection holds a clone of `seat.alive`.
pub async fn run_listener(
    listener: TcpListener,
    spec: ListenerSpec,
    gateway: Gateway,
    conn_limits: Arc<ConnLimits>,
    mut shutdown: watch::Receiver<bool>,
    seat: WorkerSeat,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let permit = match conn_limits.admit(peer.ip()) {
                    Ok(p) => p,
                    Err(reason) => {
                        metrics::counter!("palisade_connections_rejected_total", "reason" => reason).increment(1);
                        drop(tcp);
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let slot = seat.balancer.place(seat.index);
                let target = slot.worker();
                let admitted = Admitted { peer, spec: spec.clone(), permit, slot };
                if target == seat.index {
                    spawn_connection(tcp, admitted, &gateway, &shutdown, &seat.alive);
                    continue;
                }
                match tcp.into_std() {
                    Ok(stream) => {
                        let item = HandedOver { stream, admitted };
                        if seat.balancer.hand_over(target, item).is_ok() {
                            metrics::counter!("palisade_connections_handed_over_total").increment(1);
                        }
                        // Otherwise the other worker has stopped: we are
                        // shutting down and the connection is closed.
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot hand a connection to another worker"),
                }
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() { break; }
            }
        }
    }
}

/// Serves the connections other workers hand to this one until `shutdown`
/// turns true; those already handed over by then are still served.
pub async fn serve_handed_over(
    mut inbox: mpsc::UnboundedReceiver<HandedOver>,
    gateway: Gateway,
    mut shutdown: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    let start =
        |item: HandedOver, shutdown: &watch::Receiver<bool>| match TcpStream::from_std(item.stream)
        {
            Ok(tcp) => spawn_connection(tcp, item.admitted, &gateway, shutdown, &alive),
            Err(e) => tracing::warn!(error = %e, "cannot take over a connection"),
        };
    loop {
        tokio::select! {
            item = inbox.recv() => match item {
                Some(item) => start(item, &shutdown),
                None => break,
            },
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() { break; }
            }
        }
    }
    inbox.close();
    while let Ok(item) = inbox.try_recv() {
        start(item, &shutdown);
    }
}

/// Serves one admitted connection on the current worker.
fn spawn_connection(
    tcp: TcpStream,
    admitted: Admitted,
    gateway: &Gateway,
    shutdown: &watch::Receiver<bool>,
    alive: &mpsc::Sender<()>,
) {
    let gateway = gateway.clone();
    let stop = shutdown.clone();
    let alive = alive.clone();
    tokio::spawn(async move {
        metrics::gauge!("palisade_connections_active").increment(1.0);
        metrics::counter!("palisade_connections_total").increment(1);
        let Admitted {
            peer,
            spec,
            permit,
            slot,
        } = admitted;
        serve_connection(tcp, peer, spec, gateway, stop).await;
        drop(alive);
        metrics::gauge!("palisade_connections_active").decrement(1.0);
        drop(permit);
        drop(slot);
    });
}

/// HTTP version of a cleartext connection, decided from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Http1,
    Http2,
}

/// Peeks at the first bytes: the HTTP/2 prior-knowledge preface means h2c,
/// anything else HTTP/1. A client that sends nothing within `timeout` (an idle
/// or slowloris connection) gets `None` and is closed.
async fn sniff_protocol(tcp: &TcpStream, timeout: Duration) -> Option<Proto> {
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 24];
    loop {
        let n = tokio::time::timeout_at(deadline, tcp.peek(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        if buf[..n] != palisade_http1_framing::H2_PREFACE[..n] {
            return Some(Proto::Http1);
        }
        if n == buf.len() {
            return Some(Proto::Http2);
        }
        // A partial preface: wait for the rest without spinning on the same bytes.
        tokio::time::sleep(Duration::from_millis(5)).await;
        if Instant::now() >= deadline {
            return None;
        }
    }
}

async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    spec: ListenerSpec,
    gateway: Gateway,
    stop: watch::Receiver<bool>,
) {
    let limits = gateway.current().limits.clone();
    let idle = limits.idle_timeout.0;
    let peer_ip = crate::client_ip::canonical(peer.ip());
    match spec.tls {
        None => {
            let info = Arc::new(ConnInfo {
                peer_ip,
                tls: false,
                hsts: None,
                redirect_https_port: spec.redirect_https_port,
                client_principal: None,
            });
            let Some(proto) = sniff_protocol(&tcp, limits.header_read_timeout.0).await else {
                metrics::counter!("palisade_connections_idle_closed_total").increment(1);
                return;
            };
            serve_guarded(
                IdleTimeout::new(tcp, idle),
                proto,
                info,
                gateway,
                &limits,
                stop,
            )
            .await;
        }
        Some(tls) => {
            let handshake =
                tokio::time::timeout(tls.handshake_timeout, tls.acceptor.accept(tcp)).await;
            let stream = match handshake {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    metrics::counter!("palisade_tls_handshake_failures_total").increment(1);
                    tracing::debug!(peer = %peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    metrics::counter!("palisade_tls_handshake_failures_total").increment(1);
                    return;
                }
            };
            let (_, session) = stream.get_ref();
            let h2 = session.alpn_protocol() == Some(b"h2");
            // rustls completed the handshake, so a client certificate here was verified (mTLS).
            let client_principal =
                palisade_tls::peer_certificate_identity(session).map(|id| id.to_principal());
            let info = Arc::new(ConnInfo {
                peer_ip,
                tls: true,
                hsts: tls.hsts.clone(),
                redirect_https_port: None,
                client_principal,
            });
            let proto = if h2 { Proto::Http2 } else { Proto::Http1 };
            serve_guarded(
                IdleTimeout::new(stream, idle),
                proto,
                info,
                gateway,
                &limits,
                stop,
            )
            .await;
        }
    }
}

/// Serves one connection; HTTP/1 goes through the strict framing guard, and a
/// connection the guard refused is recorded.
async fn serve_guarded<IO>(
    io: IO,
    proto: Proto,
    info: Arc<ConnInfo>,
    gateway: Gateway,
    limits: &LimitsConfig,
    stop: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match proto {
        Proto::Http2 => serve_io(io, info, gateway, limits, Proto::Http2, stop).await,
        Proto::Http1 => {
            let (io, guard) = Http1Guard::new(io, guard_limits(limits));
            serve_io(
                io,
                info.clone(),
                gateway.clone(),
                limits,
                Proto::Http1,
                stop,
            )
            .await;
            report_violation(&gateway, &info, &guard);
        }
    }
}

async fn serve_io<IO>(
    io: IO,
    info: Arc<ConnInfo>,
    gateway: Gateway,
    limits: &LimitsConfig,
    proto: Proto,
    mut stop: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let rt = gateway.current();
        let info = info.clone();
        async move { Ok::<_, Infallible>(handle(rt, info, req).await) }
    });
    let io = TokioIo::new(io);
    let result = match proto {
        Proto::Http1 => {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout.0)
                .max_buf_size(limits.max_header_bytes.as_usize().max(8192))
                .keep_alive(true)
                .serve_connection(io, svc)
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => r,
                _ = wait_true(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            }
        }
        Proto::Http2 => {
            let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .max_concurrent_streams(limits.h2_max_concurrent_streams)
                .max_pending_accept_reset_streams(limits.h2_max_pending_resets)
                .max_local_error_reset_streams(limits.h2_max_pending_resets)
                .max_header_list_size(u32::try_from(limits.max_header_bytes.0).unwrap_or(u32::MAX))
                .keep_alive_interval(Some(Duration::from_secs(30)))
                .keep_alive_timeout(Duration::from_secs(20))
                .serve_connection(io, svc);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => r,
                _ = wait_true(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Resolves once the shutdown flag is set (or its sender is gone).
async fn wait_true(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

fn guard_limits(limits: &LimitsConfig) -> GuardLimits {
    GuardLimits {
        max_head_bytes: limits.max_header_bytes.as_usize(),
        max_headers: limits.max_header_count,
        max_uri_bytes: limits.max_uri_bytes.as_usize(),
    }
}

/// A connection the framing guard refused gets an event and a metric.
fn report_violation(gateway: &Gateway, info: &ConnInfo, guard: &GuardHandle) {
    if let Some(v) = guard.violation() {
        metrics::counter!("palisade_protocol_violations_total", "violation" => v.as_str())
            .increment(1);
        crate::pipeline::record_connection_violation(
            &gateway.current(),
            info,
            v.as_str(),
            &v.to_string(),
            v.status_code(),
        );
    }
}

pin_project_lite::pin_project! {
    /// Closes a connection that has seen no bytes in either direction for
    /// `timeout` (an idle HTTP/2 connection, a stalled client, a quiet tunnel).
    ///
    /// Reads and writes only note the time; the timer is re-armed lazily when
    /// it fires early, so the hot path never touches the timer wheel.
    pub struct IdleTimeout<IO> {
        #[pin]
        io: IO,
        sleep: Pin<Box<Sleep>>,
        timeout: Duration,
        last_activity: Instant,
    }
}

impl<IO> IdleTimeout<IO> {
    pub fn new(io: IO, timeout: Duration) -> Self {
        IdleTimeout {
            io,
            sleep: Box::pin(tokio::time::sleep(timeout)),
            timeout,
            last_activity: Instant::now(),
        }
    }
}

/// True when the connection has really been idle for `timeout`; otherwise
/// re-arms the timer for the remaining time.
fn idle_expired(
    sleep: &mut Pin<Box<Sleep>>,
    last: Instant,
    timeout: Duration,
    cx: &mut Context<'_>,
) -> bool {
    while sleep.as_mut().poll(cx).is_ready() {
        let deadline = last + timeout;
        if Instant::now() >= deadline {
            return true;
        }
        sleep.as_mut().reset(deadline);
    }
    false
}

impl<IO: AsyncRead> AsyncRead for IdleTimeout<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        match this.io.poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    *this.last_activity = Instant::now();
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                if idle_expired(this.sleep, *this.last_activity, *this.timeout, cx) {
                    metrics::counter!("palisade_connections_idle_closed_total").increment(1);
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "idle timeout",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<IO: AsyncWrite> AsyncWrite for IdleTimeout<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let r = this.io.poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            *this.last_activity = Instant::now();
        }
        r
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

use std::future::Future;
