//! Which serving worker the current thread is.
//!
//! The gateway serves connections thread-per-core; state that is cheaper kept
//! per worker (upstream connection pools, Redis connections and their request
//! batches) is indexed by this number so that a request never waits on
//! another thread.

use std::cell::Cell;

thread_local! {
    static WORKER_INDEX: Cell<usize> = const { Cell::new(0) };
}

/// The worker serving on this thread: 1..=n on worker threads, 0 on any
/// other thread.
pub fn current_worker() -> usize {
    WORKER_INDEX.with(Cell::get)
}

/// Marks this thread as worker `index` (1-based). Called once by each worker thread.
pub fn set_current_worker(index: usize) {
    WORKER_INDEX.with(|w| w.set(index));
}
