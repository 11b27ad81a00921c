//! The JSON-lines sink: one event per line, to a file or standard output.

use crate::worker::{Backend, QueuedWriter, SinkStats};
use crate::EventsError;
use palisade_core::SecurityEvent;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Where JSON lines go. In configuration: `"stdout"` (or `"-"`), or a file path
/// that is appended to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonlTarget {
    Stdout,
    File(PathBuf),
}

impl JsonlTarget {
    pub fn parse(text: &str) -> JsonlTarget {
        match text {
            "stdout" | "-" => JsonlTarget::Stdout,
            path => JsonlTarget::File(PathBuf::from(path)),
        }
    }
}

impl Serialize for JsonlTarget {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            JsonlTarget::Stdout => serializer.serialize_str("stdout"),
            JsonlTarget::File(path) => path.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for JsonlTarget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.is_empty() {
            return Err(serde::de::Error::custom(
                "empty JSON-lines target (use \"stdout\" or a file path)",
            ));
        }
        Ok(JsonlTarget::parse(&text))
    }
}

/// Writes events as JSON lines from a dedicated thread.
pub struct JsonlSink {
    target: JsonlTarget,
    writer: QueuedWriter,
}

impl std::fmt::Debug for JsonlSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlSink")
            .field("target", &self.target)
            .field("stats", &self.writer.stats())
            .finish()
    }
}

impl JsonlSink {
    /// Opens the target (a file is created or appended to) and starts the writer.
    pub fn open(target: &JsonlTarget, queue_capacity: usize) -> Result<JsonlSink, EventsError> {
        let output: Box<dyn Write + Send> = match target {
            JsonlTarget::Stdout => Box::new(std::io::stdout()),
            JsonlTarget::File(path) => Box::new(open_append(path)?),
        };
        Self::with_writer(target.clone(), output, queue_capacity)
    }

    /// A sink writing to any byte stream (tests, pipes).
    pub fn with_writer(
        target: JsonlTarget,
        output: Box<dyn Write + Send>,
        queue_capacity: usize,
    ) -> Result<JsonlSink, EventsError> {
        let backend = JsonlBackend {
            output: BufWriter::with_capacity(64 * 1024, output),
            line: Vec::with_capacity(1024),
        };
        let writer = QueuedWriter::start(backend, queue_capacity, 256)?;
        Ok(JsonlSink { target, writer })
    }

    pub fn target(&self) -> &JsonlTarget {
        &self.target
    }

    /// Queues an event without blocking; false (and counted) when dropped.
    pub fn try_record_shared(&self, event: Arc<SecurityEvent>) -> bool {
        self.writer.try_record(event)
    }

    /// Waits until everything queued so far is written and flushed.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.writer.flush(timeout)
    }

    pub fn flush_and_close(&self) -> Result<(), EventsError> {
        self.writer.close()
    }

    pub fn stats(&self) -> SinkStats {
        self.writer.stats()
    }
}

fn open_append(path: &Path) -> Result<std::fs::File, EventsError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| EventsError::CreateDir {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| EventsError::JsonlFile {
            path: path.to_path_buf(),
            source,
        })
}

struct JsonlBackend {
    output: BufWriter<Box<dyn Write + Send>>,
    line: Vec<u8>,
}

impl Backend for JsonlBackend {
    const NAME: &'static str = "jsonl";

    fn write_batch(&mut self, events: &[Arc<SecurityEvent>]) -> Result<(), EventsError> {
        for event in events {
            self.line.clear();
            serde_json::to_writer(&mut self.line, &**event).map_err(EventsError::Encode)?;
            self.line.push(b'\n');
            self.output
                .write_all(&self.line)
                .map_err(EventsError::JsonlWrite)?;
        }
        Ok(())
    }

    /// Lines reach the file as soon as the queue is empty, so `tail -f` keeps up.
    fn idle(&mut self) {
        if let Err(error) = self.output.flush() {
            tracing::warn!(%error, "flushing the JSON-lines sink failed");
        }
    }

    fn finish(&mut self) {
        self.idle();
    }
}
