//! DPoP-bound tokens from the development authorization server (RFC 9449 §5): a token request
//! with a valid `DPoP` proof gets a `DPoP` token carrying `cnf.jkt` of the proof key, a bound
//! refresh token only works with a proof by the same key, and bad proofs are refused.

mod authz_support;

use authz_support::*;
use axum::http::StatusCode;
use smart_auth::dpop::DpopValidator;
use smart_auth::replay::InMemoryReplayStore;
use smart_auth::testing::TestKey;
use smart_auth::{IssuerConfig, UnixTime, Validator};

const SCOPE: &str = "launch/patient offline_access patient/Patient.rs";

fn proof(key: &TestKey, uri: &str, jti: &str) -> String {
    key.dpop_proof("POST", uri, None, None, UnixTime::from_secs(now()), jti)
}

async fn exchange_with(server: &TestServer, proof: Option<&str>) -> Response {
    let (code, verifier) = server.code_for(SCOPE).await;
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", PUBLIC_REDIRECT),
        ("client_id", PUBLIC_APP),
        ("code_verifier", verifier.as_str()),
    ];
    let extra: Vec<(&str, &str)> = proof.iter().map(|p| ("DPoP", *p)).collect();
    server.post_form("/auth/token", &pairs, &extra).await
}

/// An access token bound to `key` (a proof with this `jti`).
async fn bound_access(server: &TestServer, key: &TestKey, jti: &str) -> String {
    let r = exchange_with(server, Some(&proof(key, &format!("{ISSUER}/token"), jti))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["access_token"].as_str().unwrap().to_owned()
}

async fn refresh_with(server: &TestServer, refresh: &str, proof: Option<&str>) -> Response {
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
        ("client_id", PUBLIC_APP),
    ];
    let extra: Vec<(&str, &str)> = proof.iter().map(|p| ("DPoP", *p)).collect();
    server.post_form("/auth/token", &pairs, &extra).await
}

#[tokio::test]
async fn a_proof_at_the_token_endpoint_binds_access_and_refresh_tokens() {
    let server = TestServer::new();
    let key = TestKey::new(smart_auth::jose::Algorithm::ES256);
    let token_url = format!("{ISSUER}/token");
    let r = exchange_with(&server, Some(&proof(&key, &token_url, "p-1"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let jkt = key.public_jwk().thumbprint_b64();
    assert_eq!(jwt_claims(&access)["cnf"]["jkt"], jkt.as_str());

    // The token works with smart-auth's resource-server check only with a proof by the key.
    let jwks = smart_auth::jwks::JwkSet::parse(&serde_json::to_vec(&server.state.jwks()).unwrap())
        .unwrap();
    let validator = Validator::new([IssuerConfig::new(ISSUER, FHIR).jwks(jwks)]).unwrap();
    let replay = InMemoryReplayStore::new(16);
    let read = format!("{FHIR}/Patient/example");
    let now = UnixTime::from_secs(now());
    let good = key.dpop_proof("GET", &read, Some(&access), None, now, "r-1");
    let credential = smart_auth::bearer::Credential::Dpop {
        token: &access,
        proof: &good,
    };
    assert!(DpopValidator::new()
        .validate_request(&validator, credential, "GET", &read, None, &replay, now)
        .is_ok());
    assert!(
        validator.validate(&access, now).is_err(),
        "a DPoP-bound token is no bearer token"
    );

    // The refresh token is bound too: no proof, or another key's proof, is refused without
    // spending it; the right key's proof gets a new bound token.
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let r = refresh_with(&server, &refresh, None).await;
    assert_eq!(r.json()["error"], "invalid_grant", "{}", r.text());
    let other = TestKey::alternate(smart_auth::jose::Algorithm::ES256);
    let r = refresh_with(&server, &refresh, Some(&proof(&other, &token_url, "p-2"))).await;
    assert_eq!(r.json()["error"], "invalid_grant", "{}", r.text());
    let r = refresh_with(&server, &refresh, Some(&proof(&key, &token_url, "p-3"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let access2 = r.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_claims(&access2)["cnf"]["jkt"], jkt.as_str());
}

#[tokio::test]
async fn bad_proofs_are_refused_and_no_proof_means_a_bearer_token() {
    let server = TestServer::new();
    let key = TestKey::new(smart_auth::jose::Algorithm::ES256);
    let token_url = format!("{ISSUER}/token");
    for bad in [
        proof(&key, &format!("{ISSUER}/authorize"), "b-1"),
        key.dpop_proof(
            "GET",
            &token_url,
            None,
            None,
            UnixTime::from_secs(now()),
            "b-2",
        ),
        key.dpop_proof(
            "POST",
            &token_url,
            None,
            None,
            UnixTime::from_secs(now() - 3600),
            "b-3",
        ),
        "not.a.proof".to_owned(),
    ] {
        let r = exchange_with(&server, Some(&bad)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
        assert_eq!(r.json()["error"], "invalid_dpop_proof");
    }
    // A replayed proof is refused.
    let once = proof(&key, &token_url, "once");
    assert_eq!(
        exchange_with(&server, Some(&once)).await.status,
        StatusCode::OK
    );
    let r = exchange_with(&server, Some(&once)).await;
    assert_eq!(r.json()["error"], "invalid_dpop_proof");

    let r = exchange_with(&server, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert!(jwt_claims(body["access_token"].as_str().unwrap())
        .get("cnf")
        .is_none());
}

#[tokio::test]
async fn discovery_lists_the_dpop_algorithms() {
    let server = TestServer::new();
    let r = server
        .get("/auth/.well-known/openid-configuration", None)
        .await;
    let algs = r.json()["dpop_signing_alg_values_supported"].clone();
    assert!(
        algs.as_array()
            .is_some_and(|a| a.iter().any(|v| v == "ES256")),
        "{algs}"
    );
    assert!(!algs
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v.as_str().unwrap().starts_with("HS")));
}

#[tokio::test]
async fn introspection_keeps_the_dpop_binding() {
    // RFC 9449 §6.2 (smart.md §4): the introspection answer for a DPoP-bound token carries
    // `cnf.jkt`, or a resource server relying on introspection takes it for a bearer token and
    // serves whoever replays it without the key.
    let server = TestServer::new();
    let key = TestKey::new(smart_auth::jose::Algorithm::ES256);
    let access = bound_access(&server, &key, "i-1").await;
    let answer = server.state.introspect(&access);
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "DPoP", "{answer}");
    assert_eq!(
        answer["cnf"]["jkt"],
        key.public_jwk().thumbprint_b64().as_str(),
        "{answer}"
    );
    let introspector = smart_auth::introspection::Introspector::new(
        server.state.issuer(),
        server.state.fhir_base(),
    );
    let now = UnixTime::from_secs(now());
    let bytes = answer.to_string();
    assert!(
        introspector.parse_response(bytes.as_bytes(), now).is_err(),
        "a DPoP-bound token is no bearer token, introspected either"
    );
    let bound = introspector
        .parse_constrained_response(bytes.as_bytes(), now)
        .expect("accepted with its proof");
    assert_eq!(
        bound.dpop_jkt(),
        Some(key.public_jwk().thumbprint_b64().as_str())
    );
}

#[tokio::test]
async fn a_dpop_bound_token_is_no_bearer_credential_at_introspection() {
    // RFC 9449 §7.2: a DPoP-bound token presented as Bearer is refused; the introspection
    // endpoint takes an access token as its caller's credential, so a thief without the key
    // could otherwise read what the app's tokens carry.
    let server = TestServer::new();
    let key = TestKey::new(smart_auth::jose::Algorithm::ES256);
    let access = bound_access(&server, &key, "c-1").await;
    let bearer = format!("Bearer {access}");
    let r = server
        .post_form(
            "/auth/introspect",
            &[("token", access.as_str())],
            &[("authorization", bearer.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_client");
}
