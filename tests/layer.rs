//! The optional `tower` layer: a refused request never reaches the service, an allowed one
//! arrives with its `Authorized` value, and both are audited.
#![cfg(feature = "tower")]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::TimeZone;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use secure_fhir::layer::SecureFhirLayer;
use secure_fhir::{Authorized, SecureFhir};
use smart_auth::decision::DecisionPolicy;
use smart_auth::testing::TestIssuer;
use smart_auth::UnixTime;
use tower::{service_fn, Layer, ServiceExt};

const NOW: i64 = 1_767_225_600;

type Records = Arc<Mutex<Vec<fhir_audit::AuditRecord>>>;

/// A layer over `facade` at `NOW` whose audit records land in the returned list.
fn recording_layer(facade: SecureFhir) -> (SecureFhirLayer, Records) {
    let records = Records::default();
    let sink = Arc::clone(&records);
    let layer = SecureFhirLayer::new(
        Arc::new(facade),
        Arc::new(|| chrono::Utc.timestamp_opt(NOW, 0).unwrap()),
        Arc::new(move |r| sink.lock().unwrap().push(r)),
    );
    (layer, records)
}

/// A request to `uri` with `issuer`'s token for `scope` and launch patient 5.
fn request(
    issuer: &TestIssuer,
    method: http::Method,
    uri: &str,
    scope: &str,
    body: Vec<u8>,
) -> Request<Full<Bytes>> {
    let token = issuer
        .token(UnixTime::from_secs(NOW))
        .scope(scope)
        .patient("5")
        .sign();
    Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/fhir+json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

#[tokio::test]
async fn the_layer_decides_before_the_service_and_audits_both_ways() {
    let issuer = TestIssuer::new("https://auth.example.org", "https://fhir.example.org/fhir");
    let (layer, records) = recording_layer(SecureFhir::new(
        issuer.validator(),
        DecisionPolicy::default(),
        "/fhir",
    ));
    let reached = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&reached);
    let service = layer.layer(service_fn(move |req: Request<Full<Bytes>>| {
        let counter = Arc::clone(&counter);
        async move {
            let a = req
                .extensions()
                .get::<Authorized>()
                .expect("authorized value");
            assert_eq!(a.context().launch().patient, Some("5"));
            *counter.lock().unwrap() += 1;
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
        }
    }));

    let refused = service
        .clone()
        .oneshot(
            Request::get("/fhir/Patient/5")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(*reached.lock().unwrap(), 0);

    let ok = service
        .oneshot(request(
            &issuer,
            http::Method::GET,
            "/fhir/Patient/5",
            "patient/*.rs",
            Vec::new(),
        ))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(*reached.lock().unwrap(), 1);
    let records = records.lock().unwrap();
    assert_eq!(records.len(), 2);
    assert!(!records[0].outcome.is_success());
    assert!(records[1].outcome.is_success());
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_and_audited_naming_the_caller() {
    let issuer = TestIssuer::new("https://auth.example.org", "https://fhir.example.org/fhir");
    let mut limits = secure_fhir::limits::Limits::default();
    limits.max_body_bytes = 16;
    let (layer, records) = recording_layer(
        SecureFhir::new(issuer.validator(), DecisionPolicy::default(), "/fhir").with_limits(limits),
    );
    let service = layer.layer(service_fn(|_req: Request<Full<Bytes>>| async {
        panic!("an oversized body never reaches the service");
        #[allow(unreachable_code)]
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    }));
    let big = vec![b' '; 17];
    let refused = service
        .oneshot(request(
            &issuer,
            http::Method::POST,
            "/fhir/Observation",
            "patient/*.cruds",
            big,
        ))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let records = records.lock().unwrap();
    assert_eq!(records.len(), 1, "the refusal is audited");
    assert!(!records[0].outcome.is_success());
    assert_eq!(
        records[0].user.as_ref().map(|u| u.id.as_str()),
        Some("test-user"),
        "naming the caller"
    );
}
