//! RFC 7662 introspection and RFC 7009 revocation.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::audit::{AuthzEvent, AuthzEventKind};
use super::clients::sha256;
use super::responses::{json_no_store, OAuthError};
use super::state::AuthzState;
use super::token::{
    authenticate_client, claimed_client_id, cors_origin, parse_form_body, with_cors, Params, Peer,
};

/// Claims copied from an active access token into the introspection response.
const INTROSPECTED: &[&str] = &[
    "scope",
    "client_id",
    "exp",
    "iat",
    "sub",
    "iss",
    "aud",
    "jti",
    "patient",
    "encounter",
    "fhirContext",
    "fhirUser",
    "cnf",
];

impl AuthzState {
    /// The RFC 7662 response for `token`: the SMART fields for an active access token this
    /// server issued, and exactly `{"active":false}` for anything else.
    pub fn introspect(&self, token: &str) -> Value {
        match self.active_access_claims(token) {
            Some(claims) => {
                let mut out = Map::new();
                out.insert("active".into(), json!(true));
                // RFC 9449 §6.2: a DPoP-bound token says so, and names its key, or a resource
                // server that introspects would take it for a bearer token
                let token_type = if claims.contains_key("cnf") {
                    "DPoP"
                } else {
                    "Bearer"
                };
                out.insert("token_type".into(), json!(token_type));
                for name in INTROSPECTED {
                    if let Some(v) = claims.get(*name) {
                        out.insert((*name).into(), v.clone());
                    }
                }
                Value::Object(out)
            }
            None => json!({ "active": false }),
        }
    }
}

/// Who asks: a confidential client (a resource server; may introspect any token), or the holder
/// of an active access token (SMART allows a bearer token here; may introspect only tokens of
/// its own client, so that one app cannot scan another's tokens).
enum Caller {
    Confidential(String),
    Bearer(String),
}

impl Caller {
    fn client_id(&self) -> &str {
        match self {
            Caller::Confidential(c) | Caller::Bearer(c) => c,
        }
    }

    fn may_see(&self, response: &Value) -> bool {
        match self {
            Caller::Confidential(_) => true,
            Caller::Bearer(c) => response.get("client_id").and_then(Value::as_str) == Some(c),
        }
    }
}

fn introspection_caller(
    state: &AuthzState,
    peer: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Caller, OAuthError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    if let Some(token) = bearer {
        // a DPoP-bound token is no bearer credential (RFC 9449 §7.2)
        return state
            .active_access_claims(&token)
            .filter(|c| !c.contains_key("cnf"))
            .and_then(|c| c.get("client_id")?.as_str().map(str::to_owned))
            .map(Caller::Bearer)
            .ok_or(OAuthError::invalid_client());
    }
    let client = authenticate_limited(state, peer, headers, params)?;
    if !client.is_confidential() {
        return Err(OAuthError::invalid_client());
    }
    Ok(Caller::Confidential(client.client_id))
}

/// Client authentication within the token endpoint's rate limit (or else no one could guess
/// secrets at the token endpoint but freely here). A bearer caller of the introspection
/// endpoint guesses no secret and is not charged.
fn authenticate_limited(
    state: &AuthzState,
    peer: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    params: &Params,
) -> Result<super::clients::ClientConfig, OAuthError> {
    state
        .token_rate_limit(claimed_client_id(headers, params).as_deref(), peer)
        .map_err(OAuthError::rate_limited)?;
    authenticate_client(state, headers, params)
}

pub(crate) async fn introspect(
    State(state): State<AuthzState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = parse_form_body(&headers, &body).and_then(|params| {
        let caller = introspection_caller(&state, peer, &headers, &params)?;
        let token = params
            .get("token")
            .ok_or(OAuthError::invalid_request("token is required"))?;
        let response = state.introspect(token);
        let response = if caller.may_see(&response) {
            response
        } else {
            json!({ "active": false })
        };
        Ok((caller.client_id().to_owned(), response))
    });
    let mut event = AuthzEvent::new(state.now(), AuthzEventKind::Introspection, outcome.is_ok());
    match outcome {
        Ok((caller, response)) => {
            event.client_id = Some(caller);
            event.patient = response
                .get("patient")
                .and_then(Value::as_str)
                .map(str::to_owned);
            state.audit(event);
            json_no_store(StatusCode::OK, &response)
        }
        Err(error) => {
            event.reason = Some(error.error.to_owned());
            state.audit(event);
            error.into_response()
        }
    }
}

pub(crate) async fn revoke(
    State(state): State<AuthzState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match cors_origin(&state, &headers) {
        Ok(origin) => with_cors(revoke_inner(&state, peer, &headers, &body), origin),
        Err(()) => with_cors(StatusCode::FORBIDDEN.into_response(), None),
    }
}

fn revoke_inner(
    state: &AuthzState,
    peer: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let mut event = AuthzEvent::new(state.now(), AuthzEventKind::Revocation, false);
    let params = match parse_form_body(headers, body) {
        Ok(p) => p,
        Err(e) => {
            event.reason = Some(e.error.to_owned());
            state.audit(event);
            return e.into_response();
        }
    };
    event.client_id = claimed_client_id(headers, &params);
    let client = match authenticate_limited(state, peer, headers, &params) {
        Ok(c) => c,
        Err(e) => {
            event.reason = Some(e.error.to_owned());
            state.audit(event);
            return e.into_response();
        }
    };
    let Some(token) = params.get("token") else {
        event.reason = Some("invalid_request".into());
        state.audit(event);
        return OAuthError::invalid_request("token is required").into_response();
    };
    // RFC 7009 §2.2: 200 whether or not the token was known; only the owner's tokens are touched
    let revoked = revoke_token(state, &client.client_id, token);
    event.success = true;
    event.reason = (!revoked).then(|| "unknown_or_foreign_token".to_owned());
    state.audit(event);
    json_no_store(StatusCode::OK, &json!({}))
}

/// Revokes a refresh token (and its whole grant) or an access token of this client.
fn revoke_token(state: &AuthzState, client_id: &str, token: &str) -> bool {
    let now = state.now();
    {
        let mut store = state.store();
        let digest = sha256(token.as_bytes());
        if let Some(refresh) = store.refresh.get(&digest).cloned() {
            let owner = store
                .grants
                .get(&refresh.grant_id)
                .map(|g| g.client_id.clone());
            if owner.as_deref() == Some(client_id) {
                store.revoke_grant(&refresh.grant_id);
                return true;
            }
            return false;
        }
    }
    let Some((_, claims)) = state.keys().verify_jwt(token) else {
        return false;
    };
    let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
        return false;
    };
    let mut store = state.store();
    match store.access.get_mut(jti) {
        Some(access) if access.client_id == client_id && access.expires_at > now => {
            access.revoked = true;
            true
        }
        _ => false,
    }
}
