//! `Patient.link` (smart.md §12.2; threats.md §7, §8, §13). The Patient CompartmentDefinition
//! puts a Patient resource in the compartment of every patient its `link.other` points at. By
//! default links are not followed. With `DecisionPolicy::with_patient_links` a record that
//! links *to* the launch patient is visible (read, search, include), one way, for reads only,
//! and nothing of the linked patient's other data comes with it.

use fhir_types::codes::LinkType;
use fhir_types::compartment::{narrowing_params, CompartmentType};
use fhir_types::resources::Bundle;
use fhir_types::{Resource, ResourceType};
use smart_auth::decision::{Authorizer, DecisionPolicy};
use smart_auth::testing::policy::{assert_table, context, request, resource, Case, Expect};
use Expect::*;

const BASE: &str = "https://ehr.example/fhir";
const PAT_123: &str = r#"{"resourceType":"Patient","id":"123"}"#;
/// 456 declares itself the same person as 123: in 123's compartment when `seealso` is followed.
const PAT_456_SEEALSO_123: &str = r#"{"resourceType":"Patient","id":"456","link":[{"other":{"reference":"Patient/123"},"type":"seealso"}]}"#;
const PAT_457_REFER_123: &str = r#"{"resourceType":"Patient","id":"457","link":[{"other":{"reference":"Patient/123"},"type":"refer"}]}"#;
const PAT_458_ABS_123: &str = r#"{"resourceType":"Patient","id":"458","link":[{"other":{"reference":"https://ehr.example/fhir/Patient/123"},"type":"seealso"}]}"#;
const PAT_459_FOREIGN_123: &str = r#"{"resourceType":"Patient","id":"459","link":[{"other":{"reference":"https://evil.example/fhir/Patient/123"},"type":"seealso"}]}"#;
const PAT_460_RELATEDPERSON: &str = r#"{"resourceType":"Patient","id":"460","link":[{"other":{"reference":"Patient/123","type":"RelatedPerson"},"type":"seealso"}]}"#;
/// 123's own record naming 999 proves nothing about 999.
const PAT_123_SEEALSO_999: &str = r#"{"resourceType":"Patient","id":"123","link":[{"other":{"reference":"Patient/999"},"type":"seealso"}]}"#;
const PAT_999: &str = r#"{"resourceType":"Patient","id":"999"}"#;
const OBS_456: &str = r#"{"resourceType":"Observation","id":"o456","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/456"}}"#;

fn following() -> Authorizer {
    Authorizer::new(
        DecisionPolicy::default()
            .with_base_url(BASE)
            .with_patient_links([LinkType::Seealso, LinkType::ReplacedBy]),
    )
}

fn default() -> Authorizer {
    Authorizer::new(DecisionPolicy::default().with_base_url(BASE))
}

fn p(scopes: &str, req: &str) -> Case {
    Case::new(scopes).patient("123").request(req)
}

#[test]
fn links_are_not_followed_by_default() {
    assert_table(
        &default(),
        &[
            p("patient/Patient.r", "GET Patient/456").expect(NotFound),
            p("patient/Patient.r", "GET Patient/456")
                .stored(PAT_456_SEEALSO_123)
                .expect(NotFound),
            p("patient/Patient.rs", "GET Patient")
                .stored(PAT_123)
                .stored(PAT_456_SEEALSO_123)
                .expect_visible(["Patient/123"])
                .expect(Narrow),
            // Link edits widen nobody's access while links are not followed.
            p("patient/Patient.u", "PUT Patient/123")
                .stored(PAT_123)
                .body(PAT_123_SEEALSO_999)
                .expect(Allowed),
        ],
    );
}

#[test]
fn followed_links_reach_only_records_that_link_to_the_patient() {
    assert_table(
        &following(),
        &[
            p("patient/Patient.r", "GET Patient/456")
                .stored(PAT_456_SEEALSO_123)
                .expect(Allowed),
            p("patient/Patient.r", "GET Patient/456/_history/1")
                .stored(PAT_456_SEEALSO_123)
                .expect(Allowed),
            // A link type that is not followed, a foreign base, a declared RelatedPerson: no.
            p("patient/Patient.r", "GET Patient/457")
                .stored(PAT_457_REFER_123)
                .expect(NotFound),
            p("patient/Patient.r", "GET Patient/458")
                .stored(PAT_458_ABS_123)
                .expect(Allowed),
            p("patient/Patient.r", "GET Patient/459")
                .stored(PAT_459_FOREIGN_123)
                .expect(NotFound),
            p("patient/Patient.r", "GET Patient/460")
                .stored(PAT_460_RELATEDPERSON)
                .expect(NotFound),
            // One way: 123's record naming 999 does not open 999.
            p("patient/Patient.r", "GET Patient/999")
                .stored(PAT_999)
                .expect(NotFound),
            // Missing and unlinked records answer alike.
            p("patient/Patient.r", "GET Patient/nothere").expect(Allowed),
            // Nothing of the linked patient's other data.
            p("patient/Observation.r", "GET Observation/o456")
                .stored(OBS_456)
                .expect(NotFound),
            p("patient/*.rs", "GET Patient")
                .stored(PAT_123)
                .stored(PAT_456_SEEALSO_123)
                .stored(PAT_457_REFER_123)
                .stored(PAT_999)
                .expect_visible(["Patient/123", "Patient/456"])
                .expect(Narrow),
            p("patient/*.rs", "GET Observation")
                .stored(OBS_456)
                .expect_visible(Vec::<String>::new())
                .expect(Narrow),
            // Searches naming the linked patient are still searches for another patient.
            p("patient/*.rs", "GET Patient?_id=456").expect(Forbidden),
            p("patient/*.rs", "GET Observation?subject=Patient/456").expect(Forbidden),
            // `$everything` and compartment searches never follow links.
            p("patient/*.rs", "GET Patient/456/$everything").expect(NotFound),
            p("patient/*.rs", "GET Patient/123/Patient")
                .stored(PAT_123)
                .stored(PAT_456_SEEALSO_123)
                .expect_visible(["Patient/123"])
                .expect(Narrow),
        ],
    );
}

#[test]
fn links_never_open_writes_and_cannot_be_edited_by_patient_tokens() {
    assert_table(
        &following(),
        &[
            // The linked record is not writable through the link.
            p("patient/Patient.ru", "PUT Patient/456")
                .stored(PAT_456_SEEALSO_123)
                .body(PAT_456_SEEALSO_123)
                .expect(Forbidden),
            // While links are followed, a patient token may not add, change or drop links...
            p("patient/Patient.u", "PUT Patient/123")
                .stored(PAT_123)
                .body(PAT_123_SEEALSO_999)
                .expect(Forbidden),
            p("patient/Patient.u", "PUT Patient/123")
                .stored(PAT_123_SEEALSO_999)
                .body(PAT_123)
                .expect(Forbidden),
            p("patient/Patient.c", "POST Patient")
                .body(PAT_456_SEEALSO_123)
                .expect(Forbidden),
            // ...but may update the rest of its own record.
            p("patient/Patient.u", "PUT Patient/123")
                .stored(PAT_123_SEEALSO_999)
                .body(PAT_123_SEEALSO_999)
                .expect(Allowed),
            // An unrestricted grant may edit links.
            Case::new("system/Patient.u")
                .request("PUT Patient/123")
                .stored(PAT_123)
                .body(PAT_123_SEEALSO_999)
                .expect(Allowed),
        ],
    );
}

/// `fhir_types::compartment::narrowing_params(Patient, Patient)` is `["_id", "link"]`: the
/// CompartmentDefinition's fact (a `link` search finds exactly the records linking to the
/// patient). Whether to use it is policy: the decision's narrowing adds `link` only when links
/// are followed, so a host applying the narrowing never widens a Patient search by default.
#[test]
fn patient_search_narrowing_uses_link_only_when_links_are_followed() {
    assert_eq!(
        narrowing_params(CompartmentType::Patient, ResourceType::Patient),
        ["_id", "link"]
    );
    let ctx = context("patient/Patient.rs", Some("123"), None);
    let narrowing = |a: &Authorizer| {
        let permit = a
            .decide(&ctx, &request("GET Patient"))
            .into_result()
            .unwrap();
        let n = permit.narrowing().unwrap().clone();
        (n.follows_patient_links(), n.to_query_params())
    };
    let pair = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
    assert_eq!(narrowing(&default()), (false, vec![pair("_id", "123")]));
    assert_eq!(
        narrowing(&following()),
        (true, vec![pair("_id", "123"), pair("link", "Patient/123")])
    );
    // Other types never gain `link`, and system scopes are not narrowed at all.
    let permit = following()
        .decide(
            &context("patient/Observation.rs", Some("123"), None),
            &request("GET Observation"),
        )
        .into_result()
        .unwrap();
    assert!(!permit.narrowing().unwrap().follows_patient_links());
    let system = following()
        .decide(
            &context("system/Patient.rs", None, None),
            &request("GET Patient"),
        )
        .into_result()
        .unwrap();
    assert!(system.narrowing().is_none());
}

/// A linked record arriving as an `_include` is kept only when links are followed.
#[test]
fn included_linked_records() {
    let bundle = |a: &Authorizer| -> Vec<String> {
        let ctx = context("patient/*.rs", Some("123"), None);
        let permit = a
            .decide(
                &ctx,
                &request("GET Observation?_include=Observation:subject"),
            )
            .into_result()
            .unwrap();
        let json = format!(
            r#"{{"resourceType":"Bundle","type":"searchset","entry":[{{"resource":{PAT_456_SEEALSO_123},"search":{{"mode":"include"}}}},{{"resource":{PAT_999},"search":{{"mode":"include"}}}}]}}"#
        );
        let Resource::Bundle(mut b) = resource(&json) else {
            unreachable!()
        };
        let b: &mut Bundle = &mut b;
        permit.filter_bundle(b);
        b.entry
            .iter()
            .filter_map(|e| e.resource.as_ref())
            .map(|r| r.id().unwrap_or("").to_owned())
            .collect()
    };
    let run = |a: Authorizer| {
        std::thread::Builder::new()
            .stack_size(32 << 20)
            .spawn(move || bundle(&a))
            .unwrap()
            .join()
            .unwrap()
    };
    assert_eq!(run(default()), Vec::<String>::new());
    assert_eq!(run(following()), ["456"]);
}
