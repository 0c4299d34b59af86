//! A development token issuer: one ES256 key made at start (never written anywhere) that signs
//! the access tokens printed on start, so the example runs with no authorization server. A real
//! deployment passes `--issuer` and `--jwks-file` instead, and this module is not used.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

/// The key and the names its tokens carry.
pub struct DevIssuer {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
    kid: String,
    issuer: String,
    audience: String,
}

/// What one printed token grants.
pub struct Grant<'a> {
    /// The `client_id` claim.
    pub client_id: &'a str,
    /// The space-separated SMART scopes.
    pub scope: &'a str,
    /// The launch patient, if any.
    pub patient: Option<&'a str>,
}

impl DevIssuer {
    /// A fresh key for `issuer`, whose tokens are for `audience` (the FHIR base URL).
    pub fn generate(issuer: &str, audience: &str) -> Result<DevIssuer, String> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| "could not generate a key")?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| "could not load the generated key")?;
        let mut id = [0u8; 8];
        ring::rand::SecureRandom::fill(&rng, &mut id).map_err(|_| "no randomness")?;
        Ok(DevIssuer {
            pair,
            rng,
            kid: B64.encode(id),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    /// The issuer identifier (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public JWK Set, as a validator reads it.
    pub fn jwks(&self) -> Vec<u8> {
        // An uncompressed P-256 point: 0x04, then x and y (32 bytes each).
        let point = self.pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
        });
        json!({ "keys": [jwk] }).to_string().into_bytes()
    }

    /// An RFC 9068 access token for `grant`, valid from `now` (Unix seconds) for `lifetime`
    /// seconds.
    pub fn mint(&self, grant: &Grant<'_>, now: i64, lifetime: i64) -> Result<String, String> {
        let mut jti = [0u8; 16];
        ring::rand::SecureRandom::fill(&self.rng, &mut jti).map_err(|_| "no randomness")?;
        let mut claims = json!({
            "iss": self.issuer, "aud": self.audience, "sub": grant.client_id,
            "client_id": grant.client_id, "scope": grant.scope,
            "iat": now, "exp": now + lifetime, "jti": B64.encode(jti),
        });
        if let (Some(p), Value::Object(map)) = (grant.patient, &mut claims) {
            map.insert("patient".into(), p.into());
        }
        let header = json!({ "alg": "ES256", "typ": "at+jwt", "kid": self.kid });
        let mut token = B64.encode(header.to_string());
        token.push('.');
        token.push_str(&B64.encode(claims.to_string()));
        let signature = self
            .pair
            .sign(&self.rng, token.as_bytes())
            .map_err(|_| "could not sign")?;
        token.push('.');
        token.push_str(&B64.encode(signature.as_ref()));
        Ok(token)
    }
}
