//! Granular scope constraints (`patient/Observation.rs?category=laboratory`): the narrowing the
//! store applies for a constraint must never admit more than smart-auth's own check of each
//! result does, or `total` and `_summary=count` count resources the token may not see (and
//! searches become an oracle on them). Each case is one parameter type's semantics where the
//! store's search syntax and the scope's literal constraint could part.

mod server_support;

use serde_json::json;
use server_support::Server;

/// For each search: `_summary=count` and `total` equal the number of entries returned.
fn assert_counts_what_is_seen(s: &Server, token: &str, searches: &[&str], why: &str) {
    for search in searches {
        let r = s.get(search, token);
        assert_eq!(r.status, 200, "{why}: {search}: {}", r.text());
        let seen = r.entry_ids().len();
        assert_eq!(r.json()["total"], seen, "{why}: {search}: {}", r.text());
        let sep = if search.contains('?') { '&' } else { '?' };
        let count = s.get(&format!("{search}{sep}_summary=count"), token);
        assert_eq!(count.status, 200, "{why}: {search}: {}", count.text());
        assert_eq!(
            count.json()["total"],
            seen,
            "{why}: {search}: {}",
            count.text()
        );
    }
}

#[test]
fn a_comma_in_a_token_constraint_is_literal_not_an_or() {
    // smart-auth takes the constraint's value literally (no code is `laboratory,vital-signs`);
    // as a search value the comma is an OR, which admits every demo Observation.
    let s = Server::start(&[]);
    for scope in [
        "system/Observation.rs?category=laboratory,vital-signs",
        "system/Observation.rs?status=final,amended",
    ] {
        let t = s.token(scope, None, None);
        assert_counts_what_is_seen(
            &s,
            &t,
            &["/Observation", "/Observation?status=final"],
            scope,
        );
        // The literal constraint still grants what it names: nothing here.
        assert!(s.get("/Observation", &t).entry_ids().is_empty(), "{scope}");
    }
}

#[test]
fn a_comma_in_a_reference_constraint_is_literal_not_an_or() {
    let s = Server::start(&[]);
    let scope = "system/Observation.rs?subject=Patient/example,Patient/pat-2";
    let t = s.token(scope, None, None);
    assert_counts_what_is_seen(&s, &t, &["/Observation"], scope);
}

#[test]
fn a_token_constraint_without_system_and_code_admits_no_code() {
    // `|` is "no system" and the empty code to smart-auth; as a search value, "no system, any
    // code", which every `status` is.
    let s = Server::start(&[]);
    let scope = "system/Observation.rs?status=|";
    let t = s.token(scope, None, None);
    assert_counts_what_is_seen(&s, &t, &["/Observation"], scope);
}

#[test]
fn a_string_constraint_matches_the_text_as_stored() {
    // smart-auth matches a string constraint as a case-insensitive prefix of the text as it
    // is; the store's string index trims it first, so ` Zed` starts with `zed` only there.
    let s = Server::start(&[]);
    let admin = s.token("system/*.cruds", None, None);
    let patient = json!({"resourceType": "Patient", "id": "spaced",
        "name": [{"family": " Zedekiah"}]});
    let put = s.send_json("PUT", "/Patient/spaced", &admin, &patient);
    assert!(put.status == 200 || put.status == 201, "{}", put.text());
    let scope = "system/Patient.rs?family=zed";
    let t = s.token(scope, None, None);
    assert_counts_what_is_seen(&s, &t, &["/Patient", "/Patient?family=zed"], scope);
    // A constraint matching the text as written still grants it.
    let family = s.token("system/Patient.rs?family=Chal", None, None);
    let r = s.get("/Patient", &family);
    assert_eq!(r.entry_ids(), ["Patient/example"], "{}", r.text());
    assert_eq!(r.json()["total"], 1);
}

#[test]
fn each_constraint_type_counts_exactly_what_it_grants() {
    // Where the store's reading of a constraint and smart-auth's agree, the count is what the
    // check lets through, and that is what the constraint names (not nothing).
    let s = Server::start(&[]);
    let category = "http://terminology.hl7.org/CodeSystem/observation-category";
    let cases: &[(String, &str, usize)] = &[
        (
            "Observation.rs?category=vital-signs".into(),
            "/Observation",
            4,
        ),
        (
            format!("Observation.rs?category={category}|laboratory"),
            "/Observation",
            1,
        ),
        (
            format!("Observation.rs?category={category}|"),
            "/Observation",
            5,
        ),
        (
            "Observation.rs?category=|vital-signs".into(),
            "/Observation",
            0,
        ),
        ("Observation.rs?status=final".into(), "/Observation", 5),
        (
            "Observation.rs?subject=Patient/pat-2".into(),
            "/Observation",
            3,
        ),
        ("Observation.rs?subject=pat-2".into(), "/Observation", 3),
        ("Observation.rs?patient=example".into(), "/Observation", 2),
        (
            "Observation.rs?subject=Group/pat-2".into(),
            "/Observation",
            0,
        ),
        (
            "Observation.rs?category=vital-signs&subject=Patient/pat-2".into(),
            "/Observation",
            2,
        ),
        ("Patient.rs?family=sha".into(), "/Patient", 1),
        ("Patient.rs?name=PETER".into(), "/Patient", 1),
        ("Patient.rs?family=peter".into(), "/Patient", 0),
    ];
    for (scope, search, expected) in cases {
        let scope = format!("system/{scope}");
        let t = s.token(&scope, None, None);
        assert_counts_what_is_seen(&s, &t, &[search], &scope);
        let seen = s.get(search, &t).entry_ids().len();
        assert_eq!(seen, *expected, "{scope}");
    }
    // Parameter types smart-auth cannot enforce exactly (date, quantity, a modifier) are
    // refused with the scope: nothing is granted, nothing counted.
    for scope in [
        "system/Observation.rs?date=2016",
        "system/Observation.rs?value-quantity=185",
        "system/Observation.rs?code:text=weight",
    ] {
        let t = s.token(scope, None, None);
        let r = s.get("/Observation?_summary=count", &t);
        assert_eq!(r.status, 403, "{scope}: {}", r.text());
    }
}
