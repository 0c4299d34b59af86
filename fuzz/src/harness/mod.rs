//! The harness functions, one per fuzz target (see the crate docs).
//!
//! This module is also compiled into the example server's `hostile_fuzz_regressions` test
//! (through `#[path]`), so it depends only on crates that test has: the workspace crates,
//! `http`, `serde_json` and `chrono`.

pub mod audit;
pub mod auth;
pub mod fhir;
pub mod request;
pub mod token;

pub use audit::{audit_log_tamper, audit_log_verify, checkpoint_note};
pub use auth::{client_assertion, dpop_proof, introspection_response};
pub use fhir::{fhir_bundle, fhir_resource};
pub use request::request_decide;
pub use token::{bearer_extract, jwks_parse, scope_parse, token_claims, token_validate};

/// A harness: runs one parser on the raw fuzzer input and panics if a property fails.
pub type Harness = fn(&[u8]);

/// Every fuzz target: its name (the `fuzz_targets/<name>.rs` binary and the
/// `fuzz/regressions/<name>/` directory) and its harness.
pub const TARGETS: &[(&str, Harness)] = &[
    ("token_validate", token_validate),
    ("token_claims", token_claims),
    ("jwks_parse", jwks_parse),
    ("scope_parse", scope_parse),
    ("bearer_extract", bearer_extract),
    ("request_decide", request_decide),
    ("fhir_resource", fhir_resource),
    ("fhir_bundle", fhir_bundle),
    ("audit_log_verify", audit_log_verify),
    ("audit_log_tamper", audit_log_tamper),
    ("introspection_response", introspection_response),
    ("dpop_proof", dpop_proof),
    ("client_assertion", client_assertion),
    ("checkpoint_note", checkpoint_note),
];

/// Asserts that a client-facing rendering of an error does not echo a meaningful piece of the
/// attacker's input (smart.md §9: no echo of input). `baseline` is the same rendering for a
/// benign input: text that is in it anyway (the fixed template) proves nothing.
#[allow(dead_code)] // used by the FHIR targets
pub(crate) fn assert_no_echo(rendered: &str, input: &[u8], baseline: &str) {
    let Ok(s) = std::str::from_utf8(input) else {
        return;
    };
    let probe = s.trim();
    // Only long, distinctive inputs: short ones ("a", "Bearer") occur in any text.
    if probe.len() >= 24 && !baseline.contains(probe) {
        assert!(
            !rendered.contains(probe),
            "input echoed into a client-facing rendering: {rendered:?}"
        );
    }
}

/// Asserts that a `WWW-Authenticate` value is one of the fixed RFC 6750 / RFC 9449 forms:
/// a scheme, the realm, and optionally an error code and an `algs` list, all from fixed
/// vocabularies. Nothing else (so nothing from the request) can be in it.
pub(crate) fn assert_uniform_challenge(value: &str) {
    let rest = value
        .strip_prefix("Bearer realm=\"fhir\"")
        .or_else(|| value.strip_prefix("DPoP realm=\"fhir\""))
        .unwrap_or_else(|| panic!("unexpected challenge {value:?}"));
    for param in rest.split(", ").filter(|p| !p.is_empty()) {
        let (name, quoted) = param
            .split_once('=')
            .unwrap_or_else(|| panic!("unexpected challenge parameter in {value:?}"));
        let inner = quoted
            .strip_prefix('"')
            .and_then(|q| q.strip_suffix('"'))
            .unwrap_or_else(|| panic!("unquoted challenge parameter in {value:?}"));
        let ok = match name {
            "error" => inner.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "algs" => inner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b' '),
            "scope" => true,
            _ => false,
        };
        assert!(ok, "unexpected challenge parameter in {value:?}");
    }
}
