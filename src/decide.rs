//! Rendering the classification and decision refusals of `smart-auth` as [`Rejection`]s.

use http::StatusCode;
use smart_auth::request::RequestError;

use crate::rejection::Rejection;
use crate::response::IssueCode;

/// The rejection for a request that is not a well-formed FHIR request.
pub fn request_rejection(e: RequestError) -> Rejection {
    let status = e.status();
    let (code, text) = match status {
        StatusCode::NOT_FOUND => (
            IssueCode::NotSupported,
            "No such FHIR endpoint or resource type",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            IssueCode::NotSupported,
            "This interaction is not supported here",
        ),
        StatusCode::URI_TOO_LONG => (IssueCode::TooLong, "The request URI is too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            IssueCode::NotSupported,
            "Send the body as application/fhir+json (a JSON Patch as application/json-patch+json)",
        ),
        _ => (IssueCode::Invalid, invalid_text(e)),
    };
    let mut rejection = Rejection::new(status, code, e.code(), text);
    if let RequestError::MethodNotAllowed(allow) = e {
        // RFC 9110 §15.5.6: a 405 MUST list the methods the target supports.
        rejection.allow = Some(allow);
    }
    rejection
}

/// What is wrong with a malformed request, in a fixed text per reason (nothing of the request is
/// echoed), so that a client can fix it.
fn invalid_text(e: RequestError) -> &'static str {
    match e {
        RequestError::InvalidPath => {
            "The path is not a FHIR path: it has an empty segment (a trailing or doubled slash), \
             a '.' or '..' segment, a percent-encoded, ';' or '\\' segment, or a shape FHIR \
             does not define"
        }
        RequestError::InvalidId => {
            "The id or version is not a FHIR id: 1 to 64 of A-Z, a-z, 0-9, '-' and '.'"
        }
        RequestError::InvalidQuery => {
            "A query parameter is malformed: _count takes a non-negative integer and _summary \
             one of true, text, data, count or false (each at most once); names, modifiers, \
             chains, _include and _has need FHIR's syntax"
        }
        RequestError::TooManyParameters => "The query has too many parameters",
        RequestError::MissingCriteria => {
            "A conditional update, patch or delete needs search criteria"
        }
        _ => "The request is not a valid FHIR request",
    }
}
