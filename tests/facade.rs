//! The facade from `http` parts to a decision or a ready rejection, one rule per test, as the
//! SMART status policy (shared/specs/smart.md §9) states them.

use chrono::TimeZone;
use fhir_audit::Outcome;
use fhir_audit::ResourceRef;
use http::{Request, StatusCode};
use secure_fhir::audit::{AuditFacts, RequestInfo};
use secure_fhir::limits::Limits;
use secure_fhir::{Rejected, SecureFhir};
use smart_auth::decision::DecisionPolicy;
use smart_auth::testing::TestIssuer;
use smart_auth::UnixTime;

const ISSUER: &str = "https://auth.example.org";
const AUDIENCE: &str = "https://fhir.example.org/fhir";
const NOW: i64 = 1_767_225_600;

fn setup() -> (TestIssuer, SecureFhir) {
    let issuer = TestIssuer::new(ISSUER, AUDIENCE);
    let facade = SecureFhir::new(issuer.validator(), DecisionPolicy::default(), "/fhir");
    (issuer, facade)
}

fn now() -> UnixTime {
    UnixTime::from_secs(NOW)
}

fn parts(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A GET of `uri` with a token of `issuer`'s for `scope` and launch patient `patient`.
fn get_as(issuer: &TestIssuer, scope: &str, patient: &str, uri: &str) -> http::request::Parts {
    let token = issuer.token(now()).scope(scope).patient(patient).sign();
    parts("GET", uri, &[("authorization", &bearer(&token))])
}

fn refuse(facade: &SecureFhir, p: &http::request::Parts) -> Rejected {
    facade.authorize(p, b"", now()).expect_err("refused")
}

#[test]
fn no_credentials_is_401_with_a_bare_challenge() {
    let (_, facade) = setup();
    let r = refuse(&facade, &parts("GET", "/fhir/Patient/1", &[])).to_response();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"fhir\"");
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(body["issue"][0]["code"], "login");
}

#[test]
fn an_invalid_token_is_401_invalid_token_and_nothing_is_echoed() {
    let (_, facade) = setup();
    let token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
    let r = refuse(
        &facade,
        &parts(
            "GET",
            "/fhir/Patient/1",
            &[("authorization", &bearer(token))],
        ),
    );
    assert_eq!(r.rejection().status(), StatusCode::UNAUTHORIZED);
    let resp = r.to_response();
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(!String::from_utf8_lossy(resp.body()).contains(token));
    assert!(!challenge.contains(token));
}

#[test]
fn two_credentials_are_400_invalid_request() {
    let (issuer, facade) = setup();
    let t = issuer
        .token(now())
        .scope("patient/*.rs")
        .patient("1")
        .sign();
    let uri = format!("/fhir/Patient/1?access_token={t}");
    let r = refuse(
        &facade,
        &parts("GET", &uri, &[("authorization", &bearer(&t))]),
    )
    .to_response();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_request"));
}

#[test]
fn an_ungranted_type_is_403_insufficient_scope() {
    let (issuer, facade) = setup();
    let t = issuer
        .token(now())
        .scope("patient/Observation.rs")
        .patient("1")
        .sign();
    let r = refuse(
        &facade,
        &parts(
            "GET",
            "/fhir/Condition?patient=1",
            &[("authorization", &bearer(&t))],
        ),
    );
    let resp = r.to_response();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
}

#[test]
fn a_granted_search_carries_the_compartment_narrowing() {
    let (issuer, facade) = setup();
    let t = issuer
        .token(now())
        .scope("patient/Observation.rs")
        .patient("123")
        .sign();
    let a = facade
        .authorize(
            &parts(
                "GET",
                "/fhir/Observation?code=8867-4",
                &[("authorization", &bearer(&t))],
            ),
            b"",
            now(),
        )
        .expect("allowed");
    let n = a.narrowing().expect("narrowed");
    assert_eq!(n.alternatives()[0].compartment().unwrap().id, "123");
    assert_eq!(a.context().launch().patient, Some("123"));
}

#[test]
fn another_patients_instance_reads_as_missing() {
    let (issuer, facade) = setup();
    let t = issuer
        .token(now())
        .scope("patient/*.rs")
        .patient("123")
        .sign();
    let r = refuse(
        &facade,
        &parts(
            "GET",
            "/fhir/Observation?patient=999",
            &[("authorization", &bearer(&t))],
        ),
    );
    assert_eq!(
        r.rejection().status(),
        StatusCode::FORBIDDEN,
        "naming another patient"
    );
    assert_eq!(
        secure_fhir::Rejection::not_found("x").to_response().body(),
        secure_fhir::response::not_found().body()
    );
}

#[test]
fn limits_apply_before_the_token_is_read() {
    let (_, facade) = setup();
    let facade = facade.with_limits(Limits::default());
    let long = format!("/fhir/Patient?name={}", "a".repeat(5000));
    assert_eq!(
        refuse(&facade, &parts("GET", &long, &[]))
            .rejection()
            .status(),
        StatusCode::URI_TOO_LONG
    );
}

#[test]
fn refusals_are_audited_with_their_true_reason_and_no_token() {
    let (issuer, facade) = setup();
    let t = issuer
        .token(now())
        .scope("patient/Observation.rs")
        .patient("1")
        .sign();
    let p = parts(
        "GET",
        "/fhir/Condition?patient=1",
        &[("authorization", &bearer(&t))],
    );
    let r = refuse(&facade, &p);
    let when = chrono::Utc.timestamp_opt(NOW, 0).unwrap();
    let record = r.audit_record(when, &p, b"", &RequestInfo::default());
    assert!(
        matches!(record.outcome, Outcome::Denied { .. }),
        "{:?}",
        record.outcome
    );
    assert_eq!(record.patients, vec!["1".to_string()]);
    let bytes = record.to_log_bytes().unwrap();
    assert!(
        !String::from_utf8_lossy(&bytes).contains(&t),
        "no token in the record"
    );

    let p = parts("GET", "/fhir/Patient/1", &[]);
    let r = refuse(&facade, &p);
    let record = r.audit_record(when, &p, b"", &RequestInfo::default());
    assert!(matches!(record.outcome, Outcome::Unauthenticated { .. }));
}

/// audit.md §8.7, minimal pattern: a refused write is recorded with its request line and
/// headers (what was attempted), never with the resource it carried (names, clinical values).
/// A search's form body is its query and stays (§2.6).
#[test]
fn a_refused_write_is_audited_without_its_body() {
    let (issuer, facade) = setup();
    let t = issuer
        .token(now())
        .scope("patient/*.cruds")
        .patient("1")
        .sign();
    let when = chrono::Utc.timestamp_opt(NOW, 0).unwrap();
    let patient = br#"{"resourceType":"Patient","name":[{"family":"Doe-Recorded"}]}"#;
    let deep = [&patient[..], &[b'['; 80]].concat();
    for (ct, body) in [
        ("text/plain", &patient[..]),
        ("application/fhir+json", &deep[..]),
    ] {
        let auth = bearer(&t);
        let p = parts(
            "POST",
            "/fhir/Patient",
            &[("authorization", &auth), ("content-type", ct)],
        );
        let r = facade.authorize(&p, body, now()).expect_err(ct);
        let record = r.audit_record(when, &p, body, &RequestInfo::default());
        let raw = record.query.as_ref().expect("the attempt is recorded");
        let raw = String::from_utf8_lossy(raw.as_bytes());
        assert!(raw.starts_with("POST /fhir/Patient"), "{raw}");
        assert!(!raw.contains("Doe-Recorded"), "{ct}: {raw}");
    }

    let form = "application/x-www-form-urlencoded";
    let auth = bearer(&t);
    let p = parts(
        "POST",
        "/fhir/Observation/_search",
        &[("authorization", &auth), ("content-type", form)],
    );
    let body = b"patient=2&code=Doe-Searched";
    let r = facade
        .authorize(&p, body, now())
        .expect_err("another patient");
    let record = r.audit_record(when, &p, body, &RequestInfo::default());
    let raw = record.query.as_ref().expect("the search is recorded");
    assert!(String::from_utf8_lossy(raw.as_bytes()).contains("code=Doe-Searched"));
}

#[test]
fn allowed_requests_are_audited_with_patients_and_resources() {
    let (issuer, facade) = setup();
    let t = issuer
        .token(now())
        .scope("patient/*.rs")
        .patient("7")
        .fhir_user("Patient/7")
        .sign();
    let p = parts("GET", "/fhir/Patient/7", &[("authorization", &bearer(&t))]);
    let a = facade.authorize(&p, b"", now()).expect("allowed");
    let when = chrono::Utc.timestamp_opt(NOW, 0).unwrap();
    let facts = AuditFacts {
        resources: vec![ResourceRef::new("Patient", "7")],
        patients: vec!["7".into()],
    };
    let info = RequestInfo {
        peer: Some("127.0.0.1".into()),
        correlation_id: Some("req-1".into()),
    };
    let record = a.audit_record(when, &p, b"", &info, StatusCode::OK, &facts);
    assert!(record.outcome.is_success());
    assert_eq!(record.patients, vec!["7".to_string()]);
    assert_eq!(record.resources[0].reference(), "Patient/7");
    assert_eq!(
        record.user.as_ref().unwrap().fhir_user.as_deref(),
        Some("Patient/7")
    );
    assert_eq!(record.correlation_id.as_deref(), Some("req-1"));

    // A vread's record names the version it returned.
    let p = parts(
        "GET",
        "/fhir/Patient/7/_history/2",
        &[("authorization", &bearer(&t))],
    );
    let a = facade.authorize(&p, b"", now()).expect("allowed");
    let facts = AuditFacts {
        resources: vec![ResourceRef::new("Patient", "7").version("2")],
        patients: vec!["Patient/7".into()],
    };
    let record = a.audit_record(when, &p, b"", &info, StatusCode::OK, &facts);
    assert_eq!(record.resources[0].reference(), "Patient/7/_history/2");
    assert_eq!(record.patients, ["7"]);
}

#[test]
fn a_batch_is_audited_as_a_batch_whatever_its_entries_hold() {
    let (issuer, facade) = setup();
    let t = issuer.token(now()).scope("system/*.cruds").sign();
    let p = parts(
        "POST",
        "/fhir",
        &[
            ("authorization", &bearer(&t)),
            ("content-type", "application/fhir+json"),
        ],
    );
    let entry = r#"{"request":{"method":"POST","url":"Basic"},
        "resource":{"resourceType":"Basic","code":{"text":"transaction"}}}"#;
    let interaction = |kind: &str| {
        let body = format!(r#"{{"resourceType":"Bundle","type":"{kind}","entry":[{entry}]}}"#);
        let a = facade
            .authorize(&p, body.as_bytes(), now())
            .expect("allowed");
        let when = chrono::Utc.timestamp_opt(NOW, 0).unwrap();
        let record = a.audit_record(
            when,
            &p,
            body.as_bytes(),
            &RequestInfo::default(),
            StatusCode::OK,
            &AuditFacts::default(),
        );
        match record.event {
            fhir_audit::Event::Rest { interaction, .. } => interaction,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(interaction("batch"), fhir_audit::Interaction::Batch);
    assert_eq!(
        interaction("transaction"),
        fhir_audit::Interaction::Transaction
    );
}

#[test]
fn a_request_the_host_refused_early_is_audited_with_its_caller() {
    let (issuer, facade) = setup();
    let t = issuer
        .token(now())
        .scope("patient/*.rs")
        .patient("7")
        .sign();
    let too_large = || {
        secure_fhir::Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            secure_fhir::response::IssueCode::TooLong,
            "body_too_large",
            "The request body is too large",
        )
    };
    let when = chrono::Utc.timestamp_opt(NOW, 0).unwrap();
    let p = parts(
        "POST",
        "/fhir/Observation",
        &[("authorization", &bearer(&t))],
    );
    let r = facade.refused(&p, too_large(), now());
    assert_eq!(r.to_response().status(), StatusCode::PAYLOAD_TOO_LARGE);
    let record = r.audit_record(when, &p, b"", &RequestInfo::default());
    assert!(matches!(record.event, fhir_audit::Event::Rest { .. }));
    assert_eq!(record.user.as_ref().unwrap().id, "test-user");
    // Without a valid credential it is an unidentified caller's refusal.
    let p = parts("POST", "/fhir/Observation", &[]);
    let record =
        facade
            .refused(&p, too_large(), now())
            .audit_record(when, &p, b"", &RequestInfo::default());
    assert!(matches!(record.event, fhir_audit::Event::Authentication));
    assert!(record.user.is_none());
}

#[test]
fn revoked_tokens_are_refused() {
    let (issuer, facade) = setup();
    let facade =
        facade.with_revocation_check(|ctx: &smart_auth::AccessContext| ctx.token_id().is_some());
    let t = issuer
        .token(now())
        .scope("patient/*.rs")
        .patient("7")
        .sign();
    let r = refuse(
        &facade,
        &parts("GET", "/fhir/Patient/7", &[("authorization", &bearer(&t))]),
    );
    assert_eq!(r.rejection().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.rejection().reason(), "inactive");
}

#[test]
fn the_empty_search_policy_answers_the_same_empty_bundle_for_every_other_patient() {
    let issuer = TestIssuer::new(ISSUER, AUDIENCE);
    let mut policy = DecisionPolicy::default();
    policy.other_patient_search = smart_auth::decision::OtherPatientSearch::EmptyResult;
    let facade = SecureFhir::new(issuer.validator(), policy, "/fhir");
    let t = issuer
        .token(now())
        .scope("patient/*.rs")
        .patient("123")
        .sign();
    let answer = |who: &str| {
        let uri = format!("/fhir/Observation?patient={who}");
        refuse(
            &facade,
            &parts("GET", &uri, &[("authorization", &bearer(&t))]),
        )
        .to_response()
    };
    let (a, b) = (answer("999"), answer("does-not-exist"));
    assert_eq!(a.status(), StatusCode::OK);
    assert_eq!(a.body(), b.body());
    let bundle: serde_json::Value = serde_json::from_slice(a.body()).unwrap();
    assert_eq!(bundle["total"], 0);
}

/// An introspection answer (RFC 7662) for an opaque token, as the host's introspector parsed it.
fn introspected(extra: serde_json::Value) -> std::sync::Arc<smart_auth::AccessContext> {
    let mut answer = serde_json::json!({
        "active": true, "scope": "launch/patient patient/Observation.rs", "client_id": "app",
        "sub": "u-1", "exp": NOW + 300, "patient": "123", "aud": AUDIENCE,
    });
    answer
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let introspector = smart_auth::introspection::Introspector::new(ISSUER, AUDIENCE);
    let body = answer.to_string();
    std::sync::Arc::new(
        introspector
            .parse_constrained_response(body.as_bytes(), now())
            .unwrap(),
    )
}

#[test]
fn an_introspected_context_is_decided_like_a_validated_token() {
    let (_, facade) = setup();
    let p = parts("GET", "/fhir/Observation?code=8867-4", &[]);
    let ctx = introspected(serde_json::json!({}));
    let ok = facade
        .authorize_context(&p, b"", ctx.clone(), now())
        .expect("allowed");
    let narrowing = ok.narrowing().expect("narrowed to the launch patient");
    assert_eq!(narrowing.alternatives()[0].compartment().unwrap().id, "123");

    let p = parts("GET", "/fhir/Condition?code=x", &[]);
    let refused = facade
        .authorize_context(&p, b"", ctx.clone(), now())
        .expect_err("ungranted type");
    assert_eq!(refused.to_response().status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.context().and_then(|c| c.subject()), Some("u-1"));

    // The limits still apply first; the refusal's audit record names the caller, as
    // `authorize_head`'s does for a valid token, unless its context is no longer good.
    let long = format!("/fhir/Observation?code={}", "x".repeat(5000));
    let refused = facade
        .authorize_context(&parts("GET", &long, &[]), b"", ctx.clone(), now())
        .expect_err("over the limits");
    assert_eq!(refused.to_response().status(), StatusCode::URI_TOO_LONG);
    assert_eq!(refused.context().and_then(|c| c.subject()), Some("u-1"));
    let expired = facade
        .authorize_context(&parts("GET", &long, &[]), b"", ctx, now().plus(301))
        .expect_err("over the limits");
    assert_eq!(expired.to_response().status(), StatusCode::URI_TOO_LONG);
    assert!(expired.context().is_none());
}

#[test]
fn an_introspected_context_is_refused_once_expired_revoked_or_bound() {
    let p = parts("GET", "/fhir/Observation", &[]);
    let (_, facade) = setup();
    let expired = facade
        .authorize_context(
            &p,
            b"",
            introspected(serde_json::json!({})),
            now().plus(301),
        )
        .expect_err("expired");
    assert_eq!(expired.rejection().reason(), "expired");
    assert_eq!(expired.to_response().status(), StatusCode::UNAUTHORIZED);

    let bound = facade
        .authorize_context(
            &p,
            b"",
            introspected(
                serde_json::json!({"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
            ),
            now(),
        )
        .expect_err("a sender-constrained token needs its proof");
    assert_eq!(bound.to_response().status(), StatusCode::UNAUTHORIZED);

    let (_, facade) = setup();
    let facade =
        facade.with_revocation_check(|c: &smart_auth::AccessContext| c.subject() == Some("u-1"));
    let revoked = facade
        .authorize_context(&p, b"", introspected(serde_json::json!({})), now())
        .expect_err("revoked");
    assert_eq!(revoked.rejection().reason(), "inactive");
}

#[test]
fn an_unusable_introspection_answer_is_a_503_not_an_invalid_token() {
    let (_, facade) = setup();
    let p = parts(
        "GET",
        "/fhir/Observation",
        &[("authorization", "Bearer opaque-7Hq2")],
    );
    let introspector = smart_auth::introspection::Introspector::new(ISSUER, AUDIENCE);
    let answer = |body: &[u8]| {
        let e = introspector.parse_response(body, now()).unwrap_err();
        secure_fhir::Rejection::from_token_error(&e, facade.realm())
    };

    // The authorization server's failure: the client's token may be good, so no challenge
    // tells it to throw the token away; still refused.
    let failed = facade.refused(&p, answer(b"<html>Bad Gateway</html>"), now());
    assert_eq!(failed.rejection().reason(), "introspection_failed");
    let r = failed.to_response();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().get("www-authenticate").is_none());
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(body["issue"][0]["code"], "transient");
    assert!(!String::from_utf8_lossy(r.body()).contains("Bad Gateway"));
    let when = chrono::Utc.timestamp_opt(NOW, 0).unwrap();
    match failed
        .audit_record(when, &p, b"", &RequestInfo::default())
        .outcome
    {
        Outcome::Failed {
            severity,
            reason,
            http_status,
        } => {
            assert_eq!(severity, fhir_audit::Severity::Serious);
            assert_eq!(reason, "introspection_failed");
            assert_eq!(http_status, Some(503));
        }
        other => panic!("{other:?}"),
    }

    // The server's verdict on the token: 401 invalid_token, as for a JWT.
    let inactive = answer(br#"{"active":false}"#).to_response();
    assert_eq!(inactive.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        inactive.headers()["www-authenticate"],
        r#"Bearer realm="fhir", error="invalid_token""#
    );
}

/// A result Bundle carries resources outside its entries' `resource` too: an entry's
/// `response.outcome`, and whatever an `outcome` OperationOutcome contains. Another patient's
/// Observation in either is removed with its entry; the server's own plain outcomes stay.
#[test]
fn a_filtered_bundle_carries_no_resource_the_token_may_not_see() {
    let (issuer, facade) = setup();
    let p = get_as(&issuer, "patient/*.rs", "123", "/fhir/Observation");
    let authorized = facade.authorize(&p, b"", now()).expect("allowed");
    let bundle = br##"{"resourceType":"Bundle","type":"searchset","entry":[
        {"resource":{"resourceType":"Observation","id":"mine","status":"final","code":{"text":"x"},
            "subject":{"reference":"Patient/123"}},"search":{"mode":"match"},
         "response":{"status":"200","outcome":{"resourceType":"Observation","id":"theirs-1",
            "status":"final","code":{"text":"x"},"subject":{"reference":"Patient/456"}}}},
        {"resource":{"resourceType":"OperationOutcome","contained":[{"resourceType":"Observation",
            "id":"theirs-2","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/456"}}],
            "extension":[{"url":"http://example.org/carries","valueReference":{"reference":"#theirs-2"}}],
            "issue":[{"severity":"warning","code":"processing"}]},"search":{"mode":"outcome"}},
        {"resource":{"resourceType":"Observation","id":"mine-too","status":"final","code":{"text":"x"},
            "subject":{"reference":"Patient/123"}},"search":{"mode":"match"},
         "response":{"status":"200","outcome":{"resourceType":"OperationOutcome",
            "issue":[{"severity":"information","code":"informational"}]}}},
        {"resource":{"resourceType":"OperationOutcome",
            "issue":[{"severity":"warning","code":"processing"}]},"search":{"mode":"outcome"}}
    ]}"##;
    let fhir_types::Resource::Bundle(mut bundle) =
        fhir_types::json::parse_resource(bundle).unwrap()
    else {
        unreachable!()
    };
    let report = authorized.filter_bundle(&mut bundle);
    let kept = String::from_utf8(fhir_types::json::to_vec(&fhir_types::Resource::Bundle(
        bundle,
    )))
    .unwrap();
    assert!(!kept.contains("theirs"), "{kept}");
    assert!(kept.contains("mine-too"), "{kept}");
    assert_eq!(report.kept, 2, "{kept}");
}

/// audit.md §2.5: a patient is the subject when the security context is limited to them or
/// the request names them (path, compartment, a `patient`/`subject` criterion). A refused
/// probe of patient 456 by a token in patient 123's context is filed under both, so an auditor
/// asking `AuditEvent?patient=456` sees it; the answer is the refusal it was.
#[test]
fn a_refusal_is_audited_under_the_patient_it_targeted_and_the_launch_patient() {
    let (issuer, facade) = setup();
    let when = chrono::Utc.timestamp_opt(NOW, 0).unwrap();
    let patients_of = |scope: &str, launch: Option<&str>, uri: &str| {
        let mut token = issuer.token(now()).scope(scope);
        if let Some(p) = launch {
            token = token.patient(p);
        }
        let p = parts("GET", uri, &[("authorization", &bearer(&token.sign()))]);
        let refused = refuse(&facade, &p);
        let record = refused.audit_record(when, &p, b"", &RequestInfo::default());
        assert!(!record.outcome.is_success(), "{uri}");
        let mut patients = record.patients;
        patients.sort();
        patients
    };
    let launch = |uri: &str| patients_of("patient/*.rs", Some("123"), uri);
    for uri in [
        "/fhir/Observation?patient=456",
        "/fhir/Observation?patient=Patient/456",
        "/fhir/Observation?subject=Patient/456",
        "/fhir/Observation?subject:Patient=456",
        "/fhir/Observation?subject=456",
        "/fhir/Patient/456",
        "/fhir/Patient/456/_history/1",
        "/fhir/Patient/456/Observation",
        "/fhir/Patient?_id=456",
    ] {
        assert_eq!(launch(uri), ["123", "456"], "{uri}");
    }
    assert_eq!(
        launch("/fhir/Observation?patient=456,789"),
        ["123", "456", "789"]
    );
    // What names no patient adds none: another type, a chain, a malformed id (refused here
    // for want of a scope on Observation).
    for uri in [
        "/fhir/Observation?subject=Group/456",
        "/fhir/Observation?subject:Group=456",
        "/fhir/Observation?patient.name=456",
        "/fhir/Observation?patient=a*b",
        "/fhir/Observation?code=456",
    ] {
        let patients = patients_of("patient/Condition.rs", Some("123"), uri);
        assert_eq!(patients, ["123"], "{uri}");
    }
    // Without a launch patient, the one the request names.
    assert_eq!(
        patients_of("system/Condition.rs", None, "/fhir/Observation?patient=456"),
        ["456"]
    );
}

/// RFC 9110 §15.5.6: the origin server MUST generate an `Allow` header field in a 405 response,
/// listing the methods the target resource supports.
#[test]
fn a_405_lists_the_methods_the_path_takes() {
    let (issuer, facade) = setup();
    let t = issuer
        .token(now())
        .scope("patient/*.cruds")
        .patient("1")
        .sign();
    for (method, uri, allow) in [
        ("POST", "/fhir/Patient/1", "GET, HEAD, PUT, PATCH, DELETE"),
        (
            "TRACE",
            "/fhir/Observation",
            "GET, HEAD, POST, PUT, PATCH, DELETE",
        ),
        ("POST", "/fhir/Patient/1/_history", "GET, HEAD"),
        ("POST", "/fhir/Patient/$export", "GET, HEAD"),
    ] {
        let p = parts(method, uri, &[("authorization", &bearer(&t))]);
        let r = refuse(&facade, &p).to_response();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert_eq!(r.headers()["allow"], allow, "{method} {uri}");
    }
    // Only a 405 carries it.
    let p = parts("GET", "/fhir/Nonsense/1", &[("authorization", &bearer(&t))]);
    assert!(!refuse(&facade, &p)
        .to_response()
        .headers()
        .contains_key("allow"));
}
