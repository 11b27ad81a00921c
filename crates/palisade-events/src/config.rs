//! The `[events]` configuration section.

use crate::jsonl::JsonlTarget;
use crate::sqlite_sink::{Retention, SqliteSinkOptions};
use crate::EventsError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where and how security events are recorded.
///
/// ```toml
/// [events]
/// sqlite_path = "/var/lib/palisade/events.db"   # "" disables the SQLite store
/// jsonl = "stdout"                              # or a file path; absent = off
/// queue_capacity = 8192
/// access_log_sample_rate = 0.01
/// retention_days = 30
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// SQLite database file. Default `palisade-events.db` in the working
    /// directory; an empty path disables the store.
    pub sqlite_path: Option<PathBuf>,
    /// Also write every recorded event as one JSON line to `"stdout"` or a file.
    pub jsonl: Option<JsonlTarget>,
    /// Events that may wait for each sink's writer. When a queue is full, new
    /// events are dropped (counted in `palisade_events_dropped_total`) rather
    /// than slowing down requests.
    pub queue_capacity: usize,
    /// Most events committed in one SQLite transaction.
    pub batch_max: usize,
    /// Fraction (0.0 to 1.0) of requests without findings that are also
    /// recorded, as an access log. Requests with findings, blocked or
    /// monitored are always recorded.
    pub access_log_sample_rate: f64,
    /// Events older than this many days are deleted. Absent = kept forever.
    pub retention_days: Option<u32>,
    /// At most this many events are kept (oldest deleted first). Absent = no cap.
    pub max_events: Option<u64>,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            sqlite_path: Some(PathBuf::from("palisade-events.db")),
            jsonl: None,
            queue_capacity: 8_192,
            batch_max: 512,
            access_log_sample_rate: 0.0,
            retention_days: Some(30),
            max_events: None,
        }
    }
}

/// Queue capacity bounds: below, bursts drop events needlessly; above, a stuck
/// disk holds a lot of memory.
pub const QUEUE_CAPACITY_RANGE: std::ops::RangeInclusive<usize> = 16..=1_048_576;

impl EventsConfig {
    /// Checks values serde cannot: ranges and the sample rate.
    pub fn validate(&self) -> Result<(), EventsError> {
        if !QUEUE_CAPACITY_RANGE.contains(&self.queue_capacity) {
            return Err(EventsError::Config(format!(
                "queue_capacity must be between {} and {}, got {}",
                QUEUE_CAPACITY_RANGE.start(),
                QUEUE_CAPACITY_RANGE.end(),
                self.queue_capacity
            )));
        }
        if self.batch_max == 0 || self.batch_max > 100_000 {
            return Err(EventsError::Config(format!(
                "batch_max must be between 1 and 100000, got {}",
                self.batch_max
            )));
        }
        if !(0.0..=1.0).contains(&self.access_log_sample_rate) {
            return Err(EventsError::Config(format!(
                "access_log_sample_rate must be between 0.0 and 1.0, got {}",
                self.access_log_sample_rate
            )));
        }
        if self.retention_days == Some(0) {
            return Err(EventsError::Config(
                "retention_days must be at least 1 (omit it to keep events forever)".into(),
            ));
        }
        if self.max_events == Some(0) {
            return Err(EventsError::Config(
                "max_events must be at least 1 (omit it for no cap)".into(),
            ));
        }
        Ok(())
    }

    /// The SQLite path in effect, `None` when the store is disabled.
    pub fn effective_sqlite_path(&self) -> Option<&Path> {
        self.sqlite_path
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
    }

    pub fn sqlite_options(&self) -> SqliteSinkOptions {
        SqliteSinkOptions {
            queue_capacity: self.queue_capacity,
            batch_max: self.batch_max,
            retention: Retention {
                max_age: self
                    .retention_days
                    .map(|days| Duration::from_secs(u64::from(days) * 86_400)),
                max_rows: self.max_events,
            },
            ..SqliteSinkOptions::default()
        }
    }
}
