//! The Merkle tree of RFC 9162 (Certificate Transparency 2.0, section 2.1; the same hashing as
//! RFC 6962): leaf hash `SHA-256(0x00 || entry)`, interior node `SHA-256(0x01 || left || right)`,
//! a tree of `n` leaves split at the largest power of two smaller than `n`. Inclusion and
//! consistency proofs are produced by [`Tree`] and checked by [`verify_inclusion`] and
//! [`verify_consistency`] (the verification algorithms of RFC 9162 sections 2.1.3.2 and
//! 2.1.4.2, which need nothing but the proof, the sizes and the roots).

use sha2::{Digest, Sha256};

use crate::LedgerError;

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The hash of a leaf: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256()` of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (`n` ≥ 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// An append-only Merkle tree over leaf hashes.
///
/// It keeps every complete subtree's hash (level `l` holds the hashes of the aligned subtrees
/// of `2^l` leaves), so appending is amortised O(1) and a root or proof of any earlier tree
/// size costs O(log n) hashes, about twice the leaves' storage in memory.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// True when the tree has no leaf.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends an entry (hashed as a leaf); returns its index.
    pub fn push_entry(&mut self, entry: &[u8]) -> u64 {
        self.push_leaf_hash(leaf_hash(entry))
    }

    /// Appends a leaf hash; returns its index.
    pub fn push_leaf_hash(&mut self, leaf: Hash) -> u64 {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let index = self.levels[0].len() as u64 - 1;
        let mut level = 0;
        while self.levels[level].len().is_multiple_of(2) {
            let n = self.levels[level].len();
            let parent = node_hash(&self.levels[level][n - 2], &self.levels[level][n - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(parent);
            level += 1;
        }
        index
    }

    /// The leaf hash at `index`.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels
            .first()?
            .get(usize::try_from(index).ok()?)
            .copied()
    }

    /// The root of the tree of the first `size` leaves (RFC 9162's MTH(D[0:size])).
    pub fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        self.check_size(size)?;
        Ok(if size == 0 {
            empty_root()
        } else {
            self.mth(0, size)
        })
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        self.root_at(self.len()).unwrap_or_else(|_| empty_root())
    }

    fn check_size(&self, size: u64) -> Result<(), LedgerError> {
        if size > self.len() {
            return Err(LedgerError::Proof(format!(
                "tree size {size} is larger than the log ({} entries)",
                self.len()
            )));
        }
        Ok(())
    }

    /// MTH of the leaves `[start, start + size)`, `size` ≥ 1. Every range this is called with
    /// starts at a multiple of the largest power of two not above its size, so its left part
    /// is always a stored complete subtree.
    fn mth(&self, start: u64, size: u64) -> Hash {
        if size.is_power_of_two() && start.is_multiple_of(size) {
            let level = size.trailing_zeros() as usize;
            return self.levels[level][(start >> level) as usize];
        }
        let k = split(size);
        node_hash(&self.mth(start, k), &self.mth(start + k, size - k))
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves (RFC 9162
    /// 2.1.3.1, PATH(m, D[n])), leaf-side first.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        self.check_size(size)?;
        if index >= size {
            return Err(LedgerError::Proof(format!(
                "entry {index} is not in a tree of {size} entries"
            )));
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    fn path(&self, m: u64, start: u64, n: u64, out: &mut Vec<Hash>) {
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            self.path(m, start, k, out);
            out.push(self.mth(start + k, n - k));
        } else {
            self.path(m - k, start + k, n - k, out);
            out.push(self.mth(start, k));
        }
    }

    /// The consistency proof between the trees of the first `old_size` and `new_size` leaves
    /// (RFC 9162 2.1.4.1, PROOF(m, D[n])). Empty when `old_size` is 0 or equals `new_size`.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, LedgerError> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(LedgerError::Proof(format!(
                "a tree of {old_size} entries cannot be a prefix of one of {new_size}"
            )));
        }
        let mut proof = Vec::new();
        if old_size > 0 && old_size < new_size {
            self.subproof(old_size, 0, new_size, true, &mut proof);
        }
        Ok(proof)
    }

    fn subproof(&self, m: u64, start: u64, n: u64, complete: bool, out: &mut Vec<Hash>) {
        if m == n {
            if !complete {
                out.push(self.mth(start, n));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, start, k, complete, out);
            out.push(self.mth(start + k, n - k));
        } else {
            self.subproof(m - k, start + k, n - k, false, out);
            out.push(self.mth(start, k));
        }
    }
}

fn proof_error(reason: impl Into<String>) -> LedgerError {
    LedgerError::Proof(reason.into())
}

/// Checks that `leaf` (a leaf hash) is entry `index` of the tree of `size` entries whose root
/// is `root` (RFC 9162 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), LedgerError> {
    if index >= size {
        return Err(proof_error(format!(
            "entry {index} cannot be in a tree of {size} entries"
        )));
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(proof_error(
                "the inclusion proof is longer than the tree is deep",
            ));
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
        return Err(proof_error(
            "the inclusion proof is too short for the tree size",
        ));
    }
    if &r != root {
        return Err(proof_error(format!(
            "entry {index} is not in the tree of {size} entries with root {}: the proof leads to {}",
            hex::encode(root),
            hex::encode(r)
        )));
    }
    Ok(())
}

/// Checks that the tree of `old_size` entries with root `old_root` is a prefix of the tree of
/// `new_size` entries with root `new_root` (RFC 9162 2.1.4.2). A tree of 0 entries is a prefix
/// of every tree (with an empty proof).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), LedgerError> {
    if old_size > new_size {
        return Err(proof_error(format!(
            "a tree of {old_size} entries cannot be a prefix of one of {new_size}"
        )));
    }
    if old_size == 0 {
        // RFC 9162 2.1.4.2 fails an empty proof, and none exists from the empty tree: every
        // tree extends it, so such a proof would prove nothing (transparency-dev/merkle agrees).
        return Err(proof_error(
            "a consistency proof from the empty tree proves nothing; check the new root alone",
        ));
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(proof_error("a proof between equal sizes must be empty"));
        }
        if old_root != new_root {
            return Err(proof_error(format!(
                "two different roots for the same tree size {old_size}: the log was rewritten"
            )));
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(proof_error("the consistency proof is empty"));
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return Err(proof_error("the consistency proof is too long"));
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
        return Err(proof_error("the consistency proof is too short"));
    }
    if &fr != old_root {
        return Err(proof_error(format!(
            "the proof does not lead to the old root of {old_size} entries: the log's history was changed"
        )));
    }
    if &sr != new_root {
        return Err(proof_error(format!(
            "the proof does not lead to the new root of {new_size} entries"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MTH straight from RFC 9162's recursive definition, over entries.
    fn reference_root(entries: &[Vec<u8>]) -> Hash {
        match entries.len() {
            0 => empty_root(),
            1 => leaf_hash(&entries[0]),
            n => {
                let k = split(n as u64) as usize;
                node_hash(
                    &reference_root(&entries[..k]),
                    &reference_root(&entries[k..]),
                )
            }
        }
    }

    #[test]
    fn roots_agree_with_the_recursive_definition_for_every_size_up_to_300() {
        let entries: Vec<Vec<u8>> = (0u32..300).map(|i| i.to_be_bytes().to_vec()).collect();
        let mut tree = Tree::new();
        assert_eq!(tree.root(), empty_root());
        for (i, e) in entries.iter().enumerate() {
            tree.push_entry(e);
            assert_eq!(
                tree.root(),
                reference_root(&entries[..=i]),
                "size {}",
                i + 1
            );
        }
        for size in 0..=300u64 {
            assert_eq!(
                tree.root_at(size).unwrap(),
                reference_root(&entries[..size as usize])
            );
        }
        assert!(tree.root_at(301).is_err());
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        assert_eq!(split(2), 1);
        assert_eq!(split(3), 2);
        assert_eq!(split(4), 2);
        assert_eq!(split(5), 4);
        assert_eq!(split(8), 4);
        assert_eq!(split(9), 8);
    }
}
