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
    let layer = SecureFhirLayer::dangerous_buffered(
        Arc::new(facade),
        Arc::new(|| chrono::Utc.timestamp_opt(NOW, 0).unwrap()),
        Arc::new(move |r| sink.lock().unwrap().push(r)),
    );
    (layer, records)
}

/// A test issuer and a layer over a default facade trusting it, with its audit records.
fn default_layer() -> (TestIssuer, SecureFhirLayer, Records) {
    let issuer = TestIssuer::new("https://auth.example.org", "https://fhir.example.org/fhir");
    let facade = SecureFhir::new(issuer.validator(), DecisionPolicy::default(), "/fhir");
    let (layer, records) = recording_layer(facade);
    (issuer, layer, records)
}

/// A service for requests the layer must refuse: reaching it fails the test.
async fn never_reached(_req: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    panic!("a refused request reached the service");
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
    let (issuer, layer, records) = default_layer();
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

/// A body whose transfer fails (the client went away mid-body).
struct BrokenBody;

impl http_body::Body for BrokenBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "peer went away");
        std::task::Poll::Ready(Some(Err(reset)))
    }
}

#[tokio::test]
async fn a_body_that_fails_to_arrive_is_a_400_not_a_413() {
    let (issuer, layer, records) = default_layer();
    let service = layer.layer(service_fn(never_reached));
    let (parts, _) = request(
        &issuer,
        http::Method::POST,
        "/fhir/Observation",
        "patient/*.cruds",
        Vec::new(),
    )
    .into_parts();
    let refused = service
        .oneshot(Request::from_parts(parts, BrokenBody))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let records = records.lock().unwrap();
    assert_eq!(records.len(), 1, "the refusal is audited");
    assert!(!records[0].outcome.is_success());
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_and_audited_naming_the_caller() {
    let issuer = TestIssuer::new("https://auth.example.org", "https://fhir.example.org/fhir");
    let mut limits = secure_fhir::limits::Limits::default();
    limits.max_body_bytes = 16;
    let (layer, records) = recording_layer(
        SecureFhir::new(issuer.validator(), DecisionPolicy::default(), "/fhir").with_limits(limits),
    );
    let service = layer.layer(service_fn(never_reached));
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

#[tokio::test]
async fn the_service_tells_the_layer_what_it_returned_for_the_audit_record() {
    use secure_fhir::audit::{AuditFacts, RequestInfo};
    let (issuer, layer, records) = default_layer();
    let service = layer.layer(service_fn(|_req: Request<Full<Bytes>>| async {
        let mut response = Response::new(Full::new(Bytes::from_static(b"{}")));
        response.extensions_mut().insert(AuditFacts {
            resources: vec![fhir_audit::ResourceRef::new("Observation", "o-1")],
            patients: vec!["5".into()],
        });
        Ok::<_, Infallible>(response)
    }));
    let mut req = request(
        &issuer,
        http::Method::GET,
        "/fhir/Observation/o-1",
        "system/Observation.rs",
        Vec::new(),
    );
    // An outer layer of the host's knows the peer and the request id.
    req.extensions_mut().insert(RequestInfo {
        peer: Some("10.0.0.7".into()),
        correlation_id: Some("req-9".into()),
    });
    let ok = service.oneshot(req).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let records = records.lock().unwrap();
    let record = &records[0];
    assert_eq!(record.patients, ["5"]);
    assert_eq!(record.resources[0].reference(), "Observation/o-1");
    assert_eq!(record.correlation_id.as_deref(), Some("req-9"));
    assert_eq!(
        record.client.as_ref().and_then(|c| c.address.as_deref()),
        Some("10.0.0.7")
    );
}

/// What the head alone decides (the request line and headers over the limits, a missing or
/// invalid credential) is refused before the body is read (reading this one would make it a
/// 400): no one without a valid token makes
/// the server buffer a body, and a declared length over the limit is a 413 at once (threats.md
/// §4: "413 before full read").
#[tokio::test]
async fn a_request_refused_by_its_head_is_refused_before_its_body_is_read() {
    let (issuer, layer, records) = default_layer();
    let head = |auth: Option<&str>, length: &str| {
        let mut b = Request::post("/fhir/Observation")
            .header("content-type", "application/fhir+json")
            .header("content-length", length);
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(BrokenBody).unwrap()
    };
    let token = issuer
        .token(UnixTime::from_secs(NOW))
        .scope("patient/*.cruds")
        .patient("5")
        .sign();
    let bearer = format!("Bearer {token}");
    for (req, status) in [
        (head(None, "10"), StatusCode::UNAUTHORIZED),
        (
            head(Some("Bearer not-a-token"), "10"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            head(Some(&bearer), "999999999"),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let service = layer.clone().layer(service_fn(never_reached));
        let refused = service.oneshot(req).await.unwrap();
        assert_eq!(refused.status(), status);
    }
    let records = records.lock().unwrap();
    assert_eq!(records.len(), 3, "every refusal is audited");
    assert_eq!(
        records[2].user.as_ref().map(|u| u.id.as_str()),
        Some("test-user"),
        "naming the caller whose credential is valid"
    );
}

/// A durable layer whose hook keeps records in `records` while `keeps` says so; each kept
/// record is pushed only when its future is polled (after a yield), so a record in the list
/// shows the layer awaited the future before answering.
fn durable_layer(keeps: bool) -> (TestIssuer, SecureFhirLayer, Records) {
    use secure_fhir::layer::AuditFuture;
    let issuer = TestIssuer::new("https://auth.example.org", "https://fhir.example.org/fhir");
    let facade = SecureFhir::new(issuer.validator(), DecisionPolicy::default(), "/fhir");
    let records = Records::default();
    let sink = Arc::clone(&records);
    let layer = SecureFhirLayer::durable(
        Arc::new(facade),
        Arc::new(|| chrono::Utc.timestamp_opt(NOW, 0).unwrap()),
        Arc::new(move |record| -> AuditFuture {
            let sink = Arc::clone(&sink);
            Box::pin(async move {
                tokio::task::yield_now().await;
                if !keeps {
                    return Err("the audit log is full".into());
                }
                sink.lock().unwrap().push(record);
                Ok(())
            })
        }),
    );
    (issuer, layer, records)
}

/// The service of the durable tests: answers a resource.
async fn answers_a_resource(
    _req: Request<Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = br#"{"resourceType":"Observation","id":"o-1","status":"final"}"#;
    Ok(Response::new(Full::new(Bytes::from_static(body))))
}

/// A `system/` read of the resource [`answers_a_resource`] answers.
fn read_o1(issuer: &TestIssuer) -> Request<Full<Bytes>> {
    let scope = "system/Observation.rs";
    request(
        issuer,
        http::Method::GET,
        "/fhir/Observation/o-1",
        scope,
        Vec::new(),
    )
}

#[tokio::test]
async fn a_durable_layer_answers_once_the_record_is_kept() {
    let (issuer, layer, records) = durable_layer(true);
    let service = layer.layer(service_fn(answers_a_resource));
    let req = read_o1(&issuer);
    let ok = service.oneshot(req).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(records.lock().unwrap().len(), 1, "kept before the answer");
}

/// audit.md §8.6: a disclosure whose record cannot be kept is not sent; a refusal still is.
#[tokio::test]
async fn a_durable_layer_fails_closed_when_the_record_cannot_be_kept() {
    use http_body_util::BodyExt;
    let (issuer, layer, _) = durable_layer(false);
    let service = layer.layer(service_fn(answers_a_resource));
    let req = read_o1(&issuer);
    let failed = service.clone().oneshot(req).await.unwrap();
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = failed.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("OperationOutcome") && !text.contains("o-1"),
        "{text}"
    );

    let anonymous = Request::get("/fhir/Observation/o-1")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let refused = service.oneshot(anonymous).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

/// Every allowed request is audited, also when the service answers nothing: it fails, it
/// panics, or the request is dropped (the client went away) while the service works on it.
#[tokio::test]
async fn an_allowed_request_the_service_never_answers_is_audited() {
    use std::future::Future;
    let (issuer, layer, records) = default_layer();
    let failing = layer
        .clone()
        .layer(service_fn(|_req: Request<Full<Bytes>>| async {
            Err::<Response<Full<Bytes>>, _>(std::io::Error::other("the store is down"))
        }));
    assert!(failing.oneshot(read_o1(&issuer)).await.is_err());
    assert_eq!(
        records.lock().unwrap().len(),
        1,
        "a service error is audited"
    );

    let panicking = layer
        .clone()
        .layer(service_fn(|req: Request<Full<Bytes>>| async move {
            if req.extensions().get::<Authorized>().is_some() {
                panic!("a bug in the service");
            }
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        }));
    let joined = tokio::spawn(panicking.oneshot(read_o1(&issuer))).await;
    assert!(joined.unwrap_err().is_panic());
    assert_eq!(records.lock().unwrap().len(), 2, "a panic is audited");

    let stalled = layer.layer(service_fn(|_req: Request<Full<Bytes>>| {
        std::future::pending::<Result<Response<Full<Bytes>>, Infallible>>()
    }));
    let mut call = Box::pin(stalled.oneshot(read_o1(&issuer)));
    std::future::poll_fn(|cx| {
        assert!(call.as_mut().poll(cx).is_pending());
        std::task::Poll::Ready(())
    })
    .await;
    drop(call);
    let records = records.lock().unwrap();
    assert_eq!(records.len(), 3, "a dropped request is audited");
    assert!(records.iter().all(|r| !r.outcome.is_success()));
    assert!(records
        .iter()
        .all(|r| r.user.as_ref().is_some_and(|u| u.id == "test-user")));
}

/// A read of another patient's Observation, refused by the service's result check.
async fn checks_another_patients_observation(
    req: Request<Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let authorized = req.extensions().get::<Authorized>().expect("authorized");
    let stored = fhir_types::json::parse_resource(
        br#"{"resourceType":"Observation","id":"o-1","status":"final","code":{"text":"BP"},
            "subject":{"reference":"Patient/6"}}"#,
    )
    .unwrap();
    let answer = match authorized.check_resource(&stored) {
        Ok(()) => Response::new(Vec::from(&b"{}"[..])),
        Err(refused) => refused.to_response(),
    };
    Ok(answer.map(Full::from))
}

/// audit.md §4: the record keeps the true reason of a deliberately uninformative 404. A read
/// the service's result check refuses (another patient's resource) is a denial in the audit
/// trail, though its answer is byte for byte the one for an id that does not exist.
#[tokio::test]
async fn a_result_the_service_refuses_is_audited_as_a_denial_not_as_a_missing_id() {
    use http_body_util::BodyExt;
    let (issuer, layer, records) = default_layer();
    let scope = "patient/Observation.rs";
    // A patient-user: its fhirUser would put a record in its own patient's trail.
    let read = || {
        let token = issuer
            .token(UnixTime::from_secs(NOW))
            .scope(&format!("{scope} openid fhirUser"))
            .patient("5")
            .fhir_user("Patient/5")
            .sign();
        Request::get("/fhir/Observation/o-1")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let refused = layer
        .clone()
        .layer(service_fn(checks_another_patients_observation));
    let denied = refused.oneshot(read()).await.unwrap();
    let missing = layer.layer(service_fn(|_req: Request<Full<Bytes>>| async {
        let answer = secure_fhir::Rejection::not_found("not_found").to_response();
        Ok::<_, Infallible>(answer.map(Full::from))
    }));
    let missing = missing.oneshot(read()).await.unwrap();
    assert_eq!(denied.status(), StatusCode::NOT_FOUND);
    assert_eq!(denied.headers(), missing.headers());
    let body =
        |r: Response<Full<Bytes>>| async { r.into_body().collect().await.unwrap().to_bytes() };
    assert_eq!(body(denied).await, body(missing).await);

    let records = records.lock().unwrap();
    assert!(
        matches!(&records[0].outcome, fhir_audit::Outcome::Denied { .. }),
        "{:?}",
        records[0].outcome
    );
    assert!(
        !matches!(&records[1].outcome, fhir_audit::Outcome::Denied { .. }),
        "{:?}",
        records[1].outcome
    );
    // The denial says the resource exists: filed for auditors only, its user not named as the
    // Patient whose trail the app may read (an AuditEvent's patient covers its agents); the
    // missing id's record keeps it.
    let fhir_user = |r: &fhir_audit::AuditRecord| r.user.as_ref().and_then(|u| u.fhir_user.clone());
    assert_eq!(fhir_user(&records[0]), None);
    assert!(records[0].patients.is_empty(), "{:?}", records[0].patients);
    assert_eq!(fhir_user(&records[1]).as_deref(), Some("Patient/5"));
}
