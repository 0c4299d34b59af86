//! JWK Sets (RFC 7517 §5) and the key-set cache whose refresh policy is computed, not
//! performed (smart.md §3.6): the cache tells the host when a fetch is due, the host fetches
//! and hands the document back.
//!
//! ```
//! use smart_auth::jwks::{KeyCache, KeyCachePolicy};
//! use smart_auth::UnixTime;
//! let cache = KeyCache::new(KeyCachePolicy::default());
//! let now = UnixTime::from_secs(1_700_000_000);
//! // Nothing loaded yet: a fetch is due, and only one caller gets the ticket.
//! let ticket = cache.begin_refresh(now).expect("fetch due");
//! assert!(cache.begin_refresh(now).is_none());
//! let jwks = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
//! cache.complete_refresh(ticket, jwks, Some("public, max-age=300"), now).unwrap();
//! assert!(cache.refresh_due(now).is_none());
//! assert!(cache.refresh_due(now.plus(301)).is_some());
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::error::TokenError;
use crate::jose::header::Header;
use crate::jwk::{Jwk, JwkError};
use crate::time::UnixTime;

/// Largest accepted JWKS document (smart.md §3.6).
pub const MAX_JWKS_LEN: usize = 64 * 1024;

/// Most keys kept from one document.
pub const MAX_KEYS: usize = 64;

/// A set of verification keys. Keys that fail the import filter are left out and listed in
/// [`JwkSet::rejected`].
#[derive(Debug, Clone, Default)]
pub struct JwkSet {
    keys: Vec<Arc<Jwk>>,
    rejected: Vec<(Option<String>, JwkError)>,
}

/// Why a JWKS document was refused as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// Larger than [`MAX_JWKS_LEN`] bytes.
    #[error("JWKS document too large")]
    TooLarge,
    /// Not a strict-JSON object with a `keys` array, or more than [`MAX_KEYS`] keys.
    #[error("malformed JWKS document")]
    Malformed,
    /// The refresh ticket is stale (another refresh completed since, or it was abandoned after
    /// the fetch timeout) or belongs to another cache.
    #[error("stale refresh ticket")]
    StaleTicket,
}

impl JwkSet {
    /// Parses a JWKS document (strict JSON). Unusable keys are skipped, not fatal: a set may
    /// legitimately hold encryption keys.
    pub fn parse(json: &[u8]) -> Result<JwkSet, JwksError> {
        if json.len() > MAX_JWKS_LEN {
            return Err(JwksError::TooLarge);
        }
        let doc = crate::jose::json::parse_object(json).map_err(|_| JwksError::Malformed)?;
        let keys = match doc.get("keys") {
            Some(Value::Array(keys)) if keys.len() <= MAX_KEYS => keys,
            _ => return Err(JwksError::Malformed),
        };
        let mut set = JwkSet::default();
        for k in keys {
            let obj = k.as_object().ok_or(JwksError::Malformed)?;
            match Jwk::from_object(obj) {
                Ok(jwk) => set.keys.push(Arc::new(jwk)),
                Err(e) => {
                    let kid = obj.get("kid").and_then(Value::as_str).map(str::to_owned);
                    set.rejected.push((kid, e));
                }
            }
        }
        Ok(set)
    }

    /// A set of the given keys.
    pub fn from_keys(keys: impl IntoIterator<Item = Jwk>) -> JwkSet {
        JwkSet {
            keys: keys.into_iter().map(Arc::new).collect(),
            rejected: Vec::new(),
        }
    }

    /// The usable keys.
    pub fn keys(&self) -> impl Iterator<Item = &Jwk> {
        self.keys.iter().map(|k| &**k)
    }

    /// The keys left out, with their `kid` (if a string) and the reason.
    pub fn rejected(&self) -> &[(Option<String>, JwkError)] {
        &self.rejected
    }

    /// Whether the set has no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Selects the one key for a token header (smart.md §3.5): the key must permit the header
    /// `alg` (type, curve, JWK `alg`) and carry the header `kid` when there is one. No match is
    /// [`TokenError::UnknownKey`]; several are [`TokenError::AmbiguousKey`].
    pub fn select(&self, header: &Header) -> Result<&Arc<Jwk>, TokenError> {
        select_from(self.keys.iter(), header)
    }
}

fn select_from<'a>(
    keys: impl Iterator<Item = &'a Arc<Jwk>>,
    header: &Header,
) -> Result<&'a Arc<Jwk>, TokenError> {
    let mut found = None;
    for k in keys {
        let kid_ok = match header.kid() {
            Some(kid) => k.kid() == Some(kid),
            None => true,
        };
        if kid_ok && k.permits(header.alg) {
            if found.is_some() {
                return Err(TokenError::AmbiguousKey);
            }
            found = Some(k);
        }
    }
    found.ok_or(TokenError::UnknownKey)
}

/// The refresh policy of a [`KeyCache`] (defaults from smart.md §3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCachePolicy {
    /// Lifetime of a set fetched without `Cache-Control: max-age` (default 600 s).
    pub default_max_age: i64,
    /// Lower clamp for `max-age` (default 60 s).
    pub min_max_age: i64,
    /// Upper clamp for `max-age` (default 24 h).
    pub max_max_age: i64,
    /// At most one refresh for unknown `kid`s per this many seconds (default 30 s).
    pub unknown_kid_cooldown: i64,
    /// Keys that disappear from a refreshed set stay usable this long (default 300 s), so tokens
    /// signed just before a rotation still validate.
    pub rotation_grace: i64,
    /// After the set expired and refreshes fail, keep using it this long (default 1 h).
    pub outage_grace: i64,
    /// A refresh ticket not completed within this many seconds is abandoned (default 30 s).
    pub fetch_timeout: i64,
    /// After a failed fetch, wait this long before the next (default 30 s).
    pub retry_after_failure: i64,
}

impl KeyCachePolicy {
    /// Whether the policy can work as documented: no negative duration, and the `max-age`
    /// bounds in order (`min_max_age` ≤ `max_max_age`). [`Validator::new`](crate::Validator::new)
    /// refuses an issuer whose policy is not.
    pub fn is_valid(&self) -> bool {
        let durations = [
            self.default_max_age,
            self.min_max_age,
            self.max_max_age,
            self.unknown_kid_cooldown,
            self.rotation_grace,
            self.outage_grace,
            self.fetch_timeout,
            self.retry_after_failure,
        ];
        durations.iter().all(|d| *d >= 0) && self.min_max_age <= self.max_max_age
    }
}

impl Default for KeyCachePolicy {
    fn default() -> Self {
        KeyCachePolicy {
            default_max_age: 600,
            min_max_age: 60,
            max_max_age: 86_400,
            unknown_kid_cooldown: 30,
            rotation_grace: 300,
            outage_grace: 3_600,
            fetch_timeout: 30,
            retry_after_failure: 30,
        }
    }
}

/// Why the host should fetch the key set now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshReason {
    /// No set has been loaded yet.
    Initial,
    /// The cached set reached its max age.
    Expired,
    /// A token named a key the set does not hold (rate-limited by the cooldown).
    UnknownKey,
}

/// Permission to fetch, handed to exactly one caller at a time (single flight).
#[derive(Debug, PartialEq, Eq)]
#[must_use = "complete or fail the refresh, or the next one waits for the fetch timeout"]
pub struct RefreshTicket {
    /// The cache that issued it: a ticket completes only its own cache's fetch.
    cache: u64,
    generation: u64,
    /// Why the fetch is due.
    pub reason: RefreshReason,
}

#[derive(Debug, Default)]
struct State {
    current: Option<Arc<JwkSet>>,
    /// Keys dropped by a rotation, usable until the time given.
    retired: Vec<(Arc<Jwk>, UnixTime)>,
    expires_at: Option<UnixTime>,
    unknown_kid_at: Option<UnixTime>,
    last_unknown_refresh: Option<UnixTime>,
    in_flight: Option<(u64, UnixTime)>,
    retry_not_before: Option<UnixTime>,
    generation: u64,
    fixed: bool,
}

/// A key set for one issuer, with its refresh policy. Safe to share between threads.
#[derive(Debug)]
pub struct KeyCache {
    id: u64,
    policy: KeyCachePolicy,
    state: RwLock<State>,
}

/// A process-unique id for each cache, so that a ticket names the cache it belongs to.
fn next_cache_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl KeyCache {
    /// An empty cache: the first [`KeyCache::refresh_due`] says [`RefreshReason::Initial`].
    pub fn new(policy: KeyCachePolicy) -> KeyCache {
        KeyCache {
            id: next_cache_id(),
            policy,
            state: RwLock::new(State::default()),
        }
    }

    /// A cache holding a fixed set that never asks for a refresh (keys configured statically).
    pub fn fixed(set: JwkSet) -> KeyCache {
        let state = State {
            current: Some(Arc::new(set)),
            fixed: true,
            ..State::default()
        };
        KeyCache {
            id: next_cache_id(),
            policy: KeyCachePolicy::default(),
            state: RwLock::new(state),
        }
    }

    /// A cache holding `set` (fetched by the host before the cache existed, e.g. at start)
    /// until its first refresh, which is due at once ([`RefreshReason::Initial`]): unlike
    /// [`KeyCache::fixed`] it then follows the fetched sets, with the rotation grace for the
    /// seed's keys.
    pub fn seeded(policy: KeyCachePolicy, set: JwkSet) -> KeyCache {
        let state = State {
            current: Some(Arc::new(set)),
            ..State::default()
        };
        KeyCache {
            id: next_cache_id(),
            policy,
            state: RwLock::new(state),
        }
    }

    /// The set the cache was configured with ([`fixed`](Self::fixed) or
    /// [`seeded`](Self::seeded)) while no fetch has replaced it.
    pub(crate) fn configured(&self) -> Option<Arc<JwkSet>> {
        let s = self.read();
        s.expires_at.is_none().then(|| s.current.clone()).flatten()
    }

    /// The policy.
    pub fn policy(&self) -> &KeyCachePolicy {
        &self.policy
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The current set, if one is loaded and not past its outage grace.
    pub fn current(&self, now: UnixTime) -> Option<Arc<JwkSet>> {
        self.current_in(&self.read(), now).cloned()
    }

    /// Selects the key for `header` (see [`JwkSet::select`]), falling back to keys retired
    /// within the rotation grace. On [`TokenError::UnknownKey`] the cache notes that a refresh
    /// is wanted (honoured at most once per cooldown).
    pub fn select(&self, header: &Header, now: UnixTime) -> Result<Arc<Jwk>, TokenError> {
        let result = self.select_quiet(header, now);
        if result == Err(TokenError::UnknownKey) {
            self.note_unknown_key(now);
        }
        result
    }

    /// Notes that a token named a key this cache lacks: a refresh becomes due (at most once per
    /// cooldown).
    pub fn note_unknown_key(&self, now: UnixTime) {
        let mut s = self.write();
        if s.unknown_kid_at.is_none() {
            s.unknown_kid_at = Some(now);
        }
    }

    /// As [`KeyCache::select`] without noting a miss.
    pub fn select_quiet(&self, header: &Header, now: UnixTime) -> Result<Arc<Jwk>, TokenError> {
        {
            let s = self.read();
            let current = self.current_in(&s, now);
            let live = current.iter().flat_map(|set| set.keys.iter());
            let retired = s
                .retired
                .iter()
                .filter(|(_, until)| now < *until)
                .map(|(k, _)| k);
            select_from(live.chain(retired), header).cloned()
        }
    }

    fn current_in<'a>(&self, s: &'a State, now: UnixTime) -> Option<&'a Arc<JwkSet>> {
        // A set without an expiry was configured, not fetched: fixed, or a seed in use until
        // the first fetch replaces it.
        let usable = s
            .expires_at
            .is_none_or(|e| now < e.plus(self.policy.outage_grace));
        s.current.as_ref().filter(|_| usable)
    }

    /// Whether the host should fetch the set now, and why. `None` also while another fetch is
    /// in flight, during a cooldown, or for a fixed set.
    pub fn refresh_due(&self, now: UnixTime) -> Option<RefreshReason> {
        let s = self.read();
        self.due_in(&s, now)
    }

    fn due_in(&self, s: &State, now: UnixTime) -> Option<RefreshReason> {
        if s.fixed {
            return None;
        }
        if let Some((_, started)) = s.in_flight {
            if now < started.plus(self.policy.fetch_timeout) {
                return None;
            }
        }
        if s.retry_not_before.is_some_and(|t| now < t) {
            return None;
        }
        let Some(expires_at) = s.expires_at else {
            // Nothing fetched yet (an empty cache, or one holding a seed).
            return Some(RefreshReason::Initial);
        };
        if now >= expires_at {
            return Some(RefreshReason::Expired);
        }
        if s.unknown_kid_at.is_some() {
            let cooled = s
                .last_unknown_refresh
                .is_none_or(|t| now >= t.plus(self.policy.unknown_kid_cooldown));
            if cooled {
                return Some(RefreshReason::UnknownKey);
            }
        }
        None
    }

    /// Whether `ticket` is this cache's fetch in flight.
    fn holds(&self, s: &State, ticket: &RefreshTicket) -> bool {
        ticket.cache == self.id && s.in_flight.map(|(g, _)| g) == Some(ticket.generation)
    }

    /// Claims the refresh if one is due: at most one caller holds a ticket at a time.
    pub fn begin_refresh(&self, now: UnixTime) -> Option<RefreshTicket> {
        let mut s = self.write();
        let reason = self.due_in(&s, now)?;
        s.generation += 1;
        s.in_flight = Some((s.generation, now));
        if reason == RefreshReason::UnknownKey {
            s.last_unknown_refresh = Some(now);
        }
        s.unknown_kid_at = None;
        Some(RefreshTicket {
            cache: self.id,
            generation: s.generation,
            reason,
        })
    }

    /// Installs a fetched document for `ticket`, which must come from this cache (else
    /// [`JwksError::StaleTicket`]). `cache_control` is the response's `Cache-Control` header;
    /// its `max-age` (clamped) sets the lifetime. Keys missing from the new set stay usable for
    /// the rotation grace. A malformed document leaves the old set in place.
    pub fn complete_refresh(
        &self,
        ticket: RefreshTicket,
        document: &[u8],
        cache_control: Option<&str>,
        now: UnixTime,
    ) -> Result<(), JwksError> {
        let parsed = JwkSet::parse(document);
        let mut s = self.write();
        if !self.holds(&s, &ticket) {
            return Err(JwksError::StaleTicket);
        }
        s.in_flight = None;
        let set = match parsed {
            Ok(set) => set,
            Err(e) => {
                s.retry_not_before = Some(now.plus(self.policy.retry_after_failure));
                return Err(e);
            }
        };
        let grace_until = now.plus(self.policy.rotation_grace);
        s.retired
            .retain(|(k, until)| now < *until && !set.keys.contains(k));
        if let Some(old) = s.current.take() {
            for k in &old.keys {
                if !set.keys.contains(k) && s.retired.len() < MAX_KEYS {
                    s.retired.push((k.clone(), grace_until));
                }
            }
        }
        // Not `clamp`, which panics on bounds out of order: the upper bound wins then.
        let age = max_age(cache_control)
            .unwrap_or(self.policy.default_max_age)
            .max(self.policy.min_max_age)
            .min(self.policy.max_max_age);
        s.current = Some(Arc::new(set));
        s.expires_at = Some(now.plus(age));
        s.retry_not_before = None;
        Ok(())
    }

    /// Records a failed fetch: the old set stays in use (up to the outage grace) and the next
    /// attempt waits [`KeyCachePolicy::retry_after_failure`].
    pub fn fail_refresh(&self, ticket: RefreshTicket, now: UnixTime) {
        let mut s = self.write();
        if self.holds(&s, &ticket) {
            s.in_flight = None;
            s.retry_not_before = Some(now.plus(self.policy.retry_after_failure));
        }
    }
}

/// `max-age` from a `Cache-Control` value; `no-store`/`no-cache` count as 0 (then clamped up).
fn max_age(cache_control: Option<&str>) -> Option<i64> {
    let cc = cache_control?;
    let mut result = None;
    for directive in cc.split(',') {
        let d = directive.trim();
        if d.eq_ignore_ascii_case("no-store") || d.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if let Some((name, value)) = d.split_once('=') {
            if name.trim().eq_ignore_ascii_case("max-age") {
                let v = value.trim().trim_matches('"');
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                result = Some(v.parse::<i64>().unwrap_or(i64::MAX));
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control() {
        assert_eq!(max_age(Some("public, max-age=300")), Some(300));
        assert_eq!(
            max_age(Some("max-age=99999999999999999999999")),
            Some(i64::MAX)
        );
        assert_eq!(max_age(Some("no-store")), Some(0));
        assert_eq!(max_age(Some("max-age=-1")), None);
        assert_eq!(max_age(None), None);
    }
}
