//! proptest strategies for a host's property tests of its own authorization rules.
//!
//! ```
//! use proptest::prelude::*;
//! use smart_auth::decision::Authorizer;
//! use smart_auth::testing::policy::{context, try_request};
//! use smart_auth::testing::strategy::{request_line, resource_id, scope_string};
//!
//! proptest!(ProptestConfig::with_cases(32), |(scopes in scope_string(), line in request_line(), other in resource_id())| {
//!     // Whatever the scopes and request: a patient/ token never reaches another patient's record.
//!     let ctx = context(&scopes, Some("123"), None);
//!     let Ok(req) = try_request(&format!("GET Patient/{other}")) else { return Ok(()) };
//!     let _ = line;
//!     if other != "123" && !scopes.contains("user/") && !scopes.contains("system/") {
//!         prop_assert!(!Authorizer::default().decide(&ctx, &req).is_allowed());
//!     }
//! });
//! ```

use proptest::prelude::*;

/// Resource types common in tests (all valid R4 types).
pub const TYPES: [&str; 10] = [
    "Patient",
    "Observation",
    "Condition",
    "Encounter",
    "DiagnosticReport",
    "MedicationRequest",
    "Coverage",
    "Provenance",
    "Practitioner",
    "AuditEvent",
];

/// A valid FHIR id (`[A-Za-z0-9\-.]{1,64}`), never `.` or `..`.
pub fn resource_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9\\-.]{0,15}".prop_filter("not a dot segment", |s| s != "." && s != "..")
}

/// One valid resource scope: v1 or v2, any level, a type from [`TYPES`] or `*`.
pub fn scope_token() -> impl Strategy<Value = String> {
    let level = prop::sample::select(vec!["patient", "user", "system"]);
    let ty = prop::sample::select([&["*"][..], &TYPES[..]].concat());
    let v2 = (1u8..32).prop_map(|bits| {
        "cruds"
            .chars()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, c)| c)
            .collect::<String>()
    });
    let perms = prop_oneof![
        v2,
        prop::sample::select(vec!["read".to_owned(), "write".to_owned(), "*".to_owned()])
    ];
    (level, ty, perms).prop_map(|(l, t, p)| format!("{l}/{t}.{p}"))
}

/// A token that must grant nothing: valid scopes with one defect each (out-of-order or
/// repeated letters, wrong case, junk suffix, smuggled modifiers or includes).
pub fn malformed_scope_token() -> impl Strategy<Value = String> {
    let ty = prop::sample::select(TYPES.to_vec());
    let defect = prop::sample::select(vec![
        ".dus",
        ".rr",
        ".sr",
        ".rx",
        ".",
        ".reads",
        ".Read",
        ".rs?code:in=x",
        ".rs?_include=Observation:subject",
        ".rs?subject.name=x",
        ".rs?_has:Observation:patient:code=1",
        ".rs?=",
        ".rs?code",
    ]);
    let level = prop::sample::select(vec!["patient", "user", "system", "Patient", "patients"]);
    (level, ty, defect).prop_map(|(l, t, d)| format!("{l}/{t}{d}"))
}

/// A space-separated grant of 1–5 valid scopes of one level family (no `system/` mix), with
/// the usual non-resource scopes sometimes added.
pub fn scope_string() -> impl Strategy<Value = String> {
    (prop::collection::vec(scope_token(), 1..5), any::<bool>()).prop_map(|(mut scopes, extras)| {
        let level = scopes[0].split('/').next().unwrap_or("patient").to_owned();
        let family = |s: &String| (level == "system") == s.starts_with("system/");
        scopes.retain(family);
        if extras {
            scopes.extend(["openid", "fhirUser", "launch/patient"].map(str::to_owned));
        }
        scopes.join(" ")
    })
}

/// A request line for [`super::policy::request`]: reads, searches, writes, history, operations.
pub fn request_line() -> impl Strategy<Value = String> {
    let ty = prop::sample::select(TYPES.to_vec());
    (ty, resource_id(), 0..10u8).prop_map(|(t, id, kind)| match kind {
        0 => format!("GET {t}/{id}"),
        1 => format!("GET {t}?_id={id}"),
        2 => format!("GET {t}?patient={id}"),
        3 => format!("PUT {t}/{id}"),
        4 => format!("DELETE {t}/{id}"),
        5 => format!("POST {t}"),
        6 => format!("GET {t}/{id}/_history"),
        7 => format!("GET {t}/_history"),
        8 => format!("GET Patient/{id}/$everything"),
        _ => format!("GET Patient/{id}/{t}"),
    })
}
