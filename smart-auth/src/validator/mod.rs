//! JWT access-token validation (RFC 9068 profile, RFC 8725 practices, smart.md §3).
//!
//! A [`Validator`] holds one [`IssuerConfig`] per trusted authorization server, each with its
//! own algorithm allow-list and key set. [`Validator::validate`] runs the pipeline in order:
//! size cap, compact-JWS structure, strict base64url and header JSON, header rules, key
//! selection (which also picks the issuer, so nothing from the unverified payload is read),
//! signature, and only then the claims.

pub mod claims;

use std::sync::Arc;

use crate::cache::TokenCache;
use crate::context::AccessContext;
use crate::error::TokenError;
use crate::jose::header::typ_matches;
use crate::jose::{
    Algorithm, AlgorithmSet, CompactJws, Header, HeaderRules, DEFAULT_MAX_TOKEN_LEN,
    HARD_MAX_TOKEN_LEN,
};
use crate::jwk::{Jwk, JwkError};
use crate::jwks::{JwkSet, KeyCache, KeyCachePolicy};
use crate::scope::ScopePolicy;
use crate::time::{Leeway, MaxLifetime, UnixTime};

/// Which `typ` header values a token must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TypPolicy {
    /// `at+jwt` / `application/at+jwt` (RFC 9068 §2.1, §4). The default.
    AccessToken,
    /// For legacy authorization servers: `at+jwt`, `JWT`, or no `typ` at all. A `typ` naming
    /// another kind of JWT (`dpop+jwt`, `logout+jwt`, ...) is still refused.
    AccessTokenOrLegacy,
    /// Exactly one of these media types (compared case-insensitively, `application/` optional).
    OneOf(Vec<String>),
}

impl TypPolicy {
    pub(crate) fn check(&self, typ: Option<&str>) -> Result<(), TokenError> {
        let ok = match (self, typ) {
            (TypPolicy::AccessToken, Some(t)) => typ_matches(t, "at+jwt"),
            (TypPolicy::AccessTokenOrLegacy, None) => true,
            (TypPolicy::AccessTokenOrLegacy, Some(t)) => {
                typ_matches(t, "at+jwt") || typ_matches(t, "jwt")
            }
            (TypPolicy::OneOf(list), Some(t)) => list.iter().any(|e| typ_matches(t, e)),
            (_, None) => false,
        };
        if ok {
            Ok(())
        } else {
            Err(TokenError::WrongType)
        }
    }
}

/// Which claims a token must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimProfile {
    /// RFC 9068 §2.2: `iss`, `exp`, `aud`, `sub`, `client_id`, `iat`, `jti` all required.
    Rfc9068,
    /// Only `iss`, `aud` and `exp` required (for authorization servers that omit the others).
    Relaxed,
}

/// Where granted scopes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeClaim {
    /// The space-separated `scope` string only (RFC 9068 §2.2.3). The default.
    Scope,
    /// `scope`, or an `scp` array or string (some identity providers); never both.
    ScopeOrScp,
}

/// A configuration mistake found by [`Validator::new`] (or, for a duration out of its bounds,
/// where it is made: [`Leeway::from_secs`] and the other `from_secs` of [`crate::time`]). Each one that concerns an issuer names it (its identifier, the
/// `String`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No issuer was configured.
    #[error("no issuer configured")]
    NoIssuers,
    /// An issuer has no audience (this resource server's FHIR base URL), or an empty one
    /// (which would accept tokens whose `aud` is the empty string).
    #[error("issuer {0} has no audience")]
    NoAudience(String),
    /// The same issuer is configured twice.
    #[error("issuer {0} configured twice")]
    DuplicateIssuer(String),
    /// A leeway (the seconds given) outside 0..=300 s.
    #[error("leeway {0} s outside 0..=300 s")]
    Leeway(i64),
    /// A cache lifetime for positive answers ([`CacheTtl`](crate::time::CacheTtl), the seconds
    /// given) outside 0..=3600 s.
    #[error("cache TTL {0} s outside 0..=3600 s")]
    CacheTtl(i64),
    /// A cache lifetime for negative introspection answers
    /// ([`NegativeTtl`](crate::time::NegativeTtl), the seconds given) outside 0..=10 s.
    #[error("negative cache TTL {0} s outside 0..=10 s")]
    NegativeTtl(i64),
    /// A DPoP proof age ([`ProofAge`](crate::time::ProofAge), the seconds given) outside
    /// 0..=300 s.
    #[error("DPoP proof age {0} s outside 0..=300 s")]
    ProofAge(i64),
    /// An access token lifetime bound ([`MaxLifetime`], the seconds
    /// given) outside 0..=86400 s.
    #[error("maximum token lifetime {0} s outside 0..=86400 s")]
    MaxLifetime(i64),
    /// An ID token or authentication age ([`MaxAge`](crate::time::MaxAge), the seconds given)
    /// outside 0..=2592000 s (30 days).
    #[error("maximum age {0} s outside 0..=2592000 s")]
    MaxAge(i64),
    /// The algorithm allow-list is empty.
    #[error("issuer {0} allows no algorithm")]
    NoAlgorithms(String),
    /// An issuer has no key to verify a token with: neither a
    /// [`jwks_uri`](IssuerConfig::jwks_uri), nor a [`jwks`](IssuerConfig::jwks) set holding a
    /// usable key (the import filter may have refused them all), nor a shared secret. Every
    /// one of its tokens would be refused.
    #[error("issuer {0} has no keys: configure its jwks_uri or a key set")]
    NoKeys(String),
    /// An HMAC algorithm is allowed without a configured shared secret, or the secret is bad.
    #[error("issuer {0}: HMAC needs an explicitly configured shared secret: {1}")]
    SharedSecret(String, JwkError),
    /// The token size cap exceeds the hard maximum of 64 KiB.
    #[error("issuer {0}: max token length above 64 KiB")]
    MaxTokenLen(String),
    /// The issuer's [`KeyCachePolicy`] has a negative duration or its `max-age` bounds out of
    /// order ([`KeyCachePolicy::is_valid`]).
    #[error(
        "issuer {0}: key cache policy with a negative duration or max-age bounds out of order"
    )]
    KeyCachePolicy(String),
}

/// The trust configuration for one authorization server.
///
/// ```
/// use smart_auth::validator::IssuerConfig;
/// use smart_auth::jose::{Algorithm, AlgorithmSet};
/// use smart_auth::time::Leeway;
/// let config = IssuerConfig::new("https://auth.example.org", "https://fhir.example.org/r4")
///     .jwks_uri("https://auth.example.org/jwks.json")
///     .algorithms(AlgorithmSet::EMPTY.with(Algorithm::ES256))
///     .leeway(Leeway::from_secs(10)?);
/// # Ok::<(), smart_auth::validator::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    pub(crate) issuer: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: AlgorithmSet,
    pub(crate) typ: TypPolicy,
    pub(crate) leeway: Leeway,
    pub(crate) max_lifetime: Option<MaxLifetime>,
    pub(crate) max_token_len: usize,
    pub(crate) profile: ClaimProfile,
    pub(crate) scope_claim: ScopeClaim,
    pub(crate) ignore_key_headers: bool,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) keys: Option<JwkSet>,
    pub(crate) key_policy: KeyCachePolicy,
    pub(crate) shared_secret: Option<Result<Jwk, JwkError>>,
    pub(crate) claim_names: claims::ClaimNames,
    pub(crate) scope_policy: ScopePolicy,
}

impl IssuerConfig {
    /// Trust `issuer` (compared byte for byte with `iss`) for tokens whose `aud` contains
    /// `audience` (this server's FHIR base URL, compared byte for byte). Secure defaults:
    /// RS256/RS384/ES256/ES384, `typ: at+jwt`, RFC 9068 claims, 30 s leeway, 24 h maximum
    /// lifetime, 8 KiB maximum size, header keys refused. It still needs its keys: a
    /// [`jwks_uri`](Self::jwks_uri) or a [`jwks`](Self::jwks) set ([`Validator::new`]
    /// refuses an issuer with neither, [`ConfigError::NoKeys`]).
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> IssuerConfig {
        IssuerConfig {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            algorithms: AlgorithmSet::ACCESS_TOKEN_DEFAULT,
            typ: TypPolicy::AccessToken,
            leeway: Leeway::DEFAULT,
            max_lifetime: Some(MaxLifetime::DEFAULT),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            profile: ClaimProfile::Rfc9068,
            scope_claim: ScopeClaim::Scope,
            ignore_key_headers: false,
            jwks_uri: None,
            keys: None,
            key_policy: KeyCachePolicy::default(),
            shared_secret: None,
            claim_names: claims::ClaimNames::SMART,
            scope_policy: ScopePolicy::default(),
        }
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Also accept tokens for another audience.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The algorithm allow-list (each still bound to the key's type, curve and `alg`).
    pub fn algorithms(mut self, algorithms: AlgorithmSet) -> Self {
        self.algorithms = algorithms;
        self
    }

    /// The `typ` rule.
    pub fn typ(mut self, typ: TypPolicy) -> Self {
        self.typ = typ;
        self
    }

    /// Clock leeway for `exp`, `nbf`, `iat` (default 30 s).
    pub fn leeway(mut self, leeway: Leeway) -> Self {
        self.leeway = leeway;
        self
    }

    /// The longest lifetime accepted, `exp - iat` (or `exp - nbf`, plus the leeway; default
    /// 24 h), or `None` for no bound ([`MaxLifetime`]).
    pub fn max_lifetime(mut self, max: Option<MaxLifetime>) -> Self {
        self.max_lifetime = max;
        self
    }

    /// Maximum token length in bytes, checked before any decoding (at most 64 KiB).
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.max_token_len = bytes;
        self
    }

    /// Which claims are required.
    pub fn profile(mut self, profile: ClaimProfile) -> Self {
        self.profile = profile;
        self
    }

    /// Where scopes come from.
    pub fn scope_claim(mut self, scope_claim: ScopeClaim) -> Self {
        self.scope_claim = scope_claim;
        self
    }

    /// How the granted scope string is read: what to do with invalid resource scopes, v1 and
    /// v2 scopes together, `system/` next to `patient/`/`user/`, comma separators, the most
    /// scopes in one grant. The default [`ScopePolicy`] is the safe one. A grant the policy
    /// rejects still validates, but its [`ScopeSet`](crate::scope::ScopeSet) carries the
    /// [`rejection`](crate::scope::ScopeSet::rejection) and grants nothing, so the
    /// [`Authorizer`](crate::decision::Authorizer) answers 401 `invalid_token`.
    pub fn scope_policy(mut self, policy: ScopePolicy) -> Self {
        self.scope_policy = policy;
        self
    }

    /// The claim names of the launch context, for authorization servers that do not use
    /// SMART's (`patient`, `encounter`, `fhirUser`, `fhirContext`).
    pub fn claim_names(mut self, names: claims::ClaimNames) -> Self {
        self.claim_names = names;
        self
    }

    /// Ignore (instead of refusing) tokens carrying `jwk`, `jku`, `x5u` or `x5c`. They are never
    /// used either way; some servers include `x5c` out of habit.
    pub fn ignore_key_headers(mut self, ignore: bool) -> Self {
        self.ignore_key_headers = ignore;
        self
    }

    /// The issuer's `jwks_uri`, for the host's fetcher (the crate never fetches): its key set
    /// is then refreshed through [`Validator::refreshes_due`].
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// A key set the host already holds. Alone it is fixed: no refresh is ever requested, so
    /// keys the authorization server rotates in are refused (`unknown_key`) until the
    /// validator is rebuilt. With a [`jwks_uri`](Self::jwks_uri) it is the initial set
    /// (e.g. fetched at start), used at once and replaced by the sets fetched from the URL
    /// ([`Validator::refreshes_due`]), with the rotation grace.
    pub fn jwks(mut self, keys: JwkSet) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The refresh policy for a fetched key set.
    pub fn key_cache_policy(mut self, policy: KeyCachePolicy) -> Self {
        self.key_policy = policy;
        self
    }

    /// Dangerous: accept HMAC-signed tokens under a shared secret (also adds `alg` to the
    /// allow-list). Anyone holding the secret, including every resource server sharing it, can
    /// mint tokens. Never needed with SMART authorization servers that publish a JWKS.
    pub fn dangerous_shared_secret(mut self, secret: &[u8], alg: Algorithm) -> Self {
        self.shared_secret = Some(Jwk::dangerous_shared_secret(secret, alg, None));
        self.algorithms = self.algorithms.with(alg);
        self
    }
}

#[derive(Debug)]
struct Issuer {
    config: IssuerConfig,
    keys: KeyCache,
    secret: Option<Arc<Jwk>>,
    header_rules: HeaderRules,
}

/// Validates JWT access tokens for one or more trusted issuers. Cheap to share (`Sync`).
///
/// See the [crate documentation](crate) for a complete example.
#[derive(Debug)]
pub struct Validator {
    issuers: Vec<Issuer>,
    max_token_len: usize,
    cache: Option<TokenCache<Arc<AccessContext>>>,
}

/// A key-set fetch the host should perform, from [`Validator::refreshes_due`].
#[derive(Debug)]
pub struct KeyFetch {
    /// The issuer whose keys to fetch.
    pub issuer: String,
    /// Its configured [`jwks_uri`](IssuerConfig::jwks_uri).
    pub jwks_uri: String,
    /// The ticket to hand back with the result ([`Validator::complete_refresh`]).
    pub ticket: crate::jwks::RefreshTicket,
}

impl Validator {
    /// A validator for the given issuers, without a token cache.
    pub fn new(configs: impl IntoIterator<Item = IssuerConfig>) -> Result<Validator, ConfigError> {
        let mut issuers: Vec<Issuer> = Vec::new();
        for mut config in configs {
            if config.audiences.iter().any(String::is_empty) {
                return Err(ConfigError::NoAudience(config.issuer));
            }
            if issuers.iter().any(|i| i.config.issuer == config.issuer) {
                return Err(ConfigError::DuplicateIssuer(config.issuer));
            }
            if config.max_token_len > HARD_MAX_TOKEN_LEN {
                return Err(ConfigError::MaxTokenLen(config.issuer));
            }
            if !config.key_policy.is_valid() {
                return Err(ConfigError::KeyCachePolicy(config.issuer));
            }
            let secret = match config.shared_secret.take() {
                Some(Ok(k)) => Some(Arc::new(k)),
                Some(Err(e)) => return Err(ConfigError::SharedSecret(config.issuer, e)),
                None => None,
            };
            // HMAC only with an explicit secret, and only for that secret's algorithm.
            for alg in config.algorithms.iter().filter(|a| a.is_symmetric()) {
                if !secret.as_ref().is_some_and(|k| k.permits(alg)) {
                    let e = JwkError::AlgorithmMismatch;
                    return Err(ConfigError::SharedSecret(config.issuer, e));
                }
            }
            if config.algorithms.is_empty() {
                return Err(ConfigError::NoAlgorithms(config.issuer));
            }
            let keys = match (config.keys.take(), &config.jwks_uri) {
                (Some(set), Some(_)) => KeyCache::seeded(config.key_policy, set),
                (None, Some(_)) => KeyCache::new(config.key_policy),
                // A fixed set, or only the shared secret: nothing is ever fetched.
                (Some(set), None) if !set.is_empty() => KeyCache::fixed(set),
                (_, None) if secret.is_some() => KeyCache::fixed(JwkSet::default()),
                (_, None) => return Err(ConfigError::NoKeys(config.issuer)),
            };
            let header_rules = HeaderRules {
                embedded_jwk: false,
                ignore_key_headers: config.ignore_key_headers,
            };
            issuers.push(Issuer {
                config,
                keys,
                secret,
                header_rules,
            });
        }
        if issuers.is_empty() {
            return Err(ConfigError::NoIssuers);
        }
        let max_token_len = issuers
            .iter()
            .map(|i| i.config.max_token_len)
            .max()
            .unwrap_or(0);
        Ok(Validator {
            issuers,
            max_token_len,
            cache: None,
        })
    }

    /// Adds a validated-token cache of at most `capacity` entries, used by
    /// [`Validator::validate_cached`]. Entries never outlive the token's `exp` nor `max_ttl`
    /// (at most an hour, [`CacheTtl`](crate::time::CacheTtl): a cached token skips the signature
    /// check, so a key the issuer withdrew keeps its tokens working that long).
    pub fn with_cache(mut self, capacity: usize, max_ttl: crate::time::CacheTtl) -> Validator {
        self.cache = Some(TokenCache::new(capacity, max_ttl));
        self
    }

    /// The key cache of `issuer`, for the host's refresh loop.
    pub fn key_cache(&self, issuer: &str) -> Option<&KeyCache> {
        self.issuers
            .iter()
            .find(|i| i.config.issuer == issuer)
            .map(|i| &i.keys)
    }

    /// Claims every key-set fetch that is due now (at most one ticket per issuer at a time):
    /// the first load of an issuer configured with a [`jwks_uri`](IssuerConfig::jwks_uri),
    /// an expired set, or a token naming a key the set lacks (a rotation). The host fetches
    /// each [`KeyFetch::jwks_uri`] and hands the result back with
    /// [`complete_refresh`](Self::complete_refresh) or [`fail_refresh`](Self::fail_refresh).
    /// Issuers given a [`jwks`](IssuerConfig::jwks) without a `jwks_uri` never ask.
    ///
    /// Until the first fetch completes, that issuer's tokens are refused as
    /// [`TokenError::UnknownKey`]: run the refresh once before serving. A token refused for an
    /// unknown `kid` makes a refresh due (at most once per
    /// [`unknown_kid_cooldown`](KeyCachePolicy::unknown_kid_cooldown)); keys that leave the
    /// set stay usable for the [`rotation_grace`](KeyCachePolicy::rotation_grace).
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use smart_auth::jose::Algorithm;
    /// use smart_auth::testing::{TestIssuer, TestKey};
    /// use smart_auth::{IssuerConfig, TokenError, UnixTime, Validator};
    ///
    /// let (iss, aud) = ("https://auth.example.org", "https://fhir.example.org/r4");
    /// let validator = Validator::new([
    ///     IssuerConfig::new(iss, aud).jwks_uri("https://auth.example.org/jwks.json"),
    /// ])?;
    /// // The host's refresh loop; `fetch` stands for its HTTP client (body, Cache-Control).
    /// let refresh = |now, keys: &TestKey| -> Result<(), Box<dyn std::error::Error>> {
    ///     for due in validator.refreshes_due(now) {
    ///         let jwks = format!(r#"{{"keys":[{}]}}"#, keys.public_jwk_json());
    ///         let fetch = |_uri: &str| Ok::<_, std::io::Error>((jwks.clone(), "max-age=600"));
    ///         match fetch(&due.jwks_uri) {
    ///             Ok((body, cache_control)) => {
    ///                 validator.complete_refresh(due, body.as_bytes(), Some(cache_control), now)?
    ///             }
    ///             Err(_) => validator.fail_refresh(due, now),
    ///         }
    ///     }
    ///     Ok(())
    /// };
    ///
    /// let now = UnixTime::from_secs(1_767_225_600);
    /// refresh(now, &TestKey::new(Algorithm::RS256))?; // before serving
    /// let old = TestIssuer::with_key(iss, aud, TestKey::new(Algorithm::RS256));
    /// assert!(validator.validate(&old.token(now).sign(), now).is_ok());
    ///
    /// // The authorization server rotates to a new key: its first token names an unknown
    /// // `kid` and is refused, which makes a refresh due.
    /// let new = TestIssuer::with_key(iss, aud, TestKey::alternate(Algorithm::RS256));
    /// let token = new.token(now).sign();
    /// assert_eq!(validator.validate(&token, now), Err(TokenError::UnknownKey));
    /// refresh(now, &TestKey::alternate(Algorithm::RS256))?;
    /// assert!(validator.validate(&token, now).is_ok());
    /// // Tokens signed with the old key still validate during the rotation grace.
    /// assert!(validator.validate(&old.token(now).sign(), now.plus(60)).is_ok());
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refreshes_due(&self, now: UnixTime) -> Vec<KeyFetch> {
        self.issuers
            .iter()
            .filter_map(|i| {
                let jwks_uri = i.config.jwks_uri.clone()?;
                i.keys.begin_refresh(now).map(|ticket| KeyFetch {
                    issuer: i.config.issuer.clone(),
                    jwks_uri,
                    ticket,
                })
            })
            .collect()
    }

    /// Installs the key set the host fetched for `fetch` (from
    /// [`refreshes_due`](Self::refreshes_due)) in that issuer's key cache: `document` is the
    /// response body, `cache_control` its `Cache-Control` header, whose `max-age` (clamped)
    /// sets the set's lifetime. A malformed document leaves the old set in place (see
    /// [`KeyCache::complete_refresh`]).
    ///
    /// Keys the import filter refuses (RSA under 2048 bits, `use: enc`, private or symmetric
    /// keys, ...) are left out of a set that is otherwise installed: tokens signed with them
    /// fail as `unknown_key`. Log what [`JwkSet::rejected`] lists after each refresh
    /// (`key_cache(issuer)` → [`KeyCache::current`]) to see why.
    pub fn complete_refresh(
        &self,
        fetch: KeyFetch,
        document: &[u8],
        cache_control: Option<&str>,
        now: UnixTime,
    ) -> Result<(), crate::jwks::JwksError> {
        match self.key_cache(&fetch.issuer) {
            Some(keys) => keys.complete_refresh(fetch.ticket, document, cache_control, now),
            None => Err(crate::jwks::JwksError::StaleTicket),
        }
    }

    /// Records that the fetch for `fetch` failed: the issuer's old set stays in use (up to the
    /// outage grace) and the next attempt waits (see [`KeyCache::fail_refresh`]).
    pub fn fail_refresh(&self, fetch: KeyFetch, now: UnixTime) {
        if let Some(keys) = self.key_cache(&fetch.issuer) {
            keys.fail_refresh(fetch.ticket, now);
        }
    }

    /// Validates a bearer JWT access token at time `now`.
    ///
    /// A sender-constrained token (with `cnf`) is refused here: it needs its proof, see
    /// [`crate::dpop`] and [`crate::mtls`], and [`Validator::validate_constrained`].
    pub fn validate(&self, token: &str, now: UnixTime) -> Result<AccessContext, TokenError> {
        let ctx = self.validate_constrained(token, now)?;
        bearer_usable(&ctx)?;
        Ok(ctx)
    }

    /// As [`Validator::validate`], through the validated-token cache when one is configured
    /// ([`Validator::with_cache`]): a repeated token skips signature verification.
    pub fn validate_cached(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<Arc<AccessContext>, TokenError> {
        let ctx = self.validate_constrained_cached(token, now)?;
        bearer_usable(&ctx)?;
        Ok(ctx)
    }

    /// As [`Validator::validate_constrained`], through the validated-token cache. The cache
    /// holds token validations only; a sender-constrained token still needs its proof on every
    /// request.
    pub fn validate_constrained_cached(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<Arc<AccessContext>, TokenError> {
        let Some(cache) = &self.cache else {
            return self.validate_constrained(token, now).map(Arc::new);
        };
        if let Some(ctx) = cache.get(token, now) {
            return Ok(ctx);
        }
        let ctx = Arc::new(self.validate_constrained(token, now)?);
        cache.insert(token, ctx.clone(), ctx.expires_at(), now);
        Ok(ctx)
    }

    /// Validates the token and returns its context even when it is sender-constrained; the
    /// caller must then check the confirmation (`cnf`) against the proof it received, e.g. with
    /// [`crate::dpop::DpopValidator`] or [`crate::mtls::check_certificate_binding`].
    pub fn validate_constrained(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Result<AccessContext, TokenError> {
        if token.len() > self.max_token_len {
            return Err(TokenError::TooLarge);
        }
        // Parse under the first issuer's header rules, then re-check per issuer: the rules
        // differ only in whether key headers are ignored.
        let lenient = HeaderRules {
            embedded_jwk: false,
            ignore_key_headers: true,
        };
        let jws = CompactJws::parse(token, self.max_token_len, lenient)?;
        let header = jws.header();
        // Issuers may publish one key set between them (tenants of one authorization server):
        // a token verified under one issuer's key whose `iss` names another is tried again
        // with the issuers after it. `iss` is still only read from a verified payload.
        let mut from = 0;
        loop {
            let (at, payload) = match self.verify(&jws, header, token.len(), now, from) {
                Err(_) if from > 0 => return Err(TokenError::WrongIssuer),
                verified => verified?,
            };
            match claims::check_access_token(payload, &self.issuers[at].config, now) {
                Err(TokenError::WrongIssuer) if at + 1 < self.issuers.len() => from = at + 1,
                checked => return checked,
            }
        }
    }

    /// Verifies the signature with the first issuer, from index `from` on, whose keys and
    /// header rules accept the token; returns that issuer's index and the verified payload.
    fn verify(
        &self,
        jws: &CompactJws<'_>,
        header: &Header,
        len: usize,
        now: UnixTime,
        from: usize,
    ) -> Result<(usize, Vec<u8>), TokenError> {
        let mut last_err: Option<TokenError> = None;
        let mut tried = false;
        for (at, issuer) in self.issuers.iter().enumerate().skip(from) {
            let c = &issuer.config;
            if len > c.max_token_len || !c.algorithms.contains(header.alg) {
                last_err = merge(last_err, TokenError::AlgorithmNotAllowed);
                continue;
            }
            // Header rules are per issuer: a miss here leaves the others to try.
            let header_ok = if !issuer.header_rules.ignore_key_headers && header.carries_key() {
                Err(TokenError::HeaderKey)
            } else {
                c.typ.check(header.typ())
            };
            if let Err(e) = header_ok {
                last_err = merge(last_err, e);
                continue;
            }
            let key = if header.alg.is_symmetric() {
                issuer.secret.clone().ok_or(TokenError::UnknownKey)
            } else if self.issuers.len() == 1 {
                issuer.keys.select(header, now)
            } else {
                issuer.keys.select_quiet(header, now)
            };
            match key {
                Ok(key) => {
                    tried = true;
                    match jws.verify(&key, c.algorithms) {
                        Ok(payload) => return Ok((at, payload)),
                        Err(e) => last_err = merge(last_err, e),
                    }
                }
                Err(e) => last_err = merge(last_err, e),
            }
        }
        let err = last_err.unwrap_or(TokenError::UnknownKey);
        // A retry after a verified signature is no sign of a missing key.
        if from == 0 && !tried && err == TokenError::UnknownKey && self.issuers.len() > 1 {
            for issuer in &self.issuers {
                issuer.keys.note_unknown_key(now);
            }
        }
        Err(err)
    }

    /// The issuer configurations.
    pub fn issuers(&self) -> impl Iterator<Item = &IssuerConfig> {
        self.issuers.iter().map(|i| &i.config)
    }
}

/// A token presented as `Bearer` must not be sender-constrained (RFC 9449 §7.2, RFC 8705 §3).
pub(crate) fn bearer_usable(ctx: &AccessContext) -> Result<(), TokenError> {
    match ctx.confirmation() {
        None => Ok(()),
        Some(cnf) if cnf.get("jkt").is_some() => Err(TokenError::DpopRequired),
        Some(_) => Err(TokenError::CertificateMismatch),
    }
}

/// Keeps the most telling error across issuers: a signature failure beats a header rule,
/// which beats a missing key.
fn merge(prev: Option<TokenError>, next: TokenError) -> Option<TokenError> {
    let Some(prev) = prev else { return Some(next) };
    let rank = |e: &TokenError| match e {
        TokenError::BadSignature | TokenError::InvalidBase64 | TokenError::InvalidJson => 5,
        TokenError::DuplicateMember | TokenError::TooDeep => 5,
        TokenError::AmbiguousKey => 4,
        TokenError::WrongType | TokenError::HeaderKey => 3,
        TokenError::UnknownKey => 2,
        _ => 0,
    };
    Some(if rank(&next) >= rank(&prev) {
        next
    } else {
        prev
    })
}
