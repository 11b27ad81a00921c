use crate::common::{event, simple};
use palisade_core::{Action, Category};
use palisade_events::{
    BreakReason, EventQuery, EventSink, EventStore, Retention, SqliteSink, SqliteSinkOptions,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FLUSH: Duration = Duration::from_secs(20);

fn options() -> SqliteSinkOptions {
    SqliteSinkOptions {
        queue_capacity: 4_096,
        ..SqliteSinkOptions::default()
    }
}

fn write_simple(path: &std::path::Path, count: i64) {
    let sink = SqliteSink::open(path, options()).expect("open sink");
    for i in 0..count {
        assert!(sink.try_record(simple(1_000 + i)));
    }
    sink.flush_and_close().expect("close");
}

#[test]
fn concurrent_writers_then_query_by_ip_rule_since_and_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let sink = Arc::new(SqliteSink::open(&path, options()).expect("open sink"));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || {
                for i in 0..250i64 {
                    let ip = format!("203.0.113.{}", t + 1);
                    let (rules, action): (Vec<(&str, Category)>, Action) = match i % 3 {
                        0 => (vec![("942100", Category::SqlInjection)], Action::Blocked),
                        1 => (
                            vec![
                                ("941100", Category::Xss),
                                ("942100", Category::SqlInjection),
                            ],
                            Action::Monitored,
                        ),
                        _ => (vec![], Action::Allowed),
                    };
                    let time_ms = 10_000 + i * 10 + t;
                    while !sink.try_record(event(time_ms, &ip, &rules, action.clone())) {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("writer thread");
    }
    assert!(sink.flush(FLUSH));
    assert_eq!(sink.stats().written, 1_000);

    let store = EventStore::open(&path).expect("open store");
    assert_eq!(store.count().expect("count"), 1_000);

    let by_ip = store
        .query(&EventQuery {
            ip: Some("203.0.113.2".into()),
            limit: 10_000,
            ..EventQuery::default()
        })
        .expect("query ip");
    assert_eq!(by_ip.len(), 250);
    assert!(by_ip.iter().all(|e| e.client_ip == "203.0.113.2"));
    assert!(by_ip.windows(2).all(|w| w[0].id < w[1].id), "oldest first");

    let xss = store
        .query(&EventQuery {
            rule: Some("941100".into()),
            limit: 10_000,
            ..EventQuery::default()
        })
        .expect("query rule");
    // i % 3 == 1 for i in 0..250 is 83 values, per thread.
    assert_eq!(xss.len(), 4 * 83);
    assert!(xss
        .iter()
        .all(|e| e.rules.iter().any(|r| r.rule_id == "941100")));
    assert!(xss.iter().all(|e| e.action == "monitored"));

    let sqli = store
        .query(&EventQuery {
            rule: Some("942100".into()),
            limit: 10_000,
            ..EventQuery::default()
        })
        .expect("query sqli");
    assert_eq!(sqli.len(), 4 * (84 + 83));

    let by_category = store
        .query(&EventQuery {
            category: Some("xss".into()),
            limit: 10_000,
            ..EventQuery::default()
        })
        .expect("query category");
    assert_eq!(by_category.len(), xss.len());

    let recent = store
        .query(&EventQuery {
            since_ms: Some(10_000 + 200 * 10),
            limit: 10_000,
            ..EventQuery::default()
        })
        .expect("query since");
    assert_eq!(recent.len(), 4 * 50);
    assert!(recent.iter().all(|e| e.time_ms >= 12_000));

    let limited = store
        .query(&EventQuery {
            limit: 7,
            ..EventQuery::default()
        })
        .expect("query limit");
    assert_eq!(limited.len(), 7);
    let newest: Vec<i64> = (994..=1_000).collect();
    assert_eq!(limited.iter().map(|e| e.id).collect::<Vec<_>>(), newest);

    let combined = store
        .query(&EventQuery {
            ip: Some("203.0.113.3".into()),
            rule: Some("942100".into()),
            action: Some(Action::Blocked),
            since_ms: Some(11_000),
            limit: 10_000,
            ..EventQuery::default()
        })
        .expect("combined");
    let expected = (0..250i64)
        .filter(|i| i % 3 == 0 && 10_000 + i * 10 + 2 >= 11_000)
        .count();
    assert_eq!(combined.len(), expected);

    let blocked_events = store
        .query(&EventQuery {
            request_id: Some(combined[0].request_id.clone()),
            limit: 5,
            ..EventQuery::default()
        })
        .expect("by request id");
    assert_eq!(blocked_events.len(), 1);

    let report = store.verify_chain().expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.verified, 1_000);
    assert_eq!(report.head_id, Some(1_000));
    sink.flush_and_close().expect("close");
}

#[test]
fn ip_filter_matches_any_spelling_of_the_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let sink = SqliteSink::open(&path, options()).expect("open");
    assert!(sink.try_record(event(1, "2001:db8::1", &[], Action::Blocked)));
    sink.flush_and_close().expect("close");
    let store = EventStore::open(&path).expect("store");
    for spelling in ["2001:db8::1", "2001:0db8:0:0:0:0:0:1", "[2001:db8::1]"] {
        let found = store
            .query(&EventQuery {
                ip: Some(spelling.into()),
                limit: 10,
                ..EventQuery::default()
            })
            .expect("query");
        assert_eq!(found.len(), 1, "{spelling}");
    }
}

#[test]
fn tail_after_follows_new_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let sink = SqliteSink::open(&path, options()).expect("open");
    for i in 0..5 {
        assert!(sink.try_record(simple(i)));
    }
    assert!(sink.flush(FLUSH));
    let store = EventStore::open(&path).expect("store");
    let first = store.tail_after(0, 3).expect("tail");
    assert_eq!(
        first.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let rest = store.tail_after(3, 100).expect("tail");
    assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), vec![4, 5]);
    assert!(store.tail_after(5, 100).expect("tail").is_empty());
    for i in 5..8 {
        assert!(sink.try_record(simple(i)));
    }
    assert!(sink.flush(FLUSH));
    let new = store.tail_after(5, 100).expect("tail");
    assert_eq!(new.iter().map(|e| e.id).collect::<Vec<_>>(), vec![6, 7, 8]);
    assert_eq!(store.last_id().expect("last id"), 8);
    sink.flush_and_close().expect("close");
}

#[test]
fn full_queue_drops_and_counts_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let sink = SqliteSink::open(
        &path,
        SqliteSinkOptions {
            queue_capacity: 4,
            batch_max: 2,
            busy_timeout: Duration::from_secs(60),
            ..SqliteSinkOptions::default()
        },
    )
    .expect("open");

    // Another connection holds the write lock: the writer thread is stuck in
    // its busy handler exactly as it would be behind a stalled disk.
    let blocker = rusqlite::Connection::open(&path).expect("blocker");
    blocker
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take write lock");

    let offered = 2_000u64;
    let mut slowest = Duration::ZERO;
    let started = Instant::now();
    for i in 0..offered {
        let before = Instant::now();
        sink.try_record(simple(i as i64));
        slowest = slowest.max(before.elapsed());
    }
    let elapsed = started.elapsed();
    let stats = sink.stats();
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(stats.accepted + stats.dropped, offered);
    // The writer holds at most one batch plus the queue while blocked.
    assert!(stats.accepted <= 4 + 2 + 1, "{stats:?}");
    assert_eq!(stats.written, 0);
    assert!(
        slowest < Duration::from_millis(50),
        "try_record blocked for {slowest:?}"
    );
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");

    blocker.execute_batch("COMMIT").expect("release lock");
    assert!(sink.flush(FLUSH));
    let stats = sink.stats();
    assert_eq!(stats.written, stats.accepted);
    assert_eq!(stats.write_errors, 0);
    sink.flush_and_close().expect("close");

    let store = EventStore::open(&path).expect("store");
    assert_eq!(store.count().expect("count"), stats.accepted);
    assert!(store.verify_chain().expect("verify").is_intact());

    // After close, offers are dropped and counted, never queued.
    assert!(!sink.try_record(simple(1)));
    assert_eq!(sink.stats().dropped, stats.dropped + 1);
}

#[test]
fn flush_and_close_drains_the_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let sink = SqliteSink::open(
        &path,
        SqliteSinkOptions {
            queue_capacity: 10_000,
            batch_max: 7,
            ..SqliteSinkOptions::default()
        },
    )
    .expect("open");
    for i in 0..3_000 {
        assert!(sink.try_record(simple(i)));
    }
    sink.flush_and_close().expect("close");
    assert_eq!(sink.stats().written, 3_000);
    assert_eq!(
        EventStore::open(&path)
            .expect("store")
            .count()
            .expect("count"),
        3_000
    );
}

fn tamper_and_verify(sql: &str) -> (i64, BreakReason) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    write_simple(&path, 20);
    let store = EventStore::open(&path).expect("store");
    assert!(store.verify_chain().expect("verify").is_intact());
    drop(store);

    let conn = rusqlite::Connection::open(&path).expect("tamper connection");
    let changed = conn.execute(sql, []).expect("tamper");
    assert!(changed > 0, "tampering changed nothing: {sql}");
    drop(conn);

    let report = EventStore::open(&path)
        .expect("store")
        .verify_chain()
        .expect("verify");
    let broken = report.broken.expect("tampering must be detected");
    (broken.id, broken.reason)
}

#[test]
fn chain_detects_an_edited_column() {
    let (id, reason) = tamper_and_verify("UPDATE events SET client_ip = '192.0.2.99' WHERE id = 7");
    assert_eq!(id, 7);
    assert!(matches!(reason, BreakReason::HashMismatch { .. }));
}

#[test]
fn chain_detects_an_edited_event_json() {
    let (id, reason) = tamper_and_verify(
        "UPDATE events SET event_json = replace(event_json, '\"status\":403', '\"status\":200') WHERE id = 12",
    );
    assert_eq!(id, 12);
    assert!(matches!(reason, BreakReason::HashMismatch { .. }));
}

#[test]
fn chain_detects_an_edited_rule() {
    let (id, _) = tamper_and_verify("UPDATE event_rules SET rule_id = '000000' WHERE event_id = 3");
    assert_eq!(id, 3);
}

#[test]
fn chain_detects_a_deleted_row() {
    let (id, _) = tamper_and_verify("DELETE FROM events WHERE id = 10");
    assert_eq!(id, 11);
}

#[test]
fn chain_detects_a_deleted_first_row() {
    let (id, _) = tamper_and_verify("DELETE FROM events WHERE id = 1");
    assert_eq!(id, 2);
}

#[test]
fn chain_detects_a_rewritten_hash() {
    let (id, _) = tamper_and_verify(
        "UPDATE events SET hash = '1111111111111111111111111111111111111111111111111111111111111111' WHERE id = 15",
    );
    assert_eq!(id, 15);
}

#[test]
fn chain_detects_unparseable_json() {
    let (id, reason) = tamper_and_verify("UPDATE events SET event_json = '{broken' WHERE id = 4");
    assert_eq!(id, 4);
    assert!(matches!(reason, BreakReason::CorruptJson { .. }));
}

#[test]
fn reopening_continues_the_chain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    write_simple(&path, 5);
    write_simple(&path, 5);
    let store = EventStore::open(&path).expect("store");
    let all = store.tail_after(0, 100).expect("tail");
    assert_eq!(
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    let report = store.verify_chain().expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.verified, 10);
    assert_eq!(report.head_hash, all[9].hash);
}

#[test]
fn retention_prunes_a_prefix_and_keeps_the_chain_verifiable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let retained = SqliteSinkOptions {
        retention: Retention {
            max_age: None,
            max_rows: Some(20),
        },
        prune_interval: Duration::ZERO,
        ..options()
    };
    let sink = SqliteSink::open(&path, retained).expect("open");
    for i in 0..50 {
        assert!(sink.try_record(simple(i)));
    }
    sink.flush_and_close().expect("close");
    let store = EventStore::open(&path).expect("store");
    assert_eq!(store.count().expect("count"), 20);
    let report = store.verify_chain().expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.anchored_after, Some(30));
    assert_eq!(report.verified, 20);

    // Old events by age: everything here is from 1970.
    let aged = SqliteSinkOptions {
        retention: Retention {
            max_age: Some(Duration::from_secs(86_400)),
            max_rows: None,
        },
        prune_interval: Duration::ZERO,
        ..options()
    };
    let sink = SqliteSink::open(&path, aged).expect("reopen");
    assert!(sink.try_record(simple(palisade_events::now_ms())));
    sink.flush_and_close().expect("close");
    let store = EventStore::open(&path).expect("store");
    let left = store.tail_after(0, 100).expect("tail");
    assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), vec![51]);
    let report = store.verify_chain().expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.anchored_after, Some(50));

    // Deleting the anchored-after row range again is still detected.
    drop(store);
    let conn = rusqlite::Connection::open(&path).expect("tamper");
    conn.execute(
        "UPDATE chain_anchor SET hash = ?1",
        [palisade_events::GENESIS_HASH],
    )
    .expect("tamper anchor");
    drop(conn);
    let report = EventStore::open(&path)
        .expect("store")
        .verify_chain()
        .expect("verify");
    assert_eq!(report.broken.map(|b| b.id), Some(51));
}

#[test]
fn opening_a_missing_store_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let error = EventStore::open(&dir.path().join("absent.db")).expect_err("must fail");
    assert!(error.to_string().contains("no event database"), "{error}");

    let text_file = dir.path().join("notes.txt");
    std::fs::write(&text_file, "just some text, not SQLite at all").expect("write");
    let error = EventStore::open(&text_file).expect_err("must fail");
    assert!(error.to_string().contains("notes.txt"), "{error}");

    let other_db = dir.path().join("other.db");
    rusqlite::Connection::open(&other_db)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x INTEGER)"))
        .expect("other database");
    let error = EventStore::open(&other_db).expect_err("must fail");
    assert!(
        matches!(error, palisade_events::EventsError::NotEventDatabase { .. }),
        "{error}"
    );
}

#[test]
fn verify_while_the_writer_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let sink = Arc::new(SqliteSink::open(&path, options()).expect("open"));
    let writer = {
        let sink = Arc::clone(&sink);
        std::thread::spawn(move || {
            for i in 0..2_000 {
                while !sink.try_record(simple(i)) {
                    std::thread::yield_now();
                }
            }
        })
    };
    let store = EventStore::open(&path).expect("store");
    for _ in 0..5 {
        let report = store.verify_chain().expect("verify");
        assert!(report.is_intact(), "{report:?}");
    }
    writer.join().expect("writer");
    sink.flush_and_close().expect("close");
    assert_eq!(store.verify_chain().expect("verify").verified, 2_000);
}

#[test]
fn follow_streams_new_events_until_stopped() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("events.db");
    let sink = Arc::new(SqliteSink::open(&path, options()).expect("open"));
    for i in 0..3 {
        assert!(sink.try_record(simple(i)));
    }
    assert!(sink.flush(FLUSH));
    let store = EventStore::open(&path).expect("store");
    assert_eq!(store.tail_start(2).expect("start"), 1);
    assert_eq!(store.tail_start(100).expect("start"), 0);

    let writer = {
        let sink = Arc::clone(&sink);
        std::thread::spawn(move || {
            for i in 3..10 {
                assert!(sink.try_record(simple(i)));
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let stop = AtomicBool::new(false);
    let mut seen = Vec::new();
    let last = store
        .follow(1, Duration::from_millis(10), &stop, |event| {
            seen.push(event.id);
            if seen.len() == 9 {
                stop.store(true, Ordering::Relaxed);
            }
            Ok(())
        })
        .expect("follow");
    writer.join().expect("writer");
    assert_eq!(seen, (2..=10).collect::<Vec<_>>());
    assert_eq!(last, 10);

    let broken_pipe = store.follow(
        0,
        Duration::from_millis(10),
        &AtomicBool::new(false),
        |_| Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
    );
    assert!(matches!(
        broken_pipe,
        Err(palisade_events::EventsError::Output(_))
    ));
    sink.flush_and_close().expect("close");
}
