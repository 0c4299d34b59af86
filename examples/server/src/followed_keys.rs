//! Following the signing keys of an issuer that runs in the same process (the development
//! authorization server): its JWKS is fed to the validator's key cache (smart-auth's
//! [`KeyCache`](smart_auth::jwks::KeyCache)) when the cache asks for it — at start, when the
//! set is a minute old, and when a token names a key the set lacks (after a rotation) — so a
//! key rotation needs no restart. Keys dropped from the set stay usable for the cache's
//! rotation grace only.

use smart_auth::jwks::KeyCachePolicy;
use smart_auth::{IssuerConfig, UnixTime, Validator};

/// How long a fetched set is used before it is fetched again (seconds).
const MAX_AGE: &str = "max-age=60";

/// The source of an in-process issuer's current JWKS document.
pub struct FollowedKeys {
    issuer: String,
    source: Box<dyn Fn() -> Vec<u8> + Send + Sync>,
}

impl FollowedKeys {
    /// Follows `issuer`, whose current JWKS document `source` returns.
    pub fn new(issuer: &str, source: impl Fn() -> Vec<u8> + Send + Sync + 'static) -> Self {
        FollowedKeys {
            issuer: issuer.to_owned(),
            source: Box::new(source),
        }
    }

    /// The validator configuration for the followed issuer: no fixed keys, the issuer's
    /// `jwks_uri` (where the development authorization server publishes them; read here in
    /// process, never fetched), a key cache that asks for a refresh on an unknown `kid` at
    /// most once a second (a fetch costs nothing here, and a rotated key should work at once).
    pub fn issuer_config(&self, audience: &str) -> IssuerConfig {
        let policy = KeyCachePolicy {
            unknown_kid_cooldown: 1,
            ..KeyCachePolicy::default()
        };
        IssuerConfig::new(self.issuer.clone(), audience)
            .jwks_uri(format!("{}/jwks", self.issuer))
            .key_cache_policy(policy)
    }

    /// Feeds the current JWKS into `validator` if its key cache asks for it. `true` if a new
    /// set was installed.
    pub fn refresh(&self, validator: &Validator, now: UnixTime) -> bool {
        let mut installed = false;
        for fetch in validator.refreshes_due(now) {
            if fetch.issuer != self.issuer {
                validator.fail_refresh(fetch, now);
                continue;
            }
            let document = (self.source)();
            match validator.complete_refresh(fetch, &document, Some(MAX_AGE), now) {
                Ok(()) => installed = true,
                Err(e) => eprintln!("secure-fhir-server: issuer keys not installed: {e}"),
            }
        }
        installed
    }
}
