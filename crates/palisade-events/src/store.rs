//! The read side: queries, tailing and chain verification on a separate connection.

use crate::schema::{self, canonical_row, chain_hash, RowColumns, GENESIS_HASH};
use crate::EventsError;
use palisade_core::Action;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, Row};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// One rule that fired for a stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRule {
    pub rule_id: String,
    pub category: String,
}

/// An event as read back from the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Position in the chain; increases by one per event.
    pub id: i64,
    pub time_ms: i64,
    pub request_id: String,
    pub client_ip: String,
    pub peer_ip: String,
    pub route: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// `allowed`, `blocked` or `monitored`.
    pub action: String,
    pub score: u32,
    pub principal: Option<String>,
    /// Rules of the findings, in finding order.
    pub rules: Vec<StoredRule>,
    /// The full [`palisade_core::SecurityEvent`] as JSON.
    pub event: serde_json::Value,
    /// Chain hash of this row (hex SHA-256).
    pub hash: String,
}

/// Filters for [`EventStore::query`]. All set filters must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    /// Only events at or after this Unix time in milliseconds.
    pub since_ms: Option<i64>,
    /// Only events before this Unix time in milliseconds.
    pub until_ms: Option<i64>,
    /// Client IP (after trusted-proxy resolution); any textual form of the
    /// address matches.
    pub ip: Option<String>,
    /// Exact rule id of at least one finding.
    pub rule: Option<String>,
    /// Category name of at least one finding (`sql_injection`...).
    pub category: Option<String>,
    pub action: Option<Action>,
    pub route: Option<String>,
    pub request_id: Option<String>,
    /// Most events returned: the newest matching ones.
    pub limit: usize,
}

/// Parses `allowed`, `blocked` or `monitored`.
pub fn parse_action(text: &str) -> Result<Action, EventsError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "allowed" | "allow" => Ok(Action::Allowed),
        "blocked" | "block" => Ok(Action::Blocked),
        "monitored" | "monitor" => Ok(Action::Monitored),
        _ => Err(EventsError::UnknownAction(text.to_string())),
    }
}

/// How the chain verification ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Rows whose hash matched, counted from the start of the chain.
    pub verified: u64,
    /// Id after which the chain starts (rows up to it were pruned), if pruned.
    pub anchored_after: Option<i64>,
    /// Hash of the last verified row: keep it elsewhere to detect truncation
    /// or a rewritten chain later.
    pub head_hash: String,
    pub head_id: Option<i64>,
    /// The first row that does not verify, if any.
    pub broken: Option<BrokenLink>,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// The first row at which the chain fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub id: i64,
    pub reason: BreakReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum BreakReason {
    /// The row's content, a rule of it, or the row before it was changed,
    /// inserted or deleted.
    HashMismatch { stored: String, computed: String },
    /// The stored event JSON does not parse.
    CorruptJson { error: String },
    /// A column holds a value of the wrong type.
    CorruptColumn { column: String },
}

impl std::fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            BreakReason::HashMismatch { stored, computed } => write!(
                f,
                "event {}: stored hash {stored} does not match recomputed {computed} \
                 (this row or an earlier one was altered, inserted or deleted)",
                self.id
            ),
            BreakReason::CorruptJson { error } => {
                write!(f, "event {}: stored JSON does not parse: {error}", self.id)
            }
            BreakReason::CorruptColumn { column } => {
                write!(
                    f,
                    "event {}: column {column} holds an invalid value",
                    self.id
                )
            }
        }
    }
}

/// Read access to an event database written by [`crate::SqliteSink`].
pub struct EventStore {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for EventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStore")
            .field("path", &self.path)
            .finish()
    }
}

const SELECT_COLUMNS: &str = "SELECT e.id, e.time_ms, e.request_id, e.client_ip, e.peer_ip, \
     e.route, e.method, e.path, e.status, e.action, e.score, e.principal, e.event_json, e.hash \
     FROM events e";

/// Largest `limit` honoured in one call.
pub const MAX_QUERY_LIMIT: usize = 1_000_000;

impl EventStore {
    /// Opens an existing database for reading, on its own connection; the
    /// writer may keep appending meanwhile (WAL readers do not block it).
    pub fn open(path: &Path) -> Result<EventStore, EventsError> {
        let conn = schema::open_for_reading(path)?;
        Ok(EventStore {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The newest events matching `query`, oldest first.
    pub fn query(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, EventsError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = String::from(SELECT_COLUMNS);
        let mut conditions: Vec<&str> = Vec::new();
        let mut values: Vec<SqlValue> = Vec::new();
        if let Some(since) = query.since_ms {
            conditions.push("e.time_ms >= ?");
            values.push(SqlValue::Integer(since));
        }
        if let Some(until) = query.until_ms {
            conditions.push("e.time_ms < ?");
            values.push(SqlValue::Integer(until));
        }
        if let Some(ip) = &query.ip {
            conditions.push("e.client_ip = ?");
            values.push(SqlValue::Text(normalize_ip(ip)));
        }
        if let Some(rule) = &query.rule {
            conditions.push(
                "EXISTS (SELECT 1 FROM event_rules r WHERE r.rule_id = ? AND r.event_id = e.id)",
            );
            values.push(SqlValue::Text(rule.clone()));
        }
        if let Some(category) = &query.category {
            conditions.push(
                "EXISTS (SELECT 1 FROM event_rules r WHERE r.category = ? AND r.event_id = e.id)",
            );
            values.push(SqlValue::Text(category.clone()));
        }
        if let Some(action) = &query.action {
            conditions.push("e.action = ?");
            values.push(SqlValue::Text(action.as_str().to_string()));
        }
        if let Some(route) = &query.route {
            conditions.push("e.route = ?");
            values.push(SqlValue::Text(route.clone()));
        }
        if let Some(request_id) = &query.request_id {
            conditions.push("e.request_id = ?");
            values.push(SqlValue::Text(request_id.clone()));
        }
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(" ORDER BY e.id DESC LIMIT ?");
        values.push(SqlValue::Integer(limit_value(query.limit)));
        let mut events = self.fetch(&sql, values)?;
        events.reverse();
        Ok(events)
    }

    /// Events with an id above `last_id`, oldest first, at most `limit`:
    /// call repeatedly with the last id seen to follow the store.
    pub fn tail_after(&self, last_id: i64, limit: usize) -> Result<Vec<StoredEvent>, EventsError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let sql = format!("{SELECT_COLUMNS} WHERE e.id > ? ORDER BY e.id ASC LIMIT ?");
        self.fetch(
            &sql,
            vec![
                SqlValue::Integer(last_id),
                SqlValue::Integer(limit_value(limit)),
            ],
        )
    }

    /// The id to pass to [`EventStore::tail_after`] to start with the newest
    /// `last_n` events.
    pub fn tail_start(&self, last_n: usize) -> Result<i64, EventsError> {
        let back = i64::try_from(last_n).unwrap_or(i64::MAX);
        Ok(self.last_id()?.saturating_sub(back).max(0))
    }

    /// Follows the store like `tail -f`: hands every event with an id above
    /// `after_id` to `on_event` in order, polling every `poll`, until `stop`
    /// is set or `on_event` fails (a closed pipe, say). Returns the last id
    /// handed over.
    pub fn follow(
        &self,
        after_id: i64,
        poll: Duration,
        stop: &AtomicBool,
        mut on_event: impl FnMut(&StoredEvent) -> std::io::Result<()>,
    ) -> Result<i64, EventsError> {
        const FOLLOW_BATCH: usize = 1_000;
        let mut last = after_id;
        while !stop.load(Ordering::Relaxed) {
            let events = self.tail_after(last, FOLLOW_BATCH)?;
            for event in &events {
                on_event(event).map_err(EventsError::Output)?;
                last = event.id;
            }
            if events.len() < FOLLOW_BATCH {
                std::thread::sleep(poll);
            }
        }
        Ok(last)
    }

    /// Id of the newest event, 0 when the store is empty.
    pub fn last_id(&self) -> Result<i64, EventsError> {
        let id: Option<i64> = self
            .conn
            .query_row("SELECT MAX(id) FROM events", [], |row| row.get(0))?;
        Ok(id.unwrap_or(0))
    }

    pub fn count(&self) -> Result<u64, EventsError> {
        let count: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |row| row.get(0))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    fn fetch(&self, sql: &str, values: Vec<SqlValue>) -> Result<Vec<StoredEvent>, EventsError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params_from_iter(values))?;
        let mut events = Vec::new();
        while let Some(row) = rows.next()? {
            let raw = RawRow::read(row)?;
            let rules = self.rules_of(raw.columns.id)?;
            events.push(raw.into_stored(rules)?);
        }
        Ok(events)
    }

    fn rules_of(&self, id: i64) -> Result<Vec<(String, String)>, EventsError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT rule_id, category FROM event_rules WHERE event_id = ?1 ORDER BY seq",
        )?;
        let rules = stmt
            .query_map([id], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<Vec<(String, String)>, _>>()?;
        Ok(rules)
    }

    /// Recomputes the hash chain from its start and reports the first row
    /// that does not match. Reading only: safe while the writer runs (it
    /// checks a consistent snapshot).
    pub fn verify_chain(&self) -> Result<ChainReport, EventsError> {
        // One read transaction gives a snapshot that concurrent appends do not change.
        self.conn.execute_batch("BEGIN")?;
        let result = self.verify_in_snapshot();
        let _ = self.conn.execute_batch("COMMIT");
        result
    }

    fn verify_in_snapshot(&self) -> Result<ChainReport, EventsError> {
        let anchor = schema::read_anchor(&self.conn)?;
        let mut prev_hash = anchor
            .as_ref()
            .map_or_else(|| GENESIS_HASH.to_string(), |(_, hash)| hash.clone());
        let mut report = ChainReport {
            verified: 0,
            anchored_after: anchor.as_ref().map(|(id, _)| *id),
            head_hash: prev_hash.clone(),
            head_id: None,
            broken: None,
        };
        let sql = format!("{SELECT_COLUMNS} ORDER BY e.id ASC");
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query([])?;
        let mut rules_stmt = self.conn.prepare(
            "SELECT event_id, rule_id, category FROM event_rules ORDER BY event_id, seq",
        )?;
        let mut rule_rows = rules_stmt.query([])?;
        let mut pending_rule = None;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let raw = match RawRow::read(row) {
                Ok(raw) => raw,
                Err(EventsError::CorruptColumn { column, .. }) => {
                    report.broken = Some(BrokenLink {
                        id,
                        reason: BreakReason::CorruptColumn {
                            column: column.to_string(),
                        },
                    });
                    break;
                }
                Err(other) => return Err(other),
            };
            let event_rules = rules_from_cursor(&mut rule_rows, &mut pending_rule, id)?;
            // The stored text is the canonical form the writer hashed, so it
            // is hashed as is: any edit, even a semantically neutral one, shows.
            let computed = chain_hash(
                &prev_hash,
                &canonical_row(&raw.columns, &event_rules, &raw.event_json),
            );
            if computed != raw.hash {
                let reason = match serde_json::from_str::<serde_json::Value>(&raw.event_json) {
                    Err(error) => BreakReason::CorruptJson {
                        error: error.to_string(),
                    },
                    Ok(_) => BreakReason::HashMismatch {
                        stored: raw.hash,
                        computed,
                    },
                };
                report.broken = Some(BrokenLink { id, reason });
                break;
            }
            report.verified += 1;
            report.head_id = Some(id);
            report.head_hash.clone_from(&raw.hash);
            prev_hash = raw.hash;
        }
        Ok(report)
    }
}

fn limit_value(limit: usize) -> i64 {
    i64::try_from(limit.min(MAX_QUERY_LIMIT)).unwrap_or(i64::MAX)
}

/// Stored client IPs are in Rust's canonical textual form; match that.
fn normalize_ip(text: &str) -> String {
    let trimmed = text.trim().trim_start_matches('[').trim_end_matches(']');
    trimmed
        .parse::<IpAddr>()
        .map_or_else(|_| text.trim().to_string(), |ip| ip.to_string())
}

struct RawRow {
    columns: RowColumns,
    event_json: String,
    hash: String,
}

impl RawRow {
    fn read(row: &Row<'_>) -> Result<RawRow, EventsError> {
        let id: i64 = row.get(0)?;
        macro_rules! get {
            ($index:expr, $name:expr) => {
                row.get($index)
                    .map_err(|_| EventsError::CorruptColumn { id, column: $name })?
            };
        }
        Ok(RawRow {
            columns: RowColumns {
                id,
                time_ms: get!(1, "time_ms"),
                request_id: get!(2, "request_id"),
                client_ip: get!(3, "client_ip"),
                peer_ip: get!(4, "peer_ip"),
                route: get!(5, "route"),
                method: get!(6, "method"),
                path: get!(7, "path"),
                status: get!(8, "status"),
                action: get!(9, "action"),
                score: get!(10, "score"),
                principal: get!(11, "principal"),
            },
            event_json: get!(12, "event_json"),
            hash: get!(13, "hash"),
        })
    }

    fn into_stored(self, rules: Vec<(String, String)>) -> Result<StoredEvent, EventsError> {
        let id = self.columns.id;
        let event = serde_json::from_str(&self.event_json)
            .map_err(|source| EventsError::CorruptEvent { id, source })?;
        let status =
            u16::try_from(self.columns.status).map_err(|_| EventsError::CorruptColumn {
                id,
                column: "status",
            })?;
        let score = u32::try_from(self.columns.score).map_err(|_| EventsError::CorruptColumn {
            id,
            column: "score",
        })?;
        let c = self.columns;
        Ok(StoredEvent {
            id,
            time_ms: c.time_ms,
            request_id: c.request_id,
            client_ip: c.client_ip,
            peer_ip: c.peer_ip,
            route: c.route,
            method: c.method,
            path: c.path,
            status,
            action: c.action,
            score,
            principal: c.principal,
            rules: rules
                .into_iter()
                .map(|(rule_id, category)| StoredRule { rule_id, category })
                .collect(),
            event,
            hash: self.hash,
        })
    }
}

/// Reads the rules of event `id` from a cursor over `event_rules` ordered by
/// event, so verification reads each table once. Rules of events that no
/// longer exist are skipped: the missing event itself breaks the chain.
fn rules_from_cursor(
    cursor: &mut rusqlite::Rows<'_>,
    pending: &mut Option<(i64, String, String)>,
    id: i64,
) -> Result<Vec<(String, String)>, EventsError> {
    let mut rules = Vec::new();
    loop {
        if pending.is_none() {
            match cursor.next()? {
                Some(row) => *pending = Some((row.get(0)?, row.get(1)?, row.get(2)?)),
                None => return Ok(rules),
            }
        }
        match pending.take() {
            Some((event_id, _, _)) if event_id < id => continue,
            Some((event_id, rule, category)) if event_id == id => rules.push((rule, category)),
            other => {
                *pending = other;
                return Ok(rules);
            }
        }
    }
}
