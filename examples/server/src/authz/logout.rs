//! Sign-out (the OpenID Connect `end_session_endpoint`): `GET` asks, `POST` signs out.
//!
//! A `GET` only shows a confirmation form: otherwise any page could sign the user out (and end
//! their `online_access` grants) with a link or an image, since the session cookie is
//! `SameSite=Lax`. The form carries a value derived from the session cookie, which another
//! origin cannot read, so a forged `POST` (even from a same-site origin such as another port of
//! 127.0.0.1) signs no one out.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;

use super::audit::{AuthzEvent, AuthzEventKind};
use super::authorize::{form_pairs, session_cookie, single_params};
use super::clients::{digests_equal, sha256};
use super::html;
use super::responses::html as html_page;
use super::state::AuthzState;

/// The confirmation value for the session whose cookie is `cookie`.
fn confirmation(cookie: &str) -> [u8; 32] {
    sha256(format!("sign-out:{cookie}").as_bytes())
}

/// `GET <issuer>/logout`: the confirmation form (nothing ends here).
pub(crate) async fn logout_page(State(state): State<AuthzState>, headers: HeaderMap) -> Response {
    let Some(cookie) = session_cookie(&state, &headers) else {
        return signed_out(&state);
    };
    let action = format!("{}/logout", state.issuer());
    html_page(
        StatusCode::OK,
        html::sign_out(&action, &B64.encode(confirmation(&cookie))),
    )
}

/// `POST <issuer>/logout`: ends the session when the form's confirmation is the session's.
pub(crate) async fn logout_submit(
    State(state): State<AuthzState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let confirmed = form_pairs(&body)
        .and_then(single_params)
        .and_then(|f| f.get("confirm").and_then(|c| B64.decode(c).ok()))
        .and_then(|c| <[u8; 32]>::try_from(c).ok());
    let Some(cookie) = session_cookie(&state, &headers) else {
        return signed_out(&state);
    };
    if !confirmed.is_some_and(|c| digests_equal(&c, &confirmation(&cookie))) {
        return html_page(
            StatusCode::BAD_REQUEST,
            html::error(
                "Sign-out not confirmed",
                "Sign out from the sign-out page of this server.",
            ),
        );
    }
    if let Some(session) = state.store().end_session(&sha256(cookie.as_bytes())) {
        let mut event = AuthzEvent::new(state.now(), AuthzEventKind::Logout, true);
        event.fhir_user = state.user(&session.username).map(|u| u.fhir_user.clone());
        event.user = Some(session.username);
        state.audit(event);
    }
    signed_out(&state)
}

/// The "signed out" page, which also clears the cookie.
fn signed_out(state: &AuthzState) -> Response {
    let mut response = html_page(
        StatusCode::OK,
        html::notice(
            "Signed out",
            "You are signed out of the development server.",
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&state.session_set_cookie("", 0)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}
