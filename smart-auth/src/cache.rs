//! The validated-token cache: repeated requests with the same token skip signature
//! verification.
//!
//! Keyed by SHA-256 of the whole token (never by `kid`, `sub` or a prefix: threats.md §2.19),
//! bounded in entries, and never serving an entry past the token's `exp` or the configured
//! maximum age. Sharded locks keep it cheap under concurrency.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::time::{CacheTtl, UnixTime};

const SHARDS: usize = 16;

type Key = [u8; 32];

#[derive(Debug)]
struct Shard<V> {
    map: HashMap<Key, (V, UnixTime)>,
}

/// A bounded, thread-safe cache from tokens to their validated results.
#[derive(Debug)]
pub struct TokenCache<V> {
    shards: Vec<Mutex<Shard<V>>>,
    per_shard: usize,
    max_ttl: i64,
}

/// The cache key of a token: SHA-256 of its bytes.
pub fn token_hash(token: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl<V: Clone> TokenCache<V> {
    /// A cache of at most `capacity` entries, each kept at most `max_ttl`. The capacity is
    /// rounded up to a multiple of 16: the cache is split into 16 locked shards of equal size,
    /// each holding at least one entry, so a `capacity` of 0 still keeps up to 16 (a `max_ttl`
    /// of 0 is the way to cache nothing).
    pub fn new(capacity: usize, max_ttl: CacheTtl) -> TokenCache<V> {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        let shards = (0..SHARDS)
            .map(|_| {
                Mutex::new(Shard {
                    map: HashMap::new(),
                })
            })
            .collect();
        TokenCache {
            shards,
            per_shard,
            max_ttl: max_ttl.as_secs(),
        }
    }

    fn shard(&self, key: &Key) -> std::sync::MutexGuard<'_, Shard<V>> {
        self.shards[usize::from(key[0]) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The cached value for `token`, if present and not expired at `now`.
    pub fn get(&self, token: &str, now: UnixTime) -> Option<V> {
        self.get_by_hash(&token_hash(token), now)
    }

    /// As [`TokenCache::get`] with a precomputed [`token_hash`].
    pub fn get_by_hash(&self, key: &Key, now: UnixTime) -> Option<V> {
        let mut shard = self.shard(key);
        match shard.map.get(key) {
            Some((v, until)) if now < *until => Some(v.clone()),
            Some(_) => {
                shard.map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Caches `value` for `token` until `expires_at` (the token's `exp`), or `now + max_ttl`
    /// if sooner. When the shard is full, expired entries go first, then an arbitrary one.
    pub fn insert(&self, token: &str, value: V, expires_at: i64, now: UnixTime) {
        self.insert_by_hash(token_hash(token), value, expires_at, now);
    }

    /// As [`TokenCache::insert`] with a precomputed [`token_hash`].
    pub fn insert_by_hash(&self, key: Key, value: V, expires_at: i64, now: UnixTime) {
        let until = UnixTime::from_secs(expires_at.min(now.as_secs().saturating_add(self.max_ttl)));
        if until <= now {
            return;
        }
        let mut shard = self.shard(&key);
        if shard.map.len() >= self.per_shard && !shard.map.contains_key(&key) {
            shard.map.retain(|_, (_, u)| now < *u);
            if shard.map.len() >= self.per_shard {
                if let Some(victim) = shard.map.keys().next().copied() {
                    shard.map.remove(&victim);
                }
            }
        }
        shard.map.insert(key, (value, until));
    }

    /// Removes `token` (e.g. after the host learns it was revoked).
    pub fn remove(&self, token: &str) {
        let key = token_hash(token);
        self.shard(&key).map.remove(&key);
    }

    /// Number of entries (including expired ones not yet evicted).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).map.len())
            .sum()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry.
    pub fn clear(&self) {
        for s in &self.shards {
            s.lock().unwrap_or_else(|e| e.into_inner()).map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_bounds_and_capacity() {
        let c: TokenCache<u32> = TokenCache::new(32, CacheTtl::from_secs(60).unwrap());
        let now = UnixTime::from_secs(1000);
        c.insert("a", 1, 1010, now);
        assert_eq!(c.get("a", now), Some(1));
        assert_eq!(
            c.get("a", UnixTime::from_secs(1010)),
            None,
            "never past exp"
        );
        c.insert("b", 2, 5000, now);
        assert_eq!(c.get("b", UnixTime::from_secs(1059)), Some(2));
        assert_eq!(
            c.get("b", UnixTime::from_secs(1060)),
            None,
            "never past max_ttl"
        );
        c.insert("expired", 3, 999, now);
        assert_eq!(c.get("expired", now), None);
        for i in 0..10_000 {
            c.insert(&format!("t{i}"), i, 5000, now);
        }
        assert!(c.len() <= 32);
        assert_eq!(c.get("a-prefix", now), None);
    }
}
