//! An append-only Merkle tree that keeps every complete subtree hash, so that roots and proofs
//! for any earlier tree size cost `O(log² n)` hashes instead of rehashing the log.

use super::proof::{ConsistencyProof, InclusionProof};
use super::{empty_root, node_hash, split_point, Hash};

/// An append-only RFC 9162 Merkle tree over leaf hashes.
///
/// `levels[k][i]` is the hash of the complete subtree of `2^k` leaves starting at leaf
/// `i * 2^k`; a node is stored as soon as its subtree is complete. Memory is about two hashes
/// (64 bytes) per leaf; appending is amortised `O(1)`, and a root or proof for any size up to
/// the current one combines at most `O(log n)` stored nodes per level of recursion.
#[derive(Debug, Clone, Default)]
pub struct MerkleTree {
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends one leaf hash (see [`leaf_hash`](super::leaf_hash)) and returns its index.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let index = self.levels[0].len() as u64 - 1;
        let mut k = 0;
        while self.levels[k].len().is_multiple_of(2) {
            let n = self.levels[k].len();
            let parent = node_hash(&self.levels[k][n - 2], &self.levels[k][n - 1]);
            if self.levels.len() == k + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[k + 1].push(parent);
            k += 1;
        }
        index
    }

    /// The leaf hash at `index`, if the tree has it.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels
            .first()?
            .get(usize::try_from(index).ok()?)
            .copied()
    }

    /// The root of the current tree.
    pub fn root(&self) -> Hash {
        self.range_hash(0, self.size())
    }

    /// The root the tree had when it held `size` leaves, or `None` if `size` exceeds the
    /// current size.
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        (size <= self.size()).then(|| self.range_hash(0, size))
    }

    /// The RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.
    /// `None` unless `index < size <= self.size()`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<InclusionProof> {
        if index >= size || size > self.size() {
            return None;
        }
        let mut path = Vec::new();
        self.path(index, 0, size, &mut path);
        Some(InclusionProof {
            leaf_index: index,
            tree_size: size,
            path,
        })
    }

    /// The RFC 9162 consistency proof between the trees of `first` and `second` leaves.
    /// `None` unless `0 < first <= second <= self.size()`; `first == second` gives the empty
    /// proof.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Option<ConsistencyProof> {
        if first == 0 || first > second || second > self.size() {
            return None;
        }
        let mut path = Vec::new();
        if first < second {
            self.subproof(first, 0, second, true, &mut path);
        }
        Some(ConsistencyProof {
            first_size: first,
            second_size: second,
            path,
        })
    }

    /// `MTH(D[start..end])`; `end <= size()`.
    fn range_hash(&self, start: u64, end: u64) -> Hash {
        let n = end - start;
        match n {
            0 => empty_root(),
            1 => self.levels[0][start as usize],
            _ if n.is_power_of_two() && start.is_multiple_of(n) => {
                self.levels[n.trailing_zeros() as usize][(start / n) as usize]
            }
            _ => {
                let k = split_point(n);
                node_hash(
                    &self.range_hash(start, start + k),
                    &self.range_hash(start + k, end),
                )
            }
        }
    }

    /// RFC 9162 §2.1.3.1 `PATH(m, D[start..end])`, with `m` absolute; leaf side first.
    fn path(&self, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
        let n = end - start;
        if n <= 1 {
            return;
        }
        let k = split_point(n);
        if m < start + k {
            self.path(m, start, start + k, out);
            out.push(self.range_hash(start + k, end));
        } else {
            self.path(m, start + k, end, out);
            out.push(self.range_hash(start, start + k));
        }
    }

    /// RFC 9162 §2.1.4.1 `SUBPROOF(m, D[start..end], b)`, with `m` relative to `start`.
    fn subproof(&self, m: u64, start: u64, end: u64, whole: bool, out: &mut Vec<Hash>) {
        let n = end - start;
        if m == n {
            if !whole {
                out.push(self.range_hash(start, end));
            }
            return;
        }
        let k = split_point(n);
        if m <= k {
            self.subproof(m, start, start + k, whole, out);
            out.push(self.range_hash(start + k, end));
        } else {
            self.subproof(m - k, start + k, end, false, out);
            out.push(self.range_hash(start, start + k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::leaf_hash;
    use super::*;

    /// The textbook recursive definition, to check the stored-subtree shortcut against.
    fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_match_the_recursive_definition_for_every_size() {
        let leaves: Vec<Hash> = (0..70u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut tree = MerkleTree::new();
        assert_eq!(tree.root(), empty_root());
        for (i, l) in leaves.iter().enumerate() {
            tree.push(*l);
            assert_eq!(tree.root(), naive_root(&leaves[..=i]), "size {}", i + 1);
        }
        for size in 0..=70 {
            assert_eq!(
                tree.root_at(size).unwrap(),
                naive_root(&leaves[..size as usize])
            );
        }
        assert_eq!(tree.root_at(71), None);
    }

    #[test]
    fn proofs_are_refused_outside_the_tree() {
        let mut tree = MerkleTree::new();
        for i in 0..5u8 {
            tree.push(leaf_hash(&[i]));
        }
        assert!(tree.inclusion_proof(5, 5).is_none());
        assert!(tree.inclusion_proof(0, 6).is_none());
        assert!(tree.consistency_proof(0, 5).is_none());
        assert!(tree.consistency_proof(4, 3).is_none());
        assert!(tree.consistency_proof(3, 6).is_none());
        assert_eq!(tree.consistency_proof(5, 5).unwrap().path.len(), 0);
    }
}
