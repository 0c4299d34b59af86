//! After the query: single resources, result Bundles, writes against stored versions, batch and
//! transaction Bundles, granular constraints (smart.md §12.2, §12.5, §12.6, §12.8, §12.12).

use smart_auth::decision::{
    Authorizer, BundleKind, DecisionPolicy, Denial, DenialReason, UserAccess,
};
use smart_auth::testing::policy::{assert_table, context, request, resource, Case, Expect};
use Expect::*;

const OBS_123: &str = r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123"}}"#;
const OBS_456: &str = r#"{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/456"}}"#;
const OBS_FOCUS_123: &str = r#"{"resourceType":"Observation","id":"o3","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/456"},"focus":[{"reference":"Patient/123"}]}"#;
const OBS_PERFORMER_123: &str = r#"{"resourceType":"Observation","id":"o4","status":"final","code":{"text":"x"},"performer":[{"reference":"Patient/123"}]}"#;
const OBS_ABS_OURS: &str = r#"{"resourceType":"Observation","id":"o5","status":"final","code":{"text":"x"},"subject":{"reference":"https://ehr.example/fhir/Patient/123"}}"#;
const OBS_ABS_FOREIGN: &str = r#"{"resourceType":"Observation","id":"o6","status":"final","code":{"text":"x"},"subject":{"reference":"https://evil.example/fhir/Patient/123"}}"#;
const OBS_LAB_123: &str = r#"{"resourceType":"Observation","id":"o7","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"text":"x"},"subject":{"reference":"Patient/123"}}"#;
const PAT_123: &str = r#"{"resourceType":"Patient","id":"123"}"#;
const PAT_LINKED: &str = r#"{"resourceType":"Patient","id":"789","link":[{"other":{"reference":"Patient/123"},"type":"seealso"}]}"#;
const PRACT: &str = r#"{"resourceType":"Practitioner","id":"dr"}"#;

/// Parsing a Bundle with the debug build of fhir-types needs more than the 2 MiB default test
/// thread stack (deep generated parser frames); run such tests on a larger one.
fn big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

fn authorizer() -> Authorizer {
    Authorizer::new(DecisionPolicy::default().with_base_url("https://ehr.example/fhir"))
}

fn p(scopes: &str, req: &str) -> Case {
    Case::new(scopes).patient("123").request(req)
}

#[test]
fn reads_check_the_stored_resource() {
    assert_table(
        &authorizer(),
        &[
            p("patient/Observation.r", "GET Observation/o1")
                .stored(OBS_123)
                .expect(Allow),
            p("patient/Observation.r", "GET Observation/o2")
                .stored(OBS_456)
                .expect(NotFound),
            // Observation.focus is not a compartment parameter: never confers membership.
            p("patient/Observation.r", "GET Observation/o3")
                .stored(OBS_FOCUS_123)
                .expect(NotFound),
            p("patient/Observation.r", "GET Observation/o4")
                .stored(OBS_PERFORMER_123)
                .expect(Allow),
            // Absolute references count only on exactly this server's base.
            p("patient/Observation.r", "GET Observation/o5")
                .stored(OBS_ABS_OURS)
                .expect(Allow),
            p("patient/Observation.r", "GET Observation/o6")
                .stored(OBS_ABS_FOREIGN)
                .expect(NotFound),
            // The fetched resource must be the one named in the URL.
            p("patient/Observation.r", "GET Observation/other")
                .stored(OBS_123)
                .expect(NotFound),
            p("patient/Observation.r", "GET Observation/o1/_history/1")
                .stored(OBS_123)
                .expect(Allow),
            // Patient.link is not followed by default.
            p("patient/Patient.r", "GET Patient/789")
                .stored(PAT_LINKED)
                .expect(NotFound),
            p("patient/Patient.r", "GET Patient/123")
                .stored(PAT_123)
                .expect(Allow),
            // Non-compartment types are outside every patient compartment unless shared.
            p("patient/Practitioner.r", "GET Practitioner/dr")
                .stored(PRACT)
                .expect(NotFound),
            Case::new("system/Observation.r")
                .request("GET Observation/o2")
                .stored(OBS_456)
                .expect(Allow),
            Case::new("user/Observation.r")
                .user("Patient/456")
                .request("GET Observation/o2")
                .stored(OBS_456)
                .expect(Allow),
            Case::new("user/Observation.r")
                .user("Patient/456")
                .request("GET Observation/o1")
                .stored(OBS_123)
                .expect(NotFound),
        ],
    );
    let mut shared = DecisionPolicy::default();
    shared.shared_types = vec![fhir_types::ResourceType::Practitioner];
    assert_table(
        &Authorizer::new(shared.clone()),
        &[
            p("patient/Practitioner.r", "GET Practitioner/dr")
                .stored(PRACT)
                .expect(Allow),
            p("patient/Practitioner.u", "PUT Practitioner/dr")
                .stored(PRACT)
                .body(PRACT)
                .expect(Forbidden),
            // Searching a shared type is as open as reading it: not narrowed to a compartment
            // the type cannot be in (which answered every search empty).
            p("patient/Practitioner.rs", "GET Practitioner?name=x").expect(Allow),
            p("patient/Practitioner.s", "GET Practitioner").expect(Allow),
            // Types that are not shared stay narrowed.
            p("patient/Observation.rs", "GET Observation?code=x").expect(Narrow),
        ],
    );
    let ctx = context(
        "patient/Observation.rs patient/Practitioner.rs patient/Organization.rs",
        Some("123"),
        None,
    );
    let decision = Authorizer::new(shared).decide(
        &ctx,
        &request("GET Observation?_include=Observation:performer"),
    );
    let permit = decision.permit().expect("allowed");
    assert!(permit
        .narrowing_for(fhir_types::ResourceType::Practitioner)
        .is_none());
    // Organization is not shared here: nothing of it is visible under patient/ scopes.
    let org = permit
        .narrowing_for(fhir_types::ResourceType::Organization)
        .expect("narrowed");
    assert!(org.alternatives().iter().all(|a| a.compartment().is_some()));
}

#[test]
fn not_found_is_one_answer() {
    // Every out-of-scope read yields the same denial, whatever the resource and however found.
    let a = authorizer();
    let ctx = context("patient/Observation.r patient/Patient.r", Some("123"), None);
    let mut denials: Vec<Denial> = Vec::new();
    for (line, stored) in [
        ("GET Observation/o2", OBS_456),
        ("GET Observation/o3", OBS_FOCUS_123),
        ("GET Observation/o6", OBS_ABS_FOREIGN),
    ] {
        let permit = a.decide(&ctx, &request(line)).into_result().unwrap();
        denials.push(permit.check_resource(&resource(stored)).unwrap_err());
    }
    denials.push(
        a.decide(&ctx, &request("GET Patient/456"))
            .into_result()
            .unwrap_err(),
    );
    denials.push(
        a.decide(&ctx, &request("GET Patient/nonexistent"))
            .into_result()
            .unwrap_err(),
    );
    for d in &denials {
        assert_eq!(*d, Denial::not_found());
        assert_eq!(d.status(), http::StatusCode::NOT_FOUND);
        assert_eq!(d.required_scope(), None);
        assert_eq!(d.to_string(), Denial::not_found().to_string());
    }
}

#[test]
fn search_results_are_filtered() {
    big_stack(search_results_are_filtered_body);
}

fn search_results_are_filtered_body() {
    let stored = [
        OBS_123,
        OBS_456,
        OBS_FOCUS_123,
        OBS_PERFORMER_123,
        OBS_ABS_OURS,
        OBS_ABS_FOREIGN,
        OBS_LAB_123,
    ];
    let mut case = p("patient/Observation.rs", "GET Observation?code=x");
    for s in stored {
        case = case.stored(s);
    }
    assert_table(
        &authorizer(),
        &[case.expect_visible([
            "Observation/o1",
            "Observation/o4",
            "Observation/o5",
            "Observation/o7",
        ])],
    );
    // Granular constraint: only laboratory observations, for read and search alike.
    let mut case = p("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory", "GET Observation");
    for s in stored {
        case = case.stored(s);
    }
    assert_table(
        &authorizer(),
        &[
            case.expect_visible(["Observation/o7"]),
            p(
                "patient/Observation.rs?category=laboratory",
                "GET Observation/o1",
            )
            .stored(OBS_123)
            .expect(NotFound),
            p(
                "patient/Observation.rs?category=laboratory",
                "GET Observation/o7",
            )
            .stored(OBS_LAB_123)
            .expect(Allow),
            // Two scopes are a union: the unconstrained read lets o1 through.
            p(
                "patient/Observation.rs?category=laboratory patient/Observation.r",
                "GET Observation/o1",
            )
            .stored(OBS_123)
            .expect(Allow),
            // r alone does not let search results through.
            p(
                "patient/Observation.rs?category=laboratory patient/Observation.r",
                "GET Observation",
            )
            .stored(OBS_123)
            .stored(OBS_LAB_123)
            .expect_visible(["Observation/o7"]),
        ],
    );
}

#[test]
fn bundle_filtering_keeps_total_honest_and_checks_includes() {
    big_stack(bundle_filtering_keeps_total_honest_and_checks_includes_body);
}

fn bundle_filtering_keeps_total_honest_and_checks_includes_body() {
    let a = authorizer();
    let ctx = context(
        "patient/Observation.rs patient/Patient.r",
        Some("123"),
        None,
    );
    let permit = a
        .decide(
            &ctx,
            &request("GET Observation?_include=Observation:subject:Patient"),
        )
        .into_result()
        .unwrap();
    let bundle = format!(
        r#"{{"resourceType":"Bundle","type":"searchset","total":3,"entry":[
            {{"resource":{OBS_123},"search":{{"mode":"match"}}}},
            {{"resource":{OBS_456},"search":{{"mode":"match"}}}},
            {{"resource":{PAT_123},"search":{{"mode":"include"}}}},
            {{"resource":{{"resourceType":"Patient","id":"456"}},"search":{{"mode":"include"}}}},
            {{"resource":{PRACT},"search":{{"mode":"include"}}}},
            {{"resource":{{"resourceType":"OperationOutcome","issue":[{{"severity":"information","code":"informational"}}]}},"search":{{"mode":"outcome"}}}}
        ]}}"#
    );
    let mut r = resource(&bundle);
    let report = permit.filter_result(&mut r).unwrap();
    assert_eq!((report.kept, report.removed), (3, 3));
    let fhir_types::Resource::Bundle(b) = &r else {
        panic!()
    };
    assert_eq!(
        b.total, None,
        "a filtered page must not keep the unfiltered total"
    );
    let ids: Vec<_> = b
        .entry
        .iter()
        .filter_map(|e| e.resource.as_ref())
        .map(|r| r.id().unwrap_or("-").to_owned())
        .collect();
    assert_eq!(ids, ["o1", "123", "-"]);

    // Nothing removed: total untouched.
    let mut r = resource(&format!(
        r#"{{"resourceType":"Bundle","type":"searchset","total":1,"entry":[{{"resource":{OBS_123},"search":{{"mode":"match"}}}}]}}"#
    ));
    permit.filter_result(&mut r).unwrap();
    let fhir_types::Resource::Bundle(b) = &r else {
        panic!()
    };
    assert_eq!(b.total.as_ref().and_then(|t| t.value), Some(1));

    // History: deleted entries (no resource) are dropped under compartment-limited grants.
    let permit = a
        .decide(&ctx, &request("GET Observation/_history"))
        .into_result()
        .unwrap();
    let mut r = resource(&format!(
        r#"{{"resourceType":"Bundle","type":"history","entry":[
        {{"resource":{OBS_123},"request":{{"method":"PUT","url":"Observation/o1"}}}},
        {{"request":{{"method":"DELETE","url":"Observation/o9"}}}}]}}"#
    ));
    assert_eq!(permit.filter_result(&mut r).unwrap().removed, 1);

    // $everything: confined to the patient, also under system scopes.
    let sys = context("system/*.rs", None, None);
    let permit = a
        .decide(&sys, &request("GET Patient/123/$everything"))
        .into_result()
        .unwrap();
    let mut r = resource(&format!(
        r#"{{"resourceType":"Bundle","type":"searchset","entry":[{{"resource":{OBS_123}}},{{"resource":{OBS_456}}},{{"resource":{PAT_123}}},{{"resource":{PAT_LINKED}}}]}}"#
    ));
    let report = permit.filter_result(&mut r).unwrap();
    assert_eq!((report.kept, report.removed), (2, 2));
}

/// A granular reference constraint names a resource on this server: an absolute reference
/// matches it only on exactly this server's base, as compartment membership does (another
/// server's `Patient/123` is another person).
#[test]
fn reference_constraints_match_local_references_only() {
    let scope = "system/Observation.r?subject=Patient/123";
    let absolute = "system/Observation.r?subject=https://ehr.example/fhir/Patient/123";
    let read = |scopes: &str, id: &str, stored: &str| {
        Case::new(scopes)
            .request(&format!("GET Observation/{id}"))
            .stored(stored)
    };
    assert_table(
        &authorizer(),
        &[
            read(scope, "o1", OBS_123).expect(Allow),
            read(scope, "o5", OBS_ABS_OURS).expect(Allow),
            read(scope, "o6", OBS_ABS_FOREIGN).expect(NotFound),
            read(scope, "o2", OBS_456).expect(NotFound),
            read("system/Observation.r?subject=123", "o6", OBS_ABS_FOREIGN).expect(NotFound),
            read("system/Observation.r?subject=123", "o5", OBS_ABS_OURS).expect(Allow),
            read(absolute, "o1", OBS_123).expect(Allow),
            read(absolute, "o5", OBS_ABS_OURS).expect(Allow),
            read(absolute, "o6", OBS_ABS_FOREIGN).expect(NotFound),
        ],
    );
}

/// A search of type Bundle answers with a searchset like any other search: its entries are
/// filtered, the searchset is not checked as if it were the stored Bundle read by id.
#[test]
fn bundle_type_searches_are_filtered() {
    big_stack(bundle_type_searches_are_filtered_body);
}

fn bundle_type_searches_are_filtered_body() {
    let a = authorizer();
    let ctx = context("system/Bundle.rs", None, None);
    let stored = r#"{"resourceType":"Bundle","id":"b1","type":"document"}"#;
    let composition = r#"{"resourceType":"Composition","id":"c1","status":"final","type":{"text":"x"},"date":"2020-01-01","author":[{"display":"x"}],"title":"t"}"#;
    let permit = a
        .decide(&ctx, &request("GET Bundle?_include=Bundle:composition"))
        .into_result()
        .unwrap();
    let mut r = resource(&format!(
        r#"{{"resourceType":"Bundle","type":"searchset","entry":[
            {{"resource":{stored},"search":{{"mode":"match"}}}},
            {{"resource":{composition},"search":{{"mode":"include"}}}}]}}"#
    ));
    let report = permit.filter_result(&mut r).unwrap();
    assert_eq!(
        (report.kept, report.removed),
        (1, 1),
        "Composition is not granted"
    );
    // A read of one Bundle still checks that Bundle.
    let permit = a
        .decide(&ctx, &request("GET Bundle/b1"))
        .into_result()
        .unwrap();
    assert!(permit.filter_result(&mut resource(stored)).is_ok());
    let other = r#"{"resourceType":"Bundle","id":"b2","type":"document"}"#;
    assert!(permit.filter_result(&mut resource(other)).is_err());
}

/// `filter_bundle_into` filters exactly like `filter_bundle` and hands back what it removed, in
/// Bundle order, after what the caller's `Vec` already held.
#[test]
fn bundle_filtering_hands_back_the_removed_entries() {
    let ctx = context("patient/Observation.rs", Some("123"), None);
    let permit = authorizer()
        .decide(&ctx, &request("GET Observation"))
        .into_result()
        .unwrap();
    let bodies = [
        OBS_456,
        OBS_123,
        OBS_ABS_FOREIGN,
        OBS_PERFORMER_123,
        OBS_FOCUS_123,
        OBS_ABS_OURS,
        PAT_123,
    ];
    let entries: Vec<String> = bodies
        .iter()
        .map(|r| format!(r#"{{"resource":{r},"search":{{"mode":"match"}}}}"#))
        .collect();
    let json = format!(
        r#"{{"resourceType":"Bundle","type":"searchset","total":7,"entry":[{}]}}"#,
        entries.join(",")
    );
    let fhir_types::Resource::Bundle(original) = resource(&json) else {
        panic!()
    };
    let mut simple = original.clone();
    let simple_report = permit.filter_bundle(&mut simple);

    let mut bundle = original.clone();
    let mut removed = vec![fhir_types::resources::BundleEntry::default()];
    let report = permit.filter_bundle_into(&mut bundle, &mut removed);
    assert_eq!(report, simple_report);
    assert_eq!((report.kept, report.removed), (3, 4));
    assert_eq!(bundle, simple);
    assert_eq!(bundle.total, None);
    let kept: Vec<_> = bundle
        .entry
        .iter()
        .map(|e| e.resource.as_ref().and_then(|r| r.id()).unwrap_or("-"))
        .collect();
    assert_eq!(kept, ["o1", "o4", "o5"]);
    let gone: Vec<_> = removed
        .iter()
        .map(|e| e.resource.as_ref().and_then(|r| r.id()).unwrap_or("-"))
        .collect();
    assert_eq!(gone, ["-", "o2", "o6", "o3", "123"]);
    // The handed-back entries are the removed entries themselves, whole.
    for e in &removed[1..] {
        assert!(original.entry.contains(e));
    }

    // Nothing removed: nothing handed back, total untouched.
    let mut bundle = original;
    bundle
        .entry
        .retain(|e| e.resource.as_ref().and_then(|r| r.id()) == Some("o1"));
    let mut removed = Vec::new();
    let report = permit.filter_bundle_into(&mut bundle, &mut removed);
    assert_eq!((report.kept, report.removed, removed.len()), (1, 0, 0));
    assert_eq!(bundle.total.as_ref().and_then(|t| t.value), Some(7));
}

#[test]
fn writes_check_new_and_stored_versions() {
    let obs_new_123 = OBS_123;
    let obs_moved = r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/456"}}"#;
    assert_table(&authorizer(), &[
        p("patient/Observation.c", "POST Observation").body(obs_new_123).expect(Allow),
        p("patient/Observation.c", "POST Observation").body(OBS_456).expect(Forbidden),
        p("patient/Observation.u", "PUT Observation/o1").stored(OBS_123).body(obs_new_123).expect(Allow),
        // Moving a resource into another compartment.
        p("patient/Observation.u", "PUT Observation/o1").stored(OBS_123).body(obs_moved).expect(Forbidden),
        // Hijacking another patient's resource with a body that claims ours (hapi-fhir#5558).
        p("patient/Observation.u", "PUT Observation/o2").stored(OBS_456).body(r#"{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123"}}"#).expect(Forbidden),
        // Body id must equal URL id; body type must equal URL type.
        p("patient/Observation.u", "PUT Observation/o9").body(obs_new_123).expect(BadRequest),
        p("patient/Observation.u", "PUT Observation/o1").body(PAT_123).expect(BadRequest),
        // Update-as-create (no stored version) of an in-compartment body.
        p("patient/Observation.u", "PUT Observation/o1").body(obs_new_123).expect(Allow),
        p("patient/Observation.d", "DELETE Observation/o2").stored(OBS_456).expect(Forbidden),
        p("patient/Observation.d", "DELETE Observation/o1").stored(OBS_123).expect(Allow),
        // Granular constraints bind writes too.
        p("patient/Observation.c?category=laboratory", "POST Observation").body(OBS_123).expect(Forbidden),
        p("patient/Observation.c?category=laboratory", "POST Observation").body(OBS_LAB_123).expect(Allow),
    ]);
}

#[test]
fn writes_confined_to_a_patient_never_reach_into_another_patients_compartment() {
    // In our compartment by `subject`, and in 456's by `performer` (or the other way round):
    // 456 would find it in their record, written, changed or deleted by 123's token.
    let ours_and_theirs = r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123"},"performer":[{"reference":"Patient/456"}]}"#;
    let theirs_and_ours = r#"{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/456"},"performer":[{"reference":"Patient/123"}]}"#;
    let twice_ours = r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123"},"performer":[{"reference":"https://ehr.example/fhir/Patient/123"}]}"#;
    let allergy = r#"{"resourceType":"AllergyIntolerance","id":"a1","patient":{"reference":"Patient/123"},"asserter":{"reference":"Patient/456"}}"#;
    let u = |req: &str| {
        Case::new("user/Observation.cruds")
            .user("Patient/123")
            .request(req)
    };
    assert_table(&authorizer(), &[
        p("patient/Observation.c", "POST Observation").body(ours_and_theirs).expect(Forbidden),
        p("patient/AllergyIntolerance.c", "POST AllergyIntolerance").body(allergy).expect(Forbidden),
        p("patient/Observation.u", "PUT Observation/o1").stored(OBS_123).body(ours_and_theirs).expect(Forbidden),
        p("patient/Observation.u", "PUT Observation/o2").stored(theirs_and_ours).body(r#"{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123"}}"#).expect(Forbidden),
        p("patient/Observation.d", "DELETE Observation/o2").stored(theirs_and_ours).expect(Forbidden),
        u("POST Observation").body(ours_and_theirs).expect(Forbidden),
        // Naming only ourselves, however often, is fine; reading a shared resource still is.
        p("patient/Observation.c", "POST Observation").body(twice_ours).expect(Allow),
        p("patient/Observation.r", "GET Observation/o2").stored(theirs_and_ours).expect(Allow),
        // Unconfined grants are not concerned.
        Case::new("system/Observation.c").request("POST Observation").body(ours_and_theirs).expect(Allow),
    ]);
}

/// A create stores a new resource under an id the server assigns (smart.md §12.12): the body's
/// `id` is dropped, so it never makes the new resource the compartment's own (`Patient/123`
/// created anew is some other Patient). Checked on the body as sent, a `patient/Patient.c`
/// token could create any number of Patient records by writing its own id into them.
#[test]
fn a_create_is_never_the_compartments_own_resource() {
    big_stack(a_create_is_never_the_compartments_own_resource_body);
}

fn a_create_is_never_the_compartments_own_resource_body() {
    let user = |scopes: &str, who: &str, req: &str| Case::new(scopes).user(who).request(req);
    assert_table(
        &authorizer(),
        &[
            p("patient/Patient.c", "POST Patient")
                .body(PAT_123)
                .expect(Forbidden),
            p("patient/*.cruds", "POST Patient")
                .body(PAT_123)
                .expect(Forbidden),
            p("patient/Patient.c", "POST Patient")
                .body(r#"{"resourceType":"Patient"}"#)
                .expect(Forbidden),
            user("user/Patient.c", "Patient/123", "POST Patient")
                .body(PAT_123)
                .expect(Forbidden),
            // Unconfined grants create Patients; an update keeps its id (the URL's).
            Case::new("system/Patient.c")
                .request("POST Patient")
                .body(PAT_123)
                .expect(Allow),
            p("patient/Patient.u", "PUT Patient/123")
                .stored(PAT_123)
                .body(PAT_123)
                .expect(Allow),
            p("patient/Patient.u", "PUT Patient/123")
                .body(PAT_123)
                .expect(Allow),
            // Other creates are unchanged, with or without an id in the body.
            p("patient/Observation.c", "POST Observation")
                .body(OBS_123)
                .expect(Allow),
        ],
    );
    // A transaction entry creating one is refused before anything is written.
    let ctx = context("patient/*.cruds", Some("123"), None);
    let fhir_types::Resource::Bundle(tx) = resource(&format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[
            {{"fullUrl":"urn:uuid:6f1e2c9a-0b7d-4e0a-9a51-2f7c4d8e1b3a","resource":{PAT_123},"request":{{"method":"POST","url":"Patient"}}}}]}}"#
    )) else {
        unreachable!()
    };
    let denial = authorizer().decide_bundle(&ctx, &tx).unwrap_err();
    assert_eq!(denial.reason(), DenialReason::TransactionEntryDenied);
}

/// A write of one instance (or a plain create) takes no search parameters, `_has`, includes or
/// `_type` (smart.md §12.1): the decision checks none of them, and a host that honours one
/// (HAPI's `DELETE ...?_cascade=delete` deletes every resource referencing the target, whoever's
/// it is) would act beyond what was decided. Result controls are still fine.
#[test]
fn instance_writes_take_no_search_parameters() {
    let body = OBS_123;
    assert_table(
        &authorizer(),
        &[
            p(
                "patient/Observation.d",
                "DELETE Observation/o1?_cascade=delete",
            )
            .stored(OBS_123)
            .expect(BadRequest),
            p(
                "patient/Observation.u",
                "PUT Observation/o1?subject=Patient/456",
            )
            .stored(OBS_123)
            .body(body)
            .expect(BadRequest),
            p("patient/Observation.u", "PATCH Observation/o1?code=1")
                .stored(OBS_123)
                .body(body)
                .expect(BadRequest),
            p(
                "patient/Observation.c",
                "POST Observation?subject=Patient/456",
            )
            .body(body)
            .expect(BadRequest),
            p(
                "patient/Observation.c",
                "POST Observation?_has:Group:member:_id=1",
            )
            .body(body)
            .expect(BadRequest),
            p(
                "patient/Observation.c",
                "POST Observation?_include=Observation:subject",
            )
            .body(body)
            .expect(BadRequest),
            Case::new("system/Observation.d")
                .request("DELETE Observation/o1?_cascade=delete")
                .stored(OBS_123)
                .expect(BadRequest),
            // Result controls, and conditional writes' criteria, as before.
            p(
                "patient/Observation.d",
                "DELETE Observation/o1?_format=json",
            )
            .stored(OBS_123)
            .expect(Allow),
            p("patient/Observation.c", "POST Observation?_pretty=true")
                .body(body)
                .expect(Allow),
            p("patient/Observation.uds", "DELETE Observation?code=1").expect(Narrow),
        ],
    );
}

#[test]
fn batch_and_transaction() {
    big_stack(batch_and_transaction_body);
}

fn batch_and_transaction_body() {
    let a = authorizer();
    let ctx = context("patient/Observation.cruds", Some("123"), None);
    let entries = format!(
        r#"[{{"request":{{"method":"GET","url":"Observation/o1"}}}},
            {{"resource":{OBS_123},"request":{{"method":"POST","url":"Observation"}}}},
            {{"resource":{OBS_456},"request":{{"method":"POST","url":"Observation"}}}},
            {{"request":{{"method":"GET","url":"Condition/c1"}}}},
            {{"request":{{"method":"GET","url":"Observation?patient=456"}}}},
            {{"request":{{"method":"GET","url":"https://evil.example/Observation/1"}}}}]"#
    );
    let batch = resource(&format!(
        r#"{{"resourceType":"Bundle","type":"batch","entry":{entries}}}"#
    ));
    let fhir_types::Resource::Bundle(batch) = batch else {
        panic!()
    };
    let d = a.decide_bundle(&ctx, &batch).unwrap();
    assert_eq!(d.kind, BundleKind::Batch);
    let got: Vec<_> = d
        .entries
        .iter()
        .map(|e| e.denial().map(|d| d.reason()))
        .collect();
    assert_eq!(
        got,
        [
            None,
            None,
            Some(DenialReason::WriteOutOfScope),
            Some(DenialReason::InsufficientScope),
            Some(DenialReason::OtherPatient),
            Some(DenialReason::InvalidBundle),
        ]
    );
    let tx = resource(&format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":{entries}}}"#
    ));
    let fhir_types::Resource::Bundle(tx) = tx else {
        panic!()
    };
    let err = a.decide_bundle(&ctx, &tx).unwrap_err();
    assert!(matches!(
        err.reason(),
        DenialReason::TransactionEntryDenied | DenialReason::InvalidBundle
    ));
    let ok = resource(&format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[{{"resource":{OBS_123},"request":{{"method":"POST","url":"Observation"}}}}]}}"#
    ));
    let fhir_types::Resource::Bundle(ok) = ok else {
        panic!()
    };
    assert_eq!(
        a.decide_bundle(&ctx, &ok).unwrap().kind,
        BundleKind::Transaction
    );
    let collection = resource(r#"{"resourceType":"Bundle","type":"collection"}"#);
    let fhir_types::Resource::Bundle(collection) = collection else {
        panic!()
    };
    assert_eq!(
        a.decide_bundle(&ctx, &collection).unwrap_err().reason(),
        DenialReason::InvalidBundle
    );
    // A transaction that reads another patient answers like a missing resource.
    let ctx = context("patient/Patient.r", Some("123"), None);
    let tx = resource(
        r#"{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"GET","url":"Patient/456"}}]}"#,
    );
    let fhir_types::Resource::Bundle(tx) = tx else {
        panic!()
    };
    assert!(a.decide_bundle(&ctx, &tx).unwrap_err().is_not_found());
}

#[test]
fn user_policy_hook() {
    let policy = DecisionPolicy::default().with_user_policy(
        |user: &smart_auth::decision::FhirUser, _: &smart_auth::AccessContext| {
            if user.id == "dr-house" {
                UserAccess::Compartment(fhir_types::ResourceType::Practitioner, user.id.clone())
            } else {
                UserAccess::Deny
            }
        },
    );
    let obs_by_house = r#"{"resourceType":"Observation","id":"o8","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/456"},"performer":[{"reference":"Practitioner/dr-house"}]}"#;
    assert_table(
        &Authorizer::new(policy),
        &[
            Case::new("user/Observation.rs")
                .user("Practitioner/dr-house")
                .request("GET Observation/o8")
                .stored(obs_by_house)
                .expect(Allow),
            Case::new("user/Observation.rs")
                .user("Practitioner/dr-house")
                .request("GET Observation/o2")
                .stored(OBS_456)
                .expect(NotFound),
            Case::new("user/Observation.rs")
                .user("Practitioner/dr-who")
                .request("GET Observation/o8")
                .stored(obs_by_house)
                .expect(Forbidden),
        ],
    );
}

/// smart.md §12.12: security labels the caller may not set are rejected. Labels say who may see
/// a resource; a grant confined to a compartment or constraints neither sets them on a create
/// nor changes or removes them on an update (it could declassify what it writes). A grant
/// unrestricted on the type may.
#[test]
fn only_unrestricted_grants_set_or_change_security_labels() {
    let labelled = |code: &str| {
        format!(
            r#"{{"resourceType":"Observation","id":"o1","meta":{{"security":[{{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"{code}"}}]}},"status":"final","code":{{"text":"x"}},"subject":{{"reference":"Patient/123"}}}}"#
        )
    };
    let (restricted, normal) = (labelled("R"), labelled("N"));
    assert_table(
        &authorizer(),
        &[
            // A create carrying a label.
            p("patient/Observation.c", "POST Observation")
                .body(&restricted)
                .expect(Forbidden),
            Case::new("system/Observation.c")
                .request("POST Observation")
                .body(&restricted)
                .expect(Allow),
            // An update that keeps, changes or drops the stored labels.
            p("patient/Observation.u", "PUT Observation/o1")
                .stored(&restricted)
                .body(&restricted)
                .expect(Allow),
            p("patient/Observation.u", "PUT Observation/o1")
                .stored(&restricted)
                .body(&normal)
                .expect(Forbidden),
            p("patient/Observation.u", "PUT Observation/o1")
                .stored(&restricted)
                .body(OBS_123)
                .expect(Forbidden),
            p("patient/Observation.u", "PUT Observation/o1")
                .stored(OBS_123)
                .body(&restricted)
                .expect(Forbidden),
            Case::new("system/Observation.u")
                .request("PUT Observation/o1")
                .stored(&restricted)
                .body(OBS_123)
                .expect(Allow),
            // Writes without labels are unchanged.
            p("patient/Observation.u", "PUT Observation/o1")
                .stored(OBS_123)
                .body(OBS_123)
                .expect(Allow),
        ],
    );
}
