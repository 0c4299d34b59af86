//! Requests whose parts the decision and a host could read differently (threats.md §3.14):
//! every variant must be decided on what the host will act on, or refused.

use http::{Request, StatusCode};
use secure_fhir::SecureFhir;
use smart_auth::decision::DecisionPolicy;
use smart_auth::testing::TestIssuer;
use smart_auth::UnixTime;

const ISSUER: &str = "https://auth.example.org";
const AUDIENCE: &str = "https://fhir.example.org/fhir";
const NOW: UnixTime = UnixTime::from_secs(1_767_225_600);

fn setup() -> (TestIssuer, SecureFhir) {
    let issuer = TestIssuer::new(ISSUER, AUDIENCE);
    let facade = SecureFhir::new(issuer.validator(), DecisionPolicy::default(), "/fhir");
    (issuer, facade)
}

/// A token that may search Patient/123's Observations.
fn patient_token(issuer: &TestIssuer) -> String {
    issuer
        .token(NOW)
        .scope("patient/Observation.rs")
        .patient("123")
        .sign()
}

fn post(uri: &str, token: &str, content_type: &str) -> http::request::Parts {
    Request::post(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(())
        .unwrap()
        .into_parts()
        .0
}

/// Media types are case-insensitive (RFC 9110 §8.3.1): a host reads a form body sent as
/// `Application/X-WWW-Form-Urlencoded` as the search it is, so the decision must too.
#[test]
fn a_post_search_form_is_decided_whatever_the_case_of_its_media_type() {
    let (issuer, facade) = setup();
    let token = patient_token(&issuer);
    let body = b"patient=456";
    for ct in [
        "application/x-www-form-urlencoded",
        "Application/X-WWW-Form-Urlencoded",
        "APPLICATION/X-WWW-FORM-URLENCODED; charset=utf-8",
    ] {
        let parts = post("/fhir/Observation/_search", &token, ct);
        let refused = facade
            .authorize(&parts, body, NOW)
            .expect_err(&format!("another patient's search sent as {ct}"));
        assert_eq!(
            refused.to_response().status(),
            StatusCode::FORBIDDEN,
            "{ct}"
        );
    }
}

/// A `POST _search` form is the query sent as a body: it is held to the query limits, or a
/// client would pass them by switching from GET to POST.
#[test]
fn a_post_search_form_is_held_to_the_query_limits() {
    let (issuer, facade) = setup();
    let token = patient_token(&issuer);
    let form = "application/x-www-form-urlencoded";
    let many = "code=1&".repeat(65);
    let long = format!("code={}", "a".repeat(4096));
    for (body, status) in [
        (many.as_str(), StatusCode::BAD_REQUEST),
        (long.as_str(), StatusCode::URI_TOO_LONG),
    ] {
        let get = Request::get(format!("/fhir/Observation?{body}"))
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let by_get = facade.authorize(&get, b"", NOW).expect_err("over a limit");
        assert_eq!(by_get.to_response().status(), status);
        let parts = post("/fhir/Observation/_search", &token, form);
        let by_post = facade
            .authorize(&parts, body.as_bytes(), NOW)
            .expect_err("over the same limit");
        assert_eq!(by_post.rejection(), by_get.rejection());
    }
    let parts = post("/fhir/Observation/_search", &token, form);
    let within = "code=1&".repeat(64);
    assert!(facade.authorize(&parts, within.as_bytes(), NOW).is_ok());
}

/// A `POST _search` body the decision cannot read as a form is refused, not decided without it.
#[test]
fn a_post_search_body_that_is_not_a_form_is_refused() {
    let (issuer, facade) = setup();
    let token = patient_token(&issuer);
    let parts = post("/fhir/Observation/_search", &token, "application/json");
    let refused = facade
        .authorize(&parts, br#"{"patient":"456"}"#, NOW)
        .expect_err("a search body that is not a form");
    assert_eq!(
        refused.to_response().status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

/// A form is a search's body only (threats.md §5, Content-Type confusion): a resource or a
/// patch sent as `application/x-www-form-urlencoded` would skip the JSON depth limit and reach
/// a host that parses it as JSON anyway. Refused as an unsupported media type.
#[test]
fn a_write_sent_as_a_form_is_refused() {
    let (issuer, facade) = setup();
    let token = issuer
        .token(NOW)
        .scope("patient/Observation.cruds")
        .patient("123")
        .sign();
    let observation = br#"{"resourceType":"Observation","id":"o1","status":"final","code":{},
        "subject":{"reference":"Patient/123"}}"#;
    let deep = [b'['; 100];
    for (method, uri, body) in [
        ("POST", "/fhir/Observation", &observation[..]),
        ("PUT", "/fhir/Observation/o1", &observation[..]),
        (
            "PATCH",
            "/fhir/Observation/o1",
            &br#"[{"op":"remove","path":"/code"}]"#[..],
        ),
        ("PUT", "/fhir/Observation/o1", &deep[..]),
        ("POST", "/fhir", &deep[..]),
    ] {
        let parts = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let refused = facade
            .authorize(&parts, body, NOW)
            .expect_err(&format!("{method} {uri} sent as a form"));
        assert_eq!(
            refused.to_response().status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{method} {uri}"
        );
    }
}

/// A coded body (`Content-Encoding`) would pass the limits and the decision as opaque bytes and
/// reach the host, which may inflate it, unchecked: refused up front, before the body is read.
#[test]
fn a_content_coded_body_is_refused_before_it_is_read() {
    let (issuer, facade) = setup();
    let token = patient_token(&issuer);
    for coding in ["gzip", "deflate, identity", "br", "GZIP"] {
        let mut parts = post("/fhir/Observation", &token, "application/fhir+json");
        parts
            .headers
            .insert("content-encoding", coding.parse().unwrap());
        let refused = facade.limits().check_head(&parts).expect_err(coding);
        assert_eq!(
            refused.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{coding}"
        );
        assert_eq!(refused.reason(), "unsupported_content_encoding");
        let refused = facade
            .authorize(&parts, b"\x1f\x8b", NOW)
            .expect_err(coding);
        assert_eq!(
            refused.to_response().status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }
    let mut parts = post("/fhir/Observation", &token, "application/fhir+json");
    parts
        .headers
        .insert("content-encoding", "identity".parse().unwrap());
    assert!(facade.limits().check_head(&parts).is_ok());
}

/// `_type` names the types of a system search. On a type search, a compartment search or
/// conditional criteria the decision would ignore it, while a host honouring it would search
/// types the token may not search: refused.
#[test]
fn a_type_list_outside_a_system_search_is_refused() {
    let (issuer, facade) = setup();
    let token = issuer
        .token(NOW)
        .scope("patient/Observation.crus")
        .patient("123")
        .sign();
    for (method, uri) in [
        ("GET", "/fhir/Observation?_type=Patient"),
        ("GET", "/fhir/Patient/123/Observation?_type=Condition"),
        ("PUT", "/fhir/Observation?code=x&_type=Condition"),
    ] {
        let parts = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/fhir+json")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let refused = facade.authorize(&parts, b"", NOW).expect_err(uri);
        assert_eq!(
            refused.to_response().status(),
            StatusCode::BAD_REQUEST,
            "{uri}"
        );
        assert_eq!(
            refused.rejection().reason(),
            "unsupported_parameter",
            "{uri}"
        );
    }
}
