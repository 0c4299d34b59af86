//! Public-key validation for the NIST curves: is `(x, y)` a point of P-256 or P-384?
//!
//! `ring` checks the point on every verification, but offers no way to ask at import time, and
//! a key set should refuse a bad key when it is loaded (with a reason the operator can read),
//! not fail every signature later. The check is the curve equation `y² = x³ − 3x + b (mod p)`
//! (SEC 1 v2 §3.2.2.1 steps 2-3; both curves have cofactor 1, so a point on the curve is in the
//! prime-order group, and `(x, y)` in affine form is never the point at infinity).
//!
//! The arithmetic is plain schoolbook multiplication and bit-serial reduction on 64-bit limbs:
//! slow (some microseconds per key) but short enough to check by eye, and it runs once per key
//! import, never per token. It need not be constant-time: public keys are public.

/// Limbs of a field element, little-endian; P-256 uses the low four.
const LIMBS: usize = 6;

type Fe = [u64; LIMBS];

/// A NIST prime curve `y² = x³ − 3x + b` over GF(p).
pub(super) struct Curve {
    /// Big-endian byte length of a coordinate.
    pub(super) len: usize,
    p: &'static [u8],
    b: &'static [u8],
}

/// NIST P-256 (SEC 2 v2 §2.4.2; FIPS 186-4 D.1.2.3).
pub(super) const P256: Curve = Curve {
    len: 32,
    p: &hex32(b"ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"),
    b: &hex32(b"5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
};

/// NIST P-384 (SEC 2 v2 §2.5.1; FIPS 186-4 D.1.2.4).
pub(super) const P384: Curve = Curve {
    len: 48,
    p: &hex48(
        b"fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe\
          ffffffff0000000000000000ffffffff",
    ),
    b: &hex48(
        b"b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875a\
          c656398d8a2ed19d2a85c8edd3ec2aef",
    ),
};

const fn hex_digit(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not a lowercase hex digit"),
    }
}

const fn hex<const N: usize>(s: &[u8]) -> [u8; N] {
    assert!(s.len() == 2 * N);
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = hex_digit(s[2 * i]) << 4 | hex_digit(s[2 * i + 1]);
        i += 1;
    }
    out
}

const fn hex32(s: &[u8]) -> [u8; 32] {
    hex(s)
}

const fn hex48(s: &[u8]) -> [u8; 48] {
    hex(s)
}

impl Curve {
    /// Whether `v` (big-endian, exactly [`Curve::len`] bytes) is below p.
    pub(super) fn is_field_element(&self, v: &[u8]) -> bool {
        v.len() == self.len && v < self.p
    }

    /// Whether `x` and `y` (big-endian, exactly [`Curve::len`] bytes each) are field elements
    /// (below p) that satisfy the curve equation.
    pub(super) fn contains(&self, x: &[u8], y: &[u8]) -> bool {
        if x.len() != self.len || y.len() != self.len || x >= self.p || y >= self.p {
            return false;
        }
        let p = from_be(self.p);
        let (x, y, b) = (from_be(x), from_be(y), from_be(self.b));
        let lhs = mul_mod(&y, &y, &p);
        let x3 = mul_mod(&mul_mod(&x, &x, &p), &x, &p);
        let three_x = add_mod(&add_mod(&x, &x, &p), &x, &p);
        let rhs = add_mod(&sub_mod(&x3, &three_x, &p), &b, &p);
        lhs == rhs
    }
}

/// A big-endian byte string of at most `8 * LIMBS` bytes as limbs.
fn from_be(bytes: &[u8]) -> Fe {
    let mut out = [0u64; LIMBS];
    for (i, byte) in bytes.iter().rev().enumerate() {
        out[i / 8] |= u64::from(*byte) << (8 * (i % 8));
    }
    out
}

/// `a >= b`, for limb strings of equal length.
fn geq(a: &[u64], b: &[u64]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

/// `a -= b` in place, for limb strings of equal length with `a >= b`.
fn sub_in_place(a: &mut [u64], b: &[u64]) {
    let mut borrow = false;
    for (x, y) in a.iter_mut().zip(b) {
        let (d, b1) = x.overflowing_sub(*y);
        let (d, b2) = d.overflowing_sub(u64::from(borrow));
        *x = d;
        borrow = b1 || b2;
    }
    debug_assert!(!borrow);
}

/// `a + b mod p` for `a, b < p`.
fn add_mod(a: &Fe, b: &Fe, p: &Fe) -> Fe {
    // One spare limb holds the carry: a + b < 2p < 2^385.
    let mut sum = [0u64; LIMBS + 1];
    let mut carry = 0u64;
    for i in 0..LIMBS {
        let s = u128::from(a[i]) + u128::from(b[i]) + u128::from(carry);
        sum[i] = s as u64;
        carry = (s >> 64) as u64;
    }
    sum[LIMBS] = carry;
    let mut wide_p = [0u64; LIMBS + 1];
    wide_p[..LIMBS].copy_from_slice(p);
    if geq(&sum, &wide_p) {
        sub_in_place(&mut sum, &wide_p);
    }
    let mut out = [0u64; LIMBS];
    out.copy_from_slice(&sum[..LIMBS]);
    out
}

/// `a - b mod p` for `a, b < p`.
fn sub_mod(a: &Fe, b: &Fe, p: &Fe) -> Fe {
    let mut out = *a;
    if geq(a, b) {
        sub_in_place(&mut out, b);
    } else {
        // a - b + p = a + (p - b), with p - b in 1..p.
        let mut p_minus_b = *p;
        sub_in_place(&mut p_minus_b, b);
        out = add_mod(a, &p_minus_b, p);
    }
    out
}

/// `a * b mod p` for `a, b < p`: the full product, then reduction one bit at a time.
fn mul_mod(a: &Fe, b: &Fe, p: &Fe) -> Fe {
    let mut product = [0u64; 2 * LIMBS];
    for i in 0..LIMBS {
        let mut carry = 0u128;
        for j in 0..LIMBS {
            let t = u128::from(a[i]) * u128::from(b[j]) + u128::from(product[i + j]) + carry;
            product[i + j] = t as u64;
            carry = t >> 64;
        }
        product[i + LIMBS] = carry as u64;
    }
    // Invariant: r < p before each step, so 2r + 1 < 2p fits the spare limb.
    let mut r = [0u64; LIMBS + 1];
    let mut wide_p = [0u64; LIMBS + 1];
    wide_p[..LIMBS].copy_from_slice(p);
    for bit in (0..64 * 2 * LIMBS).rev() {
        let mut carry = (product[bit / 64] >> (bit % 64)) & 1;
        for limb in r.iter_mut() {
            let next = *limb >> 63;
            *limb = *limb << 1 | carry;
            carry = next;
        }
        if geq(&r, &wide_p) {
            sub_in_place(&mut r, &wide_p);
        }
    }
    let mut out = [0u64; LIMBS];
    out.copy_from_slice(&r[..LIMBS]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn generators_are_on_their_curves() {
        // SEC 2 v2 §2.4.2 and §2.5.1.
        let g256 = (
            h("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"),
            h("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"),
        );
        let g384 = (
            h("aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7"),
            h("3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f"),
        );
        assert!(P256.contains(&g256.0, &g256.1));
        assert!(P384.contains(&g384.0, &g384.1));
        // Each generator is off the other curve, and off its own once y changes.
        let mut y = g256.1.clone();
        y[31] ^= 1;
        assert!(!P256.contains(&g256.0, &y));
        let mut y = g384.1.clone();
        y[0] ^= 0x80;
        assert!(!P384.contains(&g384.0, &y));
        // -G = (x, p - y) is on the curve too.
        let mut neg = from_be(P256.p);
        sub_in_place(&mut neg, &from_be(&g256.1));
        let neg: Vec<u8> = (0..32)
            .rev()
            .map(|i| (neg[i / 8] >> (8 * (i % 8))) as u8)
            .collect();
        assert!(P256.contains(&g256.0, &neg));
    }

    #[test]
    fn non_field_elements_and_wrong_lengths_are_refused() {
        let zero = [0u8; 32];
        assert!(!P256.contains(&zero, &zero), "(0, 0): b is not zero");
        assert!(!P256.contains(P256.p, &zero));
        assert!(!P256.contains(&zero[..31], &zero));
        assert!(!P384.contains(&zero, &zero));
    }

    #[test]
    fn modular_arithmetic_agrees_with_small_cases() {
        // Exercise the reduction on values around p: (p-1)^2 = 1 mod p, (p-1) + (p-1) = p-2.
        for curve in [&P256, &P384] {
            let p = from_be(curve.p);
            let mut pm1 = p;
            sub_in_place(&mut pm1, &from_be(&[1]));
            let mut one = [0u64; LIMBS];
            one[0] = 1;
            assert_eq!(mul_mod(&pm1, &pm1, &p), one);
            let mut pm2 = p;
            sub_in_place(&mut pm2, &from_be(&[2]));
            assert_eq!(add_mod(&pm1, &pm1, &p), pm2);
            assert_eq!(sub_mod(&one, &pm1, &p), from_be(&[2]));
            assert_eq!(sub_mod(&pm1, &pm1, &p), [0; LIMBS]);
        }
    }
}
