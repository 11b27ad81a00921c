use crate::{Action, Finding};
use serde::Serialize;

/// Time spent on one exchange, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Latencies {
    pub total_us: u64,
    pub inspection_us: u64,
    pub upstream_us: u64,
}

/// The record written for every inspected request that had findings or was
/// blocked (and, sampled, for the rest when access logging is on).
#[derive(Debug, Clone, Serialize)]
pub struct SecurityEvent {
    /// Unix time in milliseconds.
    pub time_ms: i64,
    pub request_id: String,
    pub client_ip: String,
    pub peer_ip: String,
    pub route: String,
    pub method: String,
    /// Path template when an API description matched, otherwise the raw path.
    pub path: String,
    pub operation: Option<String>,
    pub principal: Option<String>,
    pub status: u16,
    pub action: Action,
    pub score: u32,
    pub findings: Vec<Finding>,
    pub latencies: Latencies,
}
