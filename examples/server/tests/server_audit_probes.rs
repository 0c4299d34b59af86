//! A refused request is audited under the patient it names as well as the caller's launch
//! patient (audit.md §2.5: a `patient`/`subject` criterion names the subject; §4: denials keep
//! the shape of the matching record, patient entity when known), so that a probe of another
//! patient's record is in that patient's trail. As for a request touching several patients,
//! each patient's event leaves out the query (which may name the other), and the whole request
//! is recorded once more, under no patient, for auditors.

mod server_support;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use server_support::Server;

/// Each AuditEvent of `bundle` that carries `id` (its correlation id), as JSON text, and the
/// decoded requests of their query entities.
fn events_of(bundle: &serde_json::Value, id: &str) -> (Vec<String>, Vec<String>) {
    let events: Vec<&serde_json::Value> = bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["resource"])
        .filter(|e| e.to_string().contains(id))
        .collect();
    let queries = events
        .iter()
        .flat_map(|e| e["entity"].as_array().into_iter().flatten())
        .filter_map(|entity| entity["query"].as_str())
        .map(|q| String::from_utf8_lossy(&B64.decode(q).unwrap()).into_owned())
        .collect();
    (events.iter().map(|e| e.to_string()).collect(), queries)
}

#[test]
fn a_refused_probe_is_audited_under_the_patient_it_named() {
    let s = Server::start(&[]);
    // Launch patient `example`, probing Patient/pat-2's record.
    let t = s.patient_token("patient/*.rs");
    let probes = [
        ("/Observation?patient=pat-2", "probe-criterion", 403),
        ("/Observation?subject=Patient/pat-2", "probe-subject", 403),
        ("/Patient/pat-2/Observation", "probe-compartment", 403),
        ("/Patient/pat-2", "probe-read", 404),
    ];
    for (path, id, status) in probes {
        let r = s.request("GET", path, Some(&t), &[("X-Request-Id", id)], None);
        assert_eq!(r.status, status, "{id}: {}", r.text());
    }
    let auditor = s.token("system/AuditEvent.rs", None, None);
    let of = |patient: &str| {
        let r = s.get(
            &format!("/AuditEvent?patient={patient}&_count=200"),
            &auditor,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };
    let (pat2, example) = (of("pat-2"), of("example"));
    let own = s.get("/AuditEvent?_count=500", &t);
    assert_eq!(own.status, 200, "{}", own.text());
    assert!(!own.text().contains("pat-2"), "{}", own.text());
    let all = s.get("/AuditEvent?_count=500", &auditor).json();
    for (path, id, _) in probes {
        // Patient/pat-2's trail holds the probe, a denial, without the query naming them.
        let (events, queries) = events_of(&pat2, id);
        assert_eq!(events.len(), 1, "{id} in pat-2's trail: {events:?}");
        assert!(events[0].contains(r#""outcome":"4""#), "{}", events[0]);
        assert!(queries.is_empty(), "{id}: {queries:?}");
        // Nor the prober, a patient-user: example's trail holds no event naming pat-2.
        assert!(!events[0].contains("Patient/example"), "{}", events[0]);
        // The launch patient's too (the user is that patient: every event names them).
        let (events, _) = events_of(&example, id);
        assert!(
            events.iter().any(|e| e.contains(r#""role":{"code":"1""#)
                && e.contains(r#""what":{"reference":"Patient/example"}"#)),
            "{id} in example's trail as its patient: {events:?}"
        );
        // The whole search, query included, for auditors.
        if path.contains('?') || path.ends_with("Observation") {
            let (_, queries) = events_of(&all, id);
            assert!(
                queries.iter().any(|q| q.contains(path)),
                "{id}: {queries:?}"
            );
        }
    }
}
