//! The JOSE header of a JWS (RFC 7515 §4), parsed strictly.

use serde_json::{Map, Value};

use super::alg::{Algorithm, AlgorithmError};
use super::json::{JsonRef, Object, Text};
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

/// A parsed JOSE header. Members other than those below are checked only for being strict JSON;
/// [`Header::raw`] returns them all.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Header {
    /// `alg`.
    pub alg: Algorithm,
    /// `typ` and `kid`, as views into `json` where they can be ([`Header::typ`], [`Header::kid`]).
    typ: Option<Text>,
    kid: Option<Text>,
    /// The embedded `jwk` object, only under [`HeaderRules::embedded_jwk`].
    pub jwk: Option<Map<String, Value>>,
    /// `jku`, kept so client-assertion validation can compare it with the registered URL.
    pub jku: Option<String>,
    /// The decoded header text (strict JSON, checked).
    json: Box<str>,
    /// Which of `jwk`, `jku`, `x5u`, `x5c` are present (bits in [`KEY_HEADERS`] order).
    key_headers: u8,
}

/// The members that carry a key or a key location.
const KEY_HEADERS: [&str; 4] = ["jwk", "jku", "x5u", "x5c"];

impl Header {
    /// Parses a decoded header (strict JSON, at most [`MAX_HEADER_LEN`] bytes) under `rules`.
    pub fn parse(json: &[u8], rules: HeaderRules) -> Result<Header, TokenError> {
        if json.len() > MAX_HEADER_LEN {
            return Err(TokenError::TooLarge);
        }
        let json = std::str::from_utf8(json).map_err(|_| TokenError::InvalidJson)?;
        let raw = super::json::parse_borrowed_str(json).map_err(super::json_error)?;
        Header::from_borrowed(&raw, json, rules)
    }

    /// Interprets a parsed header object under `rules`.
    pub fn from_object(raw: Map<String, Value>, rules: HeaderRules) -> Result<Header, TokenError> {
        let json = serde_json::to_vec(&raw).map_err(|_| TokenError::InvalidJson)?;
        Header::parse(&json, rules)
    }

    fn from_borrowed(
        raw: &Object<'_>,
        json: &str,
        rules: HeaderRules,
    ) -> Result<Header, TokenError> {
        // One pass over the members (a lookup per rule cost more than the parse); the rules
        // are then applied in a fixed order, so the reported error does not depend on member
        // order.
        let (mut alg, mut typ, mut kid, mut jwk, mut jku) = (None, None, None, None, None);
        let (mut crit, mut content, mut key_headers) = (false, false, 0u8);
        for (name, value) in raw.iter() {
            match name {
                "alg" => alg = Some(value),
                "typ" => typ = Some(value),
                "kid" => kid = Some(value),
                "crit" => crit = true,
                "enc" | "zip" | "cty" | "b64" => content = true,
                // Bits in `KEY_HEADERS` order.
                "jwk" => (jwk, key_headers) = (Some(value), key_headers | 1),
                "jku" => (jku, key_headers) = (Some(value), key_headers | 2),
                "x5u" => key_headers |= 4,
                "x5c" => key_headers |= 8,
                _ => {}
            }
        }
        let alg = match alg {
            Some(JsonRef::String(s)) => Algorithm::from_name(s).map_err(|e| match e {
                AlgorithmError::None => TokenError::AlgNone,
                AlgorithmError::Unsupported => TokenError::UnsupportedAlgorithm,
            })?,
            Some(_) => return Err(TokenError::MalformedHeader),
            None => return Err(TokenError::UnsupportedAlgorithm),
        };
        // No JWS extension is implemented, so any `crit` is unknown (RFC 7515 §4.1.11).
        if crit {
            return Err(TokenError::CriticalHeader);
        }
        // JWE-only, nested or unencoded payloads: not a JWT access token (RFC 7516, 7519 §5.2, 7797).
        if content {
            return Err(TokenError::UnsupportedContent);
        }
        let typ = opt_str(typ)?;
        let kid = opt_str(kid)?;
        if let Some(k) = kid {
            if k.is_empty()
                || k.len() > MAX_KID_LEN
                || !k.bytes().all(|b| (0x20..0x7f).contains(&b))
            {
                return Err(TokenError::MalformedKeyId);
            }
        }
        let jwk = match jwk {
            None => None,
            Some(JsonRef::Object(o)) if rules.embedded_jwk => Some(o.to_map()),
            Some(_) if rules.embedded_jwk => return Err(TokenError::MalformedHeader),
            Some(_) if rules.ignore_key_headers => None,
            Some(_) => return Err(TokenError::HeaderKey),
        };
        if rules.embedded_jwk && jwk.is_none() {
            return Err(TokenError::MalformedHeader);
        }
        let jku = opt_str(jku)?.map(str::to_owned);
        // `jku`, `x5u`, `x5c` (`jwk` was dealt with above).
        if !rules.ignore_key_headers && key_headers & 0b1110 != 0 {
            return Err(TokenError::HeaderKey);
        }
        Ok(Header {
            alg,
            typ: typ.map(|t| Text::new(t, json)),
            kid: kid.map(|k| Text::new(k, json)),
            jwk,
            jku,
            json: json.into(),
            key_headers,
        })
    }

    /// `typ`, when present.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_ref().map(|t| t.get(&self.json))
    }

    /// `kid`, when present (printable ASCII, at most [`MAX_KID_LEN`] bytes).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_ref().map(|k| k.get(&self.json))
    }

    /// Whether the header carries a key or key location (`jwk`, `jku`, `x5u`, `x5c`).
    pub fn carries_key(&self) -> bool {
        self.key_headers != 0
    }

    /// Whether the header has the member `name`.
    pub fn contains(&self, name: &str) -> bool {
        match KEY_HEADERS.iter().position(|k| *k == name) {
            Some(i) => self.key_headers & (1 << i) != 0,
            None => super::json::parse_borrowed(self.json.as_bytes())
                .is_ok_and(|o| o.contains_key(name)),
        }
    }

    /// All members as parsed (built on each call).
    pub fn raw(&self) -> Map<String, Value> {
        super::json::parse_object(self.json.as_bytes()).unwrap_or_default()
    }

    /// The decoded header text.
    pub fn json(&self) -> &str {
        &self.json
    }
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("alg", &self.alg)
            .field("typ", &self.typ())
            .field("kid", &self.kid())
            .field("jwk", &self.jwk)
            .field("jku", &self.jku)
            .field("json", &self.json)
            .finish()
    }
}

fn opt_str<'a>(value: Option<&'a JsonRef<'_>>) -> Result<Option<&'a str>, TokenError> {
    match value {
        None => Ok(None),
        Some(JsonRef::String(s)) => Ok(Some(s)),
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
        Header::parse(json.as_bytes(), HeaderRules::default())
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
    fn members_are_kept_for_later_questions() {
        let rules = HeaderRules {
            embedded_jwk: false,
            ignore_key_headers: true,
        };
        let h = Header::parse(
            br#"{"alg":"ES256","x5c":["AA"],"x-custom":{"a":1},"kid":"k"}"#,
            rules,
        )
        .unwrap();
        assert!(h.carries_key());
        assert!(h.contains("x5c") && h.contains("x-custom") && h.contains("alg"));
        assert!(!h.contains("jwk") && !h.contains("x5u") && !h.contains("other"));
        assert_eq!(h.raw().len(), 4);
        assert_eq!(h.raw()["x-custom"]["a"], 1);
        let plain = Header::parse(br#"{"alg":"ES256"}"#, rules).unwrap();
        assert!(!plain.carries_key());
        assert_eq!(
            Header::parse(br#"{"alg":"ES256","alg":"none"}"#, rules),
            Err(TokenError::DuplicateMember)
        );
        let big = format!(r#"{{"alg":"ES256","p":"{}"}}"#, "x".repeat(MAX_HEADER_LEN));
        assert_eq!(
            Header::parse(big.as_bytes(), rules),
            Err(TokenError::TooLarge)
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
