//! The search parameters come from the specification (`fhir_types::search`): every token,
//! reference, date, string, number and quantity parameter of every type that the store can
//! evaluate works, and
//! any other is refused with a 400 rather than ignored. The narrowing applies to all of them.

mod server_support;

use serde_json::json;
use server_support::Server;

#[test]
fn spec_parameters_of_any_type_search_narrowed() {
    let s = Server::start(&[]);
    let alice = s.patient_token("patient/*.cruds");
    let victim = s.token("patient/*.cruds", Some("pat-2"), Some("Patient/pat-2"));
    let goal = |subject: &str, status: &str| {
        json!({"resourceType": "Goal", "lifecycleStatus": status,
               "description": {"text": "walk"}, "subject": {"reference": subject}})
    };
    for (t, subject, status) in [
        (&alice, "Patient/example", "active"),
        (&alice, "Patient/example", "completed"),
        (&victim, "Patient/pat-2", "active"),
    ] {
        let r = s.send_json("POST", "/Goal", t, &goal(subject, status));
        assert_eq!(r.status, 201, "{}", r.text());
    }
    // Goal was not in the old hand-written table; `lifecycle-status` is a token, `patient` a
    // reference restricted to Patient targets.
    let r = s.get("/Goal?lifecycle-status=active", &alice);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["total"], 1, "{}", r.text());
    let r = s.get(
        "/Goal?patient=example&lifecycle-status=active,completed",
        &alice,
    );
    assert_eq!(r.json()["total"], 2, "{}", r.text());
    // The victim's goal is not found whatever the criteria.
    let r = s.get("/Goal?lifecycle-status=active&_summary=count", &victim);
    assert_eq!(r.json()["total"], 1, "{}", r.text());

    // A string parameter on a HumanName and on an Address.
    let r = s.get("/Patient?name=chalm", &alice);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.entry_ids().contains(&"Patient/example".to_owned()),
        "{}",
        r.text()
    );
    let r = s.get("/Patient?address-city=pleasantville", &alice);
    assert!(
        r.entry_ids().contains(&"Patient/example".to_owned()),
        "{}",
        r.text()
    );
    let r = s.get("/Patient?address-city=nowhere", &alice);
    assert_eq!(r.json()["total"], 0, "{}", r.text());

    // A quantity: the victim's heavier weight is not found by a patient's search.
    let weight = |subject: &str, kg: &str| {
        let body = format!(
            r#"{{"resourceType": "Observation", "status": "final", "code": {{"text": "weight"}},
                "subject": {{"reference": "{subject}"}},
                "valueQuantity": {{"value": {kg}, "system": "http://unitsofmeasure.org", "code": "kg"}}}}"#
        );
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    for (t, subject, kg) in [
        (&alice, "Patient/example", "72.5"),
        (&victim, "Patient/pat-2", "95.0"),
    ] {
        let r = s.send_json("POST", "/Observation", t, &weight(subject, kg));
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let kg = |q: &str, t: &str| -> Vec<String> {
        let r = s.get(&format!("/Observation?value-quantity={q}"), t);
        assert_eq!(r.status, 200, "{}", r.text());
        r.entry_ids()
    };
    let mine = kg("gt70|http://unitsofmeasure.org|kg", &alice);
    let theirs = kg("gt70||kg", &victim);
    assert_eq!((mine.len(), theirs.len()), (1, 1));
    assert_ne!(mine, theirs);
    assert_eq!(kg("95||kg", &victim), theirs);
    assert_eq!(
        kg("95", &victim).len(),
        2,
        "any unit: the weight and a glucose of 95 mg/dL"
    );
    assert!(
        kg("gt90||kg", &alice).is_empty(),
        "the victim's weight is outside alice's compartment"
    );
    assert!(kg("72.5|http://unitsofmeasure.org|g", &alice).is_empty());
}

#[test]
fn parameters_the_store_cannot_evaluate_are_refused() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    for query in [
        "/Observation?value-quantity=heavy",
        "/Observation?value-quantity=5|kg",
        "/Observation?code-value-quantity=x$5",
        "/Patient?phone=555",
        "/Patient?email=a@b.c",
        "/Observation?_text=pain",
        "/Observation?no-such-parameter=1",
    ] {
        let r = s.get(query, &t);
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        assert_eq!(r.json()["resourceType"], "OperationOutcome");
    }
    // A misspelt parameter or modifier is named as unsupported (smart-auth's issue code for
    // unsupported_parameter), not "not allowed as sent".
    for query in [
        "/Patient?nmae=peter",
        "/Observation?no-such-parameter=1",
        "/Observation?code:bogus=1",
    ] {
        let r = s.get(query, &t);
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        let issue = &r.json()["issue"][0];
        assert_eq!(issue["code"], "not-supported", "{query}: {issue}");
        let text = issue["diagnostics"].as_str().unwrap_or_default();
        assert!(
            text.starts_with("Unsupported search parameter"),
            "{query}: {text}"
        );
    }
}

#[test]
fn the_capability_statement_lists_what_is_evaluated_and_nothing_else() {
    let s = Server::start(&[]);
    let r = server_support::raw_request(&s.addr, "GET", "/fhir/metadata", &[], None);
    assert_eq!(r.status, 200);
    let cs = r.json();
    let resources = cs["rest"][0]["resource"].as_array().unwrap();
    assert_eq!(resources.len(), fhir_types::ResourceType::ALL.len());
    let of = |t: &str| resources.iter().find(|r| r["type"] == t).unwrap().clone();
    let names = |t: &str| -> Vec<String> {
        of(t)["searchParam"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(names("Goal").contains(&"lifecycle-status".to_owned()));
    assert!(names("Observation").contains(&"patient".to_owned()));
    let quantity = of("Observation")["searchParam"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "value-quantity")
        .cloned();
    assert_eq!(quantity.unwrap()["type"], "quantity");
    assert!(!names("Observation").contains(&"code-value-quantity".to_owned()));
    assert!(!names("Patient").contains(&"phone".to_owned()));
    assert_eq!(of("Observation")["conditionalDelete"], "single");
    assert_eq!(of("Observation")["conditionalUpdate"], true);
    assert_eq!(of("AuditEvent")["conditionalUpdate"], false);
}

#[test]
fn every_audit_event_search_the_capability_statement_lists_is_answered() {
    let s = Server::start(&[]);
    let r = server_support::raw_request(&s.addr, "GET", "/fhir/metadata", &[], None);
    let cs = r.json();
    let audit = cs["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "AuditEvent")
        .unwrap()
        .clone();
    let listed = |key: &str| audit[key].as_array().unwrap().clone();
    let mut queries: Vec<String> = listed("searchParam")
        .iter()
        .map(|p| {
            let value = match p["type"].as_str().unwrap() {
                "date" => "ge2020-01-01",
                "reference" => "Patient/example",
                _ => "example",
            };
            format!("/AuditEvent?{}={value}", p["name"].as_str().unwrap())
        })
        .collect();
    queries.extend(
        listed("searchInclude")
            .iter()
            .map(|i| format!("/AuditEvent?_include={}", i.as_str().unwrap())),
    );
    let interactions = listed("interaction");
    if interactions.iter().any(|i| i["code"] == "history-type") {
        queries.push("/AuditEvent/_history".to_owned());
    }
    assert!(queries.len() >= 8, "{queries:?}");
    let t = s.patient_token("patient/*.rs");
    for q in &queries {
        let r = s.get(q, &t);
        assert_eq!(r.status, 200, "{q}: {}", r.text());
    }
}

/// A malformed request gets a 400 whose text says what is wrong (a fixed text per reason,
/// never the request's own bytes), not one text for everything.
#[test]
fn malformed_requests_are_told_what_is_wrong_without_an_echo() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    let diagnostics = |path: &str| {
        let r = s.get(path, &t);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        let text = r.json()["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!text.contains("zq9x"), "{path} echoed: {text}");
        text
    };
    let count = diagnostics("/Patient?_count=zq9x");
    assert!(
        count.contains("_count takes a non-negative integer"),
        "{count}"
    );
    assert_eq!(diagnostics("/Observation?_count=-1"), count);
    for path in ["/Patient/", "/Patient/example/", "/Patient//zq9x"] {
        let text = diagnostics(path);
        assert!(text.contains("trailing or doubled slash"), "{path}: {text}");
    }
    let summary = diagnostics("/Patient?_summary=zq9x");
    assert!(summary.contains("_summary"), "{summary}");
}

/// `_summary=count` answers the total and no entries: it has no further page to link to (a
/// `next` link led to more count-only answers of the same total).
#[test]
fn a_count_only_search_links_to_no_next_page() {
    let s = Server::start(&[]);
    let alice = s.patient_token("patient/*.rs");
    let r = s.get("/Observation?_summary=count&_count=1", &alice);
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    assert!(b["total"].as_u64().unwrap() > 1, "{b}");
    assert!(b.get("entry").is_none(), "{b}");
    let relations: Vec<&str> = b["link"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["relation"].as_str().unwrap())
        .collect();
    assert_eq!(relations, ["self"], "{b}");
}

/// Follows a listing's `next` links from `first`, calling `between` after the first page, and
/// returns every entry's `type/id` in the order served.
fn page_through(s: &Server, token: &str, first: &str, between: impl Fn(&[String])) -> Vec<String> {
    let mut seen = Vec::new();
    let mut path = first.to_owned();
    for page in 0.. {
        assert!(page < 50, "the pages never end");
        let r = s.get(&path, token);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let ids = r.entry_ids();
        if page == 0 {
            between(&ids);
        }
        seen.extend(ids);
        let links = r.json()["link"].as_array().cloned().unwrap_or_default();
        let Some(next) = links.iter().find(|l| l["relation"] == "next") else {
            return seen;
        };
        let url = next["url"].as_str().expect("next url");
        path = url.strip_prefix(&s.base).expect("own base").to_owned();
    }
    unreachable!()
}

/// Updates the first resource of `ids` (a page) in place.
fn update_first(s: &Server, admin: &str, ids: &[String]) {
    let first = ids.first().expect("a first page");
    let r = s.get(&format!("/{first}"), admin);
    let mut body = r.json();
    body["text"] = json!({"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">updated</div>"});
    let r = s.send_json("PUT", &format!("/{first}"), admin, &body);
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Asserts `served` holds each of `expected` exactly once.
fn assert_each_once(served: &[String], expected: &[String]) {
    let mut sorted = served.to_vec();
    sorted.sort();
    let mut wanted = expected.to_vec();
    wanted.sort();
    assert_eq!(sorted, wanted, "served in order: {served:?}");
}

#[test]
fn an_update_while_paging_neither_repeats_nor_skips_a_resource() {
    let s = Server::start(&[]);
    let admin = s.token("system/*.cruds", None, None);
    let reader = s.patient_token("patient/Patient.rs patient/Goal.rs patient/Observation.rs");
    for n in 0..5 {
        let goal = json!({"resourceType": "Goal", "lifecycleStatus": "active",
            "description": {"text": format!("goal {n}")},
            "subject": {"reference": "Patient/example"}});
        let r = s.send_json("POST", "/Goal", &admin, &goal);
        assert_eq!(r.status, 201, "{}", r.text());
    }
    // A search, and the patient's $everything, each paged by 2 with an update of a resource
    // of the first page before the second page is asked for.
    for first in ["/Goal?_count=2", "/Patient/example/$everything?_count=2"] {
        let unperturbed = page_through(&s, &reader, first, |_| {});
        assert!(unperturbed.len() > 4, "{first}: {unperturbed:?}");
        let served = page_through(&s, &reader, first, |page| update_first(&s, &admin, page));
        assert_each_once(&served, &unperturbed);
        assert_eq!(served, unperturbed, "{first}: the order is kept");
    }
}
