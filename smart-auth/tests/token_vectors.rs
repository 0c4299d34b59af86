//! External vectors: RFC 7520 JWS examples, josekit's externally generated JWTs, and the
//! Wycheproof signature and JOSE files for every algorithm this crate accepts
//! (`../shared/vectors/`, see the README there for origins and licenses).

use std::path::PathBuf;

use serde_json::{Map, Value};
use smart_auth::jose::{b64, Algorithm, AlgorithmSet, CompactJws, HeaderRules, HARD_MAX_TOKEN_LEN};
use smart_auth::jwk::Jwk;
use smart_auth::jwks::JwkSet;
use smart_auth::time::Leeway;
use smart_auth::validator::claims::check_times;
use smart_auth::{TokenError, UnixTime};

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors")
}

fn load(rel: &str) -> Value {
    let path = vectors().join(rel);
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap()
}

fn text(rel: &str) -> String {
    String::from_utf8(std::fs::read(vectors().join(rel)).unwrap())
        .unwrap()
        .trim()
        .to_owned()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const ALL: AlgorithmSet = AlgorithmSet::ASYMMETRIC
    .with(Algorithm::HS256)
    .with(Algorithm::HS384)
    .with(Algorithm::HS512);

/// The public half of a JWK as a verification key: private members dropped; `oct` keys taken
/// as an explicitly configured shared secret for their `alg`.
fn public_key(jwk: &Value) -> Option<Jwk> {
    let mut m: Map<String, Value> = jwk.as_object()?.clone();
    if m.get("kty")? == "oct" {
        let alg = Algorithm::from_name(m.get("alg")?.as_str()?).ok()?;
        let k = b64::decode(m.get("k")?.as_str()?)?;
        return Jwk::dangerous_shared_secret(&k, alg, m.get("kid").and_then(Value::as_str)).ok();
    }
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        m.remove(private);
    }
    Jwk::from_object(&m).ok()
}

/// JWS-level verdict: strict compact parsing, then verification with `key` under the header's
/// algorithm, which the key must permit.
fn verifies(token: &str, key: Option<&Jwk>) -> bool {
    match (
        CompactJws::parse(token, HARD_MAX_TOKEN_LEN, HeaderRules::default()),
        key,
    ) {
        (Ok(jws), Some(k)) => jws.verify(k, ALL).is_ok(),
        _ => false,
    }
}

#[test]
fn rfc7520_jws_examples() {
    for (file, should_verify) in [
        ("jose/rfc7520-cookbook/jws/4_1.rsa_v15_signature.json", true),
        ("jose/rfc7520-cookbook/jws/4_2.rsa-pss_signature.json", true),
        ("jose/rfc7520-cookbook/jws/4_3.ecdsa_signature.json", false), // ES512: not accepted
        (
            "jose/rfc7520-cookbook/jws/4_4.hmac-sha2_integrity_protection.json",
            true,
        ),
        ("jose/rfc7520-cookbook/curve25519/jws.json", true),
    ] {
        let v = load(file);
        let token = v["output"]["compact"].as_str().unwrap();
        let key = public_key(&v["input"]["key"]);
        assert_eq!(verifies(token, key.as_ref()), should_verify, "{file}");
        if should_verify {
            // Any single flipped signature bit breaks it.
            let mut bad = token.as_bytes().to_vec();
            let last = bad.len() - 3;
            bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
            assert!(
                !verifies(std::str::from_utf8(&bad).unwrap(), key.as_ref()),
                "{file} tampered"
            );
            // The payload is text, not a JWT: claims parsing refuses it.
            let jws = CompactJws::parse(token, HARD_MAX_TOKEN_LEN, HeaderRules::default()).unwrap();
            assert_eq!(
                jws.verify_claims(key.as_ref().unwrap(), ALL).unwrap_err(),
                TokenError::InvalidJson
            );
        }
    }
    // 4.5 detached content: the compact form has an empty payload; it verifies only over the
    // detached payload, which a JWT validator never has.
    let v = load("jose/rfc7520-cookbook/jws/4_5.signature_with_detached_content.json");
    assert!(!verifies(
        v["output"]["compact"].as_str().unwrap(),
        public_key(&v["input"]["key"]).as_ref()
    ));
}

#[test]
fn rfc7520_and_rfc7797_must_reject_shapes() {
    // JWE (also compressed), JSON serialization, b64=false with crit, nested JWS-in-JWE.
    let mut inputs: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(vectors().join("jose/rfc7520-cookbook/jwe")).unwrap() {
        let v: Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        if let Some(c) = v["output"]["compact"].as_str() {
            inputs.push(c.to_owned());
        }
        inputs.push(v["output"]["json"].to_string());
    }
    for f in [
        "jose/rfc7520-cookbook/rfc7797/4.2.hmac-sha2_b64_false.json",
        "jose/rfc7520-cookbook/rfc7797/hmac-sha2_b64_false.json",
    ] {
        let v = load(f);
        inputs.push(v["output"]["json_flat"].to_string());
        // Rebuild the compact form of the b64=false example: header with crit must refuse.
        if let Some(p) = v["signing"]["protected_b64u"].as_str() {
            inputs.push(format!(
                "{p}.{}.{}",
                b64::encode(b"$.02"),
                v["output"]["json_flat"]["signature"]
                    .as_str()
                    .unwrap_or("AA")
            ));
        }
    }
    let nested = load("jose/rfc7520-cookbook/6.nesting_signatures_and_encryption.json");
    inputs.push(
        nested["encrypt"]["output"]["compact"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    for f in [
        "jws/4_6.protecting_specific_header_fields.json",
        "jws/4_7.protecting_content_only.json",
        "jws/4_8.multiple_signatures.json",
    ] {
        inputs.push(load(&format!("jose/rfc7520-cookbook/{f}"))["output"]["json"].to_string());
    }
    assert!(inputs.len() >= 30);
    for input in &inputs {
        let r = CompactJws::parse(input, HARD_MAX_TOKEN_LEN, HeaderRules::default());
        assert!(r.is_err(), "must reject: {}", &input[..input.len().min(80)]);
    }
}

#[test]
fn josekit_external_tokens() {
    let pinned = UnixTime::from_secs(1_300_819_000); // before the tokens' exp (2011-03-22)
    let today = UnixTime::from_secs(1_760_000_000);
    for (alg, key_file, accepted) in [
        ("RS256", "RSA_public.jwk", true),
        ("RS384", "RSA_public.jwk", true),
        ("RS512", "RSA_public.jwk", true),
        ("PS256", "RSA_public.jwk", true),
        ("PS384", "RSA_public.jwk", true),
        ("PS512", "RSA_public.jwk", true),
        ("ES256", "EC_P-256_public.jwk", true),
        ("ES384", "EC_P-384_public.jwk", true),
        ("ES512", "EC_P-521_public.jwk", false),
        ("EdDSA", "OKP_Ed25519_public.jwk", true),
        ("HS256", "oct_512bit_private.jwk", true),
        ("HS384", "oct_512bit_private.jwk", true),
        ("HS512", "oct_512bit_private.jwk", true),
    ] {
        let token = text(&format!("jose/josekit-external/jwt/{alg}.jwt"));
        let mut jwk = load(&format!("jose/josekit-external/jwk/{key_file}"));
        if alg.starts_with("HS") {
            jwk["alg"] = alg.into();
        }
        let key = public_key(&jwk);
        assert_eq!(key.is_some(), accepted, "{alg} key import");
        let Some(key) = key else { continue };
        let jws = CompactJws::parse(&token, HARD_MAX_TOKEN_LEN, HeaderRules::default()).unwrap();
        let claims = jws
            .verify_claims(&key, ALL)
            .unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        assert_eq!(claims["iss"], "joe");
        assert_eq!(
            check_times(&claims, pinned, Leeway::ZERO, false, None).map(|t| t.0),
            Ok(1_300_819_380),
            "{alg}"
        );
        assert_eq!(
            check_times(&claims, today, Leeway::DEFAULT, false, None),
            Err(TokenError::Expired),
            "{alg}"
        );
        // Bound to the key type: RSA tokens never verify with the EC key and vice versa.
        let other = public_key(&load("jose/josekit-external/jwk/EC_P-256_public.jwk")).unwrap();
        if alg != "ES256" {
            assert!(jws.verify(&other, ALL).is_err(), "{alg} with a P-256 key");
        }
    }
}

/// Runs one Wycheproof signature file: every `valid` must verify, every `invalid` must not,
/// `acceptable` may go either way.
fn wycheproof_signatures(file: &str, alg: Algorithm, der_signatures: bool) -> usize {
    let v = load(&format!("wycheproof/testvectors_v1/{file}"));
    let mut checked = 0;
    for g in v["testGroups"].as_array().unwrap() {
        let jwk = g.get("publicKeyJwk").or_else(|| g.get("keyJwk"));
        let key = match jwk {
            Some(j) => {
                let mut j = j.as_object().unwrap().clone();
                j.remove("kid");
                Jwk::from_object(&j).unwrap_or_else(|e| panic!("{file}: key refused: {e:?}"))
            }
            None => {
                let pk = &g["publicKey"];
                let x = hex(pk["wx"].as_str().unwrap());
                let y = hex(pk["wy"].as_str().unwrap());
                let n = if alg == Algorithm::ES256 { 32 } else { 48 };
                let fit = |v: Vec<u8>| {
                    let v: Vec<u8> = v.into_iter().skip_while(|b| *b == 0).collect();
                    let mut out = vec![0; n - v.len().min(n)];
                    out.extend(v);
                    b64::encode(&out)
                };
                let crv = if n == 32 { "P-256" } else { "P-384" };
                let j = serde_json::json!({"kty": "EC", "crv": crv, "x": fit(x), "y": fit(y)});
                Jwk::from_object(j.as_object().unwrap()).unwrap()
            }
        };
        for t in g["tests"].as_array().unwrap() {
            let msg = hex(t["msg"].as_str().unwrap());
            let sig = hex(t["sig"].as_str().unwrap());
            let ok = key.verify(alg, &msg, &sig).is_ok();
            let id = &t["tcId"];
            match (t["result"].as_str().unwrap(), der_signatures) {
                (_, true) => assert!(!ok, "{file} #{id}: DER signature accepted"),
                ("valid", false) => assert!(ok, "{file} #{id}: valid signature refused"),
                ("invalid", false) => assert!(!ok, "{file} #{id}: invalid signature accepted"),
                _ => {}
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn wycheproof_signature_vectors_for_every_accepted_algorithm() {
    use Algorithm::*;
    let files = [
        ("rsa_signature_2048_sha256_test.json", RS256),
        ("rsa_signature_3072_sha256_test.json", RS256),
        ("rsa_signature_4096_sha256_test.json", RS256),
        ("rsa_signature_2048_sha384_test.json", RS384),
        ("rsa_signature_3072_sha384_test.json", RS384),
        ("rsa_signature_4096_sha384_test.json", RS384),
        ("rsa_signature_2048_sha512_test.json", RS512),
        ("rsa_signature_3072_sha512_test.json", RS512),
        ("rsa_signature_4096_sha512_test.json", RS512),
        ("rsa_pss_2048_sha256_mgf1_32_test.json", PS256),
        ("rsa_pss_3072_sha256_mgf1_32_test.json", PS256),
        ("rsa_pss_4096_sha256_mgf1_32_test.json", PS256),
        ("rsa_pss_2048_sha384_mgf1_48_test.json", PS384),
        ("rsa_pss_4096_sha384_mgf1_48_test.json", PS384),
        ("ecdsa_secp256r1_sha256_p1363_test.json", ES256),
        ("ecdsa_secp384r1_sha384_p1363_test.json", ES384),
        ("ed25519_test.json", EdDSA),
    ];
    let mut total = 0;
    for (file, alg) in files {
        total += wycheproof_signatures(file, alg, false);
    }
    assert!(total > 3500, "{total} vectors");
    // JWS requires fixed-length R||S: every DER-encoded ECDSA signature is refused.
    assert!(wycheproof_signatures("ecdsa_secp256r1_sha256_test.json", ES256, true) > 400);
    assert!(wycheproof_signatures("ecdsa_secp384r1_sha384_test.json", ES384, true) > 400);
}

/// Known, intended divergences from the JOSE-level Wycheproof files (see their README).
fn intended_divergence(id: u64) -> Option<&'static str> {
    match id {
        346 | 350 => Some("JWK alg PS256, token PS384: we bind the JWK alg strictly"),
        347 | 351 => Some("ES512 is not an accepted algorithm"),
        367 | 370 => Some("upstream data defect: byte-identical to a valid case"),
        372 | 373 => Some("'?' inside base64url: strict decoding refuses it"),
        _ => None,
    }
}

#[test]
fn wycheproof_json_web_signature() {
    let v = load("wycheproof/testvectors_v1/json_web_signature_test.json");
    let (mut agree, mut diverge) = (0, 0);
    for g in v["testGroups"].as_array().unwrap() {
        let key = public_key(g.get("public").unwrap_or(&g["private"]));
        for t in g["tests"].as_array().unwrap() {
            let id = t["tcId"].as_u64().unwrap();
            let token = t["jws"].as_str().unwrap();
            let want = t["result"] == "valid";
            let got = verifies(token, key.as_ref());
            match intended_divergence(id) {
                // Skipped: the label contradicts an identical valid case.
                Some(_) if id == 367 || id == 370 => {}
                Some(why) => {
                    assert!(!got, "#{id} expected refusal ({why})");
                    diverge += 1;
                }
                None => {
                    assert_eq!(got, want, "#{id} {}", t["comment"]);
                    agree += 1;
                }
            }
        }
    }
    assert!(
        agree > 380 && diverge == 6,
        "{agree} agree, {diverge} diverge"
    );
}

/// Keys of a Wycheproof JWK/keyset test group, imported the way a JWKS from an authorization
/// server is: `oct` and private keys never enter.
fn group_key_set(g: &Value) -> JwkSet {
    let doc = g.get("public").unwrap_or(&g["private"]);
    let doc = if doc.get("keys").is_some() {
        doc.clone()
    } else {
        serde_json::json!({"keys": [doc]})
    };
    JwkSet::parse(doc.to_string().as_bytes()).unwrap()
}

fn keyset_verdict(token: &str, set: &JwkSet) -> bool {
    let Ok(jws) = CompactJws::parse(token, HARD_MAX_TOKEN_LEN, HeaderRules::default()) else {
        return false;
    };
    match set.select(jws.header()) {
        Ok(k) => jws.verify(k, ALL).is_ok(),
        Err(_) => false,
    }
}

#[test]
fn wycheproof_json_web_key_and_keysets() {
    for file in ["json_web_key_test.json", "json_web_crypto_test.json"] {
        let v = load(&format!("wycheproof/testvectors_v1/{file}"));
        for g in v["testGroups"].as_array().unwrap() {
            let set = group_key_set(g);
            let symmetric_only = g.get("public").is_none();
            for t in g["tests"].as_array().unwrap() {
                let id = &t["tcId"];
                let Some(token) = t.get("jws").and_then(Value::as_str) else {
                    // JWE: never a JWS.
                    let jwe = match &t["jwe"] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    assert!(
                        CompactJws::parse(&jwe, HARD_MAX_TOKEN_LEN, HeaderRules::default())
                            .is_err(),
                        "{file} #{id}"
                    );
                    continue;
                };
                let got = keyset_verdict(token, &set);
                if t["result"] == "valid" && symmetric_only {
                    // HMAC keys never come from a key set (policy): refused here, and accepted
                    // only when the host configures the secret explicitly.
                    assert!(!got, "{file} #{id}");
                    let key = public_key(
                        &g["private"]["keys"]
                            .get(0)
                            .cloned()
                            .unwrap_or(g["private"].clone()),
                    );
                    assert!(
                        verifies(token, key.as_ref()),
                        "{file} #{id} with an explicit secret"
                    );
                } else {
                    assert_eq!(got, t["result"] == "valid", "{file} #{id} {}", t["comment"]);
                }
            }
        }
    }
}

#[test]
fn wycheproof_weak_hmac_secrets_refused_at_configuration() {
    let v = load("wycheproof/testvectors_v1/json_web_key_test.json");
    for g in v["testGroups"].as_array().unwrap() {
        for t in g["tests"].as_array().unwrap() {
            let c = t["comment"].as_str().unwrap();
            if c == "key_too_short" || c == "empty_key" {
                let k = &g["private"];
                let k = k.get("keys").and_then(|a| a.get(0)).unwrap_or(k);
                assert!(public_key(k).is_none(), "#{} {c}", t["tcId"]);
            }
        }
    }
}

#[test]
fn wycheproof_weak_keys_refused_for_the_right_reason() {
    use smart_auth::jwk::JwkError;
    let v = load("wycheproof/testvectors_v1/json_web_key_test.json");
    let mut seen = Vec::new();
    for g in v["testGroups"].as_array().unwrap() {
        let Some(public) = g.get("public") else {
            continue;
        };
        let set = JwkSet::parse(public.to_string().as_bytes()).unwrap();
        for (_, e) in set.rejected() {
            seen.push((g["comment"].as_str().unwrap().to_owned(), *e));
        }
    }
    for want in [
        JwkError::RocaKey,
        JwkError::WeakRsaKey,
        JwkError::BadRsaExponent,
        JwkError::WrongUse,
        JwkError::AlgorithmMismatch,
    ] {
        assert!(
            seen.iter().any(|(_, e)| *e == want),
            "{want:?} not seen in {seen:?}"
        );
    }
    // The ROCA test does not misfire on ordinary keys: every RSA key in the signature files passes.
    for file in [
        "rsa_signature_2048_sha256_test.json",
        "rsa_signature_3072_sha384_test.json",
        "rsa_pss_4096_sha256_mgf1_32_test.json",
    ] {
        let v = load(&format!("wycheproof/testvectors_v1/{file}"));
        for g in v["testGroups"].as_array().unwrap() {
            let jwk = g.get("publicKeyJwk").or_else(|| g.get("keyJwk")).unwrap();
            assert!(Jwk::from_object(jwk.as_object().unwrap()).is_ok(), "{file}");
        }
    }
}

/// The Ed25519 import check (canonical y, on the curve, not of small order) refuses none of
/// Wycheproof's keys, including those of its `TinkOverflow` cases. (Wycheproof has no invalid
/// Ed25519 public keys; the refusals are tested in `smart_auth::jwk` with hand-made points.)
#[test]
fn wycheproof_ed25519_keys_pass_the_import_check() {
    let v = load("wycheproof/testvectors_v1/ed25519_test.json");
    let mut checked = 0;
    for g in v["testGroups"].as_array().unwrap() {
        let jwk = g["publicKeyJwk"].as_object().unwrap();
        let raw = hex(g["publicKey"]["pk"].as_str().unwrap());
        assert_eq!(b64::decode(jwk["x"].as_str().unwrap()).unwrap(), raw);
        assert!(Jwk::from_object(jwk).is_ok(), "{jwk:?}");
        checked += 1;
    }
    assert!(checked > 70, "{checked}");
}

/// Invalid-curve keys are refused when the key set is imported, with their own reason: the
/// Wycheproof `invalid_point` key set, the off-curve ephemeral key of the JOSE
/// `rejectsInvalidCurvePoint` case, and every ECDSA test key with one coordinate bit flipped.
#[test]
fn wycheproof_off_curve_ec_keys_refused_at_import() {
    use smart_auth::jwk::JwkError;
    let v = load("wycheproof/testvectors_v1/json_web_key_test.json");
    let group = v["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["comment"] == "invalid_point")
        .expect("the invalid_point group");
    let set = JwkSet::parse(group["public"].to_string().as_bytes()).unwrap();
    assert!(set.is_empty(), "the off-curve key must not enter the set");
    assert_eq!(
        set.rejected().iter().map(|(_, e)| *e).collect::<Vec<_>>(),
        [JwkError::PointNotOnCurve]
    );

    // json_web_crypto_test #83: a JWE whose `epk` is not on P-256.
    let v = load("wycheproof/testvectors_v1/json_web_crypto_test.json");
    let jwe = v["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["tests"].as_array().unwrap())
        .find(|t| t["comment"] == "rejectsInvalidCurvePoint")
        .unwrap()["jwe"]
        .as_str()
        .unwrap();
    let header: Value =
        serde_json::from_slice(&b64::decode(jwe.split('.').next().unwrap()).unwrap()).unwrap();
    let epk = header["epk"].as_object().unwrap();
    assert_eq!(Jwk::from_object(epk), Err(JwkError::PointNotOnCurve));

    // Every key of the ECDSA files imports; with a flipped bit of x or y none does.
    let mut checked = 0;
    for file in [
        "ecdsa_secp256r1_sha256_p1363_test.json",
        "ecdsa_secp384r1_sha384_p1363_test.json",
    ] {
        let v = load(&format!("wycheproof/testvectors_v1/{file}"));
        for g in v["testGroups"].as_array().unwrap() {
            // From the hex coordinates: some groups (keys with unusual coordinates) have no JWK.
            let key = &g["publicKey"];
            let len = if key["curve"] == "secp256r1" { 32 } else { 48 };
            let coord = |name: &str| {
                let bytes = hex(key[name].as_str().unwrap());
                let bytes = &bytes[bytes.len().saturating_sub(len)..];
                let mut padded = vec![0; len - bytes.len()];
                padded.extend_from_slice(bytes);
                Value::String(b64::encode(&padded))
            };
            let crv = if len == 32 { "P-256" } else { "P-384" };
            let jwk =
                serde_json::json!({"kty": "EC", "crv": crv, "x": coord("wx"), "y": coord("wy")});
            let jwk = jwk.as_object().unwrap();
            assert!(Jwk::from_object(jwk).is_ok(), "{file} {jwk:?}");
            for coord in ["x", "y"] {
                for bit in [0usize, 7, 100] {
                    let mut bytes = b64::decode(jwk[coord].as_str().unwrap()).unwrap();
                    let last = bytes.len() - 1 - bit / 8;
                    bytes[last] ^= 1 << (bit % 8);
                    let mut bad = jwk.clone();
                    bad.insert(coord.into(), Value::String(b64::encode(&bytes)));
                    let got = Jwk::from_object(&bad);
                    // A flip may leave the field (>= p): then the value itself is invalid.
                    assert!(
                        matches!(
                            got,
                            Err(JwkError::PointNotOnCurve | JwkError::InvalidKeyValue)
                        ),
                        "{file} {coord} bit {bit}: {got:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}
