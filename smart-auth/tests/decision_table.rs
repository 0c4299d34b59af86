//! Table tests for the pre-query decision: each interaction x level x scope family
//! (smart.md §1.3, §9, §12). One row per rule.

use smart_auth::decision::{
    Authorizer, DecisionPolicy, OtherPatientSearch, PatientHistory, UngrantedIncludes, UserAccess,
};
use smart_auth::testing::policy::{assert_table, Case, Expect};
use Expect::*;

mod table_rows;
use table_rows::{p, s, u};

#[test]
fn permission_letters_map_to_interactions() {
    // §1.3: c create; r read/vread/instance history; u update/patch; d delete; s search/type+system history.
    let rows = [
        ("c", "POST Observation", true),
        ("c", "GET Observation/1", false),
        ("c", "GET Observation?code=1", false),
        ("r", "GET Observation/1", true),
        ("r", "GET Observation/1/_history/2", true),
        ("r", "GET Observation/1/_history", true),
        ("r", "GET Observation?_id=1", false), // r does not allow search
        ("r", "GET Observation/_history", false),
        ("r", "PUT Observation/1", false),
        ("u", "PUT Observation/1", true),
        ("u", "PATCH Observation/1", true), // LinuxForHealth/FHIR#4101: patch is an update
        ("u", "GET Observation/1", false),  // write does not imply read
        ("u", "DELETE Observation/1", false),
        ("d", "DELETE Observation/1", true),
        ("d", "PUT Observation/1", false),
        ("s", "GET Observation?code=1", true),
        ("s", "POST Observation/_search", true),
        ("s", "GET Observation/_history", true),
        ("s", "GET Observation/1", false), // s does not allow read by id
        ("cruds", "DELETE Observation/1", true),
    ];
    let authorizer = Authorizer::default();
    let mut cases = Vec::new();
    for (letters, req, allowed) in rows {
        let expect = if allowed { Allowed } else { Forbidden };
        cases.push(p(&format!("patient/Observation.{letters}"), req, expect));
        cases.push(s(&format!("system/Observation.{letters}"), req, expect));
        cases.push(u(
            &format!("user/Observation.{letters}"),
            "Patient/123",
            req,
            expect,
        ));
    }
    assert_table(&authorizer, &cases);
}

#[test]
fn v1_scopes_map_to_v2() {
    // §1.4: .read = rs, .write = cud (no read), .* = cruds.
    assert_table(
        &Authorizer::default(),
        &[
            p("patient/Observation.read", "GET Observation/1", Allowed),
            p("patient/Observation.read", "GET Observation?code=1", Narrow),
            p("patient/Observation.read", "POST Observation", Forbidden),
            p("patient/Observation.write", "POST Observation", Allowed),
            p("patient/Observation.write", "GET Observation/1", Forbidden),
            p("patient/*.*", "DELETE Condition/1", Allowed),
            s("system/*.read", "GET Condition?code=1", Allow),
        ],
    );
}

#[test]
fn levels_and_context() {
    let a = Authorizer::default();
    assert_table(
        &a,
        &[
            // patient/ without a launch patient: fail closed (MSRC-128308).
            s("patient/Observation.rs", "GET Observation/1", Unauthorized),
            s("patient/Observation.rs", "GET metadata", Unauthorized),
            // user/ without fhirUser: fail closed.
            s("user/Observation.rs", "GET Observation/1", Unauthorized),
            // user/ with a Practitioner and the default user policy: nothing.
            u(
                "user/Observation.rs",
                "Practitioner/9",
                "GET Observation/1",
                Forbidden,
            ),
            // user/ with a Patient fhirUser: that patient's compartment.
            u(
                "user/Observation.rs",
                "Patient/7",
                "GET Observation?code=1",
                Narrow,
            ),
            u("user/Patient.r", "Patient/7", "GET Patient/8", NotFound),
            u("user/Patient.r", "Patient/7", "GET Patient/7", Allow),
            // A foreign absolute fhirUser never matches.
            u(
                "user/Observation.rs",
                "https://evil.example/fhir/Patient/7",
                "GET Observation/1",
                Unauthorized,
            ),
            // system/ scopes are unrestricted by compartment.
            s("system/Observation.rs", "GET Observation?code=1", Allow),
            // Mixed system/ + patient/ is rejected as a whole.
            p(
                "system/*.rs patient/Observation.rs",
                "GET Observation/1",
                Unauthorized,
            ),
            // No scopes at all.
            p(
                "openid fhirUser launch/patient",
                "GET Observation/1",
                Forbidden,
            ),
            p("openid", "GET metadata", Allow),
        ],
    );
    let trusting = Authorizer::new(DecisionPolicy::default().with_user_policy(
        |_: &smart_auth::decision::FhirUser, _: &smart_auth::AccessContext| {
            UserAccess::Unrestricted
        },
    ));
    assert_table(
        &trusting,
        &[u(
            "user/Observation.rs",
            "Practitioner/9",
            "GET Observation?code=1",
            Allow,
        )],
    );
    let mut loud = DecisionPolicy::default();
    loud.missing_context = smart_auth::decision::MissingContextStatus::Forbidden;
    assert_table(
        &Authorizer::new(loud),
        &[s("patient/Observation.rs", "GET Observation/1", Forbidden)],
    );
}

#[test]
fn reads_outside_the_compartment_are_not_found() {
    assert_table(
        &Authorizer::default(),
        &[
            p("patient/Patient.r", "GET Patient/123", Allow),
            p("patient/Patient.r", "GET Patient/456", NotFound),
            p("patient/Patient.r", "GET Patient/456/_history/1", NotFound),
            p("patient/Patient.r", "GET Patient/456/_history", NotFound),
            p("patient/Patient.r", "GET Patient/456/$everything", NotFound),
            p("patient/Patient.r", "GET Patient/123/$everything", Narrow),
            p("patient/Observation.r", "GET Observation/anything", Allow), // checked on the stored resource
            p("patient/Patient.r", "GET Observation/1", Forbidden),        // type not granted: 403
        ],
    );
}

#[test]
fn searches() {
    let a = Authorizer::default();
    assert_table(
        &a,
        &[
            p("patient/Observation.rs", "GET Observation?code=1", Narrow),
            p(
                "patient/Observation.rs",
                "GET Observation?patient=123",
                Narrow,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?patient=Patient/123",
                Narrow,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?patient=456",
                Forbidden,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?subject=Patient/456",
                Forbidden,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?subject:Patient=456",
                Forbidden,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?subject=https://other.example/fhir/Patient/456",
                Forbidden,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?subject=Patient/123,Patient/456",
                Forbidden,
            ),
            p("patient/Patient.rs", "GET Patient?_id=456", Forbidden),
            p("patient/Patient.rs", "GET Patient?_id=123", Narrow),
            p(
                "patient/Observation.rs",
                "GET Observation?subject=456",
                Forbidden,
            ), // a bare id may name a Patient
            p(
                "patient/Observation.rs",
                "GET Observation?subject=123",
                Narrow,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?subject:Group=456",
                Narrow,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?subject=Patient/456/_history/1",
                Forbidden,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?performer=Practitioner/9",
                Narrow,
            ),
            p(
                "patient/Observation.rs",
                "GET Patient/456/Observation",
                Forbidden,
            ),
            p(
                "patient/Observation.rs",
                "GET Patient/123/Observation",
                Narrow,
            ),
            p("patient/Observation.rs", "GET Condition?code=1", Forbidden), // ungranted type: 403, not empty 200
            p(
                "patient/Observation.rs",
                "GET Observation?_filter=code%20eq%201",
                BadRequest,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?_query=x",
                BadRequest,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?_contained=true",
                BadRequest,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?nonsense=1",
                BadRequest,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?_count=100000",
                Narrow,
            ),
            p("patient/*.rs", "GET ?_type=Observation,Condition", Narrow),
            p(
                "patient/Observation.rs",
                "GET ?_type=Observation,Condition",
                Forbidden,
            ),
            p("patient/Observation.rs", "GET ?code=1", Forbidden), // system search needs a * grant
            s("system/Observation.rs", "GET Observation?code=1", Allow),
            s(
                "system/Observation.rs",
                "GET Observation?patient=456",
                Allow,
            ),
        ],
    );
    let mut empty = DecisionPolicy::default();
    empty.other_patient_search = OtherPatientSearch::EmptyResult;
    assert_table(
        &Authorizer::new(empty),
        &[p(
            "patient/Observation.rs",
            "GET Observation?patient=456",
            EmptySearch,
        )],
    );
}

#[test]
fn chains_has_and_includes() {
    let a = Authorizer::default();
    assert_table(
        &a,
        &[
            // Chains and reverse chains through ungranted types are oracles (hapi-fhir#6065).
            p(
                "patient/Observation.rs",
                "GET Observation?subject:Patient.name=Peter",
                Forbidden,
            ),
            p(
                "patient/Observation.rs patient/Patient.rs",
                "GET Observation?subject:Patient.name=Peter",
                Narrow,
            ),
            p(
                "patient/Patient.rs",
                "GET Patient?_has:Observation:patient:code=1234",
                Forbidden,
            ),
            p(
                "patient/Patient.rs patient/Observation.s",
                "GET Patient?_has:Observation:patient:code=1234",
                Narrow,
            ),
            p(
                "patient/Patient.rs patient/Observation.s",
                "GET Patient?_has:Observation:patient:nonsense=1",
                BadRequest,
            ),
            // Includes of ungranted types are dropped from results by default...
            p(
                "patient/Observation.rs",
                "GET Observation?_include=Observation:performer:Practitioner",
                Narrow,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?_include=Observation:nonsense",
                BadRequest,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?_include=Observation:code",
                BadRequest,
            ),
        ],
    );
    let mut refuse = DecisionPolicy::default();
    refuse.ungranted_includes = UngrantedIncludes::Refuse;
    refuse.max_includes = 2;
    assert_table(
        &Authorizer::new(refuse),
        &[
            p(
                "patient/Observation.rs",
                "GET Observation?_include=Observation:performer:Practitioner",
                Forbidden,
            ),
            p(
                "patient/Observation.rs patient/Patient.r",
                "GET Observation?_include=Observation:subject:Patient",
                Narrow,
            ),
            p(
                "patient/Observation.rs",
                "GET Observation?_include=*",
                Forbidden,
            ),
            p(
                "patient/*.rs",
                "GET Observation?_include=*&_include=*&_revinclude=*",
                BadRequest,
            ),
        ],
    );
}

#[test]
fn writes() {
    assert_table(
        &Authorizer::default(),
        &[
            p("patient/Observation.c", "POST Observation", Allowed),
            p("patient/Patient.u", "PUT Patient/456", Forbidden), // another patient's record: 403 for writes
            p("patient/Patient.u", "PUT Patient/123", Allowed),
            p(
                "patient/Observation.u",
                "PUT Observation?identifier=x|1",
                Forbidden,
            ), // conditional needs s too
            p(
                "patient/Observation.us",
                "PUT Observation?identifier=x|1",
                Narrow,
            ),
            p(
                "patient/Observation.us",
                "PUT Observation?patient=456",
                Forbidden,
            ),
            p(
                "patient/Observation.ds",
                "DELETE Observation?code=1",
                Narrow,
            ),
            // Match criteria may not traverse ungranted types either (no conditional oracle).
            p(
                "patient/Observation.ds",
                "DELETE Observation?subject:Patient.name=x",
                Forbidden,
            ),
            p(
                "patient/Observation.ds",
                "DELETE Observation?_has:Provenance:target:agent=x",
                Forbidden,
            ),
            p("patient/*.cruds", "POST AuditEvent", Forbidden),
            s("system/*.cruds", "DELETE AuditEvent/1", Forbidden),
        ],
    );
}

#[test]
fn history_batch_operations() {
    let a = Authorizer::default();
    assert_table(
        &a,
        &[
            p("patient/Observation.rs", "GET Observation/_history", Narrow),
            p("patient/*.rs", "GET _history", Allowed),
            p("patient/Observation.rs", "GET _history", Forbidden),
            p("patient/Observation.rs", "POST /", Allow), // entries decided one by one
            p("patient/*.rs", "GET $export", Forbidden),
            u("user/*.rs", "Patient/1", "GET $export", Forbidden),
            s("system/*.rs", "GET $export", Allow),
            s(
                "system/Observation.rs",
                "GET $export?_type=Observation",
                Allow,
            ),
            s(
                "system/Observation.rs",
                "GET $export?_type=Observation,Condition",
                Forbidden,
            ),
            s(
                "system/Observation.rs?category=laboratory",
                "GET $export?_type=Observation",
                Forbidden,
            ),
            s("system/Observation.rs", "GET Group/g/$export", Forbidden),
            s(
                "system/Observation.rs system/Group.r",
                "GET Group/g/$export",
                Allow,
            ),
            s("system/*.rs", "GET Patient/$export", Allow),
            p("patient/*.cruds", "POST Patient/123/$graphql", Forbidden),
            p("patient/*.cruds", "POST $member-match", Forbidden),
            p("patient/*.cruds", "POST Patient/123/$meta-add", Allowed),
            p("patient/*.cruds", "POST Patient/456/$meta-add", Forbidden),
            p("patient/*.rs", "GET Patient/123/$meta", Allowed),
            p("patient/*.rs", "POST Observation/$validate", Allow),
            p(
                "patient/Observation.rs",
                "POST Observation/$validate",
                Allow,
            ),
            s("system/*.rs", "GET Patient/1/$everything", Narrow),
        ],
    );
    let mut refuse = DecisionPolicy::default();
    refuse.patient_history = PatientHistory::Refuse;
    let custom = refuse.with_operation("lastn", smart_auth::decision::OperationRule::AsSearch);
    assert_table(
        &Authorizer::new(custom),
        &[
            p(
                "patient/Observation.rs",
                "GET Observation/_history",
                Forbidden,
            ),
            p("patient/Observation.rs", "GET Observation/$lastn", Narrow),
            p("patient/Condition.rs", "GET Observation/$lastn", Forbidden),
        ],
    );
}

/// A `user/` grant whose `fhirUser` is a Patient is enforced like `patient/` (smart.md §12.3):
/// type and system history are filtered to that patient by default, refused under
/// `PatientHistory::Refuse`, as for `patient/` scopes.
#[test]
fn patient_user_history_follows_the_patient_history_policy() {
    let patient_user = "Patient/123";
    assert_table(
        &Authorizer::default(),
        &[
            u(
                "user/Observation.rs",
                patient_user,
                "GET Observation/_history",
                Narrow,
            ),
            u("user/*.rs", patient_user, "GET _history", Narrow),
        ],
    );
    let mut refuse = DecisionPolicy::default();
    refuse.patient_history = PatientHistory::Refuse;
    assert_table(
        &Authorizer::new(refuse.clone()),
        &[
            u(
                "user/Observation.rs",
                patient_user,
                "GET Observation/_history",
                Forbidden,
            ),
            u("user/*.rs", patient_user, "GET _history", Forbidden),
            u(
                "user/*.rs",
                patient_user,
                "GET Observation/1/_history",
                Allowed,
            ),
            p("patient/*.rs", "GET _history", Forbidden),
            s("system/*.rs", "GET _history", Allow),
        ],
    );
    // A user the host trusts fully is not patient-confined: its history is not refused.
    let trusting = refuse.with_user_policy(
        |_: &smart_auth::decision::FhirUser, _: &smart_auth::AccessContext| {
            UserAccess::Unrestricted
        },
    );
    assert_table(
        &Authorizer::new(trusting),
        &[u("user/*.rs", "Practitioner/9", "GET _history", Allow)],
    );
}

/// `:missing` takes `true` or `false`, never a reference: it names no patient. Its value was
/// read as a patient id, so `subject:missing=true` was refused as naming another patient
/// (and passed for a launch patient whose id is `true`). The search is narrowed to the
/// compartment like any criterion on the resource's own elements (a resource without a
/// subject may still be in it, e.g. an Observation through `performer`); a value other than
/// `true` or `false` is a malformed search.
#[test]
fn system_search_chains_need_search_on_traversed_types() {
    // A chain in a type-less search (`_type=`) evaluates criteria on the traversed type just
    // as in a type search: an oracle unless that type is granted `s` (smart.md §12.7).
    let a = Authorizer::default();
    assert_table(
        &a,
        &[
            p(
                "patient/Observation.rs",
                "GET ?_type=Observation&subject:Patient.name=Peter",
                Forbidden,
            ),
            p(
                "patient/Observation.rs",
                "GET ?_type=Observation&performer:Practitioner.name=Smith",
                Forbidden,
            ),
            p(
                "patient/Observation.rs patient/Patient.rs",
                "GET ?_type=Observation&subject:Patient.name=Peter",
                Narrow,
            ),
            p(
                "patient/Observation.rs patient/Patient.rs",
                "GET ?_type=Observation&subject:Patient.nonsense=1",
                BadRequest,
            ),
        ],
    );
}

#[test]
fn update_like_operations_need_an_instance() {
    // `u` is granted per instance; at type level there is none to check, and `s` alone must
    // never authorise a write-like operation (smart.md §12.10).
    let custom = DecisionPolicy::default()
        .with_operation("touch", smart_auth::decision::OperationRule::AsUpdate);
    assert_table(
        &Authorizer::new(custom),
        &[
            p(
                "patient/Observation.s",
                "POST Observation/$touch",
                Forbidden,
            ),
            p(
                "patient/Observation.rs",
                "POST Observation/$meta-add",
                Forbidden,
            ),
            p(
                "patient/Observation.rs",
                "POST Observation/$meta-delete",
                Forbidden,
            ),
            p("patient/Patient.u", "POST Patient/123/$touch", Allowed),
            p("patient/Observation.rs", "GET Observation/$meta", Narrow),
        ],
    );
}

#[test]
fn instance_validate_is_a_read_of_the_instance() {
    // `[type]/[id]/$validate` validates against the stored resource (`mode=update|delete`):
    // without the read checks it tells whether another patient's resource exists.
    assert_table(
        &Authorizer::default(),
        &[
            p(
                "patient/Observation.rs",
                "POST Patient/456/$validate",
                Forbidden,
            ),
            p("patient/Patient.r", "POST Patient/456/$validate", NotFound),
            p("patient/Patient.r", "POST Patient/123/$validate", Allow),
            p(
                "patient/Observation.rs",
                "POST Condition/1/$validate",
                Forbidden,
            ),
            p(
                "patient/Observation.rs",
                "POST Observation/1/$validate",
                Allow,
            ),
        ],
    );
}

#[test]
fn denials_carry_status_and_scope() {
    let a = Authorizer::default();
    let ctx = smart_auth::testing::policy::context("patient/Observation.rs", Some("123"), None);
    let req = smart_auth::testing::policy::request("GET Condition/1");
    let d = a.decide(&ctx, &req).into_result().unwrap_err();
    assert_eq!(d.status(), http::StatusCode::FORBIDDEN);
    assert_eq!(d.bearer_error(), Some("insufficient_scope"));
    assert_eq!(d.required_scope(), Some("patient/Condition.r"));
    assert_eq!(d.reason().code(), "insufficient_scope");
    let req = smart_auth::testing::policy::request("GET Patient/456");
    let ctx = smart_auth::testing::policy::context("patient/Patient.rs", Some("123"), None);
    let d = a.decide(&ctx, &req).into_result().unwrap_err();
    assert!(d.is_not_found());
    assert_eq!(d.status(), http::StatusCode::NOT_FOUND);
    assert_eq!(d.bearer_error(), None);
    assert_eq!(d.issue_code(), "not-found");
}

#[test]
fn a_host_rule_on_its_own_claim_is_testable_in_one_line() {
    // A host's user policy reading an extension claim of the token (here `role`), as the
    // validated context offers it (`AccessContext::claim`).
    let policy = DecisionPolicy::default().with_user_policy(
        |user: &smart_auth::decision::FhirUser, ctx: &smart_auth::AccessContext| match ctx
            .claim("role")
            .and_then(|r| r.as_str())
        {
            Some("records-officer") => UserAccess::Unrestricted,
            _ if user.resource_type == fhir_types::ResourceType::Practitioner => {
                UserAccess::Compartment(user.resource_type, user.id.clone())
            }
            _ => UserAccess::Deny,
        },
    );
    let authorizer = Authorizer::new(policy);
    let officer = || Case::new("user/Observation.rs").user("Practitioner/7");
    assert_table(
        &authorizer,
        &[
            officer()
                .claim("role", "records-officer")
                .request("GET Observation")
                .expect(Allow),
            officer()
                .claim("role", "nurse")
                .request("GET Observation")
                .expect(Narrow),
            officer().request("GET Observation").expect(Narrow),
        ],
    );
    // The standard claims are there too, as a validator would give them.
    let ctx = smart_auth::testing::policy::context("patient/*.rs", Some("123"), None);
    assert_eq!(ctx.claim("patient"), Some(&"123".into()));
    assert_eq!(ctx.claim("scope"), Some(&"patient/*.rs".into()));
}

#[test]
fn an_operation_rule_applies_whether_its_name_is_given_with_or_without_dollar() {
    use smart_auth::decision::OperationRule;
    for name in ["summary", "$summary"] {
        let authorizer =
            Authorizer::new(DecisionPolicy::default().with_operation(name, OperationRule::AsRead));
        assert_table(
            &authorizer,
            &[
                p("patient/Patient.r", "GET Patient/123/$summary", Allowed),
                p("patient/Patient.r", "GET Patient/456/$summary", NotFound),
            ],
        );
    }
}

#[test]
fn the_required_scope_is_named_in_the_syntax_of_the_tokens_scopes() {
    let a = Authorizer::default();
    let required = |scopes: &str, line: &str| {
        let ctx = smart_auth::testing::policy::context(scopes, Some("123"), None);
        let req = smart_auth::testing::policy::request(line);
        let d = a.decide(&ctx, &req).into_result().unwrap_err();
        d.required_scope().map(str::to_owned)
    };
    // A v1 client is told the v1 scope it could ask for: `.read` covers r and s, `.write` c, u, d.
    let v1 = "launch/patient patient/Observation.read";
    assert_eq!(
        required(v1, "GET Condition/1").as_deref(),
        Some("patient/Condition.read")
    );
    assert_eq!(
        required(v1, "GET Condition?code=x").as_deref(),
        Some("patient/Condition.read")
    );
    assert_eq!(
        required(v1, "POST Observation").as_deref(),
        Some("patient/Observation.write")
    );
    assert_eq!(
        required(v1, "DELETE Observation/1").as_deref(),
        Some("patient/Observation.write")
    );
    // v2 (or mixed) grants keep the letters.
    let v2 = "patient/Observation.rs";
    assert_eq!(
        required(v2, "DELETE Observation/1").as_deref(),
        Some("patient/Observation.d")
    );
    let mixed = "patient/Observation.read patient/Condition.rs";
    assert_eq!(
        required(mixed, "POST Observation").as_deref(),
        Some("patient/Observation.c")
    );
}

/// History takes `_count`, `_since` and `_at` (FHIR R4 http.html, history), not search
/// parameters: a host that applied them would run criteria the decision never looked at, and
/// `_list` (R4's other history parameter) is refused here as in searches (smart.md §12.1,
/// §12.7: unknown parameters are refused).
#[test]
fn history_takes_no_search_parameters() {
    let a = Authorizer::default();
    let mut cases = Vec::new();
    for path in ["Observation/1/_history", "Observation/_history", "_history"] {
        for (query, expect) in [
            ("_count=10&_since=2024-01-01T00:00:00Z", Allowed),
            ("_at=2024", Allowed),
            ("_list=l1", BadRequest),
            ("subject=Patient/456", BadRequest),
            ("code=1", BadRequest),
            ("_id=1", BadRequest),
            ("_has:Observation:patient:code=1", BadRequest),
            ("_include=Observation:subject", BadRequest),
            ("_type=Observation", BadRequest),
        ] {
            let req = format!("GET {path}?{query}");
            cases.push(p("patient/*.rs", &req, expect));
            cases.push(s("system/*.rs", &req, expect));
        }
    }
    assert_table(&a, &cases);
}
