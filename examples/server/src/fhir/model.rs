//! Checking bodies against the FHIR R4 model before they are stored: the strict parser of
//! `fhir-types` (unknown elements, duplicate keys, wrong types, bad primitives are refused).

use http::StatusCode;
use secure_fhir::response::IssueCode;
use serde_json::Value;

use super::outcome::Fail;

/// Checks that `body` is a structurally valid FHIR R4 resource.
pub fn check(body: &Value) -> Result<(), Fail> {
    let bytes = super::json::to_vec(body);
    fhir_types::json::parse_resource(&bytes)
        .map(drop)
        .map_err(|_| {
            // The parser's message names the offending element; the answer stays generic so that
            // nothing of the request is echoed.
            Fail::new(
                StatusCode::BAD_REQUEST,
                IssueCode::Structure,
                "The body is not a valid FHIR R4 resource",
            )
        })
}

/// The canonical FHIR JSON of `text` (element order of the specification, `resourceType`
/// first), or `text` itself if it does not parse.
pub fn canonical(text: String) -> String {
    match fhir_types::json::parse_resource(text.as_bytes()) {
        Ok(r) => String::from_utf8(fhir_types::json::to_vec(&r)).unwrap_or(text),
        Err(_) => text,
    }
}

/// Parses a JSON request body losslessly (exact numbers), refusing duplicate member names at
/// every depth (see [`super::json`]).
pub fn parse_json(bytes: &[u8]) -> Result<Value, Fail> {
    super::json::parse(bytes).map_err(|_| {
        Fail::new(
            StatusCode::BAD_REQUEST,
            IssueCode::Structure,
            "The body is not valid JSON",
        )
    })
}
