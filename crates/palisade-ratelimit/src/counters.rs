//! Expiring counters, distinct-member sets and block markers, in process or
//! in Redis. When Redis is unavailable the in-process copy is used (brute-force
//! counting degrades to per-instance, it never stops).

use crate::shared::SharedStore;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Distinct members remembered per set in process.
const MAX_MEMBERS: usize = 4096;

struct Entry {
    count: u64,
    members: HashSet<String>,
    expires: Instant,
}

/// In-process counters with expiry and a bound on the number of keys.
/// The in-process state of limits and brute-force counters, kept by the
/// gateway for its whole life and handed to each configuration it loads:
/// reloading the configuration does not give anyone a fresh allowance, and
/// does not lift a block.
#[derive(Clone)]
pub struct LocalState {
    pub(crate) gcra: Arc<crate::gcra::LocalGcra>,
    pub(crate) counters: Arc<LocalCounters>,
}

impl std::fmt::Debug for LocalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalState")
            .field("rate_limit_keys", &self.gcra.len())
            .finish_non_exhaustive()
    }
}

impl Default for LocalState {
    fn default() -> Self {
        LocalState {
            gcra: Arc::new(crate::gcra::LocalGcra::new(1_000_000)),
            counters: Arc::new(LocalCounters::new(200_000)),
        }
    }
}

pub struct LocalCounters {
    entries: Mutex<HashMap<String, Entry>>,
    max_keys: usize,
}

impl LocalCounters {
    pub fn new(max_keys: usize) -> Self {
        LocalCounters {
            entries: Mutex::new(HashMap::new()),
            max_keys: max_keys.max(16),
        }
    }

    fn with<T>(&self, key: &str, ttl: Duration, f: impl FnOnce(&mut Entry) -> T) -> T {
        let mut map = match self.entries.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        let now = Instant::now();
        if map.get(key).is_some_and(|e| e.expires <= now) {
            map.remove(key);
        }
        if !map.contains_key(key) && map.len() >= self.max_keys {
            map.retain(|_, e| e.expires > now);
            if map.len() >= self.max_keys {
                // Drop the entries closest to expiry.
                let mut expiries: Vec<Instant> = map.values().map(|e| e.expires).collect();
                expiries.sort_unstable();
                if let Some(cutoff) = expiries.get(expiries.len() / 2).copied() {
                    map.retain(|_, e| e.expires > cutoff);
                }
            }
        }
        let entry = map.entry(key.to_owned()).or_insert_with(|| Entry {
            count: 0,
            members: HashSet::new(),
            expires: now + ttl,
        });
        f(entry)
    }

    fn peek<T>(&self, key: &str, f: impl FnOnce(&Entry) -> T) -> Option<T> {
        let map = match self.entries.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.get(key).filter(|e| e.expires > Instant::now()).map(f)
    }

    pub fn incr(&self, key: &str, ttl: Duration) -> u64 {
        self.with(key, ttl, |e| {
            e.count += 1;
            e.count
        })
    }

    pub fn get(&self, key: &str) -> u64 {
        self.peek(key, |e| e.count).unwrap_or(0)
    }

    pub fn add_distinct(&self, key: &str, member: &str, ttl: Duration) -> u64 {
        self.with(key, ttl, |e| {
            if e.members.len() < MAX_MEMBERS {
                e.members.insert(member.to_owned());
            }
            e.members.len() as u64
        })
    }

    pub fn set_block(&self, key: &str, ttl: Duration) {
        let mut map = match self.entries.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.insert(
            key.to_owned(),
            Entry {
                count: 1,
                members: HashSet::new(),
                expires: Instant::now() + ttl,
            },
        );
    }

    pub fn block_remaining(&self, key: &str) -> Option<Duration> {
        self.peek(key, |e| e.expires.saturating_duration_since(Instant::now()))
            .filter(|d| !d.is_zero())
    }

    pub fn delete(&self, key: &str) {
        if let Ok(mut map) = self.entries.lock() {
            map.remove(key);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Counters in Redis when configured, in process otherwise or as fallback.
pub struct Counters {
    local: Arc<LocalCounters>,
    shared: Option<Arc<SharedStore>>,
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counters")
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

impl Counters {
    pub fn new(shared: Option<Arc<SharedStore>>) -> Self {
        Self::with_state(shared, &LocalState::default())
    }

    /// Counters whose in-process part lives in `state`, so that failure counts
    /// and blocks survive a configuration reload.
    pub fn with_state(shared: Option<Arc<SharedStore>>, state: &LocalState) -> Self {
        Counters {
            local: state.counters.clone(),
            shared,
        }
    }

    fn store(&self, use_shared: bool) -> Option<&SharedStore> {
        self.shared.as_deref().filter(|_| use_shared)
    }

    pub async fn incr(&self, key: &str, ttl: Duration, use_shared: bool) -> u64 {
        if let Some(s) = self.store(use_shared) {
            if let Ok(n) = s.incr(&s.key(key), ttl).await {
                return n;
            }
        }
        self.local.incr(key, ttl)
    }

    pub async fn get(&self, key: &str, use_shared: bool) -> u64 {
        if let Some(s) = self.store(use_shared) {
            if let Ok(n) = s.get_count(&s.key(key)).await {
                return n;
            }
        }
        self.local.get(key)
    }

    pub async fn add_distinct(
        &self,
        key: &str,
        member: &str,
        ttl: Duration,
        use_shared: bool,
    ) -> u64 {
        if let Some(s) = self.store(use_shared) {
            if let Ok(n) = s.add_distinct(&s.key(key), member, ttl).await {
                return n;
            }
        }
        self.local.add_distinct(key, member, ttl)
    }

    pub async fn set_block(&self, key: &str, ttl: Duration, use_shared: bool) {
        if let Some(s) = self.store(use_shared) {
            if s.set_block(&s.key(key), ttl).await.is_ok() {
                return;
            }
        }
        self.local.set_block(key, ttl);
    }

    pub async fn block_remaining(&self, key: &str, use_shared: bool) -> Option<Duration> {
        if let Some(s) = self.store(use_shared) {
            if let Ok(r) = s.block_remaining(&s.key(key)).await {
                return r;
            }
        }
        self.local.block_remaining(key)
    }

    pub async fn delete(&self, key: &str, use_shared: bool) {
        if let Some(s) = self.store(use_shared) {
            if s.delete(&s.key(key)).await.is_ok() {
                return;
            }
        }
        self.local.delete(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_counters_expire_and_stay_bounded() {
        let c = LocalCounters::new(16);
        assert_eq!(c.incr("a", Duration::from_secs(60)), 1);
        assert_eq!(c.incr("a", Duration::from_secs(60)), 2);
        assert_eq!(c.get("a"), 2);
        assert_eq!(c.add_distinct("s", "x", Duration::from_secs(60)), 1);
        assert_eq!(c.add_distinct("s", "x", Duration::from_secs(60)), 1);
        assert_eq!(c.add_distinct("s", "y", Duration::from_secs(60)), 2);
        c.set_block("b", Duration::from_millis(30));
        assert!(c.block_remaining("b").is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(c.block_remaining("b").is_none());
        for i in 0..1000 {
            c.incr(&format!("k{i}"), Duration::from_secs(60));
        }
        assert!(c.len() <= 16);
    }
}
