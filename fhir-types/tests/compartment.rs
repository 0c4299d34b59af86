//! Compartment membership rules, one row per rule (smart.md §12.2; threats.md §3 class 13),
//! and the generated tables checked against the CompartmentDefinitions themselves.

use std::collections::BTreeSet;
use std::path::PathBuf;

use fhir_types::compartment::{
    members, memberships_of, narrowing_params, params, CompartmentType, Membership, ReferenceParts,
    Via,
};
use fhir_types::search::search_param;
use fhir_types::ResourceType;
use serde_json::Value;

use CompartmentType as C;
use ResourceType as R;

/// A reference at an element path: (path, Reference.reference, Reference.type).
type Ref = (&'static str, Option<&'static str>, Option<&'static str>);

fn ids(c: C, rt: R, own_id: Option<&str>, refs: &[Ref], base: Option<&str>) -> BTreeSet<String> {
    let refs = refs
        .iter()
        .map(|&(path, reference, type_)| (path, ReferenceParts { reference, type_ }));
    memberships_of(c, rt, own_id, refs, base)
        .into_iter()
        .map(|m| m.id)
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

struct Row {
    rule: &'static str,
    compartment: C,
    resource_type: R,
    own_id: Option<&'static str>,
    refs: &'static [Ref],
    expected: &'static [&'static str],
}

const fn row(
    rule: &'static str,
    compartment: C,
    resource_type: R,
    refs: &'static [Ref],
    expected: &'static [&'static str],
) -> Row {
    Row {
        rule,
        compartment,
        resource_type,
        own_id: Some("self"),
        refs,
        expected,
    }
}

const P1: Option<&str> = Some("Patient/p1");
const P2: Option<&str> = Some("Patient/p2");

#[rustfmt::skip]
const ROWS: &[Row] = &[
    row("Observation via subject", C::Patient, R::Observation, &[("Observation.subject", P1, None)], &["p1"]),
    row("Observation via performer", C::Patient, R::Observation, &[("Observation.performer", P2, None)], &["p2"]),
    row("Observation via both", C::Patient, R::Observation, &[("Observation.subject", P1, None), ("Observation.performer", P2, None)], &["p1", "p2"]),
    row("Observation.focus never confers membership", C::Patient, R::Observation, &[("Observation.focus", P1, None)], &[]),
    row("Observation.note.author is not a compartment param", C::Patient, R::Observation, &[("Observation.note.author[x]", P1, None)], &[]),
    row("reference to a Group is not to a Patient", C::Patient, R::Observation, &[("Observation.subject", Some("Group/p1"), None)], &[]),
    row("versioned reference compares type and id", C::Patient, R::Observation, &[("Observation.subject", Some("Patient/p1/_history/3"), None)], &["p1"]),
    row("Reference.type agreeing with the literal", C::Patient, R::Observation, &[("Observation.subject", P1, Some("Patient"))], &["p1"]),
    row("Reference.type contradicting the literal: fail closed", C::Patient, R::Observation, &[("Observation.subject", P1, Some("Group"))], &[]),
    row("identifier-only (logical) reference", C::Patient, R::Observation, &[("Observation.subject", None, Some("Patient"))], &[]),
    row("contained reference", C::Patient, R::Observation, &[("Observation.subject", Some("#p1"), None)], &[]),
    row("urn:uuid reference", C::Patient, R::Observation, &[("Observation.subject", Some("urn:uuid:9d7b1c2e-1f1e-4b8e-9d55-0c6f6c1b1f00"), None)], &[]),
    row("absolute reference without a known base", C::Patient, R::Observation, &[("Observation.subject", Some("https://ehr.example/fhir/Patient/p1"), None)], &[]),
    row("case variant of the type", C::Patient, R::Observation, &[("Observation.subject", Some("patient/p1"), None)], &[]),
    row("Coverage via beneficiary", C::Patient, R::Coverage, &[("Coverage.beneficiary", P1, None)], &["p1"]),
    row("Coverage via subscriber", C::Patient, R::Coverage, &[("Coverage.subscriber", P1, None)], &["p1"]),
    row("Coverage via payor", C::Patient, R::Coverage, &[("Coverage.payor", P1, None)], &["p1"]),
    row("Coverage via policy-holder", C::Patient, R::Coverage, &[("Coverage.policyHolder", P2, None)], &["p2"]),
    row("a Patient is in its own compartment", C::Patient, R::Patient, &[], &["self"]),
    row("Patient.link.other counts", C::Patient, R::Patient, &[("Patient.link.other", P2, None)], &["p2", "self"]),
    row("Patient.generalPractitioner is not a Patient param", C::Patient, R::Patient, &[("Patient.generalPractitioner", P2, None)], &["self"]),
    row("Patient in a Practitioner compartment via general-practitioner", C::Practitioner, R::Patient, &[("Patient.generalPractitioner", Some("Practitioner/d1"), None)], &["d1"]),
    row("Patient.link to a RelatedPerson: RelatedPerson compartment", C::RelatedPerson, R::Patient, &[("Patient.link.other", Some("RelatedPerson/r1"), None)], &["r1"]),
    row("Encounter via subject (param patient)", C::Patient, R::Encounter, &[("Encounter.subject", P1, None)], &["p1"]),
    row("Encounter whose subject is a Group", C::Patient, R::Encounter, &[("Encounter.subject", Some("Group/g1"), None)], &[]),
    row("an Encounter is in its own compartment", C::Encounter, R::Encounter, &[], &["self"]),
    row("Observation in an Encounter compartment", C::Encounter, R::Observation, &[("Observation.encounter", Some("Encounter/e1"), None)], &["e1"]),
    row("Encounter in a Practitioner compartment", C::Practitioner, R::Encounter, &[("Encounter.participant.individual", Some("Practitioner/d1"), None)], &["d1"]),
    row("DiagnosticReport via subject", C::Patient, R::DiagnosticReport, &[("DiagnosticReport.subject", P1, None)], &["p1"]),
    row("DiagnosticReport.performer is not a Patient param", C::Patient, R::DiagnosticReport, &[("DiagnosticReport.performer", P1, None)], &[]),
    row("Provenance.target to a Patient", C::Patient, R::Provenance, &[("Provenance.target", P1, None)], &["p1"]),
    row("Provenance.target to an Observation", C::Patient, R::Provenance, &[("Provenance.target", Some("Observation/o1"), None)], &[]),
    row("Provenance.agent.who is not a Patient param", C::Patient, R::Provenance, &[("Provenance.agent.who", P1, None)], &[]),
    row("Provenance in a Device compartment via agent", C::Device, R::Provenance, &[("Provenance.agent.who", Some("Device/dev1"), None)], &["dev1"]),
    row("Claim via patient", C::Patient, R::Claim, &[("Claim.patient", P1, None)], &["p1"]),
    row("Claim via payee", C::Patient, R::Claim, &[("Claim.payee.party", P2, None)], &["p2"]),
    row("Claim.provider is not a Patient param", C::Patient, R::Claim, &[("Claim.provider", P1, None)], &[]),
    row("AllergyIntolerance via patient", C::Patient, R::AllergyIntolerance, &[("AllergyIntolerance.patient", P1, None)], &["p1"]),
    row("AllergyIntolerance via recorder", C::Patient, R::AllergyIntolerance, &[("AllergyIntolerance.recorder", P1, None)], &["p1"]),
    row("AllergyIntolerance via asserter", C::Patient, R::AllergyIntolerance, &[("AllergyIntolerance.asserter", P2, None)], &["p2"]),
    row("CarePlan via subject", C::Patient, R::CarePlan, &[("CarePlan.subject", P1, None)], &["p1"]),
    row("CarePlan via activity performer", C::Patient, R::CarePlan, &[("CarePlan.activity.detail.performer", P2, None)], &["p2"]),
    row("CarePlan.author is not a Patient param", C::Patient, R::CarePlan, &[("CarePlan.author", P1, None)], &[]),
    row("Consent via patient", C::Patient, R::Consent, &[("Consent.patient", P1, None)], &["p1"]),
    row("Consent.performer is not a Patient param", C::Patient, R::Consent, &[("Consent.performer", P1, None)], &[]),
    row("Consent.provision.actor.reference is not a Patient param", C::Patient, R::Consent, &[("Consent.provision.actor.reference", P1, None)], &[]),
    row("Group via member", C::Patient, R::Group, &[("Group.member.entity", P1, None), ("Group.member.entity", P2, None)], &["p1", "p2"]),
    row("Group.managingEntity is not a param", C::Patient, R::Group, &[("Group.managingEntity", P1, None)], &[]),
    row("AuditEvent via agent.who", C::Patient, R::AuditEvent, &[("AuditEvent.agent.who", P1, None)], &["p1"]),
    row("AuditEvent via entity.what", C::Patient, R::AuditEvent, &[("AuditEvent.entity.what", P2, None)], &["p2"]),
    row("MedicationRequest via subject", C::Patient, R::MedicationRequest, &[("MedicationRequest.subject", P1, None)], &["p1"]),
    row("MedicationRequest.reported[x] is not a param", C::Patient, R::MedicationRequest, &[("MedicationRequest.reported[x]", P1, None)], &[]),
    row("DeviceRequest in a Device compartment via code[x]", C::Device, R::DeviceRequest, &[("DeviceRequest.code[x]", Some("Device/dev1"), None)], &["dev1"]),
    row("Person via link target to a Patient", C::Patient, R::Person, &[("Person.link.target", P1, None)], &["p1"]),
    row("ResearchSubject via individual", C::Patient, R::ResearchSubject, &[("ResearchSubject.individual", P1, None)], &["p1"]),
    row("Practitioner is never in a Patient compartment", C::Patient, R::Practitioner, &[("Practitioner.qualification.issuer", P1, None)], &[]),
    row("a Device is in its own compartment", C::Device, R::Device, &[], &["self"]),
];

#[test]
fn membership_rules() {
    for r in ROWS {
        let got = ids(r.compartment, r.resource_type, r.own_id, r.refs, None);
        assert_eq!(got, set(r.expected), "{}", r.rule);
    }
}

#[test]
fn absolute_references_count_only_with_the_hosts_own_base() {
    let abs: &[Ref] = &[(
        "Observation.subject",
        Some("https://ehr.example/fhir/Patient/p1"),
        None,
    )];
    let own = Some("https://ehr.example/fhir");
    assert_eq!(
        ids(C::Patient, R::Observation, None, abs, own),
        set(&["p1"])
    );
    assert_eq!(
        ids(
            C::Patient,
            R::Observation,
            None,
            abs,
            Some("https://other.example/fhir")
        ),
        set(&[])
    );
    assert_eq!(ids(C::Patient, R::Observation, None, abs, None), set(&[]));
}

#[test]
fn an_invalid_own_id_is_not_a_compartment() {
    assert_eq!(
        ids(C::Patient, R::Patient, Some("bad id"), &[], None),
        set(&[])
    );
    assert_eq!(ids(C::Patient, R::Patient, None, &[], None), set(&[]));
    assert_eq!(
        ids(C::Patient, R::Observation, Some("p1"), &[], None),
        set(&[]),
        "only the defining type"
    );
}

#[test]
fn memberships_say_why() {
    let refs = [
        (
            "Patient.link.other",
            ReferenceParts {
                reference: P2,
                type_: None,
            },
        ),
        (
            "Patient.link.other",
            ReferenceParts {
                reference: P2,
                type_: None,
            },
        ),
    ];
    let got = memberships_of(C::Patient, R::Patient, Some("p1"), refs, None);
    let link = Via::Param {
        param: "link",
        path: "Patient.link.other",
    };
    assert_eq!(
        got,
        vec![
            Membership {
                compartment: C::Patient,
                id: "p1".into(),
                via: Via::Itself
            },
            Membership {
                compartment: C::Patient,
                id: "p2".into(),
                via: link
            },
        ],
        "sorted, duplicates removed; the decision layer can drop `link` memberships"
    );
}

#[test]
fn narrowing_params_for_searches() {
    assert_eq!(params(C::Patient, R::Observation), ["subject", "performer"]);
    assert_eq!(
        narrowing_params(C::Patient, R::Observation),
        ["subject", "performer"]
    );
    assert_eq!(
        narrowing_params(C::Patient, R::Coverage),
        ["policy-holder", "subscriber", "beneficiary", "payor"]
    );
    assert_eq!(narrowing_params(C::Patient, R::Patient), ["_id", "link"]);
    assert_eq!(narrowing_params(C::Encounter, R::Encounter), ["_id"]);
    assert_eq!(narrowing_params(C::Device, R::Device), ["_id"]);
    assert!(narrowing_params(C::Patient, R::Practitioner).is_empty());
    assert!(narrowing_params(C::Patient, R::Medication).is_empty());
    assert!(
        params(C::Encounter, R::Encounter).is_empty(),
        "`{{def}}` is not a search parameter"
    );
}

fn compartment_definition(c: C) -> Value {
    let name = format!(
        "compartmentdefinition-{}.json",
        c.as_str().to_ascii_lowercase()
    );
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fhir-r4/definitions")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn tables_match_the_compartment_definitions() {
    for c in C::ALL {
        let cd = compartment_definition(c);
        assert_eq!(cd["code"], c.as_str());
        let mut expected_members = BTreeSet::new();
        for entry in cd["resource"].as_array().unwrap() {
            let rt: R = entry["code"].as_str().unwrap().parse().unwrap();
            let listed: Vec<&str> = entry["param"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p.as_str().unwrap())
                .collect();
            let want: Vec<&str> = listed.iter().copied().filter(|p| *p != "{def}").collect();
            assert_eq!(params(c, rt), want.as_slice(), "{c} {rt:?}");
            if !listed.is_empty() {
                expected_members.insert(rt);
            }
        }
        expected_members.insert(c.resource_type());
        let got: BTreeSet<R> = members(c).iter().copied().collect();
        assert_eq!(got, expected_members, "{c} members");
    }
    assert_eq!(members(C::Patient).len(), 66);
}

/// Every membership parameter resolves to at least one element path that can hold a reference
/// to the compartment's type; otherwise the member type could never be in the compartment.
#[test]
fn every_member_type_has_a_resolved_path() {
    for c in C::ALL {
        for &rt in members(c) {
            if rt == c.resource_type() && params(c, rt).is_empty() {
                continue;
            }
            let mut usable = 0;
            for &p in params(c, rt) {
                let def = search_param(rt, p)
                    .unwrap_or_else(|| panic!("{c} {rt:?} {p}: no such parameter"));
                assert!(
                    def.exact,
                    "{c} {rt:?} {p}: membership rests on an inexact expression"
                );
                assert!(def.targets.contains(&c.resource_type()), "{c} {rt:?} {p}");
                usable += def
                    .paths
                    .iter()
                    .filter(|s| s.resolves_to.is_none_or(|t| t == c.resource_type()))
                    .count();
            }
            assert!(usable > 0, "{c} {rt:?}: no resolved path");
        }
    }
}

#[test]
fn compartment_type_names() {
    for c in C::ALL {
        assert_eq!(c.as_str().parse::<C>(), Ok(c));
        assert_eq!(c.to_string(), c.resource_type().as_str());
        assert_eq!(C::for_resource_type(c.resource_type()), Some(c));
    }
    assert!("patient".parse::<C>().is_err());
    assert_eq!(C::for_resource_type(R::Observation), None);
}

/// The same rules through the typed model: JSON in, `Resource::visit_references` paths out.
#[test]
fn membership_of_parsed_resources() {
    use fhir_types::compartment::{
        all_compartment_ids, compartment_ids, compartment_ids_at, in_compartment,
    };
    use fhir_types::json::parse_resource;

    let parse =
        |json: &str| parse_resource(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"));
    let careplan = parse(
        r#"{"resourceType":"CarePlan","id":"c","status":"active","intent":"plan",
            "subject":{"reference":"Patient/p1"},
            "author":{"reference":"Patient/p3"},
            "activity":[{"detail":{"status":"scheduled","performer":[{"reference":"Patient/p2"},{"reference":"Practitioner/d1"}]}}]}"#,
    );
    assert_eq!(
        compartment_ids(C::Patient, &careplan),
        set(&["p1", "p2"]),
        "author is not a param"
    );
    assert_eq!(compartment_ids(C::Practitioner, &careplan), set(&["d1"]));
    assert!(in_compartment(C::Patient, "p2", &careplan));
    assert!(!in_compartment(C::Patient, "p3", &careplan));

    let spoof = parse(
        r##"{"resourceType":"Observation","status":"final","code":{"text":"x"},
            "contained":[{"resourceType":"Patient","id":"p1"}],
            "subject":{"reference":"#p1"},
            "performer":[{"type":"Patient","identifier":{"value":"p1"}}],
            "focus":[{"reference":"Patient/p9"}]}"##,
    );
    assert!(
        all_compartment_ids(&spoof).is_empty(),
        "contained, logical and focus references: outside"
    );

    let absolute = parse(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},
            "subject":{"reference":"https://ehr.example/fhir/Patient/p1/_history/2"}}"#,
    );
    assert!(compartment_ids(C::Patient, &absolute).is_empty());
    assert_eq!(
        compartment_ids_at(C::Patient, &absolute, "https://ehr.example/fhir/"),
        set(&["p1"])
    );
    assert!(compartment_ids_at(C::Patient, &absolute, "https://evil.example/fhir").is_empty());

    let reported = parse(
        r#"{"resourceType":"MedicationRequest","status":"active","intent":"order",
            "medicationCodeableConcept":{"text":"x"},
            "subject":{"reference":"Group/g"},
            "reportedReference":{"reference":"Patient/p1"}}"#,
    );
    assert!(
        compartment_ids(C::Patient, &reported).is_empty(),
        "reported[x] is not a param"
    );

    let device_request = parse(
        r#"{"resourceType":"DeviceRequest","status":"active","intent":"order",
            "codeReference":{"reference":"Device/dev1"},
            "subject":{"reference":"Patient/p1"}}"#,
    );
    let all = all_compartment_ids(&device_request);
    assert_eq!(
        all.get(&C::Device),
        Some(&set(&["dev1"])),
        "via (DeviceRequest.code as Reference)"
    );
    assert_eq!(all.get(&C::Patient), Some(&set(&["p1"])));

    let patient = parse(
        r#"{"resourceType":"Patient","id":"p1","link":[{"other":{"reference":"Patient/p2"},"type":"seealso"}]}"#,
    );
    assert_eq!(compartment_ids(C::Patient, &patient), set(&["p1", "p2"]));
}
