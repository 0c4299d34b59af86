//! Every interaction x level x scope family (smart.md §1.3, §1.4, §12): the expected outcome of
//! each cell comes from the normative letter mapping alone (`c` create; `r` read, vread,
//! instance history; `u` update, patch; `d` delete; `s` search and type history; conditional
//! update, patch and delete also need `s`), written here independently of the decision code.

use fhir_types::ResourceType;
use smart_auth::decision::{Authorizer, Decision};
use smart_auth::request::FhirRequest;
use smart_auth::scope::Permissions;
use smart_auth::testing::policy::{context, request};

const C: Permissions = Permissions::CREATE;
const R: Permissions = Permissions::READ;
const U: Permissions = Permissions::UPDATE;
const D: Permissions = Permissions::DELETE;
const S: Permissions = Permissions::SEARCH;

/// `(request line, If-None-Exist, letters needed)`: one row per FHIR REST interaction on
/// Observation, and the letters a grant must hold for it.
const INTERACTIONS: &[(&str, Option<&str>, &[Permissions])] = &[
    ("GET Observation/1", None, &[R]),                    // read
    ("GET Observation/1/_history/2", None, &[R]),         // vread
    ("GET Observation/1/_history", None, &[R]),           // history (instance)
    ("GET Observation?code=1", None, &[S]),               // search (GET)
    ("POST Observation/_search", None, &[S]),             // search (POST)
    ("GET Patient/123/Observation", None, &[S]),          // compartment search
    ("GET Observation/_history", None, &[S]),             // history (type)
    ("POST Observation", None, &[C]),                     // create
    ("POST Observation", Some("identifier=x|1"), &[C]),   // conditional create
    ("PUT Observation/1", None, &[U]),                    // update
    ("PATCH Observation/1", None, &[U]),                  // patch
    ("DELETE Observation/1", None, &[D]),                 // delete
    ("PUT Observation?identifier=x|1", None, &[U, S]),    // conditional update
    ("PATCH Observation?identifier=x|1", None, &[U, S]),  // conditional patch
    ("DELETE Observation?identifier=x|1", None, &[D, S]), // conditional delete
    ("GET Observation/1/$meta", None, &[R]),              // operation, instance level
];

/// Scope families: v2 letters (each alone and all), v1 words, on one type or on `*`;
/// `(suffix, letters it grants)`.
fn families() -> Vec<(&'static str, Permissions)> {
    vec![
        ("c", C),
        ("r", R),
        ("u", U),
        ("d", D),
        ("s", S),
        ("rs", R | S),
        ("cruds", C | R | U | D | S),
        ("read", R | S),
        ("write", C | U | D),
        ("*", C | R | U | D | S),
    ]
}

fn build(line: &str, if_none_exist: Option<&str>) -> FhirRequest {
    let Some(h) = if_none_exist else {
        return request(line);
    };
    let (method, path) = line.split_once(' ').unwrap();
    let (parts, ()) = http::Request::builder()
        .method(method)
        .uri(format!("/fhir/{path}"))
        .header("If-None-Exist", h)
        .body(())
        .unwrap()
        .into_parts();
    let req = FhirRequest::from_parts(&parts, "/fhir", None).unwrap();
    assert!(req.if_none_exist().is_some(), "{line}: not conditional");
    req
}

/// The levels: scopes prefix, launch patient, `fhirUser`.
const LEVELS: &[(&str, Option<&str>, Option<&str>)] = &[
    ("patient", Some("123"), None),
    ("user", None, Some("Patient/123")),
    ("system", None, None),
];

#[test]
fn every_interaction_level_and_scope_family() {
    let a = Authorizer::default();
    let mut failures = Vec::new();
    let mut cells = 0;
    for (level, patient, user) in LEVELS {
        for (suffix, letters) in families() {
            for ty in ["Observation", "*", "Condition"] {
                let scopes = format!("{level}/{ty}.{suffix}");
                let ctx = context(&scopes, *patient, *user);
                for (line, ine, needed) in INTERACTIONS {
                    let granted = ty != "Condition" && needed.iter().all(|n| letters.contains(*n));
                    let decision = a.decide(&ctx, &build(line, *ine));
                    cells += 1;
                    if decision.is_allowed() != granted {
                        failures.push(format!(
                            "[{scopes}] {line} {ine:?}: expected allowed={granted}, got {decision:?}"
                        ));
                    }
                    // A missing letter is 403 insufficient_scope, never 404 or 401.
                    if let Decision::Deny(d) = &decision {
                        if d.reason().code() != "insufficient_scope" {
                            failures.push(format!("[{scopes}] {line}: refused as {d:?}"));
                        }
                    }
                }
            }
        }
    }
    assert_eq!(
        cells,
        LEVELS.len() * families().len() * 3 * INTERACTIONS.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {cells} cells:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Granular scopes grant their letters, narrowed: every search-like interaction carries the
/// constraint, on every level.
#[test]
fn granular_scopes_narrow_every_search_like_interaction() {
    let a = Authorizer::default();
    for (level, patient, user) in LEVELS {
        let scopes = format!("{level}/Observation.rs?category=laboratory");
        let ctx = context(&scopes, *patient, *user);
        for line in [
            "GET Observation?code=1",
            "POST Observation/_search",
            "GET Observation/_history",
        ] {
            let d = a.decide(&ctx, &request(line));
            let n = d
                .permit()
                .and_then(|p| p.narrowing())
                .unwrap_or_else(|| panic!("[{scopes}] {line}: {d:?}"));
            assert!(
                n.to_query_params()
                    .iter()
                    .all(|and| and.contains(&("category".into(), "laboratory".into()))),
                "[{scopes}] {line}: {n:?}"
            );
        }
        // A constraint value is literal to the result check; the query carries it so that a
        // search admits no more. A comma (no code is `laboratory,vital-signs`) would be an OR
        // that admits (and counts, `_summary=count`) both categories: escaped (`\,`). `|`
        // alone (no system, no code) admits no code; a store may read it as "any code without
        // a system": escaped (`\|`).
        for (value, escaped) in [
            ("laboratory,vital-signs", "laboratory\\,vital-signs"),
            ("|", "\\|"),
        ] {
            let scope = format!("{level}/Observation.rs?category={value}");
            let d = a.decide(
                &context(&scope, *patient, *user),
                &request("GET Observation"),
            );
            let q = d
                .permit()
                .and_then(|p| p.narrowing())
                .unwrap()
                .to_query_params();
            let literal = ("category".to_owned(), escaped.to_owned());
            assert!(
                !q.is_empty() && q.iter().all(|and| and.contains(&literal)),
                "[{scope}]: {q:?}"
            );
        }
        for line in [
            "POST Observation",
            "PUT Observation/1",
            "DELETE Observation/1",
        ] {
            assert!(
                !a.decide(&ctx, &request(line)).is_allowed(),
                "[{scopes}] {line}"
            );
        }
    }
}

/// Requests without a type: capabilities for any token; batch/transaction decided per entry;
/// system search and history only with a `*` grant of `s`.
#[test]
fn typeless_interactions_per_level() {
    let a = Authorizer::default();
    for (level, patient, user) in LEVELS {
        let wildcard = context(&format!("{level}/*.rs"), *patient, *user);
        let typed = context(&format!("{level}/Observation.rs"), *patient, *user);
        let rows = [
            ("GET metadata", true, true),
            ("POST /", true, true),
            ("GET _history", true, false),
            ("GET ?_type=Observation", true, true),
            ("GET ?_type=Observation,Condition", true, false),
            ("GET ?_id=1", true, false),
        ];
        for (line, with_wildcard, with_typed) in rows {
            assert_eq!(
                a.decide(&wildcard, &request(line)).is_allowed(),
                with_wildcard,
                "[{level}/*.rs] {line}"
            );
            assert_eq!(
                a.decide(&typed, &request(line)).is_allowed(),
                with_typed,
                "[{level}/Observation.rs] {line}"
            );
        }
    }
    // Types are exact: `Observation` grants nothing on `ObservationDefinition`.
    let ctx = context("patient/Observation.rs", Some("123"), None);
    assert!(ResourceType::ALL.contains(&ResourceType::ObservationDefinition));
    assert!(!Authorizer::default()
        .decide(&ctx, &request("GET ObservationDefinition?code=1"))
        .is_allowed());
}
