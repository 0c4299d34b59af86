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
    let r = s.send("GET", "/auth/logout", &[("Cookie", &cookie)], None);
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
