//! The access context: what a validated token (JWT or introspection) proves about a request.

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
    pub raw_claims: serde_json::Map<String, serde_json::Value>,
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
