//! Certificate loading, the TLS listener and upstream TLS. One test binary, a
//! module per area.

mod common;
mod listener;
mod loading;
mod pem_props;
mod upstream;
