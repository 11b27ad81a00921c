//! The sinks combined: what the proxy holds and calls once per exchange.

use crate::config::EventsConfig;
use crate::jsonl::JsonlSink;
use crate::sqlite_sink::SqliteSink;
use crate::worker::SinkStats;
use crate::EventsError;
use palisade_core::{Action, SecurityEvent};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A destination for security events that never blocks its caller.
pub trait EventSink: Send + Sync {
    /// Queues `event`; returns false when at least one destination dropped it
    /// (queue full or closed). Never waits on I/O.
    fn try_record(&self, event: SecurityEvent) -> bool;
}

impl EventSink for SqliteSink {
    fn try_record(&self, event: SecurityEvent) -> bool {
        self.try_record_shared(Arc::new(event))
    }
}

impl EventSink for JsonlSink {
    fn try_record(&self, event: SecurityEvent) -> bool {
        self.try_record_shared(Arc::new(event))
    }
}

/// What [`EventPipeline::submit`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submission {
    /// Queued on every configured sink.
    Recorded,
    /// At least one sink's queue was full; the drop was counted.
    Dropped,
    /// Not notable and not picked by access-log sampling.
    NotSampled,
}

/// The configured sinks (SQLite store, JSON lines, both or none) behind one
/// non-blocking entry point.
#[derive(Debug)]
pub struct EventPipeline {
    sqlite: Option<SqliteSink>,
    jsonl: Option<JsonlSink>,
    access_log_sample_rate: f64,
}

/// Totals per sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipelineStats {
    pub sqlite: Option<SinkStats>,
    pub jsonl: Option<SinkStats>,
}

impl PipelineStats {
    /// Events dropped by any sink.
    pub fn dropped(&self) -> u64 {
        self.sqlite.map_or(0, |s| s.dropped) + self.jsonl.map_or(0, |s| s.dropped)
    }
}

impl EventPipeline {
    /// Validates `config`, opens the sinks it names and starts their writers.
    pub fn from_config(config: &EventsConfig) -> Result<EventPipeline, EventsError> {
        config.validate()?;
        let sqlite = config
            .effective_sqlite_path()
            .map(|path| SqliteSink::open(path, config.sqlite_options()))
            .transpose()?;
        let jsonl = config
            .jsonl
            .as_ref()
            .map(|target| JsonlSink::open(target, config.queue_capacity))
            .transpose()?;
        Ok(EventPipeline {
            sqlite,
            jsonl,
            access_log_sample_rate: config.access_log_sample_rate,
        })
    }

    /// Builds a pipeline from sinks opened by the caller.
    pub fn from_sinks(
        sqlite: Option<SqliteSink>,
        jsonl: Option<JsonlSink>,
        access_log_sample_rate: f64,
    ) -> EventPipeline {
        EventPipeline {
            sqlite,
            jsonl,
            access_log_sample_rate: access_log_sample_rate.clamp(0.0, 1.0),
        }
    }

    /// A pipeline that records nothing.
    pub fn disabled() -> EventPipeline {
        EventPipeline::from_sinks(None, None, 0.0)
    }

    pub fn sqlite_path(&self) -> Option<&Path> {
        self.sqlite.as_ref().map(SqliteSink::path)
    }

    /// True when `event` must be recorded regardless of sampling: it has
    /// findings or was not simply allowed.
    pub fn is_notable(event: &SecurityEvent) -> bool {
        !event.findings.is_empty() || event.action != Action::Allowed
    }

    /// Records notable events and a sample of the rest; never blocks.
    pub fn submit(&self, event: SecurityEvent) -> Submission {
        if !Self::is_notable(&event) && !self.sample_access() {
            return Submission::NotSampled;
        }
        if self.try_record(event) {
            Submission::Recorded
        } else {
            Submission::Dropped
        }
    }

    fn sample_access(&self) -> bool {
        self.access_log_sample_rate >= 1.0
            || (self.access_log_sample_rate > 0.0
                && rand::random::<f64>() < self.access_log_sample_rate)
    }

    /// Waits until both sinks have written everything queued so far.
    /// For tests, admin commands and shutdown; never for the data path.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let left = || deadline.saturating_duration_since(Instant::now());
        let sqlite_ok = self.sqlite.as_ref().is_none_or(|s| s.flush(left()));
        let jsonl_ok = self.jsonl.as_ref().is_none_or(|s| s.flush(left()));
        sqlite_ok && jsonl_ok
    }

    /// Graceful shutdown: writes everything queued and stops the writers.
    /// Both sinks are closed even if the first fails.
    pub fn flush_and_close(&self) -> Result<(), EventsError> {
        let sqlite = self
            .sqlite
            .as_ref()
            .map_or(Ok(()), SqliteSink::flush_and_close);
        let jsonl = self
            .jsonl
            .as_ref()
            .map_or(Ok(()), JsonlSink::flush_and_close);
        sqlite.and(jsonl)
    }

    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            sqlite: self.sqlite.as_ref().map(SqliteSink::stats),
            jsonl: self.jsonl.as_ref().map(JsonlSink::stats),
        }
    }
}

impl EventSink for EventPipeline {
    fn try_record(&self, event: SecurityEvent) -> bool {
        let shared = Arc::new(event);
        let sqlite_ok = self
            .sqlite
            .as_ref()
            .is_none_or(|s| s.try_record_shared(Arc::clone(&shared)));
        let jsonl_ok = self
            .jsonl
            .as_ref()
            .is_none_or(|s| s.try_record_shared(shared));
        sqlite_ok && jsonl_ok
    }
}
