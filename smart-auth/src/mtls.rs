//! Certificate-bound access tokens (RFC 8705 §3): `cnf.x5t#S256` must equal the base64url
//! SHA-256 of the DER client certificate presented on the TLS connection.
//!
//! The host terminates TLS and passes the certificate it saw; the crate only compares.

use crate::context::AccessContext;
use crate::error::TokenError;
use crate::jose::b64;

/// The RFC 8705 thumbprint of a DER certificate: base64url(SHA-256(der)).
pub fn certificate_thumbprint(der: &[u8]) -> String {
    b64::encode(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

/// Checks that a certificate-bound token was presented with its certificate.
///
/// Returns `Ok` when the token carries `cnf.x5t#S256` and it matches `client_certificate`
/// (constant-time comparison); [`TokenError::CertificateMismatch`] when the token is bound and
/// the certificate is missing or different, or when the token is not certificate-bound at all
/// (call this only for tokens the host expects to be bound).
pub fn check_certificate_binding(
    context: &AccessContext,
    client_certificate: Option<&[u8]>,
) -> Result<(), TokenError> {
    let expected = context
        .certificate_thumbprint()
        .ok_or(TokenError::CertificateMismatch)?;
    let cert = client_certificate.ok_or(TokenError::CertificateMismatch)?;
    let actual = certificate_thumbprint(cert);
    if ring_eq(expected.as_bytes(), actual.as_bytes()) {
        Ok(())
    } else {
        Err(TokenError::CertificateMismatch)
    }
}

/// Constant-time equality (length is not secret).
pub(crate) fn ring_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
