use super::*;
use crate::fhir::access::Unrestricted;

const BASE: &str = "http://localhost/fhir";

/// A store of 20 Observations of about 2 KiB each: one search returns some 40 KiB.
fn store() -> Store {
    let store = Store::open(None, BASE).unwrap();
    let now = chrono::Utc::now();
    store
        .transaction(|tx| -> store::Result<()> {
            for i in 0..20 {
                let obs = json!({"resourceType": "Observation", "status": "final",
                    "code": {"text": "x"}, "note": [{"text": "n".repeat(2048)}]});
                tx.put("Observation", &format!("o{i}"), obs, now)?;
            }
            Ok(())
        })
        .unwrap();
    store
}

/// Runs `kind` Bundle of [`MAX_ENTRIES`] searches returning the whole store.
fn repeated_search(store: &Store, kind: &str) -> Outcome {
    let entry = json!({"request": {"method": "GET", "url": "Observation?_count=200"}});
    let bundle = json!({"resourceType": "Bundle", "type": kind, "entry": vec![entry; MAX_ENTRIES]});
    let authorize = |_: &Entry| Ok(Box::new(Unrestricted) as Box<dyn Access + Send>);
    let failed = |_: &Entry, _: &Fail| {};
    let now = chrono::Utc::now();
    run(
        store,
        BASE,
        &bundle,
        (&authorize, &failed),
        now,
        Bounds::REQUEST,
    )
}

#[test]
fn a_batch_response_stays_bounded_however_often_its_entries_repeat_a_search() {
    let store = store();
    let done = repeated_search(&store, "batch").unwrap();
    let Payload::Json(response) = done.payload else {
        panic!("a batch answers with a Bundle")
    };
    let entries = response["entry"].as_array().unwrap();
    let status = |e: &Value| e["response"]["status"].as_str().unwrap_or("").to_owned();
    let (served, refused): (Vec<_>, Vec<_>) = entries.iter().partition(|e| status(e) == "200");
    // 1,000 searches of 40 KiB would be 40 MiB: past the bound the later ones are refused.
    assert!(!served.is_empty());
    assert!(
        refused.iter().all(|e| status(e) == "400"),
        "{}",
        status(refused[0])
    );
    assert!(refused.len() > 100, "{} refused", refused.len());
    let len = crate::fhir::json::to_vec(&response).len();
    assert!(len < MAX_RESPONSE_BYTES + (64 << 10), "{len}");
}

#[test]
fn a_transaction_whose_responses_would_outgrow_the_bound_fails_whole() {
    let store = store();
    assert_eq!(
        repeated_search(&store, "transaction").unwrap_err(),
        RESPONSE_FULL
    );
}

/// FHIR R4 http.html: a transaction's fullUrls are replaced in references, in uri and url
/// elements, and in the narrative's links and images; text that merely mentions one is not.
#[test]
fn every_link_to_a_full_url_is_rewritten_not_only_references() {
    let urn = "urn:uuid:0b7c2f1e-1111-4c3a-9f00-000000000001";
    let ids = HashMap::from([(urn.to_owned(), ("Patient".to_owned(), "p1".to_owned()))]);
    let div = format!(
        r#"<div xmlns="http://www.w3.org/1999/xhtml"><a href="{urn}">chart</a> <img src='{urn}'/> {urn} <a href="urn:uuid:other">x</a></div>"#
    );
    let mut resource = serde_json::json!({
        "resourceType": "DocumentReference",
        "text": {"status": "generated", "div": div},
        "subject": {"reference": urn},
        "content": [{"attachment": {"url": urn}}],
        "extension": [{"url": "http://example.org/about", "valueUri": urn}],
        "description": format!("about {urn}"),
    });
    let mut referenced = HashSet::new();
    rewrite_references(&mut resource, &ids, &mut referenced);
    assert_eq!(resource["subject"]["reference"], "Patient/p1");
    assert_eq!(resource["content"][0]["attachment"]["url"], "Patient/p1");
    assert_eq!(resource["extension"][0]["valueUri"], "Patient/p1");
    assert_eq!(resource["description"], format!("about {urn}"));
    let div = resource["text"]["div"].as_str().unwrap();
    assert!(div.contains(r#"<a href="Patient/p1">chart</a>"#), "{div}");
    assert!(div.contains("<img src='Patient/p1'/>"), "{div}");
    assert!(div.contains(&format!(" {urn} ")), "{div}");
    assert!(div.contains(r#"href="urn:uuid:other""#), "{div}");
    assert_eq!(referenced, HashSet::from([urn.to_owned()]));
}

const SYS: &str = "urn:secure-fhir:test";
const URN: &str = "urn:uuid:3d1f6c2a-5b7e-4c1d-8e2f-000000000001";

/// A store holding `Patient/known` (identifier `SYS|known`) and one Observation about it.
fn store_with_known_patient() -> Store {
    let store = Store::open(None, BASE).unwrap();
    let now = chrono::Utc::now();
    store
        .transaction(|tx| -> store::Result<()> {
            let patient = json!({"resourceType": "Patient", "id": "known",
                "identifier": [{"system": SYS, "value": "known"}]});
            tx.put("Patient", "known", patient, now)?;
            let obs = json!({"resourceType": "Observation", "id": "obs-known", "status": "final",
                "code": {"text": "weight"}, "subject": {"reference": "Patient/known"}});
            tx.put("Observation", "obs-known", obs, now)?;
            Ok(())
        })
        .unwrap();
    store
}

/// A transaction: the Patient found by its identifier under [`URN`], then `entry`.
fn with_found_patient(entry: Value) -> Value {
    json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": URN,
         "resource": {"resourceType": "Patient", "identifier": [{"system": SYS, "value": "known"}]},
         "request": {"method": "POST", "url": "Patient", "ifNoneExist": format!("identifier={SYS}|known")}},
        entry,
    ]})
}

/// Runs `bundle` as a transaction, each entry authorized by `allow` (seeing the entry's URL
/// and `ifNoneExist`), and returns the outcome and every URL and criteria authorized.
fn run_authorizing(
    store: &Store,
    bundle: &Value,
    allow: &dyn Fn(&str) -> bool,
) -> (Outcome, Vec<String>) {
    let seen = std::cell::RefCell::new(Vec::new());
    let authorize = |e: &Entry| {
        let asked = format!("{} {}", e.url, e.if_none_exist.as_deref().unwrap_or(""));
        seen.borrow_mut().push(asked.clone());
        match allow(&asked) {
            true => Ok(Box::new(Unrestricted) as Box<dyn Access + Send>),
            false => Err(Fail::FORBIDDEN),
        }
    };
    let failed = |_: &Entry, _: &Fail| {};
    let now = chrono::Utc::now();
    let outcome = run(
        store,
        BASE,
        bundle,
        (&authorize, &failed),
        now,
        Bounds::REQUEST,
    );
    (outcome, seen.into_inner())
}

fn statuses(outcome: &Outcome) -> Vec<String> {
    let Ok(Done {
        payload: Payload::Json(response),
        ..
    }) = outcome
    else {
        panic!("a transaction-response: {outcome:?}")
    };
    response["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap().to_owned())
        .collect()
}

fn observations(store: &Store) -> Vec<Value> {
    store
        .read(|tx| {
            tx.history(
                store::HistoryScope::Type("Observation"),
                &[],
                store::SeqWindow::ALL,
                0,
                100,
            )
        })
        .unwrap()
        .1
        .into_iter()
        .filter_map(|v| v.json())
        .collect()
}

/// FHIR R4 http.html (transaction processing rules): every link to a fullUrl in the Bundle is
/// replaced, so a conditional update's criteria naming the found Patient by its urn:uuid
/// match the Observation about it, and update it instead of creating another.
#[test]
fn a_conditional_update_url_naming_a_full_url_matches_what_it_names() {
    let store = store_with_known_patient();
    let bundle = with_found_patient(json!({
        "resource": {"resourceType": "Observation", "status": "amended",
            "code": {"text": "weight"}, "subject": {"reference": URN}},
        "request": {"method": "PUT", "url": format!("Observation?subject={URN}&status=final")},
    }));
    let (outcome, seen) = run_authorizing(&store, &bundle, &|_| true);
    assert_eq!(statuses(&outcome), ["200", "200"]);
    let all = observations(&store);
    assert_eq!(all.len(), 2, "one Observation, two versions: {all:?}");
    assert!(all.iter().all(|o| o["id"] == "obs-known"));
    // The rewritten URL is authorized before it runs, and only it: never the urn as written.
    assert!(seen.iter().all(|s| !s.contains(URN)), "{seen:?}");
    assert!(
        seen.iter()
            .any(|s| s.starts_with("Observation?subject=Patient/known&status=final")),
        "{seen:?}"
    );
}

#[test]
fn an_if_none_exist_naming_a_full_url_finds_what_it_names() {
    let store = store_with_known_patient();
    let bundle = with_found_patient(json!({
        "resource": {"resourceType": "Observation", "status": "final",
            "code": {"text": "weight"}, "subject": {"reference": URN}},
        "request": {"method": "POST", "url": "Observation",
            "ifNoneExist": format!("subject={}&status=final", URN.replace(':', "%3A"))},
    }));
    let (outcome, seen) = run_authorizing(&store, &bundle, &|_| true);
    assert_eq!(statuses(&outcome), ["200", "200"], "found, not created");
    assert_eq!(observations(&store).len(), 1);
    assert!(
        seen.iter()
            .any(|s| s.ends_with("subject=Patient/known&status=final")),
        "{seen:?}"
    );
}

/// The criteria as rewritten are what runs, so they are authorized as such: a refusal fails
/// the transaction and nothing is written.
#[test]
fn rewritten_criteria_are_authorized_before_they_run() {
    let store = store_with_known_patient();
    let bundle = with_found_patient(json!({
        "resource": {"resourceType": "Observation", "status": "amended",
            "code": {"text": "weight"}, "subject": {"reference": URN}},
        "request": {"method": "PUT", "url": format!("Observation?subject={URN}")},
    }));
    let (outcome, _) = run_authorizing(&store, &bundle, &|s| !s.contains("Patient/known"));
    assert_eq!(outcome.unwrap_err(), Fail::FORBIDDEN);
    assert_eq!(observations(&store).len(), 1, "nothing written");
}

/// Deletes run before any create (FHIR R4 transaction processing order): criteria naming an
/// entry's fullUrl name nothing yet, so they are refused rather than silently match nothing.
#[test]
fn a_conditional_delete_naming_a_full_url_is_refused() {
    let store = store_with_known_patient();
    let bundle = with_found_patient(json!({
        "request": {"method": "DELETE", "url": format!("Observation?subject={URN}")},
    }));
    let (outcome, _) = run_authorizing(&store, &bundle, &|_| true);
    assert_eq!(outcome.unwrap_err().status, StatusCode::BAD_REQUEST);
    assert_eq!(observations(&store).len(), 1);
}

#[test]
fn query_values_naming_a_full_url_are_rewritten_alone_or_in_lists() {
    let ids = HashMap::from([(URN.to_owned(), ("Patient".to_owned(), "p1".to_owned()))]);
    let encoded = URN.replace(':', "%3A");
    let cases = [
        (
            format!("subject={URN}"),
            Some("subject=Patient/p1".to_owned()),
        ),
        (
            format!("subject:Patient={encoded},Patient/x&code=a%20b"),
            Some("subject:Patient=Patient/p1,Patient%2Fx&code=a%20b".to_owned()),
        ),
        (format!("_id={URN}"), Some("_id=p1".to_owned())),
        (format!("note={URN}x"), None),
        ("code=a".to_owned(), None),
    ];
    for (query, expected) in cases {
        let mut referenced = HashSet::new();
        assert_eq!(
            rewrite_query(&query, &ids, &mut referenced),
            expected,
            "{query}"
        );
        assert_eq!(referenced.is_empty(), expected.is_none());
    }
}

/// FHIR R4 Bundle.entry.request.ifNoneMatch and ifModifiedSince: the conditional read of a
/// standalone request, entry by entry.
#[test]
fn batch_reads_are_conditional_too() {
    let store = store_with_known_patient();
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let read = |condition: Value| {
        let mut request = json!({"method": "GET", "url": "Patient/known"});
        request
            .as_object_mut()
            .unwrap()
            .extend(condition.as_object().unwrap().clone());
        json!({"request": request})
    };
    let bundle = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        read(json!({"ifNoneMatch": "W/\"1\""})),
        read(json!({"ifModifiedSince": later})),
        read(json!({"ifNoneMatch": "W/\"2\""})),
        read(json!({"ifModifiedSince": "2000-01-01T00:00:00Z"})),
        read(json!({"ifModifiedSince": "not an instant"})),
    ]});
    let (outcome, _) = run_authorizing(&store, &bundle, &|_| true);
    assert_eq!(statuses(&outcome), ["304", "304", "200", "200", "200"]);
    let Ok(Done {
        payload: Payload::Json(response),
        ..
    }) = outcome
    else {
        unreachable!()
    };
    let not_modified = &response["entry"][0];
    assert_eq!(not_modified["response"]["etag"], "W/\"1\"");
    assert!(not_modified.get("resource").is_none(), "{not_modified}");
}
