//! The running server: reads, searches and the status policy (SMART digest §9, §12), with
//! tokens that allow and tokens that do not.

mod server_support;

use server_support::Server;

#[test]
fn public_endpoints_need_no_token() {
    let s = Server::start(&[]);
    let r = s.request(
        "GET",
        "/metadata",
        None,
        &[("Origin", "https://anywhere.example")],
        None,
    );
    assert_eq!(r.status, 200);
    let cs = r.json();
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    assert_eq!(
        cs["rest"][0]["security"]["service"][0]["coding"][0]["code"],
        "SMART-on-FHIR"
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let r = s.request("GET", "/.well-known/smart-configuration", None, &[], None);
    assert_eq!(r.status, 200);
    assert!(r.json()["token_endpoint"].is_string());
}

#[test]
fn missing_malformed_and_foreign_tokens_are_refused() {
    let s = Server::start(&[]);
    // No credentials: 401, a challenge without an error attribute, OperationOutcome `login`.
    let r = s.request("GET", "/Patient/example", None, &[], None);
    assert_eq!(r.status, 401);
    let challenge = r.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");
    assert_eq!(r.json()["issue"][0]["code"], "login");

    // A token from another issuer's key: 401 invalid_token, nothing echoed.
    let other = smart_auth::testing::TestIssuer::with_key(
        server_support::ISSUER,
        server_support::AUDIENCE,
        smart_auth::testing::TestKey::alternate(smart_auth::jose::Algorithm::RS256),
    );
    let forged = other
        .token(smart_auth::UnixTime::from_secs(
            chrono::Utc::now().timestamp(),
        ))
        .scope("patient/*.rs")
        .patient("example")
        .sign();
    let r = s.get("/Patient/example", &forged);
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("error=\"invalid_token\""));
    assert!(!r.text().contains(&forged[..20]));

    // Two credentials: 400 invalid_request.
    let good = s.patient_token("patient/*.rs");
    let r = s.request(
        "GET",
        &format!("/Patient/example?access_token={good}"),
        Some(&good),
        &[],
        None,
    );
    assert_eq!(r.status, 400);
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_request"));

    // Expired.
    let now = smart_auth::UnixTime::from_secs(chrono::Utc::now().timestamp() - 7200);
    let old = s
        .issuer
        .token(now)
        .scope("patient/*.rs")
        .patient("example")
        .sign();
    assert_eq!(s.get("/Patient/example", &old).status, 401);
}

#[test]
fn reads_inside_and_outside_the_compartment() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    let r = s.get("/Patient/example", &t);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], "example");
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    assert!(r.header("last-modified").is_some());
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'none'"));
    assert_eq!(
        r.header("content-type"),
        Some("application/fhir+json; charset=utf-8")
    );
    assert_eq!(s.get("/Observation/example", &t).status, 200);
    assert_eq!(s.get("/Patient/example/_history/1", &t).status, 200);

    // Another patient's data and data that does not exist answer the same bytes.
    let other = s.get("/Patient/pat-2", &t);
    let missing = s.get("/Patient/no-such-patient", &t);
    let other_obs = s.get("/Observation/pat-2-heart-rate", &t);
    for r in [&other, &missing, &other_obs] {
        assert_eq!(r.status, 404);
        assert_eq!(r.body, missing.body, "byte-identical body");
        assert_eq!(
            r.stable_headers(),
            missing.stable_headers(),
            "identical headers"
        );
        assert!(r.header("etag").is_none() && r.header("last-modified").is_none());
        assert!(r.header("www-authenticate").is_none());
    }
    assert_eq!(s.get("/Patient/pat-2/_history/1", &t).body, missing.body);
    assert_eq!(s.get("/Patient/pat-2/$everything", &t).body, missing.body);
}

#[test]
fn ungranted_types_are_forbidden_not_empty() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/Observation.rs");
    let r = s.get("/Condition", &t);
    assert_eq!(r.status, 403);
    let c = r.header("www-authenticate").unwrap();
    assert!(c.contains("insufficient_scope"), "{c}");
    assert_eq!(r.json()["issue"][0]["code"], "forbidden");
    assert_eq!(s.get("/Observation", &t).status, 200);
}

#[test]
fn searches_are_narrowed_to_the_patient() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    let r = s.get("/Observation", &t);
    assert_eq!(r.status, 200, "{}", r.text());
    let ids = r.entry_ids();
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|i| !i.contains("pat-2")), "{ids:?}");
    assert_eq!(r.json()["total"].as_u64().unwrap() as usize, ids.len());

    // Naming another patient is refused whether or not it exists.
    assert_eq!(s.get("/Observation?patient=pat-2", &t).status, 403);
    assert_eq!(s.get("/Observation?patient=nobody", &t).status, 403);
    assert_eq!(s.get("/Observation?subject=Patient/pat-2", &t).status, 403);
    assert_eq!(s.get("/Patient/pat-2/Observation", &t).status, 403);

    // Naming one's own patient works, as does the compartment search.
    let own = s.get("/Observation?patient=example", &t);
    assert_eq!(own.status, 200);
    assert_eq!(own.entry_ids(), ids);
    assert_eq!(s.get("/Patient/example/Observation", &t).entry_ids(), ids);

    // _summary=count counts only what the token may see.
    let count = s.get("/Observation?_summary=count", &t).json();
    assert_eq!(count["total"].as_u64().unwrap() as usize, ids.len());
    assert!(count.get("entry").is_none());

    // _id over several ids returns only the authorized ones.
    let r = s.get("/Observation?_id=example,pat-2-heart-rate", &t);
    assert_eq!(r.entry_ids(), vec!["Observation/example".to_string()]);
}

#[test]
fn counts_never_include_what_the_token_may_not_see() {
    // Two resources of pat-2 that only look as if they were in example's compartment: pat-2's
    // record linked to example's (links are not followed), and an Observation whose performer
    // reference declares another type than the one it names.
    let s = Server::start(&[]);
    let admin = s.token("system/*.cruds", None, None);
    let mut linked = s.get("/Patient/pat-2", &admin).json();
    linked["link"] =
        serde_json::json!([{"other": {"reference": "Patient/example"}, "type": "seealso"}]);
    assert_eq!(
        s.send_json("PUT", "/Patient/pat-2", &admin, &linked).status,
        200
    );
    let mistyped = serde_json::json!({"resourceType": "Observation", "status": "final",
        "code": {"text": "x"}, "subject": {"reference": "Patient/pat-2"},
        "performer": [{"reference": "Patient/example", "type": "RelatedPerson"}]});
    assert_eq!(
        s.send_json("POST", "/Observation", &admin, &mistyped)
            .status,
        201
    );

    // Counted, they told example pat-2's gender (and anything else a criterion can bisect).
    let t = s.patient_token("patient/*.rs");
    for (search, seen) in [
        ("/Patient", vec!["Patient/example".to_owned()]),
        ("/Patient?gender=female", Vec::new()),
        (
            "/Observation?status=final",
            s.get("/Observation", &t).entry_ids(),
        ),
    ] {
        let count = s.get(
            &format!(
                "{search}{}_summary=count",
                if search.contains('?') { "&" } else { "?" }
            ),
            &t,
        );
        assert_eq!(
            count.json()["total"],
            seen.len(),
            "{search}: {}",
            count.text()
        );
        let r = s.get(search, &t);
        assert_eq!(r.entry_ids(), seen, "{search}");
        assert_eq!(r.json()["total"], seen.len(), "{search}: {}", r.text());
    }
}

#[test]
fn search_parameters_paging_and_includes() {
    let s = Server::start(&[]);
    let t = s.token("user/*.rs", None, Some("Practitioner/example"));
    let system = s.token("system/*.rs", None, None);
    // Whichever of user/ or system/ the default policy grants a broad reader, use it.
    let t = if s.get("/Observation", &t).status == 200 {
        t
    } else {
        system
    };
    let all = s.get("/Observation", &t);
    assert_eq!(all.status, 200, "{}", all.text());
    let r = s.get("/Observation?code=http://loinc.org|8867-4", &t);
    assert_eq!(
        r.entry_ids(),
        vec!["Observation/pat-2-heart-rate".to_string()]
    );
    let r = s.get("/Observation?category=laboratory", &t);
    assert_eq!(r.entry_ids(), vec!["Observation/pat-2-glucose".to_string()]);
    let r = s.get(
        "/Observation?date=ge2024-01-01&status=final&patient=pat-2",
        &t,
    );
    assert_eq!(r.json()["total"], 3);
    let r = s.get(
        "/Patient?identifier=urn:oid:1.2.36.146.595.217.0.1|12345",
        &t,
    );
    assert_eq!(r.entry_ids(), vec!["Patient/example".to_string()]);
    let r = s.get("/Patient?family=sha", &t);
    assert_eq!(r.entry_ids(), vec!["Patient/pat-2".to_string()]);
    assert_eq!(
        s.get("/Observation?_lastUpdated=gt2000-01-01", &t).json()["total"],
        all.json()["total"]
    );

    // Paging: links built from the configured base, continuing where the page ended.
    let page = s.get("/Observation?patient=pat-2&_count=2", &t).json();
    assert_eq!(page["entry"].as_array().unwrap().len(), 2);
    let next = page["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .expect("next link")["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(next.starts_with(&s.base), "{next}");
    let next_path = next.strip_prefix(&s.base).unwrap();
    let page2 = s.get(next_path, &t).json();
    assert_eq!(page2["entry"].as_array().unwrap().len(), 1);

    // _include and _revinclude.
    let r = s.get(
        "/Observation?_id=pat-2-heart-rate&_include=Observation:subject",
        &t,
    );
    let ids = r.entry_ids();
    assert!(ids.contains(&"Patient/pat-2".to_string()), "{ids:?}");
    let r = s.get("/Patient?_id=pat-2&_revinclude=Observation:subject", &t);
    assert_eq!(r.entry_ids().len(), 4, "{:?}", r.entry_ids());

    // Unknown parameters are refused, not ignored.
    assert_eq!(s.get("/Observation?frobnicate=1", &t).status, 400);
}

#[test]
fn system_history_counts_and_pages_only_what_the_token_may_see() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    let all = s.get("/_history?_count=200", &t);
    assert_eq!(all.status, 200, "{}", all.text());
    let visible = all.json()["entry"].as_array().map_or(0, Vec::len);
    assert!(visible > 0, "{}", all.text());
    assert!(!all.text().contains("pat-2"), "{}", all.text());
    // The total counts the caller's versions only, never every patient's, and the next
    // links reach them all (a page filtered after the query had neither).
    assert_eq!(
        all.json()["total"],
        visible,
        "the total of a filtered history"
    );
    let (mut seen, mut path) = (0, "/_history?_count=3".to_owned());
    loop {
        let page = s.get(&path, &t).json();
        assert_eq!(page["total"], visible, "{path}");
        seen += page["entry"].as_array().map_or(0, Vec::len);
        let next = page["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_owned());
        match next {
            Some(url) => path = url.strip_prefix(&s.base).unwrap().to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, visible);
}

#[test]
fn everything_and_includes_stay_inside_the_grant() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/Patient.rs patient/Observation.rs");
    let r = s.get("/Patient/example/$everything", &t);
    assert_eq!(r.status, 200, "{}", r.text());
    let ids = r.entry_ids();
    assert!(ids.contains(&"Patient/example".to_string()));
    assert!(
        ids.iter()
            .all(|i| i.starts_with("Patient/") || i.starts_with("Observation/")),
        "{ids:?}"
    );
    assert!(ids.iter().all(|i| !i.contains("pat-2")));
    // An include of a type the token may not read is never returned.
    let r = s.get("/Observation?_include=Observation:encounter", &t);
    if r.status == 200 {
        assert!(r.entry_ids().iter().all(|i| !i.starts_with("Encounter/")));
    } else {
        assert_eq!(r.status, 403);
    }
}

/// `$everything` lists the record: only types granted `s` (smart.md §12.10). A type granted
/// `r` alone is read by id, never enumerated; the patient is the read that authorised it.
#[test]
fn everything_lists_only_types_granted_search() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/Patient.r patient/Observation.r patient/Condition.rs");
    let r = s.get("/Patient/example/$everything", &t);
    assert_eq!(r.status, 200, "{}", r.text());
    let ids = r.entry_ids();
    assert!(ids.contains(&"Patient/example".to_string()), "{ids:?}");
    assert!(ids.iter().any(|i| i.starts_with("Condition/")), "{ids:?}");
    assert!(
        ids.iter()
            .all(|i| i.starts_with("Patient/") || i.starts_with("Condition/")),
        "{ids:?}"
    );
}

#[test]
fn limits_and_media_types() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.cruds");
    // A declared length over the limit is refused before the body is read.
    let r = s.request(
        "POST",
        "/Observation",
        Some(&t),
        &[
            ("Content-Type", "application/fhir+json"),
            ("Content-Length", "5242881"),
        ],
        None,
    );
    assert_eq!(r.status, 413);
    let r = s.request(
        "POST",
        "/Observation",
        Some(&t),
        &[("Content-Type", "application/xml")],
        Some(b"<x/>"),
    );
    assert_eq!(r.status, 415);
    // `curl -d` sends application/x-www-form-urlencoded unless told otherwise: the answer says
    // which type to send (a fixed text, nothing of the request echoed).
    let observation = br#"{"resourceType":"Observation","status":"final","code":{"text":"x"}}"#;
    for (method, path, sent) in [
        ("POST", "/Observation", "application/x-www-form-urlencoded"),
        ("POST", "/Observation", "application/xml"),
        ("PATCH", "/Observation/example", "application/fhir+json"),
    ] {
        let r = s.request(
            method,
            path,
            Some(&t),
            &[("Content-Type", sent)],
            Some(observation),
        );
        assert_eq!(r.status, 415, "{method} {sent}");
        let outcome = r.json();
        let text = outcome["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(text.contains("application/fhir+json"), "{text}");
        assert!(text.contains("application/json-patch+json"), "{text}");
        assert!(!r.text().contains("urlencoded") && !r.text().contains("xml"));
    }
    let deep = "[".repeat(100) + &"]".repeat(100);
    let r = s.request(
        "POST",
        "/Observation",
        Some(&t),
        &[("Content-Type", "application/fhir+json")],
        Some(deep.as_bytes()),
    );
    assert_eq!(r.status, 400);
    let long = format!("/Observation?code={}", "x".repeat(10_000));
    assert_eq!(s.get(&long, &t).status, 414);
    assert_eq!(s.get("/NotAType/1", &t).status, 404);
}

#[test]
fn cors_only_for_registered_origins() {
    let s = Server::start(&["--cors-origin", "https://app.example"]);
    let t = s.patient_token("patient/*.rs");
    let ok = s.request(
        "GET",
        "/Patient/example",
        Some(&t),
        &[("Origin", "https://app.example")],
        None,
    );
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(ok.header("access-control-allow-credentials").is_none());
    let evil = s.request(
        "GET",
        "/Patient/example",
        Some(&t),
        &[("Origin", "https://evil.example")],
        None,
    );
    assert!(evil.header("access-control-allow-origin").is_none());
    let pre = s.request(
        "OPTIONS",
        "/Patient/example",
        None,
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
        None,
    );
    assert_eq!(pre.status, 204);
    assert!(pre
        .header("access-control-allow-headers")
        .unwrap()
        .contains("Authorization"));
    let pre = s.request(
        "OPTIONS",
        "/Patient/example",
        None,
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "GET"),
        ],
        None,
    );
    assert!(pre.header("access-control-allow-origin").is_none());
}

#[test]
fn cors_answers_carry_one_vary_naming_each_field_once() {
    let s = Server::start(&["--cors-origin", "https://app.example"]);
    let t = s.patient_token("patient/*.rs");
    let origin = [("Origin", "https://app.example")];
    let preflight = [
        ("Origin", "https://app.example"),
        ("Access-Control-Request-Method", "GET"),
    ];
    let answers = [
        (
            "read",
            s.request("GET", "/Patient/example", Some(&t), &origin, None),
        ),
        (
            "401",
            s.request("GET", "/Patient/example", None, &origin, None),
        ),
        (
            "preflight",
            s.request("OPTIONS", "/Patient/example", None, &preflight, None),
        ),
    ];
    for (what, r) in answers {
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("https://app.example"),
            "{what}"
        );
        let vary: Vec<&str> = r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("vary"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(vary.len(), 1, "{what}: {vary:?}");
        let mut names: Vec<String> = vary[0]
            .split(',')
            .map(|n| n.trim().to_ascii_lowercase())
            .collect();
        assert!(names.contains(&"origin".to_owned()), "{what}: {vary:?}");
        if what != "preflight" {
            assert!(
                names.contains(&"authorization".to_owned()),
                "{what}: {vary:?}"
            );
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), vary[0].split(',').count(), "{what}: {vary:?}");
    }
}

#[test]
fn answers_no_handler_made_carry_the_security_headers() {
    let secure = |what: &str, r: &server_support::Response| {
        for h in [
            "x-content-type-options",
            "strict-transport-security",
            "content-security-policy",
            "referrer-policy",
        ] {
            assert!(r.header(h).is_some(), "{what}: no {h}: {:?}", r.headers);
        }
    };
    let s = Server::start(&[]);
    let r = server_support::raw_request(&s.addr, "GET", "/nothing", &[], None);
    assert_eq!(r.status, 404);
    secure("unknown path", &r);

    // The development authorization server's routes.
    let (mut child, addr) = server_support::spawn(&["--listen".into(), "127.0.0.1:0".into()]);
    let r = server_support::raw_request(&addr, "GET", "/auth/token", &[], None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST,OPTIONS"), "RFC 9110 §15.5.6");
    secure("wrong method", &r);
    let preflight = [
        ("Origin".to_owned(), "http://127.0.0.1:9000".to_owned()),
        (
            "Access-Control-Request-Method".to_owned(),
            "POST".to_owned(),
        ),
    ];
    let r = server_support::raw_request(&addr, "OPTIONS", "/auth/token", &preflight, None);
    assert_eq!(r.status, 204);
    secure("token preflight", &r);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn without_issuer_the_dev_authorization_server_runs_with_demo_data() {
    let (mut child, addr) = server_support::spawn(&["--listen".into(), "127.0.0.1:0".into()]);
    let get = |path: &str| server_support::raw_request(&addr, "GET", path, &[], None);
    let conf = get("/fhir/.well-known/smart-configuration");
    assert_eq!(conf.status, 200);
    let conf = conf.json();
    assert_eq!(conf["issuer"], format!("http://{addr}/auth"));
    assert_eq!(get("/auth/.well-known/smart-configuration").status, 200);
    assert_eq!(get("/fhir/Patient/example").status, 401);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn head_answers_with_the_length_get_would_send_and_no_body() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    let get = s.get("/Patient/example", &t);
    assert_eq!(get.status, 200);
    let head = s.request("HEAD", "/Patient/example", Some(&t), &[], None);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    // RFC 9110 §8.6: a HEAD answer's Content-Length is what GET would send.
    assert_eq!(
        head.header("content-length"),
        Some(get.body.len().to_string().as_str())
    );
    assert_eq!(head.header("etag"), get.header("etag"));
}

#[test]
fn preflights_are_held_to_the_limits_and_leave_no_audit_record() {
    let s = Server::start(&["--cors-origin", "https://app.example"]);
    let preflight = [
        ("Origin", "https://app.example"),
        ("Access-Control-Request-Method", "GET"),
    ];
    let auditor = s.patient_token("patient/AuditEvent.rs");
    let audited = || {
        let r = s.get("/AuditEvent?date=ge2020-01-01", &auditor);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["total"].as_u64().unwrap()
    };
    let before = audited();
    for _ in 0..3 {
        let r = s.request("OPTIONS", "/Patient/example", None, &preflight, None);
        assert_eq!(r.status, 204);
    }
    // Only the first search's own record is new.
    assert_eq!(audited(), before + 1);
    let long = format!("/Observation?code={}", "x".repeat(10_000));
    let r = s.request("OPTIONS", &long, None, &preflight, None);
    assert_eq!(r.status, 414);
}

/// What docs/authz-dev-server.md tells clinicians: `user/` scopes reach a Patient user's own
/// compartment and nothing for a Practitioner (smart-auth's default user policy), so a
/// clinician reads through `patient/` scopes and a picked patient.
#[test]
fn user_scopes_reach_a_patient_users_record_and_nothing_for_a_practitioner() {
    let s = Server::start(&[]);
    let clinician = s.token("user/*.rs", None, Some("Practitioner/example"));
    for path in ["/Patient/example", "/Observation?patient=example"] {
        let r = s.get(path, &clinician);
        assert_eq!(r.status, 403, "{path}: {}", r.text());
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(challenge.contains("insufficient_scope"), "{challenge}");
    }
    let patient = s.token("user/*.rs", None, Some("Patient/example"));
    assert_eq!(s.get("/Patient/example", &patient).status, 200);
    assert_eq!(s.get("/Patient/pat-2", &patient).status, 404);
    let picked = s.token("patient/*.rs", Some("pat-2"), Some("Practitioner/example"));
    assert_eq!(s.get("/Patient/pat-2", &picked).status, 200);
}

#[test]
fn a_client_asking_for_another_format_than_json_gets_406_not_json() {
    let s = Server::start(&[]);
    let t = s.patient_token("patient/*.rs");
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for (path, accept, status) in [
        ("/Patient/example", None, 200),
        ("/Patient/example", Some("application/fhir+json"), 200),
        (
            "/Patient/example",
            Some("application/json; charset=utf-8"),
            200,
        ),
        ("/Patient/example", Some(browser), 200),
        ("/Patient/example?_format=json", None, 200),
        ("/Patient/example?_format=application/fhir+json", None, 200),
        ("/Observation?_format=application/fhir%2Bjson", None, 200),
        ("/Patient/example", Some("application/fhir+xml"), 406),
        ("/Patient/example?_format=xml", None, 406),
        ("/Observation?_format=application/fhir%2Bxml", None, 406),
        ("/Patient/example?_format=json", Some("text/turtle"), 406),
    ] {
        let headers: Vec<(&str, &str)> = accept.iter().map(|a| ("Accept", *a)).collect();
        let r = s.request("GET", path, Some(&t), &headers, None);
        assert_eq!(r.status, status, "{path} {accept:?}: {}", r.text());
        if status == 406 {
            assert_eq!(r.json()["resourceType"], "OperationOutcome");
            assert!(!r.text().contains("Chalmers"), "{}", r.text());
        }
    }
    // Credentials come first: no token is still 401.
    let r = s.request(
        "GET",
        "/Patient/example",
        None,
        &[("Accept", "application/fhir+xml")],
        None,
    );
    assert_eq!(r.status, 401);
}

/// `metadata` answers formats as the rest of the API does; the SMART configuration is JSON
/// whatever the `Accept` (SMART App Launch: "SHALL be JSON regardless of Accept").
#[test]
fn metadata_gets_406_for_other_formats_and_the_smart_configuration_is_always_json() {
    let s = Server::start(&[]);
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let json_takers = [
        None,
        Some("*/*"),
        Some(browser),
        Some("application/json"),
        Some("application/fhir+json"),
    ];
    let others = [Some("application/fhir+xml"), Some("text/turtle")];
    let origin = ("Origin", "https://anywhere.example");
    for (accept, json) in json_takers
        .iter()
        .map(|a| (*a, true))
        .chain(others.iter().map(|a| (*a, false)))
    {
        let mut headers = vec![origin];
        headers.extend(accept.map(|a| ("Accept", a)));
        let r = s.request("GET", "/metadata", None, &headers, None);
        let body = r.json();
        if json {
            assert_eq!(r.status, 200, "{accept:?}");
            assert_eq!(body["resourceType"], "CapabilityStatement");
        } else {
            assert_eq!(r.status, 406, "{accept:?}");
            assert_eq!(body["resourceType"], "OperationOutcome");
        }
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        let r = s.request(
            "GET",
            "/.well-known/smart-configuration",
            None,
            &headers,
            None,
        );
        assert_eq!(r.status, 200, "{accept:?}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.json()["token_endpoint"].is_string());
    }
    for path in [
        "/metadata?_format=xml",
        "/metadata?_format=application/fhir%2Bxml",
    ] {
        assert_eq!(
            s.request("GET", path, None, &[], None).status,
            406,
            "{path}"
        );
    }
    let r = s.request("GET", "/metadata?_format=json", None, &[], None);
    assert_eq!(r.status, 200);
}

/// `$everything` answers at most 5,000 resources; when the caller may read more, it says the
/// answer is partial (a warning OperationOutcome entry, no `Bundle.total`) instead of passing
/// the first 5,000 off as the whole record.
#[test]
fn everything_past_its_cap_says_it_is_partial() {
    let s = Server::start(&[]);
    let admin = s.token("system/*.cruds", None, None);
    let t = s.patient_token("patient/Patient.rs patient/Observation.rs");
    let entry = serde_json::json!({
        "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                     "subject": {"reference": "Patient/example"}},
        "request": {"method": "POST", "url": "Observation"}
    });
    let bundle = serde_json::json!({"resourceType": "Bundle", "type": "transaction",
                                    "entry": vec![entry; 1000]});
    let complete = s.get("/Patient/example/$everything?_count=1", &t).json();
    assert!(complete["total"].is_u64(), "{complete}");
    assert!(!complete.to_string().contains("\"outcome\""), "{complete}");
    for _ in 0..5 {
        let r = s.send_json("POST", "", &admin, &bundle);
        assert_eq!(r.status, 200, "{}", r.status);
    }
    let page = s.get("/Patient/example/$everything?_count=10", &t).json();
    assert!(page.get("total").is_none(), "{}", page["total"]);
    let entries = page["entry"].as_array().unwrap();
    let outcome = entries
        .iter()
        .find(|e| e["search"]["mode"] == "outcome")
        .expect("a warning that the answer is partial");
    assert_eq!(outcome["resource"]["resourceType"], "OperationOutcome");
    assert_eq!(outcome["resource"]["issue"][0]["severity"], "warning");
    let next = page["link"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["relation"] == "next");
    assert!(next, "{}", page["link"]);
}
