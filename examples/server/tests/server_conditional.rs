//! Conditional update, patch, delete and create at the running server (FHIR R4 http.html):
//! zero, one and several matches, and matching that never reaches outside the token's
//! compartment (another patient's resources are not there: no 412, no change, no body, and the
//! same bytes as a criteria that matches nothing).

mod server_support;

use serde_json::{json, Value};
use server_support::{Response, Server};

const SYSTEM: &str = "urn:secure-fhir:test";

fn obs(identifier: &str, subject: &str, status: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "identifier": [{"system": SYSTEM, "value": identifier}],
        "status": status,
        "code": {"text": "conditional"},
        "subject": {"reference": subject}
    })
}

fn criteria(identifier: &str) -> String {
    format!("identifier={SYSTEM}%7C{identifier}")
}

struct Tokens {
    alice: String,
    reader: String,
    victim: String,
}

fn tokens(s: &Server) -> Tokens {
    Tokens {
        alice: s.patient_token("patient/*.cruds"),
        reader: s.patient_token("patient/*.rs"),
        victim: s.token("patient/*.cruds", Some("pat-2"), Some("Patient/pat-2")),
    }
}

fn create(s: &Server, token: &str, body: &Value) -> String {
    let r = s.send_json("POST", "/Observation", token, body);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

/// The victim's resource as its owner sees it: (version, status).
fn victim_state(s: &Server, t: &Tokens, id: &str) -> (String, String) {
    let r = s.get(&format!("/Observation/{id}"), &t.victim);
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    (
        v["meta"]["versionId"].as_str().unwrap().to_owned(),
        v["status"].as_str().unwrap().to_owned(),
    )
}

fn same_bytes(a: &Response, b: &Response) {
    assert_eq!(a.status, b.status);
    assert_eq!(a.body, b.body, "byte-identical body");
    assert_eq!(a.stable_headers(), b.stable_headers(), "identical headers");
}

/// The response of a transaction that succeeds.
fn transaction(s: &Server, token: &str, bundle: &Value) -> Value {
    let r = s.send_json("POST", "", token, bundle);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// Each entry's response status.
fn statuses(response: &Value) -> Vec<&str> {
    let entries = response["entry"].as_array().unwrap();
    entries
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap())
        .collect()
}

#[test]
fn conditional_update_creates_updates_and_refuses_ambiguity() {
    let s = Server::start(&[]);
    let t = tokens(&s);
    let path = format!("/Observation?{}", criteria("cu-1"));

    let r = s.send_json(
        "PUT",
        &path,
        &t.alice,
        &obs("cu-1", "Patient/example", "preliminary"),
    );
    assert_eq!(r.status, 201, "no match creates: {}", r.text());
    assert!(r.header("location").is_some());
    let id = r.json()["id"].as_str().unwrap().to_owned();

    let r = s.send_json(
        "PUT",
        &path,
        &t.alice,
        &obs("cu-1", "Patient/example", "final"),
    );
    assert_eq!(r.status, 200, "one match updates: {}", r.text());
    assert_eq!(r.json()["id"], id.as_str());
    assert_eq!(r.json()["meta"]["versionId"], "2");
    assert_eq!(r.json()["status"], "final");

    // A body id naming another resource than the match.
    let mut wrong = obs("cu-1", "Patient/example", "final");
    wrong["id"] = json!("some-other-id");
    assert_eq!(s.send_json("PUT", &path, &t.alice, &wrong).status, 400);
    // No match, and the body's id names an existing resource the criteria did not match.
    let mut taken = obs("cu-none", "Patient/example", "final");
    taken["id"] = json!(id);
    let r = s.send_json(
        "PUT",
        &format!("/Observation?{}", criteria("cu-none")),
        &t.alice,
        &taken,
    );
    assert_eq!(r.status, 409, "{}", r.text());
    // No match, and a fresh id in the body: update-as-create at that id.
    let mut fresh = obs("cu-fresh", "Patient/example", "final");
    fresh["id"] = json!("cu-fresh-id");
    let r = s.send_json(
        "PUT",
        &format!("/Observation?{}", criteria("cu-fresh")),
        &t.alice,
        &fresh,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["id"], "cu-fresh-id");
    // If-Match applies to the match.
    let body = serde_json::to_vec(&obs("cu-1", "Patient/example", "amended")).unwrap();
    let stale = s.request(
        "PUT",
        &path,
        Some(&t.alice),
        &[
            ("Content-Type", "application/fhir+json"),
            ("If-Match", "W/\"1\""),
        ],
        Some(&body),
    );
    assert_eq!(stale.status, 412, "{}", stale.text());

    create(&s, &t.alice, &obs("cu-1", "Patient/example", "final"));
    let r = s.send_json(
        "PUT",
        &path,
        &t.alice,
        &obs("cu-1", "Patient/example", "amended"),
    );
    assert_eq!(r.status, 412, "two matches: {}", r.text());
    assert_eq!(r.json()["resourceType"], "OperationOutcome");

    // Refused: no update right, no criteria, criteria the server cannot evaluate.
    let r = s.send_json(
        "PUT",
        &path,
        &t.reader,
        &obs("cu-1", "Patient/example", "final"),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let r = s.send_json(
        "PUT",
        "/Observation",
        &t.alice,
        &obs("cu-9", "Patient/example", "final"),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = s.send_json(
        "PUT",
        "/Observation?no-such-param=1",
        &t.alice,
        &obs("cu-9", "Patient/example", "final"),
    );
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn conditional_update_never_matches_another_patients_resources() {
    let s = Server::start(&[]);
    let t = tokens(&s);
    // Two resources of the victim carry the identifier; none of Alice's does.
    let v1 = create(&s, &t.victim, &obs("shared", "Patient/pat-2", "final"));
    create(&s, &t.victim, &obs("shared", "Patient/pat-2", "final"));
    let path = format!("/Observation?{}", criteria("shared"));
    let r = s.send_json(
        "PUT",
        &path,
        &t.alice,
        &obs("shared", "Patient/example", "preliminary"),
    );
    assert_eq!(
        r.status,
        201,
        "the victim's two matches are invisible, not a 412: {}",
        r.text()
    );
    assert_ne!(r.json()["id"], v1.as_str());
    assert_eq!(victim_state(&s, &t, &v1), ("1".into(), "final".into()));
    // No match, with the victim's id in the body: refused as any write to it is, untouched.
    let mut hijack = obs("nothing-matches", "Patient/example", "final");
    hijack["id"] = json!(v1);
    let r = s.send_json(
        "PUT",
        &format!("/Observation?{}", criteria("nothing-matches")),
        &t.alice,
        &hijack,
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(victim_state(&s, &t, &v1), ("1".into(), "final".into()));
    // Moving a match out of the compartment by the update is refused and rolled back.
    let r = s.send_json(
        "PUT",
        &path,
        &t.alice,
        &obs("shared", "Patient/pat-2", "final"),
    );
    assert_eq!(r.status, 403, "{}", r.text());
}

#[test]
fn conditional_delete_and_patch_one_none_many_and_victims() {
    let s = Server::start(&[]);
    let t = tokens(&s);
    let a1 = create(&s, &t.alice, &obs("cd-1", "Patient/example", "final"));
    let a2 = create(&s, &t.alice, &obs("cd-1", "Patient/example", "final"));
    let victim = create(&s, &t.victim, &obs("cd-victim", "Patient/pat-2", "final"));
    let path = |i: &str| format!("/Observation?{}", criteria(i));
    let patch = br#"[{"op":"replace","path":"/status","value":"entered-in-error"}]"#;
    let send_patch = |p: &str, token: &str| {
        s.request(
            "PATCH",
            p,
            Some(token),
            &[("Content-Type", "application/json-patch+json")],
            Some(patch),
        )
    };

    assert_eq!(
        s.request("DELETE", &path("cd-1"), Some(&t.alice), &[], None)
            .status,
        412
    );
    assert_eq!(send_patch(&path("cd-1"), &t.alice).status, 412);
    assert_eq!(
        s.request(
            "DELETE",
            &format!("/Observation/{a2}"),
            Some(&t.alice),
            &[],
            None
        )
        .status,
        204
    );

    let r = send_patch(&path("cd-1"), &t.alice);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "entered-in-error");
    assert_eq!(r.json()["id"], a1.as_str());
    let r = s.request("DELETE", &path("cd-1"), Some(&t.alice), &[], None);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(s.get(&format!("/Observation/{a1}"), &t.alice).status, 410);
    // Nothing left to match: deleting nothing is a 204, patching nothing a 404.
    assert_eq!(
        s.request("DELETE", &path("cd-1"), Some(&t.alice), &[], None)
            .status,
        204
    );

    // The victim's resource: exactly the answers for criteria that match nothing, and untouched.
    let none_delete = s.request("DELETE", &path("cd-none"), Some(&t.alice), &[], None);
    let victim_delete = s.request("DELETE", &path("cd-victim"), Some(&t.alice), &[], None);
    same_bytes(&victim_delete, &none_delete);
    let none_patch = send_patch(&path("cd-none"), &t.alice);
    let victim_patch = send_patch(&path("cd-victim"), &t.alice);
    assert_eq!(victim_patch.status, 404);
    same_bytes(&victim_patch, &none_patch);
    assert_eq!(victim_state(&s, &t, &victim), ("1".into(), "final".into()));

    // No delete right.
    let r = s.request("DELETE", &path("cd-victim"), Some(&t.reader), &[], None);
    assert_eq!(r.status, 403);
}

#[test]
fn conditional_create_discloses_a_match_only_to_readers() {
    let s = Server::start(&[]);
    let t = tokens(&s);
    let own = create(&s, &t.alice, &obs("cc-1", "Patient/example", "final"));
    let victim = create(&s, &t.victim, &obs("cc-victim", "Patient/pat-2", "final"));
    let post = |token: &str, identifier: &str| {
        let body = serde_json::to_vec(&obs(identifier, "Patient/example", "final")).unwrap();
        s.request(
            "POST",
            "/Observation",
            Some(token),
            &[
                ("Content-Type", "application/fhir+json"),
                ("If-None-Exist", &criteria(identifier)),
            ],
            Some(&body),
        )
    };
    let r = post(&t.alice, "cc-1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], own.as_str());
    // A create-only token learns that a match exists, not what it holds.
    let create_only = s.patient_token("patient/Observation.c");
    let r = post(&create_only, "cc-1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body.is_empty(), "{}", r.text());
    assert!(r.header("etag").is_none() && r.header("location").is_none());
    // Another patient's match is not a match: a new resource is created.
    let r = post(&t.alice, "cc-victim");
    assert_eq!(r.status, 201, "{}", r.text());
    assert_ne!(r.json()["id"], victim.as_str());
}

#[test]
fn conditional_create_discloses_a_match_only_if_the_token_may_read_that_resource() {
    let s = Server::start(&[]);
    // Observation/example (demo data) is a vital sign of Patient/example.
    let category = "http://terminology.hl7.org/CodeSystem/observation-category|";
    let post = |read_category: &str| {
        let token = s.patient_token(&format!(
            "patient/Observation.c patient/Observation.rs?category={category}{read_category}"
        ));
        let readable = if read_category == "vital-signs" {
            200
        } else {
            404
        };
        assert_eq!(s.get("/Observation/example", &token).status, readable);
        let body = serde_json::to_vec(&obs("cc-granular", "Patient/example", "final")).unwrap();
        s.request(
            "POST",
            "/Observation",
            Some(&token),
            &[
                ("Content-Type", "application/fhir+json"),
                ("If-None-Exist", "_id=example"),
            ],
            Some(&body),
        )
    };
    let r = post("vital-signs");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], "example");
    // A read constrained to laboratory results may not see this vital sign: the match is
    // not disclosed, exactly as to a create-only token.
    let r = post("laboratory");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body.is_empty(), "{}", r.text());
    assert!(r.header("etag").is_none() && r.header("location").is_none());
}

#[test]
fn conditional_entries_in_a_transaction() {
    let s = Server::start(&[]);
    let t = tokens(&s);
    let victim = create(&s, &t.victim, &obs("tx-victim", "Patient/pat-2", "final"));
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": obs("tx-1", "Patient/example", "final"),
             "request": {"method": "PUT", "url": format!("Observation?{}", criteria("tx-1"))}},
            {"request": {"method": "DELETE", "url": format!("Observation?{}", criteria("tx-victim"))}}
        ]
    });
    let r = s.send_json("POST", "", &t.alice, &bundle);
    assert_eq!(r.status, 200, "{}", r.text());
    let statuses: Vec<String> = r.json()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["201", "204"]);
    assert_eq!(victim_state(&s, &t, &victim), ("1".into(), "final".into()));
}

#[test]
fn write_only_tokens_write_inside_their_compartment_only() {
    let s = Server::start(&[]);
    let t = tokens(&s);
    let create_only = s.patient_token("patient/Observation.c");
    let r = s.send_json(
        "POST",
        "/Observation",
        &create_only,
        &obs("co-1", "Patient/example", "final"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let r = s.send_json(
        "POST",
        "/Observation",
        &create_only,
        &obs("co-2", "Patient/pat-2", "final"),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    // Create-only reads nothing.
    assert_eq!(
        s.get(&format!("/Observation/{id}"), &create_only).status,
        403
    );

    let update_only = s.patient_token("patient/Observation.u");
    let mut body = obs("co-1", "Patient/example", "amended");
    body["id"] = json!(id);
    let r = s.send_json("PUT", &format!("/Observation/{id}"), &update_only, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    let victim = create(&s, &t.victim, &obs("co-victim", "Patient/pat-2", "final"));
    let mut hijack = obs("co-victim", "Patient/example", "amended");
    hijack["id"] = json!(victim);
    let r = s.send_json(
        "PUT",
        &format!("/Observation/{victim}"),
        &update_only,
        &hijack,
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(victim_state(&s, &t, &victim), ("1".into(), "final".into()));

    let delete_only = s.patient_token("patient/Observation.d");
    let r = s.request(
        "DELETE",
        &format!("/Observation/{victim}"),
        Some(&delete_only),
        &[],
        None,
    );
    assert_eq!(r.status, 403, "{}", r.text());
    let r = s.request(
        "DELETE",
        &format!("/Observation/{id}"),
        Some(&delete_only),
        &[],
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(victim_state(&s, &t, &victim), ("1".into(), "final".into()));
}

/// A transaction's conditional create that finds its resource stands for that resource: the
/// other entries' references to its `urn:uuid` fullUrl point at the match (FHIR R4 http.html
/// §3.1.0.11.2), never at an id that was assigned and then not created (a dangling reference
/// anyone could later claim with an update-as-create).
#[test]
fn references_to_a_conditional_create_that_matched_point_at_the_match() {
    let s = Server::start(&[]);
    let t = tokens(&s);
    let base = create(&s, &t.alice, &obs("cc-base", "Patient/example", "final"));
    let mut derived = obs("cc-derived", "Patient/example", "final");
    derived["derivedFrom"] =
        json!([{"reference": "urn:uuid:5f0c3f1e-6b0a-4d7e-9d43-0d1f4c1e0a01"}]);
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:5f0c3f1e-6b0a-4d7e-9d43-0d1f4c1e0a01",
             "resource": obs("cc-base", "Patient/example", "final"),
             "request": {"method": "POST", "url": "Observation", "ifNoneExist": criteria("cc-base")}},
            {"fullUrl": "urn:uuid:5f0c3f1e-6b0a-4d7e-9d43-0d1f4c1e0a02",
             "resource": derived,
             "request": {"method": "POST", "url": "Observation"}}
        ]
    });
    let r = s.send_json("POST", "", &t.alice, &bundle);
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    assert_eq!(b["entry"][0]["response"]["status"], "200", "{b}");
    assert_eq!(b["entry"][0]["resource"]["id"], json!(base), "{b}");
    assert_eq!(
        b["entry"][1]["resource"]["derivedFrom"][0]["reference"],
        json!(format!("Observation/{base}")),
        "{b}"
    );
    // A token that may not read the match cannot be told its id through a reference: the
    // transaction is refused and writes nothing.
    let create_only = s.patient_token("patient/Observation.c");
    let mut bundle = bundle;
    bundle["entry"][1]["resource"]["identifier"][0]["value"] = json!("cc-derived-2");
    let r = s.send_json("POST", "", &create_only, &bundle);
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(!r.text().contains(&base), "{}", r.text());
    let r = s.get(
        &format!("/Observation?{}", criteria("cc-derived-2")),
        &t.reader,
    );
    assert_eq!(r.json()["total"], 0, "{}", r.text());
}

/// Two entries of one transaction may not share a fullUrl: a reference to it would name
/// either (FHIR R4 bundle.html bdl-7), so the transaction is refused and nothing is written.
#[test]
fn a_transaction_with_duplicate_full_urls_is_refused() {
    let s = Server::start(&[]);
    let t = tokens(&s);
    let mut derived = obs("dup-derived", "Patient/example", "final");
    derived["derivedFrom"] =
        json!([{"reference": "urn:uuid:0e7d1a52-2f0c-4a55-8e0c-6a1b2c3d4e5f"}]);
    let entry = |identifier: &str| {
        json!({"fullUrl": "urn:uuid:0e7d1a52-2f0c-4a55-8e0c-6a1b2c3d4e5f",
               "resource": obs(identifier, "Patient/example", "final"),
               "request": {"method": "POST", "url": "Observation"}})
    };
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [entry("dup-1"), entry("dup-2"),
                  {"resource": derived, "request": {"method": "POST", "url": "Observation"}}]
    });
    let r = s.send_json("POST", "", &t.alice, &bundle);
    assert_eq!(r.status, 400, "{}", r.text());
    for identifier in ["dup-1", "dup-2", "dup-derived"] {
        let r = s.get(&format!("/Observation?{}", criteria(identifier)), &t.reader);
        assert_eq!(r.json()["total"], 0, "{identifier}: {}", r.text());
    }
}

/// `If-Match` on a conditional update holds only for a current version (RFC 9110 §13.1.1):
/// with no match there is none, so the update is a 412 and creates nothing, as `PUT
/// [type]/[id]` with `If-Match` on a missing id is; a client updating the version it read never
/// gets a second resource instead.
#[test]
fn a_conditional_update_with_if_match_and_no_match_creates_nothing() {
    let s = Server::start(&[]);
    let t = tokens(&s);
    let body = serde_json::to_vec(&obs("cu-if-match", "Patient/example", "final")).unwrap();
    let r = s.request(
        "PUT",
        &format!("/Observation?{}", criteria("cu-if-match")),
        Some(&t.alice),
        &[
            ("Content-Type", "application/fhir+json"),
            ("If-Match", "W/\"1\""),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 412, "{}", r.text());
    let r = s.get(
        &format!("/Observation?{}", criteria("cu-if-match")),
        &t.reader,
    );
    assert_eq!(r.json()["total"], 0, "{}", r.text());
}

/// Two entries of one transaction may not change one resource (FHIR R4 http.html
/// transaction rules: identities, resolved conditional ones included, that overlap in the
/// delete, create and update steps fail the transaction): a DELETE and a PUT of one id left
/// whichever ran last, which the order of the entries did not say.
#[test]
fn a_transaction_changing_one_resource_twice_fails_and_changes_nothing() {
    let s = Server::start(&[]);
    let t = tokens(&s);
    let id = create(&s, &t.alice, &obs("twice", "Patient/example", "final"));
    let mut amended = obs("twice", "Patient/example", "amended");
    amended["id"] = json!(id);
    // Two conditional creates that find the resource change nothing: they may share it.
    let find = json!({"resource": obs("twice", "Patient/example", "final"),
                      "request": {"method": "POST", "url": "Observation", "ifNoneExist": criteria("twice")}});
    let bundle = json!({"resourceType": "Bundle", "type": "transaction",
                        "entry": [find.clone(), find]});
    let r = s.send_json("POST", "", &t.alice, &bundle);
    assert_eq!(r.status, 200, "{}", r.text());
    for second in [
        json!({"request": {"method": "DELETE", "url": format!("Observation/{id}")}}),
        json!({"request": {"method": "DELETE", "url": format!("Observation?{}", criteria("twice"))}}),
        json!({"resource": amended.clone(),
               "request": {"method": "PUT", "url": format!("Observation/{id}")}}),
    ] {
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": amended.clone(),
             "request": {"method": "PUT", "url": format!("Observation/{id}")}},
            second
        ]});
        let r = s.send_json("POST", "", &t.alice, &bundle);
        assert_eq!(r.status, 400, "{}", r.text());
        let r = s.get(&format!("/Observation/{id}"), &t.reader);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["meta"]["versionId"], "1", "{}", r.text());
    }
}

/// Two conditional creates of one transaction with the same criteria and no match yet (one
/// new Practitioner named under two urn:uuids, as generated Bundles do): the first creates the
/// resource, the second finds it, and references to either name that one resource.
#[test]
fn repeated_conditional_creates_in_a_transaction_stand_for_one_resource() {
    let s = Server::start(&[]);
    let t = tokens(&s);
    let urn = |n: u8| format!("urn:uuid:7c1e6a9e-1d2b-4c3a-9f00-00000000000{n}");
    let create = |n: u8| {
        json!({"fullUrl": urn(n), "resource": obs("cc-new", "Patient/example", "final"),
               "request": {"method": "POST", "url": "Observation", "ifNoneExist": criteria("cc-new")}})
    };
    let derived = |n: u8| {
        let mut d = obs(&format!("cc-new-derived-{n}"), "Patient/example", "final");
        d["derivedFrom"] = json!([{"reference": urn(n)}]);
        json!({"resource": d, "request": {"method": "POST", "url": "Observation"}})
    };
    let bundle = json!({"resourceType": "Bundle", "type": "transaction",
                        "entry": [create(1), create(2), derived(1), derived(2)]});
    let b = transaction(&s, &t.alice, &bundle);
    assert_eq!(statuses(&b), ["201", "200", "201", "201"], "{b}");
    let id = b["entry"][0]["resource"]["id"].as_str().unwrap();
    for i in [2, 3] {
        let reference = &b["entry"][i]["resource"]["derivedFrom"][0]["reference"];
        assert_eq!(reference, &json!(format!("Observation/{id}")), "{b}");
    }
    let r = s.get(&format!("/Observation?{}", criteria("cc-new")), &t.reader);
    assert_eq!(r.json()["total"], 1, "{}", r.text());
}

/// A patient-scoped token may name an entry's urn:uuid in a conditional URL or `ifNoneExist`
/// (FHIR R4 http.html, transaction processing rules: every link to a fullUrl is replaced).
/// Such an entry is authorized as rewritten, where the urn is a `Type/id` and no longer
/// looks like the bare id of another patient; a rewritten form the token does not allow still
/// fails the whole transaction.
#[test]
fn criteria_naming_a_full_url_are_authorized_as_rewritten() {
    let s = Server::start(&[]);
    let t = tokens(&s);
    let urn = "urn:uuid:5a0c7d3e-2b1f-4e6a-8c9d-000000000001";
    let focused = |identifier: &str| {
        let mut o = obs(identifier, "Patient/example", "final");
        o["focus"] = json!([{"reference": urn}]);
        o
    };
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": urn, "resource": obs("fu-a", "Patient/example", "final"),
         "request": {"method": "POST", "url": "Observation"}},
        {"resource": focused("fu-b"),
         "request": {"method": "POST", "url": "Observation", "ifNoneExist": format!("focus={urn}")}},
        {"resource": focused("fu-c"),
         "request": {"method": "PUT", "url": format!("Observation?focus={urn}&{}", criteria("fu-c"))}},
    ]});
    let b = transaction(&s, &t.alice, &bundle);
    assert_eq!(statuses(&b), ["201", "201", "201"], "{b}");
    let id = b["entry"][0]["resource"]["id"].as_str().unwrap();
    for i in [1, 2] {
        let reference = &b["entry"][i]["resource"]["focus"][0]["reference"];
        assert_eq!(reference, &json!(format!("Observation/{id}")), "{b}");
    }

    // Without `u`, the rewritten conditional update is refused and nothing is written.
    let no_update = s.patient_token("patient/Observation.crs");
    let mut again = bundle.clone();
    again["entry"][0]["resource"] = obs("fu-refused", "Patient/example", "final");
    let r = s.send_json("POST", "", &no_update, &again);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = s.get(
        &format!("/Observation?{}", criteria("fu-refused")),
        &t.reader,
    );
    assert_eq!(r.json()["total"], 0, "{}", r.text());
}

/// FHIR R4 http.html (transaction processing rules): a link to a fullUrl names what its entry
/// resolves to, for a conditional create that finds its resource the match. So criteria
/// naming the fullUrl of a conditional create later in the Bundle that finds one search for
/// that match, not for the id a create would have had; criteria naming each other's fullUrls
/// in a cycle cannot be resolved (400, nothing written).
#[test]
fn criteria_naming_a_later_conditional_create_name_its_match() {
    let s = Server::start(&[]);
    let t = tokens(&s);
    let target = create(&s, &t.alice, &obs("fw-target", "Patient/example", "final"));
    let mut focused = obs("fw-focused", "Patient/example", "final");
    focused["focus"] = json!([{"reference": format!("Observation/{target}")}]);
    let existing = create(&s, &t.alice, &focused);

    let urn = |n: u8| format!("urn:uuid:9e3b1c5d-7a2f-4d6e-8b1a-00000000000{n}");
    let focusing = |n: u8, on: u8| {
        let mut o = obs("fw-focused", "Patient/example", "final");
        o["focus"] = json!([{"reference": urn(on)}]);
        json!({"fullUrl": urn(n), "resource": o, "request": {"method": "POST",
               "url": "Observation", "ifNoneExist": format!("focus={}", urn(on))}})
    };
    let found = |n: u8| {
        json!({"fullUrl": urn(n), "resource": obs("fw-target", "Patient/example", "final"),
               "request": {"method": "POST", "url": "Observation", "ifNoneExist": criteria("fw-target")}})
    };
    let bundle = json!({"resourceType": "Bundle", "type": "transaction",
                        "entry": [focusing(1, 2), found(2)]});
    let b = transaction(&s, &t.alice, &bundle);
    assert_eq!(statuses(&b), ["200", "200"], "{b}");
    assert_eq!(b["entry"][0]["resource"]["id"], json!(existing), "{b}");
    assert_eq!(b["entry"][1]["resource"]["id"], json!(target), "{b}");
    let r = s.get(
        &format!("/Observation?{}", criteria("fw-focused")),
        &t.reader,
    );
    assert_eq!(r.json()["total"], 1, "no duplicate: {}", r.text());

    let cycle = json!({"resourceType": "Bundle", "type": "transaction",
                       "entry": [focusing(3, 4), focusing(4, 3)]});
    let r = s.send_json("POST", "", &t.alice, &cycle);
    assert_eq!(r.status, 400, "{}", r.text());
    let r = s.get(
        &format!("/Observation?{}", criteria("fw-focused")),
        &t.reader,
    );
    assert_eq!(r.json()["total"], 1, "{}", r.text());
}
