//! History paging at the running server (FHIR R4 http.html §3.1.0.12.2 history, §3.1.0.14
//! paging): the `next` links of a history run over the versions there were when its first
//! page was read, continuing after the last one shown, so that writes while a client pages
//! neither repeat nor skip a version.

mod server_support;

use serde_json::{json, Value};
use server_support::Server;

fn observation(n: usize) -> Value {
    json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": format!("history paging {n}")},
        "subject": {"reference": "Patient/example"}
    })
}

fn create(s: &Server, token: &str, n: usize) -> String {
    let r = s.send_json("POST", "/Observation", token, &observation(n));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

/// The page at `path`: its versions (`Type/id/_history/n`) and its next link's path.
fn page(s: &Server, path: &str, token: &str) -> (Vec<String>, Option<String>) {
    let r = s.get(path, token);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    let b = r.json();
    let versions = b["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| {
                    let url = e["fullUrl"].as_str().unwrap();
                    let v = e["resource"]["meta"]["versionId"]
                        .as_str()
                        .or(e["request"]["url"].as_str())
                        .unwrap_or("deleted");
                    format!("{url}|{v}|{}", e["request"]["method"])
                })
                .collect()
        })
        .unwrap_or_default();
    (versions, s.next_page(&b))
}

/// Pages through `first`, calling `between` after the first page, and returns every version
/// seen in order.
fn walk(s: &Server, first: &str, token: &str, between: &dyn Fn()) -> Vec<String> {
    let (mut seen, mut next) = page(s, first, token);
    between();
    while let Some(path) = next {
        let (versions, after) = page(s, &path, token);
        seen.extend(versions);
        next = after;
    }
    seen
}

fn check_walk(s: &Server, token: &str, path: &str, between: &dyn Fn(), what: &str) {
    let (before, _) = page(s, &format!("{path}?_count=200"), token);
    assert!(before.len() > 6, "{before:?}");
    let seen = walk(s, &format!("{path}?_count=2"), token, between);
    assert_eq!(seen, before, "{what}: pages repeat or skip versions");
}

#[test]
fn a_create_while_paging_repeats_nothing() {
    let s = Server::start(&[]);
    let writer = s.patient_token("patient/*.cruds");
    for n in 0..6 {
        create(&s, &writer, n);
    }
    let reader = s.patient_token("patient/*.rs");
    let system = s.token("system/*.rs", None, None);
    for (n, (token, path)) in [
        (&reader, "/Observation/_history"),
        (&reader, "/_history"),
        (&system, "/Observation/_history"),
        (&system, "/_history"),
    ]
    .into_iter()
    .enumerate()
    {
        let write = || {
            create(&s, &writer, 100 + n);
        };
        check_walk(&s, token, path, &write, path);
    }
}

#[test]
fn a_delete_of_a_version_already_shown_skips_nothing() {
    let s = Server::start(&[]);
    let writer = s.patient_token("patient/*.cruds");
    let reader = s.patient_token("patient/*.rs");
    for path in ["/Observation/_history", "/_history"] {
        for n in 0..6 {
            create(&s, &writer, n);
        }
        // The newest version, on the first page: its resource leaves the caller's history.
        let newest = create(&s, &writer, 99);
        let delete = || {
            let r = s.request(
                "DELETE",
                &format!("/Observation/{newest}"),
                Some(&writer),
                &[],
                None,
            );
            assert_eq!(r.status, 204, "{}", r.text());
        };
        check_walk(&s, &reader, path, &delete, path);
    }
}

/// The cursor in a `next` link is the server's own, sealed: it shows no write counter (whose
/// gaps would count other patients' writes), and one the client made up is refused.
#[test]
fn cursors_are_opaque_and_only_the_servers_own() {
    let s = Server::start(&[]);
    let reader = s.patient_token("patient/*.rs");
    let (_, next) = page(&s, "/_history?_count=1", &reader);
    let next = next.expect("a next page");
    let cursor = next
        .split("_cursor=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(
        cursor.parse::<i64>().is_err() && !cursor.contains('.'),
        "{cursor}"
    );
    assert_eq!(s.get(&next, &reader).status, 200);
    for forged in ["5", "5.3", "AAAA"] {
        let r = s.get(&format!("/_history?_cursor={forged}"), &reader);
        assert_eq!(r.status, 400, "{forged}: {}", r.text());
    }
}

/// The AuditEvents' history grows with every request, the paging ones too: its pages still
/// run over the events there were at the first page, each once.
#[test]
fn audit_event_history_pages_run_over_the_events_of_the_first_page() {
    let s = Server::start(&[]);
    let reader = s.patient_token("patient/*.rs");
    for _ in 0..6 {
        assert_eq!(s.get("/Patient/example", &reader).status, 200);
    }
    let auditor = s.token("system/AuditEvent.rs", None, None);
    let seen = walk(&s, "/AuditEvent/_history?_count=2", &auditor, &|| {});
    let ids: Vec<u32> = seen
        .iter()
        .map(|v| {
            let url = v.split('|').next().unwrap();
            url.rsplit('/').next().unwrap().parse().unwrap()
        })
        .collect();
    assert!(ids.len() >= 6, "{ids:?}");
    let expected: Vec<u32> = (1..=ids[0]).rev().collect();
    assert_eq!(
        ids, expected,
        "every event of the first page's history, once, newest first"
    );
}
