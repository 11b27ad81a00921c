//! The bounded queue and dedicated thread shared by every sink.
//!
//! Callers on the data path only ever `try_send` into a bounded channel: when
//! it is full the event is dropped and counted, never waited for. The thread
//! drains the queue in batches so a slow disk costs one transaction per batch
//! rather than one per event.

use crate::EventsError;
use palisade_core::SecurityEvent;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Metric: events accepted into a sink's queue and later written.
pub const METRIC_WRITTEN: &str = "palisade_events_written_total";
/// Metric: events dropped because a sink's queue was full or closed.
pub const METRIC_DROPPED: &str = "palisade_events_dropped_total";
/// Metric: events lost because their batch could not be written.
pub const METRIC_WRITE_ERRORS: &str = "palisade_events_write_errors_total";

/// Registers descriptions of the event metrics with the installed recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(METRIC_WRITTEN, "Security events written, by sink.");
    metrics::describe_counter!(
        METRIC_DROPPED,
        "Security events dropped because the sink's queue was full or closed, by sink."
    );
    metrics::describe_counter!(
        METRIC_WRITE_ERRORS,
        "Security events lost because the sink failed to write them, by sink."
    );
}

/// Running totals of one sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Events accepted into the queue.
    pub accepted: u64,
    /// Events written to the backing store.
    pub written: u64,
    /// Events refused because the queue was full or the sink closed.
    pub dropped: u64,
    /// Accepted events lost because writing them failed.
    pub write_errors: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    accepted: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    write_errors: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> SinkStats {
        SinkStats {
            accepted: self.accepted.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
        }
    }
}

/// What a sink's thread does with batches of events.
pub(crate) trait Backend: Send + 'static {
    /// Short name used as the `sink` metric label and in thread names.
    const NAME: &'static str;
    /// Writes a batch; on error none of the batch counts as written.
    fn write_batch(&mut self, events: &[Arc<SecurityEvent>]) -> Result<(), EventsError>;
    /// Called when the queue is momentarily empty.
    fn idle(&mut self) {}
    /// Called once after the last batch.
    fn finish(&mut self) {}
}

enum Command {
    Record(Arc<SecurityEvent>),
    Flush(mpsc::Sender<()>),
    Close,
}

pub(crate) struct QueuedWriter {
    name: &'static str,
    sender: SyncSender<Command>,
    counters: Arc<Counters>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl QueuedWriter {
    pub(crate) fn start<B: Backend>(
        backend: B,
        queue_capacity: usize,
        batch_max: usize,
    ) -> Result<Self, EventsError> {
        let (sender, receiver) = mpsc::sync_channel(queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let thread_counters = Arc::clone(&counters);
        let batch_max = batch_max.max(1);
        let worker = std::thread::Builder::new()
            .name(format!("palisade-events-{}", B::NAME))
            .spawn(move || run(backend, receiver, thread_counters, batch_max))
            .map_err(|source| EventsError::SpawnWriter {
                sink: B::NAME,
                source,
            })?;
        Ok(QueuedWriter {
            name: B::NAME,
            sender,
            counters,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Queues `event` without ever blocking; false (and counted) when dropped.
    pub(crate) fn try_record(&self, event: Arc<SecurityEvent>) -> bool {
        match self.sender.try_send(Command::Record(event)) {
            Ok(()) => {
                self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(METRIC_DROPPED, "sink" => self.name).increment(1);
                false
            }
        }
    }

    /// Blocks until everything queued before the call is written, or `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let (ack, done) = mpsc::channel();
        if self.sender.send(Command::Flush(ack)).is_err() {
            return false;
        }
        done.recv_timeout(timeout).is_ok()
    }

    /// Writes everything queued, stops the thread and waits for it.
    /// Events offered afterwards are dropped and counted.
    pub(crate) fn close(&self) -> Result<(), EventsError> {
        let handle = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(handle) = handle else {
            return Ok(());
        };
        // The thread may already have exited after a panic; join tells.
        let _ = self.sender.send(Command::Close);
        handle
            .join()
            .map_err(|_| EventsError::WriterGone(self.name))
    }

    pub(crate) fn stats(&self) -> SinkStats {
        self.counters.snapshot()
    }
}

impl Drop for QueuedWriter {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

const IDLE_TICK: Duration = Duration::from_secs(1);

fn run<B: Backend>(
    mut backend: B,
    receiver: Receiver<Command>,
    counters: Arc<Counters>,
    batch_max: usize,
) {
    let mut batch: Vec<Arc<SecurityEvent>> = Vec::with_capacity(batch_max);
    let mut acks: Vec<mpsc::Sender<()>> = Vec::new();
    let mut closing = false;
    while !closing {
        let first = match receiver.recv_timeout(IDLE_TICK) {
            Ok(command) => command,
            Err(RecvTimeoutError::Timeout) => {
                backend.idle();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Record(event) => batch.push(event),
                Command::Flush(ack) => acks.push(ack),
                // Whatever was accepted before closing is still written.
                Command::Close => closing = true,
            }
            if batch.len() >= batch_max {
                write(&mut backend, &mut batch, &counters);
            }
            next = receiver.try_recv().ok();
        }
        write(&mut backend, &mut batch, &counters);
        backend.idle();
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
    backend.finish();
}

fn write<B: Backend>(backend: &mut B, batch: &mut Vec<Arc<SecurityEvent>>, counters: &Counters) {
    if batch.is_empty() {
        return;
    }
    let count = batch.len() as u64;
    match backend.write_batch(batch) {
        Ok(()) => {
            counters.written.fetch_add(count, Ordering::Relaxed);
            metrics::counter!(METRIC_WRITTEN, "sink" => B::NAME).increment(count);
        }
        Err(error) => {
            counters.write_errors.fetch_add(count, Ordering::Relaxed);
            metrics::counter!(METRIC_WRITE_ERRORS, "sink" => B::NAME).increment(count);
            tracing::error!(sink = B::NAME, events = count, %error, "security events lost");
        }
    }
    batch.clear();
}
