//! Metric handles whose request path touches only the calling worker's memory.
//!
//! A `metrics` counter or histogram is one object every worker updates: each
//! request then moves its cache line (or, for a histogram, the tail of its
//! sample list) from the core that last wrote it. On the request path that
//! costs more than the rest of the bookkeeping together. The handles here keep
//! one tally per worker ([`crate::worker::current_worker`]) and hand the sum
//! to the recorder's handle in batches: when a worker's histogram buffer
//! fills, when the handle is dropped (a reload), and whenever
//! [`flush_worker_metrics`] runs, which whoever reads the recorder (the
//! Prometheus endpoint) calls first. What a scrape shows is therefore exact.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// Tallies kept apart; workers beyond this many share them (still exact,
/// only less private).
const STRIPES: usize = 16;
/// Samples a worker buffers per histogram before handing them over itself.
const HISTOGRAM_BATCH: usize = 128;

/// Whatever a worker's tally is kept in, alone on its cache line(s).
#[derive(Default)]
#[repr(align(128))]
struct Padded<T>(T);

fn stripe() -> usize {
    crate::worker::current_worker() % STRIPES
}

trait Flush: Send + Sync {
    fn flush(&self);
}

/// Every live handle, so that a reader can flush them all.
static LIVE: Mutex<Vec<Weak<dyn Flush>>> = Mutex::new(Vec::new());

fn register(handle: Arc<dyn Flush>) {
    let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
    live.retain(|w| w.strong_count() > 0);
    live.push(Arc::downgrade(&handle));
}

/// Hands every worker's pending counts and samples to the recorder. Call it
/// before reading the recorder.
pub fn flush_worker_metrics() {
    let live: Vec<Arc<dyn Flush>> = {
        let mut live = LIVE.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|w| w.strong_count() > 0);
        live.iter().filter_map(Weak::upgrade).collect()
    };
    for handle in live {
        handle.flush();
    }
}

struct CounterTallies {
    inner: metrics::Counter,
    stripes: [Padded<AtomicU64>; STRIPES],
}

impl Flush for CounterTallies {
    fn flush(&self) {
        let sum: u64 = self
            .stripes
            .iter()
            .map(|s| s.0.swap(0, Ordering::Relaxed))
            .fold(0, u64::wrapping_add);
        if sum > 0 {
            self.inner.increment(sum);
        }
    }
}

impl Drop for CounterTallies {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A counter each worker increments in its own tally.
#[derive(Clone)]
pub struct WorkerCounter(Arc<CounterTallies>);

impl WorkerCounter {
    /// Wraps a handle of the installed recorder (`metrics::counter!(...)`).
    pub fn new(inner: metrics::Counter) -> Self {
        let tallies = Arc::new(CounterTallies {
            inner,
            stripes: Default::default(),
        });
        register(tallies.clone());
        WorkerCounter(tallies)
    }

    pub fn increment(&self, value: u64) {
        self.0.stripes[stripe()]
            .0
            .fetch_add(value, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for WorkerCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkerCounter")
    }
}

struct HistogramSamples {
    inner: metrics::Histogram,
    stripes: [Padded<Mutex<Vec<f64>>>; STRIPES],
}

impl HistogramSamples {
    fn hand_over(&self, samples: &mut Vec<f64>) {
        for value in samples.drain(..) {
            self.inner.record(value);
        }
    }
}

impl Flush for HistogramSamples {
    fn flush(&self) {
        for stripe in &self.stripes {
            let mut samples = stripe.0.lock().unwrap_or_else(PoisonError::into_inner);
            self.hand_over(&mut samples);
        }
    }
}

impl Drop for HistogramSamples {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A histogram each worker records into its own buffer.
#[derive(Clone)]
pub struct WorkerHistogram(Arc<HistogramSamples>);

impl WorkerHistogram {
    /// Wraps a handle of the installed recorder (`metrics::histogram!(...)`).
    pub fn new(inner: metrics::Histogram) -> Self {
        let samples = Arc::new(HistogramSamples {
            inner,
            stripes: Default::default(),
        });
        register(samples.clone());
        WorkerHistogram(samples)
    }

    pub fn record(&self, value: f64) {
        let mut samples = self.0.stripes[stripe()]
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if samples.capacity() == 0 {
            samples.reserve_exact(HISTOGRAM_BATCH);
        }
        samples.push(value);
        if samples.len() >= HISTOGRAM_BATCH {
            self.0.hand_over(&mut samples);
        }
    }
}

impl std::fmt::Debug for WorkerHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkerHistogram")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics::{CounterFn, HistogramFn};
    use std::sync::atomic::AtomicUsize;

    #[derive(Default)]
    struct Seen {
        count: AtomicU64,
        samples: Mutex<Vec<f64>>,
        increments: AtomicUsize,
    }
    impl CounterFn for Seen {
        fn increment(&self, value: u64) {
            self.count.fetch_add(value, Ordering::Relaxed);
            self.increments.fetch_add(1, Ordering::Relaxed);
        }
        fn absolute(&self, value: u64) {
            self.count.store(value, Ordering::Relaxed);
        }
    }
    impl HistogramFn for Seen {
        fn record(&self, value: f64) {
            self.samples.lock().unwrap().push(value);
        }
    }

    #[test]
    fn counts_from_every_worker_reach_the_recorder_on_flush() {
        let seen = Arc::new(Seen::default());
        let counter = WorkerCounter::new(metrics::Counter::from_arc(seen.clone()));
        let threads: Vec<_> = (1..=4)
            .map(|worker| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    crate::worker::set_current_worker(worker);
                    for _ in 0..1000 {
                        counter.increment(2);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Other tests flush too, so batches may be split; the total is what counts.
        assert!(
            seen.increments.load(Ordering::Relaxed) < 100,
            "batched, not per increment"
        );
        flush_worker_metrics();
        assert_eq!(seen.count.load(Ordering::Relaxed), 8000);
        flush_worker_metrics();
        assert_eq!(
            seen.count.load(Ordering::Relaxed),
            8000,
            "nothing counted twice"
        );
    }

    #[test]
    fn a_dropped_counter_hands_over_what_it_held() {
        let seen = Arc::new(Seen::default());
        let counter = WorkerCounter::new(metrics::Counter::from_arc(seen.clone()));
        counter.increment(5);
        drop(counter);
        assert_eq!(seen.count.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn histogram_samples_arrive_in_batches_and_on_flush() {
        let seen = Arc::new(Seen::default());
        let histogram = WorkerHistogram::new(metrics::Histogram::from_arc(seen.clone()));
        for i in 0..HISTOGRAM_BATCH {
            histogram.record(i as f64);
        }
        assert_eq!(
            seen.samples.lock().unwrap().len(),
            HISTOGRAM_BATCH,
            "a full batch goes at once"
        );
        histogram.record(0.5);
        flush_worker_metrics();
        let samples = seen.samples.lock().unwrap();
        assert_eq!(samples.len(), HISTOGRAM_BATCH + 1);
        assert_eq!(samples.last(), Some(&0.5));
    }

    #[test]
    fn a_dropped_histogram_hands_over_what_it_held() {
        let seen = Arc::new(Seen::default());
        let histogram = WorkerHistogram::new(metrics::Histogram::from_arc(seen.clone()));
        histogram.record(1.5);
        drop(histogram);
        assert_eq!(*seen.samples.lock().unwrap(), vec![1.5]);
    }
}
