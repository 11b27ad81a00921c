//! Database layout and the hash-chain rule shared by the writer and the reader.

#[cfg(test)]
use crate::canonical::canonical_json;
use crate::canonical::write_string;
use crate::EventsError;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

pub(crate) const SCHEMA_VERSION: i64 = 1;

/// `prev_hash` of the first event of a chain that has never been pruned.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const DDL: &str = "
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY,
    time_ms     INTEGER NOT NULL,
    request_id  TEXT    NOT NULL,
    client_ip   TEXT    NOT NULL,
    peer_ip     TEXT    NOT NULL,
    route       TEXT    NOT NULL,
    method      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    action      TEXT    NOT NULL,
    score       INTEGER NOT NULL,
    principal   TEXT,
    event_json  TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS events_time_ms    ON events(time_ms);
CREATE INDEX IF NOT EXISTS events_request_id ON events(request_id);
CREATE INDEX IF NOT EXISTS events_client_ip  ON events(client_ip);
CREATE INDEX IF NOT EXISTS events_route      ON events(route);
CREATE INDEX IF NOT EXISTS events_method     ON events(method);
CREATE INDEX IF NOT EXISTS events_path       ON events(path);
CREATE INDEX IF NOT EXISTS events_status     ON events(status);
CREATE INDEX IF NOT EXISTS events_action     ON events(action);
CREATE INDEX IF NOT EXISTS events_score      ON events(score);
CREATE INDEX IF NOT EXISTS events_principal  ON events(principal);
CREATE TABLE IF NOT EXISTS event_rules (
    event_id INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    rule_id  TEXT    NOT NULL,
    category TEXT    NOT NULL,
    PRIMARY KEY (event_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_rules_rule     ON event_rules(rule_id, event_id);
CREATE INDEX IF NOT EXISTS event_rules_category ON event_rules(category, event_id);
CREATE TABLE IF NOT EXISTS chain_anchor (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    after_id  INTEGER NOT NULL,
    hash      TEXT    NOT NULL
);
";

fn with_path(path: &Path) -> impl Fn(rusqlite::Error) -> EventsError + '_ {
    move |source| EventsError::Database {
        path: path.to_path_buf(),
        source,
    }
}

/// Opens (creating if needed) the database for writing: WAL journal, schema in place.
pub(crate) fn open_for_writing(
    path: &Path,
    busy_timeout: Duration,
) -> Result<Connection, EventsError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| EventsError::CreateDir {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let conn = Connection::open(path).map_err(with_path(path))?;
    conn.busy_timeout(busy_timeout).map_err(with_path(path))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(with_path(path))?;
    // WAL with NORMAL sync survives process crashes; an OS crash may lose the
    // last transactions but never corrupts the database.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(with_path(path))?;
    // Ten indexes are updated per insert; a larger page cache keeps their
    // upper levels in memory as the database grows.
    conn.pragma_update(None, "cache_size", -32_768)
        .map_err(with_path(path))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(with_path(path))?;
    match version {
        0 => {
            conn.execute_batch(DDL).map_err(with_path(path))?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(with_path(path))?;
        }
        SCHEMA_VERSION => {}
        found => {
            return Err(EventsError::SchemaVersion {
                path: path.to_path_buf(),
                found,
                expected: SCHEMA_VERSION,
            })
        }
    }
    Ok(conn)
}

/// Opens an existing database for reading.
pub(crate) fn open_for_reading(path: &Path) -> Result<Connection, EventsError> {
    if !path.exists() {
        return Err(EventsError::NotFound {
            path: path.to_path_buf(),
        });
    }
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(with_path(path))?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(with_path(path))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(with_path(path))?;
    if version == 0 {
        return Err(EventsError::NotEventDatabase {
            path: path.to_path_buf(),
        });
    }
    if version != SCHEMA_VERSION {
        return Err(EventsError::SchemaVersion {
            path: path.to_path_buf(),
            found: version,
            expected: SCHEMA_VERSION,
        });
    }
    conn.pragma_update(None, "query_only", true)
        .map_err(with_path(path))?;
    Ok(conn)
}

/// The indexed columns of one stored event: exactly what the chain hash covers
/// besides the event JSON and its rules.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RowColumns {
    pub id: i64,
    pub time_ms: i64,
    pub request_id: String,
    pub client_ip: String,
    pub peer_ip: String,
    pub route: String,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub action: String,
    pub score: i64,
    pub principal: Option<String>,
}

/// Canonical JSON of a row: every column, the rules side table and the full
/// event, which is embedded as its stored canonical text. The result equals
/// [`canonical_json`] of the same object (keys below are in byte order).
pub(crate) fn canonical_row(
    columns: &RowColumns,
    rules: &[(String, String)],
    event_canonical: &str,
) -> String {
    let mut out = String::with_capacity(event_canonical.len() + 256);
    out.push('{');
    let key = |out: &mut String, name: &str, first: bool| {
        if !first {
            out.push(',');
        }
        write_string(name, out);
        out.push(':');
    };
    key(&mut out, "action", true);
    write_string(&columns.action, &mut out);
    key(&mut out, "client_ip", false);
    write_string(&columns.client_ip, &mut out);
    key(&mut out, "event", false);
    out.push_str(event_canonical);
    key(&mut out, "id", false);
    let _ = write!(out, "{}", columns.id);
    key(&mut out, "method", false);
    write_string(&columns.method, &mut out);
    key(&mut out, "path", false);
    write_string(&columns.path, &mut out);
    key(&mut out, "peer_ip", false);
    write_string(&columns.peer_ip, &mut out);
    key(&mut out, "principal", false);
    match &columns.principal {
        Some(principal) => write_string(principal, &mut out),
        None => out.push_str("null"),
    }
    key(&mut out, "request_id", false);
    write_string(&columns.request_id, &mut out);
    key(&mut out, "route", false);
    write_string(&columns.route, &mut out);
    key(&mut out, "rules", false);
    out.push('[');
    for (index, (rule, category)) in rules.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push('[');
        write_string(rule, &mut out);
        out.push(',');
        write_string(category, &mut out);
        out.push(']');
    }
    out.push(']');
    key(&mut out, "score", false);
    let _ = write!(out, "{}", columns.score);
    key(&mut out, "status", false);
    let _ = write!(out, "{}", columns.status);
    key(&mut out, "time_ms", false);
    let _ = write!(out, "{}", columns.time_ms);
    out.push('}');
    out
}

/// `SHA-256(prev_hash || canonical_row)`, hex encoded. `prev_hash` is hashed as
/// its raw 32 bytes; a malformed previous hash is hashed as its text so the
/// mismatch still propagates.
pub(crate) fn chain_hash(prev_hash: &str, canonical_row: &str) -> String {
    let mut hasher = Sha256::new();
    match hex::decode(prev_hash) {
        Ok(bytes) if bytes.len() == 32 => hasher.update(&bytes),
        _ => hasher.update(prev_hash.as_bytes()),
    }
    hasher.update(canonical_row.as_bytes());
    hex::encode(hasher.finalize())
}

/// Where the chain starts: after the last pruned row, or at genesis.
pub(crate) fn read_anchor(conn: &Connection) -> Result<Option<(i64, String)>, EventsError> {
    let mut stmt =
        conn.prepare_cached("SELECT after_id, hash FROM chain_anchor WHERE singleton = 1")?;
    let mut rows = stmt.query([])?;
    match rows.next()? {
        Some(row) => Ok(Some((row.get(0)?, row.get(1)?))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn row_form_equals_generic_canonical_json() {
        let columns = RowColumns {
            id: 42,
            time_ms: -5,
            request_id: "r\"1".into(),
            client_ip: "::1".into(),
            peer_ip: "10.0.0.1".into(),
            route: "api\n".into(),
            method: "GET".into(),
            path: "/é/\u{1}".into(),
            status: 403,
            action: "blocked".into(),
            score: 7,
            principal: None,
        };
        let rules = vec![("942100".to_string(), "sql_injection".to_string())];
        let event = json!({"z": 1, "a": [null, "x"]});
        for principal in [None, Some("alice".to_string())] {
            let columns = RowColumns {
                principal: principal.clone(),
                ..columns.clone()
            };
            let generic: Value = json!({
                "id": columns.id, "time_ms": columns.time_ms,
                "request_id": columns.request_id, "client_ip": columns.client_ip,
                "peer_ip": columns.peer_ip, "route": columns.route,
                "method": columns.method, "path": columns.path,
                "status": columns.status, "action": columns.action,
                "score": columns.score, "principal": principal,
                "rules": [["942100", "sql_injection"]], "event": event,
            });
            assert_eq!(
                canonical_row(&columns, &rules, &canonical_json(&event)),
                canonical_json(&generic)
            );
        }
    }
}
