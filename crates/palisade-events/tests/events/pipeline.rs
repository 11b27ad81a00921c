use crate::common::{event, simple};
use palisade_core::{Action, Category, Finding, Latencies, Location, SecurityEvent, Severity};
use palisade_events::{
    render_json, EventPipeline, EventQuery, EventSink, EventStore, EventsConfig, JsonlSink,
    JsonlTarget, SqliteSink, SqliteSinkOptions, Submission,
};
use proptest::prelude::*;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const FLUSH: Duration = Duration::from_secs(20);

#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuffer {
    fn lines(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    }
}

#[test]
fn config_is_strict_and_documented_defaults_hold() {
    let config: EventsConfig = toml::from_str("").expect("empty config");
    assert_eq!(config, EventsConfig::default());
    assert_eq!(
        config.effective_sqlite_path(),
        Some(std::path::Path::new("palisade-events.db"))
    );
    let error = toml::from_str::<EventsConfig>("sqlite_pth = \"x.db\"").expect_err("typo");
    assert!(error.to_string().contains("sqlite_pth"), "{error}");

    let config: EventsConfig = toml::from_str(
        "sqlite_path = \"\"\njsonl = \"stdout\"\nqueue_capacity = 64\naccess_log_sample_rate = 0.5",
    )
    .expect("full config");
    assert_eq!(config.effective_sqlite_path(), None);
    assert_eq!(config.jsonl, Some(JsonlTarget::Stdout));
    config.validate().expect("valid");

    let file: EventsConfig = toml::from_str("jsonl = \"/var/log/p.jsonl\"").expect("file target");
    assert_eq!(
        file.jsonl,
        Some(JsonlTarget::File("/var/log/p.jsonl".into()))
    );

    for bad in [
        "access_log_sample_rate = 1.5",
        "queue_capacity = 1",
        "retention_days = 0",
        "batch_max = 0",
    ] {
        let config: EventsConfig = toml::from_str(bad).expect("parses");
        assert!(config.validate().is_err(), "{bad} must be refused");
        assert!(EventPipeline::from_config(&config).is_err());
    }
}

#[test]
fn pipeline_writes_sqlite_and_jsonl_and_samples_the_access_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("nested/dir/events.db");
    let jsonl_path = dir.path().join("logs/events.jsonl");
    let config = EventsConfig {
        sqlite_path: Some(db.clone()),
        jsonl: Some(JsonlTarget::File(jsonl_path.clone())),
        queue_capacity: 1_024,
        access_log_sample_rate: 0.0,
        ..EventsConfig::default()
    };
    let pipeline = EventPipeline::from_config(&config).expect("pipeline");
    assert_eq!(pipeline.sqlite_path(), Some(db.as_path()));

    let quiet = event(5, "192.0.2.1", &[], Action::Allowed);
    assert!(!EventPipeline::is_notable(&quiet));
    assert_eq!(pipeline.submit(quiet), Submission::NotSampled);
    assert_eq!(pipeline.submit(simple(6)), Submission::Recorded);
    let monitored_without_findings = event(7, "192.0.2.2", &[], Action::Monitored);
    assert_eq!(
        pipeline.submit(monitored_without_findings),
        Submission::Recorded
    );
    pipeline.flush_and_close().expect("close");

    let store = EventStore::open(&db).expect("store");
    assert_eq!(store.count().expect("count"), 2);
    let lines = std::fs::read_to_string(&jsonl_path).expect("jsonl file");
    let parsed: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[0]["time_ms"], 6);
    assert_eq!(parsed[0]["findings"][0]["rule_id"], "942100");
    assert_eq!(parsed[1]["action"], "monitored");

    let sampled_all = EventPipeline::from_sinks(None, None, 1.0);
    assert_eq!(
        sampled_all.submit(event(1, "192.0.2.1", &[], Action::Allowed)),
        Submission::Recorded
    );
}

#[test]
fn jsonl_sink_writes_one_object_per_line_and_drops_when_full() {
    let buffer = SharedBuffer::default();
    let sink = JsonlSink::with_writer(JsonlTarget::Stdout, Box::new(buffer.clone()), 10_000)
        .expect("sink");
    for i in 0..500 {
        assert!(sink.try_record(simple(i)));
    }
    assert!(sink.flush(FLUSH));
    let lines = buffer.lines();
    assert_eq!(lines.len(), 500);
    assert!(lines
        .iter()
        .enumerate()
        .all(|(i, l)| l["time_ms"] == serde_json::json!(i)));
    sink.flush_and_close().expect("close");
    assert!(!sink.try_record(simple(1)));
    assert_eq!(sink.stats().dropped, 1);
}

struct BlockedWriter(Arc<Mutex<()>>);

impl Write for BlockedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let _held = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let _held = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        Ok(())
    }
}

#[test]
fn jsonl_sink_never_blocks_behind_a_stuck_output() {
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().expect("gate");
    let sink = JsonlSink::with_writer(
        JsonlTarget::Stdout,
        Box::new(BlockedWriter(Arc::clone(&gate))),
        8,
    )
    .expect("sink");
    // Big events overflow the 64 KiB buffer, so the writer thread reaches the
    // stuck output quickly.
    let mut big = simple(0);
    big.path = "x".repeat(70_000);
    let started = std::time::Instant::now();
    for _ in 0..1_000 {
        sink.try_record(big.clone());
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    let stats = sink.stats();
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(stats.accepted + stats.dropped, 1_000);
    drop(held);
    assert!(sink.flush(FLUSH));
    assert_eq!(sink.stats().written, sink.stats().accepted);
}

fn arbitrary_event() -> impl Strategy<Value = SecurityEvent> {
    let text = "\\PC{0,24}|[\\x00-\\x1f\"\\\\]{0,6}";
    (
        (any::<i64>(), text, text, text, text, text),
        (
            proptest::option::of(text),
            any::<u16>(),
            0usize..3,
            any::<u32>(),
            proptest::collection::vec((text, 0usize..Category::ALL.len(), text), 0..4),
            (any::<u64>(), any::<u64>(), any::<u64>()),
        ),
    )
        .prop_map(
            |(
                (time_ms, request_id, client_ip, route, method, path),
                (principal, status, action, score, findings, (total, inspection, upstream)),
            )| SecurityEvent {
                time_ms,
                request_id,
                client_ip,
                peer_ip: "127.0.0.1".into(),
                route,
                method,
                path: path.clone(),
                operation: principal.clone(),
                principal,
                status,
                action: [Action::Allowed, Action::Blocked, Action::Monitored]
                    .get(action)
                    .cloned()
                    .unwrap_or(Action::Allowed),
                score,
                findings: findings
                    .into_iter()
                    .map(|(rule, category, evidence)| {
                        Finding::new(
                            rule,
                            Category::ALL
                                .get(category)
                                .copied()
                                .unwrap_or(Category::Other),
                            Severity::Warning,
                            Location::json("$.a"),
                            &evidence,
                            path.clone(),
                        )
                    })
                    .collect(),
                latencies: Latencies {
                    total_us: total,
                    inspection_us: inspection,
                    upstream_us: upstream,
                },
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn stored_events_round_trip_and_verify(events in proptest::collection::vec(arbitrary_event(), 1..6)) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = dir.path().join("events.db");
        let sink = SqliteSink::open(&path, SqliteSinkOptions::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for event in &events {
            prop_assert!(sink.try_record(event.clone()));
        }
        sink.flush_and_close().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let store = EventStore::open(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let stored = store
            .query(&EventQuery { limit: 100, ..EventQuery::default() })
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(stored.len(), events.len());
        for (original, back) in events.iter().zip(&stored) {
            let expected = serde_json::to_value(original).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&back.event, &expected);
            prop_assert_eq!(&back.client_ip, &original.client_ip);
            prop_assert_eq!(&back.path, &original.path);
            prop_assert_eq!(back.status, original.status);
            prop_assert_eq!(back.score, original.score);
            prop_assert_eq!(back.rules.len(), original.findings.len());

            let line: serde_json::Value = serde_json::from_str(&render_json(back))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut without_store_fields = line.clone();
            if let Some(map) = without_store_fields.as_object_mut() {
                map.remove("id");
                map.remove("hash");
            }
            prop_assert_eq!(&without_store_fields, &expected);
            prop_assert_eq!(&line["id"], &serde_json::json!(back.id));

            let as_json = serde_json::to_string(back).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let reparsed: palisade_events::StoredEvent = serde_json::from_str(&as_json)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&reparsed, back);
            let human = palisade_events::render_line(back);
            prop_assert!(!human.chars().any(char::is_control));
        }
        let report = store.verify_chain().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(report.is_intact());
        prop_assert_eq!(report.verified, events.len() as u64);
    }
}
