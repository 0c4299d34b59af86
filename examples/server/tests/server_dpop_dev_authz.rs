//! The whole DPoP flow against the real binary with its development authorization server:
//! a standalone launch (sign-in, consent, PKCE) over HTTP, the code exchanged with a DPoP proof
//! for a DPoP-bound token, and that token used at the FHIR API only with proofs by its key.

mod dev_authz_support;
mod server_support;

use dev_authz_support::{form, DevServer, PUBLIC_APP as CLIENT, PUBLIC_REDIRECT as REDIRECT};
use smart_auth::jose::Algorithm;
use smart_auth::testing::TestKey;
use smart_auth::UnixTime;

fn now() -> UnixTime {
    UnixTime::from_secs(chrono::Utc::now().timestamp())
}

#[test]
fn standalone_launch_with_dpop_against_the_real_binary() {
    let s = DevServer::start();
    let key = TestKey::new(Algorithm::ES256);
    let verifier = "dpop-flow-verifier-0123456789-0123456789-0123456789";
    let code = s.code("launch/patient patient/*.rs", verifier);

    let token_url = format!("http://{}/auth/token", s.addr);
    let proof = key.dpop_proof("POST", &token_url, None, None, now(), "token-proof-1");
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("client_id", CLIENT),
        ("code_verifier", verifier),
    ]);
    let r = s.send(
        "POST",
        "/auth/token",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("DPoP", &proof),
        ],
        Some(&body),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let tokens = r.json();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    let url = format!("http://{}/fhir/Patient/example", s.addr);
    let auth = format!("DPoP {access}");
    let read = |proof: &str| {
        s.send(
            "GET",
            "/fhir/Patient/example",
            &[("Authorization", &auth), ("DPoP", proof)],
            None,
        )
    };
    let r = read(&key.dpop_proof("GET", &url, Some(&access), None, now(), "read-1"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], "example");
    // Not without its key, not as a bearer token.
    let thief = TestKey::alternate(Algorithm::ES256);
    let r = read(&thief.dpop_proof("GET", &url, Some(&access), None, now(), "read-2"));
    assert_eq!(r.status, 401, "{}", r.text());
    let r = s.send(
        "GET",
        "/fhir/Patient/example",
        &[("Authorization", &format!("Bearer {access}"))],
        None,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    // Another patient's record answers as a missing one.
    let other = format!("http://{}/fhir/Patient/pat-2", s.addr);
    let missing = format!("http://{}/fhir/Patient/nobody", s.addr);
    let a = s.send(
        "GET",
        "/fhir/Patient/pat-2",
        &[
            ("Authorization", &auth),
            (
                "DPoP",
                &key.dpop_proof("GET", &other, Some(&access), None, now(), "read-3"),
            ),
        ],
        None,
    );
    let b = s.send(
        "GET",
        "/fhir/Patient/nobody",
        &[
            ("Authorization", &auth),
            (
                "DPoP",
                &key.dpop_proof("GET", &missing, Some(&access), None, now(), "read-4"),
            ),
        ],
        None,
    );
    assert_eq!((a.status, &a.body), (404, &b.body));
}
