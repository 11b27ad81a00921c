//! Keeps the workers' shares of connections even.
//!
//! Every worker accepts on the same sockets and takes every connection that
//! is waiting when it is woken. A burst of new connections (a load balancer's
//! or an HTTP client's pool opening at once) therefore tends to land on one
//! worker, and while those keep-alive connections live the other cores sit
//! idle. So a worker that already serves [`Balancer::SLACK`] connections more
//! than the least busy worker passes a connection it accepts to that worker
//! instead of serving it. Only the accepted socket changes threads, before a
//! byte of it is read; after that a connection stays on its worker.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Connections per worker, and a way to hand a connection to each worker.
pub struct Balancer<T> {
    active: Box<[AtomicUsize]>,
    /// Placements happen one at a time, so that two workers accepting at
    /// once cannot both decide on counts the other is changing (once per
    /// connection, not per request).
    placing: Mutex<()>,
    inboxes: Box<[mpsc::UnboundedSender<T>]>,
    gauges: Box<[metrics::Gauge]>,
}

impl<T> std::fmt::Debug for Balancer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Balancer")
            .field("active", &self.loads())
            .finish()
    }
}

impl<T> Balancer<T> {
    /// How many connections more than the least busy worker a worker may
    /// serve before it hands new ones over: one would move connections back
    /// and forth on every close.
    pub const SLACK: usize = 2;

    /// A balancer for `workers` workers (indexed from 0), and the inbox
    /// each worker receives handed-over connections from.
    pub fn new(workers: usize) -> (Arc<Self>, Vec<mpsc::UnboundedReceiver<T>>) {
        let workers = workers.max(1);
        let (inboxes, receivers): (Vec<_>, Vec<_>) =
            (0..workers).map(|_| mpsc::unbounded_channel()).unzip();
        let gauges = (1..=workers)
            .map(|w| metrics::gauge!("palisade_worker_connections", "worker" => w.to_string()))
            .collect();
        let balancer = Balancer {
            active: (0..workers).map(|_| AtomicUsize::new(0)).collect(),
            placing: Mutex::new(()),
            inboxes: inboxes.into(),
            gauges,
        };
        (Arc::new(balancer), receivers)
    }

    /// The worker that serves a connection accepted by worker `accepted_by`,
    /// counted as serving it until the returned slot is dropped.
    pub fn place(self: &Arc<Self>, accepted_by: usize) -> Slot<T> {
        let _one_at_a_time = self.placing.lock().unwrap_or_else(|e| e.into_inner());
        let own = accepted_by.min(self.active.len() - 1);
        let load = |w: usize| {
            self.active
                .get(w)
                .map_or(usize::MAX, |a| a.load(Ordering::Relaxed))
        };
        let (least, least_load) = (0..self.active.len())
            .map(|w| (w, load(w)))
            .min_by_key(|&(w, l)| (l, w != own))
            .unwrap_or((own, 0));
        let worker = if load(own) >= least_load + Self::SLACK {
            least
        } else {
            own
        };
        if let Some(a) = self.active.get(worker) {
            let now = a.fetch_add(1, Ordering::Relaxed) + 1;
            self.gauge(worker, now);
        }
        Slot {
            balancer: self.clone(),
            worker,
        }
    }

    /// Connections each worker serves now, by worker index.
    pub fn loads(&self) -> Vec<usize> {
        self.active
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .collect()
    }

    /// Sends `item` to worker `worker`'s inbox; gives it back when that
    /// worker no longer receives (it is shutting down).
    pub fn hand_over(&self, worker: usize, item: T) -> Result<(), T> {
        match self.inboxes.get(worker) {
            Some(inbox) => inbox.send(item).map_err(|e| e.0),
            None => Err(item),
        }
    }

    fn gauge(&self, worker: usize, value: usize) {
        if let Some(g) = self.gauges.get(worker) {
            g.set(value as f64);
        }
    }
}

/// One connection counted against a worker for as long as it lives.
pub struct Slot<T> {
    balancer: Arc<Balancer<T>>,
    worker: usize,
}

impl<T> Slot<T> {
    /// The worker (from 0) that serves the connection.
    pub fn worker(&self) -> usize {
        self.worker
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        if let Some(a) = self.balancer.active.get(self.worker) {
            let now = a.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
            self.balancer.gauge(self.worker, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_accepted_by_one_worker_is_spread_evenly() {
        let (balancer, _inboxes) = Balancer::<()>::new(2);
        let slots: Vec<_> = (0..32).map(|_| balancer.place(0)).collect();
        assert_eq!(balancer.loads(), vec![17, 15]);
        assert_eq!(slots.iter().filter(|s| s.worker() == 1).count(), 15);
    }

    #[test]
    fn a_worker_keeps_what_it_accepts_while_within_the_slack() {
        let (balancer, _inboxes) = Balancer::<()>::new(4);
        let a = balancer.place(2);
        let b = balancer.place(2);
        assert_eq!((a.worker(), b.worker()), (2, 2));
        // Two ahead of the others: the next goes to the least busy (lowest index first).
        assert_eq!(balancer.place(2).worker(), 0);
    }

    #[test]
    fn workers_placing_at_once_keep_the_shares_within_the_slack() {
        let (balancer, _inboxes) = Balancer::<()>::new(3);
        let slots: Vec<Slot<()>> = std::thread::scope(|scope| {
            let placers: Vec<_> = (0..3)
                .map(|worker| {
                    let balancer = &balancer;
                    scope
                        .spawn(move || (0..200).map(|_| balancer.place(worker)).collect::<Vec<_>>())
                })
                .collect();
            placers
                .into_iter()
                .flat_map(|p| p.join().unwrap_or_default())
                .collect()
        });
        let loads = balancer.loads();
        assert_eq!(loads.iter().sum::<usize>(), slots.len());
        let spread = loads
            .iter()
            .max()
            .zip(loads.iter().min())
            .map(|(a, b)| a - b);
        assert!(
            spread.is_some_and(|s| s <= Balancer::<()>::SLACK),
            "{loads:?}"
        );
    }

    #[test]
    fn closing_connections_frees_their_worker() {
        let (balancer, _inboxes) = Balancer::<()>::new(2);
        let first: Vec<_> = (0..6).map(|_| balancer.place(1)).collect();
        assert_eq!(balancer.loads(), vec![2, 4]);
        drop(first);
        assert_eq!(balancer.loads(), vec![0, 0]);
    }

    #[test]
    fn a_single_worker_serves_everything() {
        let (balancer, _inboxes) = Balancer::<()>::new(1);
        let slots: Vec<_> = (0..10).map(|_| balancer.place(0)).collect();
        assert!(slots.iter().all(|s| s.worker() == 0));
        // An index out of range (a listener run outside the workers) is clamped.
        assert_eq!(balancer.place(7).worker(), 0);
    }

    #[test]
    fn handing_over_to_a_stopped_worker_gives_the_item_back() {
        let (balancer, mut inboxes) = Balancer::<u32>::new(2);
        assert_eq!(balancer.hand_over(1, 5), Ok(()));
        assert_eq!(inboxes.get_mut(1).and_then(|r| r.try_recv().ok()), Some(5));
        drop(inboxes);
        assert_eq!(balancer.hand_over(1, 6), Err(6));
        assert_eq!(balancer.hand_over(9, 7), Err(7));
    }
}
