//! DPoP (RFC 9449): proof-of-possession for access tokens.
//!
//! [`DpopValidator::validate_proof`] runs every check of RFC 9449 §4.3 on a proof;
//! [`DpopValidator::validate_request`] does the whole resource-server job for a request that
//! presented `Authorization: DPoP <token>` and `DPoP: <proof>`: validate the token, require it
//! to be DPoP-bound (`cnf.jkt`), and bind the proof to it (`ath`, key thumbprint).

use crate::bearer::Credential;
use crate::context::AccessContext;
use crate::error::TokenError;
use crate::jose::header::typ_matches;
use crate::jose::{b64, AlgorithmSet, CompactJws, HeaderRules};
use crate::jwk::Jwk;
use crate::mtls::ring_eq;
use crate::replay::{replay_key, ReplayStore};
use crate::time::{Leeway, ProofAge, UnixTime};
use crate::validator::claims::{numeric_date, opt_str};
use crate::validator::Validator;

/// Largest accepted DPoP proof, in bytes.
pub const MAX_PROOF_LEN: usize = 4096;

/// The request a proof must match.
#[derive(Debug, Clone, Copy)]
pub struct DpopRequest<'a> {
    /// The HTTP method, e.g. `GET` (compared exactly, RFC 9449 §4.3 check 8).
    pub method: &'a str,
    /// The absolute request URI as the client addressed it (`https://host/path`); query and
    /// fragment are ignored.
    pub uri: &'a str,
    /// The access token presented with the proof; its hash must be the proof's `ath`.
    pub access_token: Option<&'a str>,
    /// The key thumbprint the token is bound to (`cnf.jkt`).
    pub expected_jkt: Option<&'a str>,
    /// The nonce this server gave the client, if it issues nonces (RFC 9449 §8).
    pub nonce: Option<&'a str>,
}

/// What a valid proof established.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DpopProof {
    /// The RFC 7638 thumbprint of the proof key (base64url).
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`.
    pub issued_at: i64,
}

/// Validates DPoP proofs.
#[derive(Debug, Clone)]
pub struct DpopValidator {
    algorithms: AlgorithmSet,
    max_age: ProofAge,
    leeway: Leeway,
}

impl Default for DpopValidator {
    fn default() -> Self {
        DpopValidator {
            algorithms: AlgorithmSet::ASYMMETRIC,
            max_age: ProofAge::MAX,
            leeway: Leeway::DPOP_PROOF,
        }
    }
}

impl DpopValidator {
    /// Every asymmetric algorithm; proofs at most 300 s old and 5 s in the future.
    pub fn new() -> DpopValidator {
        DpopValidator::default()
    }

    /// The accepted proof algorithms (symmetric ones are always refused).
    pub fn algorithms(mut self, algorithms: AlgorithmSet) -> Self {
        self.algorithms = algorithms;
        self
    }

    /// How old (by `iat`) a proof may be (default and most: 300 s; RFC 9449 §11.1).
    pub fn max_age(mut self, max_age: ProofAge) -> Self {
        self.max_age = max_age;
        self
    }

    /// How far in the future `iat` may be (default 5 s).
    pub fn leeway(mut self, leeway: Leeway) -> Self {
        self.leeway = leeway;
        self
    }

    /// The `algs` value for a `WWW-Authenticate: DPoP` challenge.
    pub fn algs_attribute(&self) -> String {
        self.algorithms
            .iter()
            .filter(|a| !a.is_symmetric())
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Checks `proof` against `request` (RFC 9449 §4.3), then records its `jti` in `replay`
    /// for the acceptance window, counted against the proof key
    /// ([`ReplayStore::check_and_record_for`]; [`validate_request`](Self::validate_request)
    /// counts it against the token's user and client instead).
    pub fn validate_proof(
        &self,
        proof: &str,
        request: &DpopRequest<'_>,
        replay: &dyn ReplayStore,
        now: UnixTime,
    ) -> Result<DpopProof, TokenError> {
        self.check_proof(proof, request, replay, None, now)
    }

    /// [`validate_proof`](Self::validate_proof), its `jti` counted against `owner` when given
    /// (else against the proof key).
    fn check_proof(
        &self,
        proof: &str,
        request: &DpopRequest<'_>,
        replay: &dyn ReplayStore,
        owner: Option<[u8; 32]>,
        now: UnixTime,
    ) -> Result<DpopProof, TokenError> {
        const fn bad(why: &'static str) -> TokenError {
            TokenError::InvalidDpopProof(why)
        }
        let rules = HeaderRules {
            embedded_jwk: true,
            ignore_key_headers: false,
        };
        let jws = CompactJws::parse(proof, MAX_PROOF_LEN, rules).map_err(|_| bad("malformed"))?;
        let header = jws.header();
        if !header.typ().is_some_and(|t| typ_matches(t, "dpop+jwt")) {
            return Err(bad("typ"));
        }
        if header.alg.is_symmetric() || !self.algorithms.contains(header.alg) {
            return Err(bad("alg"));
        }
        let jwk = header.jwk.as_ref().ok_or(bad("jwk"))?;
        // The import filter refuses private members, `oct` keys and weak keys.
        let key = Jwk::from_object(jwk).map_err(|_| bad("jwk"))?;
        if !key.permits(header.alg) {
            return Err(bad("alg"));
        }
        let claims = jws
            .verify_claims(&key, self.algorithms)
            .map_err(|_| bad("signature"))?;
        let jti = opt_str(&claims, "jti")
            .map_err(|_| bad("jti"))?
            .ok_or(bad("jti"))?;
        if jti.is_empty() || jti.len() > 256 {
            return Err(bad("jti"));
        }
        let htm = opt_str(&claims, "htm")
            .map_err(|_| bad("htm"))?
            .ok_or(bad("htm"))?;
        if htm != request.method {
            return Err(bad("htm"));
        }
        let htu = opt_str(&claims, "htu")
            .map_err(|_| bad("htu"))?
            .ok_or(bad("htu"))?;
        let target = normalized_htu(request.uri).ok_or(bad("request uri"))?;
        if normalized_htu(htu).as_deref() != Some(target.as_str()) {
            return Err(bad("htu"));
        }
        let iat = numeric_date(&claims, "iat")
            .map_err(|_| bad("iat"))?
            .ok_or(bad("iat"))?;
        let n = now.as_secs();
        if iat > n.saturating_add(self.leeway.as_secs())
            || iat < n.saturating_sub(self.max_age.as_secs())
        {
            return Err(bad("iat"));
        }
        if let Some(expected) = request.nonce {
            match opt_str(&claims, "nonce") {
                Ok(Some(got)) if ring_eq(got.as_bytes(), expected.as_bytes()) => {}
                _ => return Err(TokenError::UseDpopNonce),
            }
        }
        if let Some(token) = request.access_token {
            let ath = opt_str(&claims, "ath")
                .map_err(|_| bad("ath"))?
                .ok_or(bad("ath"))?;
            let want =
                b64::encode(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref());
            if !ring_eq(ath.as_bytes(), want.as_bytes()) {
                return Err(bad("ath"));
            }
        }
        let jkt = key.thumbprint_b64();
        if let Some(expected) = request.expected_jkt {
            if !ring_eq(jkt.as_bytes(), expected.as_bytes()) {
                return Err(bad("jkt"));
            }
        }
        // Last, so that invalid proofs never fill the store.
        let key = replay_key("dpop", &[&target, jti]);
        let until = UnixTime::from_secs(
            iat.saturating_add(self.max_age.as_secs())
                .saturating_add(self.leeway.as_secs()),
        );
        // Counted against its owner, so that one client cannot fill the store (§11.1).
        let owner = owner.unwrap_or_else(|| replay_key("dpop-jkt", &[&jkt]));
        replay.check_and_record_for(&owner, &key, until.max(now.plus(1)), now)?;
        Ok(DpopProof {
            jkt,
            jti: jti.to_owned(),
            issued_at: iat,
        })
    }

    /// The resource-server check for a whole request: the credential must be
    /// `Authorization: DPoP` with a proof, the token valid and bound by `cnf.jkt` to the proof
    /// key, the proof valid for `method` and `uri` and carrying the token's hash. A
    /// DPoP-bound token presented as `Bearer` is refused (RFC 9449 §7.2), and so is one also
    /// bound to a client certificate (`cnf.x5t#S256`, [`TokenError::UnsupportedConfirmation`]):
    /// its certificate cannot be checked here (see [`crate::mtls`]). The proof's `jti` counts
    /// against the token's user of its client (`iss`, `client_id` and `sub`; without `sub`,
    /// the client) in `replay`, so that many keys of one user hold one share of it and one
    /// user of a shared public app cannot use up the others' shares; against the proof key
    /// for a token naming no client.
    #[allow(clippy::too_many_arguments)]
    pub fn validate_request(
        &self,
        validator: &Validator,
        credential: Credential<'_>,
        method: &str,
        uri: &str,
        nonce: Option<&str>,
        replay: &dyn ReplayStore,
        now: UnixTime,
    ) -> Result<AccessContext, TokenError> {
        let (token, proof) = match credential {
            Credential::Bearer(t) => return validator.validate(t, now),
            Credential::Dpop { token, proof } => (token, proof),
        };
        let ctx = validator.validate_constrained_cached(token, now)?;
        // A token also bound to a client certificate (RFC 8705) needs that certificate checked
        // too, which only the host's TLS termination can do: refused, never half-checked.
        if ctx.certificate_thumbprint().is_some() {
            return Err(TokenError::UnsupportedConfirmation);
        }
        let jkt = ctx
            .dpop_jkt()
            .ok_or(TokenError::InvalidDpopProof("token not DPoP-bound"))?
            .to_owned();
        let request = DpopRequest {
            method,
            uri,
            access_token: Some(token),
            expected_jkt: Some(&jkt),
            nonce,
        };
        // The token's user of its client (of its issuer) owns the proof: a client holding many
        // tokens, each bound to another key, still has one share of the replay store per user,
        // and one user of a shared public app cannot starve the app's other users. A token
        // naming no client leaves the proof to its key.
        let owner = ctx.client_id().map(|client| match ctx.subject() {
            Some(user) => replay_key("dpop-user", &[ctx.issuer(), client, user]),
            None => replay_key("dpop-client", &[ctx.issuer(), client]),
        });
        self.check_proof(proof, &request, replay, owner, now)?;
        Ok(std::sync::Arc::unwrap_or_clone(ctx))
    }
}

/// `htu` without query and fragment, after RFC 3986 §6.2.2/§6.2.3 normalisation (case of
/// scheme and host, default port, dot segments, percent-encoding case). Only `http(s)`.
pub fn normalized_htu(uri: &str) -> Option<String> {
    let mut url = url::Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return None;
    }
    if !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = normalized_percent_encoding(url.path());
    url.set_path(&path);
    Some(url.to_string())
}

/// RFC 3986 §6.2.2.1-2 on a path: percent-encodings in upper case, those of unreserved
/// characters decoded (`url` keeps both as written, so `%2f` and `%2F` would differ).
fn normalized_percent_encoding(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        // Two hex digits (checked first: `from_str_radix` would also take a sign).
        let encoded = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], encoded) {
            (b'%', Some(v)) => {
                if v.is_ascii_alphanumeric() || b"-._~".contains(&v) {
                    out.push(char::from(v));
                } else {
                    out.push_str(&format!("%{v:02X}"));
                }
                i += 3;
            }
            _ => {
                // Copy up to the next `%` (a char boundary: `%` is ASCII).
                let end = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == b'%')
                    .map_or(bytes.len(), |p| i + 1 + p);
                out.push_str(&path[i..end]);
                i = end;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_normalisation() {
        let n = |s| normalized_htu(s);
        assert_eq!(
            n("HTTPS://Server.Example:443/a/../b?x=1#f"),
            n("https://server.example/b")
        );
        assert_ne!(n("https://server.example/b"), n("https://server.example/B"));
        assert_ne!(n("https://server.example/b"), n("http://server.example/b"));
        assert_eq!(n("ftp://x/y"), None);
        assert_eq!(n("https://u:p@x/y"), None);
        assert_eq!(n("/relative"), None);
    }

    #[test]
    fn htu_normalises_percent_encoding() {
        // RFC 3986 §6.2.2.1: hex digits of percent-encodings are case-insensitive.
        let n = |s| normalized_htu(s);
        assert_eq!(
            n("https://server.example/a%2fb"),
            n("https://server.example/a%2Fb")
        );
        // §6.2.2.2: percent-encoded unreserved characters equal the characters.
        assert_eq!(
            n("https://server.example/%7euser/%41-%5F"),
            n("https://server.example/~user/A-_")
        );
        // Reserved characters keep their encoding: `/` and `%2F` are different paths.
        assert_ne!(
            n("https://server.example/a%2Fb"),
            n("https://server.example/a/b")
        );
        assert_eq!(
            n("https://server.example/%zz%4"),
            Some("https://server.example/%zz%4".into())
        );
    }
}
