//! Proof types and the RFC 9162 §2.1.3.2 / §2.1.4.2 verification algorithms.

use super::{node_hash, Hash};

/// A proof that one leaf is in the tree of a given size (RFC 9162 §2.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The 0-based index of the leaf.
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// The sibling hashes from the leaf up to the root.
    pub path: Vec<Hash>,
}

/// A proof that the tree of `first_size` leaves is a prefix of the tree of `second_size`
/// leaves (RFC 9162 §2.1.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The size of the older tree.
    pub first_size: u64,
    /// The size of the newer tree.
    pub second_size: u64,
    /// The proof nodes.
    pub path: Vec<Hash>,
}

/// Why a proof did not verify. Every variant means "not proven"; none is a partial success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index is not below the tree size")]
    IndexOutOfRange,
    /// The first tree is larger than the second.
    #[error("first tree size exceeds the second")]
    SizesReversed,
    /// A consistency proof from the empty tree proves nothing and is refused.
    #[error("consistency proof from the empty tree")]
    EmptyFirstTree,
    /// The proof has the wrong number of nodes for the sizes given.
    #[error("proof has the wrong length")]
    WrongLength,
    /// The recomputed root differs from the expected one.
    #[error("recomputed root does not match")]
    RootMismatch,
}

impl InclusionProof {
    /// Verifies that `leaf` (a leaf hash) is at this proof's index in the tree whose root is
    /// `root`.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), ProofError> {
        verify_inclusion(self.leaf_index, self.tree_size, leaf, &self.path, root)
    }
}

impl ConsistencyProof {
    /// Verifies that the tree with root `first_root` is a prefix of the one with `second_root`.
    pub fn verify(&self, first_root: &Hash, second_root: &Hash) -> Result<(), ProofError> {
        verify_consistency(
            self.first_size,
            self.second_size,
            first_root,
            second_root,
            &self.path,
        )
    }
}

/// RFC 9162 §2.1.3.2: verifies an inclusion proof of `leaf` (a leaf hash) at `index` in the
/// tree of `size` leaves with root `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange);
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if !constant_time_eq(&r, root) {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: verifies that the tree of `first` leaves with root `first_root` is a
/// prefix of the tree of `second` leaves with root `second_root`.
///
/// Edge cases follow transparency-dev/merkle: a proof from the empty tree is refused, equal
/// sizes need an empty proof and equal roots.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    path: &[Hash],
) -> Result<(), ProofError> {
    if first == 0 {
        return Err(ProofError::EmptyFirstTree);
    }
    if first > second {
        return Err(ProofError::SizesReversed);
    }
    if first == second {
        if !path.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if constant_time_eq(first_root, second_root) {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if path.is_empty() {
        return Err(ProofError::WrongLength);
    }
    // Step 2: a power-of-two first tree is itself a node of the second; start from its root.
    let (start, rest): (Hash, &[Hash]) = if first.is_power_of_two() {
        (*first_root, path)
    } else {
        (path[0], &path[1..])
    };
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (start, start);
    for c in rest {
        if snode == 0 {
            return Err(ProofError::WrongLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongLength);
    }
    if !constant_time_eq(&fr, first_root) || !constant_time_eq(&sr, second_root) {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// [`verify_inclusion`] over untrusted byte strings (e.g. decoded from JSON): every hash must be
/// exactly 32 bytes, or the proof fails.
pub fn verify_inclusion_bytes(
    index: u64,
    size: u64,
    leaf: &[u8],
    path: &[&[u8]],
    root: &[u8],
) -> Result<(), ProofError> {
    let leaf: Hash = leaf.try_into().map_err(|_| ProofError::RootMismatch)?;
    let root: Hash = root.try_into().map_err(|_| ProofError::RootMismatch)?;
    let path = to_hashes(path)?;
    verify_inclusion(index, size, &leaf, &path, &root)
}

/// [`verify_consistency`] over untrusted byte strings. Every proof node must be 32 bytes. For
/// equal sizes the roots are compared as given (a tree is consistent with itself whatever the
/// encoding of its root), matching transparency-dev/merkle; otherwise they must be 32 bytes.
pub fn verify_consistency_bytes(
    first: u64,
    second: u64,
    first_root: &[u8],
    second_root: &[u8],
    path: &[&[u8]],
) -> Result<(), ProofError> {
    if first != 0 && first == second && path.is_empty() {
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let r1: Hash = first_root
        .try_into()
        .map_err(|_| ProofError::RootMismatch)?;
    let r2: Hash = second_root
        .try_into()
        .map_err(|_| ProofError::RootMismatch)?;
    verify_consistency(first, second, &r1, &r2, &to_hashes(path)?)
}

fn to_hashes(path: &[&[u8]]) -> Result<Vec<Hash>, ProofError> {
    path.iter()
        .map(|p| Hash::try_from(*p).map_err(|_| ProofError::RootMismatch))
        .collect()
}

fn constant_time_eq(a: &Hash, b: &Hash) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
