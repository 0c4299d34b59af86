//! `Gate::record` when the audit record's patients cannot be known: the response is withheld
//! (audit.md §8.6, fail closed), never released under a record that names no patient.

use std::sync::Arc;

use secure_fhir::SecureFhir;
use smart_auth::decision::DecisionPolicy;
use smart_auth::testing::TestIssuer;

use super::*;

const BASE: &str = "http://localhost:8080/fhir";

/// A gate over an in-memory store holding one Observation of Patient `p1`, and a verdict
/// for a system-level read of it whose response notes that Observation.
fn read_of_an_observation() -> (Gate, Arc<Store>, Verdict, http::request::Parts) {
    let issuer = TestIssuer::new("https://issuer.test", BASE);
    let facade = SecureFhir::new(issuer.validator(), DecisionPolicy::default(), "/fhir");
    let store = Arc::new(Store::open(None, BASE).unwrap());
    store
        .transaction(|tx| -> crate::store::Result<()> {
            let observation = serde_json::json!({"resourceType": "Observation",
                "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p1"}});
            tx.put("Observation", "o1", observation, chrono::Utc::now())?;
            Ok(())
        })
        .unwrap();
    let trail = Arc::new(AuditTrail::open(None, None, Default::default()).unwrap());
    let gate = Gate::secure(facade, trail, Arc::clone(&store));
    let token = issuer.token(now_unix()).scope("system/*.rs").sign();
    let parts = http::Request::get("/fhir/Observation/o1")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let head = gate.authenticate(&parts).map_err(|r| r.status()).unwrap();
    let verdict = gate
        .authorize(&parts, b"", head)
        .map_err(|r| r.status())
        .unwrap();
    verdict.note_touched(&["Observation/o1".to_owned()], None);
    (gate, store, verdict, parts)
}

fn ok_response() -> http::Response<Vec<u8>> {
    http::Response::new(b"{}".to_vec())
}

#[tokio::test]
async fn a_readable_store_lets_the_response_go() {
    let (gate, _store, verdict, parts) = read_of_an_observation();
    let pending = gate.record(&verdict, &parts, b"", &ok_response(), chrono::Utc::now());
    assert_eq!(pending.expect("audited").durable().await, Ok(()));
}

#[tokio::test]
async fn a_store_error_finding_the_patients_withholds_the_response() {
    let (gate, store, verdict, parts) = read_of_an_observation();
    store.break_compartments_for_tests();
    let pending = gate.record(&verdict, &parts, b"", &ok_response(), chrono::Utc::now());
    assert!(
        pending.expect("audited").durable().await.is_err(),
        "a record naming no patient must not release the data"
    );
}

#[tokio::test]
async fn a_poisoned_note_of_what_was_touched_withholds_the_response() {
    let (gate, _store, verdict, parts) = read_of_an_observation();
    let poison = std::thread::scope(|s| {
        s.spawn(|| {
            let _held = verdict.touched.lock();
            panic!("poisons the lock");
        })
        .join()
    });
    assert!(poison.is_err() && verdict.touched.is_poisoned());
    let pending = gate.record(&verdict, &parts, b"", &ok_response(), chrono::Utc::now());
    assert!(pending.expect("audited").durable().await.is_err());
}
