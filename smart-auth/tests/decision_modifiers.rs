//! Table tests for search modifiers in the pre-query decision: which modifiers R4 defines for
//! each parameter type (the rest are a 400), and which values name a patient to compare with
//! the launch patient (smart.md §12.5; threats.md: never ignore an unknown modifier).

use smart_auth::decision::Authorizer;
use smart_auth::testing::policy::{assert_table, Case, Expect};
use Expect::*;

mod table_rows;
use table_rows::{p, s, u};

#[test]
fn missing_modifier_names_no_patient() {
    let a = Authorizer::default();
    let obs = "patient/Observation.rs";
    assert_table(
        &a,
        &[
            p(obs, "GET Observation?subject:missing=true", Narrow),
            p(obs, "GET Observation?subject:missing=false", Narrow),
            p(obs, "GET Observation?patient:missing=true", Narrow),
            p(
                "patient/Patient.rs",
                "GET Patient?_id:missing=false",
                Narrow,
            ),
            Case::new(obs)
                .patient("true")
                .request("GET Observation?subject:missing=false")
                .expect(Narrow),
            p(
                obs,
                "GET Observation?subject:missing=Patient/456",
                BadRequest,
            ),
            p(obs, "GET Observation?subject:missing=yes", BadRequest),
            // Naming another patient is still refused as such.
            p(obs, "GET Observation?subject=Patient/456", Forbidden),
        ],
    );
    let malformed = p(obs, "GET Observation?subject:missing=1", BadRequest).run(&a);
    assert_eq!(malformed.unwrap().reason, Some("unsupported_parameter"));
}

/// Under `patient/` scopes a value is compared with the launch patient only when it is a
/// reference or an id; what it is depends on the modifier (FHIR R4 search.html). A value of
/// `:identifier` (a token on `Reference.identifier`) was read as a patient id, so
/// `subject:identifier=456` was refused as naming another patient although it names none: it
/// is narrowed to the compartment like any criterion. A modifier FHIR does not define for a
/// reference parameter is a malformed search, not a guess.
#[test]
fn reference_modifiers_compare_only_references_with_the_patient() {
    let a = Authorizer::default();
    let obs = "patient/Observation.rs";
    let pat = "patient/Patient.rs";
    let rows = [
        // No modifier, a type, `:above` or `:below`: a reference or an id, compared.
        (obs, "subject=456", Forbidden),
        (obs, "subject=123", Narrow),
        (obs, "subject:Patient=456", Forbidden),
        (obs, "subject:Patient=Patient/456", Forbidden),
        (obs, "subject:Patient=123", Narrow),
        (obs, "subject:Group=456", Narrow),
        (obs, "subject:below=Patient/456", Forbidden),
        (obs, "subject:above=456", Forbidden),
        (obs, "subject:below=Patient/123", Narrow),
        // `:identifier`: a token, with or without a system; never an id.
        (obs, "subject:identifier=456", Narrow),
        (obs, "subject:identifier=123", Narrow),
        (obs, "subject:identifier=|456", Narrow),
        (
            obs,
            "subject:identifier=http://hospital.example/mrn|456",
            Narrow,
        ),
        (obs, "patient:identifier=456,789", Narrow),
        (obs, "performer:identifier=456", Narrow),
        // `:text` (R5: `Reference.display`): text, never an id.
        (obs, "subject:text=456", Narrow),
        (obs, "subject:text=Patient/456", Narrow),
        // `:missing`: a boolean.
        (obs, "subject:missing=true", Narrow),
        // Not defined for reference parameters (`:not` is a token modifier), or not a type
        // (types are case-sensitive): refused whatever the value.
        (obs, "subject:not=Patient/456", BadRequest),
        (obs, "subject:not=Patient/123", BadRequest),
        (obs, "subject:exact=456", BadRequest),
        (obs, "subject:in=http://example.org/vs", BadRequest),
        (obs, "subject:patient=123", BadRequest),
        (obs, "performer:not=Practitioner/9", BadRequest),
        // `Patient?_id` is a token: `:not` excludes an id, `:in` and `:not-in` name a value
        // set, `:text` and `:of-type` match text or a typed identifier; none searches for it.
        (pat, "_id=456", Forbidden),
        (pat, "_id:above=456", Forbidden),
        (pat, "_id:not=456", Narrow),
        (pat, "_id:not=123", Narrow),
        (pat, "_id:in=http://example.org/vs", Narrow),
        (pat, "_id:not-in=http://example.org/vs", Narrow),
        (pat, "_id:text=456", Narrow),
        (pat, "_id:of-type=http://example.org|MR|456", Narrow),
    ];
    let cases: Vec<Case> = rows
        .iter()
        .map(|(scopes, query, expect)| {
            let ty = scopes
                .trim_start_matches("patient/")
                .trim_end_matches(".rs");
            p(scopes, &format!("GET {ty}?{query}"), *expect)
        })
        .chain([
            p(
                "patient/*.rs",
                "GET ?_type=Observation,Condition&subject:identifier=456",
                Narrow,
            ),
            p(
                "patient/*.rs",
                "GET ?_type=Observation,Condition&subject:not=Patient/456",
                BadRequest,
            ),
        ])
        .collect();
    assert_table(&a, &cases);
    let undefined = p(obs, "GET Observation?subject:not=Patient/456", BadRequest).run(&a);
    assert_eq!(undefined.unwrap().reason, Some("unsupported_parameter"));
}

/// FHIR R4 defines the modifiers of each parameter type (search.html, modifiers); a host that
/// does not know one may ignore it and answer more than was asked (threats.md), so any other is
/// refused as `unsupported_parameter`: at every level, on a chain's last link, in a `_has`
/// criterion, in a search without a type and in conditional criteria. Only reference
/// parameters were checked: `Observation?code:foo=1` was allowed.
#[test]
fn search_modifiers_follow_the_parameter_type() {
    // (request, whether R4 defines the modifier for the parameter's type)
    let rows = [
        // string
        ("GET Patient?name:exact=Eve", true),
        ("GET Patient?name:contains=ve", true),
        ("GET Patient?name:missing=true", true),
        ("GET Patient?name:text=Eve", false),
        ("GET Patient?name:not=Eve", false),
        ("GET Patient?name:below=Eve", false),
        ("GET Patient?name:Exact=Eve", false),
        ("GET Patient?name:foo=Eve", false),
        // token
        ("GET Observation?code:text=glucose", true),
        ("GET Observation?code:not=1234-5", true),
        ("GET Observation?code:above=http://snomed.info/sct|1", true),
        ("GET Observation?code:below=http://snomed.info/sct|1", true),
        ("GET Observation?code:in=http://example.org/vs", true),
        ("GET Observation?code:not-in=http://example.org/vs", true),
        (
            "GET Observation?identifier:of-type=http://example.org|MR|1",
            true,
        ),
        ("GET Observation?code:missing=false", true),
        ("GET Observation?_id:not=1", true),
        ("GET Observation?code:foo=1", false),
        ("GET Observation?code:exact=1", false),
        ("GET Observation?code:contains=1", false),
        ("GET Observation?code:identifier=1", false),
        ("GET Observation?code:Patient=1", false),
        ("GET Observation?code:missing=1", false),
        ("GET Observation?_id:exact=1", false),
        // reference
        ("GET Observation?subject:Patient=123", true),
        ("GET Observation?subject:Group=1", true),
        ("GET Observation?subject:identifier=1", true),
        ("GET Observation?subject:above=Patient/123", true),
        ("GET Observation?subject:below=Patient/123", true),
        ("GET Observation?subject:missing=true", true),
        // Not a type `Observation.subject` may point at.
        ("GET Observation?subject:Practitioner=9", false),
        ("GET Observation?subject:not=Patient/123", false),
        ("GET Observation?subject:exact=Patient/123", false),
        // date
        ("GET Observation?date:missing=true", true),
        ("GET Observation?date:exact=2020", false),
        ("GET Observation?date:above=2020", false),
        ("GET Observation?_lastUpdated:below=2020", false),
        // number
        ("GET RiskAssessment?probability:missing=true", true),
        ("GET RiskAssessment?probability:not=0.5", false),
        ("GET RiskAssessment?probability:exact=0.5", false),
        // quantity
        ("GET Observation?value-quantity:missing=true", true),
        ("GET Observation?value-quantity:exact=5", false),
        ("GET Observation?value-quantity:below=5", false),
        // uri (`:contains` is R5)
        ("GET Observation?_profile:above=http://example.org/p", true),
        ("GET Observation?_profile:below=http://example.org/p", true),
        ("GET Observation?_source:missing=true", true),
        ("GET Observation?_profile:exact=http://example.org/p", false),
        ("GET Observation?_profile:contains=example", false),
        // composite
        ("GET Observation?code-value-quantity:missing=true", true),
        ("GET Observation?code-value-quantity:exact=1$5", false),
        // special: `Location.near` defines none of its own
        ("GET Location?near:missing=true", true),
        ("GET Location?near:below=1|2|3|km", false),
        // the last link of a chain
        ("GET Observation?subject:Patient.name:exact=Eve", true),
        ("GET Observation?subject:Patient.gender:not=male", true),
        ("GET Observation?subject:Patient.name:foo=Eve", false),
        (
            "GET Observation?subject:Patient.birthdate:exact=1970",
            false,
        ),
        (
            "GET Observation?subject:Patient.gender:missing=maybe",
            false,
        ),
        // a `_has` criterion
        (
            "GET Patient?_has:Observation:subject:code:text=glucose",
            true,
        ),
        ("GET Patient?_has:Observation:subject:code:foo=1", false),
        (
            "GET Patient?_has:Observation:subject:date:exact=2020",
            false,
        ),
        // without a type, with or without `_type`
        ("GET ?_type=Observation&code:text=glucose", true),
        ("GET ?_type=Observation&code:foo=1", false),
        ("GET ?_lastUpdated:missing=true", true),
        ("GET ?_lastUpdated:exact=2020", false),
        ("GET ?_id:foo=1", false),
        // conditional criteria
        ("DELETE Observation?code:text=glucose", true),
        ("DELETE Observation?code:foo=1", false),
    ];
    let a = Authorizer::default();
    let mut wrong = Vec::new();
    for (line, defined) in rows {
        let levels = [
            ("patient", p("patient/*.cruds", line, Allowed)),
            ("user", u("user/*.cruds", "Patient/123", line, Allowed)),
            ("system", s("system/*.cruds", line, Allowed)),
        ];
        for (level, case) in levels {
            let outcome = case.run(&a).unwrap();
            let right = if defined {
                matches!(outcome.kind, Allow | Narrow)
            } else {
                outcome.kind == BadRequest && outcome.reason == Some("unsupported_parameter")
            };
            if !right {
                wrong.push(format!("{level}: {line}: {outcome}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// smart.md §9 and §12.5: a search explicitly naming another patient is refused (403 for every
/// value, existing or not), and a chain or `_has` is no way around it: `subject:Patient._id=456`
/// is `subject=Patient/456` written through the Patient it reaches, and a reference criterion
/// at the end of a chain or `_has` compares the same way. These were narrowed (an empty 200,
/// the other policy's answer). A chain criterion that names no patient by id (an identifier,
/// a name) cannot be compared before the query: it is narrowed, the traversed Patient
/// confined to the compartment (§12.7), so it matches only there whatever the value.
#[test]
fn chains_and_reverse_chains_naming_another_patient_are_refused() {
    let a = Authorizer::default();
    let both = "patient/Observation.rs patient/Patient.rs";
    let all = "patient/Observation.rs patient/Patient.rs patient/Provenance.rs";
    let rows = [
        (both, "Observation?subject:Patient._id=456", Forbidden),
        (both, "Observation?subject:Patient._id=123,456", Forbidden),
        (both, "Observation?subject:Patient._id=123", Narrow),
        (
            both,
            "Observation?subject:Patient.link=Patient/456",
            Forbidden,
        ),
        (both, "Observation?subject:Patient.link=Patient/123", Narrow),
        (both, "Observation?subject:Patient._id:not=456", Narrow),
        (both, "Observation?subject:Patient.identifier=456", Narrow),
        (both, "Observation?subject:Patient.name=456", Narrow),
        (
            both,
            "Patient?_has:Observation:patient:subject=Patient/456",
            Forbidden,
        ),
        (
            both,
            "Patient?_has:Observation:patient:subject=Patient/123",
            Narrow,
        ),
        (both, "Patient?_has:Observation:patient:code=456", Narrow),
        (
            all,
            "Observation?_has:Provenance:target:patient=Patient/456",
            Forbidden,
        ),
        (
            all,
            "Observation?_has:Provenance:target:patient=Patient/123",
            Narrow,
        ),
    ];
    let cases: Vec<Case> = rows
        .iter()
        .map(|(scopes, query, expect)| p(scopes, &format!("GET {query}"), *expect))
        .chain([
            // Unrestricted reach names no other patient.
            s(
                "system/*.rs",
                "GET Observation?subject:Patient._id=456",
                Allow,
            ),
            s(
                "system/*.rs",
                "GET Patient?_has:Observation:patient:subject=Patient/456",
                Allow,
            ),
        ])
        .collect();
    assert_table(&a, &cases);
    let refused = p(both, "GET Observation?subject:Patient._id=456", Forbidden).run(&a);
    assert_eq!(refused.unwrap().reason, Some("other_patient"));
}
