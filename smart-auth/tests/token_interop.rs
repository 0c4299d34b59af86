//! Tokens minted by an independent implementation (PyJWT on pyca/cryptography), committed as
//! fixtures with the script that generated them (`tests/fixtures/pyjwt/generate.py`).

use serde_json::Value;
use smart_auth::bearer::Credential;
use smart_auth::client_assertion::{ClientAssertionValidator, RegisteredClient};
use smart_auth::dpop::DpopValidator;
use smart_auth::jose::AlgorithmSet;
use smart_auth::jwks::JwkSet;
use smart_auth::replay::InMemoryReplayStore;
use smart_auth::{IssuerConfig, UnixTime, Validator};

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/pyjwt/tokens.json"
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn setup(f: &Value) -> (Validator, UnixTime) {
    let jwks = JwkSet::parse(f["jwks"].to_string().as_bytes()).unwrap();
    assert_eq!(
        jwks.keys().count(),
        9,
        "every PyJWT key passes the import filter"
    );
    let config = IssuerConfig::new(
        f["issuer"].as_str().unwrap(),
        f["audience"].as_str().unwrap(),
    )
    .algorithms(AlgorithmSet::ASYMMETRIC)
    .jwks(jwks);
    (
        Validator::new([config]).unwrap(),
        UnixTime::from_secs(f["now"].as_i64().unwrap()),
    )
}

#[test]
fn pyjwt_access_tokens() {
    let f = fixture();
    let (v, now) = setup(&f);
    let tokens = f["tokens"].as_array().unwrap();
    assert!(tokens.len() >= 25);
    for t in tokens {
        let name = t["name"].as_str().unwrap();
        let got = v.validate(t["token"].as_str().unwrap(), now);
        match t["expect"].as_str().unwrap() {
            "valid" => {
                let ctx = got.unwrap_or_else(|e| panic!("{name}: {e:?}"));
                assert_eq!(ctx.launch().patient, Some("p-42"), "{name}");
                assert_eq!(ctx.client_id(), Some("py-app"), "{name}");
            }
            reason => assert_eq!(
                got.map(|_| ()).map_err(|e| e.reason()),
                Err(reason),
                "{name}"
            ),
        }
    }
}

#[test]
fn pyjwt_client_assertions() {
    let f = fixture();
    let now = UnixTime::from_secs(f["now"].as_i64().unwrap());
    let jwks = JwkSet::parse(f["jwks"].to_string().as_bytes()).unwrap();
    let v = ClientAssertionValidator::new(f["token_endpoint"].as_str().unwrap())
        .register(RegisteredClient::new("py-app").jwks(jwks));
    let store = InMemoryReplayStore::new(100);
    for a in f["client_assertions"].as_array().unwrap() {
        let c = v
            .validate(a["assertion"].as_str().unwrap(), &store, now)
            .unwrap_or_else(|e| panic!("{}: {e:?}", a["alg"]));
        assert_eq!(c.client_id, "py-app");
        assert_eq!(c.algorithm.name(), a["alg"].as_str().unwrap());
    }
}

#[test]
fn pyjwt_dpop_proof() {
    let f = fixture();
    let (v, now) = setup(&f);
    let d = &f["dpop"];
    let token = d["access_token"].as_str().unwrap();
    let proof = d["proof"].as_str().unwrap();
    let store = InMemoryReplayStore::new(100);
    let dpop = DpopValidator::new();
    let ctx = dpop
        .validate_request(
            &v,
            Credential::Dpop { token, proof },
            "GET",
            d["uri"].as_str().unwrap(),
            None,
            &store,
            now,
        )
        .unwrap();
    assert_eq!(ctx.confirmation().unwrap()["jkt"], d["jkt"]);
    // Our RFC 7638 thumbprint agrees with the one computed in Python.
    assert_eq!(
        v.validate(token, now).unwrap_err().reason(),
        "dpop_required"
    );
}
