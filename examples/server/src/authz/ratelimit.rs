//! A token bucket per key (client id, or one shared bucket for unidentified callers).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::Instant;

use super::config::RateLimit;

/// Keys kept at most; past this, full buckets are forgotten first.
const MAX_KEYS: usize = 10_000;

/// The peer `ip` as its bucket key names it: an IPv4 address, or the /64 network of an IPv6
/// one (the least a host is given, so a per-address limit on a whole /64 limits nothing and
/// its addresses fill the table). An IPv4-mapped IPv6 address is its IPv4 address.
pub(crate) fn peer(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let network = u128::from(v6) & !u128::from(u64::MAX);
                format!("{}/64", Ipv6Addr::from(network))
            }
        },
    }
}

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

    #[test]
    fn an_ipv6_network_is_one_peer() {
        use crate::authz::{AuthzConfig, AuthzEventKind, AuthzState, MemoryAudit};
        use std::net::IpAddr;
        use std::sync::Arc;

        let mut config = AuthzConfig::demo("http://127.0.0.1/auth", "http://127.0.0.1/fhir");
        config.rate_limit = RateLimit::new(1, 0.001);
        let state = AuthzState::new(config, Arc::new(MemoryAudit::default())).unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let registration = |s: &str| state.peer_limited(AuthzEventKind::Registration, ip(s));
        // A host holds a whole /64 (RFC 4291 §2.5.4, SLAAC): its every address is the one
        // peer, or a per-address limit limits nothing and its keys fill the table.
        assert_eq!(registration("2001:db8:1:2::1"), None);
        assert!(registration("2001:db8:1:2:ffff::7").is_some());
        assert_eq!(registration("2001:db8:1:3::1"), None, "another network");
        // IPv4 addresses stay apart, and an IPv4-mapped address is its IPv4 address.
        assert_eq!(registration("192.0.2.1"), None);
        assert_eq!(registration("192.0.2.2"), None);
        assert!(registration("::ffff:192.0.2.1").is_some());
    }
}
