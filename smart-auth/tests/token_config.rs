//! Trust configuration mistakes are refused when the validator is built (threats.md §10:
//! startup refuses an incomplete security configuration), each naming the issuer it concerns.

use serde_json::json;
use smart_auth::jose::{Algorithm, AlgorithmSet};
use smart_auth::jwks::JwkSet;
use smart_auth::testing::{TestIssuer, TestKey};
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
