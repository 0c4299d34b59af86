//! The generated search-parameter table, checked against `search-parameters.json` itself and
//! against hand-picked rows of the R4 spec.

use std::path::PathBuf;

use fhir_types::search::{search_param, search_params, system_search_param, SearchParamType};
use fhir_types::ResourceType;
use serde_json::Value;

fn definitions(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fhir-r4/definitions")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

fn ty(rt: &str) -> ResourceType {
    rt.parse().unwrap_or_else(|_| panic!("unknown type {rt}"))
}

#[test]
fn every_published_parameter_is_in_the_table_as_published() {
    let bundle = definitions("search-parameters.json");
    let mut checked = 0;
    for sp in bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
    {
        let code = sp["code"].as_str().unwrap();
        for base in sp["base"].as_array().unwrap() {
            let base = base.as_str().unwrap();
            let types: Vec<ResourceType> = match base {
                "Resource" | "DomainResource" => {
                    vec![ResourceType::Observation, ResourceType::Patient]
                }
                t => vec![ty(t)],
            };
            for rt in types {
                let def = search_param(rt, code).unwrap_or_else(|| panic!("{rt:?} {code} missing"));
                assert_eq!(
                    def.param_type.as_str(),
                    sp["type"].as_str().unwrap(),
                    "{rt:?} {code}"
                );
                assert_eq!(def.expression, sp["expression"].as_str(), "{rt:?} {code}");
                assert_eq!(def.url, sp["url"].as_str(), "{rt:?} {code}");
                let mut want: Vec<ResourceType> = sp["target"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| ty(t.as_str().unwrap()))
                    .collect();
                let mut got = def.targets.to_vec();
                want.sort();
                got.sort();
                assert_eq!(got, want, "{rt:?} {code} targets");
                for p in def.paths {
                    let rooted =
                        p.path == rt.as_str() || p.path.starts_with(&format!("{}.", rt.as_str()));
                    assert!(rooted, "{rt:?} {code}: {}", p.path);
                }
                if def.expression.is_some() && def.exact {
                    assert!(
                        !def.paths.is_empty(),
                        "{rt:?} {code}: exact but selects nothing"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1400, "only {checked} checked");
}

#[test]
fn every_type_has_the_common_parameters_sorted() {
    for rt in ResourceType::ALL {
        let params = search_params(rt);
        assert!(
            params.windows(2).all(|w| w[0].code < w[1].code),
            "{rt:?} not sorted"
        );
        for code in [
            "_id",
            "_lastUpdated",
            "_tag",
            "_profile",
            "_security",
            "_source",
            "_content",
            "_list",
            "_has",
        ] {
            assert!(search_param(rt, code).is_some(), "{rt:?} lacks {code}");
        }
        let id = search_param(rt, "_id").unwrap();
        assert_eq!(id.paths[0].path, format!("{}.id", rt.as_str()));
        assert_eq!(
            search_param(rt, "_tag").unwrap().paths[0].path,
            format!("{}.meta.tag", rt.as_str())
        );
        let domain = !matches!(
            rt,
            ResourceType::Bundle | ResourceType::Binary | ResourceType::Parameters
        );
        assert_eq!(
            search_param(rt, "_text").is_some(),
            domain,
            "{rt:?} _text is for DomainResources only"
        );
        assert!(
            search_param(rt, "_type").is_none(),
            "_type belongs to system search"
        );
    }
    assert_eq!(
        system_search_param("_type").unwrap().param_type,
        SearchParamType::Token
    );
    assert_eq!(
        system_search_param("_lastUpdated").unwrap().paths[0].path,
        "Resource.meta.lastUpdated"
    );
    assert!(system_search_param("subject").is_none());
}

/// (type, code, type, [(path, of_type, resolves_to)], exact)
type Row = (
    ResourceType,
    &'static str,
    SearchParamType,
    &'static [(&'static str, Option<&'static str>, Option<ResourceType>)],
    bool,
);

#[test]
fn expressions_map_to_element_paths() {
    use ResourceType as R;
    use SearchParamType as T;
    let rows: &[Row] = &[
        (
            R::Observation,
            "subject",
            T::Reference,
            &[("Observation.subject", None, None)],
            true,
        ),
        (
            R::Observation,
            "patient",
            T::Reference,
            &[("Observation.subject", None, Some(R::Patient))],
            true,
        ),
        (
            R::Observation,
            "performer",
            T::Reference,
            &[("Observation.performer", None, None)],
            true,
        ),
        (
            R::CarePlan,
            "performer",
            T::Reference,
            &[("CarePlan.activity.detail.performer", None, None)],
            true,
        ),
        (
            R::Coverage,
            "policy-holder",
            T::Reference,
            &[("Coverage.policyHolder", None, None)],
            true,
        ),
        (
            R::Claim,
            "payee",
            T::Reference,
            &[("Claim.payee.party", None, None)],
            true,
        ),
        (
            R::Group,
            "member",
            T::Reference,
            &[("Group.member.entity", None, None)],
            true,
        ),
        (
            R::Patient,
            "link",
            T::Reference,
            &[("Patient.link.other", None, None)],
            true,
        ),
        (
            R::Provenance,
            "patient",
            T::Reference,
            &[("Provenance.target", None, Some(R::Patient))],
            true,
        ),
        (
            R::AuditEvent,
            "patient",
            T::Reference,
            &[
                ("AuditEvent.agent.who", None, Some(R::Patient)),
                ("AuditEvent.entity.what", None, Some(R::Patient)),
            ],
            true,
        ),
        (
            R::MedicationRequest,
            "medication",
            T::Reference,
            &[("MedicationRequest.medication[x]", Some("Reference"), None)],
            true,
        ),
        (
            R::MedicationRequest,
            "code",
            T::Token,
            &[(
                "MedicationRequest.medication[x]",
                Some("CodeableConcept"),
                None,
            )],
            true,
        ),
        (
            R::DeviceRequest,
            "device",
            T::Reference,
            &[("DeviceRequest.code[x]", Some("Reference"), None)],
            true,
        ),
        (
            R::Consent,
            "actor",
            T::Reference,
            &[("Consent.provision.actor.reference", None, None)],
            true,
        ),
        (
            R::Condition,
            "onset-date",
            T::Date,
            &[
                ("Condition.onset[x]", Some("dateTime"), None),
                ("Condition.onset[x]", Some("Period"), None),
            ],
            true,
        ),
        (
            R::InsurancePlan,
            "name",
            T::String,
            &[
                ("InsurancePlan.name", None, None),
                ("InsurancePlan.alias", None, None),
            ],
            true,
        ),
        (
            R::Bundle,
            "composition",
            T::Reference,
            &[("Bundle.entry.resource", None, None)],
            false,
        ),
        (
            R::Patient,
            "deceased",
            T::Token,
            &[("Patient.deceased[x]", None, None)],
            false,
        ),
        (
            R::Patient,
            "email",
            T::Token,
            &[("Patient.telecom", None, None)],
            false,
        ),
    ];
    for &(rt, code, param_type, paths, exact) in rows {
        let def = search_param(rt, code).unwrap_or_else(|| panic!("{rt:?} {code}"));
        assert_eq!(def.param_type, param_type, "{rt:?} {code}");
        let got: Vec<_> = def
            .paths
            .iter()
            .map(|p| (p.path, p.of_type, p.resolves_to))
            .collect();
        assert_eq!(got, paths, "{rt:?} {code}");
        assert_eq!(def.exact, exact, "{rt:?} {code}");
    }
}

#[test]
fn unknown_codes_and_modifiers_are_not_parameters() {
    assert!(search_param(ResourceType::Observation, "subject:Patient").is_none());
    assert!(search_param(ResourceType::Observation, "subject.name").is_none());
    assert!(search_param(ResourceType::Observation, "Subject").is_none());
    assert!(search_param(ResourceType::Observation, "").is_none());
    assert!(
        search_param(ResourceType::Observation, "_filter").is_none(),
        "not an R4 parameter"
    );
}

#[test]
fn reference_parameters_that_may_name_a_patient() {
    let may = |rt, code| {
        search_param(rt, code)
            .unwrap()
            .may_reference(ResourceType::Patient)
    };
    assert!(may(ResourceType::Observation, "subject"));
    assert!(may(ResourceType::Observation, "patient"));
    assert!(may(ResourceType::Observation, "performer"));
    assert!(
        may(ResourceType::Observation, "focus"),
        "focus targets Any: a query may name a Patient"
    );
    assert!(!may(ResourceType::Observation, "encounter"));
    assert!(!may(ResourceType::Observation, "code"), "a token parameter");
}
