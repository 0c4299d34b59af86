//! Table tests for the query of a read, vread or `HEAD` (smart.md §12.1: an unknown parameter ⇒
//! Deny; §12.7: `_summary` and `_elements` never widen access). A read is decided on one
//! instance and checked on the fetched resource, so criteria, includes and `_type` would be
//! work the decision never looked at: a host honouring `_include` on a read would return
//! resources no check saw, one honouring a criterion would answer as a search.

use smart_auth::decision::Authorizer;
use smart_auth::testing::policy::{assert_table, Expect};
use Expect::*;

mod table_rows;
use table_rows::{p, s, u};

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
            for q in [
                "_include=Observation:subject",
                "_revinclude=Provenance:target",
                "subject=Patient/456",
                "_id=2",
                "_has:Provenance:target:agent=Practitioner/1",
                "_type=Condition",
                "_filter=x",
            ] {
                rows.push(p(obs, &req(q), BadRequest));
                rows.push(s("system/*.rs", &req(q), BadRequest));
                rows.push(u("user/*.rs", "Patient/123", &req(q), BadRequest));
            }
        }
    }
    assert_table(&Authorizer::default(), &rows);
}
