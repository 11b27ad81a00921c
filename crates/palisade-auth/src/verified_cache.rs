//! A bounded cache of verified JWTs.
//!
//! RSA signature verification costs tens to hundreds of microseconds while a
//! client typically sends the same token many times. A verified token's
//! principal is kept, keyed by the SHA-256 of the token (the cache does not
//! hold the tokens themselves), together with the time window in which its
//! claims are valid. A hit re-checks that window against the current time;
//! entries live at most `MAX_ENTRY_AGE`, and the whole cache is cleared
//! whenever an issuer's key set changes, so a key removed from a JWKS stops
//! verifying tokens at the next refresh.
//!
//! In front of it, each thread remembers the last few tokens it found
//! verified, byte for byte ([`RECENT_PER_THREAD`]): a client repeating its
//! token on a keep-alive connection is then recognised by one comparison,
//! without hashing the token or taking a shard lock. Those entries obey the
//! same window, age and clearing (a generation number) as the cache.

use palisade_core::Principal;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Longest time a verified token is trusted without re-verifying its signature.
pub const MAX_ENTRY_AGE: Duration = Duration::from_secs(300);
const SHARDS: usize = 16;

#[derive(Debug, Clone)]
struct Entry {
    principal: Principal,
    /// Unix seconds, inclusive bounds (leeway already applied; the upper
    /// one no later than `MAX_ENTRY_AGE` after the entry was made).
    valid_from: u64,
    valid_until: u64,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<[u8; 32], Entry, DigestHash>,
    order: VecDeque<[u8; 32]>,
}

/// Keys are SHA-256 digests, already uniform and beyond a client's control:
/// eight of their bytes are the map's hash (hashing them again with SipHash
/// on every request would buy nothing).
#[derive(Default, Clone, Copy)]
struct DigestHash;

#[derive(Default)]
struct DigestHasher(u64);

impl std::hash::BuildHasher for DigestHash {
    type Hasher = DigestHasher;

    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // The array's bytes arrive in one call; its length prefix, if any,
        // arrives through `write_usize`, which is ignored.
        let mut word = [0u8; 8];
        for (slot, b) in word.iter_mut().zip(bytes.iter().skip(8)) {
            *slot = *b;
        }
        self.0 ^= u64::from_le_bytes(word);
    }

    fn write_usize(&mut self, _: usize) {}
}

/// Tokens each thread remembers in front of the shared cache.
pub const RECENT_PER_THREAD: usize = 8;
/// Longer tokens are not remembered per thread.
const MAX_RECENT_TOKEN: usize = 4096;

/// One token a thread found verified, with what the shared cache said of it.
struct RecentToken {
    /// Which cache and which of its generations vouched for it.
    cache: u64,
    generation: u64,
    token: Box<[u8]>,
    entry: Entry,
}

thread_local! {
    static RECENT: RefCell<[Option<RecentToken>; RECENT_PER_THREAD]> =
        const { RefCell::new([const { None }; RECENT_PER_THREAD]) };
}

/// Distinguishes caches (and so engines after a reload) in the per-thread slots.
static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(1);

/// The per-thread slot for a token: its last eight bytes (a signature's,
/// for a JWT) are as varied as any.
fn recent_slot(token: &[u8]) -> usize {
    let tail = token.get(token.len().saturating_sub(8)..).unwrap_or(token);
    let mut word = [0u8; 8];
    for (w, b) in word.iter_mut().zip(tail) {
        *w = *b;
    }
    (u64::from_le_bytes(word).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61) as usize
        % RECENT_PER_THREAD
}

impl Entry {
    fn fresh(&self, now: u64) -> bool {
        self.valid_from <= now && now <= self.valid_until
    }
}

/// Verified-token cache.
pub struct VerifiedTokenCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
    id: u64,
    /// Bumped by [`clear`](Self::clear): per-thread entries of an older
    /// generation are stale.
    generation: AtomicU64,
}

impl std::fmt::Debug for VerifiedTokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokenCache")
            .field("capacity", &(self.per_shard * SHARDS))
            .finish()
    }
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

impl VerifiedTokenCache {
    /// A cache holding about `capacity` tokens (0 disables caching).
    pub fn new(capacity: usize) -> Self {
        VerifiedTokenCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &[u8; 32]) -> Option<&Mutex<Shard>> {
        self.shards.get(usize::from(key[0]) % SHARDS)
    }

    /// The principal of a previously verified token still valid at `now`.
    pub fn get(&self, token: &str, now: u64) -> Option<Principal> {
        self.get_bytes(token.as_bytes(), now)
    }

    /// [`get`](Self::get) for a token's bytes as they arrived. Only tokens
    /// that were extracted, checked and verified are ever inserted, so a hit
    /// vouches for these exact bytes.
    pub fn get_bytes(&self, token: &[u8], now: u64) -> Option<Principal> {
        if self.per_shard == 0 {
            return None;
        }
        // Read before the shard: an entry read after a `clear` began is then
        // remembered under the generation that clear makes stale.
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(principal) = self.recent(token, now, generation) {
            return Some(principal);
        }
        let key = digest(token);
        let entry = {
            let shard = self.shard(&key)?.lock().ok()?;
            let entry = shard.entries.get(&key)?;
            if !entry.fresh(now) {
                return None;
            }
            entry.clone()
        };
        let principal = entry.principal.clone();
        self.remember(token, entry, generation);
        Some(principal)
    }

    /// The principal of `token` if this thread saw it verified recently.
    fn recent(&self, token: &[u8], now: u64, generation: u64) -> Option<Principal> {
        RECENT.with(|recent| {
            let recent = recent.try_borrow().ok()?;
            let r = recent.get(recent_slot(token))?.as_ref()?;
            (r.cache == self.id
                && r.generation == generation
                && *r.token == *token
                && r.entry.fresh(now))
            .then(|| r.entry.principal.clone())
        })
    }

    /// Remembers on this thread that `token` is verified.
    fn remember(&self, token: &[u8], mut entry: Entry, generation: u64) {
        if token.len() > MAX_RECENT_TOKEN {
            return;
        }
        // This thread alone clones it from now on.
        entry.principal = entry.principal.detached();
        RECENT.with(|recent| {
            if let Ok(mut recent) = recent.try_borrow_mut() {
                if let Some(slot) = recent.get_mut(recent_slot(token)) {
                    *slot = Some(RecentToken {
                        cache: self.id,
                        generation,
                        token: token.into(),
                        entry,
                    });
                }
            }
        });
    }

    /// Remembers a token verified at `now`, valid from `valid_from` to
    /// `valid_until` (unix seconds): until `MAX_ENTRY_AGE` after `now` at most.
    /// Times come from the caller's clock, the one hits are checked against,
    /// so a hit costs no clock read of its own.
    pub fn insert(
        &self,
        token: &str,
        principal: Principal,
        now: u64,
        valid_from: u64,
        valid_until: u64,
    ) {
        if self.per_shard == 0 {
            return;
        }
        let valid_until = valid_until.min(now.saturating_add(MAX_ENTRY_AGE.as_secs()));
        let generation = self.generation.load(Ordering::Acquire);
        let key = digest(token.as_bytes());
        let Some(shard) = self.shard(&key) else {
            return;
        };
        let Ok(mut shard) = shard.lock() else {
            return;
        };
        while shard.entries.len() >= self.per_shard {
            match shard.order.pop_front() {
                Some(old) => {
                    shard.entries.remove(&old);
                }
                None => break,
            }
        }
        let entry = Entry {
            principal,
            valid_from,
            valid_until,
        };
        let remembered = entry.clone();
        if shard.entries.insert(key, entry).is_none() {
            shard.order.push_back(key);
        }
        drop(shard);
        self.remember(token.as_bytes(), remembered, generation);
    }

    /// Forgets everything (after a key set change).
    pub fn clear(&self) {
        for shard in &self.shards {
            if let Ok(mut s) = shard.lock() {
                s.entries.clear();
                s.order.clear();
            }
        }
        // After the shards: a reader that saw the old generation may have
        // read an entry before it was cleared, and remembers it as stale.
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.entries.len()).unwrap_or(0))
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::PrincipalKind;

    #[test]
    fn hits_respect_validity_and_capacity() {
        let cache = VerifiedTokenCache::new(32);
        let p = Principal::new(PrincipalKind::Jwt, "alice");
        cache.insert("tok", p.clone(), 100, 100, 200);
        assert_eq!(cache.get("tok", 150), Some(p.clone()));
        assert_eq!(cache.get("tok", 99), None);
        assert_eq!(cache.get("tok", 201), None);
        assert_eq!(cache.get("other", 150), None);
        for i in 0..1000 {
            cache.insert(
                &format!("t{i}"),
                Principal::new(PrincipalKind::Jwt, "x"),
                0,
                0,
                u64::MAX,
            );
        }
        assert!(cache.len() <= 32);
        // However long the token is valid, the cache trusts it for
        // MAX_ENTRY_AGE after verifying it, no longer.
        let age = MAX_ENTRY_AGE.as_secs();
        cache.insert("long", p.clone(), 1_000, 0, u64::MAX);
        assert_eq!(cache.get("long", 1_000 + age), Some(p.clone()));
        assert_eq!(cache.get("long", 1_000 + age + 1), None);
        cache.clear();
        assert!(cache.is_empty());
        assert_eq!(
            cache.get("tok", 150),
            None,
            "a thread's recent tokens are cleared too"
        );
        let off = VerifiedTokenCache::new(0);
        off.insert(
            "tok",
            Principal::new(PrincipalKind::Jwt, "a"),
            0,
            0,
            u64::MAX,
        );
        assert_eq!(off.get("tok", 1), None);
    }

    #[test]
    fn recent_tokens_obey_the_window_the_cache_and_its_generation() {
        let p = Principal::new(PrincipalKind::Jwt, "alice");
        let cache = VerifiedTokenCache::new(32);
        cache.insert("tok-a", p.clone(), 100, 100, 200);
        // Found on this thread without the shared map, and only inside the window.
        assert_eq!(cache.recent(b"tok-a", 150, 0), Some(p.clone()));
        assert_eq!(cache.get("tok-a", 201), None);
        assert_eq!(cache.get("tok-a", 99), None);
        // Bytes must match exactly, not only the slot.
        assert_eq!(cache.recent(b"tok-b", 150, 0), None);
        // Another cache (an engine after a reload) does not see this one's tokens.
        let other = VerifiedTokenCache::new(32);
        assert_eq!(other.get("tok-a", 150), None);
        // A clear makes what this thread remembers stale.
        cache.clear();
        assert_eq!(cache.get("tok-a", 150), None);
        // Remembered again after a shared-cache hit.
        cache.insert("tok-a", p.clone(), 100, 100, 200);
        RECENT.with(|r| *r.borrow_mut() = [const { None }; RECENT_PER_THREAD]);
        assert_eq!(cache.get("tok-a", 150), Some(p.clone()));
        assert_eq!(cache.recent(b"tok-a", 150, 1), Some(p));
    }
}
