//! JWS algorithms (RFC 7518 §3, RFC 8037) and their `ring` verifiers.

use std::fmt;

/// A JWS signature algorithm this crate can verify.
///
/// `none` is not an algorithm here: it cannot be represented, so it cannot be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256, fixed-length `R||S`.
    ES256,
    /// ECDSA P-384 with SHA-384, fixed-length `R||S`.
    ES384,
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// HMAC SHA-256: only with a shared secret the host configures explicitly.
    HS256,
    /// HMAC SHA-384: only with a shared secret the host configures explicitly.
    HS384,
    /// HMAC SHA-512: only with a shared secret the host configures explicitly.
    HS512,
}

/// The key family an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFamily {
    /// RSA (`kty: RSA`).
    Rsa,
    /// ECDSA P-256 (`kty: EC`, `crv: P-256`).
    P256,
    /// ECDSA P-384 (`kty: EC`, `crv: P-384`).
    P384,
    /// Ed25519 (`kty: OKP`, `crv: Ed25519`).
    Ed25519,
    /// A shared secret (`kty: oct`).
    Secret,
}

/// Why a header `alg` value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgorithmError {
    /// `none`, in any letter case.
    None,
    /// Anything else this crate does not implement (exact, case-sensitive names only).
    Unsupported,
}

impl Algorithm {
    /// Every algorithm, asymmetric ones first.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
    ];

    /// Parses a JWS `alg` value: exact, case-sensitive (RFC 7518 names are case-sensitive).
    pub fn from_name(name: &str) -> Result<Algorithm, AlgorithmError> {
        let alg = match name {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "EdDSA" => Algorithm::EdDSA,
            "HS256" => Algorithm::HS256,
            "HS384" => Algorithm::HS384,
            "HS512" => Algorithm::HS512,
            n if n.trim().eq_ignore_ascii_case("none") => return Err(AlgorithmError::None),
            _ => return Err(AlgorithmError::Unsupported),
        };
        Ok(alg)
    }

    /// The JWS name.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// The key family the algorithm needs.
    pub const fn family(self) -> KeyFamily {
        match self {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyFamily::Rsa,
            Algorithm::ES256 => KeyFamily::P256,
            Algorithm::ES384 => KeyFamily::P384,
            Algorithm::EdDSA => KeyFamily::Ed25519,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => KeyFamily::Secret,
        }
    }

    /// Whether this is an HMAC algorithm (symmetric).
    pub const fn is_symmetric(self) -> bool {
        matches!(self.family(), KeyFamily::Secret)
    }

    /// The digest that `at_hash`, `c_hash` and friends use with this algorithm (OIDC Core
    /// 3.1.3.6: the hash of the JWS `alg`; SHA-512 for EdDSA with Ed25519).
    pub fn digest(self) -> &'static ring::digest::Algorithm {
        match self {
            Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 | Algorithm::HS256 => {
                &ring::digest::SHA256
            }
            Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 | Algorithm::HS384 => {
                &ring::digest::SHA384
            }
            _ => &ring::digest::SHA512,
        }
    }

    /// The `ring` verification algorithm, for asymmetric algorithms.
    pub(crate) fn ring_verifier(
        self,
    ) -> Option<&'static dyn ring::signature::VerificationAlgorithm> {
        if let Some(rsa) = self.ring_rsa() {
            return Some(rsa);
        }
        use ring::signature as s;
        Some(match self {
            Algorithm::ES256 => &s::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &s::ECDSA_P384_SHA384_FIXED,
            Algorithm::EdDSA => &s::ED25519,
            _ => return None,
        })
    }

    /// The `ring` RSA parameters, for RSA algorithms.
    pub(crate) fn ring_rsa(self) -> Option<&'static ring::signature::RsaParameters> {
        use ring::signature as s;
        Some(match self {
            Algorithm::RS256 => &s::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &s::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &s::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &s::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &s::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &s::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }

    /// The `ring` HMAC algorithm, for HMAC algorithms.
    pub(crate) fn ring_hmac(self) -> Option<ring::hmac::Algorithm> {
        Some(match self {
            Algorithm::HS256 => ring::hmac::HMAC_SHA256,
            Algorithm::HS384 => ring::hmac::HMAC_SHA384,
            Algorithm::HS512 => ring::hmac::HMAC_SHA512,
            _ => return None,
        })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A small set of algorithms (an allow-list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AlgorithmSet(u16);

impl AlgorithmSet {
    /// The empty set.
    pub const EMPTY: AlgorithmSet = AlgorithmSet(0);

    /// The default for access tokens (smart.md §3.2): RS256, RS384, ES256, ES384.
    pub const ACCESS_TOKEN_DEFAULT: AlgorithmSet = AlgorithmSet::EMPTY
        .with(Algorithm::RS256)
        .with(Algorithm::RS384)
        .with(Algorithm::ES256)
        .with(Algorithm::ES384);

    /// Every asymmetric algorithm this crate verifies.
    pub const ASYMMETRIC: AlgorithmSet = AlgorithmSet::ACCESS_TOKEN_DEFAULT
        .with(Algorithm::RS512)
        .with(Algorithm::PS256)
        .with(Algorithm::PS384)
        .with(Algorithm::PS512)
        .with(Algorithm::EdDSA);

    const fn bit(alg: Algorithm) -> u16 {
        1 << (alg as u16)
    }

    /// This set plus `alg`.
    pub const fn with(self, alg: Algorithm) -> AlgorithmSet {
        AlgorithmSet(self.0 | Self::bit(alg))
    }

    /// This set without `alg`.
    pub const fn without(self, alg: Algorithm) -> AlgorithmSet {
        AlgorithmSet(self.0 & !Self::bit(alg))
    }

    /// This set without the HMAC algorithms.
    pub const fn asymmetric(self) -> AlgorithmSet {
        self.without(Algorithm::HS256)
            .without(Algorithm::HS384)
            .without(Algorithm::HS512)
    }

    /// Whether `alg` is in the set.
    pub const fn contains(self, alg: Algorithm) -> bool {
        self.0 & Self::bit(alg) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in [`Algorithm::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }
}

impl FromIterator<Algorithm> for AlgorithmSet {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Self {
        iter.into_iter()
            .fold(AlgorithmSet::EMPTY, AlgorithmSet::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_in_any_spelling() {
        for n in ["none", "None", "NONE", "nOnE", " none"] {
            assert_eq!(Algorithm::from_name(n), Err(AlgorithmError::None), "{n}");
        }
        for n in ["rs256", "RS256 ", "ES512", "HS1", ""] {
            assert_eq!(
                Algorithm::from_name(n),
                Err(AlgorithmError::Unsupported),
                "{n}"
            );
        }
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.name()), Ok(a));
        }
    }

    #[test]
    fn sets() {
        let s = AlgorithmSet::ACCESS_TOKEN_DEFAULT;
        assert!(s.contains(Algorithm::RS256) && !s.contains(Algorithm::HS256));
        assert_eq!(s.iter().count(), 4);
        assert!(!AlgorithmSet::ASYMMETRIC.iter().any(Algorithm::is_symmetric));
    }
}
