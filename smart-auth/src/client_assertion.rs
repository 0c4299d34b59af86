//! Backend Services client authentication (SMART App Launch 2.x `client-confidential-asymmetric`,
//! RFC 7523 §3, `private_key_jwt`), for authorization servers.
//!
//! ```
//! # #[cfg(feature = "testing")] {
//! use smart_auth::client_assertion::{ClientAssertionValidator, RegisteredClient};
//! use smart_auth::replay::InMemoryReplayStore;
//! use smart_auth::testing::TestKey;
//! use smart_auth::jose::Algorithm;
//! use smart_auth::jwks::JwkSet;
//! use smart_auth::UnixTime;
//!
//! let key = TestKey::new(Algorithm::ES384);
//! let endpoint = "https://as.example/token";
//! let validator = ClientAssertionValidator::new(endpoint)
//!     .register(RegisteredClient::new("app-1").jwks(JwkSet::from_keys([key.public_jwk()])));
//! let now = UnixTime::from_secs(1_700_000_000);
//! let assertion = key.sign_json(Some("JWT"), &serde_json::json!({
//!     "iss": "app-1", "sub": "app-1", "aud": endpoint, "exp": now.as_secs() + 240, "jti": "j-1"
//! }));
//! let replay = InMemoryReplayStore::new(10_000);
//! let client = validator.validate(&assertion, &replay, now).unwrap();
//! assert_eq!(client.client_id, "app-1");
//! // The same assertion again is a replay.
//! let err = validator.validate(&assertion, &replay, now).unwrap_err();
//!
//! // The token endpoint answers every failure the same way (RFC 6749 §5.2): 401 (or 400)
//! // with `{"error": "invalid_client"}`, and logs the precise reason.
//! assert_eq!(err.oauth_error(), "invalid_client");
//! assert_eq!(err.reason(), "replayed");
//! # }
//! ```
//!
//! A refused assertion is answered with [`TokenError::oauth_error`], never with
//! [`TokenError::challenge`] or [`TokenError::status`]: those are a resource server's answers
//! to an access token (a replayed assertion would read as a DPoP proof error there).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::TokenError;
use crate::jose::header::typ_matches;
use crate::jose::{b64, json, json_error, Algorithm, AlgorithmSet, CompactJws, HeaderRules};
use crate::jwks::{JwkSet, JwksError, KeyCache, KeyCachePolicy, RefreshTicket};
use crate::replay::{replay_key, ReplayStore};
use crate::time::{Leeway, UnixTime};
use crate::validator::claims::{audiences, check_times, req_str};

/// The only accepted `client_assertion_type` (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Largest accepted assertion, in bytes.
pub const MAX_ASSERTION_LEN: usize = 8 * 1024;

/// A client registered for `private_key_jwt`, with its keys.
#[derive(Debug)]
pub struct RegisteredClient {
    client_id: String,
    jwks_url: Option<String>,
    keys: KeyCache,
}

impl RegisteredClient {
    /// A client without keys yet: give it [`RegisteredClient::jwks`] or
    /// [`RegisteredClient::jwks_url`].
    pub fn new(client_id: impl Into<String>) -> RegisteredClient {
        RegisteredClient {
            client_id: client_id.into(),
            jwks_url: None,
            keys: KeyCache::fixed(JwkSet::default()),
        }
    }

    /// A registered key set: fixed, or with a [`jwks_url`](Self::jwks_url) (given before or
    /// after) the initial set, used at once and replaced by the sets fetched from the URL.
    pub fn jwks(mut self, keys: JwkSet) -> Self {
        self.keys = match self.jwks_url {
            Some(_) => KeyCache::seeded(*self.keys.policy(), keys),
            None => KeyCache::fixed(keys),
        };
        self
    }

    /// A registered JWKS URL: the host fetches it when
    /// [`ClientAssertionValidator::refreshes_due`] says so, and an assertion's `jku`, if any,
    /// must equal it.
    pub fn jwks_url(mut self, url: impl Into<String>, policy: KeyCachePolicy) -> Self {
        self.jwks_url = Some(url.into());
        self.keys = match self.keys.configured() {
            Some(set) if !set.is_empty() => KeyCache::seeded(policy, (*set).clone()),
            _ => KeyCache::new(policy),
        };
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The registered JWKS URL, if any.
    pub fn registered_jwks_url(&self) -> Option<&str> {
        self.jwks_url.as_deref()
    }

    /// The client's key cache.
    pub fn keys(&self) -> &KeyCache {
        &self.keys
    }
}

/// An authenticated client.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AuthenticatedClient {
    /// The client id (`iss` = `sub`).
    pub client_id: String,
    /// The assertion's `jti`.
    pub jti: String,
    /// The assertion's `exp`.
    pub expires_at: i64,
    /// The algorithm that signed it.
    pub algorithm: Algorithm,
    /// The `kid` of the key that signed it.
    pub kid: String,
}

/// A client key-set fetch the host should perform, from
/// [`ClientAssertionValidator::refreshes_due`].
#[derive(Debug)]
pub struct ClientKeyFetch {
    /// The client whose keys to fetch.
    pub client_id: String,
    /// Its registered JWKS URL.
    pub jwks_url: String,
    /// The ticket to hand back with the result
    /// ([`ClientAssertionValidator::complete_refresh`]).
    pub ticket: RefreshTicket,
}

/// Validates client assertions at a token endpoint.
#[derive(Debug)]
pub struct ClientAssertionValidator {
    token_endpoint: String,
    clients: HashMap<String, RegisteredClient>,
    algorithms: AlgorithmSet,
    leeway: Leeway,
    max_lifetime: i64,
}

impl ClientAssertionValidator {
    /// A validator for assertions whose `aud` is `token_endpoint` (exact). Accepts RS384 and
    /// ES384 (SMART's required pair) plus RS256, ES256, PS256/384/512 and EdDSA; 30 s leeway;
    /// `exp` at most 300 s ahead.
    pub fn new(token_endpoint: impl Into<String>) -> ClientAssertionValidator {
        ClientAssertionValidator {
            token_endpoint: token_endpoint.into(),
            clients: HashMap::new(),
            algorithms: AlgorithmSet::ASYMMETRIC.without(Algorithm::RS512),
            leeway: Leeway::DEFAULT,
            max_lifetime: 300,
        }
    }

    /// Registers a client.
    pub fn register(mut self, client: RegisteredClient) -> Self {
        self.clients.insert(client.client_id.clone(), client);
        self
    }

    /// The accepted algorithms (symmetric ones are never accepted here).
    pub fn algorithms(mut self, algorithms: AlgorithmSet) -> Self {
        self.algorithms = algorithms.asymmetric();
        self
    }

    /// Clock leeway (default 30 s).
    pub fn leeway(mut self, leeway: Leeway) -> Self {
        self.leeway = leeway;
        self
    }

    /// A registered client.
    pub fn client(&self, client_id: &str) -> Option<&RegisteredClient> {
        self.clients.get(client_id)
    }

    /// Claims every fetch of a client's JWKS that is due now, for clients registered with
    /// [`RegisteredClient::jwks_url`]: the first load (until it completes the client's
    /// assertions are refused as [`TokenError::UnknownKey`]), an expired set, or an assertion
    /// naming a key the set lacks (a rotation). The host fetches each
    /// [`ClientKeyFetch::jwks_url`] and hands the result back with
    /// [`complete_refresh`](Self::complete_refresh) or [`fail_refresh`](Self::fail_refresh).
    pub fn refreshes_due(&self, now: UnixTime) -> Vec<ClientKeyFetch> {
        self.clients
            .values()
            .filter_map(|c| {
                let jwks_url = c.jwks_url.clone()?;
                c.keys.begin_refresh(now).map(|ticket| ClientKeyFetch {
                    client_id: c.client_id.clone(),
                    jwks_url,
                    ticket,
                })
            })
            .collect()
    }

    /// Installs the key set the host fetched for `fetch` in that client's key cache
    /// (`cache_control`: the response's `Cache-Control`; see [`KeyCache::complete_refresh`]).
    pub fn complete_refresh(
        &self,
        fetch: ClientKeyFetch,
        document: &[u8],
        cache_control: Option<&str>,
        now: UnixTime,
    ) -> Result<(), JwksError> {
        match self.clients.get(&fetch.client_id) {
            Some(c) => c
                .keys
                .complete_refresh(fetch.ticket, document, cache_control, now),
            None => Err(JwksError::StaleTicket),
        }
    }

    /// Records that the fetch for `fetch` failed (see [`KeyCache::fail_refresh`]).
    pub fn fail_refresh(&self, fetch: ClientKeyFetch, now: UnixTime) {
        if let Some(c) = self.clients.get(&fetch.client_id) {
            c.keys.fail_refresh(fetch.ticket, now);
        }
    }

    /// Validates the `client_assertion_type` and `client_assertion` form parameters of a token
    /// request.
    pub fn validate_form(
        &self,
        client_assertion_type: Option<&str>,
        client_assertion: Option<&str>,
        replay: &dyn ReplayStore,
        now: UnixTime,
    ) -> Result<AuthenticatedClient, TokenError> {
        if client_assertion_type != Some(JWT_BEARER) {
            return Err(TokenError::MalformedAuthorization);
        }
        let assertion = client_assertion.ok_or(TokenError::MissingCredentials)?;
        self.validate(assertion, replay, now)
    }

    /// Validates one assertion and records its `jti` (per client) until it expires, counted
    /// against the client ([`ReplayStore::check_and_record_for`]: one client cannot fill the
    /// store for the others).
    ///
    /// The header must carry `typ` `JWT` (SMART-asym; compared case-insensitively,
    /// `application/` optional, RFC 7515 §4.1.9) and a `kid`.
    ///
    /// The client is looked up by the assertion's `iss` before the signature is checked (the
    /// client must be known to find its keys); nothing else is read from the payload until the
    /// signature verified with that client's key.
    pub fn validate(
        &self,
        assertion: &str,
        replay: &dyn ReplayStore,
        now: UnixTime,
    ) -> Result<AuthenticatedClient, TokenError> {
        let rules = HeaderRules {
            embedded_jwk: false,
            ignore_key_headers: true,
        };
        let jws = CompactJws::parse(assertion, MAX_ASSERTION_LEN, rules)?;
        let header = jws.header();
        if ["jwk", "x5u", "x5c"].iter().any(|k| header.contains(k)) {
            return Err(TokenError::HeaderKey);
        }
        // SMART-asym fixes `typ` to `JWT`; absent is refused too, so no other kind of JWT
        // (an ID token, an access token) passes as an assertion.
        if !header.typ().is_some_and(|t| typ_matches(t, "JWT")) {
            return Err(TokenError::WrongType);
        }
        if !self.algorithms.contains(header.alg) {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        let kid = header.kid().ok_or(TokenError::MissingClaim("kid"))?;
        let client = self
            .clients
            .get(&unverified_issuer(assertion)?)
            .ok_or(TokenError::UnknownClient)?;
        if let Some(jku) = &header.jku {
            if client.jwks_url.as_deref() != Some(jku.as_str()) {
                return Err(TokenError::HeaderKey);
            }
        }
        let key = client.keys.select(header, now)?;
        let claims = jws.verify_claims(&key, self.algorithms)?;
        self.check_claims(&claims, client, now).map(|(jti, exp)| {
            let until = UnixTime::from_secs(exp.saturating_add(self.leeway.as_secs()));
            // Counted against the client, so that one cannot fill the store for the others.
            replay
                .check_and_record_for(
                    &replay_key("client", &[&client.client_id]),
                    &replay_key("client-assertion", &[&client.client_id, &jti]),
                    until,
                    now,
                )
                .map(|()| AuthenticatedClient {
                    client_id: client.client_id.clone(),
                    jti,
                    expires_at: exp,
                    algorithm: header.alg,
                    kid: kid.to_owned(),
                })
        })?
    }

    fn check_claims(
        &self,
        claims: &Map<String, Value>,
        client: &RegisteredClient,
        now: UnixTime,
    ) -> Result<(String, i64), TokenError> {
        if req_str(claims, "iss")? != client.client_id {
            return Err(TokenError::WrongIssuer);
        }
        if req_str(claims, "sub")? != client.client_id {
            return Err(TokenError::InvalidClaim("sub"));
        }
        if !audiences(claims)?.contains(&self.token_endpoint.as_str()) {
            return Err(TokenError::WrongAudience);
        }
        let (exp, _) = check_times(claims, now, self.leeway, false, None)?;
        if exp
            > now
                .as_secs()
                .saturating_add(self.max_lifetime)
                .saturating_add(self.leeway.as_secs())
        {
            return Err(TokenError::LifetimeTooLong);
        }
        let jti = req_str(claims, "jti")?;
        if jti.is_empty() || jti.len() > 256 {
            return Err(TokenError::InvalidClaim("jti"));
        }
        Ok((jti.to_owned(), exp))
    }
}

/// The `iss` of an unverified assertion, only to find the client's keys.
fn unverified_issuer(assertion: &str) -> Result<String, TokenError> {
    let payload = assertion
        .split('.')
        .nth(1)
        .ok_or(TokenError::NotCompactJws)?;
    let bytes = b64::decode(payload).ok_or(TokenError::InvalidBase64)?;
    let claims = json::parse_object(&bytes).map_err(json_error)?;
    Ok(req_str(&claims, "iss")?.to_owned())
}
