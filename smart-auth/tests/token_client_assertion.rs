//! Backend Services client assertions (RFC 7523, SMART client-confidential-asymmetric).

use serde_json::{json, Value};
use smart_auth::client_assertion::{ClientAssertionValidator, RegisteredClient, JWT_BEARER};
use smart_auth::jose::Algorithm;
use smart_auth::jwks::{JwkSet, KeyCachePolicy};
use smart_auth::replay::InMemoryReplayStore;
use smart_auth::testing::TestKey;
use smart_auth::{TokenError, UnixTime};

const ENDPOINT: &str = "https://as.example.org/token";
const NOW: UnixTime = UnixTime::from_secs(1_760_000_000);

fn claims(jti: &str) -> Value {
    json!({"iss": "app-1", "sub": "app-1", "aud": ENDPOINT, "exp": NOW.as_secs() + 240, "jti": jti})
}

fn validator(key: &TestKey) -> ClientAssertionValidator {
    ClientAssertionValidator::new(ENDPOINT)
        .register(RegisteredClient::new("app-1").jwks(JwkSet::from_keys([key.public_jwk()])))
}

#[test]
fn smart_required_algorithms_accepted() {
    for alg in [
        Algorithm::RS384,
        Algorithm::ES384,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::PS256,
        Algorithm::EdDSA,
    ] {
        let key = TestKey::new(alg);
        let store = InMemoryReplayStore::new(100);
        let a = key.sign_json(Some("JWT"), &claims("j"));
        let c = validator(&key)
            .validate(&a, &store, NOW)
            .unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        assert_eq!(
            (c.client_id.as_str(), c.algorithm, c.jti.as_str()),
            ("app-1", alg, "j")
        );
    }
}

#[test]
fn claim_rules() {
    let key = TestKey::new(Algorithm::ES384);
    let v = validator(&key);
    let store = InMemoryReplayStore::new(100);
    let n = NOW.as_secs();
    let cases: Vec<(Value, TokenError)> = vec![
        (
            json!({"iss": "app-1", "sub": "app-2", "aud": ENDPOINT, "exp": n + 60, "jti": "1"}),
            TokenError::InvalidClaim("sub"),
        ),
        (
            json!({"iss": "app-1", "aud": ENDPOINT, "exp": n + 60, "jti": "2"}),
            TokenError::MissingClaim("sub"),
        ),
        (
            json!({"iss": "app-1", "sub": "app-1", "aud": "https://as.example.org/token/", "exp": n + 60, "jti": "3"}),
            TokenError::WrongAudience,
        ),
        (
            json!({"iss": "app-1", "sub": "app-1", "aud": [ENDPOINT, "x"], "exp": n + 60, "jti": "3b"}),
            TokenError::InvalidClaim(""),
        ),
        (
            json!({"iss": "app-1", "sub": "app-1", "aud": ENDPOINT, "jti": "4"}),
            TokenError::MissingClaim("exp"),
        ),
        (
            json!({"iss": "app-1", "sub": "app-1", "aud": ENDPOINT, "exp": n - 31, "jti": "5"}),
            TokenError::Expired,
        ),
        (
            json!({"iss": "app-1", "sub": "app-1", "aud": ENDPOINT, "exp": n + 331, "jti": "6"}),
            TokenError::LifetimeTooLong,
        ),
        (
            json!({"iss": "app-1", "sub": "app-1", "aud": ENDPOINT, "exp": n + 60}),
            TokenError::MissingClaim("jti"),
        ),
        (
            json!({"iss": "app-1", "sub": "app-1", "aud": ENDPOINT, "exp": "soon", "jti": "7"}),
            TokenError::InvalidClaim("exp"),
        ),
        (
            json!({"iss": "app-9", "sub": "app-9", "aud": ENDPOINT, "exp": n + 60, "jti": "8"}),
            TokenError::UnknownClient,
        ),
    ];
    for (c, want) in cases {
        let got = v.validate(&key.sign_json(Some("JWT"), &c), &store, NOW);
        if want == TokenError::InvalidClaim("") {
            assert!(
                got.is_ok(),
                "aud array containing the endpoint is fine: {c}"
            );
        } else {
            assert_eq!(got, Err(want), "{c}");
        }
    }
}

#[test]
fn header_rules() {
    let key = TestKey::new(Algorithm::RS384);
    let v = validator(&key);
    let store = InMemoryReplayStore::new(100);
    let body = claims("h").to_string();
    let sign = |h: Value| key.sign_raw(h.to_string().as_bytes(), body.as_bytes());
    let kid = key.kid().unwrap();
    assert_eq!(
        v.validate(&sign(json!({"alg": "RS384", "typ": "JWT"})), &store, NOW),
        Err(TokenError::MissingClaim("kid"))
    );
    assert_eq!(
        v.validate(
            &sign(json!({"alg": "RS384", "kid": kid, "typ": "at+jwt"})),
            &store,
            NOW
        ),
        Err(TokenError::WrongType)
    );
    assert_eq!(
        v.validate(
            &sign(json!({"alg": "RS384", "kid": kid, "jwk": key.public_jwk_json()})),
            &store,
            NOW
        ),
        Err(TokenError::HeaderKey)
    );
    assert_eq!(
        v.validate(
            &sign(json!({"alg": "RS384", "kid": kid, "typ": "JWT", "jku": "https://evil/jwks"})),
            &store,
            NOW
        ),
        Err(TokenError::HeaderKey)
    );
    assert_eq!(
        v.validate(
            &sign(json!({"alg": "RS384", "kid": "other", "typ": "JWT"})),
            &store,
            NOW
        ),
        Err(TokenError::UnknownKey)
    );
    assert_eq!(
        v.validate(&sign(json!({"alg": "none", "kid": kid})), &store, NOW),
        Err(TokenError::AlgNone)
    );
}

/// SMART-asym fixes the authentication JWT's `typ` to `JWT`: a header without it is refused;
/// the value is compared case-insensitively, `application/` optional (RFC 7515 §4.1.9).
#[test]
fn typ_required_and_compared_as_a_media_type() {
    let key = TestKey::new(Algorithm::RS384);
    let v = validator(&key);
    let store = InMemoryReplayStore::new(100);
    let kid = key.kid().unwrap();
    let sign = |typ: Option<&str>, jti: &str| {
        let mut h = json!({"alg": "RS384", "kid": kid});
        if let Some(t) = typ {
            h["typ"] = t.into();
        }
        key.sign_raw(h.to_string().as_bytes(), claims(jti).to_string().as_bytes())
    };
    let refused = v.validate(&sign(None, "absent"), &store, NOW).unwrap_err();
    assert_eq!(refused, TokenError::WrongType);
    assert_eq!(refused.reason(), "wrong_type");
    for (i, typ) in ["JWT", "jwt", "Jwt", "application/jwt", "APPLICATION/JWT"]
        .into_iter()
        .enumerate()
    {
        let got = v.validate(&sign(Some(typ), &format!("ok-{i}")), &store, NOW);
        assert!(got.is_ok(), "{typ}: {got:?}");
    }
    for (i, typ) in ["", "at+jwt", "dpop+jwt", "JWT; x=1", "text/jwt", "JWS"]
        .into_iter()
        .enumerate()
    {
        let got = v.validate(&sign(Some(typ), &format!("bad-{i}")), &store, NOW);
        assert_eq!(got, Err(TokenError::WrongType), "{typ:?}");
    }
}

#[test]
fn jku_must_equal_registered_url() {
    let key = TestKey::new(Algorithm::ES384);
    let url = "https://app.example/jwks.json";
    let v = ClientAssertionValidator::new(ENDPOINT)
        .register(RegisteredClient::new("app-1").jwks_url(url, KeyCachePolicy::default()));
    let cache = v.client("app-1").unwrap().keys();
    let ticket = cache.begin_refresh(NOW).unwrap();
    cache
        .complete_refresh(
            ticket,
            json!({"keys": [key.public_jwk_json()]})
                .to_string()
                .as_bytes(),
            Some("max-age=300"),
            NOW,
        )
        .unwrap();
    let store = InMemoryReplayStore::new(100);
    let body = claims("k").to_string();
    let h = json!({"alg": "ES384", "kid": key.kid().unwrap(), "jku": url, "typ": "JWT"});
    assert!(v
        .validate(
            &key.sign_raw(h.to_string().as_bytes(), body.as_bytes()),
            &store,
            NOW
        )
        .is_ok());
}

#[test]
fn replay_per_client() {
    let key = TestKey::new(Algorithm::ES384);
    let v = validator(&key);
    let store = InMemoryReplayStore::new(100);
    let a = key.sign_json(Some("JWT"), &claims("once"));
    assert!(v.validate(&a, &store, NOW).is_ok());
    assert_eq!(v.validate(&a, &store, NOW), Err(TokenError::Replayed));
    // A new assertion reusing the jti is a replay too.
    let b = key.sign_json(Some("JWT"), &json!({"iss": "app-1", "sub": "app-1", "aud": ENDPOINT, "exp": NOW.as_secs() + 200, "jti": "once"}));
    assert_eq!(v.validate(&b, &store, NOW), Err(TokenError::Replayed));
}

/// One registered client cannot fill the replay store with fresh assertions and lock the
/// others out: past its share its own assertions are refused.
#[test]
fn one_client_cannot_fill_the_replay_store() {
    let (key, other) = (
        TestKey::new(Algorithm::ES384),
        TestKey::alternate(Algorithm::ES256),
    );
    let v = validator(&key)
        .register(RegisteredClient::new("app-2").jwks(JwkSet::from_keys([other.public_jwk()])));
    let store = InMemoryReplayStore::new(160);
    let refused: Vec<_> = (0..1000)
        .filter_map(|i| {
            let a = key.sign_json(Some("JWT"), &claims(&format!("flood-{i}")));
            v.validate(&a, &store, NOW).err()
        })
        .collect();
    assert_eq!(refused.len(), 1000 - 16, "{refused:?}");
    assert!(refused
        .iter()
        .all(|e| *e == TokenError::ReplayQuotaExceeded));
    let claims = json!({"iss": "app-2", "sub": "app-2", "aud": ENDPOINT, "exp": NOW.as_secs() + 240, "jti": "j"});
    let r = v.validate(&other.sign_json(Some("JWT"), &claims), &store, NOW);
    assert_eq!(r.map(|c| c.client_id), Ok("app-2".to_owned()));
}

#[test]
fn forged_and_symmetric() {
    let key = TestKey::new(Algorithm::ES384);
    let v = validator(&key);
    let store = InMemoryReplayStore::new(100);
    let other = TestKey::new(Algorithm::ES256).with_kid(key.kid());
    assert_eq!(
        v.validate(&other.sign_json(Some("JWT"), &claims("f")), &store, NOW),
        Err(TokenError::UnknownKey)
    );
    let hs = TestKey::new(Algorithm::HS256).with_kid(key.kid());
    assert_eq!(
        v.validate(&hs.sign_json(Some("JWT"), &claims("h")), &store, NOW),
        Err(TokenError::AlgorithmNotAllowed)
    );
}

#[test]
fn form_parameters() {
    let key = TestKey::new(Algorithm::ES384);
    let v = validator(&key);
    let store = InMemoryReplayStore::new(100);
    let a = key.sign_json(Some("JWT"), &claims("form"));
    assert_eq!(
        v.validate_form(Some("urn:other"), Some(&a), &store, NOW),
        Err(TokenError::MalformedAuthorization)
    );
    assert_eq!(
        v.validate_form(Some(JWT_BEARER), None, &store, NOW),
        Err(TokenError::MissingCredentials)
    );
    assert!(v
        .validate_form(Some(JWT_BEARER), Some(&a), &store, NOW)
        .is_ok());
    assert_eq!(TokenError::Replayed.oauth_error(), "invalid_client");
}

#[test]
fn clients_registered_by_jwks_url_are_refreshed_through_the_validator() {
    let url = "https://app.example/jwks.json";
    let v = ClientAssertionValidator::new(ENDPOINT)
        .register(RegisteredClient::new("app-1").jwks_url(url, KeyCachePolicy::default()))
        .register(RegisteredClient::new("fixed").jwks(JwkSet::default()));
    let refresh = |keys: &[&TestKey], now: UnixTime| {
        let due = v.refreshes_due(now);
        assert_eq!(due.len(), 1, "only the client registered by URL asks");
        for fetch in due {
            assert_eq!(
                (fetch.client_id.as_str(), fetch.jwks_url.as_str()),
                ("app-1", url)
            );
            let doc = json!({"keys": keys.iter().map(|k| k.public_jwk_json()).collect::<Vec<_>>()});
            v.complete_refresh(fetch, doc.to_string().as_bytes(), None, now)
                .unwrap();
        }
    };
    let store = InMemoryReplayStore::new(100);
    let old = TestKey::new(Algorithm::ES384);
    refresh(&[&old], NOW);
    assert!(v.refreshes_due(NOW).is_empty());
    let a = old.sign_json(Some("JWT"), &claims("r-1"));
    assert!(v.validate(&a, &store, NOW).is_ok());

    // The client rotates: its first assertion under the new kid is refused and asks for a
    // refresh, after which it validates.
    let new = TestKey::alternate(Algorithm::ES384);
    let a = new.sign_json(Some("JWT"), &claims("r-2"));
    assert_eq!(v.validate(&a, &store, NOW), Err(TokenError::UnknownKey));
    refresh(&[&new], NOW);
    assert!(v.validate(&a, &store, NOW).is_ok());

    // A failed fetch is recorded on that client's cache.
    let later = NOW.plus(600);
    for fetch in v.refreshes_due(later) {
        v.fail_refresh(fetch, later);
    }
    assert!(v.refreshes_due(later.plus(1)).is_empty());
}

#[test]
fn a_client_given_keys_and_its_jwks_url_follows_the_url_in_either_order() {
    let url = "https://app.example/jwks.json";
    let k1 = TestKey::new(Algorithm::ES384);
    let k2 = TestKey::alternate(Algorithm::ES384);
    let set = || JwkSet::from_keys([k1.public_jwk()]);
    let clients = [
        RegisteredClient::new("app-1")
            .jwks(set())
            .jwks_url(url, KeyCachePolicy::default()),
        RegisteredClient::new("app-1")
            .jwks_url(url, KeyCachePolicy::default())
            .jwks(set()),
    ];
    for client in clients {
        let v = ClientAssertionValidator::new(ENDPOINT).register(client);
        let store = InMemoryReplayStore::new(100);
        let a = k1.sign_json(Some("JWT"), &claims("s-1"));
        assert!(
            v.validate(&a, &store, NOW).is_ok(),
            "the given keys are used at once"
        );
        let due = v.refreshes_due(NOW);
        assert_eq!(due.len(), 1, "and the URL is followed");
        for fetch in due {
            let doc = json!({"keys": [k2.public_jwk_json()]}).to_string();
            v.complete_refresh(fetch, doc.as_bytes(), None, NOW)
                .unwrap();
        }
        let a = k2.sign_json(Some("JWT"), &claims("s-2"));
        assert!(v.validate(&a, &store, NOW).is_ok());
    }
}
