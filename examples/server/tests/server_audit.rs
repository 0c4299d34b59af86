//! The running server's audit trail: every request (allowed or refused) is recorded, readable as
//! AuditEvents by tokens allowed to, and the tamper-evident log verifies until it is tampered
//! with.

mod server_support;

use std::time::Duration;

use server_support::{run, Server};

fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..100 {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("condition not met in time");
}

#[test]
fn every_request_is_audited_and_searchable() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    assert_eq!(s.get("/Patient/example", &t).status, 200);
    assert_eq!(s.get("/Observation/pat-2-heart-rate", &t).status, 404);
    assert_eq!(s.request("GET", "/Condition", None, &[], None).status, 401);

    // Auditors read AuditEvents; a patient reads those about their own data.
    let auditor = s.patient_token("patient/AuditEvent.rs");
    let events = wait_for(|| {
        let r = s.get("/AuditEvent?entity=Patient/example", &auditor);
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        (v["total"].as_u64().unwrap_or(0) >= 1).then_some(v)
    });
    let read = events["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|e| e["subtype"][0]["code"] == "read")
        .expect("the read is audited");
    assert_eq!(read["outcome"], "0");
    assert_eq!(read["action"], "R");
    let text = serde_json::to_string(read).unwrap();
    assert!(!text.contains(&t), "the token is never recorded");

    // The refused read of another patient's data is recorded as a denial for pat-2's data,
    // visible to an auditor that may read it, not to this patient.
    let by_date = s.get("/AuditEvent?date=ge2020-01-01", &auditor).json();
    assert!(by_date["total"].as_u64().unwrap() >= 1);
    assert_eq!(s.get("/AuditEvent?patient=pat-2", &auditor).status, 403);
    let observations_only = s.patient_token("patient/Observation.rs");
    assert_eq!(
        s.get("/AuditEvent", &observations_only).status,
        403,
        "AuditEvent needs a scope"
    );
}

#[test]
fn audit_verify_passes_then_catches_tampering() {
    let mut s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    for _ in 0..5 {
        assert_eq!(s.get("/Patient/example", &t).status, 200);
    }
    assert_eq!(s.get("/Patient/pat-2", &t).status, 404);
    // Let the group commit write the queue, then stop the server.
    std::thread::sleep(Duration::from_millis(300));
    s.stop();
    let log = s.audit_log();
    let log_arg = log.display().to_string();

    let (status, out, err) = run(&["audit", "verify", "--audit-log", &log_arg]);
    assert!(status.success(), "{out}{err}");
    assert!(out.contains("audit log OK"), "{out}");

    // Flip one byte inside a record's payload.
    let mut bytes = std::fs::read(&log).unwrap();
    assert!(bytes.len() > 200);
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    std::fs::write(&log, &bytes).unwrap();
    let (status, out, err) = run(&["audit", "verify", "--audit-log", &log_arg]);
    assert!(!status.success(), "tampering must fail verification: {out}");
    assert!(err.contains("first bad record"), "{err}");

    // A missing log is an error too, not a pass.
    let (status, _, _) = run(&["audit", "verify", "--audit-log", "/nonexistent/audit.log"]);
    assert!(!status.success());
}

#[test]
fn accounting_of_disclosures_is_served_per_patient() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    assert_eq!(s.get("/Patient/example", &t).status, 200);
    let r = s.get("/Patient/example/$disclosures", &t);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["resourceType"], "Bundle");
    // Another patient's accounting is not this token's to see.
    assert_eq!(s.get("/Patient/pat-2/$disclosures", &t).status, 404);
}
