//! SMART Backend Services: `client_credentials` with `private_key_jwt` client assertions
//! (RFC 7523 §3, SMART `client-confidential-asymmetric`), `jti` replay refused, `system/` scopes only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::Value;

use super::clients::{ClientAuth, ClientConfig};
use super::responses::OAuthError;
use super::scopes;
use super::state::AuthzState;
use super::token::Params;

/// Maximum assertion lifetime accepted (SMART: `exp` no more than five minutes ahead).
const MAX_ASSERTION_LIFETIME: i64 = 300;
/// Clock leeway for `exp`/`iat`.
const LEEWAY: i64 = 30;

fn claim_str<'a>(claims: &'a Value, name: &str) -> Option<&'a str> {
    claims.get(name)?.as_str()
}

fn decode_json(segment: &str) -> Option<Value> {
    let bytes = B64.decode(segment).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.is_object().then_some(value)
}

/// Verifies a JWS signature with one JWK of the client's set.
fn verify_with_jwk(alg: &str, jwk: &Value, input: &[u8], sig: &[u8]) -> bool {
    let b64 = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|s| B64.decode(s).ok())
    };
    match (alg, jwk.get("kty").and_then(Value::as_str)) {
        ("RS256" | "RS384", Some("RSA")) => {
            let (Some(n), Some(e)) = (b64("n"), b64("e")) else {
                return false;
            };
            let params = if alg == "RS256" {
                &signature::RSA_PKCS1_2048_8192_SHA256
            } else {
                &signature::RSA_PKCS1_2048_8192_SHA384
            };
            RsaPublicKeyComponents { n: &n, e: &e }
                .verify(params, input, sig)
                .is_ok()
        }
        ("ES256" | "ES384", Some("EC")) => {
            let (crv, alg_ring, len) = if alg == "ES256" {
                ("P-256", &signature::ECDSA_P256_SHA256_FIXED, 32)
            } else {
                ("P-384", &signature::ECDSA_P384_SHA384_FIXED, 48)
            };
            if jwk.get("crv").and_then(Value::as_str) != Some(crv) {
                return false;
            }
            let (Some(x), Some(y)) = (b64("x"), b64("y")) else {
                return false;
            };
            if x.len() != len || y.len() != len {
                return false;
            }
            let mut point = vec![0x04];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            UnparsedPublicKey::new(alg_ring, &point)
                .verify(input, sig)
                .is_ok()
        }
        _ => false,
    }
}

/// Validates a `private_key_jwt` client assertion and returns the authenticated client.
pub(crate) fn verify_client_assertion(
    state: &AuthzState,
    client_id_param: Option<&str>,
    assertion: &str,
) -> Result<ClientConfig, OAuthError> {
    let bad = OAuthError::invalid_client;
    if assertion.len() > 8192 {
        return Err(bad());
    }
    let mut parts = assertion.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let header = decode_json(h).ok_or_else(bad)?;
    let claims = decode_json(c).ok_or_else(bad)?;
    let alg = claim_str(&header, "alg").ok_or_else(bad)?;
    if !matches!(alg, "RS384" | "ES384" | "RS256" | "ES256") || header.get("crit").is_some() {
        return Err(bad());
    }
    let kid = claim_str(&header, "kid").ok_or_else(bad)?;
    if header.get("typ").is_some_and(|t| t.as_str() != Some("JWT")) {
        return Err(bad());
    }
    let iss = claim_str(&claims, "iss").ok_or_else(bad)?;
    if claim_str(&claims, "sub") != Some(iss) || client_id_param.is_some_and(|c| c != iss) {
        return Err(bad());
    }
    let client = state.client(iss).ok_or_else(bad)?;
    let ClientAuth::PrivateKeyJwt { jwks } = &client.auth else {
        return Err(bad());
    };
    if header.get("jku").is_some() {
        // no JWKS URL is registered for any client here, so a jku can never match one
        return Err(bad());
    }
    let candidates: Vec<&Value> = jwks
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
                .collect()
        })
        .unwrap_or_default();
    let [jwk] = candidates.as_slice() else {
        return Err(bad());
    };
    let sig = B64.decode(s).map_err(|_| bad())?;
    let input = &assertion.as_bytes()[..h.len() + 1 + c.len()];
    if !verify_with_jwk(alg, jwk, input, &sig) {
        return Err(bad());
    }
    // claims, only after the signature verified
    let token_endpoint = state.endpoints().token.as_str();
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == token_endpoint,
        Some(Value::Array(items)) => items.iter().any(|a| a.as_str() == Some(token_endpoint)),
        _ => false,
    };
    let now = state.now();
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(bad)?;
    let jti = claim_str(&claims, "jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(bad)?;
    let iat_ok = match claims.get("iat") {
        None => true,
        Some(v) => v.as_i64().is_some_and(|iat| iat <= now + LEEWAY),
    };
    if !aud_ok || exp + LEEWAY <= now || exp > now + MAX_ASSERTION_LIFETIME + LEEWAY || !iat_ok {
        return Err(bad());
    }
    let fresh = state
        .store()
        .remember_assertion(iss, jti, exp + LEEWAY, now)
        .map_err(|_| OAuthError::server_error())?;
    if !fresh {
        return Err(bad());
    }
    Ok(client)
}

/// `grant_type=client_credentials`: asymmetric clients only, `system/` scopes only, each within
/// the client's registered scope.
pub(crate) fn client_credentials(
    state: &AuthzState,
    client: &ClientConfig,
    params: &Params,
) -> Result<Value, OAuthError> {
    if !matches!(client.auth, ClientAuth::PrivateKeyJwt { .. }) {
        return Err(OAuthError::unauthorized_client(
            "client_credentials needs private_key_jwt",
        ));
    }
    let requested = params.get("scope").map(String::as_str).unwrap_or("");
    if requested
        .split(' ')
        .any(|s| !s.is_empty() && !scopes::is_system(s))
    {
        return Err(OAuthError::invalid_scope("only system/ scopes are allowed"));
    }
    let granted = client.permitted_scopes(requested);
    if granted.is_empty() {
        return Err(OAuthError::invalid_scope("no requested scope is allowed"));
    }
    Ok(state.issue_backend(&client.client_id, &granted)?.body)
}
