//! SMART Backend Services: `client_credentials` with `private_key_jwt` client assertions
//! (RFC 7523 §3, SMART `client-confidential-asymmetric`) validated by smart-auth, `jti` replay
//! refused, `system/` scopes only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::Value;
use smart_auth::client_assertion::{ClientAssertionValidator, RegisteredClient};
use smart_auth::jwks::JwkSet;
use smart_auth::UnixTime;

use super::clients::{ClientAuth, ClientConfig};
use super::responses::OAuthError;
use super::scopes;
use super::state::AuthzState;
use super::token::Params;

/// The client an assertion claims to come from (`iss`), read before any verification only to
/// find that client's registered keys.
pub(crate) fn claimed_issuer(assertion: &str) -> Option<String> {
    if assertion.len() > smart_auth::client_assertion::MAX_ASSERTION_LEN {
        return None;
    }
    let payload = assertion.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Validates a `private_key_jwt` client assertion with smart-auth's
/// [`ClientAssertionValidator`] (registered key by `kid`, `iss` = `sub` = client, `aud` = this
/// token endpoint, `exp` at most five minutes ahead, `jti` single use) and returns the client.
pub(crate) fn verify_client_assertion(
    state: &AuthzState,
    client_id_param: Option<&str>,
    assertion: &str,
) -> Result<ClientConfig, OAuthError> {
    let bad = OAuthError::invalid_client;
    let client = claimed_issuer(assertion)
        .and_then(|iss| state.client(&iss))
        .ok_or_else(bad)?;
    if client_id_param.is_some_and(|c| c != client.client_id) {
        return Err(bad());
    }
    let ClientAuth::PrivateKeyJwt { jwks } = &client.auth else {
        return Err(bad());
    };
    let keys = serde_json::to_vec(jwks)
        .ok()
        .and_then(|bytes| JwkSet::parse(&bytes).ok())
        .ok_or_else(bad)?;
    let validator = ClientAssertionValidator::new(state.endpoints().token.clone())
        .register(RegisteredClient::new(client.client_id.clone()).jwks(keys));
    let now = UnixTime::from_secs(state.now());
    match validator.validate(assertion, &state.0.replay, now) {
        Ok(authenticated) if authenticated.client_id == client.client_id => Ok(client),
        _ => Err(bad()),
    }
}

/// `grant_type=client_credentials`: asymmetric clients only, `system/` scopes only, each within
/// the client's registered scope.
pub(crate) fn client_credentials(
    state: &AuthzState,
    client: &ClientConfig,
    params: &Params,
    jkt: Option<&str>,
) -> Result<Value, OAuthError> {
    if !matches!(client.auth, ClientAuth::PrivateKeyJwt { .. }) {
        return Err(OAuthError::unauthorized_client(
            "client_credentials needs private_key_jwt",
        ));
    }
    let requested = params.get("scope").map(String::as_str).unwrap_or("");
    if requested
        .split(' ')
        .any(|s| !s.is_empty() && !scopes::is_system(s))
    {
        return Err(OAuthError::invalid_scope("only system/ scopes are allowed"));
    }
    let granted = client.permitted_scopes(requested);
    if granted.is_empty() {
        return Err(OAuthError::invalid_scope("no requested scope is allowed"));
    }
    Ok(state.issue_backend(&client.client_id, &granted, jkt)?.body)
}
