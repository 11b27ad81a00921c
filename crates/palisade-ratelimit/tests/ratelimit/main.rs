//! Rate limits, local and shared through a real Redis. One test binary, a
//! module per area.

mod example_identity;
mod local_limits;
mod redis_shared;
