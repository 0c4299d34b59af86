//! JOSE building blocks: strict base64url, strict JSON, the JWS header, algorithms and the
//! compact-serialization JWS (RFC 7515 §7.1), verified with `ring`.
//!
//! [`CompactJws::parse`] performs only the cheap structural checks (size, segments, base64url,
//! header JSON); claims are decoded only after [`CompactJws::verify`] succeeded.

pub mod alg;
pub mod b64;
pub mod header;
pub mod json;

use serde_json::{Map, Value};

use crate::error::TokenError;
use crate::jwk::Jwk;
pub use alg::{Algorithm, AlgorithmSet, KeyFamily};
pub use header::{Header, HeaderRules};

/// Default cap on a whole token, before any decoding (smart.md §3.4).
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// Hard cap on a whole token, whatever the configuration (smart.md §3.4).
pub const HARD_MAX_TOKEN_LEN: usize = 64 * 1024;

/// The largest signature any accepted algorithm produces (RSA-8192).
const MAX_SIGNATURE_LEN: usize = 1024;

/// A JWS in compact serialization whose structure and header passed the checks, not yet
/// verified.
#[derive(Debug)]
pub struct CompactJws<'a> {
    header: Header,
    signing_input: &'a str,
    payload_b64: &'a str,
    /// The decoded signature (on the heap: a 1 KiB in-place buffer cost more to zero and to
    /// move than the allocation).
    signature: Vec<u8>,
}

/// Maps a strict-JSON failure to the token error.
pub(crate) fn json_error(e: json::JsonError) -> TokenError {
    match e {
        json::JsonError::DuplicateMember => TokenError::DuplicateMember,
        json::JsonError::TooDeep => TokenError::TooDeep,
        _ => TokenError::InvalidJson,
    }
}

impl<'a> CompactJws<'a> {
    /// Splits and checks a compact JWS: at most `max_len` bytes (and never more than
    /// [`HARD_MAX_TOKEN_LEN`]), exactly three segments, strict base64url, a strict-JSON header
    /// of at most 2 KiB that passes [`Header::parse`] under `rules`.
    pub fn parse(token: &'a str, max_len: usize, rules: HeaderRules) -> Result<Self, TokenError> {
        if token.len() > max_len.min(HARD_MAX_TOKEN_LEN) {
            return Err(TokenError::TooLarge);
        }
        let (h, rest) = token.split_once('.').ok_or(TokenError::NotCompactJws)?;
        let (p, s) = rest.split_once('.').ok_or(TokenError::NotCompactJws)?;
        // A further `.` is not looked for up front (the signature is the longest segment): it
        // cannot pass the signature's base64url decoding, and any failure is reported as
        // `NotCompactJws` when there is one, exactly as if it had been.
        Self::parse_parts(token, h, p, s, rules).map_err(|e| {
            if s.contains('.') {
                TokenError::NotCompactJws
            } else {
                e
            }
        })
    }

    fn parse_parts(
        token: &'a str,
        h: &'a str,
        p: &'a str,
        s: &'a str,
        rules: HeaderRules,
    ) -> Result<Self, TokenError> {
        if h.is_empty() {
            return Err(TokenError::NotCompactJws);
        }
        if h.len() > header::MAX_HEADER_LEN.div_ceil(3) * 4
            || b64::decoded_len(s.len()).unwrap_or(0) > MAX_SIGNATURE_LEN
        {
            return Err(TokenError::TooLarge);
        }
        // The header is small and bounded: decoded on the stack, into a short buffer unless it
        // is unusually long (zeroing the 2 KiB maximum showed in profiles).
        let mut short = [0u8; 256];
        let mut long = Vec::new();
        let buf = if b64::decoded_len(h.len()).unwrap_or(0) <= short.len() {
            &mut short[..]
        } else {
            long.resize(header::MAX_HEADER_LEN + 3, 0);
            &mut long[..]
        };
        let n = b64::decode_into(h.as_bytes(), buf).ok_or(TokenError::InvalidBase64)?;
        let header = Header::parse(&buf[..n], rules)?;
        // Checked after the header so that an unsigned token is reported as `alg: none`.
        if s.is_empty() {
            return Err(TokenError::NotCompactJws);
        }
        let signature = b64::decode(s).ok_or(TokenError::InvalidBase64)?;
        // The payload is decoded (strictly) only after verification: the signature covers its
        // text, so nothing is gained by looking at it earlier.
        let signing_input = &token[..h.len() + 1 + p.len()];
        Ok(CompactJws {
            header,
            signing_input,
            payload_b64: p,
            signature,
        })
    }

    /// The checked header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The signing input (`header.payload`, ASCII).
    pub fn signing_input(&self) -> &'a str {
        self.signing_input
    }

    /// The decoded signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Verifies the signature with `key` under the header's algorithm, which must be in
    /// `allowed` and permitted by the key. Returns the verified payload bytes.
    pub fn verify(&self, key: &Jwk, allowed: AlgorithmSet) -> Result<Vec<u8>, TokenError> {
        let alg = self.header.alg;
        if !allowed.contains(alg) || !key.permits(alg) {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        key.verify(alg, self.signing_input.as_bytes(), self.signature())?;
        b64::decode(self.payload_b64).ok_or(TokenError::InvalidBase64)
    }

    /// As [`CompactJws::verify`], then parses the payload as a strict-JSON claims object.
    pub fn verify_claims(
        &self,
        key: &Jwk,
        allowed: AlgorithmSet,
    ) -> Result<Map<String, Value>, TokenError> {
        let payload = self.verify(key, allowed)?;
        json::parse_object(&payload).map_err(json_error)
    }
}
