//! Trust configuration mistakes are refused when the validator is built (threats.md §10:
//! startup refuses an incomplete security configuration), each naming the issuer it concerns;
//! a clock leeway, a cache lifetime, a DPoP proof age, a token lifetime bound or an ID token age
//! out of range is refused where it is made, never clamped.

use serde_json::json;
use smart_auth::client_assertion::{ClientAssertionValidator, RegisteredClient};
use smart_auth::introspection::Introspector;
use smart_auth::jose::{Algorithm, AlgorithmSet};
use smart_auth::jwks::JwkSet;
use smart_auth::replay::InMemoryReplayStore;
use smart_auth::testing::{TestIssuer, TestKey};
use smart_auth::time::{CacheTtl, Leeway, MaxAge, MaxLifetime, NegativeTtl, ProofAge};
use smart_auth::validator::ConfigError;
use smart_auth::{IssuerConfig, UnixTime, Validator};

const ISS: &str = "https://as.example.org";
const ISS2: &str = "https://other-as.example.org";
const AUD: &str = "https://fhir.example.org/r4";
const NOW: UnixTime = UnixTime::from_secs(1_760_000_000);

fn refused(configs: Vec<IssuerConfig>) -> String {
    Validator::new(configs)
        .expect_err("a configuration error")
        .to_string()
}

#[test]
fn an_issuer_without_any_key_source_is_refused() {
    let keys = TestIssuer::new(ISS, AUD).jwk_set();
    // Neither keys nor a jwks_uri: no token of this issuer could ever validate.
    let err = refused(vec![
        IssuerConfig::new(ISS, AUD).jwks(keys.clone()),
        IssuerConfig::new(ISS2, AUD),
    ]);
    assert!(err.contains(ISS2), "{err}");
    assert_eq!(
        Validator::new([IssuerConfig::new(ISS2, AUD)]).err(),
        Some(ConfigError::NoKeys(ISS2.to_owned()))
    );
    // A fixed key set with no usable key (every key refused by the import filter) is none.
    let weak = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]});
    let emptied = JwkSet::parse(weak.to_string().as_bytes()).unwrap();
    assert!(emptied.is_empty());
    let err = refused(vec![IssuerConfig::new(ISS, AUD).jwks(emptied.clone())]);
    assert!(err.contains(ISS), "{err}");

    // Each source alone is enough: a key set, a jwks_uri (an empty seed is then replaced by
    // the first fetch), or, dangerously, a shared secret.
    assert!(Validator::new([IssuerConfig::new(ISS, AUD).jwks(keys)]).is_ok());
    assert!(
        Validator::new([IssuerConfig::new(ISS, AUD).jwks_uri("https://as.example.org/jwks")])
            .is_ok()
    );
    assert!(Validator::new([IssuerConfig::new(ISS, AUD)
        .jwks(emptied)
        .jwks_uri("https://as.example.org/jwks")])
    .is_ok());
    let hmac = TestIssuer::with_key(ISS, AUD, TestKey::new(Algorithm::HS256));
    let v = hmac.validator();
    assert!(v.validate(&hmac.token(NOW).sign(), NOW).is_ok());
    assert!(v.refreshes_due(NOW).is_empty(), "nothing to fetch");
}

#[test]
fn every_issuer_error_names_its_issuer() {
    let good = || IssuerConfig::new(ISS, AUD).jwks_uri("https://as.example.org/jwks");
    let bad = || IssuerConfig::new(ISS2, AUD).jwks_uri("https://other-as.example.org/jwks");
    for (what, config) in [
        ("token cap", bad().max_token_len(70_000)),
        (
            "short secret",
            bad().dangerous_shared_secret(b"short", Algorithm::HS256),
        ),
        (
            "HMAC without a secret",
            bad().algorithms(AlgorithmSet::EMPTY.with(Algorithm::HS256)),
        ),
        ("no algorithm", bad().algorithms(AlgorithmSet::EMPTY)),
        ("empty audience", bad().audience("")),
    ] {
        let err = refused(vec![good(), config]);
        assert!(err.contains(ISS2), "{what}: {err}");
    }
    let err = refused(vec![good(), bad(), bad()]);
    assert!(err.contains(ISS2), "duplicate: {err}");
    assert_eq!(
        Validator::new([bad().max_token_len(70_000)]).err(),
        Some(ConfigError::MaxTokenLen(ISS2.to_owned()))
    );
}

#[test]
fn a_leeway_out_of_range_is_refused_by_every_validator_alike() {
    // One bound for every validator (smart.md §3.3: 0–300 s), checked where a leeway is made:
    // no validator can be given 301 s and silently use 300.
    for secs in [-1, 301, i64::MIN, i64::MAX] {
        assert_eq!(Leeway::from_secs(secs), Err(ConfigError::Leeway(secs)));
    }
    let err = Leeway::from_secs(600).unwrap_err().to_string();
    assert!(err.contains("600") && err.contains("300"), "{err}");
    assert_eq!(Leeway::from_secs(300), Ok(Leeway::MAX));
    assert_eq!(Leeway::from_secs(0), Ok(Leeway::ZERO));
    assert_eq!(Leeway::default().as_secs(), 30);
}

#[test]
fn the_leeway_given_is_the_leeway_used() {
    let exp = NOW.as_secs() + 60;
    let answer =
        json!({"active": true, "scope": "system/*.rs", "client_id": "app", "exp": exp, "aud": AUD})
            .to_string();
    for secs in [0, 10, 300] {
        let leeway = Leeway::from_secs(secs).unwrap();
        let introspector = Introspector::new(ISS, AUD).leeway(leeway);
        let at = |t: i64| introspector.parse_response(answer.as_bytes(), UnixTime::from_secs(t));
        assert!(at(exp + secs - 1).is_ok(), "{secs}");
        assert_eq!(at(exp + secs).unwrap_err().reason(), "expired", "{secs}");

        let key = TestKey::new(Algorithm::ES384);
        let endpoint = "https://as.example.org/token";
        let assertions = ClientAssertionValidator::new(endpoint)
            .leeway(leeway)
            .register(RegisteredClient::new("app").jwks(JwkSet::from_keys([key.public_jwk()])));
        let assertion = key.sign_json(
            Some("JWT"),
            &json!({"iss": "app", "sub": "app", "aud": endpoint, "exp": exp, "jti": format!("j-{secs}")}),
        );
        let replay = InMemoryReplayStore::new(100);
        let at = |t: i64| assertions.validate(&assertion, &replay, UnixTime::from_secs(t));
        assert_eq!(at(exp + secs).unwrap_err().reason(), "expired", "{secs}");
        assert!(at(exp + secs - 1).is_ok(), "{secs}");
    }
}

#[test]
fn a_key_cache_policy_that_cannot_work_is_refused_and_never_panics() {
    use smart_auth::jwks::{KeyCache, KeyCachePolicy};
    let inverted = KeyCachePolicy {
        min_max_age: 600,
        max_max_age: 60,
        ..KeyCachePolicy::default()
    };
    let negative = KeyCachePolicy {
        unknown_kid_cooldown: -1,
        ..KeyCachePolicy::default()
    };
    for policy in [inverted, negative] {
        let err = refused(vec![IssuerConfig::new(ISS, AUD)
            .jwks_uri("https://as.example.org/jwks")
            .key_cache_policy(policy)]);
        assert!(err.contains(ISS), "{err}");
    }
    // A key cache made with it directly still installs a fetched set, without panicking (the
    // shorter bound wins: the set is fetched again sooner, never kept longer).
    let cache = KeyCache::new(inverted);
    let ticket = cache.begin_refresh(NOW).expect("a first fetch is due");
    let jwks = TestIssuer::new(ISS, AUD).jwks_json();
    cache
        .complete_refresh(ticket, jwks.as_bytes(), Some("max-age=300"), NOW)
        .unwrap();
    assert!(cache.current(NOW.plus(59)).is_some());
    assert!(
        cache.refresh_due(NOW.plus(60)).is_some(),
        "expired after 60 s"
    );
}

#[test]
fn a_cache_lifetime_or_proof_age_out_of_range_is_refused_where_it_is_made() {
    // Positive answers (introspection, validated tokens): at most the hour within which a
    // revocation must take effect (smart.md §11). Negative introspection answers: seconds
    // (smart.md §4). DPoP proofs: a limited window (RFC 9449 §11.1). Before, the caches and
    // DpopValidator::max_age took bare i64s, turned negatives into 0 and had no upper bound.
    for secs in [-1, 3601, i64::MIN, i64::MAX] {
        assert_eq!(CacheTtl::from_secs(secs), Err(ConfigError::CacheTtl(secs)));
    }
    for secs in [-1, 11, 300, i64::MAX] {
        assert_eq!(
            NegativeTtl::from_secs(secs),
            Err(ConfigError::NegativeTtl(secs))
        );
    }
    for secs in [-1, 301, 3600, i64::MIN] {
        assert_eq!(ProofAge::from_secs(secs), Err(ConfigError::ProofAge(secs)));
    }
    assert_eq!(CacheTtl::from_secs(3600), Ok(CacheTtl::MAX));
    assert_eq!(NegativeTtl::from_secs(0), Ok(NegativeTtl::ZERO));
    assert_eq!(NegativeTtl::MAX.as_secs(), 10);
    assert_eq!(ProofAge::from_secs(300), Ok(ProofAge::MAX));
    assert_eq!(CacheTtl::default().as_secs(), 60);
    let err = NegativeTtl::from_secs(60).unwrap_err().to_string();
    assert!(err.contains("60") && err.contains("10"), "{err}");
}

#[test]
fn the_proof_age_given_is_the_proof_age_used() {
    let client = TestKey::new(Algorithm::ES256);
    let uri = "https://fhir.example.org/r4/Patient/123";
    let proof_at =
        |age: i64, jti: &str| client.dpop_proof("GET", uri, None, None, NOW.plus(-age), jti);
    let check = |max_age: i64, proof: &str| {
        let request = smart_auth::dpop::DpopRequest {
            method: "GET",
            uri,
            access_token: None,
            expected_jkt: None,
            nonce: None,
        };
        smart_auth::dpop::DpopValidator::new()
            .max_age(ProofAge::from_secs(max_age).unwrap())
            .validate_proof(proof, &request, &InMemoryReplayStore::new(16), NOW)
            .map(|p| p.issued_at)
    };
    for max_age in [0, 60, 300] {
        let at_limit = proof_at(max_age, &format!("a-{max_age}"));
        assert_eq!(check(max_age, &at_limit), Ok(NOW.as_secs() - max_age));
        let older = proof_at(max_age + 1, &format!("b-{max_age}"));
        assert_eq!(
            check(max_age, &older),
            Err(smart_auth::TokenError::InvalidDpopProof("iat")),
            "{max_age}"
        );
    }
}

#[test]
fn a_token_lifetime_or_id_token_age_out_of_range_is_refused_where_it_is_made() {
    // IssuerConfig::max_lifetime, IdTokenValidator::max_age_of_iat and
    // IdTokenExpectations::max_age took bare i64s: a negative one refused every token without
    // saying why. Lifetimes: at most the 24 h default (smart.md §11: access tokens SHOULD live
    // an hour at most). Ages: at most 30 days.
    for secs in [-1, 86_401, i64::MIN, i64::MAX] {
        assert_eq!(
            MaxLifetime::from_secs(secs),
            Err(ConfigError::MaxLifetime(secs))
        );
    }
    for secs in [-1, 2_592_001, i64::MIN, i64::MAX] {
        assert_eq!(MaxAge::from_secs(secs), Err(ConfigError::MaxAge(secs)));
    }
    assert_eq!(MaxLifetime::from_secs(86_400), Ok(MaxLifetime::DEFAULT));
    assert_eq!(MaxLifetime::default(), MaxLifetime::MAX);
    assert_eq!(MaxAge::from_secs(2_592_000), Ok(MaxAge::MAX));
    assert_eq!(MaxAge::from_secs(0).map(MaxAge::as_secs), Ok(0));
    let err = MaxLifetime::from_secs(-5).unwrap_err().to_string();
    assert!(err.contains("-5") && err.contains("86400"), "{err}");
}

#[test]
fn the_default_and_given_lifetime_bounds_are_the_ones_used() {
    let i = TestIssuer::new(ISS, AUD);
    let check = |config: IssuerConfig, lifetime: i64| {
        let token = i.token(NOW).expires_in(lifetime).sign();
        Validator::new([config])
            .unwrap()
            .validate(&token, NOW)
            .map(|_| ())
    };
    let too_long = Err(smart_auth::TokenError::LifetimeTooLong);
    // Default 24 h, plus the 30 s leeway.
    assert_eq!(check(i.config(), 86_430), Ok(()));
    assert_eq!(check(i.config(), 86_431), too_long);
    assert_eq!(check(i.config().max_lifetime(None), 10 * 86_400), Ok(()));
    let one_minute = Some(MaxLifetime::from_secs(60).unwrap());
    let strict = || i.config().max_lifetime(one_minute).leeway(Leeway::ZERO);
    assert_eq!(check(strict(), 60), Ok(()));
    assert_eq!(check(strict(), 61), too_long);
}
