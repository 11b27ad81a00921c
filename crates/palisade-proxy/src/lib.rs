//! Palisade's HTTP engine.
//!
//! The proxy terminates client connections (HTTP/1.1, HTTP/2, TLS), runs every
//! request through the inspection pipeline (see [`pipeline`]), forwards what is
//! allowed to the upstream over pooled connections, and inspects the response
//! on the way back. Engines plug in as [`palisade_core::Detector`]s; events leave
//! through an [`EventRecorder`]. The configuration in force is held in a
//! [`Gateway`] and swapped atomically on reload.

pub mod admin;
pub mod balance;
pub mod body;
pub mod client_ip;
pub mod conn;
pub mod forwarding;
pub mod header_names;
pub mod hygiene;
pub mod json_limits;
pub mod pipeline;
pub mod problem;
pub mod routing;
pub mod runtime;
pub mod upstream;
pub mod workers;

use arc_swap::ArcSwap;
use palisade_core::{SecurityEvent, Transaction};
use std::sync::Arc;

pub use runtime::Runtime;

/// A boxed future, for the async hooks of [`AccessControl`].
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// A phase with nothing to do, as a [`BoxFuture`] that costs no allocation:
/// the future is zero-sized, and boxing a zero-sized value allocates nothing
/// (`std::future::ready(())` holds an `Option<()>`, one byte, and would).
pub fn nothing_to_do<'a>() -> BoxFuture<'a, ()> {
    Box::pin(NothingToDo)
}

struct NothingToDo;

impl std::future::Future for NothingToDo {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}

/// Identity, authorization and abuse limits: the pipeline stages that may need
/// I/O (a JWKS refetch, token introspection, a shared Redis counter). They run
/// before the detectors of their phase and report through the transaction:
/// a principal in `tx.principal`, refusals as findings with an enforcement.
pub trait AccessControl: Send + Sync + 'static {
    /// Authentication, authorization and rate limits, before the request-head detectors.
    fn on_request_head<'a>(&'a self, tx: &'a mut Transaction) -> BoxFuture<'a, ()>;
    /// The same stage when it can finish without waiting on anything (no
    /// key set to fetch, no shared counter to ask): `true` when it did.
    /// `false` means [`AccessControl::on_request_head`] must run, and finds
    /// nothing it would do differently. Spares the common request a future.
    fn on_request_head_now(&self, _tx: &mut Transaction) -> bool {
        false
    }
    /// Checks that need the body (login attempts), before the request-body detectors.
    fn on_request_body<'a>(&'a self, tx: &'a mut Transaction) -> BoxFuture<'a, ()>;
    /// Sets the verified identity headers on the upstream request (and strips client copies).
    fn upstream_headers(&self, tx: &Transaction, headers: &mut http::HeaderMap);
    /// Learns from the upstream's answer (failed logins).
    fn on_response<'a>(&'a self, tx: &'a mut Transaction, status: u16) -> BoxFuture<'a, ()>;
    /// Headers for the client's response (`RateLimit-*`).
    fn response_headers(&self, tx: &Transaction, headers: &mut http::HeaderMap);
}

/// Where security events go. Implementations must not block.
pub trait EventRecorder: Send + Sync + 'static {
    fn record(&self, event: SecurityEvent);
}

/// Discards events (tests, benchmarks).
#[derive(Debug, Default)]
pub struct NoEvents;

impl EventRecorder for NoEvents {
    fn record(&self, _event: SecurityEvent) {}
}

/// The configuration in force, swappable at run time.
#[derive(Clone, Debug)]
pub struct Gateway {
    inner: Arc<ArcSwap<Runtime>>,
}

impl Gateway {
    pub fn new(runtime: Runtime) -> Self {
        Gateway {
            inner: Arc::new(ArcSwap::from_pointee(runtime)),
        }
    }

    /// The runtime a new request should use; it keeps it to the end.
    pub fn current(&self) -> Arc<Runtime> {
        self.inner.load_full()
    }

    /// Installs a new runtime; in-flight requests finish on the old one.
    pub fn swap(&self, runtime: Runtime) {
        self.inner.store(Arc::new(runtime));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_phase_with_nothing_to_do_is_zero_sized() {
        assert_eq!(std::mem::size_of::<super::NothingToDo>(), 0);
        assert_eq!(std::mem::size_of_val(&std::future::ready(())), 1);
    }

    #[tokio::test]
    async fn a_phase_with_nothing_to_do_completes_at_once() {
        super::nothing_to_do().await;
    }
}
