//! Deleted resources: their reader learns `410 Gone` (read, vread of the deletion) and keeps the
//! earlier versions and the deletion in history; anyone else gets the byte-identical 404 of a
//! resource that never existed.

mod server_support;

use serde_json::json;
use server_support::Server;

fn obs(subject: &str) -> serde_json::Value {
    json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
           "subject": {"reference": subject}})
}

#[test]
fn deleted_resources_are_gone_to_their_readers_and_missing_to_others() {
    let s = Server::start(&[]);
    let alice = s.patient_token("patient/*.cruds");
    let victim = s.token("patient/*.cruds", Some("pat-2"), Some("Patient/pat-2"));
    let create = |t: &str, subject: &str| {
        let r = s.send_json("POST", "/Observation", t, &obs(subject));
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_owned()
    };
    let own = create(&alice, "Patient/example");
    let theirs = create(&victim, "Patient/pat-2");
    for (t, id) in [(&alice, &own), (&victim, &theirs)] {
        let r = s.request("DELETE", &format!("/Observation/{id}"), Some(t), &[], None);
        assert_eq!(r.status, 204, "{}", r.text());
    }

    assert_eq!(s.get(&format!("/Observation/{own}"), &alice).status, 410);
    assert_eq!(
        s.get(&format!("/Observation/{own}/_history/1"), &alice)
            .status,
        200
    );
    assert_eq!(
        s.get(&format!("/Observation/{own}/_history/2"), &alice)
            .status,
        410
    );
    let h = s.get(&format!("/Observation/{own}/_history"), &alice);
    assert_eq!(h.status, 200, "{}", h.text());
    let entries = h.json()["entry"].as_array().unwrap().len();
    assert_eq!(entries, 2, "the creation and the deletion: {}", h.text());

    let missing = s.get("/Observation/never-existed", &alice);
    for path in [
        format!("/Observation/{theirs}"),
        format!("/Observation/{theirs}/_history/1"),
        format!("/Observation/{theirs}/_history/2"),
        format!("/Observation/{theirs}/_history"),
    ] {
        let r = s.get(&path, &alice);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(r.body, missing.body, "{path}");
        assert_eq!(r.stable_headers(), missing.stable_headers(), "{path}");
    }
    // The owner still sees its own deletion as such.
    assert_eq!(
        s.get(&format!("/Observation/{theirs}"), &victim).status,
        410
    );
}

/// A server where pat-2 has deleted its `Observation/pat-2-weight`, and pat-2's token.
fn pat_2_weight_deleted() -> (Server, String) {
    let s = Server::start(&[]);
    let victim = s.token("patient/*.cruds", Some("pat-2"), Some("Patient/pat-2"));
    let r = s.request(
        "DELETE",
        "/Observation/pat-2-weight",
        Some(&victim),
        &[],
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    (s, victim)
}

/// A new content for `Observation/pat-2-weight`, about `subject`.
fn weight(subject: &str) -> serde_json::Value {
    let mut o = obs(subject);
    o["id"] = json!("pat-2-weight");
    o
}

#[test]
fn a_deleted_resource_of_another_patient_cannot_be_taken_over_by_an_update() {
    let (s, victim) = pat_2_weight_deleted();
    let alice = s.patient_token("patient/*.cruds");

    // Update-as-create at the deleted id, directly or through a conditional update naming it:
    // refused like an update of the live resource, so its id, versions and deletion stay
    // pat-2's.
    let mine = weight("Patient/example");
    let r = s.send_json("PUT", "/Observation/pat-2-weight", &alice, &mine);
    assert_eq!(r.status, 403, "{}", r.text());
    let r = s.send_json("PUT", "/Observation?code=never-used", &alice, &mine);
    assert_eq!(r.status, 403, "{}", r.text());
    let missing = s.get("/Observation/never-existed/_history", &alice);
    let r = s.get("/Observation/pat-2-weight/_history", &alice);
    assert_eq!((r.status, &r.body), (404, &missing.body));
    assert_eq!(s.get("/Observation/pat-2-weight", &victim).status, 410);

    // Its owner may bring it back.
    let r = s.send_json(
        "PUT",
        "/Observation/pat-2-weight",
        &victim,
        &weight("Patient/pat-2"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn a_deletion_shows_only_to_who_could_read_what_it_deleted() {
    let (s, _) = pat_2_weight_deleted();
    let alice = s.patient_token("patient/*.rs");
    let admin = s.token("system/*.cruds", None, None);
    // Filed again, by someone who may, under Patient/example: version 3 is alice's, versions 1
    // (pat-2's content) and 2 (its deletion) are not.
    let refiled = weight("Patient/example");
    let r = s.send_json("PUT", "/Observation/pat-2-weight", &admin, &refiled);
    assert_eq!(r.status, 201, "{}", r.text());

    let h = s.get("/Observation/pat-2-weight/_history", &alice);
    assert_eq!(h.status, 200, "{}", h.text());
    let versions: Vec<_> = h.json()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["etag"].clone())
        .collect();
    assert_eq!(versions, [json!("W/\"3\"")], "{}", h.text());
    let missing = s.get("/Observation/pat-2-weight/_history/9", &alice);
    assert_eq!(missing.status, 404);
    for v in [1, 2] {
        let r = s.get(&format!("/Observation/pat-2-weight/_history/{v}"), &alice);
        assert_eq!((r.status, &r.body), (404, &missing.body), "version {v}");
    }
    // The type's history too.
    let h = s.get("/Observation/_history", &alice);
    assert_eq!(h.status, 200, "{}", h.text());
    assert!(
        !h.text().contains("W/\\\"2\\\""),
        "no deletion of pat-2's: {}",
        h.text()
    );
}

#[test]
fn histories_count_and_page_only_the_versions_the_caller_may_see() {
    let s = Server::start(&[]);
    let alice = s.patient_token("patient/*.rs");
    let admin = s.token("system/*.cruds", None, None);
    // pat-2's Observation, filed again under Patient/example: version 1 is not alice's.
    let r = s.send_json(
        "PUT",
        "/Observation/pat-2-weight",
        &admin,
        &weight("Patient/example"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // The versions alice may see in the type's history (its first page holds them all).
    let own = s.get("/Observation/_history", &alice).json()["entry"]
        .as_array()
        .unwrap()
        .len();
    for (path, visible) in [
        ("/Observation/pat-2-weight/_history", 1),
        ("/Observation/_history", own),
    ] {
        assert_history_counts(&s, &alice, path, visible);
    }
}

/// Every page of the history at `path` counts `visible` versions, and the pages reach them all.
fn assert_history_counts(s: &Server, token: &str, path: &str, visible: usize) {
    for count in [1, 50] {
        let mut seen = 0;
        let mut next = Some(format!("{path}?_count={count}"));
        while let Some(page_path) = next {
            let h = s.get(&page_path, token);
            assert_eq!(h.status, 200, "{}", h.text());
            let page = h.json();
            assert_eq!(page["total"], visible, "{page_path}: {page}");
            seen += page["entry"].as_array().map_or(0, Vec::len);
            next = s.next_page(&page);
        }
        assert_eq!(seen, visible, "{path}?_count={count}");
    }
}

/// Past the versions a history checks one by one (1,000), a page that hides a version the
/// caller may not see still links to the next page: the caller can page through all of it.
#[test]
fn a_long_history_page_hiding_a_version_still_links_to_the_next() {
    let s = Server::start(&[]);
    let alice = s.patient_token("patient/*.rs");
    let admin = s.token("system/*.cruds", None, None);
    let entries: Vec<serde_json::Value> = (0..1000)
        .map(|_| json!({"resource": obs("Patient/example"), "request": {"method": "POST", "url": "Observation"}}))
        .collect();
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    let r = s.send_json("POST", "", &admin, &bundle);
    assert_eq!(r.status, 200, "{}", &r.text()[..200]);
    // An Observation of pat-2's, filed again under Patient/example: its version 1 is hidden
    // from alice, on the history's first page.
    let r = s.send_json("POST", "/Observation", &admin, &obs("Patient/pat-2"));
    assert_eq!(r.status, 201, "{}", r.text());
    let mut moved = r.json();
    moved["subject"]["reference"] = json!("Patient/example");
    let path = format!("/Observation/{}", moved["id"].as_str().unwrap());
    let r = s.send_json("PUT", &path, &admin, &moved);
    assert_eq!(r.status, 200, "{}", r.text());
    let page = s.get("/Observation/_history?_count=5", &alice).json();
    assert_eq!(page["entry"].as_array().unwrap().len(), 4, "{page}");
    let next = page["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next");
    assert!(next.is_some(), "{page}");
}
