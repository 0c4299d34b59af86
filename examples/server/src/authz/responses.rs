//! Response helpers: OAuth error bodies, `no-store` JSON, hardened HTML.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// An OAuth 2.0 error response (RFC 6749 §5.2): a stable `error` code and a generic description
/// that never echoes input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: &'static str,
    /// Add `WWW-Authenticate: Basic` (every 401 `invalid_client`: RFC 9110 §15.5.2 wants a
    /// challenge on a 401, RFC 6749 §5.2 when the client tried HTTP Basic).
    pub basic_challenge: bool,
    /// Seconds for `Retry-After` (rate limiting).
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub const fn new(status: StatusCode, error: &'static str, description: &'static str) -> Self {
        Self {
            status,
            error,
            description,
            basic_challenge: false,
            retry_after: None,
        }
    }

    pub const fn invalid_request(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub const fn invalid_grant(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub const fn invalid_client() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
        e.basic_challenge = true;
        e
    }

    pub const fn invalid_scope(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    pub const fn unauthorized_client(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    pub const fn server_error() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "try again later",
        )
    }

    pub const fn rate_limited(retry_after: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: "slow_down",
            description: "too many requests",
            basic_challenge: false,
            retry_after: Some(retry_after),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = json_no_store(self.status, &body);
        if self.basic_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"token\""),
            );
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The security headers of every response (smart.md §10: nosniff, HSTS, a CSP that forbids
/// framing, no-referrer). The server's outer layer adds them only to answers without
/// `X-Content-Type-Options`, so these answers carry the whole set themselves.
fn common_headers(headers: &mut HeaderMap) {
    secure_fhir::response::security_headers(headers);
}

/// JSON with `Cache-Control: no-store` and `Pragma: no-cache` (token, introspection, errors).
pub(crate) fn json_no_store(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    common_headers(headers);
    response
}

/// Public JSON (discovery, JWKS): cacheable for a short time, readable from any origin.
pub(crate) fn json_public(body: &Value) -> Response {
    let mut response = axum::Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    common_headers(headers);
    response
}

/// An HTML page: no caching, no framing (clickjacking on the consent page), no scripts.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    common_headers(headers);
    // the pages' own inline style, nothing else
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    // the forms' posts name this origin (under no-referrer browsers send `Origin: null`), which
    // the sign-in and consent handlers check; nothing is sent to other origins
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A `303 See Other` to `location` (after a form post or to the app's redirect URI).
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    common_headers(headers);
    response
}
