//! The FHIR server follows the in-process development authorization server's signing keys: a
//! token signed with a key rotated in after start is accepted without a restart, and a token
//! signed with a key the authorization server never published still is not.

mod authz_support;

use std::sync::Arc;

use authz_support::{jwt_header, now, TestServer, FHIR, ISSUER};
use secure_fhir::SecureFhir;
use secure_fhir_server::audit_trail::AuditTrail;
use secure_fhir_server::followed_keys::FollowedKeys;
use secure_fhir_server::security::Gate;
use secure_fhir_server::store::Store;
use smart_auth::decision::DecisionPolicy;
use smart_auth::{TokenError, UnixTime, Validator};

fn followed(server: &TestServer) -> FollowedKeys {
    let state = server.state.clone();
    FollowedKeys::new(ISSUER, move || {
        serde_json::to_vec(&state.jwks()).expect("JWKS serializes")
    })
}

async fn access_token(server: &TestServer) -> String {
    let (code, verifier) = server.code_for("patient/*.rs").await;
    server.exchange(&code, &verifier).await.json()["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

#[tokio::test]
async fn the_key_cache_asks_for_the_set_again_after_a_rotation() {
    let server = TestServer::new();
    let keys = followed(&server);
    let validator = Validator::new([keys.issuer_config(FHIR)])
        .unwrap()
        .with_cache(64, smart_auth::time::CacheTtl::DEFAULT);
    let t = UnixTime::from_secs(now());
    assert!(keys.refresh(&validator, t), "the first set is installed");
    assert!(
        !keys.refresh(&validator, t),
        "and not fetched again while fresh"
    );
    let old = access_token(&server).await;
    validator
        .validate_cached(&old, t)
        .expect("a token of the first key");

    let new_kid = server.state.rotate_keys().unwrap();
    let fresh = access_token(&server).await;
    assert_eq!(jwt_header(&fresh)["kid"], new_kid.as_str());
    assert_eq!(
        validator.validate_cached(&fresh, t).unwrap_err(),
        TokenError::UnknownKey
    );
    assert!(
        keys.refresh(&validator, t),
        "an unknown kid asks for the set"
    );
    validator
        .validate_cached(&fresh, t)
        .expect("the rotated key");
    validator.validate_cached(&old, t).expect("the earlier key");
}

fn parts(token: &str) -> http::request::Parts {
    http::Request::get("/fhir/Patient/example")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts()
        .0
}

#[tokio::test]
async fn the_gate_accepts_a_token_of_a_rotated_key_at_once() {
    let server = TestServer::new();
    let keys = followed(&server);
    let validator = Validator::new([keys.issuer_config(FHIR)])
        .unwrap()
        .with_cache(64, smart_auth::time::CacheTtl::DEFAULT);
    let facade = SecureFhir::new(validator, DecisionPolicy::default(), "/fhir");
    let store = Arc::new(Store::open(None, FHIR).unwrap());
    let trail = Arc::new(AuditTrail::open(None, None, Default::default()).unwrap());
    let gate = Gate::secure(facade, trail, store).follow_keys(keys);
    let authorize = |token: &str| {
        let parts = parts(token);
        // The refusal's status is all these checks need.
        let head = gate.authenticate(&parts).map_err(|r| r.status())?;
        gate.authorize(&parts, b"", head)
            .map(drop)
            .map_err(|r| r.status())
    };

    let before = access_token(&server).await;
    assert!(authorize(&before).is_ok());
    server.state.rotate_keys().unwrap();
    let after = access_token(&server).await;
    assert!(
        authorize(&after).is_ok(),
        "the first request with the new key succeeds"
    );
    assert!(authorize(&before).is_ok());

    // A key the authorization server never published gains nothing from the refresh.
    let forged = {
        let issuer = smart_auth::testing::TestIssuer::new(ISSUER, FHIR);
        issuer
            .token(UnixTime::from_secs(now()))
            .scope("patient/*.rs")
            .patient("example")
            .sign()
    };
    let Err(refused) = authorize(&forged) else {
        panic!("a token of an unpublished key must be refused");
    };
    assert_eq!(refused, http::StatusCode::UNAUTHORIZED);
}
