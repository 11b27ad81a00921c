//! Runs alone in its own process: it installs a global metrics recorder.

use crate::common::simple;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use palisade_events::{EventSink, SqliteSink, SqliteSinkOptions, METRIC_DROPPED, METRIC_WRITTEN};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default, Clone)]
struct CaptureRecorder {
    counters: Arc<Mutex<HashMap<String, Arc<AtomicU64>>>>,
}

impl CaptureRecorder {
    fn value(&self, name: &str, sink: &str) -> u64 {
        let key = format!("{name}{{sink={sink}}}");
        self.counters
            .lock()
            .ok()
            .and_then(|map| map.get(&key).map(|c| c.load(Ordering::Relaxed)))
            .unwrap_or(0)
    }
}

impl Recorder for CaptureRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        let mut map = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        Counter::from_arc(Arc::clone(map.entry(name).or_default()))
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[test]
fn drops_and_writes_are_reported_as_metrics() {
    let recorder = CaptureRecorder::default();
    metrics::set_global_recorder(recorder.clone()).expect("first recorder in this process");
    palisade_events::describe_metrics();

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let sink = SqliteSink::open(
        &path,
        SqliteSinkOptions {
            queue_capacity: 2,
            batch_max: 1,
            busy_timeout: Duration::from_secs(60),
            ..SqliteSinkOptions::default()
        },
    )
    .expect("open");
    let blocker = rusqlite::Connection::open(&path).expect("blocker");
    blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
    for i in 0..100 {
        sink.try_record(simple(i));
    }
    blocker.execute_batch("COMMIT").expect("unlock");
    sink.flush_and_close().expect("close");

    let stats = sink.stats();
    assert!(stats.dropped > 0);
    assert_eq!(recorder.value(METRIC_DROPPED, "sqlite"), stats.dropped);
    assert_eq!(recorder.value(METRIC_WRITTEN, "sqlite"), stats.written);
    assert_eq!(stats.written + stats.dropped, 100);
}
