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
        _ => (
            IssueCode::Invalid,
            "The request is not a valid FHIR request",
        ),
    };
    Rejection::new(status, code, e.code(), text)
}
