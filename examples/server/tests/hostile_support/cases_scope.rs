//! Scope escalation and fail-open context (threats.md §2.20–2.21; smart.md §1, §12): a token
//! gets exactly what its well-formed scopes grant and nothing for malformed ones.

use serde_json::json;

use super::server::{now, ALICE};
use super::{case, Case, Class, Expect};

const SE: Class = Class::ScopeEscalation;

fn obs_body(id: Option<&str>) -> serde_json::Value {
    let mut v = json!({
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": "Patient/alice"}
    });
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    v
}

/// Reading Alice's own vital-signs Observation with `scope` must be refused (403).
fn no_read(name: &'static str, scope: &'static str) -> Case {
    case(name, SE, Expect::Forbidden)
        .get("/Observation/a-obs-1")
        .alice(scope)
}

/// The table.
pub fn cases() -> Vec<Case> {
    vec![
        case("control.scope.read-granted", SE, Expect::Ok(&["Observation/a-obs-1"]))
            .get("/Observation/a-obs-1")
            .alice("patient/Observation.rs"),
        case("control.scope.v1-read-granted", SE, Expect::Ok(&["Observation/a-obs-1"]))
            .get("/Observation/a-obs-1")
            .alice("patient/Observation.read"),
        no_read("scope.other-type-not-granted", "patient/Condition.rs"),
        case("scope.observation-scope-cannot-read-condition", SE, Expect::Forbidden)
            .get("/Condition/a-cond-1")
            .alice("patient/Observation.rs"),
        case("scope.read-only-cannot-search", SE, Expect::Forbidden)
            .get("/Observation?patient=alice")
            .alice("patient/Observation.r"),
        no_read("scope.search-only-cannot-read", "patient/Observation.s"),
        case("scope.read-scope-cannot-create", SE, Expect::Forbidden)
            .req("POST", "/Observation")
            .alice("patient/Observation.rs")
            .json(obs_body(None)),
        case("scope.read-scope-cannot-update", SE, Expect::Forbidden)
            .req("PUT", "/Observation/a-obs-1")
            .alice("patient/Observation.rs")
            .json(obs_body(Some("a-obs-1"))),
        case("scope.read-scope-cannot-patch", SE, Expect::Forbidden)
            .req("PATCH", "/Observation/a-obs-1")
            .alice("patient/Observation.rs")
            .header("Content-Type", "application/json-patch+json")
            .body(r#"[{"op":"replace","path":"/status","value":"amended"}]"#),
        case("scope.read-scope-cannot-delete", SE, Expect::Forbidden)
            .req("DELETE", "/Observation/a-obs-1")
            .alice("patient/Observation.rs"),
        case("scope.v1-read-cannot-write", SE, Expect::Forbidden)
            .req("PUT", "/Observation/a-obs-1")
            .alice("patient/Observation.read")
            .json(obs_body(Some("a-obs-1"))),
        case("scope.create-only-cannot-read", SE, Expect::Forbidden)
            .get("/Observation/a-obs-1")
            .alice("patient/Observation.c"),
        no_read("scope.mis-cased-type-grants-nothing", "patient/observation.rs"),
        no_read("scope.mis-cased-level-grants-nothing", "Patient/Observation.rs"),
        no_read("scope.out-of-order-letters-grant-nothing", "patient/Observation.sr"),
        no_read("scope.repeated-letters-grant-nothing", "patient/Observation.rrs"),
        no_read("scope.unknown-letter-grants-nothing", "patient/Observation.rsx"),
        no_read("scope.type-prefix-wildcard-grants-nothing", "patient/Obs*.rs"),
        no_read("scope.percent-encoded-slash-grants-nothing", "patient%2FObservation.rs"),
        no_read("scope.comma-separated-list-grants-nothing", "patient/Condition.rs,patient/Observation.rs"),
        no_read("scope.v1-word-with-v2-letters-grants-nothing", "patient/Observation.readrs"),
        no_read("scope.include-smuggled-in-constraint-grants-nothing", "patient/Observation.rs?_include=Observation:subject"),
        no_read("scope.chain-smuggled-in-constraint-grants-nothing", "patient/Observation.rs?subject.name=x"),
        no_read("scope.launch-scope-grants-no-data", "launch/patient openid fhirUser"),
        no_read("scope.offline-access-grants-no-data", "openid offline_access online_access"),
        no_read("scope.empty-scope-grants-nothing", ""),
        case("scope.granular-constraint-hides-other-category", SE, Expect::Hidden("/Observation/no-such-id"))
            .get("/Observation/a-obs-1")
            .alice("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),
        case("control.scope.granular-constraint-allows-its-category", SE, Expect::Ok(&["Observation/a-obs-lab"]))
            .get("/Observation/a-obs-lab")
            .alice("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),
        case("scope.granular-constraint-narrows-search", SE, Expect::Entries(&["Observation/a-obs-lab"]))
            .get("/Observation?patient=alice")
            .alice("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),
        case("scope.granular-constraint-narrows-count", SE, Expect::Total(1))
            .get("/Observation?_summary=count")
            .alice("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),
        case("scope.system-mixed-with-patient-rejected", SE, Expect::InvalidToken)
            .get("/Observation/a-obs-1")
            .alice("system/*.rs patient/*.rs"),
        case("scope.user-scope-without-fhiruser-fails-closed", SE, Expect::InvalidToken)
            .get("/Observation/a-obs-1")
            .token(|i| i.token(now()).scope("user/*.rs").sign()),
        case("scope.user-scope-with-patient-fhiruser-is-compartment-bound", SE, Expect::Hidden("/Observation/no-such-id"))
            .get("/Observation/zz-b-obs-1")
            .token(|i| i.token(now()).scope("user/*.rs").fhir_user("Patient/alice").sign()),
        case("scope.patient-scope-without-launch-patient-fails-closed", SE, Expect::InvalidToken)
            .get("/Observation/a-obs-1")
            .token(|i| i.token(now()).scope("patient/*.rs").fhir_user("Patient/alice").sign()),
        case("scope.patient-claim-other-than-context-cannot-widen", SE, Expect::Hidden("/Observation/no-such-id"))
            .get("/Observation/zz-b-obs-1")
            .token(|i| i.token(now()).scope("patient/*.rs").patient(ALICE).fhir_user("Patient/zz-b-bob").sign()),
        case("scope.everything-needs-patient-read", SE, Expect::Forbidden)
            .get("/Patient/alice/$everything")
            .alice("patient/Observation.rs"),
        case("scope.wildcard-read-cannot-write", SE, Expect::Forbidden)
            .req("POST", "/Observation")
            .alice("patient/*.rs")
            .json(obs_body(None)),
    ]
}
