//! A bounded cache of typed parses for the response checks: every resource a request returns is
//! parsed into the typed model for smart-auth's own check, and the same stored versions are
//! returned again and again. Keyed by the exact JSON bytes (a hash finds the entry, the bytes
//! confirm it), so a hit is the parse of those very bytes, whatever their origin.
//!
//! The hash only finds the entry, so it is a cheap one over 8-byte words (see `key`): SipHash
//! over every body returned was most of a read's cost in this cache. Bodies crafted to collide
//! can at worst evict each other's entries (each then parsed anew, as without a cache).
//!
//! Two generations bound the memory: entries go to the young one; when it holds 4 MiB of JSON
//! (or 2048 entries) it becomes the old one and the previous old one is dropped; a hit in the
//! old generation moves the entry back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fhir_types::Resource;

/// JSON bytes one generation holds at most (two generations are kept).
const GENERATION_BYTES: usize = 4 << 20;
/// Entries one generation holds at most.
const GENERATION_ENTRIES: usize = 2_048;
/// Larger resources are parsed every time (they would crowd out the rest).
const MAX_CACHED_BYTES: usize = 256 << 10;

type Entry = (Arc<[u8]>, Arc<Resource>);

#[derive(Default)]
struct Generations {
    young: HashMap<u64, Entry>,
    young_bytes: usize,
    old: HashMap<u64, Entry>,
}

impl Generations {
    fn insert(&mut self, key: u64, entry: Entry) {
        if self.young_bytes + entry.0.len() > GENERATION_BYTES
            || self.young.len() >= GENERATION_ENTRIES
        {
            self.old = std::mem::take(&mut self.young);
            self.young_bytes = 0;
        }
        self.young_bytes += entry.0.len();
        if let Some(previous) = self.young.insert(key, entry) {
            self.young_bytes -= previous.0.len();
        }
    }
}

/// The cache; shared by all requests.
#[derive(Default)]
pub struct ParseCache {
    inner: Mutex<Generations>,
}

/// The entry's hash of `bytes`: a multiply-rotate mix of their length and 8-byte words (the
/// Fx hash's step), several times cheaper than SipHash per byte.
fn key(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(K);
    let mut words = bytes.chunks_exact(8);
    let mut h = mix(0, bytes.len() as u64);
    for w in &mut words {
        h = mix(h, u64::from_le_bytes(w.try_into().unwrap_or_default()));
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    mix(h, u64::from_le_bytes(tail))
}

impl ParseCache {
    /// The typed parse of `bytes` (a FHIR resource's JSON), from the cache or parsed now.
    /// `None` if they do not parse.
    pub fn parse(&self, bytes: &[u8]) -> Option<Arc<Resource>> {
        if bytes.len() > MAX_CACHED_BYTES {
            return fhir_types::json::parse_resource(bytes).ok().map(Arc::new);
        }
        let k = key(bytes);
        {
            let mut g = self.lock();
            if let Some((b, r)) = g.young.get(&k) {
                if **b == *bytes {
                    return Some(r.clone());
                }
            } else if let Some((b, r)) = g.old.remove(&k) {
                if *b == *bytes {
                    let hit = r.clone();
                    g.insert(k, (b, r));
                    return Some(hit);
                }
            }
        }
        // Parsed outside the lock; a failed parse is not cached (hostile input stays cheap to
        // refuse and cannot fill the cache).
        let parsed = Arc::new(fhir_types::json::parse_resource(bytes).ok()?);
        self.lock().insert(k, (Arc::from(bytes), parsed.clone()));
        Some(parsed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // The maps stay consistent whatever panicked while holding the lock.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient(id: usize) -> Vec<u8> {
        format!(r#"{{"resourceType":"Patient","id":"p{id}","active":true}}"#).into_bytes()
    }

    #[test]
    fn keys_tell_apart_bodies_that_differ_anywhere_or_only_in_length() {
        let body = patient(7);
        let mut keys = vec![key(&body), key(&body[..body.len() - 1])];
        // A zero byte appended (the tail's padding) or any one byte changed.
        keys.push(key(&[&body[..], &[0]].concat()));
        for i in 0..body.len() {
            let mut b = body.clone();
            b[i] ^= 1;
            keys.push(key(&b));
        }
        let n = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), n);
        assert_eq!(key(&body), key(&patient(7)));
    }

    #[test]
    fn hits_return_the_parse_of_the_same_bytes() {
        let cache = ParseCache::default();
        let a = cache.parse(&patient(1)).unwrap();
        let again = cache.parse(&patient(1)).unwrap();
        assert!(Arc::ptr_eq(&a, &again), "second parse is a hit");
        let b = cache.parse(&patient(2)).unwrap();
        assert_eq!(b.id(), Some("p2"));
        assert!(cache.parse(b"{\"resourceType\":\"Nope\"}").is_none());
    }

    #[test]
    fn memory_is_bounded_by_two_generations() {
        let cache = ParseCache::default();
        for i in 0..(3 * GENERATION_ENTRIES) {
            cache.parse(&patient(i)).unwrap();
        }
        let g = cache.lock();
        assert!(g.young.len() <= GENERATION_ENTRIES && g.old.len() <= GENERATION_ENTRIES);
        assert!(g.young_bytes <= GENERATION_BYTES);
        drop(g);
        // The oldest are gone, the newest still hit.
        let newest = cache.parse(&patient(3 * GENERATION_ENTRIES - 1)).unwrap();
        assert!(Arc::ptr_eq(
            &newest,
            &cache.parse(&patient(3 * GENERATION_ENTRIES - 1)).unwrap()
        ));
    }
}
