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
