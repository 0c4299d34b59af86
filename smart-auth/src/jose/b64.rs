//! Strict base64url (RFC 7515 §2, RFC 4648 §5): URL-safe alphabet, no padding, no whitespace,
//! canonical trailing bits.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};

const STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Decodes strict base64url; `None` for anything non-canonical.
pub fn decode(input: &str) -> Option<Vec<u8>> {
    decode_bytes(input.as_bytes())
}

/// Decodes strict base64url from bytes; `None` for anything non-canonical.
pub fn decode_bytes(input: &[u8]) -> Option<Vec<u8>> {
    STRICT.decode(input).ok()
}

/// Decodes strict base64url into `out`, returning the decoded length; `None` for anything
/// non-canonical or when `out` may be too small.
pub fn decode_into(input: &[u8], out: &mut [u8]) -> Option<usize> {
    STRICT.decode_slice(input, out).ok()
}

/// Encodes as unpadded base64url.
pub fn encode(input: &[u8]) -> String {
    STRICT.encode(input)
}
