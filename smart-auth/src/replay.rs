//! One-time-use identifiers (`jti`) for DPoP proofs and client assertions.
//!
//! [`ReplayStore`] is the seam: a host running several instances backs it with a shared store
//! (a database row with a unique key, a cache with set-if-absent). [`InMemoryReplayStore`] is
//! bounded and safe under concurrency; when full of live entries it refuses (fails closed)
//! rather than forget one, and one owner (the user of a DPoP-bound token's client, a client's
//! assertions, a DPoP proof key when no token names a client) may hold only a share of it, so
//! that no single owner can fill it for everyone.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::TokenError;
use crate::time::UnixTime;

/// Records identifiers once and refuses them the second time.
///
/// Both methods are required: a store that bounded no owner would let one client fill it for
/// every other one, so an implementation says how it bounds them (or, knowingly, that it does
/// not, by calling `check_and_record` from `check_and_record_for`).
///
/// ```compile_fail
/// use smart_auth::replay::ReplayStore;
/// use smart_auth::{TokenError, UnixTime};
/// struct OwnerBlind;
/// impl ReplayStore for OwnerBlind {
///     fn check_and_record(&self, _: &[u8; 32], _: UnixTime, _: UnixTime) -> Result<(), TokenError> {
///         Ok(())
///     }
///     // No `check_and_record_for`: does not compile.
/// }
/// ```
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

    /// [`check_and_record`](Self::check_and_record) for an identifier that belongs to `owner`
    /// (for a DPoP-bound token its user of its client: `iss`, `client_id` and `sub`, or the
    /// client alone without `sub`; for an assertion its client; a DPoP proof key when no token
    /// names its client): a store may also refuse it, [`TokenError::ReplayQuotaExceeded`], when
    /// `owner` already holds its share of the store, so that one owner cannot fill the store
    /// and lock every other one out (RFC 9449 §11.1). A shared store should bound each owner
    /// as [`InMemoryReplayStore`] does. Required, with no default: one that ignored `owner`
    /// would be owner-blind without saying so.
    fn check_and_record_for(
        &self,
        owner: &[u8; 32],
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

/// The fewest entries one owner may hold by default, so that small stores stay usable.
const MIN_PER_OWNER: usize = 16;

const NEVER: UnixTime = UnixTime::from_secs(i64::MAX);

/// One locked part of a map whose values expire.
#[derive(Debug)]
struct Shard<V> {
    map: HashMap<[u8; 32], (UnixTime, V)>,
    /// No value expires before this, so a full shard is swept only once one has expired (at
    /// most once a second), not on every refused call.
    earliest: UnixTime,
}

impl<V> Shard<V> {
    fn new() -> Shard<V> {
        Shard {
            map: HashMap::new(),
            earliest: NEVER,
        }
    }

    /// Whether `key` is present or fits, evicting expired values if the shard is full.
    fn has_room(&mut self, key: &[u8; 32], capacity: usize, now: UnixTime) -> bool {
        if self.map.len() < capacity || self.map.contains_key(key) {
            return true;
        }
        if now < self.earliest {
            return false;
        }
        self.map.retain(|_, (until, _)| now < *until);
        self.earliest = self
            .map
            .values()
            .map(|(until, _)| *until)
            .min()
            .unwrap_or(NEVER);
        self.map.len() < capacity
    }

    fn insert(&mut self, key: [u8; 32], until: UnixTime, value: V) {
        self.earliest = self.earliest.min(until);
        self.map.insert(key, (until, value));
    }
}

fn lock<'a, V>(
    shards: &'a [Mutex<Shard<V>>],
    key: &[u8; 32],
) -> std::sync::MutexGuard<'a, Shard<V>> {
    shards[usize::from(key[0]) % SHARDS]
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// A bounded in-memory [`ReplayStore`] for a single instance.
#[derive(Debug)]
pub struct InMemoryReplayStore {
    entries: Vec<Mutex<Shard<()>>>,
    /// Per owner: how many entries it recorded, and until when the last of them lives.
    owners: Vec<Mutex<Shard<usize>>>,
    per_shard: usize,
    per_owner: usize,
}

impl InMemoryReplayStore {
    /// A store for at most `capacity` live entries, rounded up to a multiple of 16: the store is
    /// split into 16 locked shards of equal size, each holding at least one entry, so a
    /// `capacity` of 0 still keeps 16 (there is no way to turn replay detection off). A key
    /// arriving at a shard full of live entries is refused, [`TokenError::ReplayStoreFull`].
    /// One owner may hold a sixteenth of the store, at least 16 entries
    /// ([`per_owner_limit`](Self::per_owner_limit)).
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
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        InMemoryReplayStore {
            entries: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            owners: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            per_shard,
            per_owner: per_shard.max(MIN_PER_OWNER),
        }
    }

    /// At most `limit` (at least 1) entries per owner through
    /// [`ReplayStore::check_and_record_for`]. An owner at its limit is refused,
    /// [`TokenError::ReplayQuotaExceeded`], until every entry it recorded has expired; other
    /// owners are not affected.
    ///
    /// ```
    /// use smart_auth::replay::{InMemoryReplayStore, ReplayStore};
    /// use smart_auth::{TokenError, UnixTime};
    /// let store = InMemoryReplayStore::new(1000).per_owner_limit(1);
    /// let (until, now) = (UnixTime::from_secs(60), UnixTime::from_secs(0));
    /// let (alice, bob) = ([1; 32], [2; 32]);
    /// assert_eq!(store.check_and_record_for(&alice, &[10; 32], until, now), Ok(()));
    /// let over = store.check_and_record_for(&alice, &[11; 32], until, now);
    /// assert_eq!(over, Err(TokenError::ReplayQuotaExceeded));
    /// assert_eq!(store.check_and_record_for(&bob, &[11; 32], until, now), Ok(()));
    /// // Once alice's entry expired, she may record again.
    /// assert_eq!(store.check_and_record_for(&alice, &[12; 32], until.plus(60), until), Ok(()));
    /// ```
    pub fn per_owner_limit(mut self, limit: usize) -> Self {
        self.per_owner = limit.max(1);
        self
    }

    /// Number of entries (including expired ones not yet evicted).
    pub fn len(&self) -> usize {
        self.entries
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).map.len())
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
        let mut shard = lock(&self.entries, key);
        if let Some((until, ())) = shard.map.get(key) {
            if now < *until {
                return Err(TokenError::Replayed);
            }
        }
        if !shard.has_room(key, self.per_shard, now) {
            return Err(TokenError::ReplayStoreFull);
        }
        shard.insert(*key, expires_at, ());
        Ok(())
    }

    fn check_and_record_for(
        &self,
        owner: &[u8; 32],
        key: &[u8; 32],
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<(), TokenError> {
        // Held across the entry's check (always owners first, then entries: no deadlock), so
        // that concurrent calls of one owner cannot overshoot its limit.
        let mut owners = lock(&self.owners, owner);
        let (until, count) = match owners.map.get(owner) {
            Some(&(until, count)) if now < until => (until, count),
            // Every entry it counted has expired.
            _ => (expires_at, 0),
        };
        if count >= self.per_owner {
            return Err(TokenError::ReplayQuotaExceeded);
        }
        // Owners with live entries are no more than live entries.
        if !owners.has_room(owner, self.per_shard, now) {
            return Err(TokenError::ReplayStoreFull);
        }
        self.check_and_record(key, expires_at, now)?;
        owners.insert(*owner, until.max(expires_at), count + 1);
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

    #[test]
    fn one_owner_never_overshoots_its_limit_concurrently() {
        let s = InMemoryReplayStore::new(1024).per_owner_limit(5);
        let now = UnixTime::from_secs(100);
        let owner = replay_key("o", &["alice"]);
        let wins = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|sc| {
            for t in 0..8 {
                let (s, wins) = (&s, &wins);
                sc.spawn(move || {
                    for i in 0..10 {
                        let k = replay_key("t", &[&t.to_string(), &i.to_string()]);
                        if s.check_and_record_for(&owner, &k, now.plus(60), now)
                            .is_ok()
                        {
                            wins.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(wins.into_inner(), 5);
        assert_eq!(s.len(), 5);
    }
}
