//! Tokens minted by a second independent implementation, the npm `jose` package (on Node's
//! WebCrypto), committed as fixtures with the script that generated them
//! (`tests/fixtures/npm-jose/generate.mjs`): RS256, RS384, PS256, ES256, ES384 and EdDSA
//! tokens that must validate, the same tokens tampered with byte for byte, and Backend Services
//! client assertions signed RS384 and ES384.

use serde_json::Value;
use smart_auth::client_assertion::{ClientAssertionValidator, RegisteredClient};
use smart_auth::jose::AlgorithmSet;
use smart_auth::jwks::JwkSet;
use smart_auth::replay::InMemoryReplayStore;
use smart_auth::{IssuerConfig, UnixTime, Validator};

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/npm-jose/tokens.json"
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn key_set(f: &Value) -> JwkSet {
    JwkSet::parse(f["jwks"].to_string().as_bytes()).unwrap()
}

fn setup(f: &Value) -> (Validator, UnixTime) {
    let jwks = key_set(f);
    assert_eq!(
        jwks.keys().count(),
        6,
        "every jose key passes the import filter: {:?}",
        jwks.rejected()
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
fn jose_access_tokens_and_their_tampered_copies() {
    let f = fixture();
    let (v, now) = setup(&f);
    let tokens = f["tokens"].as_array().unwrap();
    assert!(tokens.len() >= 40);
    let mut algs_valid = std::collections::BTreeSet::new();
    let mut refused = 0;
    for t in tokens {
        let name = t["name"].as_str().unwrap();
        let token = t["token"].as_str().unwrap();
        let got = v.validate(token, now);
        match t["expect"].as_str().unwrap() {
            "valid" => {
                let ctx = got.unwrap_or_else(|e| panic!("{name}: {e:?}"));
                assert_eq!(ctx.launch().patient, Some("p-77"), "{name}");
                assert_eq!(ctx.client_id(), Some("jose-app"), "{name}");
                assert_eq!(ctx.fhir_user(), Some("Patient/p-77"), "{name}");
                assert_eq!(ctx.scopes().iter().count(), 2, "{name}");
                let header = token.split('.').next().unwrap();
                let header: Value =
                    serde_json::from_slice(&smart_auth::jose::b64::decode(header).unwrap())
                        .unwrap();
                algs_valid.insert(header["alg"].as_str().unwrap().to_owned());
            }
            reason => {
                assert_eq!(
                    got.map(|_| ()).map_err(|e| e.reason()),
                    Err(reason),
                    "{name}"
                );
                refused += 1;
            }
        }
    }
    assert_eq!(
        algs_valid.into_iter().collect::<Vec<_>>(),
        ["ES256", "ES384", "EdDSA", "PS256", "RS256", "RS384"]
    );
    assert!(refused >= 30, "{refused}");
}

#[test]
fn jose_tokens_survive_no_single_byte_change() {
    // Beyond the fixtures' own tampering: every single-character change of each valid jose token
    // (a neighbouring base64url letter at each position) is refused, unless it is a no-op.
    let f = fixture();
    let (v, now) = setup(&f);
    for t in f["tokens"].as_array().unwrap() {
        if t["expect"] != "valid" {
            continue;
        }
        let token = t["token"].as_str().unwrap();
        let good = v.validate(token, now).unwrap();
        for (i, c) in token.char_indices().step_by(3) {
            let replacement = match c {
                'A' => 'B',
                '.' => 'x',
                _ => 'A',
            };
            let mut bytes = token.as_bytes().to_vec();
            bytes[i] = replacement as u8;
            let mutated = String::from_utf8(bytes).unwrap();
            match v.validate(&mutated, now) {
                Err(_) => {}
                Ok(ctx) => panic!(
                    "{}: change at {i} accepted (same context: {})",
                    t["name"],
                    ctx == good
                ),
            }
        }
    }
}

#[test]
fn jose_client_assertions_rs384_and_es384() {
    let f = fixture();
    let now = UnixTime::from_secs(f["now"].as_i64().unwrap());
    let v = ClientAssertionValidator::new(f["token_endpoint"].as_str().unwrap())
        .register(RegisteredClient::new("jose-app").jwks(key_set(&f)));
    let store = InMemoryReplayStore::new(100);
    let assertions = f["client_assertions"].as_array().unwrap();
    assert_eq!(assertions.len(), 2);
    for a in assertions {
        let assertion = a["assertion"].as_str().unwrap();
        let c = v
            .validate(assertion, &store, now)
            .unwrap_or_else(|e| panic!("{}: {e:?}", a["alg"]));
        assert_eq!(c.client_id, "jose-app");
        assert_eq!(c.algorithm.name(), a["alg"].as_str().unwrap());
        // The same assertion a second time is a replay.
        assert_eq!(
            v.validate(assertion, &store, now).unwrap_err().reason(),
            "replayed"
        );
    }
}
