//! RFC 7591 dynamic client registration (open, as befits a development server, but never for
//! Backend Services: `system/` scopes are only granted to clients configured by the operator).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::audit::{AuthzEvent, AuthzEventKind};
use super::clients::{ClientConfig, ClientError};
use super::responses::{json_no_store, OAuthError};
use super::scopes;
use super::state::AuthzState;
use super::token::Peer;

fn refuse(state: &AuthzState, error: &'static str, reason: ClientError) -> Response {
    let mut event = AuthzEvent::new(state.now(), AuthzEventKind::Registration, false);
    event.reason = Some(error.to_owned());
    state.audit(event);
    let _ = reason;
    OAuthError::new(StatusCode::BAD_REQUEST, error, "client metadata refused").into_response()
}

pub(crate) async fn register(
    State(state): State<AuthzState>,
    Peer(peer): Peer,
    body: Bytes,
) -> Response {
    if !state.0.config.dynamic_registration {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Some(wait) = state.peer_limited(AuthzEventKind::Registration, peer) {
        return OAuthError::rate_limited(wait).into_response();
    }
    let Ok(Value::Object(mut meta)) = serde_json::from_slice::<Value>(&body) else {
        return refuse(&state, "invalid_client_metadata", ClientError::Malformed);
    };
    // the server assigns the identifier and any secret
    let client_id = state.random_token();
    meta.insert("client_id".into(), json!(client_id));
    let method = meta
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .unwrap_or("none")
        .to_owned();
    let secret = matches!(
        method.as_str(),
        "client_secret_basic" | "client_secret_post"
    )
    .then(|| state.random_token());
    if let Some(s) = &secret {
        meta.insert("client_secret".into(), json!(s));
    }
    let scope: Vec<String> = meta
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty() && !scopes::is_system(s))
        .map(str::to_owned)
        .collect();
    meta.insert("scope".into(), json!(scopes::join(&scope)));
    let mut client = match ClientConfig::from_metadata(&Value::Object(meta)) {
        Ok(c) => c,
        Err(ClientError::InvalidRedirectUri) => {
            return refuse(
                &state,
                "invalid_redirect_uri",
                ClientError::InvalidRedirectUri,
            )
        }
        Err(e) => return refuse(&state, "invalid_client_metadata", e),
    };
    client.registered_dynamically = true;
    if client.redirect_uris.is_empty() {
        return refuse(
            &state,
            "invalid_redirect_uri",
            ClientError::InvalidRedirectUri,
        );
    }
    if !state.claim_dynamic_slot() {
        return refuse(&state, "invalid_client_metadata", ClientError::TooMany);
    }
    let auth_method = client.auth.token_endpoint_auth_method();
    let mut response = json!({
        "client_id": client.client_id,
        "client_id_issued_at": state.now(),
        "client_name": client.name,
        "redirect_uris": client.redirect_uris,
        "token_endpoint_auth_method": auth_method,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": client.scope,
    });
    if let Some(s) = secret {
        response["client_secret"] = json!(s);
        response["client_secret_expires_at"] = json!(0);
    }
    let mut event = AuthzEvent::new(state.now(), AuthzEventKind::Registration, true);
    event.client_id = Some(client.client_id.clone());
    event.scope = Some(client.scope.clone());
    if state.register_client(client).is_err() {
        return refuse(&state, "invalid_client_metadata", ClientError::Duplicate);
    }
    state.audit(event);
    json_no_store(StatusCode::CREATED, &response)
}
