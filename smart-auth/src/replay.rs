//! One-time-use identifiers (`jti`) for DPoP proofs and client assertions.
//!
//! [`ReplayStore`] is the seam: a host running several instances backs it with a shared store
//! (a database row with a unique key, a cache with set-if-absent). [`InMemoryReplayStore`] is
//! bounded and safe under concurrency; when full of live entries it refuses (fails closed)
//! rather than forget one.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::TokenError;
use crate::time::UnixTime;

/// Records identifiers once and refuses them the second time.
pub trait ReplayStore: Send + Sync {
    /// Records `key` as used until `expires_at`. `Ok` on first use; [`TokenError::Replayed`] if
    /// it is already recorded and not expired; [`TokenError::ReplayStoreFull`] if it cannot be
    /// recorded. Must be atomic: of two concurrent calls with the same key, one fails.
    fn check_and_record(
        &self,
        key: &[u8; 32],
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<(), TokenError>;
}

/// The replay key for a list of parts: SHA-256 over a domain label and the length-prefixed
/// parts, so `("a", "bc")` and `("ab", "c")` differ and stored keys are fixed-size.
pub fn replay_key(domain: &str, parts: &[&str]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in std::iter::once(&domain).chain(parts) {
        ctx.update(&(p.len() as u64).to_be_bytes());
        ctx.update(p.as_bytes());
    }
    let mut out = [0; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

const SHARDS: usize = 16;

/// A bounded in-memory [`ReplayStore`] for a single instance.
#[derive(Debug)]
pub struct InMemoryReplayStore {
    shards: Vec<Mutex<HashMap<[u8; 32], UnixTime>>>,
    per_shard: usize,
}

impl InMemoryReplayStore {
    /// A store for at most `capacity` live entries, rounded up to a multiple of 16: the store is
    /// split into 16 locked shards of equal size, each holding at least one entry, so a
    /// `capacity` of 0 still keeps 16 (there is no way to turn replay detection off). A key
    /// arriving at a shard full of live entries is refused, [`TokenError::ReplayStoreFull`].
    ///
    /// ```
    /// use smart_auth::replay::{InMemoryReplayStore, ReplayStore};
    /// use smart_auth::{TokenError, UnixTime};
    /// let store = InMemoryReplayStore::new(0);
    /// let (until, now) = (UnixTime::from_secs(60), UnixTime::from_secs(0));
    /// assert_eq!(store.check_and_record(&[0; 32], until, now), Ok(()));
    /// assert_eq!(store.check_and_record(&[0; 32], until, now), Err(TokenError::Replayed));
    /// // Same shard (first byte modulo 16), one entry each: full, so refused, not forgotten.
    /// let same_shard = [16; 32];
    /// assert_eq!(store.check_and_record(&same_shard, until, now), Err(TokenError::ReplayStoreFull));
    /// assert_eq!(store.check_and_record(&[1; 32], until, now), Ok(()));
    /// ```
    pub fn new(capacity: usize) -> InMemoryReplayStore {
        InMemoryReplayStore {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Number of entries (including expired ones not yet evicted).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ReplayStore for InMemoryReplayStore {
    fn check_and_record(
        &self,
        key: &[u8; 32],
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<(), TokenError> {
        let mut shard = self.shards[usize::from(key[0]) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(until) = shard.get(key) {
            if now < *until {
                return Err(TokenError::Replayed);
            }
        }
        if shard.len() >= self.per_shard && !shard.contains_key(key) {
            shard.retain(|_, until| now < *until);
            if shard.len() >= self.per_shard {
                return Err(TokenError::ReplayStoreFull);
            }
        }
        shard.insert(*key, expires_at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_once_then_refuses_until_expiry() {
        let s = InMemoryReplayStore::new(16);
        let k = replay_key("t", &["a", "bc"]);
        assert_ne!(k, replay_key("t", &["ab", "c"]));
        let now = UnixTime::from_secs(100);
        assert_eq!(s.check_and_record(&k, now.plus(10), now), Ok(()));
        assert_eq!(
            s.check_and_record(&k, now.plus(10), now.plus(9)),
            Err(TokenError::Replayed)
        );
        assert_eq!(s.check_and_record(&k, now.plus(20), now.plus(10)), Ok(()));
    }

    #[test]
    fn bounded_and_fails_closed() {
        let s = InMemoryReplayStore::new(16);
        let now = UnixTime::from_secs(100);
        let mut full = 0;
        for i in 0..1000 {
            let k = replay_key("t", &[&i.to_string()]);
            if s.check_and_record(&k, now.plus(60), now) == Err(TokenError::ReplayStoreFull) {
                full += 1;
            }
        }
        assert!(s.len() <= 16 && full > 0);
        // Once entries expire, space frees up.
        let k = replay_key("t", &["late"]);
        assert_eq!(s.check_and_record(&k, now.plus(200), now.plus(61)), Ok(()));
    }

    #[test]
    fn concurrent_single_winner() {
        let s = InMemoryReplayStore::new(1024);
        let now = UnixTime::from_secs(100);
        let k = replay_key("t", &["same"]);
        let wins = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|sc| {
            for _ in 0..8 {
                sc.spawn(|| {
                    if s.check_and_record(&k, now.plus(60), now).is_ok() {
                        wins.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(wins.into_inner(), 1);
    }
}
