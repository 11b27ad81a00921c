//! Helpers shared by the test suites of the Palisade crates.
//!
//! * [`certs`]: a throw-away PKI (CA, server and client certificates written as PEM
//!   files in a temporary directory) for tests that perform real TLS handshakes.
//! * [`redis`]: a real `redis-server` on a free port, for the shared-state tests.

pub mod certs;
pub mod redis;
