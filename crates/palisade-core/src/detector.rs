use crate::Transaction;

/// Where in the exchange a detector runs. Phases run in this order; a blocking
/// decision after a request phase stops the exchange before the upstream sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    RequestHead,
    RequestBody,
    ResponseHead,
    ResponseBody,
}

impl Phase {
    pub const ALL: [Phase; 4] = [
        Phase::RequestHead,
        Phase::RequestBody,
        Phase::ResponseHead,
        Phase::ResponseBody,
    ];

    pub fn is_request(self) -> bool {
        matches!(self, Phase::RequestHead | Phase::RequestBody)
    }
}

/// An inspection engine. Implementations must be pure: no I/O, no blocking,
/// bounded time per byte of input. They report by pushing findings onto the
/// transaction and may keep cross-phase state in `tx.state`.
pub trait Detector: Send + Sync + 'static {
    /// Short stable name used in metrics and logs (`native`, `crs`, `openapi`...).
    fn name(&self) -> &'static str;

    /// Whether this detector wants to run in `phase` (lets the proxy skip
    /// buffering a body nobody inspects).
    fn wants(&self, phase: Phase) -> bool;

    /// Runs the detector for one phase.
    fn inspect(&self, phase: Phase, tx: &mut Transaction);
}
