//! The real binary with its development authorization server, as a newcomer meets it: the
//! sign-in's audit trail and the requests' name one user alike.

mod dev_authz_support;
mod server_support;

use dev_authz_support::{DevServer, PUBLIC_APP, PUBLIC_REDIRECT};
use serde_json::Value;

const VERIFIER: &str = "dev-authz-verifier-0123456789-0123456789-0123456789";

/// The demo patient's access token for the demo public app, and the session cookie.
fn patient_token(s: &DevServer, scope: &str) -> (String, String) {
    let authorize = s.authorize_target(PUBLIC_APP, PUBLIC_REDIRECT, scope, VERIFIER);
    let landing = s.sign_in_and_consent(&authorize, "patient");
    let code = landing.param("code").expect("a code");
    let r = s.post_form(
        "/auth/token",
        &[],
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", PUBLIC_REDIRECT),
            ("client_id", PUBLIC_APP),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let token = r.json()["access_token"].as_str().unwrap().to_owned();
    (token, landing.cookie)
}

/// The requesting user's agent (`requestor: true`) of the events of subtype `code`.
fn user_agents(events: &[Value], code: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| {
            e["subtype"]
                .as_array()
                .is_some_and(|s| s.iter().any(|c| c["code"] == code))
        })
        .flat_map(|e| e["agent"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["requestor"] == true)
        .map(|a| a["who"].clone())
        .collect()
}

#[test]
fn sign_in_sign_out_token_and_request_events_name_the_user_alike() {
    let s = DevServer::start();
    let (token, cookie) = patient_token(&s, "openid fhirUser launch/patient patient/*.rs");
    let bearer = format!("Bearer {token}");
    let auth = [("Authorization", bearer.as_str())];
    let r = s.send("GET", "/fhir/Patient/example", &auth, None);
    assert_eq!(r.status, 200, "{}", r.text());
    let page = s.send("GET", "/auth/logout", &[("Cookie", &cookie)], None);
    let confirm = dev_authz_support::hidden(&page.text(), "confirm");
    let r = s.post_form(
        "/auth/logout",
        &[("Cookie", &cookie)],
        &[("confirm", &confirm)],
    );
    assert_eq!(r.status, 200, "{}", r.text());

    let r = s.send("GET", "/fhir/AuditEvent?_count=1000", &auth, None);
    assert_eq!(r.status, 200, "{}", r.text());
    let events: Vec<Value> = r.json()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"].clone())
        .collect();
    // BALP (audit.md §2.7): `who.identifier` is the token's `iss` and `sub`; the reference is
    // the `fhirUser` the token carries.
    let expected = serde_json::json!({
        "identifier": {"system": s.issuer(), "value": "patient"},
        "reference": format!("{}/Patient/example", s.fhir()),
    });
    for subtype in ["read", "110122", "ITI-71", "110123"] {
        let agents = user_agents(&events, subtype);
        assert!(!agents.is_empty(), "no {subtype} event: {events:#?}");
        for who in agents {
            assert_eq!(who, expected, "{subtype}");
        }
    }
}

/// Every `http` string under this server's origin in `v`, with where it was found.
fn own_urls(v: &Value, at: &str, origin: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) if s.starts_with(origin) => out.push((at.to_owned(), s.clone())),
        Value::Array(a) => a.iter().for_each(|x| own_urls(x, at, origin, out)),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| own_urls(x, &format!("{at}.{k}"), origin, out)),
        _ => {}
    }
}

#[test]
fn every_url_of_our_own_that_discovery_names_resolves_without_credentials() {
    let s = DevServer::start();
    let origin = format!("http://{}", s.addr);
    let mut urls = Vec::new();
    for doc in ["/fhir/metadata", "/fhir/.well-known/smart-configuration"] {
        let r = s.send("GET", doc, &[], None);
        assert_eq!(r.status, 200, "{doc}");
        own_urls(&r.json(), doc, &origin, &mut urls);
    }
    assert!(urls.len() >= 8, "{urls:#?}");
    for (at, url) in &urls {
        let r = s.send("GET", url, &[("Origin", "https://anywhere.example")], None);
        // An endpoint may refuse a bare GET (400, 405); nothing named may be missing (404) or
        // need a token, except the FHIR base itself, which is the API.
        assert_ne!(r.status, 404, "{at}: {url}");
        if *url != s.fhir() {
            assert_ne!(r.status, 401, "{at}: {url}");
        }
        if at.ends_with(".definition") {
            assert_eq!(r.status, 200, "{at}: {url}: {}", r.text());
            let definition = r.json();
            assert_eq!(definition["resourceType"], "OperationDefinition");
            assert_eq!(definition["url"], url.as_str());
            assert_eq!(r.header("access-control-allow-origin"), Some("*"));
        }
    }
    let definitions = urls.iter().filter(|(at, _)| at.ends_with(".definition"));
    assert_eq!(definitions.count(), 1, "{urls:#?}");
}

/// The banner's steps, followed as printed: the authorization URL (a standalone launch, which
/// SMART requires to carry `aud`; `iss` and `launch` belong to an EHR launch), the redirect it
/// says the browser lands on (RFC 9207 adds `iss` there), the code exchange and the first read.
#[test]
fn the_banners_standalone_launch_works_as_printed() {
    let s = DevServer::start();
    let lines: Vec<&str> = s.banner.iter().map(|l| l.trim()).collect();
    let authorize_prefix = format!("{}/authorize?", s.issuer());
    let authorize = lines
        .iter()
        .find(|l| l.starts_with(&authorize_prefix))
        .unwrap_or_else(|| panic!("no authorization URL in {lines:#?}"));
    let printed = url::Url::parse(authorize).unwrap();
    let sent: Vec<String> = printed.query_pairs().map(|(k, _)| k.into_owned()).collect();
    for required in [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "aud",
        "code_challenge",
        "code_challenge_method",
    ] {
        assert!(
            sent.iter().any(|k| k == required),
            "{required} in {authorize}"
        );
    }

    let landing = s.sign_in_and_consent(authorize, "patient");
    let described = lines
        .iter()
        .find_map(|l| l.split_once("lands on ").map(|(_, rest)| rest))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no landing URL in {lines:#?}"));
    let described = url::Url::parse(described).unwrap();
    let actual = url::Url::parse(&landing.location).unwrap();
    assert_eq!(
        (described.origin(), described.path()),
        (actual.origin(), actual.path())
    );
    let names = |u: &url::Url| {
        let mut n: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        n.sort();
        n
    };
    assert_eq!(names(&described), names(&actual), "{described} vs {actual}");
    for name in ["state", "iss"] {
        assert_eq!(
            landing.param(name),
            described
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned()),
            "{name}"
        );
    }
    assert_eq!(landing.param("iss"), Some(s.issuer()));

    // Step 2's curl, with the code pasted in.
    let exchange = lines
        .iter()
        .position(|l| l.starts_with("curl -s ") && l.contains("/auth/token"))
        .map(|i| format!("{} {}", lines[i], lines[i + 1]))
        .unwrap_or_else(|| panic!("no code exchange in {lines:#?}"));
    let code = landing.param("code").unwrap();
    let words: Vec<&str> = exchange.split_whitespace().collect();
    let pairs: Vec<(&str, &str)> = words
        .windows(2)
        .filter(|w| w[0] == "-d")
        .filter_map(|w| w[1].split_once('='))
        .map(|(k, v)| {
            if k == "code" {
                (k, code.as_str())
            } else {
                (k, v)
            }
        })
        .collect();
    assert_eq!(pairs.len(), 5, "{exchange}");
    let r = s.post_form("/auth/token", &[], &pairs);
    assert_eq!(r.status, 200, "{exchange}: {}", r.text());
    let token = r.json()["access_token"].as_str().unwrap().to_owned();

    // Step 3.
    let read = lines
        .iter()
        .find(|l| l.contains("Bearer ACCESS_TOKEN"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap();
    let bearer = format!("Bearer {token}");
    let r = s.send("GET", read, &[("Authorization", &bearer)], None);
    assert_eq!(r.status, 200, "{read}: {}", r.text());
}

/// The confidential client's flow as docs/authz-dev-server.md describes it, against the binary.
#[test]
fn the_demo_confidential_client_walks_the_documented_flow() {
    use base64::Engine;
    use dev_authz_support::{CONF_APP, CONF_REDIRECT, CONF_SECRET};
    let s = DevServer::start();
    let scope = "launch/patient patient/*.rs offline_access";
    let authorize = s.authorize_target(CONF_APP, CONF_REDIRECT, scope, VERIFIER);
    let code = s
        .sign_in_and_consent(&authorize, "patient")
        .param("code")
        .expect("a code");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CONF_APP}:{CONF_SECRET}"))
    );
    let as_app = [("Authorization", basic.as_str())];
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CONF_REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let r = s.post_form("/auth/token", &[], &exchange);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let r = s.post_form("/auth/token", &as_app, &exchange);
    assert_eq!(r.status, 200, "{}", r.text());
    let tokens = r.json();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(read_patient(&s, &access), 200);

    // One authentication method, and the registered one (client_secret_basic): not both,
    // nor the secret in the form.
    let post = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", CONF_APP),
        ("client_secret", CONF_SECRET),
    ];
    let r = s.post_form("/auth/token", &as_app, &post);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let r = s.post_form("/auth/token", &[], &post);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let r = s.post_form("/auth/token", &as_app, &post[..2]);
    assert_eq!(r.status, 200, "{}", r.text());
    let rotated = r.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rotated, refresh);

    let r = s.post_form("/auth/introspect", &as_app, &[("token", &access)]);
    assert_eq!(r.json()["active"], true, "{}", r.text());
    let r = s.post_form("/auth/revoke", &as_app, &[("token", &rotated)]);
    assert_eq!(r.status, 200, "{}", r.text());
    let again = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rotated.as_str()),
    ];
    let r = s.post_form("/auth/token", &as_app, &again);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Revoking the refresh token ends the grant, its access tokens included (RFC 7009 §2.1).
    let r = s.post_form("/auth/introspect", &as_app, &[("token", &access)]);
    assert_eq!(r.text(), r#"{"active":false}"#);
    assert_eq!(read_patient(&s, &access), 401);
}

/// The status of `GET Patient/example` with `token`.
fn read_patient(s: &DevServer, token: &str) -> u16 {
    let bearer = format!("Bearer {token}");
    s.send(
        "GET",
        "/fhir/Patient/example",
        &[("Authorization", &bearer)],
        None,
    )
    .status
}
