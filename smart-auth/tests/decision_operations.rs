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

/// The Bulk Data IG's servers SHALL take the kick-off by GET and MAY by POST, with the
/// parameters in a Parameters body, which this request model does not read: a POST kick-off
/// would carry `_type` and `_typeFilter` past every check above, so it is refused (405).
#[test]
fn a_kick_off_is_taken_by_get_only() {
    use smart_auth::request::RequestError;
    use smart_auth::testing::policy::try_request;
    for path in ["$export", "Patient/$export", "Group/g1/$export"] {
        let get = try_request(&format!("GET {path}?_type=Observation"));
        assert!(get.is_ok(), "GET {path}: {get:?}");
        let post = try_request(&format!("POST {path}"));
        assert_eq!(
            post.err().as_deref(),
            Some(RequestError::MethodNotAllowed.to_string().as_str()),
            "POST {path}"
        );
    }
    // Other operations still take POST.
    assert!(try_request("POST Observation/$validate").is_ok());
    assert!(try_request("POST Patient/123/$everything").is_ok());
}
