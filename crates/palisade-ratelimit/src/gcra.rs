//! The Generic Cell Rate Algorithm and the in-process store.
//!
//! GCRA keeps one number per key, the *theoretical arrival time* (TAT): the
//! moment the key's allowance would be fully replenished. A request costing
//! `c` units is admitted when `max(TAT, now) + c·T - now ≤ burst·T`, where
//! `T = period / rate` is the emission interval; admission moves TAT forward
//! by `c·T`. This is exact (no window-boundary bursts as with fixed windows),
//! needs O(1) state per key (unlike sliding logs), supports weighted costs
//! and bursts natively, and is a handful of arithmetic operations, which makes
//! it cheap in process and easy to run atomically as a Redis script with
//! identical semantics. Burst lets well-behaved clients that were idle send a
//! short batch (page loads fan out into several API calls) while the long-run
//! rate stays bounded by `rate/period`.
//!
//! The in-process store is a sharded hash map rather than the `governor`
//! crate: `governor` has no per-request weighted cost with per-key policies
//! chosen at run time, and sharing one formula with the Redis script keeps
//! local, fallback and shared modes behaving the same.

use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A limit in GCRA terms, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcraParams {
    /// `period / rate`.
    pub emission_interval_us: u64,
    /// Units that can be spent at once.
    pub burst: u64,
}

impl GcraParams {
    pub fn new(rate: u64, period: Duration, burst: u64) -> Self {
        let rate = rate.max(1);
        let period_us = u64::try_from(period.as_micros()).unwrap_or(u64::MAX);
        GcraParams {
            emission_interval_us: (period_us / rate).max(1),
            burst: burst.max(1),
        }
    }

    /// `burst · T`: how far ahead of now TAT may run.
    pub fn tolerance_us(&self) -> u64 {
        self.emission_interval_us.saturating_mul(self.burst)
    }
}

/// The verdict of one GCRA step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcraDecision {
    pub allowed: bool,
    /// Units still available right after this request.
    pub remaining: u64,
    /// Time until the allowance is fully replenished.
    pub reset_after_us: u64,
    /// When refused: time until this request would be admitted.
    pub retry_after_us: u64,
}

/// One GCRA step: returns the decision and the TAT to store (unchanged when refused).
pub fn gcra_step(
    stored_tat: Option<u64>,
    now_us: u64,
    cost: u64,
    params: GcraParams,
) -> (GcraDecision, u64) {
    let t = params.emission_interval_us;
    let tolerance = params.tolerance_us();
    let tat = stored_tat.unwrap_or(now_us).max(now_us);
    let new_tat = tat.saturating_add(cost.saturating_mul(t));
    let ahead = new_tat - now_us;
    if ahead <= tolerance {
        let remaining = (tolerance - ahead) / t;
        (
            GcraDecision {
                allowed: true,
                remaining,
                reset_after_us: ahead,
                retry_after_us: 0,
            },
            new_tat,
        )
    } else {
        let current_ahead = tat - now_us;
        let retry_after = if cost > params.burst {
            // Can never be admitted; tell the client to come back after a full period.
            tolerance
        } else {
            ahead - tolerance
        };
        (
            GcraDecision {
                allowed: false,
                remaining: tolerance.saturating_sub(current_ahead) / t,
                reset_after_us: current_ahead,
                retry_after_us: retry_after,
            },
            tat,
        )
    }
}

/// In-process GCRA state over a sharded map.
///
/// Keys whose TAT is in the past carry no information (a fresh key behaves the
/// same), so they are swept when a shard grows past its share of
/// `max_keys`; if a shard is still full of live keys the oldest half is
/// dropped, which under a key-flooding attack can reset some counters but
/// keeps memory bounded.
pub struct LocalGcra {
    /// Key and TAT, found by one hash that also picks the shard.
    shards: Vec<Shard>,
    hasher: std::collections::hash_map::RandomState,
    max_per_shard: usize,
    epoch: Instant,
}

impl std::fmt::Debug for LocalGcra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalGcra")
            .field("shards", &self.shards.len())
            .field("max_per_shard", &self.max_per_shard)
            .finish()
    }
}

const SHARDS: usize = 32;

/// One shard's lock and table on cache lines of their own: every request
/// takes a shard's lock from whichever core it runs on, and a neighbour
/// sharing the line (another shard, or read-mostly data allocated next to
/// it) would be invalidated in every other core's cache each time.
#[repr(align(128))]
struct Shard(Mutex<HashTable<(String, u64)>>);

/// The shard of a key's hash. The table inside a shard places entries by the
/// hash's low bits and tags them with its top seven, so the shard is chosen
/// from bits neither uses (otherwise a shard's keys would all share them).
fn shard_of(hash: u64) -> usize {
    (hash >> 32) as usize % SHARDS
}

impl LocalGcra {
    pub fn new(max_keys: usize) -> Self {
        LocalGcra {
            shards: (0..SHARDS)
                .map(|_| Shard(Mutex::new(HashTable::new())))
                .collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            max_per_shard: (max_keys / SHARDS).max(64),
            epoch: Instant::now(),
        }
    }

    /// Microseconds on this store's monotonic clock.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Runs one GCRA step for `key` now.
    pub fn check(&self, key: &str, cost: u64, params: GcraParams) -> GcraDecision {
        self.check_at(key, cost, params, self.now_us())
    }

    /// Runs one GCRA step for `key` at `now_us` (tests drive time explicitly).
    pub fn check_at(&self, key: &str, cost: u64, params: GcraParams, now_us: u64) -> GcraDecision {
        let hash = self.hasher.hash_one(key);
        let Some(shard) = self.shards.get(shard_of(hash)) else {
            return gcra_step(None, now_us, cost, params).0;
        };
        let mut table = match shard.0.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((_, tat)) = table.find_mut(hash, |(k, _)| k == key) {
            let (decision, new_tat) = gcra_step(Some(*tat), now_us, cost, params);
            if decision.allowed {
                *tat = new_tat;
            }
            return decision;
        }
        let (decision, new_tat) = gcra_step(None, now_us, cost, params);
        if decision.allowed {
            if table.len() >= self.max_per_shard {
                table.retain(|(_, tat)| *tat > now_us);
                if table.len() >= self.max_per_shard {
                    let mut tats: Vec<u64> = table.iter().map(|(_, tat)| *tat).collect();
                    tats.sort_unstable();
                    let cutoff = tats.get(tats.len() / 2).copied().unwrap_or(u64::MAX);
                    table.retain(|(_, tat)| *tat > cutoff);
                }
            }
            table.insert_unique(hash, (key.to_owned(), new_tat), |(k, _)| {
                self.hasher.hash_one(k.as_str())
            });
        }
        decision
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.0.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn burst_then_steady_rate() {
        let p = GcraParams::new(5, Duration::from_secs(1), 5);
        let store = LocalGcra::new(1000);
        let mut admitted = 0;
        for _ in 0..10 {
            if store.check_at("k", 1, p, 0).allowed {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 5, "burst of 5 at t=0");
        let d = store.check_at("k", 1, p, 0);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_us, 200_000);
        assert!(store.check_at("k", 1, p, 200_000).allowed);
        assert!(!store.check_at("k", 1, p, 200_000).allowed);
        // Over 10 s of steady calls every 10 ms, 5/s are admitted (plus nothing extra).
        let mut count = 0;
        for i in 1..=1000u64 {
            if store.check_at("k", 1, p, 200_000 + i * 10_000).allowed {
                count += 1;
            }
        }
        assert_eq!(count, 50);
    }

    #[test]
    fn weighted_costs_and_impossible_costs() {
        let p = GcraParams::new(100, Duration::from_secs(3600), 100);
        let store = LocalGcra::new(1000);
        assert!(store.check_at("q", 60, p, 0).allowed);
        let d = store.check_at("q", 60, p, 0);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 40);
        let d = store.check_at("q", 40, p, 0);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        let d = store.check_at("other", 101, p, 0);
        assert!(!d.allowed);
        assert!(d.retry_after_us > 0);
    }

    #[test]
    fn memory_stays_bounded() {
        let p = GcraParams::new(1, Duration::from_secs(60), 1);
        let store = LocalGcra::new(SHARDS * 64);
        for i in 0..20_000u64 {
            store.check_at(&format!("ip-{i}"), 1, p, i);
        }
        assert!(store.len() <= SHARDS * 64, "{}", store.len());
    }

    proptest! {
        /// Over any sequence of requests, admitted units never exceed
        /// burst + elapsed/T.
        #[test]
        fn never_admits_more_than_the_rate(
            rate in 1u64..50, burst in 1u64..20,
            steps in proptest::collection::vec((0u64..300_000, 1u64..5), 1..200)
        ) {
            let p = GcraParams::new(rate, Duration::from_secs(1), burst);
            let mut tat = None;
            let mut now = 0u64;
            let mut admitted = 0u64;
            for (dt, cost) in steps {
                now += dt;
                let (d, new_tat) = gcra_step(tat, now, cost, p);
                if d.allowed { admitted += cost; tat = Some(new_tat); }
                prop_assert!(d.remaining <= burst);
            }
            prop_assert!(admitted <= burst + now / p.emission_interval_us);
        }
    }
}
