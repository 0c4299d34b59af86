//! [`SecureFhir`]: from an incoming request to an authorized request or a ready rejection.

use std::sync::{Arc, RwLock};

use smart_auth::bearer::{extract_from_parts, Credential};
use smart_auth::decision::{Authorizer, Decision, DecisionPolicy};
use smart_auth::dpop::DpopValidator;
use smart_auth::replay::ReplayStore;
use smart_auth::request::FhirRequest;
use smart_auth::{AccessContext, TokenError, UnixTime, Validator};

use crate::authorized::Authorized;
use crate::dpop::{DpopBinding, InvalidBaseUrl};
use crate::limits::Limits;
use crate::rejection::Rejection;

/// A host hook that says whether a validated token has been revoked (RFC 7009) or its grant
/// withdrawn. The facade asks it after the signature and claims check out.
pub trait RevocationCheck: Send + Sync {
    /// `true` if the token must be refused.
    fn is_revoked(&self, context: &AccessContext) -> bool;
}

impl<F: Fn(&AccessContext) -> bool + Send + Sync> RevocationCheck for F {
    fn is_revoked(&self, context: &AccessContext) -> bool {
        self(context)
    }
}

/// The facade: validates the credential, classifies the FHIR request, decides it, and renders
/// every refusal. One per server; share it behind an `Arc`.
///
/// Secure by default: every request needs a valid token; every refusal is a [`Rejection`] that
/// leaks nothing; the limits ([`Limits::default`]) apply before anything parses the request.
pub struct SecureFhir {
    validator: RwLock<Arc<Validator>>,
    authorizer: Authorizer,
    base_path: String,
    realm: String,
    limits: Limits,
    revocation: Option<Box<dyn RevocationCheck>>,
    dpop: Option<DpopBinding>,
}

impl std::fmt::Debug for SecureFhir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureFhir")
            .field("base_path", &self.base_path)
            .field("realm", &self.realm)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl SecureFhir {
    /// A facade for the FHIR API under `base_path` (e.g. `/fhir`), trusting the issuers
    /// `validator` knows, deciding with `policy`.
    pub fn new(validator: Validator, policy: DecisionPolicy, base_path: &str) -> SecureFhir {
        SecureFhir {
            validator: RwLock::new(Arc::new(validator)),
            authorizer: Authorizer::new(policy),
            base_path: base_path.trim_end_matches('/').to_owned(),
            realm: "fhir".to_owned(),
            limits: Limits::default(),
            revocation: None,
            dpop: None,
        }
    }

    /// Sets the request limits.
    pub fn with_limits(mut self, limits: Limits) -> SecureFhir {
        self.limits = limits;
        self
    }

    /// Sets the `realm` of `WWW-Authenticate` challenges (default `fhir`).
    pub fn with_realm(mut self, realm: &str) -> SecureFhir {
        self.realm = realm.to_owned();
        self
    }

    /// Asks `check` about every validated token (revocation lists, introspection results the
    /// host keeps).
    pub fn with_revocation_check(mut self, check: impl RevocationCheck + 'static) -> SecureFhir {
        self.revocation = Some(Box::new(check));
        self
    }

    /// Accepts DPoP-bound tokens (RFC 9449): `Authorization: DPoP <token>` with one `DPoP`
    /// proof header. The token must carry `cnf.jkt`; the proof must be signed by that key, name
    /// this request's method and `public_base_url`'s origin plus the request path as `htm` and
    /// `htu`, carry the token's hash as `ath`, be fresh, and not be replayed (`replay` records
    /// each proof's `jti`; back it with shared storage when several instances serve one base).
    /// 401 answers then also offer a `DPoP` challenge with the accepted `algs`.
    ///
    /// Without this, DPoP credentials are refused (never treated as bearer tokens), and a
    /// DPoP-bound token presented as `Bearer` is refused either way (RFC 9449 §7.2).
    pub fn with_dpop(
        mut self,
        validator: DpopValidator,
        replay: Arc<dyn ReplayStore>,
        public_base_url: &str,
    ) -> Result<SecureFhir, InvalidBaseUrl> {
        self.dpop =
            Some(DpopBinding::new(validator, replay, public_base_url).ok_or(InvalidBaseUrl)?);
        Ok(self)
    }

    /// Installs a new validator (other issuers, another configuration). Requests in flight
    /// finish with the old one.
    ///
    /// Key rotation needs no new validator: issuers configured with a `jwks_uri` refresh their
    /// keys in place through [`validator`](Self::validator) (see there), keeping the rotation
    /// grace, the refresh schedule and the token cache. A replacement starts with none of
    /// them: a `jwks_uri` issuer refuses every token until its first fetch completes, and one
    /// given a fixed key set drops the old keys at once (tokens signed just before the
    /// rotation fail).
    pub fn replace_validator(&self, validator: Validator) {
        if let Ok(mut v) = self.validator.write() {
            *v = Arc::new(validator);
        }
    }

    /// The request limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The authorizer (for Bundle entries and host-side checks).
    pub fn authorizer(&self) -> &Authorizer {
        &self.authorizer
    }

    /// The realm of the challenges.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The validator in use, for the host's key refreshes ([`Validator::refreshes_due`]),
    /// which update it in place:
    ///
    /// ```
    /// use secure_fhir::SecureFhir;
    /// use smart_auth::decision::DecisionPolicy;
    /// use smart_auth::{IssuerConfig, UnixTime, Validator};
    ///
    /// let validator = Validator::new([IssuerConfig::new("https://auth.example.org", "https://fhir.example.org/fhir")
    ///     .jwks_uri("https://auth.example.org/jwks.json")])?;
    /// let facade = SecureFhir::new(validator, DecisionPolicy::default(), "/fhir");
    ///
    /// // The host's refresh task, run at start and then every few seconds.
    /// let now = UnixTime::from_secs(1_767_225_600);
    /// for fetch in facade.validator().refreshes_due(now) {
    ///     // GET fetch.jwks_uri with the host's HTTP client; here, the document it returned.
    ///     let body = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    ///     facade.validator().complete_refresh(fetch, body, Some("max-age=300"), now)?;
    /// }
    /// assert!(facade.validator().refreshes_due(now).is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn validator(&self) -> Arc<Validator> {
        match self.validator.read() {
            Ok(v) => Arc::clone(&v),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    /// Validates the credential alone: the access context, or the `401`/`400` rejection with
    /// its RFC 6750 challenge.
    pub fn authenticate(
        &self,
        parts: &http::request::Parts,
        now: UnixTime,
    ) -> Result<AccessContext, Rejection> {
        self.authenticate_shared(parts, now)
            .map(Arc::unwrap_or_clone)
    }

    /// As [`SecureFhir::authenticate`], sharing the validated context with the validator's
    /// token cache ([`Validator::with_cache`]): a bearer token seen before skips signature
    /// verification until its `exp` (or the cache's maximum age), never longer. A DPoP-bound
    /// token's proof is checked on every request. Revocation is asked on every call, cached or
    /// not.
    pub fn authenticate_shared(
        &self,
        parts: &http::request::Parts,
        now: UnixTime,
    ) -> Result<Arc<AccessContext>, Rejection> {
        let reject = |e: &TokenError| {
            let r = Rejection::from_token_error(e, &self.realm);
            match &self.dpop {
                Some(d) => r.offer_dpop(e, &self.realm, &d.algs()),
                None => r,
            }
        };
        let credential = extract_from_parts(parts).map_err(|e| reject(&e))?;
        let context = match (credential, &self.dpop) {
            (Credential::Bearer(token), _) => self.validator().validate_cached(token, now),
            (dpop, Some(binding)) => binding
                .validate(&self.validator(), dpop, parts, now)
                .map(Arc::new),
            // Sender-constrained tokens need their proof checked against the request; without
            // a DPoP binding they are refused rather than treated as bearer tokens.
            (_, None) => Err(TokenError::UnsupportedConfirmation),
        }
        .map_err(|e| reject(&e))?;
        if self.is_revoked(&context) {
            return Err(reject(&TokenError::Inactive));
        }
        Ok(context)
    }

    /// The whole front half of a request: limits, credential, classification and decision.
    ///
    /// `body` is the request body (empty if none); the decision reads it only where it needs to
    /// (a `_search` form). On success the [`Authorized`] request carries the access context, the
    /// classified request and the permit whose narrowing the host must add to its queries and
    /// whose checks every result must pass. On refusal the [`Rejected`] value carries the
    /// response to send and what the audit trail records.
    pub fn authorize(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        now: UnixTime,
    ) -> Result<Authorized, Rejected> {
        let head = self.authorize_head(parts, now)?;
        self.authorize_body(parts, body, head)
    }

    /// The first half of [`authorize`](Self::authorize), before the body is read: the limits
    /// on the request line and headers (a refusal names the caller when its credential is
    /// valid), then the credential. Call it before reading the body, so that no one without a
    /// valid token makes the server buffer one, then
    /// [`authorize_body`](Self::authorize_body) with the body.
    ///
    /// ```
    /// # use secure_fhir::SecureFhir;
    /// # use smart_auth::{decision::DecisionPolicy, testing::TestIssuer, UnixTime};
    /// # let issuer = TestIssuer::new("https://auth.example.org", "https://fhir.example.org/fhir");
    /// # let facade = SecureFhir::new(issuer.validator(), DecisionPolicy::default(), "/fhir");
    /// # let now = UnixTime::from_secs(1_767_225_600);
    /// // No token: refused before a byte of the (large) body is read.
    /// let (parts, ()) = http::Request::post("/fhir/Observation")
    ///     .header("content-length", "3000000").body(())?.into_parts();
    /// assert_eq!(facade.authorize_head(&parts, now).unwrap_err().to_response().status(), 401);
    ///
    /// let token = issuer.token(now).scope("patient/Observation.c").patient("123").sign();
    /// let (parts, ()) = http::Request::post("/fhir/Observation")
    ///     .header("authorization", format!("Bearer {token}"))
    ///     .header("content-type", "application/fhir+json").body(())?.into_parts();
    /// let head = facade.authorize_head(&parts, now).expect("a valid token");
    /// // ... read the body (up to `facade.limits().max_body_bytes`), then:
    /// let body = br#"{"resourceType":"Observation","status":"final","code":{},"subject":{"reference":"Patient/123"}}"#;
    /// let authorized = facade.authorize_body(&parts, body, head).expect("allowed");
    /// # let _ = authorized;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authorize_head(
        &self,
        parts: &http::request::Parts,
        now: UnixTime,
    ) -> Result<Authenticated, Rejected> {
        self.limits
            .check_head(parts)
            .map_err(|r| self.refused(parts, r, now))?;
        let context = self
            .authenticate_shared(parts, now)
            .map_err(|r| rejected(r, None, None))?;
        Ok(Authenticated { context })
    }

    /// The second half of [`authorize`](Self::authorize), once the body is read: the body
    /// limits, the classification and the decision, for the caller `head` names.
    pub fn authorize_body(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        head: Authenticated,
    ) -> Result<Authorized, Rejected> {
        self.decide(parts, body, head.context)
    }

    /// As [`authorize`](Self::authorize), for an access context the host obtained itself: an
    /// opaque token checked through RFC 7662 introspection
    /// ([`Introspector::parse_response`](smart_auth::introspection::Introspector::parse_response),
    /// with an [`IntrospectionCache`](smart_auth::introspection::IntrospectionCache)). The
    /// request's credential is not looked at; the limits, the
    /// [revocation check](Self::with_revocation_check), the classification and the decision
    /// run as in `authorize`. A context past its `exp` is refused as expired, and a
    /// sender-constrained one (`cnf`) as presented without its proof, as a bearer token would
    /// be.
    ///
    /// When introspection gives no context, the host refuses the request itself with
    /// [`refused`](Self::refused) and
    /// [`Rejection::from_token_error`](crate::Rejection::from_token_error): `"active": false`
    /// is a 401 `invalid_token`; an unusable answer, or none at all (the host's request
    /// failed: use [`TokenError::IntrospectionFailed`]), is a 503 without a challenge, since
    /// the token may be good.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use secure_fhir::{Rejection, SecureFhir};
    /// use smart_auth::bearer::extract_from_parts;
    /// use smart_auth::decision::DecisionPolicy;
    /// use smart_auth::introspection::{request_body, Introspector};
    /// use smart_auth::{IssuerConfig, UnixTime, Validator};
    ///
    /// let (iss, aud) = ("https://auth.example.org", "https://fhir.example.org/fhir");
    /// // The same authorization server also issues JWTs, signed with the keys at its jwks_uri.
    /// let validator = Validator::new([IssuerConfig::new(iss, aud).jwks_uri("https://auth.example.org/jwks.json")])?;
    /// let facade = SecureFhir::new(validator, DecisionPolicy::default(), "/fhir");
    /// let introspector = Introspector::new(iss, aud);
    /// let now = UnixTime::from_secs(1_767_225_600);
    ///
    /// let (parts, ()) = http::Request::get("/fhir/Observation?code=8867-4")
    ///     .header("authorization", "Bearer opaque-7Hq2")
    ///     .body(())?
    ///     .into_parts();
    /// let token = extract_from_parts(&parts)?.token();
    /// // The host POSTs request_body(token, ..) to the introspection endpoint; this came back.
    /// assert_eq!(request_body(token, None), "token=opaque-7Hq2");
    /// let answer = br#"{"active":true,"scope":"patient/Observation.rs","client_id":"app",
    ///                   "exp":1767225900,"patient":"123","aud":"https://fhir.example.org/fhir"}"#;
    /// let context = Arc::new(introspector.parse_response(answer, now)?);
    /// let authorized = facade.authorize_context(&parts, b"", context, now).expect("allowed");
    /// assert_eq!(authorized.narrowing().unwrap().alternatives()[0].compartment().unwrap().id, "123");
    ///
    /// // Later the authorization server answers with an error page: refused, but as its
    /// // failure (503), not as an invalid token, and audited like every refusal.
    /// let failure = introspector.parse_response(b"<html>502 Bad Gateway</html>", now).unwrap_err();
    /// let refused = facade.refused(&parts, Rejection::from_token_error(&failure, facade.realm()), now);
    /// assert_eq!(refused.rejection().reason(), "introspection_failed");
    /// assert_eq!(refused.to_response().status(), 503);
    /// assert!(refused.to_response().headers().get("www-authenticate").is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authorize_context(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        context: Arc<AccessContext>,
        now: UnixTime,
    ) -> Result<Authorized, Rejected> {
        let refusal = if now.as_secs() >= context.expires_at() {
            Some(TokenError::Expired)
        } else if let Some(cnf) = context.confirmation() {
            Some(match cnf.get("jkt") {
                Some(_) => TokenError::DpopRequired,
                None => TokenError::CertificateMismatch,
            })
        } else if self.is_revoked(&context) {
            Some(TokenError::Inactive)
        } else {
            None
        };
        // The limits first; their refusal names the caller when the context is good.
        let caller = refusal.is_none().then(|| Arc::clone(&context));
        self.limits
            .check_head(parts)
            .map_err(|r| rejected(r, caller, None))?;
        if let Some(e) = refusal {
            let r = Rejection::from_token_error(&e, &self.realm);
            return Err(rejected(r, None, None));
        }
        self.decide(parts, body, context)
    }

    /// The back half of [`authorize`](Self::authorize), once the caller is known: body
    /// limits, classification and decision.
    pub(crate) fn decide(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        context: Arc<AccessContext>,
    ) -> Result<Authorized, Rejected> {
        self.limits
            .check_body(parts, body)
            .map_err(|r| rejected(r, Some(context.clone()), None))?;
        // The body goes to the classification whatever its media type says: it reads it only for
        // `POST _search`, matching the media type case-insensitively as a host does, and refuses
        // a search body that is not a form (415) rather than deciding without it.
        let request = match FhirRequest::from_parts(parts, &self.base_path, Some(body)) {
            Ok(r) => r,
            Err(e) => {
                let r = crate::decide::request_rejection(e);
                return Err(rejected(r, Some(context), None));
            }
        };
        match self.authorizer.decide(&context, &request) {
            Decision::Deny(d) => {
                let r = self.denial(&d, parts);
                Err(rejected(r, Some(context), Some(request)))
            }
            Decision::Allow(permit) | Decision::Narrow(permit) => {
                Ok(Authorized::new(context, request, permit, &self.realm))
            }
        }
    }

    fn is_revoked(&self, context: &AccessContext) -> bool {
        self.revocation
            .as_ref()
            .is_some_and(|r| r.is_revoked(context))
    }
}

/// A request whose head passed [`SecureFhir::authorize_head`]: its line and headers are within
/// the limits and its credential is valid. Only `authorize_head` makes one; hand it to
/// [`SecureFhir::authorize_body`] with the body.
#[derive(Debug, Clone)]
pub struct Authenticated {
    context: Arc<AccessContext>,
}

impl Authenticated {
    /// The caller's access context.
    pub fn context(&self) -> &AccessContext {
        &self.context
    }

    /// This request refused for what was found after its head (a body that could not be read,
    /// or over the limit while it arrived), naming the caller for its audit record.
    pub fn refused(&self, rejection: Rejection) -> Rejected {
        rejected(rejection, Some(Arc::clone(&self.context)), None)
    }
}

/// A refusal with what is known of the request, for its audit record.
pub(crate) fn rejected(
    rejection: Rejection,
    context: Option<Arc<AccessContext>>,
    request: Option<FhirRequest>,
) -> Rejected {
    Rejected {
        rejection,
        context,
        request: request.map(Box::new),
    }
}

impl SecureFhir {
    /// Decides one entry of a batch or transaction as the equivalent standalone request, under
    /// the token of the Bundle's request (SMART: every entry is authorized on its own).
    ///
    /// This decides the entry's request line only. The host still checks what the entry
    /// touches, as for a standalone request: a write entry's resource and the stored version
    /// with [`Authorized::check_write`], a read's result with [`Authorized::check_resource`].
    /// In a transaction, one refused entry must refuse the whole Bundle before anything is
    /// written. ([`Authorizer::decide_bundle`](smart_auth::decision::Authorizer::decide_bundle)
    /// decides a whole Bundle at once, with the transaction rule and the entries' bodies
    /// checked.)
    ///
    /// ```
    /// use secure_fhir::SecureFhir;
    /// use smart_auth::decision::DecisionPolicy;
    /// use smart_auth::request::FhirRequest;
    /// use smart_auth::testing::TestIssuer;
    /// use smart_auth::UnixTime;
    ///
    /// let issuer = TestIssuer::new("https://auth.example.org", "https://fhir.example.org/fhir");
    /// let facade = SecureFhir::new(issuer.validator(), DecisionPolicy::default(), "/fhir");
    /// let now = UnixTime::from_secs(1_767_225_600);
    /// let token = issuer.token(now).scope("patient/Patient.r patient/Observation.rs").patient("123").sign();
    /// let body = br#"{"resourceType":"Bundle","type":"batch","entry":[
    ///     {"request":{"method":"GET","url":"Observation?code=8867-4"}},
    ///     {"request":{"method":"GET","url":"Patient/456"}}]}"#;
    /// let (parts, ()) = http::Request::post("/fhir")
    ///     .header("authorization", format!("Bearer {token}"))
    ///     .header("content-type", "application/fhir+json")
    ///     .body(())?
    ///     .into_parts();
    /// let batch = facade.authorize(&parts, body, now).expect("a batch may be posted");
    ///
    /// let fhir_types::Resource::Bundle(bundle) = fhir_types::json::parse_resource(body)? else {
    ///     unreachable!()
    /// };
    /// let mut answers = Vec::new();
    /// for entry in &bundle.entry {
    ///     let request = entry.request.as_ref().expect("checked by the host: 400 otherwise");
    ///     let method = http::Method::from_bytes(request.method.as_str().unwrap_or("").as_bytes())?;
    ///     let decided = FhirRequest::from_entry(&method, request.url.as_str().unwrap_or(""), None)
    ///         .map_err(|_| ())
    ///         .and_then(|entry| facade.authorize_entry(&batch, entry).map_err(|_| ()));
    ///     answers.push(decided.map(|a| a.narrowing().is_some()));
    /// }
    /// // The search runs narrowed to Patient/123; another patient's record is a 404 entry.
    /// assert_eq!(answers, [Ok(true), Err(())]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authorize_entry(
        &self,
        bundle: &Authorized,
        entry: FhirRequest,
    ) -> Result<Authorized, Rejection> {
        let context = Arc::clone(&bundle.context);
        match self.authorizer.decide(&context, &entry) {
            Decision::Deny(d) => Err(Rejection::from_denial(&d, &self.realm)),
            Decision::Allow(permit) | Decision::Narrow(permit) => {
                Ok(Authorized::new(context, entry, permit, &self.realm))
            }
        }
    }
}

impl SecureFhir {
    /// The refusal of a Bundle entry (the `Err` of [`authorize_entry`](Self::authorize_entry))
    /// as a [`Rejected`] naming the Bundle's caller and the entry's request, so that the host
    /// records it like a refused request ([`Rejected::audit_record`], given the entry's method
    /// and URL as the request): denials inside batch and transaction entries are audited too
    /// (audit.md §4), not only the Bundle that carried them.
    pub fn refused_entry(
        &self,
        bundle: &Authorized,
        entry: FhirRequest,
        rejection: Rejection,
    ) -> Rejected {
        rejected(rejection, Some(Arc::clone(&bundle.context)), Some(entry))
    }

    /// An authorized request the host refuses for a reason of its own (a rate limit, a rule
    /// the decision does not know): `rejection`, naming the caller and the request, so that
    /// the refusal's audit record ([`Rejected::audit_record`]) says who was refused what.
    ///
    /// ```
    /// # use secure_fhir::{Rejection, SecureFhir};
    /// # use smart_auth::{decision::DecisionPolicy, testing::TestIssuer, UnixTime};
    /// # let issuer = TestIssuer::new("https://auth.example.org", "https://fhir.example.org/fhir");
    /// # let facade = SecureFhir::new(issuer.validator(), DecisionPolicy::default(), "/fhir");
    /// # let now = UnixTime::from_secs(1_767_225_600);
    /// # let token = issuer.token(now).scope("patient/*.rs").patient("123").sign();
    /// # let (parts, ()) = http::Request::get("/fhir/Patient/123")
    /// #     .header("authorization", format!("Bearer {token}")).body(())?.into_parts();
    /// let authorized = facade.authorize(&parts, b"", now).expect("allowed");
    /// // The host's own limiter says this caller must wait 2 seconds.
    /// let refused = facade.refuse(&authorized, Rejection::throttled(2));
    /// let response = refused.to_response();
    /// assert_eq!(response.status(), 429);
    /// assert_eq!(response.headers()["retry-after"], "2");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refuse(&self, authorized: &Authorized, rejection: Rejection) -> Rejected {
        self.refused_entry(authorized, authorized.request().clone(), rejection)
    }

    /// A request the host refused before [`SecureFhir::authorize`] could take it whole (a
    /// request line or a body over the [`Limits`], found while it arrived): `rejection`, with
    /// the caller's access context when its credential is valid, so that the refusal's audit
    /// record ([`Rejected::audit_record`]) names who sent it.
    pub fn refused(
        &self,
        parts: &http::request::Parts,
        rejection: Rejection,
        now: UnixTime,
    ) -> Rejected {
        rejected(rejection, self.authenticate_shared(parts, now).ok(), None)
    }
}

impl SecureFhir {
    /// The rejection for a denial, in the scheme the request authenticated with.
    fn denial(&self, d: &smart_auth::decision::Denial, parts: &http::request::Parts) -> Rejection {
        let dpop = matches!(extract_from_parts(parts), Ok(Credential::Dpop { .. }));
        match (&self.dpop, dpop) {
            (Some(binding), true) => {
                Rejection::from_denial_as(d, &self.realm, Some(&binding.algs()))
            }
            _ => Rejection::from_denial(d, &self.realm),
        }
    }
}

/// A refused request: the [`Rejection`] (the response to send) and what is known about the
/// request for the audit record.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub(crate) rejection: Rejection,
    pub(crate) context: Option<Arc<AccessContext>>,
    pub(crate) request: Option<Box<FhirRequest>>,
}

impl Rejected {
    /// The answer and its reason.
    pub fn rejection(&self) -> &Rejection {
        &self.rejection
    }

    /// The validated access context, when the credential was fine.
    pub fn context(&self) -> Option<&AccessContext> {
        self.context.as_deref()
    }

    /// The classified request, when it was well-formed.
    pub fn request(&self) -> Option<&FhirRequest> {
        self.request.as_deref()
    }

    /// The HTTP response to send.
    pub fn to_response(&self) -> http::Response<Vec<u8>> {
        self.rejection.to_response()
    }
}
