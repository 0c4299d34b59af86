//! Size and shape limits on incoming requests, checked before anything else reads them.

use http::header::CONTENT_TYPE;
use http::{Method, StatusCode};

use crate::rejection::Rejection;
use crate::response::IssueCode;

/// Request limits. The defaults suit a FHIR REST API serving single resources and modest
/// batches; raise them deliberately (bulk endpoints usually live elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest request body in bytes (default 4 MiB). Larger: `413 Payload Too Large`.
    pub max_body_bytes: usize,
    /// Deepest JSON nesting of a body (default 64). Deeper: `400`.
    pub max_json_depth: usize,
    /// Longest query string in bytes (default 4096). Longer: `414 URI Too Long`.
    pub max_query_bytes: usize,
    /// Most query parameters (default 64). More: `400`.
    pub max_query_params: usize,
    /// Longest path in bytes (default 1024). Longer: `414 URI Too Long`.
    pub max_path_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 4 * 1024 * 1024,
            max_json_depth: 64,
            max_query_bytes: 4096,
            max_query_params: 64,
            max_path_bytes: 1024,
        }
    }
}

impl Limits {
    /// Checks the request line and headers (before the body is read), including that the body
    /// has no `Content-Encoding` but `identity` (`415` otherwise: the limits and the decision
    /// could not read it).
    pub fn check_head(&self, parts: &http::request::Parts) -> Result<(), Rejection> {
        if parts.uri.path().len() > self.max_path_bytes {
            return Err(too_long(StatusCode::URI_TOO_LONG, "uri_too_long"));
        }
        if let Some(q) = parts.uri.query() {
            self.check_query(q.as_bytes())?;
        }
        // The limits and the decision read the body as sent: a coded body would be checked as
        // opaque bytes and inflated by the host unchecked (threats.md §4), so none is accepted
        // (RFC 7694 §3: 415 for a content coding the server does not support).
        let coded = parts
            .headers
            .get_all(http::header::CONTENT_ENCODING)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .any(|c| !c.trim_ascii().eq_ignore_ascii_case(b"identity"));
        if coded {
            return Err(Rejection::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                IssueCode::NotSupported,
                "unsupported_content_encoding",
                "Send the body without a Content-Encoding",
            ));
        }
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body_bytes as u64) {
            return Err(body_too_large());
        }
        Ok(())
    }

    /// The query limits, on a request's query or a `POST _search` form (the same query sent
    /// as a body).
    fn check_query(&self, query: &[u8]) -> Result<(), Rejection> {
        if query.len() > self.max_query_bytes {
            return Err(too_long(StatusCode::URI_TOO_LONG, "query_too_long"));
        }
        let params = query.split(|b| *b == b'&').filter(|p| !p.is_empty());
        if params.count() > self.max_query_params {
            return Err(Rejection::new(
                StatusCode::BAD_REQUEST,
                IssueCode::TooLong,
                "too_many_parameters",
                "Too many query parameters",
            ));
        }
        Ok(())
    }

    /// Checks a body: size, media type (FHIR JSON or a JSON Patch; a form only for a
    /// `POST _search`, held to the query limits), and JSON nesting depth.
    pub fn check_body(&self, parts: &http::request::Parts, body: &[u8]) -> Result<(), Rejection> {
        if body.len() > self.max_body_bytes {
            return Err(body_too_large());
        }
        let takes_body = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH);
        if !takes_body {
            return Ok(());
        }
        let media = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        let json = match media.as_deref() {
            Some("application/fhir+json" | "application/json" | "application/json-patch+json") => {
                true
            }
            // A form is a search's body (`POST [base]/[type]/_search`) and nothing else's: a
            // resource sent as one would skip the depth check below and still be parsed as
            // JSON by the host (threats.md §5, Content-Type confusion).
            Some("application/x-www-form-urlencoded")
                if parts.method == Method::POST && parts.uri.path().ends_with("/_search") =>
            {
                false
            }
            None if body.is_empty() => false,
            _ => {
                return Err(Rejection::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    IssueCode::NotSupported,
                    "unsupported_media_type",
                    "Send the body as application/fhir+json (a JSON Patch as application/json-patch+json)",
                ))
            }
        };
        if !json {
            // A search's form, held to the limits of the query it stands for.
            self.check_query(body)?;
        }
        if json && json_depth(body) > self.max_json_depth {
            return Err(Rejection::new(
                StatusCode::BAD_REQUEST,
                IssueCode::TooLong,
                "json_too_deep",
                "The JSON body is nested too deeply",
            ));
        }
        Ok(())
    }
}

fn too_long(status: StatusCode, reason: &'static str) -> Rejection {
    Rejection::new(
        status,
        IssueCode::TooLong,
        reason,
        "The request URI is too long",
    )
}

fn body_too_large() -> Rejection {
    Rejection::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        IssueCode::TooLong,
        "body_too_large",
        "The request body is too large",
    )
}

/// The deepest nesting of arrays and objects in a JSON text (strings skipped), in one pass and
/// without allocating, so that a hostile body is measured before any parser recurses into it.
pub fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, uri: &str, ct: Option<&str>) -> http::request::Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        if let Some(ct) = ct {
            b = b.header(CONTENT_TYPE, ct);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn depth_ignores_brackets_in_strings() {
        assert_eq!(json_depth(br#"{"a": [1, {"b": "[[[{{{"}]}"#), 3);
        assert_eq!(json_depth(br#""\"[""#), 0);
        assert_eq!(json_depth(&[b'['; 10_000]), 10_000);
    }

    #[test]
    fn limits_reject_with_their_status() {
        let l = Limits::default();
        let long = format!("/fhir/Patient?name={}", "a".repeat(5000));
        assert_eq!(
            l.check_head(&parts(Method::GET, &long, None))
                .unwrap_err()
                .status(),
            StatusCode::URI_TOO_LONG
        );
        let many = format!("/fhir/Patient?{}", "a=1&".repeat(65));
        assert_eq!(
            l.check_head(&parts(Method::GET, &many, None))
                .unwrap_err()
                .status(),
            StatusCode::BAD_REQUEST
        );
        let p = parts(Method::POST, "/fhir/Patient", Some("text/xml"));
        assert_eq!(
            l.check_body(&p, b"<x/>").unwrap_err().status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let p = parts(Method::POST, "/fhir/Patient", Some("application/fhir+json"));
        let deep = "[".repeat(65);
        assert_eq!(
            l.check_body(&p, deep.as_bytes()).unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
        let big = vec![b' '; l.max_body_bytes + 1];
        assert_eq!(
            l.check_body(&p, &big).unwrap_err().status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert!(l.check_body(&p, br#"{"resourceType":"Patient"}"#).is_ok());
    }
}
