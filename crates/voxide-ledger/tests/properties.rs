//! Properties of the Merkle log that must hold for every tree size: proofs made by the tree
//! verify with the RFC 9162 algorithms alone, and any change to the log or a proof is caught.

use voxide_ledger::merkle::{empty_root, leaf_hash};
use voxide_ledger::{verify_consistency, verify_inclusion, Tree};

fn entry(i: u64) -> Vec<u8> {
    format!("entry {i}").into_bytes()
}

fn tree(n: u64) -> Tree {
    let mut t = Tree::new();
    for i in 0..n {
        t.push_entry(&entry(i));
    }
    t
}

#[test]
fn inclusion_proofs_verify_for_every_entry_of_every_tree_size_up_to_1000() {
    let t = tree(1000);
    let mut checked = 0u64;
    for size in 1..=1000u64 {
        let root = t.root_at(size).unwrap();
        for index in 0..size {
            let proof = t.inclusion_proof(index, size).unwrap();
            let leaf = t.leaf(index).unwrap();
            verify_inclusion(&leaf, index, size, &proof, &root)
                .unwrap_or_else(|e| panic!("entry {index} of {size}: {e}"));
            checked += 1;
        }
    }
    assert_eq!(checked, 1000 * 1001 / 2);
}

#[test]
fn consistency_proofs_verify_between_every_pair_of_sizes_up_to_1000() {
    let t = tree(1000);
    let roots: Vec<_> = (0..=1000).map(|s| t.root_at(s).unwrap()).collect();
    assert_eq!(roots[0], empty_root());
    for new in 0..=1000u64 {
        for old in 0..=new {
            let proof = t.consistency_proof(old, new).unwrap();
            let verdict =
                verify_consistency(old, new, &proof, &roots[old as usize], &roots[new as usize]);
            if old == 0 {
                // Nothing to prove from the empty tree (RFC 9162 2.1.4.2 fails the empty proof).
                assert!(verdict.is_err(), "0 -> {new}");
            } else {
                verdict.unwrap_or_else(|e| panic!("{old} -> {new}: {e}"));
            }
        }
    }
}

#[test]
fn a_changed_proof_index_size_or_root_fails() {
    let t = tree(78);
    for (index, size) in [(0u64, 77u64), (5, 77), (63, 64), (64, 77), (76, 77), (3, 5)] {
        let root = t.root_at(size).unwrap();
        let leaf = t.leaf(index).unwrap();
        let proof = t.inclusion_proof(index, size).unwrap();
        for k in 0..proof.len() {
            let mut bad = proof.clone();
            bad[k][k % 32] ^= 1;
            assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());
        }
        let mut short = proof.clone();
        short.pop();
        assert!(verify_inclusion(&leaf, index, size, &short, &root).is_err());
        let mut long = proof.clone();
        long.push(root);
        assert!(verify_inclusion(&leaf, index, size, &long, &root).is_err());
        let other = (index + 1) % size;
        if t.leaf(other) != Some(leaf) && size > 1 {
            assert!(verify_inclusion(&leaf, other, size, &proof, &root).is_err());
        }
        // (A wrong size with the right root can verify when the path has the same shape, e.g.
        // leaf 3 of 5 and of 6: RFC 9162 binds the size through the signed checkpoint that
        // carries the root, not through the proof.)
        assert!(verify_inclusion(
            &leaf,
            index,
            size + 1,
            &proof,
            &t.root_at(size + 1).unwrap()
        )
        .is_err());
        assert!(verify_inclusion(&leaf_hash(b"x"), index, size, &proof, &root).is_err());
        assert!(verify_inclusion(&leaf, size, size, &proof, &root).is_err());
    }
    for (old, new) in [(1u64, 77u64), (7, 8), (8, 77), (33, 64), (64, 77), (76, 77)] {
        let (r1, r2) = (t.root_at(old).unwrap(), t.root_at(new).unwrap());
        let proof = t.consistency_proof(old, new).unwrap();
        for k in 0..proof.len() {
            let mut bad = proof.clone();
            bad[k][0] ^= 0x80;
            assert!(verify_consistency(old, new, &bad, &r1, &r2).is_err());
        }
        assert!(verify_consistency(old, new, &[], &r1, &r2).is_err());
        assert!(verify_consistency(old + 1, new, &proof, &r1, &r2).is_err());
        assert!(verify_consistency(old, new, &proof, &r2, &r2).is_err());
        assert!(verify_consistency(new, old, &proof, &r2, &r1).is_err());
    }
    assert!(verify_consistency(5, 5, &[], &t.root_at(5).unwrap(), &t.root_at(6).unwrap()).is_err());
}

/// The log as a verifier sees it: every entry, against a checkpoint's size and root.
fn verify_log(entries: &[Vec<u8>], size: u64, root: &[u8; 32]) -> bool {
    let mut t = Tree::new();
    for e in entries {
        t.push_entry(e);
    }
    t.len() == size && &t.root() == root
}

#[test]
fn any_single_modified_removed_reordered_or_inserted_entry_fails_verification() {
    for n in [1u64, 2, 3, 7, 8, 9, 64, 100] {
        let entries: Vec<Vec<u8>> = (0..n).map(entry).collect();
        let t = tree(n);
        let root = t.root();
        assert!(verify_log(&entries, n, &root));
        for i in 0..n as usize {
            let mut modified = entries.clone();
            modified[i].push(b'!');
            assert!(!verify_log(&modified, n, &root), "modified {i} of {n}");
            let mut flipped = entries.clone();
            flipped[i][0] ^= 1;
            assert!(!verify_log(&flipped, n, &root), "bit flip in {i} of {n}");
            let mut removed = entries.clone();
            removed.remove(i);
            assert!(!verify_log(&removed, n, &root), "removed {i} of {n}");
            // Removed, and the checkpoint's size forged to match: the root still differs.
            assert!(
                !verify_log(&removed, n - 1, &root),
                "removed {i} of {n}, size forged"
            );
            let mut inserted = entries.clone();
            inserted.insert(i, b"forged".to_vec());
            assert!(
                !verify_log(&inserted, n + 1, &root),
                "inserted at {i} of {n}"
            );
            if i + 1 < n as usize {
                let mut swapped = entries.clone();
                swapped.swap(i, i + 1);
                assert!(!verify_log(&swapped, n, &root), "swapped {i} of {n}");
            }
        }
    }
}

#[test]
fn proofs_for_sizes_beyond_the_log_are_errors() {
    let t = tree(10);
    assert!(t.inclusion_proof(3, 11).is_err());
    assert!(t.inclusion_proof(10, 10).is_err());
    assert!(t.consistency_proof(4, 11).is_err());
    assert!(t.consistency_proof(6, 5).is_err());
    assert!(t.root_at(11).is_err());
    assert!(t.consistency_proof(0, 10).unwrap().is_empty());
    assert!(t.consistency_proof(10, 10).unwrap().is_empty());
}
