//! The running server: Binaries are read and written through their `securityContext`
//! (smart.md §12.13): a patient's app downloads its own documents, never another patient's,
//! and cannot point a Binary at what it may not read.

mod server_support;

use serde_json::json;
use server_support::Server;

fn document(subject: &str) -> serde_json::Value {
    json!({
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": subject},
        "content": [{"attachment": {"contentType": "text/plain"}}]
    })
}

fn binary(context: &str) -> serde_json::Value {
    json!({
        "resourceType": "Binary",
        "contentType": "text/plain",
        "data": "aGVsbG8=",
        "securityContext": {"reference": context}
    })
}

/// Creates `body` with an unrestricted token and returns its id.
fn create(s: &Server, body: &serde_json::Value) -> String {
    let admin = s.token("system/*.cruds", None, None);
    let r = s.send_json(
        "POST",
        &format!("/{}", body["resourceType"].as_str().unwrap()),
        &admin,
        body,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

/// A document of `Patient/example` and one of `Patient/pat-2`, and a Binary for each:
/// `[mine, theirs, my_binary, their_binary]`.
fn documents_and_binaries(s: &Server) -> [String; 4] {
    let mine = create(s, &document("Patient/example"));
    let theirs = create(s, &document("Patient/pat-2"));
    let my_binary = create(s, &binary(&format!("DocumentReference/{mine}")));
    let their_binary = create(s, &binary(&format!("DocumentReference/{theirs}")));
    [mine, theirs, my_binary, their_binary]
}

#[test]
fn binaries_follow_their_security_context() {
    let s = Server::start(&[]);
    let [mine, theirs, my_binary, their_binary] = documents_and_binaries(&s);
    let to_me = create(&s, &binary("Patient/example"));
    let plain = create(
        &s,
        &json!({"resourceType": "Binary", "contentType": "text/plain"}),
    );

    let t = s.patient_token("patient/Binary.rs patient/DocumentReference.rs patient/Patient.r");
    let r = s.get(&format!("/Binary/{my_binary}"), &t);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["data"], "aGVsbG8=");
    assert_eq!(s.get(&format!("/Binary/{to_me}"), &t).status, 200);

    // Another patient's document, a Binary without a context, a missing one: the same 404.
    let missing = s.get("/Binary/no-such-binary", &t);
    assert_eq!(missing.status, 404);
    for id in [&their_binary, &plain] {
        let r = s.get(&format!("/Binary/{id}"), &t);
        assert_eq!(r.status, 404, "{id}");
        assert_eq!(r.body, missing.body, "{id}");
    }

    // The Binary scope alone does not open the document's Binary.
    let binary_only = s.patient_token("patient/Binary.rs");
    assert_eq!(
        s.get(&format!("/Binary/{my_binary}"), &binary_only).status,
        404
    );

    // A search cannot carry a Binary's context in its query: under `patient/` scopes it finds
    // no Binary (an empty page, not a post-filtered one whose count would tell).
    let r = s.get(
        &format!("/Binary?_id={my_binary},{their_binary},{plain}"),
        &t,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.entry_ids().is_empty(), "{:?}", r.entry_ids());

    // Writes may not point a Binary at another patient's document, nor at one the token
    // cannot read.
    let w = s.patient_token("patient/Binary.cru patient/DocumentReference.r");
    let r = s.send_json(
        "POST",
        "/Binary",
        &w,
        &binary(&format!("DocumentReference/{mine}")),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = s.send_json(
        "POST",
        "/Binary",
        &w,
        &binary(&format!("DocumentReference/{theirs}")),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let create_only = s.patient_token("patient/Binary.c");
    let r = s.send_json(
        "POST",
        "/Binary",
        &create_only,
        &binary(&format!("DocumentReference/{mine}")),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    // Nor take over another patient's Binary by pointing it at our own document.
    let mut hijack = binary(&format!("DocumentReference/{mine}"));
    hijack["id"] = json!(their_binary);
    let r = s.send_json("PUT", &format!("/Binary/{their_binary}"), &w, &hijack);
    assert!(matches!(r.status, 403 | 404), "{} {}", r.status, r.text());
    let admin = s.token("system/*.cruds", None, None);
    let stored = s.get(&format!("/Binary/{their_binary}"), &admin).json();
    assert_eq!(
        stored["securityContext"]["reference"],
        format!("DocumentReference/{theirs}")
    );
}

#[test]
fn a_binary_read_is_disclosed_as_its_contexts_patients() {
    let s = Server::start(&[]);
    let doc = create(&s, &document("Patient/example"));
    let bin = create(&s, &binary(&format!("DocumentReference/{doc}")));
    // A backend's read: no launch patient or user ties its event to a patient, only what the
    // Binary's context is.
    let backend = s.token("system/Binary.r system/DocumentReference.r", None, None);
    assert_eq!(s.get(&format!("/Binary/{bin}"), &backend).status, 200);
    let auditor = s.token("system/AuditEvent.rs", None, None);
    let reads = |patient: &str| -> usize {
        let r = s.get(
            &format!("/AuditEvent?patient={patient}&_count=1000"),
            &auditor,
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        let wanted = format!("Binary/{bin}");
        v["entry"].as_array().map_or(0, |entries| {
            entries
                .iter()
                .map(|e| &e["resource"])
                .filter(|ev| ev["subtype"][0]["code"] == "read")
                .filter(|ev| {
                    ev["entity"].as_array().is_some_and(|es| {
                        es.iter().any(|x| x["what"]["reference"] == wanted.as_str())
                    })
                })
                .count()
        })
    };
    assert_eq!(reads("example"), 1);
    assert_eq!(reads("pat-2"), 0);
}

#[test]
fn a_deleted_binary_is_gone_to_whoever_may_read_its_context_and_missing_to_others() {
    let s = Server::start(&[]);
    let [_, _, my_binary, their_binary] = documents_and_binaries(&s);
    let admin = s.token("system/*.cruds", None, None);
    for id in [&my_binary, &their_binary] {
        let r = s.request("DELETE", &format!("/Binary/{id}"), Some(&admin), &[], None);
        assert_eq!(r.status, 204, "{}", r.text());
    }

    // As a deleted Observation is to its patient: 410, the earlier version, the history.
    let t = s.patient_token("patient/Binary.rs patient/DocumentReference.rs");
    let r = s.get(&format!("/Binary/{my_binary}"), &t);
    assert_eq!(r.status, 410, "{}", r.text());
    assert_eq!(
        s.get(&format!("/Binary/{my_binary}/_history/1"), &t).status,
        200
    );
    assert_eq!(
        s.get(&format!("/Binary/{my_binary}/_history/2"), &t).status,
        410
    );
    let h = s.get(&format!("/Binary/{my_binary}/_history"), &t);
    assert_eq!(h.status, 200, "{}", h.text());
    assert_eq!(
        h.json()["entry"].as_array().unwrap().len(),
        2,
        "{}",
        h.text()
    );

    // Another patient's deleted Binary, and one whose context the token may not read: the
    // byte-identical 404 of a Binary that never existed.
    let missing = s.get("/Binary/no-such-binary", &t);
    let binary_only = s.patient_token("patient/Binary.rs");
    for (token, id) in [(&t, &their_binary), (&binary_only, &my_binary)] {
        for path in [
            format!("/Binary/{id}"),
            format!("/Binary/{id}/_history/1"),
            format!("/Binary/{id}/_history/2"),
            format!("/Binary/{id}/_history"),
        ] {
            let r = s.get(&path, token);
            assert_eq!(r.status, 404, "{path}: {}", r.text());
            assert_eq!(r.body, missing.body, "{path}");
            assert_eq!(r.stable_headers(), missing.stable_headers(), "{path}");
        }
    }
}
