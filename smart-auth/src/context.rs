//! The access context: what a validated token (JWT or introspection) proves about a request.

use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::jose::json::Text;
use crate::scope::ScopeSet;

/// The trusted result of validating an access token, whatever its form (JWT or introspection).
///
/// Everything here comes from a token whose signature (or introspection response) has been
/// checked; nothing is attacker-controlled once constructed by the validator. Every part is
/// read through a method and none can be changed: a context can be neither made nor widened,
/// extended or unbound (its `cnf` dropped) outside the validators. The string claims are, for
/// a JWT, views into the one verified claims text ([`raw_claims`](Self::raw_claims)), not
/// copies of it.
///
/// ```compile_fail
/// # fn downgrade(mut context: smart_auth::AccessContext) {
/// context.confirmation = None; // a DPoP-bound token cannot be turned into a bearer token
/// # }
/// ```
/// ```compile_fail
/// # fn extend(mut context: smart_auth::AccessContext) {
/// context.expires_at += 3600; // nor live longer than its `exp`
/// # }
/// ```
#[derive(Clone)]
pub struct AccessContext {
    issuer: Text,
    subject: Option<Text>,
    client_id: Option<Text>,
    scopes: ScopeSet,
    fhir_user: Option<Text>,
    patient: Option<Text>,
    encounter: Option<Text>,
    fhir_context: Vec<String>,
    token_id: Option<Text>,
    expires_at: i64,
    confirmation: Option<serde_json::Value>,
    raw_claims: RawClaims,
}

/// The SMART launch context: which patient, encounter and other resources the app was launched
/// with (SMART App Launch 2.x, "Launch context"). A view into an [`AccessContext`], from
/// [`AccessContext::launch`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LaunchContext<'a> {
    /// The in-context patient id (`patient`), a bare logical id such as `123`.
    pub patient: Option<&'a str>,
    /// The in-context encounter id (`encounter`), a bare logical id.
    pub encounter: Option<&'a str>,
    /// `fhirContext`: further context resources, as relative references (`Type/id`) or canonicals.
    pub fhir_context: &'a [String],
}

/// The fields of an [`AccessContext`] besides the scopes, `exp`, `cnf` and the raw claims: the
/// strings as borrowed from the claims, turned into [`Text`]s against the claims text by
/// [`AccessContext::new`].
#[derive(Debug, Default)]
pub(crate) struct ContextClaims<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) subject: Option<&'a str>,
    pub(crate) client_id: Option<&'a str>,
    pub(crate) fhir_user: Option<&'a str>,
    pub(crate) patient: Option<&'a str>,
    pub(crate) encounter: Option<&'a str>,
    pub(crate) token_id: Option<&'a str>,
}

impl AccessContext {
    /// A context from `claims`, whose strings are kept as spans of `text` where they lie in it
    /// (the caller then hands `text` over as the raw claims with [`AccessContext::with_raw_claims`])
    /// and copied otherwise.
    pub(crate) fn new(
        claims: &ContextClaims<'_>,
        text: &str,
        scopes: ScopeSet,
        fhir_context: Vec<String>,
        expires_at: i64,
        confirmation: Option<serde_json::Value>,
    ) -> AccessContext {
        let t = |s: &str| Text::new(s, text);
        AccessContext {
            issuer: t(claims.issuer),
            subject: claims.subject.map(t),
            client_id: claims.client_id.map(t),
            scopes,
            fhir_user: claims.fhir_user.map(t),
            patient: claims.patient.map(t),
            encounter: claims.encounter.map(t),
            fhir_context,
            token_id: claims.token_id.map(t),
            expires_at,
            confirmation,
            raw_claims: RawClaims::default(),
        }
    }

    /// Sets the raw claims: the text the context was built against by [`AccessContext::new`].
    pub(crate) fn with_raw_claims(mut self, raw_claims: RawClaims) -> AccessContext {
        self.raw_claims = raw_claims;
        self
    }

    fn text<'a>(&'a self, t: &'a Text) -> &'a str {
        t.get(&self.raw_claims.json)
    }

    /// The issuer (`iss`) that vouched for the token.
    pub fn issuer(&self) -> &str {
        self.text(&self.issuer)
    }

    /// The granted scopes, parsed (from the `scope` string or the `scp` array).
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// Expiry (`exp`) in seconds since the Unix epoch.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// The confirmation claim (`cnf`) of a sender-constrained token, as JSON: see
    /// [`dpop_jkt`](Self::dpop_jkt) and [`certificate_thumbprint`](Self::certificate_thumbprint).
    pub fn confirmation(&self) -> Option<&serde_json::Value> {
        self.confirmation.as_ref()
    }

    /// The subject (`sub`), when present.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_ref().map(|t| self.text(t))
    }

    /// The OAuth client the token was issued to (`client_id`, or `azp`).
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_ref().map(|t| self.text(t))
    }

    /// `fhirUser`: the FHIR resource of the user (e.g. `Practitioner/123`), as an absolute or
    /// relative URL.
    pub fn fhir_user(&self) -> Option<&str> {
        self.fhir_user.as_ref().map(|t| self.text(t))
    }

    /// The SMART launch context granted with the token.
    pub fn launch(&self) -> LaunchContext<'_> {
        LaunchContext {
            patient: self.patient.as_ref().map(|t| self.text(t)),
            encounter: self.encounter.as_ref().map(|t| self.text(t)),
            fhir_context: &self.fhir_context,
        }
    }

    /// The token identifier (`jti`), when present.
    pub fn token_id(&self) -> Option<&str> {
        self.token_id.as_ref().map(|t| self.text(t))
    }

    /// All claims of the token (or the introspection response), for host extensions.
    pub fn raw_claims(&self) -> &RawClaims {
        &self.raw_claims
    }

    /// The DPoP key thumbprint the token is bound to (`cnf.jkt`, RFC 9449 §6), if any.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.confirmation.as_ref()?.get("jkt")?.as_str()
    }

    /// The client-certificate thumbprint the token is bound to (`cnf.x5t#S256`, RFC 8705 §3),
    /// if any.
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        self.confirmation.as_ref()?.get("x5t#S256")?.as_str()
    }

    /// Whether the token is sender-constrained (has a `cnf` claim).
    pub fn is_sender_constrained(&self) -> bool {
        self.confirmation.is_some()
    }

    /// The raw claim `name`, for host extensions (e.g. an authorization server's own claims).
    pub fn claim(&self, name: &str) -> Option<&serde_json::Value> {
        self.raw_claims.get(name)
    }
}

impl PartialEq for AccessContext {
    fn eq(&self, other: &AccessContext) -> bool {
        self.issuer() == other.issuer()
            && self.subject() == other.subject()
            && self.client_id() == other.client_id()
            && self.scopes == other.scopes
            && self.fhir_user() == other.fhir_user()
            && self.launch() == other.launch()
            && self.token_id() == other.token_id()
            && self.expires_at == other.expires_at
            && self.confirmation == other.confirmation
            && self.raw_claims == other.raw_claims
    }
}

impl fmt::Debug for AccessContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessContext")
            .field("issuer", &self.issuer())
            .field("subject", &self.subject())
            .field("client_id", &self.client_id())
            .field("scopes", &self.scopes)
            .field("fhir_user", &self.fhir_user())
            .field("launch", &self.launch())
            .field("token_id", &self.token_id())
            .field("expires_at", &self.expires_at)
            .field("confirmation", &self.confirmation)
            .field("raw_claims", &self.raw_claims)
            .finish()
    }
}

/// All claims of a validated token, for host extensions: the claims JSON exactly as verified
/// (strict: no duplicate members, nesting bounded), turned into a map only when first asked
/// for. Validation itself never builds the map, so hosts that read no extension claim pay
/// nothing for them.
#[derive(Clone, Default)]
pub struct RawClaims {
    json: String,
    map: OnceLock<Map<String, Value>>,
}

impl RawClaims {
    /// Claims from JSON text that already passed the strict parser.
    pub(crate) fn from_checked_json(json: String) -> RawClaims {
        RawClaims {
            json,
            map: OnceLock::new(),
        }
    }

    /// Parses claims from JSON text under the strict rules (one object, duplicate members
    /// refused, nesting bounded).
    pub fn parse(json: &[u8]) -> Result<RawClaims, crate::jose::json::JsonError> {
        let map = crate::jose::json::parse_object(json)?;
        Ok(RawClaims::from(map))
    }

    /// The claims as a map (built on first use, then kept).
    pub fn as_map(&self) -> &Map<String, Value> {
        self.map.get_or_init(|| {
            // The text passed the strict parser when the token was validated.
            crate::jose::json::parse_object(self.json.as_bytes()).unwrap_or_default()
        })
    }

    /// The claim `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_map().get(name)
    }

    /// Whether the claim `name` is present.
    pub fn contains_key(&self, name: &str) -> bool {
        self.as_map().contains_key(name)
    }

    /// The claims in name order.
    pub fn iter(&self) -> serde_json::map::Iter<'_> {
        self.as_map().iter()
    }

    /// The number of claims.
    pub fn len(&self) -> usize {
        self.as_map().len()
    }

    /// Whether there is no claim.
    pub fn is_empty(&self) -> bool {
        self.as_map().is_empty()
    }

    /// The claims JSON text as validated.
    pub fn json(&self) -> &str {
        &self.json
    }
}

impl From<Map<String, Value>> for RawClaims {
    fn from(map: Map<String, Value>) -> RawClaims {
        RawClaims {
            json: Value::Object(map.clone()).to_string(),
            map: OnceLock::from(map),
        }
    }
}

impl PartialEq for RawClaims {
    fn eq(&self, other: &RawClaims) -> bool {
        self.json == other.json || self.as_map() == other.as_map()
    }
}

impl std::ops::Index<&str> for RawClaims {
    type Output = Value;
    /// The claim `name`, or `null` when absent (as `serde_json::Value` indexing does).
    fn index(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(name).unwrap_or(&NULL)
    }
}

impl fmt::Debug for RawClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawClaims").field(&self.json()).finish()
    }
}
