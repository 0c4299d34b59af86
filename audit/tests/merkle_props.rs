//! Property tests: every generated proof verifies, and every alteration of one does not.

use fhir_audit::merkle::{leaf_hash, verify_consistency, verify_inclusion, MerkleTree};
use proptest::prelude::*;

fn tree(n: u64) -> MerkleTree {
    let mut t = MerkleTree::new();
    for i in 0..n {
        t.push(leaf_hash(&i.to_le_bytes()));
    }
    t
}

/// One way to alter a proof: flip a bit of a node, drop or add a node, change a size or index.
#[derive(Debug, Clone)]
enum Alteration {
    FlipBit { node: usize, bit: u8 },
    Drop { node: usize },
    Insert { node: usize, byte: u8 },
    Index { delta: i64 },
    Size { delta: i64 },
}

fn alteration() -> impl Strategy<Value = Alteration> {
    prop_oneof![
        (any::<usize>(), 0u8..=255).prop_map(|(node, bit)| Alteration::FlipBit { node, bit }),
        any::<usize>().prop_map(|node| Alteration::Drop { node }),
        (any::<usize>(), any::<u8>()).prop_map(|(node, byte)| Alteration::Insert { node, byte }),
        prop_oneof![-3i64..0, 1i64..4].prop_map(|delta| Alteration::Index { delta }),
        prop_oneof![-3i64..0, 1i64..4].prop_map(|delta| Alteration::Size { delta }),
    ]
}

fn shift(x: u64, d: i64) -> Option<u64> {
    x.checked_add_signed(d)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn inclusion_proofs_verify(size in 1u64..300, seed in any::<u64>()) {
        let t = tree(size);
        let index = seed % size;
        let p = t.inclusion_proof(index, size).unwrap();
        prop_assert!(p.verify(&t.leaf(index).unwrap(), &t.root_at(size).unwrap()).is_ok());
        // The proof also holds inside every larger tree state's own proof, checked from scratch.
        let root = t.root_at(size).unwrap();
        prop_assert!(verify_inclusion(index, size, &leaf_hash(&index.to_le_bytes()), &p.path, &root).is_ok());
    }

    #[test]
    fn altered_inclusion_proofs_fail(size in 1u64..300, seed in any::<u64>(), alt in alteration()) {
        // A few extra leaves, so a lie about the size can come with that size's true root.
        let t = tree(size + 4);
        let mut index = seed % size;
        let mut tree_size = size;
        let mut root = t.root_at(size).unwrap();
        let mut leaf = t.leaf(index).unwrap();
        let mut path = t.inclusion_proof(index, size).unwrap().path;
        match alt {
            Alteration::FlipBit { node, bit } => {
                if path.is_empty() { leaf[(bit / 8) as usize % 32] ^= 1 << (bit % 8); }
                else { let n = node % path.len(); path[n][(bit / 8) as usize % 32] ^= 1 << (bit % 8); }
            }
            Alteration::Drop { node } => {
                if path.is_empty() { path.push([0; 32]); } else { path.remove(node % path.len()); }
            }
            Alteration::Insert { node, byte } => { let n = node % (path.len() + 1); path.insert(n, [byte; 32]); }
            Alteration::Index { delta } => match shift(index, delta) { Some(i) => index = i, None => index = size },
            Alteration::Size { delta } => {
                tree_size = shift(tree_size, delta).unwrap_or(0);
                if let Some(r) = t.root_at(tree_size) { root = r; }
            }
        }
        prop_assert!(verify_inclusion(index, tree_size, &leaf, &path, &root).is_err());
    }

    #[test]
    fn consistency_proofs_verify(second in 1u64..300, seed in any::<u64>()) {
        let t = tree(second);
        let first = 1 + seed % second;
        let p = t.consistency_proof(first, second).unwrap();
        prop_assert!(p.verify(&t.root_at(first).unwrap(), &t.root_at(second).unwrap()).is_ok());
    }

    #[test]
    fn altered_consistency_proofs_fail(second in 2u64..300, seed in any::<u64>(), alt in alteration()) {
        let t = tree(second + 4);
        let first = 1 + seed % (second - 1); // strictly smaller: a non-empty proof
        let (mut s1, mut s2) = (first, second);
        let mut r1 = t.root_at(first).unwrap();
        let mut r2 = t.root_at(second).unwrap();
        let mut path = t.consistency_proof(first, second).unwrap().path;
        match alt {
            Alteration::FlipBit { node, bit } => { let n = node % path.len(); path[n][(bit / 8) as usize % 32] ^= 1 << (bit % 8); }
            Alteration::Drop { node } => { path.remove(node % path.len()); }
            Alteration::Insert { node, byte } => { let n = node % (path.len() + 1); path.insert(n, [byte; 32]); }
            // A different first size must come with its own root to be a meaningful lie.
            Alteration::Index { delta } => { s1 = shift(s1, delta).unwrap_or(0); if let Some(r) = t.root_at(s1) { r1 = r; } }
            Alteration::Size { delta } => { s2 = shift(s2, delta).unwrap_or(0); if let Some(r) = t.root_at(s2) { r2 = r; } }
        }
        prop_assume!(!(s1 == first && s2 == second && path == t.consistency_proof(first, second).unwrap().path));
        prop_assert!(verify_consistency(s1, s2, &r1, &r2, &path).is_err());
    }
}
