//! Extracting the one credential of a request (RFC 6750 §2, RFC 9449 §7.1).
//!
//! Exactly one `Authorization` header with scheme `Bearer` or `DPoP` (compared
//! case-insensitively) followed by one token68; a `DPoP` scheme needs exactly one `DPoP` proof
//! header. Tokens in the query string are refused; form-body tokens are never looked at.
//!
//! ```
//! use smart_auth::bearer::{extract_credential, Credential};
//! let mut headers = http::HeaderMap::new();
//! headers.insert("authorization", "bearer abc.def.ghi".parse().unwrap());
//! assert_eq!(extract_credential(&headers), Ok(Credential::Bearer("abc.def.ghi")));
//! ```

use http::header::AUTHORIZATION;
use http::HeaderMap;

use crate::error::TokenError;

/// The credential a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential<'a> {
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// `Authorization: DPoP <token>` with its `DPoP: <proof>` header.
    Dpop {
        /// The access token.
        token: &'a str,
        /// The DPoP proof JWT.
        proof: &'a str,
    },
}

impl<'a> Credential<'a> {
    /// The access token, whatever the scheme.
    pub fn token(&self) -> &'a str {
        match self {
            Credential::Bearer(t) => t,
            Credential::Dpop { token, .. } => token,
        }
    }
}

fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(|b| TOKEN68[usize::from(b)])
}

/// The characters of a token68 before its `=` padding (RFC 9110 §11.2), by byte: one lookup
/// per byte of a token checked on every request.
const TOKEN68: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

/// The credential in `headers`.
pub fn extract_credential(headers: &HeaderMap) -> Result<Credential<'_>, TokenError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(TokenError::MissingCredentials)?;
    if values.next().is_some() {
        return Err(TokenError::MultipleCredentials);
    }
    // The token is checked byte by byte once (token68 is visible ASCII); the whole value's
    // form decides only between refusal reasons.
    let malformed_or = |other: TokenError| match value.to_str() {
        Ok(_) => other,
        Err(_) => TokenError::MalformedAuthorization,
    };
    let bytes = value.as_bytes();
    let Some(space) = bytes.iter().position(|b| *b == b' ') else {
        return Err(
            if bytes.eq_ignore_ascii_case(b"bearer") || bytes.eq_ignore_ascii_case(b"dpop") {
                TokenError::MalformedAuthorization
            } else {
                malformed_or(TokenError::UnsupportedScheme)
            },
        );
    };
    let (scheme, rest) = (&bytes[..space], &bytes[space + 1..]);
    let bearer = scheme.eq_ignore_ascii_case(b"bearer");
    let dpop = scheme.eq_ignore_ascii_case(b"dpop");
    if !bearer && !dpop {
        return Err(malformed_or(TokenError::UnsupportedScheme));
    }
    let start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
    let token = match std::str::from_utf8(&rest[start..]) {
        Ok(t) if is_token68(t) => t,
        _ => return Err(TokenError::MalformedAuthorization),
    };
    if bearer {
        return Ok(Credential::Bearer(token));
    }
    let mut proofs = headers.get_all("dpop").iter();
    let proof = proofs
        .next()
        .ok_or(TokenError::InvalidDpopProof("missing"))?;
    if proofs.next().is_some() {
        return Err(TokenError::InvalidDpopProof("several proofs"));
    }
    let proof = proof
        .to_str()
        .map_err(|_| TokenError::InvalidDpopProof("malformed"))?;
    Ok(Credential::Dpop { token, proof })
}

/// As [`extract_credential`], also refusing a request whose query string carries an
/// `access_token` parameter (RFC 6750 §2.3: it leaks into logs).
pub fn extract_from_parts(parts: &http::request::Parts) -> Result<Credential<'_>, TokenError> {
    let in_query = parts.uri.query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "access_token")
    });
    match (in_query, extract_credential(&parts.headers)) {
        (false, r) => r,
        (true, Err(TokenError::MissingCredentials)) => Err(TokenError::TokenInQuery),
        (true, _) => Err(TokenError::MultipleCredentials),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_reasons_of_odd_header_bytes() {
        let reason = |raw: &[u8]| {
            let mut m = HeaderMap::new();
            m.insert(AUTHORIZATION, http::HeaderValue::from_bytes(raw).unwrap());
            extract_credential(&m).err()
        };
        for (raw, expected) in [
            (&b"Bearer abc\xff"[..], TokenError::MalformedAuthorization),
            (b"Basic \xff", TokenError::MalformedAuthorization),
            (b"\xff", TokenError::MalformedAuthorization),
            (b"Basic abc", TokenError::UnsupportedScheme),
            (b"Bearer\t abc", TokenError::UnsupportedScheme),
            (b"Bearer abc\tdef", TokenError::MalformedAuthorization),
            (b"bearer", TokenError::MalformedAuthorization),
            (b"DPoP", TokenError::MalformedAuthorization),
            (b"Token", TokenError::UnsupportedScheme),
            (b"Bearer ", TokenError::MalformedAuthorization),
        ] {
            assert_eq!(
                reason(raw),
                Some(expected),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        assert_eq!(reason(b"Bearer   abc=").map(|e| e.to_string()), None);
    }

    #[test]
    fn token68_table_holds_exactly_the_rfc_characters() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(TOKEN68[usize::from(b)], expected, "byte {b:#04x}");
        }
        assert!(is_token68("abc.DEF-_~+/0=="));
        for bad in ["", "==", "a=b", "a b", "a\u{e9}", "a,b"] {
            assert!(!is_token68(bad), "{bad:?}");
        }
    }

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    #[test]
    fn extraction_rules() {
        assert_eq!(
            extract_credential(&h(&[])),
            Err(TokenError::MissingCredentials)
        );
        assert_eq!(
            extract_credential(&h(&[("authorization", "BEARER a.b.c")])),
            Ok(Credential::Bearer("a.b.c"))
        );
        assert_eq!(
            extract_credential(&h(&[
                ("authorization", "Bearer a"),
                ("authorization", "Bearer b")
            ])),
            Err(TokenError::MultipleCredentials)
        );
        assert_eq!(
            extract_credential(&h(&[("authorization", "Basic dXNlcjpwYXNz")])),
            Err(TokenError::UnsupportedScheme)
        );
        assert_eq!(
            extract_credential(&h(&[("authorization", "Bearer")])),
            Err(TokenError::MalformedAuthorization)
        );
        assert_eq!(
            extract_credential(&h(&[("authorization", "Bearer a b")])),
            Err(TokenError::MalformedAuthorization)
        );
        assert_eq!(
            extract_credential(&h(&[("authorization", "Bearer a,b")])),
            Err(TokenError::MalformedAuthorization)
        );
        assert_eq!(
            extract_credential(&h(&[("authorization", "DPoP t.o.k"), ("dpop", "p.r.f")])),
            Ok(Credential::Dpop {
                token: "t.o.k",
                proof: "p.r.f"
            })
        );
        assert_eq!(
            extract_credential(&h(&[("authorization", "DPoP t.o.k")])),
            Err(TokenError::InvalidDpopProof("missing"))
        );
        assert_eq!(
            extract_credential(&h(&[
                ("authorization", "DPoP t"),
                ("dpop", "a"),
                ("dpop", "b")
            ])),
            Err(TokenError::InvalidDpopProof("several proofs"))
        );
    }

    #[test]
    fn query_tokens_refused() {
        let req = |uri: &str, auth: Option<&str>| {
            let mut b = http::Request::builder().uri(uri);
            if let Some(a) = auth {
                b = b.header("authorization", a);
            }
            b.body(()).unwrap().into_parts().0
        };
        assert_eq!(
            extract_from_parts(&req("/Patient?access_token=x", None)),
            Err(TokenError::TokenInQuery)
        );
        assert_eq!(
            extract_from_parts(&req("/Patient?access_token=x", Some("Bearer y"))),
            Err(TokenError::MultipleCredentials)
        );
        assert_eq!(
            extract_from_parts(&req("/Patient?name=x", Some("Bearer y"))),
            Ok(Credential::Bearer("y"))
        );
    }
}
