//! Measures the event store: cost of `try_record` on the caller, writer
//! throughput, query latency and chain verification.
//!
//! `cargo run --release -p palisade-events --example event_throughput [EVENTS]`

use palisade_core::{Action, Category, Finding, Latencies, Location, SecurityEvent, Severity};
use palisade_events::{EventQuery, EventSink, EventStore, SqliteSink, SqliteSinkOptions};
use std::time::{Duration, Instant};

fn event(i: u64) -> SecurityEvent {
    let rule = ["942100", "941100", "930120", "932160"][(i % 4) as usize];
    SecurityEvent {
        time_ms: 1_700_000_000_000 + i as i64,
        request_id: format!("{i:016x}"),
        client_ip: format!("203.0.113.{}", i % 200),
        peer_ip: "10.0.0.1".into(),
        route: "api".into(),
        method: "GET".into(),
        path: "/api/products/{id}".into(),
        operation: Some("getProduct".into()),
        principal: None,
        status: 403,
        action: Action::Blocked,
        score: 5,
        findings: vec![Finding::new(
            rule,
            Category::SqlInjection,
            Severity::Critical,
            Location::query("q"),
            "' OR 1=1 --",
            "SQL tautology",
        )],
        latencies: Latencies {
            total_us: 800,
            inspection_us: 90,
            upstream_us: 650,
        },
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("events.db");
    let sink = SqliteSink::open(
        &path,
        SqliteSinkOptions {
            queue_capacity: 1_048_576,
            ..SqliteSinkOptions::default()
        },
    )?;
    let events: Vec<SecurityEvent> = (0..count).map(event).collect();

    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for e in events {
        let before = Instant::now();
        sink.try_record(e);
        slowest = slowest.max(before.elapsed());
    }
    let offered = started.elapsed();
    sink.flush_and_close()?;
    let written = started.elapsed();
    let stats = sink.stats();
    println!(
        "try_record: {count} events in {offered:?} ({:.0} ns/event, slowest {slowest:?}), dropped {}",
        offered.as_nanos() as f64 / count as f64,
        stats.dropped
    );
    println!(
        "writer: {} events committed in {written:?} ({:.0} events/s)",
        stats.written,
        stats.written as f64 / written.as_secs_f64()
    );

    let store = EventStore::open(&path)?;
    let queries = [
        (
            "ip",
            EventQuery {
                ip: Some("203.0.113.7".into()),
                limit: 100,
                ..EventQuery::default()
            },
        ),
        (
            "rule",
            EventQuery {
                rule: Some("930120".into()),
                limit: 100,
                ..EventQuery::default()
            },
        ),
        (
            "since",
            EventQuery {
                since_ms: Some(1_700_000_000_000 + count as i64 - 1_000),
                limit: 100,
                ..EventQuery::default()
            },
        ),
        (
            "ip+rule",
            EventQuery {
                ip: Some("203.0.113.8".into()),
                rule: Some("942100".into()),
                limit: 100,
                ..EventQuery::default()
            },
        ),
    ];
    for (name, query) in &queries {
        let started = Instant::now();
        let found = store.query(query)?;
        println!(
            "query by {name}: {} rows in {:?}",
            found.len(),
            started.elapsed()
        );
    }
    let started = Instant::now();
    let report = store.verify_chain()?;
    println!(
        "verify_chain: {} rows in {:?}, intact: {}",
        report.verified,
        started.elapsed(),
        report.is_intact()
    );
    println!(
        "database size: {:.1} MiB",
        std::fs::metadata(&path)?.len() as f64 / 1_048_576.0
    );
    Ok(())
}
