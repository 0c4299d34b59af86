//! JSON Web Keys (RFC 7517) as verification keys: the import filter of smart.md §3.5 and the
//! binding of algorithm to key.
//!
//! A [`Jwk`] only exists once it passed the filter: public, for signatures, of a supported type
//! and size. Which algorithms it may verify follows from its type and curve, narrowed by its
//! `alg` member.

mod curve;
mod ed25519;

use std::fmt;

use serde_json::{Map, Value};

use crate::error::TokenError;
use crate::jose::alg::{Algorithm, KeyFamily};
use crate::jose::b64;
use crate::jose::header::MAX_KID_LEN;

/// Why a JWK is not usable for verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    /// Not a JSON object, or a member has the wrong type.
    #[error("malformed JWK")]
    Malformed,
    /// `kty` is missing or not `RSA`, `EC` or `OKP`.
    #[error("unsupported key type")]
    UnsupportedKeyType,
    /// `kty: oct`: shared secrets never come from a key set.
    #[error("symmetric key in key set")]
    SymmetricKey,
    /// The JWK holds private or secret members (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`).
    #[error("private key material")]
    PrivateKeyMaterial,
    /// `use` is present and not `sig`.
    #[error("key not for signatures")]
    WrongUse,
    /// `key_ops` is present and does not contain `verify`, or repeats a value.
    #[error("key_ops does not permit verify")]
    WrongKeyOps,
    /// `alg` names an algorithm this crate does not verify, or one the key type cannot do.
    #[error("key algorithm unsupported or inconsistent with the key")]
    AlgorithmMismatch,
    /// RSA modulus outside 2048..=8192 bits.
    #[error("RSA modulus size outside 2048..=8192 bits")]
    WeakRsaKey,
    /// RSA exponent even, below 3 or above 2^33.
    #[error("bad RSA public exponent")]
    BadRsaExponent,
    /// The RSA modulus has the ROCA fingerprint (CVE-2017-15361).
    #[error("RSA modulus has the ROCA fingerprint")]
    RocaKey,
    /// `crv` is missing or not one this crate supports for `kty`.
    #[error("unsupported curve")]
    UnsupportedCurve,
    /// A coordinate or key value has the wrong length or is not a field element.
    #[error("invalid key value")]
    InvalidKeyValue,
    /// The EC point `(x, y)`, or the Ed25519 point encoded by `x`, is not on the curve (an
    /// invalid-curve attack, or a corrupted key).
    #[error("point not on the curve")]
    PointNotOnCurve,
    /// The Ed25519 key is one of the eight points of small order: signatures under it can be
    /// forged without any private key.
    #[error("Ed25519 point of small order")]
    SmallOrderPoint,
    /// `kid` is not printable ASCII of at most 256 bytes.
    #[error("malformed kid")]
    MalformedKeyId,
    /// A shared secret shorter than the hash output (RFC 7518 §3.2), or empty.
    #[error("shared secret too short")]
    SecretTooShort,
}

#[derive(Clone, PartialEq, Eq)]
enum KeyMaterial {
    Rsa {
        n: Box<[u8]>,
        e: Box<[u8]>,
    },
    /// Uncompressed SEC1 point `04 || x || y`.
    Ec {
        family: KeyFamily,
        point: Box<[u8]>,
    },
    Ed25519([u8; 32]),
    Secret(Secret),
}

/// A shared HMAC secret with its `ring` key, derived once here rather than per token.
#[derive(Clone)]
struct Secret {
    bytes: Box<[u8]>,
    key: ring::hmac::Key,
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.bytes == other.bytes && self.key.algorithm() == other.key.algorithm()
    }
}

impl Eq for Secret {}

/// A verification key that passed the import filter.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<Algorithm>,
    material: KeyMaterial,
    thumbprint: [u8; 32],
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secret material.
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("family", &self.family())
            .finish()
    }
}

impl Jwk {
    /// Parses and filters one JWK given as JSON text.
    pub fn from_json(json: &[u8]) -> Result<Jwk, JwkError> {
        let map = crate::jose::json::parse_object(json).map_err(|_| JwkError::Malformed)?;
        Jwk::from_object(&map)
    }

    /// Filters one JWK given as a parsed JSON object (smart.md §3.5 import filter).
    pub fn from_object(jwk: &Map<String, Value>) -> Result<Jwk, JwkError> {
        let kty = string(jwk, "kty")?.ok_or(JwkError::UnsupportedKeyType)?;
        if kty == "oct" {
            return Err(JwkError::SymmetricKey);
        }
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            if jwk.contains_key(private) {
                return Err(JwkError::PrivateKeyMaterial);
            }
        }
        if let Some(u) = string(jwk, "use")? {
            if u != "sig" {
                return Err(JwkError::WrongUse);
            }
        }
        if let Some(ops) = jwk.get("key_ops") {
            let ops = ops.as_array().ok_or(JwkError::Malformed)?;
            let mut names = Vec::with_capacity(ops.len());
            for op in ops {
                let op = op.as_str().ok_or(JwkError::Malformed)?;
                if names.contains(&op) {
                    return Err(JwkError::WrongKeyOps);
                }
                names.push(op);
            }
            if !names.contains(&"verify") {
                return Err(JwkError::WrongKeyOps);
            }
        }
        let kid = string(jwk, "kid")?.map(str::to_owned);
        if let Some(k) = &kid {
            if k.is_empty()
                || k.len() > MAX_KID_LEN
                || !k.bytes().all(|b| (0x20..0x7f).contains(&b))
            {
                return Err(JwkError::MalformedKeyId);
            }
        }
        let alg = match string(jwk, "alg")? {
            None => None,
            Some(a) => Some(Algorithm::from_name(a).map_err(|_| JwkError::AlgorithmMismatch)?),
        };
        let field = |name: &str| -> Result<Vec<u8>, JwkError> {
            let s = string(jwk, name)?.ok_or(JwkError::Malformed)?;
            b64::decode(s).ok_or(JwkError::Malformed)
        };
        let thumb_members: Vec<&str>;
        let material = match kty {
            "RSA" => {
                thumb_members = vec!["e", "kty", "n"];
                rsa_material(field("n")?, field("e")?)?
            }
            "EC" => {
                thumb_members = vec!["crv", "kty", "x", "y"];
                let family = match string(jwk, "crv")? {
                    Some("P-256") => KeyFamily::P256,
                    Some("P-384") => KeyFamily::P384,
                    _ => return Err(JwkError::UnsupportedCurve),
                };
                ec_material(family, &field("x")?, &field("y")?)?
            }
            "OKP" => {
                thumb_members = vec!["crv", "kty", "x"];
                if string(jwk, "crv")? != Some("Ed25519") {
                    return Err(JwkError::UnsupportedCurve);
                }
                let x: [u8; 32] = field("x")?
                    .try_into()
                    .map_err(|_| JwkError::InvalidKeyValue)?;
                ed25519_material(x)?
            }
            _ => return Err(JwkError::UnsupportedKeyType),
        };
        let key = Jwk {
            kid,
            alg,
            thumbprint: thumbprint(jwk, &thumb_members)?,
            material,
        };
        if let Some(a) = alg {
            if a.family() != key.family() {
                return Err(JwkError::AlgorithmMismatch);
            }
        }
        Ok(key)
    }

    /// A shared HMAC secret for one algorithm. Dangerous: anyone holding the secret can mint
    /// tokens, so this exists only for hosts that explicitly configure it. The secret must be at
    /// least as long as the hash output (RFC 7518 §3.2).
    pub fn dangerous_shared_secret(
        secret: &[u8],
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<Jwk, JwkError> {
        let hmac = alg.ring_hmac().ok_or(JwkError::AlgorithmMismatch)?;
        if secret.is_empty() || secret.len() < hmac.digest_algorithm().output_len() {
            return Err(JwkError::SecretTooShort);
        }
        Ok(Jwk {
            kid: kid.map(str::to_owned),
            alg: Some(alg),
            material: KeyMaterial::Secret(Secret {
                bytes: secret.into(),
                key: ring::hmac::Key::new(hmac, secret),
            }),
            thumbprint: [0; 32],
        })
    }

    /// `kid`, if the key has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The JWK `alg` member, if present.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }

    /// The key family (type and curve).
    pub fn family(&self) -> KeyFamily {
        match &self.material {
            KeyMaterial::Rsa { .. } => KeyFamily::Rsa,
            KeyMaterial::Ec { family, .. } => *family,
            KeyMaterial::Ed25519(_) => KeyFamily::Ed25519,
            KeyMaterial::Secret(_) => KeyFamily::Secret,
        }
    }

    /// Whether this key may verify `alg`: the key type and curve fit, and the JWK `alg`, when
    /// present, is exactly `alg` (RFC 7517 §4.4).
    pub fn permits(&self, alg: Algorithm) -> bool {
        alg.family() == self.family() && self.alg.is_none_or(|a| a == alg)
    }

    /// The RFC 7638 SHA-256 thumbprint (all zero for shared secrets, which have none).
    pub fn thumbprint_sha256(&self) -> [u8; 32] {
        self.thumbprint
    }

    /// The RFC 7638 thumbprint, base64url-encoded (the form of `cnf.jkt`).
    pub fn thumbprint_b64(&self) -> String {
        b64::encode(&self.thumbprint)
    }

    /// Verifies `signature` over `message` with `alg`, which this key must permit.
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), TokenError> {
        if !self.permits(alg) {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        let ok = match &self.material {
            KeyMaterial::Rsa { n, e } => match alg.ring_rsa() {
                Some(params) => ring::signature::RsaPublicKeyComponents { n: &**n, e: &**e }
                    .verify(params, message, signature)
                    .is_ok(),
                None => false,
            },
            KeyMaterial::Ec { point, .. } => unparsed(alg, point, message, signature),
            KeyMaterial::Ed25519(pk) => unparsed(alg, pk, message, signature),
            // `permits` bound `alg` to the secret's algorithm; checked again for the key.
            KeyMaterial::Secret(secret) => {
                alg.ring_hmac() == Some(secret.key.algorithm())
                    && ring::hmac::verify(&secret.key, message, signature).is_ok()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(TokenError::BadSignature)
        }
    }
}

fn unparsed(alg: Algorithm, key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    match alg.ring_verifier() {
        Some(v) => ring::signature::UnparsedPublicKey::new(v, key)
            .verify(message, signature)
            .is_ok(),
        None => false,
    }
}

fn string<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, JwkError> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JwkError::Malformed),
    }
}

fn thumbprint(jwk: &Map<String, Value>, members: &[&str]) -> Result<[u8; 32], JwkError> {
    // RFC 7638 §3: required members only, lexicographic order, no whitespace.
    let mut canonical = Map::new();
    for m in members {
        canonical.insert(
            (*m).to_owned(),
            jwk.get(*m).cloned().ok_or(JwkError::Malformed)?,
        );
    }
    let text = serde_json::to_vec(&Value::Object(canonical)).map_err(|_| JwkError::Malformed)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, &text);
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    Ok(out)
}

fn strip_zeros(v: &[u8]) -> &[u8] {
    let first = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    &v[first..]
}

/// Bit length of a big-endian integer without leading zero bytes (0 for the empty slice).
fn bit_len(v: &[u8]) -> usize {
    match v.first() {
        Some(b) => v.len() * 8 - b.leading_zeros() as usize,
        None => 0,
    }
}

fn rsa_material(n: Vec<u8>, e: Vec<u8>) -> Result<KeyMaterial, JwkError> {
    let n = strip_zeros(&n);
    let e = strip_zeros(&e);
    // Saturating: an empty (or all-zero) member must be refused, not underflow.
    let bits = bit_len(n);
    if !(2048..=8192).contains(&bits) {
        return Err(JwkError::WeakRsaKey);
    }
    // Odd, at least 3, at most 33 bits (ring's bound).
    let e_bits = bit_len(e);
    let odd = e.last().is_some_and(|b| b & 1 == 1);
    if !odd || !(2..=33).contains(&e_bits) {
        return Err(JwkError::BadRsaExponent);
    }
    if roca_fingerprint(n) {
        return Err(JwkError::RocaKey);
    }
    Ok(KeyMaterial::Rsa {
        n: n.into(),
        e: e.into(),
    })
}

/// The ROCA test (Nemec et al., CCS 2017): a modulus made by the vulnerable generator is, modulo
/// each small prime p below, in the subgroup generated by 65537. A random modulus passes all of
/// them with negligible probability.
fn roca_fingerprint(n: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&p| {
        let r = n
            .iter()
            .fold(0u32, |acc, &b| (acc * 256 + u32::from(b)) % p);
        // Walk the subgroup <65537 mod p>.
        let g = 65537 % p;
        let mut x = 1u32;
        for _ in 0..p {
            if x == r {
                return true;
            }
            x = x * g % p;
            if x == 1 {
                break;
            }
        }
        false
    })
}

fn ec_material(family: KeyFamily, x: &[u8], y: &[u8]) -> Result<KeyMaterial, JwkError> {
    let curve = if family == KeyFamily::P256 {
        &curve::P256
    } else {
        &curve::P384
    };
    // Coordinates are full-length field elements (RFC 7518 §6.2.1.2) ...
    if x.len() != curve.len
        || y.len() != curve.len
        || !curve.is_field_element(x)
        || !curve.is_field_element(y)
    {
        return Err(JwkError::InvalidKeyValue);
    }
    // ... of a point on the curve (SEC 1 §3.2.2.1): refused here, at import, rather than
    // failing every verification later.
    if !curve.contains(x, y) {
        return Err(JwkError::PointNotOnCurve);
    }
    let mut point = Vec::with_capacity(1 + 2 * curve.len);
    point.push(4);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    Ok(KeyMaterial::Ec {
        family,
        point: point.into(),
    })
}

fn ed25519_material(x: [u8; 32]) -> Result<KeyMaterial, JwkError> {
    // Refused here, at import, rather than at every verification (where `ring` would accept
    // a non-canonical or small-order key).
    ed25519::check_public_key(&x).map_err(|e| match e {
        ed25519::PointError::NonCanonical => JwkError::InvalidKeyValue,
        ed25519::PointError::NotOnCurve => JwkError::PointNotOnCurve,
        ed25519::PointError::SmallOrder => JwkError::SmallOrderPoint,
    })?;
    Ok(KeyMaterial::Ed25519(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 §3.1.
        let jwk = br#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#;
        let k = Jwk::from_json(jwk).unwrap();
        assert_eq!(
            k.thumbprint_b64(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert!(k.permits(Algorithm::RS256));
        assert!(!k.permits(Algorithm::RS384));
        assert!(!k.permits(Algorithm::HS256));
    }

    #[test]
    fn zero_and_empty_rsa_values_are_refused_without_panicking() {
        let rsa = |n: &str, e: &str| {
            Jwk::from_json(format!(r#"{{"kty":"RSA","n":"{n}","e":"{e}"}}"#).as_bytes())
        };
        assert_eq!(rsa("AA", "AQAB"), Err(JwkError::WeakRsaKey));
        assert_eq!(rsa("", "AQAB"), Err(JwkError::WeakRsaKey));
        let n = crate::jose::b64::encode(&[0xff; 256]);
        assert_eq!(rsa(&n, "AA"), Err(JwkError::BadRsaExponent));
        assert_eq!(rsa(&n, ""), Err(JwkError::BadRsaExponent));
        assert_eq!(rsa(&n, "AQ"), Err(JwkError::BadRsaExponent));
    }

    #[test]
    fn filter_rejections() {
        let ec = |extra: &str| {
            format!(
                r#"{{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"{extra}}}"#
            )
        };
        assert!(Jwk::from_json(ec("").as_bytes()).is_ok());
        let cases = [
            (r#","use":"enc""#, JwkError::WrongUse),
            (r#","key_ops":["encrypt"]"#, JwkError::WrongKeyOps),
            (r#","key_ops":["verify","verify"]"#, JwkError::WrongKeyOps),
            (r#","alg":"RS256""#, JwkError::AlgorithmMismatch),
            (r#","alg":"ES224""#, JwkError::AlgorithmMismatch),
            (r#","d":"AA""#, JwkError::PrivateKeyMaterial),
            (r#","kid":7"#, JwkError::Malformed),
        ];
        for (extra, want) in cases {
            assert_eq!(Jwk::from_json(ec(extra).as_bytes()), Err(want), "{extra}");
        }
        // The same key with y changed in its last bit: a field element, but off the curve.
        let off_curve = ec("").replace("a0\"", "a4\"");
        assert_eq!(
            Jwk::from_json(off_curve.as_bytes()),
            Err(JwkError::PointNotOnCurve)
        );
        assert_eq!(
            Jwk::from_json(br#"{"kty":"oct","k":"AAAA"}"#),
            Err(JwkError::SymmetricKey)
        );
        assert_eq!(
            Jwk::from_json(br#"{"kty":"OKP","crv":"X25519","x":"AAAA"}"#),
            Err(JwkError::UnsupportedCurve)
        );
        assert_eq!(
            Jwk::dangerous_shared_secret(&[1; 31], Algorithm::HS256, None),
            Err(JwkError::SecretTooShort)
        );
        assert!(Jwk::dangerous_shared_secret(&[1; 32], Algorithm::HS256, None).is_ok());
    }

    fn okp(x: &[u8]) -> Result<Jwk, JwkError> {
        let x = b64::encode(x);
        Jwk::from_json(format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}"}}"#).as_bytes())
    }

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn ed25519_keys_checked_at_import() {
        // RFC 8037 §A.1.
        assert!(okp(&hex32(
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        ))
        .is_ok());
        // The eight small-order points, each y with both sign bits (x = 0 included).
        let small_order = [
            "0100000000000000000000000000000000000000000000000000000000000000",
            "0100000000000000000000000000000000000000000000000000000000000080",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0000000000000000000000000000000000000000000000000000000000000080",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
            "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        ];
        for k in small_order {
            assert_eq!(okp(&hex32(k)), Err(JwkError::SmallOrderPoint), "{k}");
        }
        // y >= p: p and p + 1 (0 and 1 again, small order), p + 3 (3 is on the curve), 2^255 - 1.
        let non_canonical = [
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ];
        for k in non_canonical {
            assert_eq!(okp(&hex32(k)), Err(JwkError::InvalidKeyValue), "{k}");
        }
        // y = 2 and y = 7: (y² - 1) / (d·y² + 1) is not a square. y = 3 is on the curve.
        let mut y = [0u8; 32];
        for (v, want) in [
            (2, Err(JwkError::PointNotOnCurve)),
            (7, Err(JwkError::PointNotOnCurve)),
        ] {
            y[0] = v;
            assert_eq!(okp(&y), want, "y = {v}");
        }
        y[0] = 3;
        assert!(okp(&y).is_ok());
        assert_eq!(okp(&[0x58; 31]), Err(JwkError::InvalidKeyValue));
        assert_eq!(okp(&[0x58; 33]), Err(JwkError::InvalidKeyValue));
    }

    #[test]
    fn ring_alone_would_accept_a_forgery_under_the_identity_key() {
        // Why small-order keys are refused at import: for A = identity, R = identity and
        // S = 0 satisfy [S]B = R + [h]A for every message.
        let identity = hex32("0100000000000000000000000000000000000000000000000000000000000000");
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let ring_key = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, identity);
        assert!(ring_key.verify(b"any message", &sig).is_ok());
        assert_eq!(okp(&identity), Err(JwkError::SmallOrderPoint));
    }
}
