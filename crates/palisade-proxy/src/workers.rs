//! Thread-per-core serving.
//!
//! Each worker is an OS thread running its own single-threaded tokio runtime.
//! Every worker accepts on a clone of every listening socket (the kernel hands
//! a new connection to whichever worker is waiting, so an idle worker picks up
//! work first); a worker already serving clearly more connections than another
//! hands the socket to that one before reading from it ([`crate::balance`]).
//! The worker serving a connection serves it to its end, and sends the request
//! upstream over its own connection pool (see [`crate::upstream`]). A request
//! therefore never changes threads: no work stealing, no cross-thread wake-up
//! between the client connection and the upstream connection.
//!
//! Everything shared between workers is either immutable for the life of a
//! configuration generation ([`crate::Gateway`]) or lock-free/short-locked
//! (connection accounting, metrics, the event queue).

use crate::balance::Balancer;
use crate::conn::{
    run_listener, serve_handed_over, ConnLimits, HandedOver, ListenerSpec, WorkerSeat,
};
use crate::Gateway;
use palisade_config::WorkerPinning;
use std::future::Future;
use std::io;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

pub use palisade_core::worker::current_worker;

/// How many workers to start for a configured value: 0 means one per core.
pub fn worker_count(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
}

/// One bound listening socket and how its connections are served.
pub struct BoundListener {
    pub socket: std::net::TcpListener,
    pub spec: ListenerSpec,
}

/// The CPU each worker is pinned to, by worker index: none when pinning is
/// off, when the CPUs this process may use cannot be read, or when there are
/// more workers than such CPUs (two pinned to one core could never spread).
fn worker_cores(count: usize, pinning: WorkerPinning) -> Vec<core_affinity::CoreId> {
    if pinning == WorkerPinning::Off {
        return Vec::new();
    }
    match core_affinity::get_core_ids() {
        Some(cores) if cores.len() >= count => cores.into_iter().take(count).collect(),
        _ => Vec::new(),
    }
}

/// The connection balance of the workers, and one future per worker that
/// completes when the worker has drained and stopped.
pub type SpawnedWorkers<F> = (Arc<Balancer<HandedOver>>, Vec<F>);

/// Starts `count` workers serving `listeners` until `shutdown` turns true.
pub fn spawn_workers(
    count: usize,
    pinning: WorkerPinning,
    listeners: &[BoundListener],
    gateway: &Gateway,
    conn_limits: &Arc<ConnLimits>,
    shutdown: &watch::Receiver<bool>,
) -> io::Result<SpawnedWorkers<impl Future<Output = ()> + Send + 'static>> {
    let count = count.max(1);
    let (balancer, inboxes) = Balancer::<HandedOver>::new(count);
    let cores = worker_cores(count, pinning);
    let mut done = Vec::with_capacity(count);
    for (index, inbox) in (1..=count).zip(inboxes) {
        let mut sockets = Vec::with_capacity(listeners.len());
        for l in listeners {
            let socket = l.socket.try_clone()?;
            socket.set_nonblocking(true)?;
            sockets.push((socket, l.spec.clone()));
        }
        let gateway = gateway.clone();
        let conn_limits = conn_limits.clone();
        let shutdown = shutdown.clone();
        let seat_balancer = balancer.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (finished, finished_rx) = oneshot::channel::<()>();
        let core = cores.get(index - 1).copied();
        std::thread::Builder::new()
            .name(format!("palisade-worker-{index}"))
            .spawn(move || {
                palisade_core::worker::set_current_worker(index);
                if let Some(core) = core {
                    if !core_affinity::set_for_current(core) {
                        tracing::warn!(worker = index, cpu = core.id, "cannot pin the worker to its CPU");
                    }
                }
                runtime.block_on(async move {
                    let (alive, mut drained) = mpsc::channel::<()>(1);
                    let seat = WorkerSeat {
                        index: index - 1,
                        balancer: seat_balancer,
                        alive: alive.clone(),
                    };
                    let mut serving = Vec::with_capacity(sockets.len() + 1);
                    serving.push(tokio::spawn(serve_handed_over(
                        inbox,
                        gateway.clone(),
                        shutdown.clone(),
                        alive.clone(),
                    )));
                    for (socket, spec) in sockets {
                        match tokio::net::TcpListener::from_std(socket) {
                            Ok(listener) => serving.push(tokio::spawn(run_listener(
                                listener,
                                spec,
                                gateway.clone(),
                                conn_limits.clone(),
                                shutdown.clone(),
                                seat.clone(),
                            ))),
                            Err(e) => {
                                tracing::error!(worker = index, error = %e, "cannot register listener")
                            }
                        }
                    }
                    drop(seat);
                    drop(alive);
                    for s in serving {
                        let _ = s.await;
                    }
                    // Every connection this worker serves holds a clone of `alive`.
                    let drain = gateway.current().limits.drain_timeout.0;
                    if tokio::time::timeout(drain, drained.recv()).await.is_err() {
                        tracing::warn!(worker = index, "drain timeout reached with connections still open");
                    }
                });
                // Dropping the runtime cancels what the drain left behind.
                drop(runtime);
                let _ = finished.send(());
            })?;
        done.push(async move {
            let _ = finished_rx.await;
        });
    }
    Ok((balancer, done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_are_pinned_only_when_each_can_have_a_cpu_of_its_own() {
        let usable = core_affinity::get_core_ids().map_or(0, |c| c.len());
        assert!(worker_cores(1, WorkerPinning::Off).is_empty());
        if usable > 0 {
            let cores = worker_cores(usable, WorkerPinning::Cores);
            assert_eq!(cores.len(), usable);
            let mut ids: Vec<usize> = cores.iter().map(|c| c.id).collect();
            ids.dedup();
            assert_eq!(ids.len(), usable, "one CPU per worker: {ids:?}");
        }
        assert!(worker_cores(usable + 1, WorkerPinning::Cores).is_empty());
    }
}
