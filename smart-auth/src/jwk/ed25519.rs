//! Public-key validation for Ed25519: is `x` the canonical encoding of a point of edwards25519
//! outside the small-order subgroup?
//!
//! `ring` decodes the point only when it verifies, and accepts a non-canonical `y` there; a key
//! set should refuse a bad key when it is loaded, with a reason the operator can read. The
//! checks follow RFC 8032 §5.1.3 (decoding) and refuse the eight points of small order, which
//! verify signatures that no private key made ("Taming the many EdDSAs", Chalkias et al. 2020).
//!
//! The arithmetic is plain schoolbook multiplication on four 64-bit limbs, folding the high
//! half with 2^256 = 38 (mod p). It runs once per key import and need not be constant-time:
//! public keys are public.

/// A field element mod p = 2^255 - 19, little-endian limbs, always fully reduced (< p).
type Fe = [u64; 4];

/// Why a 32-byte Ed25519 public key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PointError {
    /// `y` is not below p (a non-canonical encoding).
    NonCanonical,
    /// No `x` satisfies the curve equation for this `y`.
    NotOnCurve,
    /// The point is one of the eight of small order (the 8-torsion subgroup).
    SmallOrder,
}

const P: Fe = [
    0xffff_ffff_ffff_ffed,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_ffff_ffff,
    0x7fff_ffff_ffff_ffff,
];

/// d = -121665/121666 (RFC 8032 §5.1).
const D: Fe = [
    0x75eb_4dca_1359_78a3,
    0x0070_0a4d_4141_d8ab,
    0x8cc7_4079_7779_e898,
    0x5203_6cee_2b6f_fe73,
];

const ZERO: Fe = [0; 4];
const ONE: Fe = [1, 0, 0, 0];

/// (p - 5) / 8 = 2^252 - 3, the exponent of the square-root candidate.
const P_MINUS_5_OVER_8: Fe = [
    0xffff_ffff_ffff_fffd,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_ffff_ffff,
    0x0fff_ffff_ffff_ffff,
];

/// The `y` of the order-8 points: these and p - y8 (plus 0, 1 and p - 1, the points of order
/// 4, 1 and 2) are the `y` of all eight small-order points.
const Y8: Fe = [
    0xb027_b2c2_8f95_e826,
    0xf098_eff2_89f4_c345,
    0x3933_c6d3_05ac_dfd5,
    0x05fc_536d_8802_38b1,
];

/// Checks a 32-byte Ed25519 public key: canonical `y`, on the curve, not of small order.
pub(super) fn check_public_key(key: &[u8; 32]) -> Result<(), PointError> {
    let mut y = from_le(key);
    // Bit 255 is the sign of x; it only chooses between x and -x, both on the curve.
    y[3] &= 0x7fff_ffff_ffff_ffff;
    if !less_than(&y, &P) {
        return Err(PointError::NonCanonical);
    }
    let minus = |v: &Fe| sub(&ZERO, v);
    if [ZERO, ONE, minus(&ONE), Y8, minus(&Y8)].contains(&y) {
        return Err(PointError::SmallOrder);
    }
    if recover_x(&y).is_none() {
        return Err(PointError::NotOnCurve);
    }
    // RFC 8032 §5.1.3 step 4 (x = 0 with the sign bit set) cannot arise: x = 0 only for
    // y = ±1, refused above.
    Ok(())
}

/// An `x` with -x² + y² = 1 + d·x²·y², i.e. x² = (y² - 1) / (d·y² + 1), if there is one
/// (RFC 8032 §5.1.3 steps 2-3; which of ±x it returns is unspecified).
fn recover_x(y: &Fe) -> Option<Fe> {
    let yy = mul(y, y);
    let u = sub(&yy, &ONE);
    // Never zero: d is not a square, so d·y² ≠ -1.
    let v = add(&mul(&D, &yy), &ONE);
    let v3 = mul(&mul(&v, &v), &v);
    let uv7 = mul(&mul(&u, &v3), &mul(&v3, &v));
    let x = mul(&mul(&u, &v3), &pow(&uv7, &P_MINUS_5_OVER_8));
    let vxx = mul(&v, &mul(&x, &x));
    if vxx == u {
        Some(x)
    } else if vxx == sub(&ZERO, &u) {
        Some(mul(&x, &sqrt_minus_one()))
    } else {
        None
    }
}

/// 2^((p - 1) / 4), a square root of -1.
fn sqrt_minus_one() -> Fe {
    // (p - 1) / 4 = 2^253 - 5.
    const E: Fe = [
        0xffff_ffff_ffff_fffb,
        0xffff_ffff_ffff_ffff,
        0xffff_ffff_ffff_ffff,
        0x1fff_ffff_ffff_ffff,
    ];
    pow(&[2, 0, 0, 0], &E)
}

fn from_le(bytes: &[u8; 32]) -> Fe {
    let mut out = [0u64; 4];
    for (limb, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        *limb = u64::from_le_bytes(word);
    }
    out
}

fn less_than(a: &Fe, b: &Fe) -> bool {
    a.iter().rev().cmp(b.iter().rev()).is_lt()
}

/// `a - b` as 256-bit integers, wrapping, with the borrow out.
fn sub_wrapping(a: &Fe, b: &Fe) -> (Fe, bool) {
    let mut out = [0u64; 4];
    let mut borrow = false;
    for i in 0..4 {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(u64::from(borrow));
        out[i] = d;
        borrow = b1 || b2;
    }
    (out, borrow)
}

/// `a + b` as 256-bit integers, wrapping, with the carry out.
fn add_wrapping(a: &Fe, b: &Fe) -> (Fe, bool) {
    let mut out = [0u64; 4];
    let mut carry = false;
    for i in 0..4 {
        let (s, c1) = a[i].overflowing_add(b[i]);
        let (s, c2) = s.overflowing_add(u64::from(carry));
        out[i] = s;
        carry = c1 || c2;
    }
    (out, carry)
}

/// Reduces any value below 2^256 (< 2p + 38) into 0..p.
fn reduce(mut a: Fe) -> Fe {
    while !less_than(&a, &P) {
        a = sub_wrapping(&a, &P).0;
    }
    a
}

fn add(a: &Fe, b: &Fe) -> Fe {
    // a + b < 2p < 2^256: no carry out.
    reduce(add_wrapping(a, b).0)
}

fn sub(a: &Fe, b: &Fe) -> Fe {
    match sub_wrapping(a, b) {
        (d, false) => d,
        // a - b + p, with the wrap-around undone by the carry.
        (d, true) => add_wrapping(&d, &P).0,
    }
}

fn mul(a: &Fe, b: &Fe) -> Fe {
    let mut wide = [0u64; 8];
    for i in 0..4 {
        let mut carry = 0u128;
        for j in 0..4 {
            let t = u128::from(a[i]) * u128::from(b[j]) + u128::from(wide[i + j]) + carry;
            wide[i + j] = t as u64;
            carry = t >> 64;
        }
        wide[i + 4] = carry as u64;
    }
    // 2^256 = 2p + 38 ≡ 38: fold the high half into the low one ...
    let mut low = [0u64; 4];
    let mut carry = 0u128;
    for i in 0..4 {
        let t = u128::from(wide[i]) + u128::from(wide[i + 4]) * 38 + carry;
        low[i] = t as u64;
        carry = t >> 64;
    }
    // ... and the carry (< 39) likewise. If that wraps, the result is below 38 · 39, so one
    // more 38 cannot wrap again.
    let (low, wrapped) = add_wrapping(&low, &[carry as u64 * 38, 0, 0, 0]);
    let low = if wrapped {
        add_wrapping(&low, &[38, 0, 0, 0]).0
    } else {
        low
    };
    reduce(low)
}

/// `base^exp` by square-and-multiply over the bits of `exp`.
fn pow(base: &Fe, exp: &Fe) -> Fe {
    let mut acc = ONE;
    for bit in (0..256).rev() {
        acc = mul(&acc, &acc);
        if exp[bit / 64] >> (bit % 64) & 1 == 1 {
            acc = mul(&acc, base);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fe(n: u64) -> Fe {
        [n, 0, 0, 0]
    }

    fn key(hex: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    fn inv(a: &Fe) -> Fe {
        // p - 2 = 2^255 - 21.
        pow(a, &sub_wrapping(&P, &fe(2)).0)
    }

    /// Point doubling on -x² + y² = 1 + d·x²·y² in affine coordinates (RFC 8032 §5.1.4 with
    /// both points equal): x' = 2xy / (y² - x²), y' = (y² + x²) / (2 - y² + x²).
    fn double((x, y): (Fe, Fe)) -> (Fe, Fe) {
        let (xx, yy) = (mul(&x, &x), mul(&y, &y));
        let xy = mul(&x, &y);
        let x2 = mul(&add(&xy, &xy), &inv(&sub(&yy, &xx)));
        let y2 = mul(&add(&yy, &xx), &inv(&add(&sub(&fe(2), &yy), &xx)));
        (x2, y2)
    }

    #[test]
    fn constants() {
        // d · 121666 = -121665.
        assert_eq!(mul(&D, &fe(121_666)), sub(&ZERO, &fe(121_665)));
        let i = sqrt_minus_one();
        assert_eq!(mul(&i, &i), sub(&ZERO, &ONE));
        // (p - 1)² = 1, and p - 1 + p - 1 = p - 2.
        let pm1 = sub(&ZERO, &ONE);
        assert_eq!(mul(&pm1, &pm1), ONE);
        assert_eq!(add(&pm1, &pm1), sub(&ZERO, &fe(2)));
        // 2^255 = 19 (mod p), as 2^128 · 2^127.
        assert_eq!(
            mul(&[0, 0, 1, 0], &[0, 0x8000_0000_0000_0000, 0, 0]),
            fe(19)
        );
        assert_eq!(mul(&inv(&fe(7)), &fe(7)), ONE);
    }

    #[test]
    fn base_point_decodes_and_has_large_order() {
        // RFC 8032 §5.1: B = (x, 4/5), encoded 5866666666...66.
        let b = key("5866666666666666666666666666666666666666666666666666666666666666");
        assert_eq!(check_public_key(&b), Ok(()));
        let y = from_le(&b);
        assert_eq!(mul(&y, &fe(5)), fe(4));
        let x = recover_x(&y).unwrap();
        let mut p = (x, y);
        for _ in 0..3 {
            p = double(p);
        }
        assert_ne!(p, (ZERO, ONE), "8B is not the identity");
    }

    #[test]
    fn the_small_order_list_is_the_8_torsion() {
        // Every y on the list is on the curve and 8P is the identity for both of its x.
        let minus = |v: &Fe| sub(&ZERO, v);
        for y in [ZERO, ONE, minus(&ONE), Y8, minus(&Y8)] {
            let x = recover_x(&y).expect("small-order y decodes");
            for x in [x, minus(&x)] {
                let mut p = (x, y);
                for _ in 0..3 {
                    p = double(p);
                }
                assert_eq!(p, (ZERO, ONE), "{y:x?}");
            }
        }
    }
}
