//! The event pipeline, store and metrics. One test binary, a module per area.

mod common;
mod metrics;
mod pipeline;
mod store;
