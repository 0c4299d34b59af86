//! RFC 7662 token introspection for opaque access tokens, as SMART uses it
//! (SMART App Launch 2.x, "Token Introspection").
//!
//! Sans-IO: [`request_body`] builds the form the host POSTs to the introspection endpoint (the
//! host adds its own client authentication), [`Introspector::parse_response`] turns the
//! response into the same [`AccessContext`] a JWT yields, and [`IntrospectionCache`] keeps
//! answers no longer than the token's `exp` and a configured bound.
//!
//! ```
//! use smart_auth::introspection::{request_body, Introspector};
//! use smart_auth::UnixTime;
//! assert_eq!(request_body("tok en", Some("access_token")), "token=tok+en&token_type_hint=access_token");
//! let introspector = Introspector::new("https://as.example", "https://fhir.example/r4");
//! let now = UnixTime::from_secs(1_700_000_000);
//! let body = br#"{"active":true,"scope":"patient/*.rs","client_id":"app","exp":1700000300,
//!                 "patient":"123","aud":"https://fhir.example/r4"}"#;
//! let ctx = introspector.parse_response(body, now).unwrap();
//! assert_eq!(ctx.launch().patient, Some("123"));
//! assert!(introspector.parse_response(br#"{"active":false}"#, now).is_err());
//! ```

use std::sync::Arc;

use serde_json::Value;

use crate::cache::{token_hash, TokenCache};
use crate::context::AccessContext;
use crate::error::TokenError;
use crate::scope::ScopePolicy;
use crate::time::{CacheTtl, Leeway, NegativeTtl, UnixTime};
use crate::validator::claims::{
    audiences, check_times, context_from_claims, opt_str, req_str, ClaimNames,
};
use crate::validator::ScopeClaim;

/// Largest accepted introspection response, in bytes.
pub const MAX_RESPONSE_LEN: usize = 64 * 1024;

/// The form body of an introspection request (RFC 7662 §2.1):
/// `token=...[&token_type_hint=...]`, `application/x-www-form-urlencoded`.
pub fn request_body(token: &str, token_type_hint: Option<&str>) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", token);
    if let Some(h) = token_type_hint {
        form.append_pair("token_type_hint", h);
    }
    form.finish()
}

/// Interprets introspection responses from one authorization server.
#[derive(Debug, Clone)]
pub struct Introspector {
    issuer: String,
    audience: String,
    leeway: Leeway,
    scope_claim: ScopeClaim,
    scope_policy: ScopePolicy,
    accept_missing_audience: bool,
}

impl Introspector {
    /// Responses from the authorization server `issuer` (its `iss`, if the response has one,
    /// must equal it), for this resource server `audience`: every active answer must carry an
    /// `aud` that contains it (see
    /// [`dangerous_accept_missing_audience`](Self::dangerous_accept_missing_audience)). 30 s
    /// leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Introspector {
        Introspector {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Leeway::DEFAULT,
            scope_claim: ScopeClaim::Scope,
            scope_policy: ScopePolicy::default(),
            accept_missing_audience: false,
        }
    }

    /// Clock leeway (default 30 s).
    pub fn leeway(mut self, leeway: Leeway) -> Self {
        self.leeway = leeway;
        self
    }

    /// Where scopes come from.
    pub fn scope_claim(mut self, scope_claim: ScopeClaim) -> Self {
        self.scope_claim = scope_claim;
        self
    }

    /// How the granted scope string is read (see
    /// [`IssuerConfig::scope_policy`](crate::validator::IssuerConfig::scope_policy)).
    pub fn scope_policy(mut self, policy: ScopePolicy) -> Self {
        self.scope_policy = policy;
        self
    }

    /// Dangerous: accept an active answer without `aud` (one with `aud` must still contain this
    /// server's audience). `aud` is optional in an RFC 7662 answer (§2.2), but without it the
    /// answer does not say which resource server the token was issued for: when the
    /// authorization server serves other resource servers too, a token issued for one of them,
    /// replayed here by that server or by anyone who saw it, would be accepted (RFC 7662 §4,
    /// smart.md §4). Only for an authorization server that serves this resource server alone;
    /// better, have it include `aud`.
    pub fn dangerous_accept_missing_audience(mut self) -> Self {
        self.accept_missing_audience = true;
        self
    }

    /// Parses a 200 response body for a token presented as `Bearer`. `"active": false` is
    /// [`TokenError::Inactive`]; an active response must carry SMART's `scope`, `client_id` and
    /// a future `exp`, and the launch-context members follow the same shape rules as JWT
    /// claims. A sender-constrained token (`cnf`) is refused as
    /// [`Validator::validate`](crate::Validator::validate) refuses one (RFC 9449 §7.2, RFC 8705
    /// §3): it needs its proof, see [`Introspector::parse_constrained_response`]. An answer
    /// whose `token_type` names anything but an access token (`Bearer`, `DPoP`, `access_token`;
    /// e.g. a refresh token's `refresh_token`) is [`TokenError::WrongType`].
    ///
    /// A body that is no usable RFC 7662 answer (not a JSON object, `active` missing or not a
    /// boolean, an active answer without SMART's members or with mistyped ones) is
    /// [`TokenError::IntrospectionFailed`]: refused like the rest, but as the authorization
    /// server's failure (503), not the token's.
    pub fn parse_response(&self, body: &[u8], now: UnixTime) -> Result<AccessContext, TokenError> {
        let ctx = self.parse_constrained_response(body, now)?;
        crate::validator::bearer_usable(&ctx)?;
        Ok(ctx)
    }

    /// As [`Introspector::parse_response`], also for a sender-constrained token: the caller must
    /// then check the confirmation (`cnf`) against the proof it received, e.g. with
    /// [`crate::dpop::DpopValidator::validate_proof`] and [`AccessContext::dpop_jkt`], or with
    /// [`crate::mtls::check_certificate_binding`].
    pub fn parse_constrained_response(
        &self,
        body: &[u8],
        now: UnixTime,
    ) -> Result<AccessContext, TokenError> {
        if body.len() > MAX_RESPONSE_LEN {
            return Err(TokenError::IntrospectionFailed);
        }
        let claims =
            crate::jose::json::parse_object(body).map_err(|_| TokenError::IntrospectionFailed)?;
        // RFC 7662 §2.2: `active` is a required boolean. Only `false` is a verdict on the
        // token; without a boolean the server said nothing about it.
        match claims.get("active") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Err(TokenError::Inactive),
            _ => return Err(TokenError::IntrospectionFailed),
        }
        let dpop_type = access_token_type(&claims)?;
        let has_audience = claims.contains_key("aud");
        let ctx = self.active_context(claims, now).map_err(|e| match e {
            // SMART requires these members of every active answer, in these shapes: a missing
            // or mistyped one is the server's failure.
            TokenError::MissingClaim(_) | TokenError::InvalidClaim(_) => {
                TokenError::IntrospectionFailed
            }
            e => e,
        })?;
        // `aud` is optional in an answer, so its absence is no failure of the server's (checked
        // last: a broken answer stays one); but without it nothing shows the token is meant for
        // this resource server.
        if !has_audience && !self.accept_missing_audience {
            return Err(TokenError::MissingClaim("aud"));
        }
        // A DPoP token without the key it is bound to: no proof could be checked against it.
        if dpop_type && ctx.dpop_jkt().is_none() {
            return Err(TokenError::IntrospectionFailed);
        }
        Ok(ctx)
    }

    /// The context of an active answer, checked as a JWT's claims are.
    fn active_context(
        &self,
        claims: serde_json::Map<String, Value>,
        now: UnixTime,
    ) -> Result<AccessContext, TokenError> {
        if let Some(iss) = opt_str(&claims, "iss")? {
            if iss != self.issuer {
                return Err(TokenError::WrongIssuer);
            }
        }
        if claims.contains_key("aud") && !audiences(&claims)?.contains(&self.audience.as_str()) {
            return Err(TokenError::WrongAudience);
        }
        req_str(&claims, "scope")?;
        req_str(&claims, "client_id")?;
        let (exp, _) = check_times(&claims, now, self.leeway, false, None)?;
        let ctx = context_from_claims(
            &self.issuer,
            exp,
            &claims,
            self.scope_claim,
            &self.scope_policy,
            &ClaimNames::SMART,
        )?;
        Ok(ctx.with_raw_claims(claims.into()))
    }
}

/// Reads `token_type` (RFC 7662 §2.2: the access token's type, RFC 6749 §5.1, case-insensitive);
/// `true` when it says DPoP. Authorization servers answer `active` for refresh tokens too and say
/// so here: anything but an access token's type is [`TokenError::WrongType`], and a
/// `token_type` that is no string makes the answer unusable.
fn access_token_type(claims: &serde_json::Map<String, Value>) -> Result<bool, TokenError> {
    let token_type = match claims.get("token_type") {
        None => return Ok(false),
        Some(Value::String(t)) => t,
        Some(_) => return Err(TokenError::IntrospectionFailed),
    };
    if token_type.eq_ignore_ascii_case("DPoP") {
        Ok(true)
    } else if ["Bearer", "access_token"]
        .iter()
        .any(|t| token_type.eq_ignore_ascii_case(t))
    {
        Ok(false)
    } else {
        Err(TokenError::WrongType)
    }
}

/// Caches introspection answers: positive ones until the token's `exp` and at most a
/// [`CacheTtl`] (an hour at most, smart.md §13's default 60 s), negative ones for a
/// [`NegativeTtl`] (seconds: 10 s at most, smart.md §4). Each bound is its own type, checked
/// where it is made, so the two cannot be swapped nor one be out of range:
///
/// ```compile_fail,E0308
/// use smart_auth::introspection::IntrospectionCache;
/// use smart_auth::time::{CacheTtl, NegativeTtl};
/// let (positive, negative) = (CacheTtl::DEFAULT, NegativeTtl::from_secs(5).unwrap());
/// let swapped = IntrospectionCache::new(10_000, negative, positive);
/// ```
///
/// ```
/// use std::sync::Arc;
/// use smart_auth::introspection::{IntrospectionCache, Introspector};
/// use smart_auth::time::{CacheTtl, NegativeTtl};
/// use smart_auth::{AccessContext, TokenError, UnixTime};
///
/// let introspector = Introspector::new("https://as.example", "https://fhir.example/r4");
/// let (positive, negative) = (CacheTtl::from_secs(300)?, NegativeTtl::from_secs(5)?);
/// let cache = IntrospectionCache::new(10_000, positive, negative);
/// // The host's call to the introspection endpoint (a POST of `request_body(token, ..)`).
/// let post = |_token: &str| br#"{"active":true,"scope":"patient/*.rs","client_id":"app",
///                                "exp":1700000300,"patient":"123",
///                                "aud":"https://fhir.example/r4"}"#.to_vec();
///
/// let context = |token: &str, now: UnixTime| -> Result<Arc<AccessContext>, TokenError> {
///     if let Some(answer) = cache.get(token, now) {
///         return answer;
///     }
///     let answer = introspector.parse_response(&post(token), now).map(Arc::new);
///     cache.record(token, &answer, now);
///     answer
/// };
/// let now = UnixTime::from_secs(1_700_000_000);
/// assert_eq!(context("opaque-1", now)?.launch().patient, Some("123"));
/// assert!(cache.get("opaque-1", now.plus(10)).is_some()); // no second POST
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A context recorded from [`Introspector::parse_constrained_response`] keeps its `cnf`: a
/// cache hit is not a new presentation check, so check the confirmation against each request's
/// proof (and refuse it as `Bearer`) as for a fresh answer.
#[derive(Debug)]
pub struct IntrospectionCache {
    positive: TokenCache<Arc<AccessContext>>,
    negative: TokenCache<TokenError>,
    negative_ttl: NegativeTtl,
}

impl IntrospectionCache {
    /// A cache of at most `capacity` positive and `capacity` negative answers, each rounded up
    /// to a multiple of 16 (the caches are sharded 16 ways), keeping positive answers at most
    /// `max_ttl` and negative ones `negative_ttl`.
    pub fn new(
        capacity: usize,
        max_ttl: CacheTtl,
        negative_ttl: NegativeTtl,
    ) -> IntrospectionCache {
        IntrospectionCache {
            positive: TokenCache::new(capacity, max_ttl),
            negative: TokenCache::new(capacity, negative_ttl.into()),
            negative_ttl,
        }
    }

    /// The cached answer for `token`, if any.
    pub fn get(
        &self,
        token: &str,
        now: UnixTime,
    ) -> Option<Result<Arc<AccessContext>, TokenError>> {
        let key = token_hash(token);
        if let Some(ctx) = self.positive.get_by_hash(&key, now) {
            return Some(Ok(ctx));
        }
        self.negative.get_by_hash(&key, now).map(Err)
    }

    /// Records an answer. Only [`TokenError::Inactive`] is cached as negative
    /// ([`TokenError::IntrospectionFailed`] says nothing about the token: the next request asks
    /// again).
    pub fn record(
        &self,
        token: &str,
        answer: &Result<Arc<AccessContext>, TokenError>,
        now: UnixTime,
    ) {
        let key = token_hash(token);
        match answer {
            Ok(ctx) => self
                .positive
                .insert_by_hash(key, ctx.clone(), ctx.expires_at(), now),
            Err(TokenError::Inactive) => self.negative.insert_by_hash(
                key,
                TokenError::Inactive,
                now.as_secs().saturating_add(self.negative_ttl.as_secs()),
                now,
            ),
            Err(_) => {}
        }
    }
}
