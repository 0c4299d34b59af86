//! The access context: what a validated token (JWT or introspection) proves about a request.

use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::scope::ScopeSet;

/// The trusted result of validating an access token, whatever its form (JWT or introspection).
///
/// Every field comes from a token whose signature (or introspection response) has been checked;
/// nothing here is attacker-controlled once constructed by the validator.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AccessContext {
    /// The issuer (`iss`) that vouched for the token.
    pub issuer: String,
    /// The subject (`sub`), when present.
    pub subject: Option<String>,
    /// The OAuth client the token was issued to (`client_id`, or `azp`).
    pub client_id: Option<String>,
    /// The granted scopes, parsed (from the `scope` string or the `scp` array).
    pub scopes: ScopeSet,
    /// `fhirUser`: the FHIR resource of the user (e.g. `Practitioner/123`), as an absolute or
    /// relative URL.
    pub fhir_user: Option<String>,
    /// The SMART launch context granted with the token.
    pub launch: LaunchContext,
    /// The token identifier (`jti`), when present.
    pub token_id: Option<String>,
    /// Expiry (`exp`) in seconds since the Unix epoch.
    pub expires_at: i64,
    /// The confirmation claim (`cnf`) for sender-constrained tokens, as JSON.
    pub confirmation: Option<serde_json::Value>,
    /// All claims of the token (or the introspection response), for host extensions.
    pub raw_claims: RawClaims,
}

/// The SMART launch context: which patient, encounter and other resources the app was launched
/// with (SMART App Launch 2.x, "Launch context").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LaunchContext {
    /// The in-context patient id (`patient`), a bare logical id such as `123`.
    pub patient: Option<String>,
    /// The in-context encounter id (`encounter`), a bare logical id.
    pub encounter: Option<String>,
    /// `fhirContext`: further context resources, as relative references (`Type/id`) or canonicals.
    pub fhir_context: Vec<String>,
}

impl AccessContext {
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

/// All claims of a validated token, for host extensions: the claims JSON exactly as verified
/// (strict: no duplicate members, nesting bounded), turned into a map only when first asked
/// for. Validation itself never builds the map, so hosts that read no extension claim pay
/// nothing for them.
#[derive(Clone, Default)]
pub struct RawClaims {
    /// UTF-8 (checked by the strict parser or made from a `String`).
    json: Vec<u8>,
    map: OnceLock<Map<String, Value>>,
}

impl RawClaims {
    /// Claims from JSON text that already passed the strict parser.
    pub(crate) fn from_checked_json(json: Vec<u8>) -> RawClaims {
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
            crate::jose::json::parse_object(&self.json).unwrap_or_default()
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
        std::str::from_utf8(&self.json).unwrap_or_default()
    }
}

impl From<Map<String, Value>> for RawClaims {
    fn from(map: Map<String, Value>) -> RawClaims {
        RawClaims {
            json: Value::Object(map.clone()).to_string().into_bytes(),
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
