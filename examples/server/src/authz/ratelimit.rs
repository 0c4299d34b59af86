//! A token bucket per key (client id, or one shared bucket for unidentified callers).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::config::RateLimit;

/// Keys kept at most; past this, full buckets are forgotten first.
const MAX_KEYS: usize = 10_000;

#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket; `Err(seconds)` to wait when it is empty.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let burst = f64::from(self.limit.burst.max(1));
        let rate = self.limit.per_second.max(0.001);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
            if buckets.len() >= MAX_KEYS {
                return Err(1);
            }
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((burst, now));
        let refilled = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(((1.0 - refilled) / rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused() {
        let limiter = RateLimiter::new(RateLimit::new(3, 0.01));
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_err());
        assert!(limiter.check("b").is_ok(), "buckets are per key");
    }
}
