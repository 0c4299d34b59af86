//! The token endpoint: `authorization_code` (PKCE S256), `refresh_token` (rotation with reuse
//! detection) and `client_credentials` (Backend Services), with client authentication, CORS for
//! registered origins and rate limiting.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine;

use super::audit::{AuthzEvent, AuthzEventKind};
use super::authorize::{form_pairs, single_params};
use super::clients::{digests_equal, sha256, ClientAuth, ClientConfig, SecretMethod};
use super::responses::{json_no_store, OAuthError};
use super::state::AuthzState;
use super::{backend, ratelimit};

pub(crate) type Params = HashMap<String, String>;

/// The form parameters of a token, introspection or revocation request.
pub(crate) fn parse_form_body(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(OAuthError::invalid_request(
            "expected application/x-www-form-urlencoded",
        ));
    }
    form_pairs(body)
        .and_then(single_params)
        .ok_or(OAuthError::invalid_request(
            "malformed or repeated parameter",
        ))
}

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// `client_id` and secret from `Authorization: Basic` (RFC 6749 §2.3.1: form-encoded, then base64).
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), OAuthError>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bad = OAuthError::invalid_client;
    let decoded = STANDARD.decode(rest.trim()).ok();
    let text = decoded.and_then(|d| String::from_utf8(d).ok());
    let Some((id, secret)) = text.as_deref().and_then(|t| t.split_once(':')) else {
        return Some(Err(bad()));
    };
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    match (decode(id), decode(secret)) {
        (Some(id), Some(secret)) => Some(Ok((id, secret))),
        _ => Some(Err(bad())),
    }
}

/// The client id a request claims, before authentication (for rate limiting and audit): from
/// HTTP Basic, `client_id`, or the `iss` of a client assertion.
pub(crate) fn claimed_client_id(headers: &HeaderMap, params: &Params) -> Option<String> {
    if let Some(Ok((id, _))) = basic_credentials(headers) {
        return Some(id.chars().take(128).collect());
    }
    param(params, "client_id")
        .map(str::to_owned)
        .or_else(|| param(params, "client_assertion").and_then(backend::claimed_issuer))
        .map(|s| s.chars().take(128).collect())
}

/// The peer's IP address, when the host serves with `into_make_service_with_connect_info`.
pub(crate) struct Peer(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

impl AuthzState {
    /// Token-endpoint rate limit, shared by every endpoint that authenticates clients
    /// (introspection, revocation): one bucket per peer address. Anyone can claim a
    /// `client_id`, so a bucket per client, spent before authentication, let a stranger lock
    /// a registered client out (its guesses spent the client's own budget); a guesser spends
    /// only its own address's budget. Only when the host gives no peer address (not served
    /// with `into_make_service_with_connect_info`) is the bucket per registered client (all
    /// unregistered names share one, so made-up ids cannot flood the table).
    pub(crate) fn token_rate_limit(
        &self,
        claimed: Option<&str>,
        peer: Option<std::net::IpAddr>,
    ) -> Result<(), u64> {
        let key = match peer {
            Some(ip) => format!("token:ip:{}", ratelimit::peer(ip)),
            None => {
                let client = claimed.filter(|c| self.client(c).is_some()).unwrap_or("");
                format!("token:client:{client}")
            }
        };
        self.0.limiter.check(&key)
    }
}

/// Authenticates the client by exactly one method, the one it registered: HTTP Basic,
/// `client_secret_post`, `private_key_jwt`, or (public clients) `client_id` alone.
pub(crate) fn authenticate_client(
    state: &AuthzState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<ClientConfig, OAuthError> {
    let basic = basic_credentials(headers);
    let post_secret = param(params, "client_secret");
    let assertion = param(params, "client_assertion");
    let methods = [basic.is_some(), post_secret.is_some(), assertion.is_some()];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(OAuthError::invalid_request(
            "more than one client authentication method",
        ));
    }
    // only by the method the client registered (RFC 7591 §2 `token_endpoint_auth_method`): a
    // client_secret_basic client's secret is not accepted from a form, nor the reverse
    let secret_client = |id: &str, secret: &str, used: SecretMethod| -> Option<ClientConfig> {
        let client = state.client(id)?;
        match &client.auth {
            ClientAuth::Secret {
                sha256: expected,
                method,
            } if *method == used => {
                digests_equal(expected, &sha256(secret.as_bytes())).then_some(client)
            }
            _ => None,
        }
    };
    if let Some(basic) = basic {
        let (id, secret) = basic?;
        if param(params, "client_id").is_some_and(|c| c != id) {
            return Err(OAuthError::invalid_request("client_id mismatch"));
        }
        return secret_client(&id, &secret, SecretMethod::Basic)
            .ok_or_else(OAuthError::invalid_client);
    }
    if let Some(secret) = post_secret {
        let id = param(params, "client_id").ok_or(OAuthError::invalid_client())?;
        return secret_client(id, secret, SecretMethod::Post).ok_or(OAuthError::invalid_client());
    }
    if let Some(assertion) = assertion {
        if param(params, "client_assertion_type")
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err(OAuthError::invalid_request(
                "unsupported client_assertion_type",
            ));
        }
        return backend::verify_client_assertion(state, param(params, "client_id"), assertion);
    }
    let id = param(params, "client_id").ok_or(OAuthError::invalid_client())?;
    match state.client(id) {
        Some(client) if !client.is_confidential() => Ok(client),
        _ => Err(OAuthError::invalid_client()),
    }
}

/// The request's `Origin` when it is a registered origin; `Err` when an origin is present but
/// not registered.
pub(crate) fn cors_origin(
    state: &AuthzState,
    headers: &HeaderMap,
) -> Result<Option<HeaderValue>, ()> {
    match headers.get(header::ORIGIN) {
        None => Ok(None),
        Some(origin) => match origin.to_str() {
            Ok(o) if state.is_registered_origin(o) => Ok(Some(origin.clone())),
            _ => Err(()),
        },
    }
}

pub(crate) fn with_cors(mut response: Response, origin: Option<HeaderValue>) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    response
}

/// CORS preflight for the token and revocation endpoints: registered origins only.
pub(crate) async fn preflight(State(state): State<AuthzState>, headers: HeaderMap) -> Response {
    match cors_origin(&state, &headers) {
        Ok(Some(origin)) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            let h = response.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Authorization, Content-Type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            with_cors(response, Some(origin))
        }
        _ => with_cors(StatusCode::FORBIDDEN.into_response(), None),
    }
}

pub(crate) async fn token(
    State(state): State<AuthzState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(origin) = cors_origin(&state, &headers) else {
        // a browser on an unregistered origin: answer without CORS headers, do nothing
        let mut event = AuthzEvent::new(state.now(), AuthzEventKind::Token, false);
        event.reason = Some("origin_not_registered".into());
        state.audit(event);
        return with_cors(
            OAuthError::new(
                StatusCode::FORBIDDEN,
                "invalid_request",
                "origin not allowed",
            )
            .into_response(),
            None,
        );
    };
    let params = parse_form_body(&headers, &body);
    let claimed = params
        .as_ref()
        .ok()
        .and_then(|p| claimed_client_id(&headers, p));
    let grant_type = params
        .as_ref()
        .ok()
        .and_then(|p| param(p, "grant_type").map(|g| g.chars().take(64).collect::<String>()));
    let result = match state.token_rate_limit(claimed.as_deref(), peer) {
        Err(wait) => Err(OAuthError::rate_limited(wait)),
        Ok(()) => params.and_then(|p| token_grant(&state, &headers, &p)),
    };
    let response = match result {
        Ok(body) => json_no_store(StatusCode::OK, &body),
        Err(error) => {
            let mut event = AuthzEvent::new(state.now(), AuthzEventKind::Token, false);
            event.client_id = claimed;
            event.grant_type = grant_type;
            event.reason = Some(error.error.to_owned());
            state.audit(event);
            error.into_response()
        }
    };
    with_cors(response, origin)
}

fn token_grant(
    state: &AuthzState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<serde_json::Value, OAuthError> {
    let grant_type = param(params, "grant_type");
    if !matches!(
        grant_type,
        Some("authorization_code" | "refresh_token" | "client_credentials")
    ) {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unsupported grant_type",
        ));
    }
    let client = authenticate_client(state, headers, params)?;
    // a browser may call the token endpoint only from the client's own registered origins
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        if !client.allowed_origins.iter().any(|o| o == origin) {
            return Err(OAuthError::new(
                StatusCode::FORBIDDEN,
                "invalid_request",
                "origin not registered for this client",
            ));
        }
    }
    let jkt = dpop_key(state, headers)?;
    let jkt = jkt.as_deref();
    match grant_type {
        Some("authorization_code") => code_grant(state, &client, params, jkt),
        Some("refresh_token") => refresh_grant(state, &client, params, jkt),
        _ => backend::client_credentials(state, &client, params, jkt),
    }
}

/// The key thumbprint of the request's DPoP proof (RFC 9449 §5), checked for this endpoint
/// (`htm` POST, `htu` the token endpoint), freshness and replay; `None` without a `DPoP` header.
fn dpop_key(state: &AuthzState, headers: &HeaderMap) -> Result<Option<String>, OAuthError> {
    let bad = OAuthError::new(
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
        "the DPoP proof is not valid",
    );
    let mut proofs = headers.get_all("dpop").iter();
    let Some(proof) = proofs.next() else {
        return Ok(None);
    };
    if proofs.next().is_some() {
        return Err(bad);
    }
    let proof = proof.to_str().map_err(|_| bad)?;
    let request = smart_auth::dpop::DpopRequest {
        method: "POST",
        uri: &state.endpoints().token,
        access_token: None,
        expected_jkt: None,
        nonce: None,
    };
    let now = smart_auth::UnixTime::from_secs(state.now());
    smart_auth::dpop::DpopValidator::new()
        .validate_proof(proof, &request, &state.0.replay, now)
        .map(|p| Some(p.jkt))
        .map_err(|_| bad)
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn code_grant(
    state: &AuthzState,
    client: &ClientConfig,
    params: &Params,
    jkt: Option<&str>,
) -> Result<serde_json::Value, OAuthError> {
    let code = param(params, "code").ok_or(OAuthError::invalid_request("code is required"))?;
    let now = state.now();
    let record = {
        let mut store = state.store();
        let record = store
            .codes
            .get_mut(&sha256(code.as_bytes()))
            .ok_or(OAuthError::invalid_grant("unknown code"))?;
        if record.used {
            // RFC 6749 §4.1.2: a replayed code revokes what was issued with it
            let grant_id = record.grant_id.clone();
            store.revoke_grant(&grant_id);
            return Err(OAuthError::invalid_grant("code already used"));
        }
        // single use, whatever happens next
        record.used = true;
        record.clone()
    };
    if record.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "code was issued to another client",
        ));
    }
    if record.expires_at <= now {
        return Err(OAuthError::invalid_grant("code expired"));
    }
    if param(params, "redirect_uri") != Some(record.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("redirect_uri does not match"));
    }
    let verifier = param(params, "code_verifier")
        .ok_or(OAuthError::invalid_request("code_verifier is required"))?;
    let computed = B64.encode(sha256(verifier.as_bytes()));
    if !valid_verifier(verifier)
        || !digests_equal(
            &sha256(computed.as_bytes()),
            &sha256(record.code_challenge.as_bytes()),
        )
    {
        return Err(OAuthError::invalid_grant("code_verifier does not match"));
    }
    let grant = state
        .store()
        .grants
        .get(&record.grant_id)
        .filter(|g| !g.revoked)
        .cloned()
        .ok_or(OAuthError::invalid_grant("grant revoked"))?;
    let issued = state.issue_for_grant(
        &record.grant_id,
        &grant,
        None,
        record.nonce.as_deref(),
        true,
        "authorization_code",
        jkt,
    )?;
    Ok(issued.body)
}

fn refresh_grant(
    state: &AuthzState,
    client: &ClientConfig,
    params: &Params,
    jkt: Option<&str>,
) -> Result<serde_json::Value, OAuthError> {
    let token = param(params, "refresh_token")
        .ok_or(OAuthError::invalid_request("refresh_token is required"))?;
    let now = state.now();
    let (grant_id, grant) = {
        let mut store = state.store();
        let digest = sha256(token.as_bytes());
        let record = store
            .refresh
            .get(&digest)
            .cloned()
            .ok_or(OAuthError::invalid_grant("unknown refresh token"))?;
        let grant = store
            .grants
            .get(&record.grant_id)
            .cloned()
            .ok_or(OAuthError::invalid_grant("unknown grant"))?;
        if grant.client_id != client.client_id {
            return Err(OAuthError::invalid_grant(
                "refresh token was issued to another client",
            ));
        }
        if record.used {
            // a rotated refresh token came back: it leaked; end the whole authorization
            store.revoke_grant(&record.grant_id);
            drop(store);
            let mut event = AuthzEvent::new(now, AuthzEventKind::RefreshReuse, false);
            event.client_id = Some(client.client_id.clone());
            event.user = grant.username.clone();
            event.patient = grant.context.patient.clone();
            event.reason = Some("refresh_token_reuse".into());
            state.audit(event);
            return Err(OAuthError::invalid_grant("refresh token already used"));
        }
        // RFC 9449 §5: a refresh token bound to a DPoP key needs a proof by that key. Checked
        // before the token is spent, so a thief without the key cannot burn it either.
        if record.jkt.is_some() && record.jkt.as_deref() != jkt {
            return Err(OAuthError::invalid_grant(
                "refresh token is bound to another DPoP key",
            ));
        }
        if let Some(r) = store.refresh.get_mut(&digest) {
            r.used = true;
        }
        if record.expires_at <= now || grant.revoked {
            return Err(OAuthError::invalid_grant(
                "refresh token expired or revoked",
            ));
        }
        if let Some(session) = &grant.session {
            if store
                .sessions
                .get(session)
                .is_none_or(|s| s.expires_at <= now)
            {
                return Err(OAuthError::invalid_grant("the user is no longer signed in"));
            }
        }
        (record.grant_id, grant)
    };
    let narrowed: Option<Vec<String>> = match param(params, "scope") {
        None => None,
        Some(requested) => {
            let requested: Vec<String> = requested
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if requested.is_empty() || !requested.iter().all(|s| grant.scopes.contains(s)) {
                return Err(OAuthError::invalid_scope(
                    "scope must be a subset of the original grant",
                ));
            }
            Some(requested)
        }
    };
    let issued = state.issue_for_grant(
        &grant_id,
        &grant,
        narrowed.as_deref(),
        None,
        false,
        "refresh_token",
        jkt,
    )?;
    Ok(issued.body)
}
