//! Table tests for the query of a read, vread or `HEAD`, and of an instance operation decided
//! as a read or update (smart.md §12.1: an unknown parameter ⇒ Deny; §12.7: `_summary` and
//! `_elements` never widen access). A read is decided on one instance and checked on the
//! fetched resource, so criteria, includes and `_type` would be work the decision never looked
//! at: a host honouring `_include` on a read would return resources no check saw, one honouring
//! a criterion would answer as a search.

use smart_auth::decision::{Authorizer, DecisionPolicy, OperationRule};
use smart_auth::testing::policy::{assert_table, Expect};
use Expect::*;

mod table_rows;
use table_rows::{p, s, u};

/// Criteria, includes, reverse chains and types: no part of a request on one instance.
const NOT_ONE_INSTANCE_PARAMS: [&str; 7] = [
    "_include=Observation:subject",
    "_revinclude=Provenance:target",
    "subject=Patient/456",
    "_id=2",
    "_has:Provenance:target:agent=Practitioner/1",
    "_type=Condition",
    "_filter=x",
];

#[test]
fn reads_take_result_controls_and_nothing_else() {
    let obs = "patient/Observation.rs";
    let mut rows = Vec::new();
    for path in ["Observation/1", "Observation/1/_history/2"] {
        for method in ["GET", "HEAD"] {
            let req = |q: &str| format!("{method} {path}?{q}");
            // Result controls change the form of the answer, never what it may hold.
            for q in [
                "_summary=true",
                "_elements=id,status",
                "_format=json",
                "_pretty=true",
            ] {
                rows.push(p(obs, &req(q), Allow));
            }
            // Criteria, includes, reverse chains and types are no part of a read.
            for q in NOT_ONE_INSTANCE_PARAMS {
                rows.push(p(obs, &req(q), BadRequest));
                rows.push(s("system/*.rs", &req(q), BadRequest));
                rows.push(u("user/*.rs", "Patient/123", &req(q), BadRequest));
            }
        }
    }
    assert_table(&Authorizer::default(), &rows);
}

/// The query of an instance-level operation decided as a read or update of its instance
/// (`$meta`, `$meta-add`, `$meta-delete`, instance `$validate`, host `OperationRule::AsRead` /
/// `AsUpdate`) is refused beyond result controls and each operation's own R4 parameters, as a
/// read's is.
#[test]
fn instance_operations_take_their_own_parameters_and_nothing_else() {
    let authorizer = Authorizer::new(
        DecisionPolicy::default()
            .with_operation("host-read", OperationRule::AsRead)
            .with_operation("host-update", OperationRule::AsUpdate),
    );
    let all = "patient/Observation.cruds";
    let system = "system/Observation.cruds";
    let mut rows = vec![
        // Without a query each is decided as before.
        p(all, "GET Observation/1/$meta", Allow),
        p(all, "POST Observation/1/$meta-add", Allow),
        p(all, "POST Observation/1/$meta-delete", Allow),
        p(all, "POST Observation/1/$validate", Allow),
        p(all, "GET Observation/1/$host-read", Allow),
        p(all, "POST Observation/1/$host-update", Allow),
        // R4 $validate's own parameters, and result controls on any of them.
        p(all, "POST Observation/1/$validate?mode=update", Allow),
        p(all, "POST Observation/1/$validate?mode=delete", Allow),
        p(
            all,
            "POST Observation/1/$validate?profile=http%3A%2F%2Fhl7.org%2Ffhir%2FStructureDefinition%2Fvitalsigns",
            Allow,
        ),
        p(all, "GET Observation/1/$meta?_format=json", Allow),
        // A host operation's own plain parameter (no search takes it) is the host's to read.
        p(all, "GET Observation/1/$host-read?depth=2", Allow),
        // Not $validate's: a bogus mode, a repeated one, a modifier.
        p(all, "POST Observation/1/$validate?mode=bogus", BadRequest),
        p(all, "POST Observation/1/$validate?mode=update&mode=delete", BadRequest),
        p(all, "POST Observation/1/$validate?mode:missing=true", BadRequest),
        // $meta takes no query parameter in R4.
        p(all, "GET Observation/1/$meta?mode=update", BadRequest),
        p(all, "POST Observation/1/$meta-add?profile=x", BadRequest),
    ];
    for op in [
        "GET Observation/1/$meta",
        "POST Observation/1/$meta-add",
        "POST Observation/1/$meta-delete",
        "POST Observation/1/$validate",
        "GET Observation/1/$host-read",
        "POST Observation/1/$host-update",
    ] {
        for q in NOT_ONE_INSTANCE_PARAMS {
            let req = format!("{op}?{q}");
            rows.push(p(all, &req, BadRequest));
            rows.push(s(system, &req, BadRequest));
            rows.push(u(system, "Practitioner/1", &req, BadRequest));
        }
    }
    assert_table(&authorizer, &rows);
}
