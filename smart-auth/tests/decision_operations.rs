//! Table tests for operations beyond plain reads and searches (smart.md §12.10, §12.11): the
//! bulk `$export` kick-off's parameters and host-registered operations.

use smart_auth::decision::{Authorizer, DecisionPolicy, OperationRule};
use smart_auth::testing::policy::{assert_table, Expect};
use Expect::*;

mod table_rows;
use table_rows::{p, s, u};

/// §12.1 "unknown parameter ⇒ Deny" and §12.7 for the kick-off: each `_typeFilter` is a search
/// of an exported type, decided like one, so its criteria never run on a type the client was
/// not granted (a chain or `_has` through it is an oracle on that type, hapi-fhir#6065); a
/// parameter the Bulk Data IG does not define for the kick-off is refused.
#[test]
fn export_kick_off_parameters_are_decided() {
    let obs = "system/Observation.rs";
    let filter = |q: &str| format!("GET $export?_type=Observation&_typeFilter={q}");
    assert_table(
        &Authorizer::default(),
        &[
            // The kick-off parameters of the Bulk Data IG.
            s(
                "system/*.rs",
                "GET $export?_outputFormat=application%2Ffhir%2Bndjson&_since=2024-01-01T00:00:00Z\
                 &_until=2025-01-01T00:00:00Z&_elements=id&includeAssociatedData=LatestProvenanceResources",
                Allow,
            ),
            s(obs, &filter("Observation%3Fcategory%3Dlaboratory"), Allow),
            s(
                obs,
                &filter("Observation%3Fcode%3Dhttp%3A%2F%2Floinc.org%7C1234-5%26status%3Dfinal"),
                Allow,
            ),
            // Criteria on a type not granted `s`: through a chain or `_has`.
            s(obs, &filter("Observation%3Fsubject%3APatient.name%3Dsmith"), Forbidden),
            s(obs, &filter("Observation%3Fpatient.birthdate%3Dlt1950"), Forbidden),
            s(
                obs,
                &filter("Observation%3F_has%3AProvenance%3Atarget%3Aagent%3DPractitioner%2F1"),
                Forbidden,
            ),
            s(
                "system/Observation.rs system/Patient.rs",
                &filter("Observation%3Fsubject%3APatient.name%3Dsmith"),
                Allow,
            ),
            // A filter on a type the client may not export.
            s(obs, "GET $export?_typeFilter=Condition%3Fcode%3D1", Forbidden),
            s(
                "system/Observation.rs system/Condition.rs?category=problem-list-item",
                "GET $export?_typeFilter=Condition%3Fcode%3D1",
                Forbidden,
            ),
            // Malformed or unknown criteria, and parameters the kick-off does not define.
            s(obs, &filter("Observation%3Fnonsense%3D1"), BadRequest),
            s(obs, &filter("Observation%3F_filter%3Dx"), BadRequest),
            s(obs, &filter("Observation%3Fcode%3Ax%3D1"), BadRequest),
            s(obs, &filter("Observation"), BadRequest),
            s(obs, &filter("Nonsense%3Fcode%3D1"), BadRequest),
            s(obs, &filter("Observation%3F_include%3DObservation%3Asubject"), BadRequest),
            // Two queries in one value (STU1's comma list) would each be a filter to a host.
            s(
                obs,
                &filter("Observation%3Fstatus%3Dfinal,Patient%3Fname%3Dsmith"),
                BadRequest,
            ),
            // Associated data is exported too: Provenance, which the client must be granted.
            s(
                "system/Observation.rs",
                "GET $export?includeAssociatedData=LatestProvenanceResources",
                Forbidden,
            ),
            s(
                "system/Observation.rs system/Provenance.rs",
                "GET $export?includeAssociatedData=LatestProvenanceResources,RelevantProvenanceResources",
                Allow,
            ),
            s("system/*.rs", "GET $export?includeAssociatedData=_everythingElse", BadRequest),
            s("system/*.rs", "GET $export?nonsense=1", BadRequest),
            s("system/*.rs", "GET $export?_filter=x", BadRequest),
            s("system/*.rs", "GET $export?_has:Observation:patient:code=1", BadRequest),
            s("system/*.rs", "GET $export?_include=Observation:subject", BadRequest),
            s("system/*.rs", "GET Patient/$export?_typeFilter=Observation%3Fcode%3D1", Allow),
            // A filter never makes a compartment-limited grant one that may export.
            p("patient/*.rs", "GET $export?_typeFilter=Observation%3Fcode%3D1", Forbidden),
            u("user/*.rs", "Patient/1", "GET $export?_typeFilter=Observation%3Fcode%3D1", Forbidden),
            s(
                "system/Observation.rs",
                "GET Patient/$export?_typeFilter=Observation%3Fsubject:Patient.name%3Dx",
                Forbidden,
            ),
        ],
    );
}

/// `organizeOutputBy` (Bulk Data IG 2.0) names the type whose instances head the output, each
/// followed by the resources referencing it: those headers are exported too, so the type must
/// be one the client may export, and it is one R4 type name, given once.
#[test]
fn export_organize_output_by_is_an_exported_type() {
    let obs = "system/Observation.rs";
    let both = "system/Observation.rs system/Patient.rs";
    assert_table(
        &Authorizer::default(),
        &[
            s(
                both,
                "GET $export?_type=Observation&organizeOutputBy=Patient",
                Allow,
            ),
            s(both, "GET Patient/$export?organizeOutputBy=Patient", Allow),
            // The headers would be Patients, which the client may not export.
            s(
                obs,
                "GET $export?_type=Observation&organizeOutputBy=Patient",
                Forbidden,
            ),
            s(
                obs,
                "GET Patient/$export?_type=Observation&organizeOutputBy=Patient",
                Forbidden,
            ),
            s(
                "system/Observation.rs system/Patient.rs?gender=female",
                "GET $export?_type=Observation&organizeOutputBy=Patient",
                Forbidden,
            ),
            // Not one R4 type, or given twice.
            s(both, "GET $export?organizeOutputBy=patient", BadRequest),
            s(
                both,
                "GET $export?organizeOutputBy=Patient,Observation",
                BadRequest,
            ),
            s(both, "GET $export?organizeOutputBy=", BadRequest),
            s(
                both,
                &format!("GET $export?organizeOutputBy={}", "P".repeat(200)),
                BadRequest,
            ),
            s(
                both,
                "GET $export?organizeOutputBy=Patient&organizeOutputBy=Observation",
                BadRequest,
            ),
        ],
    );
}

/// A host operation registered as a search, invoked on an instance (`Patient/[id]/$summary`),
/// runs on that instance: one no granting compartment can hold answers as missing, as a read
/// of it would (smart.md §9), instead of running and telling by its answer whether it exists.
#[test]
fn instance_operations_run_as_searches_stay_in_the_compartment() {
    let policy = DecisionPolicy::default().with_operation("summary", OperationRule::AsSearch);
    assert_table(
        &Authorizer::new(policy),
        &[
            p("patient/*.rs", "GET Patient/123/$summary", Narrow),
            p("patient/*.rs", "GET Patient/456/$summary", NotFound),
            p(
                "patient/Observation.rs",
                "GET Patient/123/$summary",
                Forbidden,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation/o1/$summary",
                Narrow,
            ),
            u("user/*.rs", "Patient/7", "GET Patient/7/$summary", Narrow),
            u("user/*.rs", "Patient/7", "GET Patient/8/$summary", NotFound),
            s("system/*.rs", "GET Patient/456/$summary", Allow),
            // Type and system level: a search of the type, of every type.
            p("patient/*.rs", "GET Patient/$summary", Narrow),
            p("patient/*.rs", "GET $summary", Allowed),
        ],
    );
}

/// A host operation registered as a search runs its criteria as one: a chain or `_has` through
/// a type the token may not search is the oracle of smart.md §12.7 (hapi-fhir#6065), a
/// criterion naming another patient is refused (§9), and so are the parameters no search
/// takes (`_filter`). Those were never looked at: `Observation/$lastn?subject:Patient.name=x`
/// ran under `patient/Observation.rs` alone. The operation's own parameters (`$lastn`'s
/// `max`), which are no search parameters, are the host's.
#[test]
fn operations_run_as_searches_decide_their_criteria() {
    let policy = DecisionPolicy::default().with_operation("lastn", OperationRule::AsSearch);
    let obs = "patient/Observation.rs";
    let traversed = |q: &str| {
        let ctx = smart_auth::testing::policy::context(
            "patient/Observation.rs patient/Patient.rs",
            Some("123"),
            None,
        );
        let req = smart_auth::testing::policy::request(&format!("GET Observation/$lastn?{q}"));
        let permit = Authorizer::new(policy.clone())
            .decide(&ctx, &req)
            .into_result()
            .unwrap();
        permit.traversed_types().to_vec()
    };
    assert_table(
        &Authorizer::new(policy.clone()),
        &[
            p(obs, "GET Observation/$lastn?max=3&code=1234-5", Narrow),
            p(
                obs,
                "GET Observation/$lastn?subject:Patient.name=smith",
                Forbidden,
            ),
            p(
                obs,
                "GET Observation/$lastn?_has:Provenance:target:agent=Practitioner/1",
                Forbidden,
            ),
            p(obs, "GET Observation/$lastn?patient=Patient/456", Forbidden),
            p(obs, "GET Observation/$lastn?subject=123", Narrow),
            p(
                obs,
                "GET Observation/$lastn?_filter=code%20eq%201",
                BadRequest,
            ),
            p(obs, "GET Observation/$lastn?code:nonsense=1", BadRequest),
            p(obs, "GET Observation/$lastn?_type=Condition", BadRequest),
            p(
                obs,
                "GET Observation/$lastn?_include=Observation:nonsense",
                BadRequest,
            ),
            s(
                "system/Observation.rs",
                "GET Observation/$lastn?subject:Patient.name=smith",
                Forbidden,
            ),
            s(
                "system/*.rs",
                "GET Observation/$lastn?subject:Patient.name=smith",
                Allow,
            ),
        ],
    );
    // At system level there is no type to decide a chain or `_has` on: refused, as in a
    // system search without `_type`; the common parameters are decided.
    let system = DecisionPolicy::default().with_operation("lastn", OperationRule::AsSearch);
    assert_table(
        &Authorizer::new(system),
        &[
            p(
                "patient/*.rs",
                "GET $lastn?max=3&_lastUpdated=gt2024",
                Allowed,
            ),
            p(
                "patient/*.rs",
                "GET $lastn?subject:Patient.name=smith",
                BadRequest,
            ),
            p(
                "patient/*.rs",
                "GET $lastn?_has:Observation:patient:code=1",
                BadRequest,
            ),
            p("patient/*.rs", "GET $lastn?_filter=x", BadRequest),
            p(
                "patient/*.rs",
                "GET $lastn?_include=Observation:nonsense",
                BadRequest,
            ),
        ],
    );
    // A granted chain is allowed, its traversed type given to the host to narrow.
    assert_eq!(
        traversed("subject:Patient.name=smith"),
        [fhir_types::ResourceType::Patient]
    );
}

/// The Bulk Data IG's servers SHALL take the kick-off by GET and MAY by POST, with the
/// parameters in a Parameters body, which this request model does not read: a POST kick-off
/// would carry `_type` and `_typeFilter` past every check above, so it is refused (405).
#[test]
fn a_kick_off_is_taken_by_get_only() {
    use smart_auth::testing::policy::try_request;
    for path in ["$export", "Patient/$export", "Group/g1/$export"] {
        let get = try_request(&format!("GET {path}?_type=Observation"));
        assert!(get.is_ok(), "GET {path}: {get:?}");
        let post = try_request(&format!("POST {path}"));
        assert_eq!(
            post.err().as_deref(),
            Some("method not allowed"),
            "POST {path}"
        );
    }
    // Other operations still take POST.
    assert!(try_request("POST Observation/$validate").is_ok());
    assert!(try_request("POST Patient/123/$everything").is_ok());
}

/// Type-level `$validate` (smart.md §12.10: no data access, §12.1: unknown parameter ⇒ Deny).
/// R4 defines it at type and instance level only. It reads no data of its own, but the type
/// must be the token's business, and `mode=update|delete` compares the body with a stored
/// resource, which shows whether that one exists: in the URL it needs `r` on the type (a mode
/// in a Parameters body, which the decision does not read, is the permit's read check on the
/// stored resource, see `type_level_validate_checks_the_stored_resource_as_a_read`).
#[test]
fn type_level_validate_needs_a_grant_on_the_type() {
    assert_table(
        &Authorizer::default(),
        &[
            p("patient/Observation.c", "POST Observation/$validate", Allow),
            p("patient/Observation.rs", "POST Observation/$validate", Allow),
            s("system/Observation.u", "POST Observation/$validate", Allow),
            // No grant on the type at all, or at a level that reaches nothing.
            p("patient/Condition.cruds", "POST Observation/$validate", Forbidden),
            s("patient/Observation.c", "POST Observation/$validate", Unauthorized),
            // R4 has no system-level $validate.
            p("patient/*.cruds", "POST $validate", Forbidden),
            s("system/*.cruds", "POST $validate", Forbidden),
            // The modes that compare against a stored resource need `r` on the type.
            p("patient/Observation.c", "POST Observation/$validate?mode=create", Allow),
            p("patient/Observation.c", "POST Observation/$validate?mode=profile", Allow),
            p("patient/Observation.cu", "POST Observation/$validate?mode=update", Forbidden),
            p("patient/Observation.cd", "POST Observation/$validate?mode=delete", Forbidden),
            p("patient/Observation.ru", "POST Observation/$validate?mode=update", Allow),
            p(
                "patient/Observation.c",
                "POST Observation/$validate?profile=http%3A%2F%2Fhl7.org%2Ffhir%2FStructureDefinition%2Fvitalsigns",
                Allow,
            ),
            // Anything else is not a $validate parameter.
            p("patient/Observation.rs", "POST Observation/$validate?mode=bogus", BadRequest),
            p("patient/Observation.rs", "POST Observation/$validate?mode=create&mode=update", BadRequest),
            p("patient/Observation.rs", "POST Observation/$validate?_id=1", BadRequest),
            p("patient/Observation.rs", "POST Observation/$validate?subject=Patient/456", BadRequest),
            p(
                "patient/Observation.rs",
                "POST Observation/$validate?_include=Observation:subject",
                BadRequest,
            ),
        ],
    );
}

/// A type-level `$validate` whose Parameters body asks for `mode=update` names the stored
/// resource in its body: the host checks that resource with the permit, as a read, before
/// comparing, and answers as if none were stored when the check fails.
#[test]
fn type_level_validate_checks_the_stored_resource_as_a_read() {
    use smart_auth::testing::policy::{context, request, resource};
    let stored = |patient: &str| {
        resource(&format!(
            r#"{{"resourceType":"Observation","id":"o1","status":"final","code":{{"text":"x"}},
                "subject":{{"reference":"Patient/{patient}"}}}}"#
        ))
    };
    let decide = |scopes: &str| {
        Authorizer::default()
            .decide(
                &context(scopes, Some("123"), None),
                &request("POST Observation/$validate"),
            )
            .into_result()
            .unwrap()
    };
    let reader = decide("patient/Observation.rs");
    assert!(reader.check_resource(&stored("123")).is_ok());
    assert!(reader
        .check_resource(&stored("456"))
        .unwrap_err()
        .is_not_found());
    let creator = decide("patient/Observation.c");
    assert!(creator
        .check_resource(&stored("123"))
        .unwrap_err()
        .is_not_found());
}
