//! Minting tokens and JWKS for tests, signed with `ring` directly (no process-wide crypto
//! provider is installed).
//!
//! ```
//! use smart_auth::testing::TestIssuer;
//! use smart_auth::UnixTime;
//! let now = UnixTime::from_secs(1_700_000_000);
//! let issuer = TestIssuer::new("https://as.example", "https://fhir.example/r4");
//! let token = issuer.token(now).scope("patient/Observation.rs").patient("123").sign();
//! let ctx = issuer.validator().validate(&token, now).unwrap();
//! assert_eq!(ctx.launch().patient, Some("123"));
//! ```
//!
//! The keys are fixed test keys checked into this crate: tokens are reproducible for RSA and
//! Ed25519 (ECDSA signatures use fresh randomness from the operating system).

use std::sync::atomic::{AtomicU64, Ordering};

use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Map, Value};

use crate::jose::{b64, Algorithm};
use crate::jwk::Jwk;
use crate::jwks::JwkSet;
use crate::time::UnixTime;
use crate::validator::{IssuerConfig, Validator};

const RSA_1: &[u8] = include_bytes!("keys/rsa1.der");
const RSA_2: &[u8] = include_bytes!("keys/rsa2.der");
const P256_1: &[u8] = include_bytes!("keys/p256_1.der");
const P256_2: &[u8] = include_bytes!("keys/p256_2.der");
const P384_1: &[u8] = include_bytes!("keys/p384_1.der");
const ED_SEED_1: [u8; 32] = [7; 32];
const ED_SEED_2: [u8; 32] = [9; 32];

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
    Hmac(ring::hmac::Key),
}

/// A signing key for tests, with its public JWK.
pub struct TestKey {
    alg: Algorithm,
    kid: Option<String>,
    signer: Signer,
    public: Map<String, Value>,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish()
    }
}

impl TestKey {
    /// The primary test key for `alg` (kid `test-<alg>-1`). For HMAC algorithms the secret is
    /// 64 bytes of `0x42` (see [`TestKey::hmac_secret`]).
    pub fn new(alg: Algorithm) -> TestKey {
        Self::build(alg, 1)
    }

    /// A second, different key for `alg` (kid `test-<alg>-2`), for rotation and wrong-key tests.
    pub fn alternate(alg: Algorithm) -> TestKey {
        Self::build(alg, 2)
    }

    /// The `n`th of many distinct Ed25519 keys (kid `test-eddsa-<n>`; 1 and 2 are those of
    /// [`new`](Self::new) and [`alternate`](Self::alternate)), for tests that need many keys.
    pub fn numbered(n: u8) -> TestKey {
        Self::build(Algorithm::EdDSA, n)
    }

    /// The shared secret of the HMAC test keys.
    pub fn hmac_secret() -> [u8; 64] {
        [0x42; 64]
    }

    fn build(alg: Algorithm, n: u8) -> TestKey {
        let rng = SystemRandom::new();
        let kid = format!("test-{}-{n}", alg.name().to_ascii_lowercase());
        let (signer, public) = match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => {
                let der = if n == 1 { RSA_1 } else { RSA_2 };
                let kp = RsaKeyPair::from_der(der).expect("test RSA key");
                let c: sig::RsaPublicKeyComponents<Vec<u8>> = kp.public().into();
                let public = json!({"kty": "RSA", "n": b64::encode(&c.n), "e": b64::encode(&c.e)});
                (Signer::Rsa(kp), public)
            }
            Algorithm::ES256 | Algorithm::ES384 => {
                let (ring_alg, der, crv) = match (alg, n) {
                    (Algorithm::ES256, 1) => {
                        (&sig::ECDSA_P256_SHA256_FIXED_SIGNING, P256_1, "P-256")
                    }
                    (Algorithm::ES256, _) => {
                        (&sig::ECDSA_P256_SHA256_FIXED_SIGNING, P256_2, "P-256")
                    }
                    // One P-384 key is bundled: its alternate differs by `kid` only.
                    _ => (&sig::ECDSA_P384_SHA384_FIXED_SIGNING, P384_1, "P-384"),
                };
                let kp = EcdsaKeyPair::from_pkcs8(ring_alg, der, &rng).expect("test EC key");
                let point = kp.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                let public = json!({
                    "kty": "EC",
                    "crv": crv,
                    "x": b64::encode(&point[1..1 + half]),
                    "y": b64::encode(&point[1 + half..]),
                });
                (Signer::Ec(kp), public)
            }
            Algorithm::EdDSA => {
                let seed = match n {
                    1 => ED_SEED_1,
                    2 => ED_SEED_2,
                    n => {
                        let mut seed = [0xa5; 32];
                        seed[0] = n;
                        seed
                    }
                };
                let kp = Ed25519KeyPair::from_seed_unchecked(&seed).expect("test Ed25519 key");
                let public = json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": b64::encode(kp.public_key().as_ref()),
                });
                (Signer::Ed(kp), public)
            }
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let h = alg.ring_hmac().expect("hmac alg");
                let mut secret = Self::hmac_secret();
                secret[0] = n;
                let public = json!({"kty": "oct", "k": b64::encode(&secret)});
                (Signer::Hmac(ring::hmac::Key::new(h, &secret)), public)
            }
        };
        let mut public = match public {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        public.insert("kid".into(), kid.clone().into());
        public.insert("alg".into(), alg.name().into());
        public.insert("use".into(), "sig".into());
        TestKey {
            alg,
            kid: Some(kid),
            signer,
            public,
        }
    }

    /// The same key under another `kid` (or none).
    pub fn with_kid(mut self, kid: Option<&str>) -> TestKey {
        self.kid = kid.map(str::to_owned);
        match kid {
            Some(k) => self.public.insert("kid".into(), k.into()),
            None => self.public.remove("kid"),
        };
        self
    }

    /// The algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The key id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The public JWK as JSON (for HMAC keys: the secret, as `kty: oct`).
    pub fn public_jwk_json(&self) -> Value {
        Value::Object(self.public.clone())
    }

    /// The public JWK as a verification key (for HMAC keys: a shared-secret key).
    pub fn public_jwk(&self) -> Jwk {
        match self.signer {
            Signer::Hmac(_) => {
                let k = self.public["k"]
                    .as_str()
                    .and_then(b64::decode)
                    .unwrap_or_default();
                Jwk::dangerous_shared_secret(&k, self.alg, self.kid()).expect("test secret")
            }
            _ => Jwk::from_object(&self.public).expect("test public key passes the filter"),
        }
    }

    /// Signs `message` (the JWS signing input) with this key's algorithm.
    pub fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Rsa(kp) => {
                let padding: &dyn sig::RsaEncoding = match self.alg {
                    Algorithm::RS256 => &sig::RSA_PKCS1_SHA256,
                    Algorithm::RS384 => &sig::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &sig::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &sig::RSA_PSS_SHA256,
                    Algorithm::PS384 => &sig::RSA_PSS_SHA384,
                    _ => &sig::RSA_PSS_SHA512,
                };
                let mut out = vec![0; kp.public().modulus_len()];
                kp.sign(padding, &rng, message, &mut out)
                    .expect("RSA signing");
                out
            }
            Signer::Ec(kp) => kp
                .sign(&rng, message)
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
            Signer::Ed(kp) => kp.sign(message).as_ref().to_vec(),
            Signer::Hmac(k) => ring::hmac::sign(k, message).as_ref().to_vec(),
        }
    }

    /// Signs raw header and payload bytes into a compact JWS (for hostile-token tests: nothing
    /// is checked or normalised).
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let input = format!("{}.{}", b64::encode(header), b64::encode(payload));
        let s = self.sign_bytes(input.as_bytes());
        format!("{input}.{}", b64::encode(&s))
    }

    /// A DPoP proof (RFC 9449 §4.2) by this key for `method` and `uri` at `iat`, bound to
    /// `access_token` (`ath`) when given, with `nonce` when given.
    pub fn dpop_proof(
        &self,
        method: &str,
        uri: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
        iat: UnixTime,
        jti: &str,
    ) -> String {
        let mut claims = json!({"jti": jti, "htm": method, "htu": uri, "iat": iat.as_secs()});
        if let Some(t) = access_token {
            let h = ring::digest::digest(&ring::digest::SHA256, t.as_bytes());
            claims["ath"] = b64::encode(h.as_ref()).into();
        }
        if let Some(n) = nonce {
            claims["nonce"] = n.into();
        }
        let header =
            json!({"typ": "dpop+jwt", "alg": self.alg.name(), "jwk": self.public_jwk_json()});
        self.sign_raw(&to_vec(&header), &to_vec(&claims))
    }

    /// Signs `claims` under a header of `alg`, this key's `kid` and the given `typ`.
    pub fn sign_json(&self, typ: Option<&str>, claims: &Value) -> String {
        let mut header = Map::new();
        header.insert("alg".into(), self.alg.name().into());
        if let Some(t) = typ {
            header.insert("typ".into(), t.into());
        }
        if let Some(k) = &self.kid {
            header.insert("kid".into(), k.clone().into());
        }
        self.sign_raw(&to_vec(&Value::Object(header)), &to_vec(claims))
    }
}

fn to_vec(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// A test authorization server: an issuer, the audience it mints for, and its signing key.
#[derive(Debug)]
pub struct TestIssuer {
    issuer: String,
    audience: String,
    key: TestKey,
    counter: AtomicU64,
}

impl TestIssuer {
    /// An issuer signing RS256 with the primary test key.
    pub fn new(issuer: &str, audience: &str) -> TestIssuer {
        Self::with_key(issuer, audience, TestKey::new(Algorithm::RS256))
    }

    /// An issuer signing with `key`.
    pub fn with_key(issuer: &str, audience: &str, key: TestKey) -> TestIssuer {
        TestIssuer {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            key,
            counter: AtomicU64::new(0),
        }
    }

    /// The signing key.
    pub fn key(&self) -> &TestKey {
        &self.key
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The JWKS document a real authorization server would publish.
    pub fn jwks_json(&self) -> String {
        json!({"keys": [self.key.public_jwk_json()]}).to_string()
    }

    /// The key set, parsed.
    pub fn jwk_set(&self) -> JwkSet {
        JwkSet::from_keys([self.key.public_jwk()])
    }

    /// An issuer configuration trusting this issuer's key (fixed key set) with the defaults,
    /// plus the key's algorithm.
    pub fn config(&self) -> IssuerConfig {
        let c = IssuerConfig::new(&self.issuer, &self.audience);
        let algs = crate::jose::AlgorithmSet::ACCESS_TOKEN_DEFAULT.with(self.key.alg);
        if self.key.alg.is_symmetric() {
            let k = self.key.public["k"]
                .as_str()
                .and_then(b64::decode)
                .unwrap_or_default();
            c.dangerous_shared_secret(&k, self.key.alg)
        } else {
            c.jwks(self.jwk_set()).algorithms(algs)
        }
    }

    /// A validator trusting only this issuer.
    pub fn validator(&self) -> Validator {
        Validator::new([self.config()]).expect("test issuer config is valid")
    }

    /// A token builder with RFC 9068 claims filled in: `iss`, `aud`, `sub` (`test-user`),
    /// `client_id` (`test-client`), `iat` = `now`, `exp` = `now + 300`, a unique `jti`, and
    /// header `typ: at+jwt`.
    pub fn token(&self, now: UnixTime) -> TokenBuilder<'_> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut claims = Map::new();
        claims.insert("iss".into(), self.issuer.clone().into());
        claims.insert("aud".into(), self.audience.clone().into());
        claims.insert("sub".into(), "test-user".into());
        claims.insert("client_id".into(), "test-client".into());
        claims.insert("iat".into(), now.as_secs().into());
        claims.insert("exp".into(), (now.as_secs() + 300).into());
        claims.insert("jti".into(), format!("test-jti-{n}").into());
        let mut header = Map::new();
        header.insert("alg".into(), self.key.alg.name().into());
        header.insert("typ".into(), "at+jwt".into());
        if let Some(k) = &self.key.kid {
            header.insert("kid".into(), k.clone().into());
        }
        TokenBuilder {
            key: &self.key,
            header,
            claims,
        }
    }
}

/// Builds one token; every setter overrides the default claim.
#[derive(Debug)]
#[must_use = "call sign() to get the token"]
pub struct TokenBuilder<'a> {
    key: &'a TestKey,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

impl TokenBuilder<'_> {
    /// Sets any claim (a JSON value; `Value::Null` is kept as a JSON `null`).
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets any header member.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a header member.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// `scope`.
    pub fn scope(self, scope: &str) -> Self {
        self.claim("scope", scope)
    }

    /// `patient` (a Patient id).
    pub fn patient(self, id: &str) -> Self {
        self.claim("patient", id)
    }

    /// `encounter` (an Encounter id).
    pub fn encounter(self, id: &str) -> Self {
        self.claim("encounter", id)
    }

    /// `fhirUser`.
    pub fn fhir_user(self, url: &str) -> Self {
        self.claim("fhirUser", url)
    }

    /// `sub`.
    pub fn subject(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }

    /// `client_id`.
    pub fn client_id(self, id: &str) -> Self {
        self.claim("client_id", id)
    }

    /// Binds the token to `key` for DPoP: `cnf.jkt` = its RFC 7638 thumbprint.
    pub fn dpop_bound(self, key: &TestKey) -> Self {
        self.claim("cnf", json!({"jkt": key.public_jwk().thumbprint_b64()}))
    }

    /// Binds the token to a client certificate (RFC 8705): `cnf.x5t#S256` of `der`.
    pub fn certificate_bound(self, der: &[u8]) -> Self {
        self.claim(
            "cnf",
            json!({"x5t#S256": crate::mtls::certificate_thumbprint(der)}),
        )
    }

    /// `exp` = `iat + secs`.
    pub fn expires_in(self, secs: i64) -> Self {
        let iat = self.claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
        self.claim("exp", iat + secs)
    }

    /// The claims so far.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Signs the token.
    pub fn sign(&self) -> String {
        self.key.sign_raw(
            &to_vec(&Value::Object(self.header.clone())),
            &to_vec(&Value::Object(self.claims.clone())),
        )
    }
}
