//! The running server: create, update, patch, delete, versions, conditional headers, batch and
//! transaction, with tokens that may and may not write (SMART digest §12.8, §12.12).

mod server_support;

use base64::Engine;
use serde_json::json;
use server_support::{Response, Server};

fn observation(subject: &str) -> serde_json::Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": "2025-01-01T10:00:00Z",
        "valueQuantity": {"value": 60, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}
    })
}

fn json_patch(s: &Server, path: &str, token: &str, patch: &serde_json::Value) -> Response {
    s.request(
        "PATCH",
        path,
        Some(token),
        &[("Content-Type", "application/json-patch+json")],
        Some(&serde_json::to_vec(patch).unwrap()),
    )
}

/// A new Observation about `Patient/example`: its body, id and path.
fn created(s: &Server, token: &str) -> (serde_json::Value, String, String) {
    let r = s.send_json(
        "POST",
        "/Observation",
        token,
        &observation("Patient/example"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    let id = body["id"].as_str().unwrap().to_owned();
    let path = format!("/Observation/{id}");
    (body, id, path)
}

#[test]
fn create_update_patch_delete_in_own_compartment() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.cruds");

    let r = s.send_json("POST", "/Observation", &t, &observation("Patient/example"));
    assert_eq!(r.status, 201, "{}", r.text());
    let location = r.header("location").unwrap().to_owned();
    assert!(
        location.starts_with(&s.base) && location.ends_with("/_history/1"),
        "{location}"
    );
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    let created = r.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["meta"]["versionId"], "1");

    // Update with the right version, then with a stale one.
    let mut body = created.clone();
    body["status"] = json!("amended");
    let r = s.request(
        "PUT",
        &format!("/Observation/{id}"),
        Some(&t),
        &[
            ("Content-Type", "application/fhir+json"),
            ("If-Match", "W/\"1\""),
        ],
        Some(&serde_json::to_vec(&body).unwrap()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    let r = s.request(
        "PUT",
        &format!("/Observation/{id}"),
        Some(&t),
        &[
            ("Content-Type", "application/fhir+json"),
            ("If-Match", "W/\"1\""),
        ],
        Some(&serde_json::to_vec(&body).unwrap()),
    );
    assert_eq!(r.status, 412);

    // The body's id must match the URL.
    let mut wrong = body.clone();
    wrong["id"] = json!("something-else");
    assert_eq!(
        s.send_json("PUT", &format!("/Observation/{id}"), &t, &wrong)
            .status,
        400
    );

    // JSON Patch, with Prefer: return=minimal.
    let patch = json!([{"op": "replace", "path": "/status", "value": "corrected"}]);
    let r = s.request(
        "PATCH",
        &format!("/Observation/{id}"),
        Some(&t),
        &[
            ("Content-Type", "application/json-patch+json"),
            ("Prefer", "return=minimal"),
        ],
        Some(&serde_json::to_vec(&patch).unwrap()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body.is_empty());
    assert_eq!(
        s.get(&format!("/Observation/{id}"), &t).json()["status"],
        "corrected"
    );

    // History holds every version.
    let h = s.get(&format!("/Observation/{id}/_history"), &t).json();
    assert_eq!(h["type"], "history");
    assert_eq!(h["entry"].as_array().unwrap().len(), 3);
    assert_eq!(
        s.get(&format!("/Observation/{id}/_history/1"), &t).json()["status"],
        "final"
    );

    // Delete; afterwards the resource is gone.
    let r = s.request("DELETE", &format!("/Observation/{id}"), Some(&t), &[], None);
    assert_eq!(r.status, 204);
    assert!(matches!(
        s.get(&format!("/Observation/{id}"), &t).status,
        404 | 410
    ));
}

#[test]
fn delete_honours_if_match() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.cruds");
    let r = s.send_json("POST", "/Observation", &t, &observation("Patient/example"));
    assert_eq!(r.status, 201, "{}", r.text());
    let mut body = r.json();
    let id = body["id"].as_str().unwrap().to_owned();
    body["status"] = json!("amended");
    let path = format!("/Observation/{id}");
    assert_eq!(s.send_json("PUT", &path, &t, &body).status, 200);

    // A delete conditional on a stale version changes nothing (RFC 9110 §13.1.1), directly
    // or as a batch entry.
    let r = s.request("DELETE", &path, Some(&t), &[("If-Match", "W/\"1\"")], None);
    assert_eq!(r.status, 412, "{}", r.text());
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "DELETE", "url": format!("Observation/{id}"), "ifMatch": "W/\"1\""}}
    ]});
    let r = s.send_json("POST", "", &t, &batch);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["entry"][0]["response"]["status"], "412");
    assert_eq!(s.get(&path, &t).status, 200, "still there");

    // The current version deletes.
    let r = s.request("DELETE", &path, Some(&t), &[("If-Match", "W/\"2\"")], None);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(s.get(&path, &t).status, 410);
}

#[test]
fn if_match_star_and_lists_follow_rfc_9110() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.cruds");
    let (body, _, path) = created(&s, &t);
    let put = |path: &str, if_match: &str, body: &serde_json::Value| {
        s.request(
            "PUT",
            path,
            Some(&t),
            &[
                ("Content-Type", "application/fhir+json"),
                ("If-Match", if_match),
            ],
            Some(&serde_json::to_vec(body).unwrap()),
        )
    };

    // `*` holds for a resource that exists: update, patch and delete go ahead.
    let r = put(&path, "*", &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    let patch = json!([{"op": "replace", "path": "/status", "value": "amended"}]);
    let r = s.request(
        "PATCH",
        &path,
        Some(&t),
        &[
            ("Content-Type", "application/json-patch+json"),
            ("If-Match", "*"),
        ],
        Some(&serde_json::to_vec(&patch).unwrap()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("etag"), Some("W/\"3\""));

    // A list holds when any of its tags names the current version; weak or strong, the
    // version is compared.
    assert_eq!(put(&path, "W/\"1\", W/\"2\"", &body).status, 412);
    let r = put(&path, "W/\"1\", W/\"3\"", &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(put(&path, "\"4\"", &body).status, 200);
    // Malformed values hold for nothing.
    for bad in ["W/\"5", "5", "*, W/\"5\"", "W/\"5\" x", "W/\"05\""] {
        assert_eq!(put(&path, bad, &body).status, 412, "{bad}");
    }
    // A value that is no text (bytes past ASCII) holds for nothing, rather than go unread.
    assert_eq!(put(&path, "W/\"5\u{ff}\"", &body).status, 412);
    // Several header lines are one list (RFC 9110 §5.3): all are read.
    let put_lines = |lines: &[&str]| {
        let mut headers = vec![("Content-Type", "application/fhir+json")];
        headers.extend(lines.iter().map(|l| ("If-Match", *l)));
        let bytes = serde_json::to_vec(&body).unwrap();
        s.request("PUT", &path, Some(&t), &headers, Some(&bytes))
            .status
    };
    assert_eq!(
        put_lines(&["W/\"5\"", "W/\"9\" x"]),
        412,
        "a malformed line"
    );
    assert_eq!(
        put_lines(&["W/\"9\"", "W/\"5\""]),
        200,
        "the second line names it"
    );

    let r = s.request("DELETE", &path, Some(&t), &[("If-Match", "*")], None);
    assert_eq!(r.status, 204, "{}", r.text());

    // `*` does not hold once the resource is deleted, nor for one that never existed: no
    // update-as-create.
    assert_eq!(put(&path, "*", &body).status, 412);
    assert_eq!(s.get(&path, &t).status, 410, "still deleted");
    let mut fresh = body.clone();
    fresh["id"] = json!("never-existed");
    assert_eq!(put("/Observation/never-existed", "*", &fresh).status, 412);
    assert_eq!(s.get("/Observation/never-existed", &t).status, 404);
}

#[test]
fn writes_touching_another_patient_are_forbidden_and_leave_nothing() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.cruds");
    let reader = s.patient_token("patient/*.rs");

    // Creating data in another patient's compartment.
    let r = s.send_json("POST", "/Observation", &t, &observation("Patient/pat-2"));
    assert_eq!(r.status, 403, "{}", r.text());

    // Overwriting another patient's resource (no hijack).
    let mut stolen = observation("Patient/example");
    stolen["id"] = json!("pat-2-heart-rate");
    assert_eq!(
        s.send_json("PUT", "/Observation/pat-2-heart-rate", &t, &stolen)
            .status,
        403
    );
    assert_eq!(
        s.request(
            "DELETE",
            "/Observation/pat-2-heart-rate",
            Some(&t),
            &[],
            None
        )
        .status,
        403
    );

    // Moving one's own resource into another compartment by patch is rolled back.
    let patch = json!([{"op": "replace", "path": "/subject/reference", "value": "Patient/pat-2"}]);
    let r = json_patch(&s, "/Observation/example", &t, &patch);
    assert_eq!(r.status, 403, "{}", r.text());
    let still = s.get("/Observation/example", &reader);
    assert_eq!(still.status, 200);
    assert_eq!(still.json()["meta"]["versionId"], "1");

    // A read-only token cannot write at all.
    assert_eq!(
        s.send_json(
            "POST",
            "/Observation",
            &reader,
            &observation("Patient/example")
        )
        .status,
        403
    );
}

#[test]
fn writes_never_put_data_into_another_patients_compartment_through_a_second_reference() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.cruds");
    let victim = s.token("patient/*.rs", Some("pat-2"), Some("Patient/pat-2"));
    let theirs = || s.get("/Observation", &victim).entry_ids();
    let before = theirs();

    // Ours by `subject`, theirs by `performer`: pat-2 would find it in their record.
    let mut both = observation("Patient/example");
    both["performer"] = json!([{"reference": "Patient/pat-2"}]);
    let r = s.send_json("POST", "/Observation", &t, &both);
    assert_eq!(r.status, 403, "{}", r.text());
    let allergy = json!({"resourceType": "AllergyIntolerance",
        "patient": {"reference": "Patient/example"},
        "asserter": {"reference": "Patient/pat-2"}});
    let r = s.send_json("POST", "/AllergyIntolerance", &t, &allergy);
    assert_eq!(r.status, 403, "{}", r.text());
    let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": both, "request": {"method": "POST", "url": "Observation"}}
    ]});
    let r = s.send_json("POST", "", &t, &tx);
    assert_eq!(r.status, 403, "{}", r.text());

    // Nor by patching one's own resource.
    let patch = json!([{"op": "add", "path": "/performer",
        "value": [{"reference": "Patient/pat-2"}]}]);
    let r = json_patch(&s, "/Observation/example", &t, &patch);
    assert_eq!(r.status, 403, "{}", r.text());
    let reader = s.patient_token("patient/*.rs");
    assert_eq!(
        s.get("/Observation/example", &reader).json()["meta"]["versionId"],
        "1"
    );
    assert_eq!(s.get("/Observation/example", &victim).status, 404);
    assert_eq!(theirs(), before);
}

#[test]
fn write_only_tokens_neither_patch_nor_get_stored_content_back() {
    let s = Server::start(&[]);
    // Write does not imply read. A patch is applied to the stored content, so whether it
    // applies tells what is stored: a JSON Patch `test` that Observation/example weighs 185
    // lbs. A token that may not read the resource may not patch it, whatever the patch.
    let holds = json!([{"op": "test", "path": "/valueQuantity/value", "value": 185}]);
    let fails = json!([{"op": "test", "path": "/valueQuantity/value", "value": 186}]);
    let reader = s.patient_token("patient/Observation.r");
    for scope in ["patient/Observation.u", "patient/Observation.write"] {
        let t = s.patient_token(scope);
        let version = || s.get("/Observation/example", &reader).json()["meta"]["versionId"].clone();
        let before = version();
        let yes = json_patch(&s, "/Observation/example", &t, &holds);
        let no = json_patch(&s, "/Observation/example", &t, &fails);
        assert_eq!(yes.status, 403, "{scope}: {}", yes.text());
        assert_eq!((no.status, &no.body), (403, &yes.body), "{scope}");
        let r = s.request(
            "PATCH",
            "/Observation?_id=example",
            Some(&t),
            &[("Content-Type", "application/json-patch+json")],
            Some(holds.to_string().as_bytes()),
        );
        assert_eq!(r.status, 403, "{scope}: conditional: {}", r.text());
        let data = base64::engine::general_purpose::STANDARD.encode(holds.to_string());
        let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
            {"request": {"method": "PATCH", "url": "Observation/example"},
             "resource": {"resourceType": "Binary",
                          "contentType": "application/json-patch+json", "data": data}}
        ]});
        let r = s.send_json("POST", "", &t, &batch);
        assert_eq!(r.json()["entry"][0]["response"]["status"], "403", "{scope}");
        assert_eq!(version(), before, "{scope}: nothing patched");

        // An update by such a token answers without the resource.
        let mut body = s.get("/Observation/example", &reader).json();
        body["status"] = json!("amended");
        let r = s.send_json("PUT", "/Observation/example", &t, &body);
        assert_eq!(r.status, 200, "{scope}: {}", r.text());
        assert!(r.header("etag").is_some(), "{scope}");
        assert!(r.body.is_empty(), "{scope}: {}", r.text());
    }
    // A token that may read it patches it and gets the result.
    let rw = s.patient_token("patient/Observation.ru");
    let r = json_patch(&s, "/Observation/example", &rw, &holds);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["valueQuantity"]["value"], 185);
}

#[test]
fn audit_events_are_append_only() {
    let s = Server::start(&[]);
    let t = s.token("system/*.cruds", None, None);
    let p = s.patient_token("patient/*.cruds");
    let event = json!({"resourceType": "AuditEvent", "type": {"code": "rest"}, "recorded": "2025-01-01T00:00:00Z",
                       "agent": [{"requestor": true}], "source": {"observer": {"display": "x"}}});
    for token in [&t, &p] {
        let r = s.send_json("POST", "/AuditEvent", token, &event);
        assert!(matches!(r.status, 403 | 405), "{} {}", r.status, r.text());
        let r = s.send_json("PUT", "/AuditEvent/x", token, &event);
        assert!(matches!(r.status, 403 | 405), "{}", r.status);
        let r = s.request("DELETE", "/AuditEvent/x", Some(token), &[], None);
        assert!(matches!(r.status, 403 | 405), "{}", r.status);
    }
}

#[test]
fn transactions_are_atomic_and_every_entry_is_authorized() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.cruds");
    let reader = s.patient_token("patient/*.rs");
    let before = s.get("/Observation?_summary=count", &reader).json()["total"].clone();

    let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:5a1e7f6c-0000-4000-8000-000000000001",
         "resource": observation("Patient/example"),
         "request": {"method": "POST", "url": "Observation"}},
        {"resource": observation("Patient/pat-2"),
         "request": {"method": "POST", "url": "Observation"}}
    ]});
    let r = s.send_json("POST", "", &t, &tx);
    assert!(matches!(r.status, 403 | 404), "{} {}", r.status, r.text());
    assert_eq!(
        s.get("/Observation?_summary=count", &reader).json()["total"],
        before,
        "nothing committed"
    );

    // The same without the foreign entry commits, with ids for the urn:uuid entries.
    let ok = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:5a1e7f6c-0000-4000-8000-000000000001",
         "resource": observation("Patient/example"),
         "request": {"method": "POST", "url": "Observation"}}
    ]});
    let r = s.send_json("POST", "", &t, &ok);
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    assert_eq!(b["type"], "transaction-response");
    assert_eq!(b["entry"][0]["response"]["status"], "201");

    // A batch answers each entry on its own.
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": "Patient/example"}},
        {"request": {"method": "GET", "url": "Patient/pat-2"}},
        {"request": {"method": "GET", "url": "Patient/nobody"}}
    ]});
    let r = s.send_json("POST", "", &reader, &batch);
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    assert_eq!(b["type"], "batch-response");
    assert_eq!(b["entry"][0]["response"]["status"], "200");
    assert_eq!(b["entry"][1]["response"]["status"], "404");
    assert_eq!(
        b["entry"][1]["response"], b["entry"][2]["response"],
        "other patient looks missing"
    );

    // Anything else posted to the base is refused.
    let r = s.send_json(
        "POST",
        "",
        &t,
        &json!({"resourceType": "Bundle", "type": "collection"}),
    );
    assert_eq!(r.status, 400);
}

/// The `$disclosures` OperationDefinition the CapabilityStatement names is the server's own:
/// public to read (as `metadata`), in JSON only, and no token may change or shadow it.
#[test]
fn the_servers_own_operation_definition_is_public_and_no_one_may_write_it() {
    let s = Server::start(&[]);
    let path = "/OperationDefinition/Patient-disclosures";
    let r = s.request("GET", path, None, &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    let served = r.json();
    assert_eq!(served["url"], format!("{}{path}", s.base));
    assert_eq!(served["code"], "disclosures");
    let head = s.request("HEAD", path, None, &[], None);
    assert_eq!((head.status, head.body.len()), (200, 0));
    let xml = [("Accept", "application/fhir+xml")];
    assert_eq!(s.request("GET", path, None, &xml, None).status, 406);

    let admin = s.token("system/*.cruds", None, None);
    let mut shadow = served.clone();
    shadow["title"] = json!("someone else's");
    let r = s.send_json("PUT", path, &admin, &shadow);
    assert_eq!(r.status, 405, "{}", r.text());
    let r = s.send_json(
        "PUT",
        "/OperationDefinition?code=disclosures",
        &admin,
        &shadow,
    );
    assert_eq!(r.status, 405, "{}", r.text());
    let r = s.request("DELETE", path, Some(&admin), &[], None);
    assert_eq!(r.status, 405, "{}", r.text());
    let patch = json!([{"op": "replace", "path": "/title", "value": "x"}]);
    assert_eq!(json_patch(&s, path, &admin, &patch).status, 405);
    let entry = json!({"resourceType": "Bundle", "type": "transaction", "entry": [{
        "resource": shadow, "request": {"method": "PUT", "url": "OperationDefinition/Patient-disclosures"}
    }]});
    let r = s.send_json("POST", "", &admin, &entry);
    assert!(r.status >= 400, "{} {}", r.status, r.text());
    assert_eq!(s.request("GET", path, None, &[], None).json(), served);
}

/// Sends a request head announcing a body of `declared` bytes, then only the first few, and
/// reads whatever the server answers within two seconds.
fn head_with_a_body_that_never_arrives(s: &Server, token: Option<&str>, declared: usize) -> String {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        c,
        "POST /fhir/Observation HTTP/1.1\r\nHost: {}\r\nContent-Type: application/fhir+json\r\n{auth}Content-Length: {declared}\r\n\r\n{{\"resourceType\"",
        s.addr
    )
    .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = c.read(&mut answer).unwrap_or(0);
    String::from_utf8_lossy(&answer[..n]).into_owned()
}

#[test]
fn a_request_without_a_valid_token_is_refused_before_its_body_is_read() {
    let s = Server::start(&[]);
    // No token, or a bad one: the 401 comes at once, while the body has not arrived.
    for token in [None, Some("not-a-token")] {
        let answer = head_with_a_body_that_never_arrives(&s, token, 1_000_000);
        assert!(answer.starts_with("HTTP/1.1 401"), "{token:?}: {answer:?}");
    }
    // A valid token's request waits for its body (nothing is answered yet).
    let t = s.patient_token("patient/Observation.c");
    let answer = head_with_a_body_that_never_arrives(&s, Some(&t), 1_000_000);
    assert_eq!(answer, "", "answered before the body arrived");
}

/// RFC 9110 §13.1.2: under `If-None-Match: *` a write does not run when the target has a
/// current representation, under a list of tags when one names it (412 for methods other
/// than GET and HEAD). A deleted resource has none. Another patient's resource answers as it
/// does without the header: the precondition never tells the caller it exists.
#[test]
fn if_none_match_refuses_writes_to_what_exists() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.cruds");
    let (body, id, path) = created(&s, &t);
    let with = |method: &str, path: &str, tags: &str, bytes: Option<&[u8]>, kind: &str| {
        let headers = [("Content-Type", kind), ("If-None-Match", tags)];
        s.request(method, path, Some(&t), &headers, bytes)
    };
    let fhir = "application/fhir+json";
    let put = |path: &str, tags: &str, body: &serde_json::Value| {
        with(
            "PUT",
            path,
            tags,
            Some(&serde_json::to_vec(body).unwrap()),
            fhir,
        )
    };
    let patch_doc = json!([{"op": "replace", "path": "/status", "value": "amended"}]);
    let patch = |tags: &str| {
        let bytes = serde_json::to_vec(&patch_doc).unwrap();
        with(
            "PATCH",
            &path,
            tags,
            Some(&bytes),
            "application/json-patch+json",
        )
    };
    let version = || s.get(&path, &t).json()["meta"]["versionId"].clone();

    // Create-only semantics: `*` never overwrites.
    assert_eq!(put(&path, "*", &body).status, 412);
    assert_eq!(patch("*").status, 412);
    assert_eq!(with("DELETE", &path, "*", None, fhir).status, 412);
    // A list refuses when one of its tags names the current version (compared weakly), and
    // a malformed value is refused rather than ignored.
    for tags in ["W/\"1\"", "\"9\", \"1\"", "W/\"1", "1"] {
        assert_eq!(put(&path, tags, &body).status, 412, "{tags}");
        assert_eq!(patch(tags).status, 412, "{tags}");
        assert_eq!(
            with("DELETE", &path, tags, None, fhir).status,
            412,
            "{tags}"
        );
    }
    assert_eq!(version(), "1", "nothing changed");
    // Tags that name another version let the write run.
    let r = put(&path, "W/\"9\"", &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = patch("W/\"1\", W/\"9\"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(version(), "3");

    // A new id is created under `*`, once.
    let mut fresh = body.clone();
    fresh["id"] = json!("create-only");
    let r = put("/Observation/create-only", "*", &fresh);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(put("/Observation/create-only", "*", &fresh).status, 412);

    // Batch and transaction entries carry it as request.ifNoneMatch.
    let entry = json!({"resource": body, "request":
        {"method": "PUT", "url": format!("Observation/{id}"), "ifNoneMatch": "*"}});
    let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [entry]});
    let r = s.send_json("POST", "", &t, &batch);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["entry"][0]["response"]["status"], "412");
    let transaction = json!({"resourceType": "Bundle", "type": "transaction", "entry": [entry]});
    assert_eq!(s.send_json("POST", "", &t, &transaction).status, 412);
    assert_eq!(version(), "3", "nothing changed");

    // A deleted resource has no current representation.
    assert_eq!(s.request("DELETE", &path, Some(&t), &[], None).status, 204);
    let r = put(&path, "*", &body);
    assert_eq!(r.status, 201, "{}", r.text());

    // Another patient's resource: the answer without the header, whatever the header says.
    let victim = "/Observation/pat-2-heart-rate";
    let mut stolen = observation("Patient/example");
    stolen["id"] = json!("pat-2-heart-rate");
    let plain = s.send_json("PUT", victim, &t, &stolen);
    for tags in ["*", "W/\"1\"", "W/\"9\"", "bad"] {
        let r = put(victim, tags, &stolen);
        assert_eq!((r.status, &r.body), (plain.status, &plain.body), "{tags}");
        let r = with("DELETE", victim, tags, None, fhir);
        let plain = s.request("DELETE", victim, Some(&t), &[], None);
        assert_eq!((r.status, &r.body), (plain.status, &plain.body), "{tags}");
    }
}

/// RFC 9110 §15.5.6: the origin server MUST generate an `Allow` header field in a 405 response
/// with the methods the target resource supports: the facade's 405s (no FHIR interaction on
/// the path has the method) and the server's own (its conformance resources, an interaction it
/// does not implement: an empty `Allow` for a resource that takes no method here).
#[test]
fn every_405_says_which_methods_the_target_takes() {
    let s = Server::start(&[]);
    let admin = s.token("system/*.cruds", None, None);
    let obs = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}});
    let obs = serde_json::to_vec(&obs).unwrap();
    let fhir_json = [("Content-Type", "application/fhir+json")];
    let rows: [(&str, &str, Option<&[u8]>, &str); 4] = [
        (
            "POST",
            "/Patient/example",
            Some(&obs),
            "GET, HEAD, PUT, PATCH, DELETE",
        ),
        (
            "DELETE",
            "/OperationDefinition/Patient-disclosures",
            None,
            "GET, HEAD",
        ),
        ("GET", "/?_type=Observation", None, "POST"),
        ("POST", "/Observation/$validate", Some(&obs), ""),
    ];
    for (method, path, body, allow) in rows {
        let r = s.request(method, path, Some(&admin), &fhir_json, body);
        assert_eq!(r.status, 405, "{method} {path}: {}", r.text());
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }
}
