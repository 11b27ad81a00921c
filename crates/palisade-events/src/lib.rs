//! Security events: the typed record of every inspected request that had
//! findings or was blocked, stored where an operator can query it.
//!
//! # Model
//!
//! The proxy hands each [`palisade_core::SecurityEvent`] to an
//! [`EventPipeline`] through [`EventPipeline::submit`] (or the
//! [`EventSink::try_record`] trait method). That call never waits on disk:
//! every sink owns a bounded queue and a dedicated writer thread, and when a
//! queue is full the event is dropped and counted in the
//! `palisade_events_dropped_total` metric (label `sink`). Written events are
//! counted in `palisade_events_written_total`, lost batches in
//! `palisade_events_write_errors_total`. [`describe_metrics`] registers their
//! descriptions; the binary installs the recorder.
//!
//! Sinks:
//! * [`SqliteSink`]: an embedded SQLite database in WAL mode. The writer
//!   commits events in batches (one transaction per batch). Indexed columns
//!   hold time, request id, client IP, route, method, path, status, action,
//!   score and principal; a side table `event_rules(event_id, seq, rule_id,
//!   category)` indexed by rule and category lists the findings' rules; the
//!   full event is kept as canonical JSON.
//! * [`JsonlSink`]: one JSON object per line to a file or standard output.
//!
//! [`EventStore`] is the read side (a separate connection): filtered queries
//! ([`EventQuery`]), [`EventStore::tail_after`] to follow new events,
//! [`EventStore::verify_chain`], and [`render_line`] / [`render_json`] for
//! output. [`parse_since`] reads the `--since 10m` syntax.
//!
//! # Hash chain
//!
//! Each row stores `hash = SHA-256(prev_hash || canonical JSON of the row)`,
//! where the row covers every column, its rules and the full event, the first
//! `prev_hash` is [`GENESIS_HASH`], and the hash is hex encoded. Editing,
//! inserting or deleting a row (or a rule of it) breaks every later link;
//! [`EventStore::verify_chain`] reports the first broken one. Reopening the
//! database continues the chain from its last row. Retention deletes only a
//! prefix of the chain and records the last deleted row's hash as the anchor
//! the remaining chain starts from.
//!
//! # Limits
//!
//! * The chain has no secret: someone able to write the database can rewrite
//!   it entirely with valid hashes, and deleting the newest rows leaves a valid
//!   shorter chain. Exporting [`ChainReport::head_hash`] elsewhere from time to
//!   time turns both into detectable changes.
//! * One writer per database: two gateways must not share a file.
//! * Events still queued when the process is killed (not shut down through
//!   [`EventPipeline::flush_and_close`]) are lost; so are events offered while
//!   a queue is full, by design.

mod canonical;
mod config;
mod error;
mod jsonl;
mod pipeline;
mod render;
mod schema;
mod since;
mod sqlite_sink;
mod store;
mod worker;

pub use canonical::canonical_json;
pub use config::{EventsConfig, QUEUE_CAPACITY_RANGE};
pub use error::EventsError;
pub use jsonl::{JsonlSink, JsonlTarget};
pub use pipeline::{EventPipeline, EventSink, PipelineStats, Submission};
pub use render::{format_time_ms, render_json, render_line};
pub use schema::GENESIS_HASH;
pub use since::{cutoff_ms, now_ms, parse_since, SinceError, MAX_SINCE_LEN, MAX_SINCE_SECS};
pub use sqlite_sink::{Retention, SqliteSink, SqliteSinkOptions};
pub use store::{
    parse_action, BreakReason, BrokenLink, ChainReport, EventQuery, EventStore, StoredEvent,
    StoredRule, MAX_QUERY_LIMIT,
};
pub use worker::{
    describe_metrics, SinkStats, METRIC_DROPPED, METRIC_WRITE_ERRORS, METRIC_WRITTEN,
};
