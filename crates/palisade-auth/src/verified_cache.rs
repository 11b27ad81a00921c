//! A bounded cache of verified JWTs.
//!
//! RSA signature verification costs tens to hundreds of microseconds while a
//! client typically sends the same token many times. A verified token's
//! principal is kept, keyed by the SHA-256 of the token (the token itself is
//! not stored), together with the time window in which its claims are valid.
//! A hit re-checks that window against the current time; entries live at most
//! `MAX_ENTRY_AGE`, and the whole cache is cleared whenever an issuer's key
//! set changes, so a key removed from a JWKS stops verifying tokens at the
//! next refresh.

use palisade_core::Principal;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest time a verified token is trusted without re-verifying its signature.
pub const MAX_ENTRY_AGE: Duration = Duration::from_secs(300);
const SHARDS: usize = 16;

#[derive(Debug, Clone)]
struct Entry {
    principal: Principal,
    /// Unix seconds, inclusive bounds (leeway already applied).
    valid_from: u64,
    valid_until: u64,
    inserted: Instant,
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

/// Verified-token cache.
pub struct VerifiedTokenCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
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
        let key = digest(token);
        let shard = self.shard(&key)?.lock().ok()?;
        let entry = shard.entries.get(&key)?;
        let fresh = entry.inserted.elapsed() < MAX_ENTRY_AGE
            && entry.valid_from <= now
            && now <= entry.valid_until;
        fresh.then(|| entry.principal.clone())
    }

    /// Remembers a verified token valid from `valid_from` to `valid_until`.
    pub fn insert(&self, token: &str, principal: Principal, valid_from: u64, valid_until: u64) {
        if self.per_shard == 0 {
            return;
        }
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
            inserted: Instant::now(),
        };
        if shard.entries.insert(key, entry).is_none() {
            shard.order.push_back(key);
        }
    }

    /// Forgets everything (after a key set change).
    pub fn clear(&self) {
        for shard in &self.shards {
            if let Ok(mut s) = shard.lock() {
                s.entries.clear();
                s.order.clear();
            }
        }
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
        cache.insert("tok", p.clone(), 100, 200);
        assert_eq!(cache.get("tok", 150), Some(p));
        assert_eq!(cache.get("tok", 99), None);
        assert_eq!(cache.get("tok", 201), None);
        assert_eq!(cache.get("other", 150), None);
        for i in 0..1000 {
            cache.insert(
                &format!("t{i}"),
                Principal::new(PrincipalKind::Jwt, "x"),
                0,
                u64::MAX,
            );
        }
        assert!(cache.len() <= 32);
        cache.clear();
        assert!(cache.is_empty());
        let off = VerifiedTokenCache::new(0);
        off.insert("tok", Principal::new(PrincipalKind::Jwt, "a"), 0, u64::MAX);
        assert_eq!(off.get("tok", 1), None);
    }
}
