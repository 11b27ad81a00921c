//! End-to-end tests of the whole gateway over real sockets, with the demo API
//! (or a purpose-built server) as upstream.
//!
//! One test binary with a module per area: each binary links the whole gateway,
//! so one instead of one per area keeps build time and disk use down.

mod common;
mod identity;
mod limits;
mod modes_upstream_tls;
mod proxy;
mod reload_events;
mod smuggling;
mod tls_h2_ws;
mod workers;
