//! RFC 9162 §2.1 Merkle tree hashing, proofs and their verification.
//!
//! The hashing is the one of Certificate Transparency (RFC 6962 §2.1, unchanged in RFC 9162):
//! a leaf is `SHA-256(0x00 || data)`, an interior node `SHA-256(0x01 || left || right)`, and the
//! split point of a range of `n > 1` leaves is the largest power of two strictly below `n`.
//! The `0x00`/`0x01` prefixes keep an interior node from being presented as a leaf.

mod proof;
mod tree;

pub use proof::{
    verify_consistency, verify_consistency_bytes, verify_inclusion, verify_inclusion_bytes,
    ConsistencyProof, InclusionProof, ProofError,
};
pub use tree::MerkleTree;

use ring::digest;

/// A SHA-256 hash: a leaf hash, an interior node or a tree root.
pub type Hash = [u8; 32];

/// `MTH({})`: the root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    finish(digest::Context::new(&digest::SHA256))
}

/// The leaf hash of one record: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&[0x00]);
    ctx.update(data);
    finish(ctx)
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    let d = digest::digest(&digest::SHA256, &buf);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn finish(ctx: digest::Context) -> Hash {
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The largest power of two strictly less than `n` (`n >= 2`).
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_points() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    fn hex(h: &[u8]) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }
}
