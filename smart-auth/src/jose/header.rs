//! The JOSE header of a JWS (RFC 7515 §4), parsed strictly.

use serde_json::{Map, Value};

use super::alg::{Algorithm, AlgorithmError};
use crate::error::TokenError;

/// Longest accepted `kid`, in bytes (smart.md §3.2).
pub const MAX_KID_LEN: usize = 256;

/// Largest accepted decoded header, in bytes (smart.md §3.4).
pub const MAX_HEADER_LEN: usize = 2048;

/// What a header may carry besides the basics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderRules {
    /// Require an embedded public `jwk` (DPoP proofs, RFC 9449 §4.2). Otherwise `jwk` is refused.
    pub embedded_jwk: bool,
    /// Ignore `jku`, `x5u`, `x5c` (and `jwk` when not embedded) instead of refusing the token.
    /// They are never used either way.
    pub ignore_key_headers: bool,
}

/// A parsed JOSE header. Unknown members are kept in [`Header::raw`] and otherwise ignored.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Header {
    /// `alg`.
    pub alg: Algorithm,
    /// `typ`, when present.
    pub typ: Option<String>,
    /// `kid`, when present (printable ASCII, at most [`MAX_KID_LEN`] bytes).
    pub kid: Option<String>,
    /// The embedded `jwk` object, only under [`HeaderRules::embedded_jwk`].
    pub jwk: Option<Map<String, Value>>,
    /// `jku`, kept so client-assertion validation can compare it with the registered URL.
    pub jku: Option<String>,
    /// All members as parsed.
    pub raw: Map<String, Value>,
}

impl Header {
    /// Interprets a parsed header object under `rules`.
    pub fn from_object(raw: Map<String, Value>, rules: HeaderRules) -> Result<Header, TokenError> {
        let alg = match raw.get("alg") {
            Some(Value::String(s)) => Algorithm::from_name(s).map_err(|e| match e {
                AlgorithmError::None => TokenError::AlgNone,
                AlgorithmError::Unsupported => TokenError::UnsupportedAlgorithm,
            })?,
            Some(_) => return Err(TokenError::MalformedHeader),
            None => return Err(TokenError::UnsupportedAlgorithm),
        };
        // No JWS extension is implemented, so any `crit` is unknown (RFC 7515 §4.1.11).
        if raw.contains_key("crit") {
            return Err(TokenError::CriticalHeader);
        }
        // JWE-only, nested or unencoded payloads: not a JWT access token (RFC 7516, 7519 §5.2, 7797).
        for name in ["enc", "zip", "cty", "b64"] {
            if raw.contains_key(name) {
                return Err(TokenError::UnsupportedContent);
            }
        }
        let typ = opt_string(&raw, "typ")?;
        let kid = opt_string(&raw, "kid")?;
        if let Some(k) = &kid {
            if k.is_empty()
                || k.len() > MAX_KID_LEN
                || !k.bytes().all(|b| (0x20..0x7f).contains(&b))
            {
                return Err(TokenError::MalformedKeyId);
            }
        }
        let jwk = match raw.get("jwk") {
            None => None,
            Some(Value::Object(o)) if rules.embedded_jwk => Some(o.clone()),
            Some(_) if rules.embedded_jwk => return Err(TokenError::MalformedHeader),
            Some(_) if rules.ignore_key_headers => None,
            Some(_) => return Err(TokenError::HeaderKey),
        };
        if rules.embedded_jwk && jwk.is_none() {
            return Err(TokenError::MalformedHeader);
        }
        let jku = opt_string(&raw, "jku")?;
        if !rules.ignore_key_headers
            && (jku.is_some() || raw.contains_key("x5u") || raw.contains_key("x5c"))
        {
            return Err(TokenError::HeaderKey);
        }
        Ok(Header {
            alg,
            typ,
            kid,
            jwk,
            jku,
            raw,
        })
    }
}

impl Header {
    /// Whether the header carries a key or key location (`jwk`, `jku`, `x5u`, `x5c`).
    pub fn carries_key(&self) -> bool {
        ["jwk", "jku", "x5u", "x5c"]
            .iter()
            .any(|k| self.raw.contains_key(*k))
    }
}

fn opt_string(raw: &Map<String, Value>, name: &str) -> Result<Option<String>, TokenError> {
    match raw.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(TokenError::MalformedHeader),
    }
}

/// Compares a `typ` value with an expected media type: case-insensitive, with or without the
/// `application/` prefix (RFC 7515 §4.1.9).
pub fn typ_matches(typ: &str, expected: &str) -> bool {
    fn bare(s: &str) -> &str {
        match s.get(..12) {
            Some(p) if p.eq_ignore_ascii_case("application/") && !s[12..].contains('/') => &s[12..],
            _ => s,
        }
    }
    !typ.contains(';') && bare(typ).eq_ignore_ascii_case(bare(expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(json: &str) -> Result<Header, TokenError> {
        let m = crate::jose::json::parse_object(json.as_bytes()).unwrap();
        Header::from_object(m, HeaderRules::default())
    }

    #[test]
    fn header_rules() {
        assert!(hdr(r#"{"alg":"RS256","kid":"k1","typ":"at+jwt","x":1}"#).is_ok());
        assert_eq!(hdr(r#"{"alg":"none"}"#), Err(TokenError::AlgNone));
        assert_eq!(hdr(r#"{"alg":"NoNe"}"#), Err(TokenError::AlgNone));
        assert_eq!(
            hdr(r#"{"alg":["RS256"]}"#),
            Err(TokenError::MalformedHeader)
        );
        assert_eq!(hdr(r#"{"kid":"a"}"#), Err(TokenError::UnsupportedAlgorithm));
        assert_eq!(
            hdr(r#"{"alg":"RS256","crit":["exp"],"exp":1}"#),
            Err(TokenError::CriticalHeader)
        );
        assert_eq!(
            hdr(r#"{"alg":"RS256","crit":[]}"#),
            Err(TokenError::CriticalHeader)
        );
        assert_eq!(
            hdr(r#"{"alg":"RS256","cty":"JWT"}"#),
            Err(TokenError::UnsupportedContent)
        );
        assert_eq!(
            hdr(r#"{"alg":"RS256","zip":"DEF"}"#),
            Err(TokenError::UnsupportedContent)
        );
        assert_eq!(
            hdr(r#"{"alg":"RS256","b64":false}"#),
            Err(TokenError::UnsupportedContent)
        );
        for k in [
            "jwk\":{}",
            "jku\":\"https://x\"",
            "x5u\":\"https://x\"",
            "x5c\":[]",
        ] {
            assert_eq!(
                hdr(&format!(r#"{{"alg":"RS256","{k}}}"#)),
                Err(TokenError::HeaderKey),
                "{k}"
            );
        }
        assert_eq!(
            hdr(r#"{"alg":"RS256","kid":""}"#),
            Err(TokenError::MalformedKeyId)
        );
        assert_eq!(
            hdr(r#"{"alg":"RS256","kid":"a\nb"}"#),
            Err(TokenError::MalformedKeyId)
        );
        let long = "k".repeat(257);
        assert_eq!(
            hdr(&format!(r#"{{"alg":"RS256","kid":"{long}"}}"#)),
            Err(TokenError::MalformedKeyId)
        );
        assert_eq!(
            hdr(r#"{"alg":"RS256","kid":7}"#),
            Err(TokenError::MalformedHeader)
        );
    }

    #[test]
    fn typ_comparison() {
        assert!(typ_matches("at+jwt", "at+jwt"));
        assert!(typ_matches("application/AT+JWT", "at+jwt"));
        assert!(!typ_matches("jwt", "at+jwt"));
        assert!(!typ_matches("dpop+jwt", "at+jwt"));
        assert!(!typ_matches("at+jwt; x=1", "at+jwt"));
    }
}
