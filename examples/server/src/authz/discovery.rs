//! Discovery documents and the JWKS endpoint.

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::{json, Value};

use super::responses::{html, json_public};
use super::state::AuthzState;

const SCOPES: &[&str] = &[
    "openid",
    "fhirUser",
    "profile",
    "launch",
    "launch/patient",
    "launch/encounter",
    "offline_access",
    "online_access",
    "patient/*.rs",
    "patient/*.read",
    "user/*.rs",
    "user/*.read",
    "system/*.rs",
    "system/*.read",
];

const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
];

impl AuthzState {
    /// The SMART configuration document (SMART App Launch 2.2, `conformance.html`); the FHIR side
    /// serves it at `<fhir base>/.well-known/smart-configuration`.
    pub fn smart_configuration(&self) -> Value {
        let e = self.endpoints();
        let mut doc = json!({
            "issuer": e.issuer,
            "jwks_uri": e.jwks,
            "authorization_endpoint": e.authorize,
            "token_endpoint": e.token,
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384", "RS256", "ES256"],
            "dpop_signing_alg_values_supported": dpop_algs(),
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "scopes_supported": SCOPES,
            "response_types_supported": ["code"],
            "introspection_endpoint": e.introspect,
            "revocation_endpoint": e.revoke,
            "code_challenge_methods_supported": ["S256"],
            "capabilities": [
                "launch-ehr", "launch-standalone", "authorize-post",
                "client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
                "sso-openid-connect", "context-banner", "context-ehr-patient", "context-ehr-encounter",
                "context-standalone-patient", "permission-offline", "permission-online",
                "permission-patient", "permission-user", "permission-v1", "permission-v2"
            ],
        });
        if self.0.config.dynamic_registration {
            doc["registration_endpoint"] = json!(e.register);
        }
        doc
    }

    /// The OpenID Connect discovery document (`<issuer>/.well-known/openid-configuration`).
    pub fn openid_configuration(&self) -> Value {
        let e = self.endpoints();
        let mut doc = json!({
            "issuer": e.issuer,
            "authorization_endpoint": e.authorize,
            "token_endpoint": e.token,
            "jwks_uri": e.jwks,
            "introspection_endpoint": e.introspect,
            "revocation_endpoint": e.revoke,
            "end_session_endpoint": e.logout,
            "scopes_supported": SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384", "RS256", "ES256"],
            "dpop_signing_alg_values_supported": dpop_algs(),
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "fhirUser", "name"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        });
        if self.0.config.dynamic_registration {
            doc["registration_endpoint"] = json!(e.register);
        }
        doc
    }
}

/// `GET <issuer>`: the issuer URL the discovery documents name resolves to a page that says
/// where they are.
pub(crate) async fn issuer_page(State(state): State<AuthzState>) -> Response {
    let issuer = state.issuer();
    let text = format!(
        "For development only. Discovery: {issuer}/.well-known/openid-configuration and \
         {issuer}/.well-known/smart-configuration; keys: {issuer}/jwks."
    );
    html(
        StatusCode::OK,
        super::html::notice("Development SMART authorization server", &text),
    )
}

pub(crate) async fn smart_configuration(State(state): State<AuthzState>) -> Response {
    json_public(&state.smart_configuration())
}

pub(crate) async fn openid_configuration(State(state): State<AuthzState>) -> Response {
    json_public(&state.openid_configuration())
}

pub(crate) async fn jwks(State(state): State<AuthzState>) -> Response {
    json_public(&state.jwks())
}

/// The DPoP proof algorithms the token endpoint and the FHIR API accept (RFC 9449 §5.1).
pub(crate) fn dpop_algs() -> Vec<String> {
    smart_auth::dpop::DpopValidator::new()
        .algs_attribute()
        .split(' ')
        .map(str::to_owned)
        .collect()
}
