//! Rate limits, quotas and brute-force defence for the Palisade gateway.
//!
//! * [`gcra`]: the Generic Cell Rate Algorithm (why GCRA and how burst works
//!   is explained there) and the sharded in-process store.
//! * [`limiter`]: [`RateLimiter`] evaluates every `[[rate_limits]]` entry that
//!   applies to a request, keyed by client IP (IPv6 grouped by /64), principal,
//!   API key, route, method, path, header or claim, or a combination; costs
//!   weight requests for hourly, daily or monthly quotas. Limits are counted in
//!   process or, when `[redis]` is configured, atomically in Redis so several
//!   gateway instances share one allowance. The outcome carries what a 429
//!   needs (`Retry-After`, `RateLimit-*` headers).
//! * [`shared`]: the Redis side (Lua scripts, timeouts, failure policy and
//!   automatic recovery).
//! * [`bruteforce`]: failed-login counting, progressive delays and blocks,
//!   credential-stuffing and identity-spread signals.
//!
//! The limiter is a [`palisade_core::Detector`] for local-only use; shared
//! limits and login protection need Redis I/O and are driven through small
//! async functions ([`RateLimiter::check`], [`LoginGuard::check`],
//! [`LoginGuard::record`], [`IdentitySpread::observe`]).
//!
//! # Driving it from the proxy
//!
//! ```text
//! let shared = config.redis.map(|r| Arc::new(SharedStore::new(r)?));   // no I/O yet
//! let counters = Arc::new(Counters::new(shared.clone()));
//! let limiter = RateLimiter::new(&config.rate_limits, shared)?;
//! let logins = LoginGuard::new(&config.login_protection, counters.clone())?;
//! let spread = IdentitySpread::new(config.identity_spread, counters, true);
//! // after authentication (tx.principal set):
//! let outcome = limiter.check(&tx.request, tx.principal.as_ref()).await;
//! record_outcome(&mut tx, outcome);        // 429 finding if refused; RateLimitState kept
//! // add RateLimitState.0.headers() to the upstream's response
//! // after the body is buffered: logins.attempt(&tx) -> check -> (forward) -> record(status)
//! // for authenticated requests: spread.observe(principal, client_ip)
//! ```
//!
//! Known limits: quotas are continuous (GCRA), not aligned to calendar hours,
//! days or months; a request refused by one limit has still been charged to
//! the limits checked before it; in fail-open mode each instance enforces the
//! full limit on its own, so N instances admit up to N times the rate while
//! Redis is down.

pub mod bruteforce;
pub mod config;
pub mod counters;
pub mod gcra;
mod lease;
pub mod limiter;
pub mod shared;

pub use bruteforce::{BlockScope, IdentitySpread, LoginAttempt, LoginGuard, LoginVerdict};
pub use config::{
    FailurePolicy, HeaderStyle, IdentitySpreadConfig, KeyPart, LoginProtectionConfig,
    RateLimitConfig, RedisConfig,
};
pub use counters::{Counters, LocalState};
pub use gcra::{GcraDecision, GcraParams, LocalGcra};
pub use limiter::{
    record_outcome, Backend, LimitStatus, RateLimitOutcome, RateLimitState, RateLimiter,
};
pub use shared::{SharedError, SharedStore};

use std::net::IpAddr;

/// An invalid configuration.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// The key a client address is counted under: IPv4 as is, IPv6 truncated to
/// `ipv6_prefix` bits (a /64 is what one subscriber usually gets, so rotating
/// addresses inside it does not escape a limit). IPv4-mapped IPv6 addresses
/// count as IPv4.
pub fn client_key(ip: IpAddr, ipv6_prefix: u8) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4.to_string();
            }
            match ipnet::Ipv6Net::new(v6, ipv6_prefix.min(128)) {
                Ok(net) => net.trunc().to_string(),
                Err(_) => v6.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_grouped_by_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a, 64), client_key(b, 64));
        assert_ne!(client_key(a, 64), client_key(c, 64));
        assert_eq!(client_key(a, 64), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client_key(mapped, 64), "192.0.2.1");
    }
}
