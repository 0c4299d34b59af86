//! `Patient/[id]/$everything` (smart.md §12.10): authorised by `r` on `Patient/[id]`, its
//! results "limited to granted types (`s`) and to that compartment". §12.6's "`r` or `s`" is
//! the rule for an included resource, one the client named; `$everything` lists the whole
//! record, which only `s` lets a client do: a type granted `r` alone is read by id, never
//! enumerated. The patient itself is the instance whose read authorised the operation.

use fhir_types::resources::Bundle;
use fhir_types::{Resource, ResourceType};
use smart_auth::decision::{Authorizer, Permit};
use smart_auth::testing::policy::{context, request, resource};

const PAT: &str = r#"{"resourceType":"Patient","id":"123"}"#;
const OBS: &str = r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123"}}"#;
const COND: &str =
    r#"{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/123"}}"#;

fn everything(scopes: &str) -> Permit {
    let ctx = context(scopes, Some("123"), None);
    Authorizer::default()
        .decide(&ctx, &request("GET Patient/123/$everything"))
        .into_result()
        .unwrap()
}

fn returned(permit: &Permit) -> Vec<String> {
    let entries: Vec<String> = [PAT, OBS, COND]
        .iter()
        .map(|r| format!(r#"{{"resource":{r},"search":{{"mode":"match"}}}}"#))
        .collect();
    let Resource::Bundle(mut bundle) = resource(&format!(
        r#"{{"resourceType":"Bundle","type":"searchset","entry":[{}]}}"#,
        entries.join(",")
    )) else {
        unreachable!()
    };
    permit.filter_bundle(&mut bundle);
    ids(&bundle)
}

fn ids(bundle: &Bundle) -> Vec<String> {
    bundle
        .entry
        .iter()
        .filter_map(|e| e.resource.as_ref())
        .map(|r| format!("{}/{}", r.resource_type(), r.id().unwrap_or("")))
        .collect()
}

#[test]
fn everything_returns_only_types_granted_search() {
    let permit = everything("patient/Patient.r patient/Observation.r patient/Condition.rs");
    // The patient is the read that authorised the operation; Observation is granted `r` only.
    assert_eq!(returned(&permit), ["Patient/123", "Condition/c1"]);
    assert!(permit.check_resource(&resource(PAT)).is_ok());
    assert!(!permit.may_return(&resource(OBS), None));
    assert!(permit.may_return(&resource(COND), None));
    // The narrowing a host puts into its scan of each type says the same.
    let nothing = permit.narrowing_for(ResourceType::Observation).unwrap();
    assert!(nothing.alternatives().is_empty());
    let confined = permit.narrowing_for(ResourceType::Condition).unwrap();
    assert_eq!(confined.alternatives()[0].compartment().unwrap().id, "123");
    let patient = permit.narrowing_for(ResourceType::Patient).unwrap();
    assert_eq!(patient.alternatives()[0].compartment().unwrap().id, "123");

    let permit = everything("patient/Patient.rs patient/Observation.rs");
    assert_eq!(returned(&permit), ["Patient/123", "Observation/o1"]);

    // The same under `system/` scopes, where nothing is narrowed to a compartment.
    let ctx = context(
        "system/Patient.r system/Observation.r system/Condition.s",
        None,
        None,
    );
    let permit = Authorizer::default()
        .decide(&ctx, &request("GET Patient/123/$everything"))
        .into_result()
        .unwrap();
    assert_eq!(returned(&permit), ["Patient/123", "Condition/c1"]);
    assert!(permit.narrowing_for(ResourceType::Condition).is_none());
}

/// Includes keep §12.6's rule: a type granted `r` is included (it is read by reference).
#[test]
fn includes_still_take_read_or_search() {
    let ctx = context(
        "patient/Observation.rs patient/Patient.r",
        Some("123"),
        None,
    );
    let permit = Authorizer::default()
        .decide(
            &ctx,
            &request("GET Observation?_include=Observation:subject"),
        )
        .into_result()
        .unwrap();
    assert!(permit.may_return(&resource(PAT), None));
    assert!(permit
        .narrowing_for(ResourceType::Patient)
        .is_some_and(|n| !n.alternatives().is_empty()));
}

/// R4 `Patient/[id]/$everything` takes `start`, `end`, `_since`, `_type` and `_count`; any other
/// parameter is refused (smart.md §12.1: unknown parameter ⇒ Deny), so a host never runs
/// criteria or includes this decision did not look at.
#[test]
fn everything_takes_its_own_parameters_only() {
    use smart_auth::testing::policy::{assert_table, Case, Expect};
    let row = |q: &str, expect| {
        Case::new("patient/*.rs")
            .patient("123")
            .request(&format!("GET Patient/123/$everything?{q}"))
            .expect(expect)
    };
    assert_table(
        &Authorizer::default(),
        &[
            row(
                "start=2020-01-01&end=2021-01-01&_since=2020-01-01T00:00:00Z&_type=Observation,Condition&_count=10",
                Expect::Narrow,
            ),
            row("_include=Observation:subject", Expect::BadRequest),
            row("_revinclude=Provenance:target", Expect::BadRequest),
            row("subject=Patient/456", Expect::BadRequest),
            row("code=1234-5", Expect::BadRequest),
            row("_has:Observation:patient:code=1", Expect::BadRequest),
            row("start:missing=true", Expect::BadRequest),
            row("_filter=x", Expect::BadRequest),
        ],
    );
}
