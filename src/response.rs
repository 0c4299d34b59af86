//! FHIR error responses and the headers every response carries.
//!
//! Error bodies are `OperationOutcome`s whose diagnostics are `&'static str`: a message can name
//! the rule that failed but can never echo the request, a stored value or an internal error
//! (SMART status policy: "no stack traces, class names, SQL, paths, internal hosts, or echoed
//! input").

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};

/// The media type of every FHIR body this crate produces.
pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// `OperationOutcome.issue.code` values this crate produces (FHIR R4 `issue-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IssueCode {
    /// `login`: no credentials were presented.
    Login,
    /// `unknown`: the credentials are not valid (no detail on purpose).
    Unknown,
    /// `expired`: the token expired (used only once its signature verified).
    Expired,
    /// `invalid`: the request is malformed.
    Invalid,
    /// `structure`: the body is not a structurally valid FHIR resource.
    Structure,
    /// `required`: a required element or header is missing.
    Required,
    /// `value`: an element or parameter has a wrong value.
    Value,
    /// `forbidden`: the credentials do not allow the request.
    Forbidden,
    /// `not-found`: no such resource (or one the caller may not know about).
    NotFound,
    /// `deleted`: the resource was deleted (only told to callers allowed to see it).
    Deleted,
    /// `not-supported`: the interaction, type, parameter or media type is not supported.
    NotSupported,
    /// `too-long`: a size limit was exceeded.
    TooLong,
    /// `throttled`: rate limited.
    Throttled,
    /// `conflict`: a version conflict (`If-Match`) or a duplicate.
    Conflict,
    /// `processing`: the request could not be processed as asked.
    Processing,
    /// `exception`: an internal error (details go to the server log, never to the caller).
    Exception,
    /// `transient`: a passing failure, such as an authorization server that could not say
    /// whether the token is active; the same request may succeed later.
    Transient,
    /// `informational`: no problem (e.g. in a `Prefer: return=OperationOutcome` answer).
    Informational,
}

impl IssueCode {
    /// The FHIR code.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueCode::Login => "login",
            IssueCode::Unknown => "unknown",
            IssueCode::Expired => "expired",
            IssueCode::Invalid => "invalid",
            IssueCode::Structure => "structure",
            IssueCode::Required => "required",
            IssueCode::Value => "value",
            IssueCode::Forbidden => "forbidden",
            IssueCode::NotFound => "not-found",
            IssueCode::Deleted => "deleted",
            IssueCode::NotSupported => "not-supported",
            IssueCode::TooLong => "too-long",
            IssueCode::Throttled => "throttled",
            IssueCode::Conflict => "conflict",
            IssueCode::Processing => "processing",
            IssueCode::Exception => "exception",
            IssueCode::Transient => "transient",
            IssueCode::Informational => "informational",
        }
    }
}

/// The JSON of an `OperationOutcome` with one issue.
pub fn operation_outcome(code: IssueCode, diagnostics: &'static str) -> Vec<u8> {
    let severity = match code {
        IssueCode::Informational => "information",
        _ => "error",
    };
    serde_json::to_vec(&serde_json::json!({
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code.as_str(), "diagnostics": diagnostics}]
    }))
    .unwrap_or_default()
}

/// An error response: `status`, an `OperationOutcome` body and the security headers.
pub fn error(status: StatusCode, code: IssueCode, diagnostics: &'static str) -> Response<Vec<u8>> {
    let mut response = Response::new(operation_outcome(code, diagnostics));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    security_headers(headers);
    no_store(headers);
    response
}

/// The one "not found" answer, byte-identical whether the resource is missing, deleted and not
/// the caller's to know about, or outside what the caller may read.
pub fn not_found() -> Response<Vec<u8>> {
    error(
        StatusCode::NOT_FOUND,
        IssueCode::NotFound,
        "Resource not found",
    )
}

/// Adds the headers every response carries (SMART digest §10; OWASP REST security):
/// `X-Content-Type-Options`, `Strict-Transport-Security`, `Content-Security-Policy`,
/// `Referrer-Policy`, `X-Frame-Options`.
pub fn security_headers(headers: &mut HeaderMap) {
    // Checked when compiled, not on every response.
    const HEADERS: [(HeaderName, HeaderValue); 5] = [
        (
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ),
        (
            HeaderName::from_static("strict-transport-security"),
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ),
        (
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ),
        (
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        ),
        (
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ),
    ];
    for (name, value) in HEADERS {
        headers.insert(name, value);
    }
}

/// Marks a response that may carry PHI (or reveals anything about it): never cached, and varies
/// by the credentials and origin that produced it.
pub fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Authorization, Origin"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_is_stable() {
        let a = not_found();
        let b = not_found();
        assert_eq!(a.body(), b.body());
        assert_eq!(a.headers(), b.headers());
        assert_eq!(a.status(), StatusCode::NOT_FOUND);
        let body: serde_json::Value = serde_json::from_slice(a.body()).unwrap();
        assert_eq!(body["issue"][0]["code"], "not-found");
    }

    #[test]
    fn errors_carry_security_headers() {
        let r = error(
            StatusCode::BAD_REQUEST,
            IssueCode::Invalid,
            "Malformed request",
        );
        for h in [
            "x-content-type-options",
            "content-security-policy",
            "referrer-policy",
            "strict-transport-security",
            "cache-control",
        ] {
            assert!(r.headers().contains_key(h), "{h}");
        }
        assert_eq!(r.headers()[header::CONTENT_TYPE], FHIR_JSON);
    }
}
