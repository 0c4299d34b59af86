//! What a host's [`UserPolicy`](smart_auth::decision::UserPolicy) answers is held to the rules
//! a token's own claims are (smart.md §1.7, §2: fail closed).

use fhir_types::ResourceType;
use smart_auth::decision::{Authorizer, DecisionPolicy, FhirUser, UserAccess};
use smart_auth::testing::policy::{assert_table, Case, Expect};
use smart_auth::AccessContext;
use Expect::*;

/// A compartment id from a host hook must be a FHIR id that names a resource: not empty, not
/// `.` or `..` (which walk up a URL a host may build from it, `Patient/../Observation`), not
/// a path. Such an answer reaches nothing, as a launch `patient` claim like it is refused.
#[test]
fn a_user_policy_compartment_must_name_a_resource() {
    // The host looks up the patient a RelatedPerson speaks for; its records may be damaged.
    let policy =
        DecisionPolicy::default().with_user_policy(|user: &FhirUser, _: &AccessContext| {
            let id = match user.id.as_str() {
                "rp-ok" => "123",
                "rp-dot" => ".",
                "rp-dotdot" => "..",
                "rp-empty" => "",
                "rp-path" => "123/_history/1",
                "rp-long" => "x123456789x123456789x123456789x123456789x123456789x123456789x1234",
                _ => return UserAccess::Compartment(ResourceType::Practitioner, "..".to_owned()),
            };
            UserAccess::PatientCompartment(id.to_owned())
        });
    let dotdot = r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/.."}}"#;
    let row = |user: &str, req: &str, expect| {
        Case::new("user/Observation.rs")
            .user(user)
            .request(req)
            .expect(expect)
    };
    let mut cases = vec![
        row("RelatedPerson/rp-ok", "GET Observation?code=1", Narrow),
        row("Practitioner/dr", "GET Observation?code=1", Forbidden),
        row("Practitioner/dr", "GET Observation/o1", Forbidden),
    ];
    for user in ["rp-dot", "rp-dotdot", "rp-empty", "rp-path", "rp-long"] {
        let user = format!("RelatedPerson/{user}");
        cases.push(row(&user, "GET Observation?code=1", Forbidden));
        cases.push(row(&user, "GET Observation/o1", Forbidden).stored(dotdot));
    }
    assert_table(&Authorizer::new(policy), &cases);
}
