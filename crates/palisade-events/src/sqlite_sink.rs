//! The SQLite sink: a dedicated writer thread appending to the hash chain.

use crate::canonical::canonical_json;
use crate::schema::{self, canonical_row, chain_hash, RowColumns, GENESIS_HASH};
use crate::worker::{Backend, QueuedWriter, SinkStats};
use crate::EventsError;
use palisade_core::SecurityEvent;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long old events are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this are pruned.
    pub max_age: Option<Duration>,
    /// Only the newest `max_rows` events are kept.
    pub max_rows: Option<u64>,
}

/// Tuning of the SQLite writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteSinkOptions {
    /// Events that may wait for the writer; more are dropped.
    pub queue_capacity: usize,
    /// Most events written in one transaction.
    pub batch_max: usize,
    pub retention: Retention,
    /// How often retention runs.
    pub prune_interval: Duration,
    /// How long the writer waits for a lock held by another connection before
    /// giving up on a batch.
    pub busy_timeout: Duration,
}

impl Default for SqliteSinkOptions {
    fn default() -> Self {
        SqliteSinkOptions {
            queue_capacity: 8_192,
            batch_max: 512,
            retention: Retention::default(),
            prune_interval: Duration::from_secs(60),
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// Appends events to the SQLite store from a dedicated thread.
pub struct SqliteSink {
    path: PathBuf,
    writer: QueuedWriter,
}

impl std::fmt::Debug for SqliteSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteSink")
            .field("path", &self.path)
            .field("stats", &self.writer.stats())
            .finish()
    }
}

impl SqliteSink {
    /// Opens or creates the database at `path` and starts the writer thread.
    /// An existing chain is continued from its last row.
    pub fn open(path: &Path, options: SqliteSinkOptions) -> Result<SqliteSink, EventsError> {
        let conn = schema::open_for_writing(path, options.busy_timeout)?;
        let (last_id, last_hash) = chain_head(&conn)?;
        let mut backend = SqliteBackend {
            conn,
            last_id,
            last_hash,
            retention: options.retention,
            prune_interval: options.prune_interval,
            last_prune: None,
        };
        backend.prune_if_due();
        let writer = QueuedWriter::start(backend, options.queue_capacity, options.batch_max)?;
        Ok(SqliteSink {
            path: path.to_path_buf(),
            writer,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues an event without blocking. Returns false when it was dropped
    /// (queue full or sink closed); drops are counted.
    pub fn try_record_shared(&self, event: Arc<SecurityEvent>) -> bool {
        self.writer.try_record(event)
    }

    /// Waits until everything queued so far is committed (at most `timeout`).
    /// Never call this on the data path.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.writer.flush(timeout)
    }

    /// Commits everything queued and stops the writer thread.
    pub fn flush_and_close(&self) -> Result<(), EventsError> {
        self.writer.close()
    }

    pub fn stats(&self) -> SinkStats {
        self.writer.stats()
    }
}

fn chain_head(conn: &Connection) -> Result<(i64, String), EventsError> {
    let last: Option<(i64, String)> = conn
        .query_row(
            "SELECT id, hash FROM events ORDER BY id DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    if let Some(head) = last {
        return Ok(head);
    }
    Ok(schema::read_anchor(conn)?.unwrap_or((0, GENESIS_HASH.to_string())))
}

struct SqliteBackend {
    conn: Connection,
    last_id: i64,
    last_hash: String,
    retention: Retention,
    prune_interval: Duration,
    last_prune: Option<Instant>,
}

/// One event ready to be inserted.
struct PreparedRow {
    columns: RowColumns,
    rules: Vec<(String, String)>,
    event_json: String,
    hash: String,
}

impl SqliteBackend {
    fn prepare(&self, events: &[Arc<SecurityEvent>]) -> Result<Vec<PreparedRow>, EventsError> {
        let mut prepared = Vec::with_capacity(events.len());
        let mut prev_hash = self.last_hash.clone();
        for (id, event) in (self.last_id + 1..).zip(events) {
            let value = serde_json::to_value(&**event).map_err(EventsError::Encode)?;
            let columns = RowColumns {
                id,
                time_ms: event.time_ms,
                request_id: event.request_id.clone(),
                client_ip: event.client_ip.clone(),
                peer_ip: event.peer_ip.clone(),
                route: event.route.clone(),
                method: event.method.clone(),
                path: event.path.clone(),
                status: i64::from(event.status),
                action: event.action.as_str().to_string(),
                score: i64::from(event.score),
                principal: event.principal.clone(),
            };
            let rules: Vec<(String, String)> = event
                .findings
                .iter()
                .map(|f| (f.rule_id.clone(), f.category.as_str().to_string()))
                .collect();
            let event_json = canonical_json(&value);
            let hash = chain_hash(&prev_hash, &canonical_row(&columns, &rules, &event_json));
            prev_hash.clone_from(&hash);
            prepared.push(PreparedRow {
                columns,
                rules,
                event_json,
                hash,
            });
        }
        Ok(prepared)
    }

    fn insert(&mut self, rows: &[PreparedRow]) -> Result<(), EventsError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert_event = tx.prepare_cached(
                "INSERT INTO events (id, time_ms, request_id, client_ip, peer_ip, route, method, \
                 path, status, action, score, principal, event_json, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?;
            let mut insert_rule = tx.prepare_cached(
                "INSERT INTO event_rules (event_id, seq, rule_id, category) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for row in rows {
                let c = &row.columns;
                insert_event.execute(params![
                    c.id,
                    c.time_ms,
                    c.request_id,
                    c.client_ip,
                    c.peer_ip,
                    c.route,
                    c.method,
                    c.path,
                    c.status,
                    c.action,
                    c.score,
                    c.principal,
                    row.event_json,
                    row.hash,
                ])?;
                for (seq, (rule_id, category)) in row.rules.iter().enumerate() {
                    insert_rule.execute(params![c.id, seq as i64, rule_id, category])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn prune_if_due(&mut self) {
        if self.retention.max_age.is_none() && self.retention.max_rows.is_none() {
            return;
        }
        if self
            .last_prune
            .is_some_and(|at| at.elapsed() < self.prune_interval)
        {
            return;
        }
        self.last_prune = Some(Instant::now());
        if let Err(error) = self.prune() {
            tracing::warn!(%error, "pruning old security events failed");
        }
    }

    /// Deletes a prefix of the chain and records where the rest starts, so the
    /// remaining rows still verify.
    fn prune(&mut self) -> Result<(), EventsError> {
        let mut cut: Option<i64> = None;
        if let Some(max_age) = self.retention.max_age {
            let cutoff = crate::since::cutoff_ms(crate::since::now_ms(), max_age);
            let by_age: Option<i64> = self.conn.query_row(
                "SELECT MAX(id) FROM events WHERE time_ms < ?1",
                [cutoff],
                |row| row.get(0),
            )?;
            cut = cut.max(by_age);
        }
        if let Some(max_rows) = self.retention.max_rows {
            let keep = i64::try_from(max_rows).unwrap_or(i64::MAX);
            let newest: Option<i64> =
                self.conn
                    .query_row("SELECT MAX(id) FROM events", [], |row| row.get(0))?;
            if let Some(newest) = newest {
                let by_count = newest.saturating_sub(keep);
                if by_count > 0 {
                    cut = cut.max(Some(by_count));
                }
            }
        }
        let Some(cut) = cut else {
            return Ok(());
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let anchor: Option<(i64, String)> = tx
            .query_row(
                "SELECT id, hash FROM events WHERE id <= ?1 ORDER BY id DESC LIMIT 1",
                [cut],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        if let Some((anchor_id, anchor_hash)) = anchor {
            tx.execute("DELETE FROM event_rules WHERE event_id <= ?1", [anchor_id])?;
            let deleted = tx.execute("DELETE FROM events WHERE id <= ?1", [anchor_id])?;
            tx.execute(
                "INSERT INTO chain_anchor (singleton, after_id, hash) VALUES (1, ?1, ?2) \
                 ON CONFLICT(singleton) DO UPDATE SET after_id = excluded.after_id, hash = excluded.hash",
                params![anchor_id, anchor_hash],
            )?;
            tracing::debug!(deleted, after_id = anchor_id, "pruned security events");
        }
        tx.commit()?;
        Ok(())
    }
}

impl Backend for SqliteBackend {
    const NAME: &'static str = "sqlite";

    fn write_batch(&mut self, events: &[Arc<SecurityEvent>]) -> Result<(), EventsError> {
        let rows = self.prepare(events)?;
        self.insert(&rows)?;
        if let Some(last) = rows.last() {
            self.last_id = last.columns.id;
            self.last_hash.clone_from(&last.hash);
        }
        Ok(())
    }

    fn idle(&mut self) {
        self.prune_if_due();
    }

    fn finish(&mut self) {
        // Folds the WAL back into the main file so a closed store is one file.
        if let Err(error) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        {
            tracing::debug!(%error, "WAL checkpoint at close failed");
        }
    }
}
