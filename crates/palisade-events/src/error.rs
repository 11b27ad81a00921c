use crate::since::SinceError;
use std::path::PathBuf;

/// Everything that can go wrong while storing, reading or verifying events.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("event database {}: {source}", path.display())]
    Database {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create the directory for {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("event database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("no event database at {} (it is created when the gateway first records an event)", path.display())]
    NotFound { path: PathBuf },
    #[error("{} is not a Palisade event database", path.display())]
    NotEventDatabase { path: PathBuf },
    #[error(
        "event database {} has schema version {found}; this build reads version {expected}",
        path.display()
    )]
    SchemaVersion {
        path: PathBuf,
        found: i64,
        expected: i64,
    },
    #[error("stored event {id} is not valid JSON: {source}")]
    CorruptEvent {
        id: i64,
        #[source]
        source: serde_json::Error,
    },
    #[error("stored event {id} has an invalid {column} value")]
    CorruptColumn { id: i64, column: &'static str },
    #[error("could not encode an event as JSON: {0}")]
    Encode(#[source] serde_json::Error),
    #[error("JSON-lines sink {}: {source}", path.display())]
    JsonlFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("JSON-lines sink: {0}")]
    JsonlWrite(#[source] std::io::Error),
    #[error("could not start the {sink} writer thread: {source}")]
    SpawnWriter {
        sink: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the {0} writer thread stopped unexpectedly")]
    WriterGone(&'static str),
    #[error("writing events out: {0}")]
    Output(#[source] std::io::Error),
    #[error("unknown action `{0}` (expected allowed, blocked or monitored)")]
    UnknownAction(String),
    #[error("invalid events configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Since(#[from] SinceError),
}
