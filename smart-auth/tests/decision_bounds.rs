//! Conditional interactions are no oracle, `_count` is bounded, and `_include:iterate` and `*`
//! results are checked entry by entry (smart.md §12.5, §12.6, §12.12; threats.md §9, §10).

use fhir_types::{Resource, ResourceType};
use smart_auth::decision::{Authorizer, DecisionPolicy, UngrantedIncludes};
use smart_auth::request::FhirRequest;
use smart_auth::testing::policy::{context, request, resource};

fn conditional_create(if_none_exist: &str) -> FhirRequest {
    let (parts, ()) = http::Request::post("/fhir/Observation")
        .header("If-None-Exist", if_none_exist)
        .body(())
        .unwrap()
        .into_parts();
    FhirRequest::from_parts(&parts, "/fhir", None).unwrap()
}

#[test]
fn conditional_create_is_no_oracle() {
    let a = Authorizer::default();
    let create_only = context("patient/Observation.c", Some("123"), None);
    // The match search runs narrowed to the compartment, like any search...
    let permit = a
        .decide(&create_only, &conditional_create("identifier=x|1"))
        .into_result()
        .unwrap();
    let n = permit.narrowing().expect("the match search is narrowed");
    assert_eq!(n.alternatives()[0].compartment().unwrap().id, "123");
    // ...a create-only token may not learn about (or get the body of) an existing match...
    assert!(!permit.may_read(ResourceType::Observation));
    // ...and may not probe other patients or traverse types it cannot search.
    for criteria in [
        "patient=456",
        "subject=Patient/456",
        "subject:Patient.name=x",
        "_has:Provenance:target:agent=x",
    ] {
        let d = a.decide(&create_only, &conditional_create(criteria));
        assert!(!d.is_allowed(), "If-None-Exist: {criteria}: {d:?}");
    }
    let create_read = context("patient/Observation.cr", Some("123"), None);
    let permit = a
        .decide(&create_read, &conditional_create("identifier=x|1"))
        .into_result()
        .unwrap();
    assert!(permit.may_read(ResourceType::Observation));
}

#[test]
fn conditional_update_and_delete_matches_are_narrowed() {
    let a = Authorizer::default();
    let ctx = context("patient/Observation.uds", Some("123"), None);
    for line in [
        "PUT Observation?identifier=x|1",
        "DELETE Observation?identifier=x|1",
        "PATCH Observation?identifier=x|1",
    ] {
        let permit = a.decide(&ctx, &request(line)).into_result().unwrap();
        let n = permit.narrowing().unwrap_or_else(|| panic!("{line}"));
        assert_eq!(
            n.alternatives()[0].compartment().unwrap().id,
            "123",
            "{line}"
        );
        // The stored match must be in the compartment too: no write through another patient.
        let other = resource(
            r#"{"resourceType":"Observation","id":"o9","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/456"}}"#,
        );
        let denied = if line.starts_with("DELETE") {
            permit.check_write(None, Some(&other))
        } else {
            permit.check_write(Some(&other), Some(&other))
        };
        assert_eq!(denied.unwrap_err().status().as_u16(), 403, "{line}");
    }
}

#[test]
fn count_is_clamped_to_the_policy_maximum() {
    let a = Authorizer::default();
    let ctx = context("patient/*.rs", Some("123"), None);
    let count = |line: &str| {
        a.decide(&ctx, &request(line))
            .into_result()
            .unwrap_or_else(|d| panic!("{line}: {d:?}"))
            .count()
    };
    assert_eq!(count("GET Observation?_count=100000"), Some(1000));
    assert_eq!(count("GET Observation?_count=1000"), Some(1000));
    assert_eq!(count("GET Observation?_count=20"), Some(20));
    assert_eq!(count("GET Observation?_count=0"), Some(0));
    assert_eq!(count("GET Observation"), None);
    assert_eq!(count("GET Patient/123/$everything?_count=5000"), Some(1000));
    assert_eq!(count("GET ?_type=Observation&_count=4000"), Some(1000));
    // History pages and a host's search-like operations are bounded alike (threats.md §4).
    assert_eq!(count("GET Observation/_history?_count=5000"), Some(1000));
    assert_eq!(count("GET _history?_count=5000"), Some(1000));
    assert_eq!(count("GET Observation/o1/_history?_count=5000"), Some(1000));
    assert_eq!(count("GET Observation/_history?_count=7"), Some(7));
    let lastn = Authorizer::new(
        DecisionPolicy::default()
            .with_operation("lastn", smart_auth::decision::OperationRule::AsSearch),
    );
    let permit = lastn
        .decide(&ctx, &request("GET Observation/$lastn?_count=5000"))
        .into_result()
        .unwrap();
    assert_eq!(permit.count(), Some(1000));
    let mut small = DecisionPolicy::default();
    small.max_count = 50;
    let permit = Authorizer::new(small)
        .decide(&ctx, &request("GET Observation?_count=51"))
        .into_result()
        .unwrap();
    assert_eq!(permit.count(), Some(50));
}

fn kept(a: &Authorizer, scopes: &str, line: &str, entries: &[(&str, &str)]) -> Vec<String> {
    let permit = a
        .decide(&context(scopes, Some("123"), None), &request(line))
        .into_result()
        .unwrap_or_else(|d| panic!("{line}: {d:?}"));
    let entries: Vec<String> = entries
        .iter()
        .map(|(mode, r)| format!(r#"{{"resource":{r},"search":{{"mode":"{mode}"}}}}"#))
        .collect();
    let mut b = resource(&format!(
        r#"{{"resourceType":"Bundle","type":"searchset","entry":[{}]}}"#,
        entries.join(",")
    ));
    permit.filter_result(&mut b).unwrap();
    let Resource::Bundle(b) = b else {
        unreachable!()
    };
    b.entry
        .iter()
        .filter_map(|e| e.resource.as_ref())
        .map(|r| format!("{}/{}", r.resource_type(), r.id().unwrap_or("")))
        .collect()
}

/// `_include:iterate` and `*` can reach anything a chain of references reaches: every
/// included resource is checked on its own, whatever the include path was.
#[test]
fn iterate_and_wildcard_includes_are_filtered_per_entry() {
    std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(iterate_and_wildcard_body)
        .unwrap()
        .join()
        .unwrap();
}

fn iterate_and_wildcard_body() {
    let dr = r#"{"resourceType":"DiagnosticReport","id":"d1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123"},"result":[{"reference":"Observation/o2"}]}"#;
    let own = r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123"},"hasMember":[{"reference":"Observation/o2"}]}"#;
    // Reached by iterating DiagnosticReport.result / Observation.has-member: another patient's.
    let other = r#"{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/456"}}"#;
    let other_patient = r#"{"resourceType":"Patient","id":"456"}"#;
    let practitioner = r#"{"resourceType":"Practitioner","id":"dr"}"#;
    let a = Authorizer::default();
    let entries = [
        ("match", dr),
        ("include", own),
        ("include", other),
        ("include", other_patient),
        ("include", practitioner),
    ];
    for line in [
        "GET DiagnosticReport?_include=DiagnosticReport:result&_include:iterate=Observation:has-member",
        "GET DiagnosticReport?_include=*",
        "GET DiagnosticReport?_include:iterate=*&_revinclude:iterate=*",
    ] {
        assert_eq!(
            kept(&a, "patient/*.rs", line, &entries),
            ["DiagnosticReport/d1", "Observation/o1"],
            "{line}"
        );
    }
    // Included types the token cannot read are dropped, even when in the compartment.
    assert_eq!(
        kept(
            &a,
            "patient/DiagnosticReport.rs",
            "GET DiagnosticReport?_include:iterate=*",
            &entries
        ),
        ["DiagnosticReport/d1"]
    );
    // Under the refusing policy, `*` (its types unknowable up front) is refused outright.
    let mut refuse = DecisionPolicy::default();
    refuse.ungranted_includes = UngrantedIncludes::Refuse;
    let d = Authorizer::new(refuse).decide(
        &context("patient/*.rs", Some("123"), None),
        &request("GET DiagnosticReport?_include:iterate=*"),
    );
    assert_eq!(d.denial().map(|d| d.status().as_u16()), Some(403));
}
