//! The authorization endpoint (RFC 6749 §4.1, SMART App Launch 2.2 with PKCE S256 only).
//!
//! Order of checks: the client and its exact `redirect_uri` first (a failure there is shown to
//! the user and never redirected, RFC 6749 §4.1.2.1); then every other check, each answered by a
//! redirect carrying `error`, `state` and `iss` (RFC 9207).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::audit::{AuthzEvent, AuthzEventKind};
use super::responses::{html as html_page, see_other};
use super::scopes;
use super::state::AuthzState;
use super::store::Pending;
use super::token::Peer;
use super::{html, ratelimit};

pub(crate) use super::pages::{
    consent_page, consent_submit, ehr_launch, ehr_page, login_page, login_submit,
};

/// Name of the sign-in session cookie over http.
const SESSION_COOKIE: &str = "sf_authz_session";

/// Its name over https: `__Host-` (RFC 6265bis §4.1.3.2) makes the browser take it only with
/// `Secure`, `Path=/` and no `Domain`, so neither another host (a sibling subdomain) nor an
/// http page of this host can set or shadow it (session fixation). `Path=/` also sends it to
/// the FHIR endpoints of this origin, which ignore cookies (and a path is no isolation within
/// an origin, RFC 6265 §8.5). Over http, the development
/// default on loopback, `__Host-` is not used: it needs `Secure`, which a browser need not
/// accept from `http://127.0.0.1` (Secure cookies from insecure origins are refused unless
/// the browser counts loopback as secure, and not every one does), so the cookie would be
/// dropped and sign-in broken; there the cookie is scoped to the issuer's path instead.
const HOST_SESSION_COOKIE: &str = "__Host-sf_authz_session";

impl AuthzState {
    fn over_https(&self) -> bool {
        self.issuer().starts_with("https:")
    }

    /// The session cookie's name: only this name is read, so an unprefixed cookie planted by an
    /// http page is never taken for a session on an https issuer.
    fn session_cookie_name(&self) -> &'static str {
        if self.over_https() {
            HOST_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
    }

    /// The `Set-Cookie` value that sets the session cookie to `value` for `max_age` seconds
    /// (an empty value and 0 clear it): `HttpOnly` (no script reads it), `SameSite=Lax` (no
    /// cross-site post carries it), no `Domain` (this host only); over https `__Host-`,
    /// `Secure` and `Path=/`, over http `Path=` the issuer's path.
    pub(crate) fn session_set_cookie(&self, value: &str, max_age: i64) -> String {
        let name = self.session_cookie_name();
        let path = match self.endpoints().base_path.as_str() {
            _ if self.over_https() => "/",
            "" => "/",
            p => p,
        };
        let secure = if self.over_https() { "; Secure" } else { "" };
        format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }
}

/// Parses `application/x-www-form-urlencoded` pairs, bounded in count.
pub(crate) fn form_pairs(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(bytes)
        .take(201)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (pairs.len() <= 200).then_some(pairs)
}

/// Parameters that must appear at most once (RFC 6749 §3.1, §3.2); `None` on a repeat.
pub(crate) fn single_params(pairs: Vec<(String, String)>) -> Option<HashMap<String, String>> {
    let mut map = HashMap::new();
    for (k, v) in pairs {
        if map.insert(k, v).is_some() {
            return None;
        }
    }
    Some(map)
}

/// The value of our session cookie, if the request carries one.
pub(crate) fn session_cookie(state: &AuthzState, headers: &HeaderMap) -> Option<String> {
    let name = state.session_cookie_name();
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

/// Whether a form post comes from one of this server's own pages. Browsers name the posting
/// page's origin (`Origin`, `Sec-Fetch-Site`); a post from any other origin is refused, even a
/// same-site one (another port of 127.0.0.1) that the `SameSite=Lax` cookie does not stop: at
/// sign-in that is login CSRF (the victim's browser signed in to the attacker's account, with
/// the attacker's own txn and csrf). A request naming neither (not a browser) is left to the
/// form's csrf value. `Origin: null` is what a browser sends for a page whose referrer policy
/// is `no-referrer` (Fetch, "append a request Origin header"), so it passes only with
/// `Sec-Fetch-Site: same-origin`; the pages themselves use `same-origin`.
pub(crate) fn posted_from_own_page(state: &AuthzState, headers: &HeaderMap) -> bool {
    let value = |name| headers.get(name).map(|v| v.to_str().unwrap_or(""));
    let own = url::Url::parse(state.issuer()).map(|u| u.origin().ascii_serialization());
    let site = value("sec-fetch-site");
    let origin_ok = |o: &str| {
        own.as_ref().is_ok_and(|own| own == o) || (o == "null" && site == Some("same-origin"))
    };
    value("origin").is_none_or(origin_ok) && site.is_none_or(|s| s == "same-origin")
}

/// `redirect_uri` with the given query parameters appended./// `redirect_uri` with the given query parameters appended.
pub(crate) fn with_query(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.into()
        }
        Err(_) => redirect_uri.to_owned(),
    }
}

impl AuthzState {
    /// Per-address rate limit of an endpoint: `Some(seconds to wait)` when refused (audited).
    /// Pending requests and registered clients take memory, so one address cannot create them
    /// without bound.
    pub(crate) fn peer_limited(
        &self,
        kind: AuthzEventKind,
        peer: Option<std::net::IpAddr>,
    ) -> Option<u64> {
        let ip = peer?;
        let wait = self
            .0
            .limiter
            .check(&format!("{kind:?}:ip:{}", ratelimit::peer(ip)))
            .err()?;
        let mut event = AuthzEvent::new(self.now(), kind, false);
        event.reason = Some("rate_limited".into());
        self.audit(event);
        Some(wait)
    }

    fn authorize_rate_limited(&self, peer: Option<std::net::IpAddr>) -> Option<Response> {
        let wait = self.peer_limited(AuthzEventKind::Authorize, peer)?;
        let mut response = html_page(
            StatusCode::TOO_MANY_REQUESTS,
            html::error("Too many requests", "Wait a moment and try again."),
        );
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(wait),
        );
        Some(response)
    }

    /// Sends an OAuth error back to the app and audits the refusal.
    pub(crate) fn authorize_error(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        client_id: &str,
        error: &'static str,
        description: &'static str,
    ) -> Response {
        let mut event = AuthzEvent::new(self.now(), AuthzEventKind::Authorize, false);
        event.client_id = Some(client_id.to_owned());
        event.reason = Some(error.to_owned());
        self.audit(event);
        let mut params = vec![("error", error), ("error_description", description)];
        if let Some(s) = state {
            params.push(("state", s));
        }
        params.push(("iss", self.issuer()));
        see_other(&with_query(redirect_uri, &params))
    }

    /// A refusal shown to the user (the app cannot be trusted with a redirect).
    pub(crate) fn authorize_page_error(&self, client_id: Option<&str>, message: &str) -> Response {
        self.refusal_page(client_id, "invalid_client_or_redirect_uri", message)
    }

    /// An OAuth error shown to the user instead of sent to a redirect URI this server does not
    /// vouch for.
    fn authorize_error_shown(&self, client_id: &str, error: &'static str) -> Response {
        let message = format!("The app's request was refused ({error}). Return to the app.");
        self.refusal_page(Some(client_id), error, &message)
    }

    fn refusal_page(&self, client_id: Option<&str>, reason: &str, message: &str) -> Response {
        let mut event = AuthzEvent::new(self.now(), AuthzEventKind::Authorize, false);
        event.client_id = client_id.map(str::to_owned);
        event.reason = Some(reason.to_owned());
        self.audit(event);
        html_page(
            StatusCode::BAD_REQUEST,
            html::error("Cannot authorize this app", message),
        )
    }
}

pub(crate) async fn authorize_get(
    State(state): State<AuthzState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(refused) = state.authorize_rate_limited(peer) {
        return refused;
    }
    let pairs = form_pairs(query.unwrap_or_default().as_bytes());
    authorize(&state, &headers, pairs)
}

pub(crate) async fn authorize_post(
    State(state): State<AuthzState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = state.authorize_rate_limited(peer) {
        return refused;
    }
    authorize(&state, &headers, form_pairs(&body))
}

fn authorize(
    state: &AuthzState,
    headers: &HeaderMap,
    pairs: Option<Vec<(String, String)>>,
) -> Response {
    let Some(params) = pairs.and_then(single_params) else {
        return state
            .authorize_page_error(None, "The request is malformed or repeats a parameter.");
    };
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client) = get("client_id").and_then(|id| state.client(id)) else {
        return state.authorize_page_error(get("client_id"), "Unknown client.");
    };
    let Some(redirect_uri) = get("redirect_uri").filter(|u| client.redirect_uri_registered(u))
    else {
        return state.authorize_page_error(
            Some(&client.client_id),
            "The redirect URI is missing or not registered for this app.",
        );
    };
    let cid = client.client_id.as_str();
    let app_state = get("state");
    let fail = |error, description| {
        if client.registered_dynamically {
            // RFC 9700 §4.11.2: a redirect URI anyone could register gets no redirect before
            // the user has seen the app, or this server is an open redirector
            state.authorize_error_shown(cid, error)
        } else {
            state.authorize_error(redirect_uri, app_state, cid, error, description)
        }
    };
    if get("response_type") != Some("code") {
        return fail("unsupported_response_type", "only response_type=code");
    }
    let Some(app_state) = app_state.filter(|s| s.len() <= 1024) else {
        return fail("invalid_request", "state is required");
    };
    match get("code_challenge_method") {
        Some("S256") => {}
        _ => {
            return fail(
                "invalid_request",
                "PKCE with code_challenge_method=S256 is required",
            )
        }
    }
    let Some(challenge) = get("code_challenge").filter(|c| {
        c.len() == 43
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) else {
        return fail(
            "invalid_request",
            "code_challenge must be a base64url SHA-256",
        );
    };
    let aud = get("aud").or_else(|| get("resource"));
    if aud != Some(state.fhir_base()) {
        return fail("invalid_request", "aud must be this server's FHIR base URL");
    }
    let requested = get("scope").unwrap_or("");
    // system/ scopes are Backend Services only; never granted through a user's consent
    let scopes: Vec<String> = client
        .permitted_scopes(requested)
        .into_iter()
        .filter(|s| !scopes::is_system(s))
        .collect();
    if scopes.is_empty() {
        return fail(
            "invalid_scope",
            "no requested scope is allowed for this client",
        );
    }
    let nonce = get("nonce");
    if nonce.is_some_and(|n| n.len() > 512) {
        return fail("invalid_request", "nonce is too long");
    }
    let now = state.now();
    let launch = match get("launch") {
        None => None,
        Some(launch_id) => {
            let found = state
                .store()
                .launches
                .get(launch_id)
                .filter(|l| l.client_id == cid && l.expires_at > now)
                .cloned();
            match found {
                Some(l) => Some(l),
                None => return fail("invalid_request", "unknown or expired launch"),
            }
        }
    };
    if scopes.iter().any(|s| s == "launch") && launch.is_none() {
        return fail(
            "invalid_request",
            "the launch scope needs a launch parameter",
        );
    }
    // OpenID Connect Core §3.1.2.1: `prompt=login` asks for a fresh sign-in, and `max_age`
    // requires one once that many seconds passed since the last
    let max_age = match get("max_age").map(str::parse::<u32>) {
        None => None,
        Some(Ok(secs)) => Some(i64::from(secs)),
        Some(Err(_)) => return fail("invalid_request", "max_age must be a number of seconds"),
    };
    let fresh_sign_in = get("prompt").is_some_and(|p| p.split(' ').any(|p| p == "login"));
    let session = session_cookie(state, headers).and_then(|c| {
        state
            .store()
            .session(&c, now)
            .filter(|(_, s)| !fresh_sign_in && max_age.is_none_or(|m| now - s.auth_time <= m))
            .map(|(digest, s)| (digest, s.username.clone()))
    });
    if get("prompt") == Some("none") {
        let error = if session.is_some() {
            "consent_required"
        } else {
            "login_required"
        };
        return fail(error, "interaction is required");
    }
    let txn = state.random_token();
    let pending = Pending {
        client_id: cid.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state: app_state.to_owned(),
        scopes,
        code_challenge: challenge.to_owned(),
        nonce: nonce.map(str::to_owned),
        launch,
        expires_at: now + state.lifetimes().pending_request,
        signed_in: session.clone(),
        csrf: state.random_token(),
    };
    {
        let mut store = state.store();
        // SMART: a launch value names "this specific launch": it serves one authorization
        // request, taken here (not at a refused attempt such as prompt=none) under the same
        // lock, so two requests racing with one value cannot both have it
        if let Some(launch_id) = get("launch") {
            if store.launches.remove(launch_id).is_none() {
                drop(store);
                return fail("invalid_request", "unknown or expired launch");
            }
        }
        if store.add_pending(txn.clone(), pending, now).is_err() {
            drop(store);
            return fail("temporarily_unavailable", "try again later");
        }
    }
    let base = &state.endpoints().issuer;
    let next = if session.is_some() {
        "consent"
    } else {
        "login"
    };
    see_other(&with_query(&format!("{base}/{next}"), &[("txn", &txn)]))
}
