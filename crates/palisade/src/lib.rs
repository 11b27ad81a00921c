//! The Palisade binary's library half: assembling a running gateway from a
//! configuration (listeners, pipeline, events, admin, reload), shared by the
//! `palisade` command, the demo and the integration tests.

pub mod access;
pub mod assemble;
pub mod demo;
pub mod rules_http;

pub use assemble::{start, Options, RunningGateway};
