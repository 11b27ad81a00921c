//! Leased allowance for shared limits with a high rate.
//!
//! A shared limit of, say, 50,000 requests per second would otherwise cost
//! one Redis round trip per request even though it is nowhere near refusing.
//! Instead, an instance takes a small slice of the allowance from Redis in one
//! GCRA step (cost = slice size) and spends it locally. Nothing is admitted
//! that Redis did not grant, so two instances together never exceed the
//! limit; what a lease can cost is *under*-admission, bounded as follows:
//!
//! * a slice is at most 1/200 of the smaller of the burst and the per-second
//!   rate (limits below 400/s never lease: every request is one exact step);
//! * slices grow by doubling while they are used up and halve when one
//!   expires unused, so an instance holds about what its own traffic spends;
//! * a slice expires one second after it was granted;
//! * when a slice is refused (the limit is close), the request falls back to
//!   an exact single step and the next step asks for its own cost only, so
//!   decisions near the limit are exact;
//! * the table of leases is bounded (16 shards of 16,384): past it, new keys
//!   are decided by exact steps.

use crate::gcra::{GcraDecision, GcraParams};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A slice of a limit may be this fraction (1/n) of it at most.
const SLICE_DIVISOR: u64 = 200;
/// Unused units are dropped this long after their grant.
pub(crate) const LEASE_LIFETIME: Duration = Duration::from_secs(1);
const SHARDS: usize = 16;
/// Leases kept per shard before expired ones are swept.
const SWEEP_AT: usize = 4096;
/// Leases a shard may hold at all. Past it (a flood of distinct keys, such
/// as rotating client addresses), new keys are not leased: their steps stay
/// exact, and memory stays bounded.
const MAX_PER_SHARD: usize = 16_384;

/// Largest slice for a limit; 1 or less means "do not lease".
pub(crate) fn slice_cap(params: GcraParams) -> u64 {
    let per_second = 1_000_000 / params.emission_interval_us.max(1);
    params.burst.min(per_second) / SLICE_DIVISOR
}

#[derive(Debug, Clone, Copy)]
struct Lease {
    /// Units granted and not spent yet.
    units: u64,
    /// Size of the last slice asked for.
    slice: u64,
    expires: Instant,
    /// The grant's decision, for the `RateLimit-*` headers of local spends.
    remaining_at_grant: u64,
    reset_after_us: u64,
}

/// What to do with a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeaseStep {
    /// Spent from a lease: no Redis call.
    Spent(GcraDecision),
    /// Ask Redis for `units` (at least the request's cost).
    Ask { units: u64 },
}

#[derive(Debug)]
struct Shard {
    leases: HashMap<String, Lease>,
    /// Size at which expired leases are swept next: doubles when a sweep
    /// frees little, so that sweeping stays amortised constant time.
    sweep_at: usize,
    /// A full shard is swept again at most once per lease lifetime.
    swept: Option<Instant>,
}

/// Leases of one process, by Redis key.
#[derive(Debug)]
pub(crate) struct LeaseBook {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

impl Default for LeaseBook {
    fn default() -> Self {
        LeaseBook {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        leases: HashMap::new(),
                        sweep_at: SWEEP_AT,
                        swept: None,
                    })
                })
                .collect(),
            hasher: RandomState::new(),
        }
    }
}

impl LeaseBook {
    fn shard(&self, key: &str) -> &Mutex<Shard> {
        let index = self.hasher.hash_one(key) as usize % SHARDS;
        &self.shards[index]
    }

    /// Spends `cost` from the key's lease, or says how much to ask for.
    pub(crate) fn take(&self, key: &str, cost: u64, cap: u64, now: Instant) -> LeaseStep {
        let Ok(mut shard) = self.shard(key).lock() else {
            return LeaseStep::Ask { units: cost };
        };
        let slice = match shard.leases.get_mut(key) {
            Some(lease) if lease.expires > now && lease.units >= cost => {
                lease.units -= cost;
                return LeaseStep::Spent(GcraDecision {
                    allowed: true,
                    remaining: lease.remaining_at_grant.saturating_add(lease.units),
                    reset_after_us: lease.reset_after_us,
                    retry_after_us: 0,
                });
            }
            // Expired with units left: this instance asked for more than it spends.
            Some(lease) if lease.units > 0 => (lease.slice / 2).max(1),
            Some(lease) => lease.slice.saturating_mul(2).min(cap),
            None => 1,
        };
        LeaseStep::Ask {
            units: slice.max(cost),
        }
    }

    /// Records Redis's answer to a request for `units` of which `cost` is
    /// spent by the asking request.
    pub(crate) fn granted(
        &self,
        key: &str,
        units: u64,
        cost: u64,
        decision: &GcraDecision,
        now: Instant,
    ) {
        let Ok(mut shard) = self.shard(key).lock() else {
            return;
        };
        let full = shard.leases.len() >= MAX_PER_SHARD;
        let due = shard
            .swept
            .is_none_or(|at| now.saturating_duration_since(at) >= LEASE_LIFETIME);
        if shard.leases.len() >= shard.sweep_at || (full && due) {
            shard.leases.retain(|_, lease| lease.expires > now);
            shard.sweep_at = (shard.leases.len() * 2).max(SWEEP_AT);
            shard.swept = Some(now);
        }
        if shard.leases.len() >= MAX_PER_SHARD && !shard.leases.contains_key(key) {
            return;
        }
        let lease = shard.leases.entry(key.to_owned()).or_insert(Lease {
            units: 0,
            slice: 1,
            expires: now,
            remaining_at_grant: 0,
            reset_after_us: 0,
        });
        if decision.allowed {
            let left = units.saturating_sub(cost);
            // Concurrent grants add up; expired units are gone.
            lease.units = if lease.expires > now {
                lease.units.saturating_add(left)
            } else {
                left
            };
            lease.slice = units;
            lease.expires = now + LEASE_LIFETIME;
            lease.remaining_at_grant = decision.remaining;
            lease.reset_after_us = decision.reset_after_us;
        } else {
            // Close to the limit: the next step asks for its own cost only.
            lease.slice = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(remaining: u64) -> GcraDecision {
        GcraDecision {
            allowed: true,
            remaining,
            reset_after_us: 10,
            retry_after_us: 0,
        }
    }

    #[test]
    fn slow_limits_never_lease() {
        assert_eq!(slice_cap(GcraParams::new(5, Duration::from_secs(1), 5)), 0);
        assert_eq!(
            slice_cap(GcraParams::new(100, Duration::from_secs(1), 10)),
            0
        );
        assert_eq!(
            slice_cap(GcraParams::new(20_000, Duration::from_secs(1), 20_000)),
            100
        );
        // A large burst does not widen slices beyond the per-second rate.
        assert_eq!(
            slice_cap(GcraParams::new(1_000, Duration::from_secs(1), 1_000_000)),
            5
        );
    }

    #[test]
    fn slices_double_while_spent_and_halve_when_they_expire_unused() {
        let book = LeaseBook::default();
        let t0 = Instant::now();
        let mut asked = Vec::new();
        for _ in 0..6 {
            let units = match book.take("k", 1, 16, t0) {
                LeaseStep::Ask { units } => units,
                LeaseStep::Spent(_) => continue,
            };
            asked.push(units);
            book.granted("k", units, 1, &allowed(100), t0);
            // Spend the rest of the slice.
            for _ in 1..units {
                assert!(matches!(book.take("k", 1, 16, t0), LeaseStep::Spent(_)));
            }
        }
        assert_eq!(asked, [1, 2, 4, 8, 16, 16]);
        // Take one unit of a 16-unit slice, then let it expire.
        let LeaseStep::Ask { units } = book.take("k", 1, 16, t0) else {
            panic!("slice was spent");
        };
        book.granted("k", units, 1, &allowed(100), t0);
        let later = t0 + LEASE_LIFETIME + Duration::from_millis(1);
        assert_eq!(book.take("k", 1, 16, later), LeaseStep::Ask { units: 8 });
    }

    #[test]
    fn a_refused_slice_returns_to_exact_steps() {
        let book = LeaseBook::default();
        let t0 = Instant::now();
        book.granted("k", 8, 1, &allowed(50), t0);
        for _ in 0..7 {
            assert!(matches!(book.take("k", 1, 64, t0), LeaseStep::Spent(_)));
        }
        assert_eq!(book.take("k", 1, 64, t0), LeaseStep::Ask { units: 16 });
        let refused = GcraDecision {
            allowed: false,
            remaining: 0,
            reset_after_us: 10,
            retry_after_us: 5,
        };
        book.granted("k", 16, 1, &refused, t0);
        assert_eq!(book.take("k", 1, 64, t0), LeaseStep::Ask { units: 1 });
        book.granted("k", 1, 1, &allowed(0), t0);
        assert_eq!(book.take("k", 1, 64, t0), LeaseStep::Ask { units: 2 });
    }

    #[test]
    fn a_flood_of_keys_stays_bounded_and_exact() {
        let book = LeaseBook::default();
        let t0 = Instant::now();
        for i in 0..(SHARDS * MAX_PER_SHARD + 5_000) {
            book.granted(&format!("k{i}"), 4, 1, &allowed(10), t0);
        }
        let held: usize = book
            .shards
            .iter()
            .map(|s| s.lock().map(|s| s.leases.len()).unwrap_or(0))
            .sum();
        assert!(held <= SHARDS * MAX_PER_SHARD, "{held}");
        // Once they expire, sweeping makes room again.
        let later = t0 + LEASE_LIFETIME + Duration::from_millis(1);
        book.granted("fresh", 4, 1, &allowed(10), later);
        assert!(matches!(
            book.take("fresh", 1, 16, later),
            LeaseStep::Spent(_)
        ));
    }

    #[test]
    fn a_cost_above_the_slice_asks_for_the_cost() {
        let book = LeaseBook::default();
        let t0 = Instant::now();
        assert_eq!(book.take("k", 7, 64, t0), LeaseStep::Ask { units: 7 });
        book.granted("k", 7, 7, &allowed(3), t0);
        // Nothing left over: the next step asks again (a doubled slice).
        assert_eq!(book.take("k", 1, 64, t0), LeaseStep::Ask { units: 14 });
    }
}
