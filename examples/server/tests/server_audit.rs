//! The running server's audit trail: every request (allowed or refused) is recorded, readable as
//! AuditEvents by tokens allowed to, and the tamper-evident log verifies until it is tampered
//! with.

mod server_support;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use server_support::{run, Scratch, Server};
use smart_auth::UnixTime;

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
    // A BALP PatientRead: both network addresses are there, so the profile is claimed.
    assert_eq!(
        read["meta"]["profile"][0],
        "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead",
        "{read}"
    );
    let server = read["agent"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"]["coding"][0]["code"] == "110152")
        .expect("the server agent");
    assert_eq!(server["network"]["address"], "127.0.0.1", "{read}");
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
    // The files --help and the README name beside the log.
    for suffix in [".checkpoints", ".key", ".pub"] {
        let file = format!("{log_arg}{suffix}");
        assert!(std::path::Path::new(&file).is_file(), "{file}");
    }

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
    // As the README says: only reads whose token states a purpose of use other than
    // treatment, payment or operations are accounted (the dev server's tokens state none).
    let now = UnixTime::from_secs(chrono::Utc::now().timestamp());
    let reader = |purpose: Option<&str>| {
        let token = s.issuer.token(now).scope("system/Observation.rs");
        match purpose {
            Some(p) => token.claim("purpose_of_use", p).sign(),
            None => token.sign(),
        }
    };
    let accounted = || {
        let r = s.get("/Patient/example/$disclosures", &t);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["entry"].as_array().map_or(0, Vec::len)
    };
    for purpose in [None, Some("TREAT"), Some("PUBHLTH")] {
        let r = s.get("/Observation/example", &reader(purpose));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(accounted(), 1);
    // Data leaves as well through $everything, history and a batch of reads.
    let registry = s
        .issuer
        .token(now)
        .scope("system/Patient.rs system/Observation.rs")
        .claim("purpose_of_use", "PUBHLTH")
        .sign();
    for path in [
        "/Patient/example/$everything",
        "/Observation/example/_history",
    ] {
        let r = s.get(path, &registry);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    let batch = r#"{"resourceType":"Bundle","type":"batch","entry":[
        {"request":{"method":"GET","url":"Observation/example"}}]}"#;
    let json = [("Content-Type", "application/fhir+json")];
    let r = s.request("POST", "", Some(&registry), &json, Some(batch.as_bytes()));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(accounted(), 4);

    // `from` and `to` narrow the period; anything else is refused, not ignored.
    let within = |query: &str| {
        let r = s.get(&format!("/Patient/example/$disclosures?{query}"), &t);
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        r.json()["entry"].as_array().map_or(0, Vec::len)
    };
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(within(&format!("from={today}")), 4);
    assert_eq!(within(&format!("to={today}")), 4);
    assert_eq!(within("from=2000&to=2001-06"), 0);
    assert_eq!(within("to=2001"), 0);
    for bad in [
        "from=yesterday",
        "from=2020&from=2021",
        "since=2020",
        "_count=1",
    ] {
        let r = s.get(&format!("/Patient/example/$disclosures?{bad}"), &t);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
}

#[test]
fn audit_events_are_read_and_searched_by_each_parameter() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    assert_eq!(s.get("/Patient/example", &t).status, 200);
    let auditor = s.patient_token("patient/AuditEvent.rs");
    let ids = |query: &str| -> Vec<String> {
        let r = s.get(&format!("/AuditEvent?{query}&_count=1000"), &auditor);
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        let v = r.json();
        v["entry"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let all = s
        .get("/AuditEvent?patient=example&_count=1000", &auditor)
        .json();
    let read = all["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|e| e["subtype"][0]["code"] == "read")
        .expect("the read is audited")
        .clone();
    let id = read["id"].as_str().unwrap().to_owned();
    assert_eq!(read["meta"]["versionId"], "1");

    // read and vread give the same event; there is no second version.
    let one = s.get(&format!("/AuditEvent/{id}"), &auditor);
    assert_eq!(one.status, 200, "{}", one.text());
    assert_eq!(one.json(), read);
    assert_eq!(one.header("etag").unwrap(), "W/\"1\"");
    assert_eq!(
        s.get(&format!("/AuditEvent/{id}/_history/1"), &auditor)
            .json(),
        read
    );
    assert_eq!(
        s.get(&format!("/AuditEvent/{id}/_history/2"), &auditor)
            .status,
        404
    );
    assert_eq!(s.get("/AuditEvent/999999", &auditor).status, 404);

    // Each parameter finds it, and a value that does not match leaves it out.
    let year = &read["recorded"].as_str().unwrap()[..4];
    for q in [
        format!("_id={id}"),
        "patient=Patient/example".to_owned(),
        "entity=Patient/example".to_owned(),
        "agent=Patient/example".to_owned(),
        "agent=Device/secure-fhir-server".to_owned(),
        format!("date={year}"),
        "date=ge2020-01-01".to_owned(),
        "_lastUpdated=ge2020-01-01".to_owned(),
    ] {
        assert!(ids(&q).contains(&id), "{q} finds the read");
    }
    for q in [
        "date=lt2020-01-01",
        "_lastUpdated=lt2020-01-01",
        "agent=Device/other",
        "entity=Observation/pat-2-heart-rate",
        "_id=999999",
    ] {
        assert!(!ids(q).contains(&id), "{q} leaves the read out");
    }
    let compartment = s
        .get("/Patient/example/AuditEvent?_count=1000", &auditor)
        .json();
    assert!(compartment["entry"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["resource"]["id"] == id.as_str()));
    let revinclude = s
        .get("/Patient?_id=example&_revinclude=AuditEvent:patient", &t)
        .json();
    assert!(revinclude["entry"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["resource"]["id"] == id.as_str()));

    // A parameter the trail is not searched by is refused, not ignored.
    assert_eq!(s.get("/AuditEvent?outcome=0", &auditor).status, 400);
    // No token may write one.
    let r = s.request("DELETE", &format!("/AuditEvent/{id}"), Some(&t), &[], None);
    assert!(r.status == 405 || r.status == 403, "{}", r.status);
    assert_eq!(s.get(&format!("/AuditEvent/{id}"), &auditor).status, 200);
}

#[test]
fn a_restarted_server_serves_the_same_audit_events() {
    let dir = Scratch::new();
    let db = dir.path("store.db").display().to_string();
    let mut s = Server::start(&["--db", &db]);
    let t = s.patient_token("patient/*.rs");
    let auditor = s.patient_token("patient/AuditEvent.rs");
    assert_eq!(s.get("/Patient/example", &t).status, 200);
    assert_eq!(s.get("/Observation?patient=example", &t).status, 200);
    assert_eq!(s.get("/Patient/pat-2", &t).status, 404);
    let queries = [
        "/AuditEvent?_count=1000",
        "/AuditEvent?patient=example&_count=1000",
        "/AuditEvent?entity=Patient/example&_count=1000",
        "/AuditEvent?agent=Device/secure-fhir-server&_count=1000",
        "/AuditEvent?date=ge2020-01-01&_count=1000",
        "/Patient/example/AuditEvent?_count=1000",
    ];
    let answers = |s: &Server| -> Vec<Vec<serde_json::Value>> {
        queries
            .iter()
            .map(|q| {
                let r = s.get(q, &auditor);
                assert_eq!(r.status, 200, "{q}: {}", r.text());
                let v = r.json();
                let entries = v["entry"].as_array().cloned().unwrap_or_default();
                entries.into_iter().map(|e| e["resource"].clone()).collect()
            })
            .collect()
    };
    let before = answers(&s);
    // Let the view take the searches' own records too, then restart on the same files.
    std::thread::sleep(Duration::from_millis(600));
    s.restart();
    let after = answers(&s);
    for ((q, b), a) in queries.iter().zip(&before).zip(&after) {
        assert!(b.len() >= 2, "{q}: {b:?}");
        // The events from before the restart keep their ids and content, oldest first.
        assert!(a.len() > b.len(), "{q}");
        assert_eq!(&a[..b.len()], &b[..], "{q}");
    }
    for event in &before[0] {
        let id = event["id"].as_str().unwrap();
        assert_eq!(&s.get(&format!("/AuditEvent/{id}"), &auditor).json(), event);
    }
    let r = s.get("/Patient/example/$disclosures", &t);
    assert_eq!(r.status, 200, "{}", r.text());
}

/// The accounting names who received a patient's data and why: it is the patient's own and
/// auditors', not every chart reader's (a clinician system reading the Patient sees no law
/// enforcement or public health disclosures of it).
#[test]
fn only_the_patient_and_auditors_read_the_accounting_of_disclosures() {
    let s = Server::start(&[]);
    let chart_reader = s.token("system/Patient.rs system/Observation.rs", None, None);
    assert_eq!(s.get("/Patient/example", &chart_reader).status, 200);
    assert_eq!(
        s.get("/Patient/example/$disclosures", &chart_reader).status,
        403
    );
    // A clinician in the patient's context is not the patient.
    let clinician = s.token(
        "patient/Patient.rs",
        Some("example"),
        Some("Practitioner/example"),
    );
    assert_eq!(s.get("/Patient/example", &clinician).status, 200);
    assert_eq!(
        s.get("/Patient/example/$disclosures", &clinician).status,
        403
    );

    let auditor = s.token("system/Patient.rs system/AuditEvent.rs", None, None);
    assert_eq!(s.get("/Patient/example/$disclosures", &auditor).status, 200);
    // An AuditEvent grant that sees only some events is no auditor of the accounting.
    let partial = s.token(
        "system/Patient.rs system/AuditEvent.rs?outcome=4",
        None,
        None,
    );
    assert_eq!(s.get("/Patient/example/$disclosures", &partial).status, 403);
    let patient = s.patient_token("patient/Patient.rs");
    assert_eq!(s.get("/Patient/example/$disclosures", &patient).status, 200);
    let absolute = format!("{}/Patient/example", s.base);
    let own_user = s.token("patient/Patient.rs", Some("example"), Some(&absolute));
    assert_eq!(
        s.get("/Patient/example/$disclosures", &own_user).status,
        200
    );
    // A patient app that names no user reads its patient's accounting.
    let app = s.token("patient/Patient.rs", Some("example"), None);
    assert_eq!(s.get("/Patient/example/$disclosures", &app).status, 200);

    // The right to an accounting outlives the record.
    let admin = s.token("system/Patient.cruds", None, None);
    let r = s.request("DELETE", "/Patient/pat-2", Some(&admin), &[], None);
    assert!(r.status == 200 || r.status == 204, "{}", r.text());
    assert_eq!(s.get("/Patient/pat-2", &auditor).status, 410);
    let r = s.get("/Patient/pat-2/$disclosures", &auditor);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        s.get("/Patient/pat-2/$disclosures", &chart_reader).status,
        403
    );
    assert_eq!(s.get("/Patient/no-such/$disclosures", &auditor).status, 404);
}

/// The decoded queries (`entity.query`) of a Bundle's AuditEvents.
fn queries_in(bundle: &serde_json::Value) -> Vec<String> {
    let entries = bundle["entry"].as_array().into_iter().flatten();
    entries
        .flat_map(|e| {
            e["resource"]["entity"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|entity| entity["query"].as_str().map(str::to_owned))
        .map(|q| String::from_utf8_lossy(&B64.decode(q).unwrap()).into_owned())
        .collect()
}

#[test]
fn a_patients_audit_events_never_name_another_patients_data() {
    let s = Server::start(&[]);
    // A backend searches every patient's Observations for public health: a disclosure of
    // each patient's data (HIPAA accounting), and an access each patient may audit.
    let now = smart_auth::UnixTime::from_secs(chrono::Utc::now().timestamp());
    let backend = s
        .issuer
        .token(now)
        .scope("system/Observation.rs")
        .claim("purpose_of_use", "PUBHLTH")
        .sign();
    let r = s.get("/Observation?patient=example,pat-2&_count=100", &backend);
    assert_eq!(r.status, 200, "{}", r.text());
    let ids = r.entry_ids();
    assert!(ids.contains(&"Observation/example".to_owned()), "{ids:?}");
    assert!(
        ids.contains(&"Observation/pat-2-heart-rate".to_owned()),
        "{ids:?}"
    );

    // Patient/example's own AuditEvents and accounting show the search, and nothing of
    // Patient/pat-2's.
    let example = s.patient_token("patient/AuditEvent.rs patient/Patient.rs");
    let events = s.get("/AuditEvent?_count=1000", &example);
    assert_eq!(events.status, 200, "{}", events.text());
    assert!(
        events.text().contains("Observation/example"),
        "{}",
        events.text()
    );
    let disclosures = s.get("/Patient/example/$disclosures", &example);
    assert_eq!(disclosures.status, 200, "{}", disclosures.text());
    assert!(
        disclosures.text().contains("Observation/example"),
        "{}",
        disclosures.text()
    );
    for (what, r) in [("AuditEvents", &events), ("disclosures", &disclosures)] {
        // Nor in the query the search was made with (which named both patients).
        let queries = queries_in(&r.json());
        assert!(
            !r.text().contains("pat-2") && !queries.iter().any(|q| q.contains("pat-2")),
            "{what} name another patient's data: {} {queries:?}",
            r.text()
        );
    }
    // An auditor sees the search whole, its query naming both patients.
    let auditor = s.token("system/AuditEvent.rs", None, None);
    let all = s.get("/AuditEvent?_count=1000", &auditor);
    let whole = queries_in(&all.json())
        .iter()
        .any(|q| q.contains("example") && q.contains("pat-2"));
    assert!(whole, "{}", all.text());
    // Patient/pat-2's name theirs.
    let pat2 = s.token(
        "patient/AuditEvent.rs",
        Some("pat-2"),
        Some("Patient/pat-2"),
    );
    let r = s.get("/AuditEvent?_count=1000", &pat2);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("Observation/pat-2-heart-rate"),
        "{}",
        r.text()
    );
    assert!(!r.text().contains("Observation/example"), "{}", r.text());
}

#[test]
fn refused_paths_are_audited_with_who_asked_and_what() {
    use base64::Engine;
    let s = Server::start(&[]);
    // Without credentials, any path below the base is a 401 first (SMART status policy).
    assert_eq!(
        s.request("GET", "/NoSuchType/1", None, &[], None).status,
        401
    );
    assert_eq!(
        s.request("GET", "/Patient/a%00b", None, &[], None).status,
        401
    );

    // An authenticated probe of malformed ids and unknown types, or over the limits, is
    // refused as before, and its record names the user and the request, not an anonymous
    // authentication failure.
    let t = s.patient_token("patient/*.rs");
    let long = format!("/Observation?code=pat-2{}", "a".repeat(5000));
    let probes = [
        (
            "GET",
            "/Patient/pat-2%00",
            None,
            "probe-id",
            &[400, 404][..],
        ),
        ("GET", "/NoSuchType/pat-2", None, "probe-type", &[404]),
        ("GET", &long, None, "probe-query", &[414]),
        (
            "POST",
            "/Observation?x=pat-2",
            Some("99999999"),
            "probe-body",
            &[413],
        ),
    ];
    for (method, path, length, id, statuses) in probes {
        let mut headers = vec![("X-Request-Id", id)];
        headers.extend(length.map(|l| ("Content-Length", l)));
        let r = s.request(method, path, Some(&t), &headers, None);
        assert!(statuses.contains(&r.status), "{id}: {}", r.status);
    }
    let auditor = s.token("system/AuditEvent.rs", None, None);
    let r = s.get("/AuditEvent?_count=200", &auditor);
    assert_eq!(r.status, 200, "{}", r.text());
    for id in ["probe-id", "probe-type", "probe-query", "probe-body"] {
        let event = r.json()["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"].clone())
            .find(|e| e.to_string().contains(id))
            .unwrap_or_else(|| panic!("{id} is audited"));
        assert_eq!(event["type"]["code"], "rest", "{event}");
        assert_eq!(event["outcome"], "4", "{event}");
        let text = event.to_string();
        assert!(text.contains("test-user"), "the user is named: {event}");
        let request = event["entity"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|e| e["query"].as_str())
            .map(|q| base64::engine::general_purpose::STANDARD.decode(q).unwrap())
            .unwrap_or_else(|| panic!("the request is recorded: {event}"));
        assert!(
            String::from_utf8_lossy(&request).contains("pat-2"),
            "{event}"
        );
    }
}

#[test]
fn audit_events_name_the_patients_of_what_a_request_touched() {
    let s = Server::start(&[]);
    // A backend's token: no launch patient, no user, so only the resources a request
    // touched tie its event to a patient.
    let t = s.token("system/Observation.cruds", None, None);
    assert_eq!(s.get("/Observation?patient=example", &t).status, 200);
    let obs = serde_json::json!({"resourceType": "Observation", "status": "final",
        "code": {"text": "audit test"}, "subject": {"reference": "Patient/example"}});
    let created = s.send_json("POST", "/Observation", &t, &obs);
    assert_eq!(created.status, 201, "{}", created.text());
    let auditor = s.token("system/AuditEvent.rs", None, None);
    let subtypes = |patient: &str| -> Vec<String> {
        let r = s.get(
            &format!("/AuditEvent?patient={patient}&_count=1000"),
            &auditor,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["entry"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter_map(|e| e["resource"]["subtype"][0]["code"].as_str())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let example = subtypes("example");
    for subtype in ["search-type", "create"] {
        assert!(
            example.iter().any(|s| s == subtype),
            "{subtype} in {example:?}"
        );
    }
    assert!(subtypes("pat-2").is_empty());
}

#[test]
fn a_restart_loading_the_same_data_writes_no_new_versions() {
    let dir = Scratch::new();
    let db = dir.path("store.db").display().to_string();
    let mut s = Server::start(&["--db", &db]);
    let t = s.patient_token("patient/*.rs");
    let before = s.get("/Patient/example", &t);
    assert_eq!(before.header("etag"), Some("W/\"1\""));
    s.restart();
    let t = s.patient_token("patient/*.rs");
    let after = s.get("/Patient/example", &t);
    assert_eq!(after.status, 200);
    assert_eq!(after.header("etag"), Some("W/\"1\""), "no new version");
    assert_eq!(after.body, before.body);
}

#[test]
fn a_hidden_resource_is_audited_as_a_denial_not_as_a_missing_id() {
    // Both answers are the byte-identical 404; the trail keeps the true reason (audit.md §4),
    // so that a probe of another patient's ids is visible to auditors.
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    let probe = |path: &str, id: &str| {
        let r = s.request("GET", path, Some(&t), &[("X-Request-Id", id)], None);
        assert_eq!(r.status, 404, "{id}");
    };
    probe("/Observation/pat-2-heart-rate", "probe-hidden");
    probe("/Observation/no-such-observation", "probe-missing");
    // The prober's own readable trail must not tell the two apart: the denial of what exists
    // is for auditors only (filed under no patient, its user not named as a Patient), or its
    // reason would show that the resource exists.
    let own = s.get("/AuditEvent?_count=200", &t);
    assert_eq!(own.status, 200, "{}", own.text());
    assert!(own.text().contains("not_found"), "{}", own.text());
    assert!(!own.text().contains("outside_grant"), "{}", own.text());
    // Decided on the request alone (for any id): no existence to hide.
    probe("/Patient/pat-2/$everything", "probe-everything");

    let auditor = s.token("system/AuditEvent.rs", None, None);
    let events = s.get("/AuditEvent?_count=200", &auditor).json();
    let reason = |id: &str| {
        events["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .find(|e| e.to_string().contains(id))
            .map(|e| (e["outcome"].clone(), e["outcomeDesc"].clone()))
            .unwrap_or_else(|| panic!("{id} is audited"))
    };
    assert_eq!(reason("probe-hidden"), ("4".into(), "outside_grant".into()));
    let everything = reason("probe-everything");
    assert_eq!(everything, ("4".into(), "outside_grant".into()));
    assert_eq!(reason("probe-missing"), ("4".into(), "not_found".into()));
}

#[test]
fn denials_inside_batch_entries_are_audited() {
    use base64::Engine;
    let s = Server::start(&[]);
    let t = s.patient_token("patient/Observation.rs");
    let batch = serde_json::json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": "Observation?patient=pat-2"}},
        {"request": {"method": "GET", "url": "Condition/pat-2-asthma"}},
        {"request": {"method": "GET", "url": "Observation/pat-2-heart-rate"}}
    ]});
    let bytes = serde_json::to_vec(&batch).unwrap();
    let r = s.request(
        "POST",
        "",
        Some(&t),
        &[
            ("Content-Type", "application/fhir+json"),
            ("X-Request-Id", "probe-batch"),
        ],
        Some(&bytes),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let statuses: Vec<_> = r.json()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].clone())
        .collect();
    assert_eq!(statuses, ["403", "403", "404"]);

    // Each refused entry leaves a record of its own (refused by the decision, with its true
    // reason, or answered 404 by the read), naming the user and (for the search) the request;
    // the batch's own record says nothing of them.
    let auditor = s.token("system/AuditEvent.rs", None, None);
    let events = s.get("/AuditEvent?_count=200", &auditor).json();
    let refused: Vec<serde_json::Value> = events["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .filter(|e| e.to_string().contains("probe-batch") && e["outcome"] == "4")
        .collect();
    // The search naming pat-2 is filed under each patient and whole for auditors (one
    // reason, three events).
    let mut reasons: Vec<_> = refused.iter().map(|e| e["outcomeDesc"].clone()).collect();
    reasons.dedup();
    assert_eq!(
        reasons,
        ["other_patient", "insufficient_scope", "outside_grant"],
        "{refused:?}"
    );
    for e in &refused {
        assert!(
            e.to_string().contains("test-user"),
            "the user is named: {e}"
        );
    }
    let query = refused
        .iter()
        .flat_map(|e| e["entity"].as_array().unwrap())
        .find_map(|e| e["query"].as_str())
        .map(|q| base64::engine::general_purpose::STANDARD.decode(q).unwrap())
        .expect("the search is recorded");
    assert!(
        String::from_utf8_lossy(&query).contains("GET /fhir/Observation?patient=pat-2"),
        "{}",
        String::from_utf8_lossy(&query)
    );
}

#[test]
fn callers_over_the_rate_limit_get_429_and_are_audited() {
    let s = Server::start(&["--rate-limit", "3"]);
    let now = UnixTime::from_secs(chrono::Utc::now().timestamp());
    let caller = |sub: &str, scope: &str| {
        s.issuer
            .token(now)
            .scope(scope)
            .patient("example")
            .subject(sub)
            .sign()
    };
    let t = caller("flooder", "patient/*.rs");
    let started = std::time::Instant::now();
    let statuses: Vec<u16> = (0..12)
        .map(|_| s.get("/Patient/example", &t).status)
        .collect();
    // A burst of 3, refilled at 3 a second while the requests ran.
    let refilled = (started.elapsed().as_secs_f64() * 3.0).ceil() as usize;
    let allowed = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    assert!(allowed <= 3 + refilled, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    let r = s.get("/Patient/example", &t);
    assert_eq!(r.status, 429);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert_eq!(wait, 1, "a second refills one request at 3 a second");
    assert_eq!(r.json()["issue"][0]["code"], "throttled");
    assert!(r.header("www-authenticate").is_none());
    assert!(!r.text().contains("example"), "{}", r.text());

    // Another caller of the same client is not held back by the first.
    assert_eq!(
        s.get("/Patient/example", &caller("neighbour", "patient/*.rs"))
            .status,
        200
    );

    // The refusals are recorded: the caller and what it asked for, as a failure.
    let auditor = caller("auditor", "patient/AuditEvent.rs");
    let refused = wait_for(|| {
        let r = s.get("/AuditEvent?entity=Patient/example&_count=100", &auditor);
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        let n = v["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["resource"]["outcome"] != "0")
            .filter(|e| e["resource"].to_string().contains("flooder"))
            .count();
        (n >= 1).then_some(n)
    });
    assert!(refused >= 1);
}
