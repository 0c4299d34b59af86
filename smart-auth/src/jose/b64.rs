//! Strict base64url (RFC 7515 §2, RFC 4648 §5): URL-safe alphabet, no padding, no whitespace,
//! canonical trailing bits.
//!
//! Decoding is a small table-driven loop of our own (it runs over every byte of every token, and
//! is several times cheaper than a general-purpose engine); it is checked against the `base64`
//! crate's strict engine, which also does the encoding.

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

/// Marks a byte outside the alphabet (any value with the top bits set).
const INVALID: u8 = 0xff;

/// The 6-bit value of each base64url letter.
const TABLE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'-' as usize] = 62;
    t[b'_' as usize] = 63;
    t
};

/// The decoded length of `len` base64url characters, or `None` when no unpadded text has that
/// length.
pub fn decoded_len(len: usize) -> Option<usize> {
    match len % 4 {
        1 => None,
        rem => Some(len / 4 * 3 + rem.saturating_sub(1)),
    }
}

/// Decodes strict base64url; `None` for anything non-canonical.
pub fn decode(input: &str) -> Option<Vec<u8>> {
    decode_bytes(input.as_bytes())
}

/// Decodes strict base64url from bytes; `None` for anything non-canonical.
pub fn decode_bytes(input: &[u8]) -> Option<Vec<u8>> {
    let len = decoded_len(input.len())?;
    // Not `vec![0; len]`: that is `calloc`, which skips glibc's per-thread cache and cost more
    // than the decoding in profiles; a plain allocation and a `memset` do not.
    #[allow(clippy::slow_vector_initialization)]
    let mut out = Vec::with_capacity(len);
    out.resize(len, 0);
    decode_into(input, &mut out)?;
    Some(out)
}

/// [`TABLE`] with each value already shifted to its place in a group of four letters (24 bits),
/// and bit 31 set for bytes outside the alphabet: a group decodes with four loads and three ORs.
const fn shifted(shift: u32) -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if TABLE[i] == INVALID {
            1 << 31
        } else {
            (TABLE[i] as u32) << shift
        };
        i += 1;
    }
    t
}

const SHIFTED: [[u32; 256]; 4] = [shifted(18), shifted(12), shifted(6), shifted(0)];

/// Decodes strict base64url into the front of `out`, returning the decoded length; `None` for
/// anything non-canonical or when `out` is too small.
pub fn decode_into(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = decoded_len(input.len())?;
    let out = out.get_mut(..len)?;
    let full = input.len() / 4;
    let (quads, tail) = input.split_at(full * 4);
    // Invalid letters are collected and checked once, after the loop.
    let mut bad = 0u32;
    let [t0, t1, t2, t3] = &SHIFTED;
    let quad =
        |q: &[u8]| t0[q[0] as usize] | t1[q[1] as usize] | t2[q[2] as usize] | t3[q[3] as usize];
    // Two groups (six bytes) per step, stored as one eight-byte write while there is room (the
    // two extra bytes are overwritten by the next step).
    let mut pairs = quads.chunks_exact(8);
    let mut at = 0;
    for q in &mut pairs {
        let (a, b) = (quad(&q[..4]), quad(&q[4..]));
        bad |= a | b;
        let v = (u64::from(a) << 40 | u64::from(b) << 16).to_be_bytes();
        match out.get_mut(at..at + 8) {
            Some(dst) => dst.copy_from_slice(&v),
            None => out.get_mut(at..at + 6)?.copy_from_slice(&v[..6]),
        }
        at += 6;
    }
    if let [_, _, _, _] = pairs.remainder() {
        let v = quad(pairs.remainder());
        bad |= v;
        out.get_mut(at..at + 3)?
            .copy_from_slice(&v.to_be_bytes()[1..]);
        at += 3;
    }
    let rest = &mut out[at..];
    if bad & 1 << 31 != 0 {
        return None;
    }
    match *tail {
        [] => {}
        [a, b] => {
            let (a, b) = (TABLE[a as usize], TABLE[b as usize]);
            // Two letters carry one byte; the last four bits must be zero (canonical).
            if (a | b) & 0xc0 != 0 || b & 0x0f != 0 {
                return None;
            }
            rest[0] = a << 2 | b >> 4;
        }
        [a, b, c] => {
            let (a, b, c) = (TABLE[a as usize], TABLE[b as usize], TABLE[c as usize]);
            // Three letters carry two bytes; the last two bits must be zero.
            if (a | b | c) & 0xc0 != 0 || c & 0x03 != 0 {
                return None;
            }
            let v = u32::from(a) << 12 | u32::from(b) << 6 | u32::from(c);
            rest[0] = (v >> 10) as u8;
            rest[1] = (v >> 2) as u8;
        }
        _ => return None,
    }
    Some(len)
}

/// Encodes as unpadded base64url.
pub fn encode(input: &[u8]) -> String {
    STRICT.encode(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn oracle(input: &[u8]) -> Option<Vec<u8>> {
        STRICT.decode(input).ok()
    }

    #[test]
    fn known_answers() {
        assert_eq!(decode(""), Some(vec![]));
        assert_eq!(decode("Zg"), Some(b"f".to_vec()));
        assert_eq!(decode("Zm8"), Some(b"fo".to_vec()));
        assert_eq!(decode("Zm9v"), Some(b"foo".to_vec()));
        assert_eq!(decode("_-8"), Some(vec![0xff, 0xef]));
        for bad in [
            "Z", "Zm9vY", "Zh", "Zm9", "Zg==", "Zm+v", "Zm/v", "Zm 9v", "Zm9v\n", "Zm.v",
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
            assert_eq!(oracle(bad.as_bytes()), None, "oracle {bad:?}");
        }
        let mut small = [0u8; 2];
        assert_eq!(decode_into(b"Zm9v", &mut small), None);
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let text = encode(&bytes);
            prop_assert_eq!(decode(&text), Some(bytes));
        }

        #[test]
        fn agrees_with_the_strict_engine(
            text in proptest::collection::vec(
                prop_oneof![
                    8 => proptest::sample::select(
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()),
                    1 => any::<u8>(),
                ],
                0..40,
            )
        ) {
            prop_assert_eq!(decode_bytes(&text), oracle(&text));
        }
    }
}
