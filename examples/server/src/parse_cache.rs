//! A bounded cache of typed parses for the response checks: every resource a request returns is
//! parsed into the typed model for smart-auth's own check, and the same stored versions are
//! returned again and again. Keyed by the exact JSON bytes (a hash finds the entry, the bytes
//! confirm it), so a hit is the parse of those very bytes, whatever their origin.
//!
//! Two generations bound the memory: entries go to the young one; when it holds 4 MiB of JSON
//! (or 2048 entries) it becomes the old one and the previous old one is dropped; a hit in the
//! old generation moves the entry back.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
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

fn key(bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
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
