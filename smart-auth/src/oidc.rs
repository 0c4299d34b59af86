//! OpenID Connect ID tokens (OIDC Core 1.0 §3.1.3.7, §3.1.3.6, §3.3.2.11) as a profile of the
//! same JWS machinery, for hosts that consume them: a portal identifying its user, or an
//! authorization server checking an upstream identity provider.

use serde_json::{Map, Value};

use crate::error::TokenError;
use crate::jose::header::typ_matches;
use crate::jose::{b64, Algorithm, AlgorithmSet, CompactJws, HeaderRules, DEFAULT_MAX_TOKEN_LEN};
use crate::jwks::KeyCache;
use crate::mtls::ring_eq;
use crate::time::{Leeway, MaxAge, UnixTime};
use crate::validator::claims::{
    audiences, check_times, is_fhir_user, numeric_date, opt_id_str, opt_str, req_str,
};

/// What the client knows about the authentication request this ID token answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdTokenExpectations<'a> {
    /// The `nonce` sent in the authentication request: the token must carry exactly it.
    pub nonce: Option<&'a str>,
    /// The `max_age` sent: `auth_time` is then required and must be no older than it (plus the
    /// leeway). An `auth_time` in the future (beyond the leeway) is refused in any case.
    pub max_age: Option<MaxAge>,
    /// The access token issued with the ID token: `at_hash`, when present, must match it.
    pub access_token: Option<&'a str>,
    /// The authorization code issued with it: `c_hash`, when present, must match it.
    pub code: Option<&'a str>,
}

/// A validated ID token.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IdToken {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `aud`, as a list.
    pub audiences: Vec<String>,
    /// `azp`, if present.
    pub authorized_party: Option<String>,
    /// `nonce`, if present.
    pub nonce: Option<String>,
    /// `auth_time`, if present.
    pub auth_time: Option<i64>,
    /// `fhirUser` (SMART), if present.
    pub fhir_user: Option<String>,
    /// `exp`.
    pub expires_at: i64,
    /// `iat`.
    pub issued_at: i64,
    /// All claims.
    pub claims: Map<String, Value>,
}

/// Validates ID tokens from one OpenID Provider for one client.
#[derive(Debug)]
pub struct IdTokenValidator {
    issuer: String,
    client_id: String,
    algorithms: AlgorithmSet,
    keys: KeyCache,
    leeway: Leeway,
    max_age_of_iat: Option<MaxAge>,
    trusted_audiences: Vec<String>,
}

impl IdTokenValidator {
    /// ID tokens from `issuer` for `client_id`, verified with `keys`. RS256 (the OIDC default)
    /// plus ES256, ES384, RS384 and PS256; 30 s leeway.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        keys: KeyCache,
    ) -> IdTokenValidator {
        IdTokenValidator {
            issuer: issuer.into(),
            client_id: client_id.into(),
            algorithms: AlgorithmSet::ACCESS_TOKEN_DEFAULT.with(Algorithm::PS256),
            keys,
            leeway: Leeway::DEFAULT,
            max_age_of_iat: None,
            trusted_audiences: Vec::new(),
        }
    }

    /// Audiences besides the client that an ID token may also name (OIDC Core §3.1.3.7 (3):
    /// the token must be rejected if it contains additional audiences not trusted by the
    /// client). None by default: a token also issued to another party is refused as
    /// [`TokenError::WrongAudience`].
    pub fn trusted_audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.trusted_audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// The accepted algorithms (symmetric ones are never accepted).
    pub fn algorithms(mut self, algorithms: AlgorithmSet) -> Self {
        self.algorithms = algorithms.asymmetric();
        self
    }

    /// Clock leeway (default 30 s).
    pub fn leeway(mut self, leeway: Leeway) -> Self {
        self.leeway = leeway;
        self
    }

    /// Refuse tokens issued (`iat`) longer ago than `max` (plus the leeway); `None`, the
    /// default, for no bound beyond `exp`.
    pub fn max_age_of_iat(mut self, max: Option<MaxAge>) -> Self {
        self.max_age_of_iat = max;
        self
    }

    /// The key cache, for the host's refresh loop.
    pub fn keys(&self) -> &KeyCache {
        &self.keys
    }

    /// Validates `token` per OIDC Core §3.1.3.7.
    pub fn validate(
        &self,
        token: &str,
        expect: &IdTokenExpectations<'_>,
        now: UnixTime,
    ) -> Result<IdToken, TokenError> {
        let rules = HeaderRules {
            embedded_jwk: false,
            ignore_key_headers: false,
        };
        let jws = CompactJws::parse(token, DEFAULT_MAX_TOKEN_LEN, rules)?;
        let header = jws.header();
        // OIDC does not require `typ`; when present it must not name another kind of JWT.
        if let Some(t) = header.typ() {
            if !typ_matches(t, "JWT") {
                return Err(TokenError::WrongType);
            }
        }
        if !self.algorithms.contains(header.alg) {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        let key = self.keys.select(header, now)?;
        let claims = jws.verify_claims(&key, self.algorithms)?;
        if req_str(&claims, "iss")? != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        let aud = audiences(&claims)?;
        if !aud.contains(&self.client_id.as_str()) {
            return Err(TokenError::WrongAudience);
        }
        let azp = opt_str(&claims, "azp")?;
        match azp {
            Some(a) if a != self.client_id => return Err(TokenError::InvalidClaim("azp")),
            None if aud.len() > 1 => return Err(TokenError::MissingClaim("azp")),
            _ => {}
        }
        let trusted =
            |a: &&str| *a == self.client_id || self.trusted_audiences.iter().any(|t| t == a);
        if !aud.iter().all(trusted) {
            return Err(TokenError::WrongAudience);
        }
        // A Security Event Token (a back-channel Logout Token: same issuer, keys and audience)
        // is never an ID token (RFC 8417 §4.1).
        if claims.contains_key("events") {
            return Err(TokenError::InvalidClaim("events"));
        }
        let (exp, iat) = check_times(&claims, now, self.leeway, true, None)?;
        let iat = iat.ok_or(TokenError::MissingClaim("iat"))?;
        if let Some(max) = self.max_age_of_iat {
            if now.as_secs()
                > iat
                    .saturating_add(max.as_secs())
                    .saturating_add(self.leeway.as_secs())
            {
                return Err(TokenError::BadIssueTime);
            }
        }
        // An identifier: never `""`, which would make every such token one user.
        let subject = opt_id_str(&claims, "sub")?.ok_or(TokenError::MissingClaim("sub"))?;
        let nonce = opt_str(&claims, "nonce")?;
        if let Some(want) = expect.nonce {
            if !nonce.is_some_and(|n| ring_eq(n.as_bytes(), want.as_bytes())) {
                return Err(TokenError::InvalidClaim("nonce"));
            }
        }
        let auth_time = numeric_date(&claims, "auth_time")?;
        // A sign-in still to come would pass any `max_age`.
        if auth_time.is_some_and(|at| at > now.as_secs().saturating_add(self.leeway.as_secs())) {
            return Err(TokenError::InvalidClaim("auth_time"));
        }
        if let Some(max_age) = expect.max_age {
            let at = auth_time.ok_or(TokenError::MissingClaim("auth_time"))?;
            if now.as_secs()
                > at.saturating_add(max_age.as_secs())
                    .saturating_add(self.leeway.as_secs())
            {
                return Err(TokenError::InvalidClaim("auth_time"));
            }
        }
        check_half_hash(&claims, "at_hash", expect.access_token, header.alg)?;
        check_half_hash(&claims, "c_hash", expect.code, header.alg)?;
        let fhir_user = match opt_str(&claims, "fhirUser")? {
            Some(u) if is_fhir_user(u) => Some(u.to_owned()),
            Some(_) => return Err(TokenError::InvalidClaim("fhirUser")),
            None => None,
        };
        Ok(IdToken {
            issuer: self.issuer.clone(),
            subject: subject.to_owned(),
            audiences: aud.iter().map(|s| (*s).to_owned()).collect(),
            authorized_party: azp.map(str::to_owned),
            nonce: nonce.map(str::to_owned),
            auth_time,
            fhir_user,
            expires_at: exp,
            issued_at: iat,
            claims,
        })
    }
}

/// The OIDC left-half hash (§3.1.3.6, §3.3.2.11): base64url of the left half of the digest of
/// `value` with the hash of the JWS `alg`.
pub fn half_hash(value: &str, alg: Algorithm) -> String {
    let d = ring::digest::digest(alg.digest(), value.as_bytes());
    let bytes = d.as_ref();
    b64::encode(&bytes[..bytes.len() / 2])
}

fn check_half_hash(
    claims: &Map<String, Value>,
    name: &'static str,
    value: Option<&str>,
    alg: Algorithm,
) -> Result<(), TokenError> {
    match (opt_str(claims, name)?, value) {
        (Some(got), Some(v)) => {
            if ring_eq(got.as_bytes(), half_hash(v, alg).as_bytes()) {
                Ok(())
            } else {
                Err(TokenError::InvalidClaim(name))
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_oidc_example() {
        // OIDC Core, Appendix A.3: access token and at_hash for RS256.
        assert_eq!(
            half_hash(
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y",
                Algorithm::RS256
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
