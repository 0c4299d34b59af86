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

#[tokio::test]
async fn the_layer_decides_before_the_service_and_audits_both_ways() {
    let issuer = TestIssuer::new("https://auth.example.org", "https://fhir.example.org/fhir");
    let facade = Arc::new(SecureFhir::new(
        issuer.validator(),
        DecisionPolicy::default(),
        "/fhir",
    ));
    let records = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&records);
    let layer = SecureFhirLayer::new(
        facade,
        Arc::new(|| chrono::Utc.timestamp_opt(NOW, 0).unwrap()),
        Arc::new(move |r| sink.lock().unwrap().push(r)),
    );
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

    let token = issuer
        .token(UnixTime::from_secs(NOW))
        .scope("patient/*.rs")
        .patient("5")
        .sign();
    let ok = service
        .oneshot(
            Request::get("/fhir/Patient/5")
                .header("authorization", format!("Bearer {token}"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(*reached.lock().unwrap(), 1);
    let records = records.lock().unwrap();
    assert_eq!(records.len(), 2);
    assert!(!records[0].outcome.is_success());
    assert!(records[1].outcome.is_success());
}
