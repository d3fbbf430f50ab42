//! The ledger as a whole: entries appended to a Merkle tree, signed checkpoints of it, proofs,
//! and the verification of a stored log from scratch.
//!
//! Storage is the caller's: [`Ledger::append`] returns the bytes to store for an entry, and
//! [`verify`] takes the stored entries and checkpoints back. Because every checkpoint signs the
//! root of all entries up to its size, changing, removing, reordering or inserting any entry
//! covered by a checkpoint changes that root and fails verification; the first failing
//! checkpoint says from where on the log cannot be trusted.

use crate::entry::Entry;
use crate::merkle::{verify_consistency, Hash, Tree};
use crate::note::{Checkpoint, SigningKey, VerifierKey};
use crate::LedgerError;

/// An append-only ledger in memory: its tree, its name (origin) and its signing key.
#[derive(Debug)]
pub struct Ledger {
    origin: String,
    key: SigningKey,
    tree: Tree,
}

impl Ledger {
    /// An empty ledger named `origin`, signing with `key`.
    pub fn new(origin: &str, key: SigningKey) -> Self {
        Self {
            origin: origin.to_string(),
            key,
            tree: Tree::new(),
        }
    }

    /// Rebuilds the ledger from its stored entries (in order).
    pub fn load<'a>(
        origin: &str,
        key: SigningKey,
        stored: impl IntoIterator<Item = &'a [u8]>,
    ) -> Self {
        let mut ledger = Self::new(origin, key);
        for bytes in stored {
            ledger.tree.push_entry(bytes);
        }
        ledger
    }

    /// Appends an entry; returns its index and the bytes to store.
    pub fn append(&mut self, entry: &Entry) -> (u64, Vec<u8>) {
        let bytes = entry.to_bytes();
        (self.tree.push_entry(&bytes), bytes)
    }

    /// The number of entries.
    pub fn len(&self) -> u64 {
        self.tree.len()
    }

    /// True when no entry was appended.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// The log's name.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The key checkpoints are signed with (public half).
    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    /// The root of the whole log.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// A signed checkpoint of the log as it is now.
    pub fn checkpoint(&self) -> Result<String, LedgerError> {
        self.sign_checkpoint(self.tree.len(), self.tree.root())
    }

    /// A signed checkpoint of the first `size` entries, whose root is `root` (from
    /// [`Tree::root_at`]).
    pub fn sign_checkpoint(&self, size: u64, root: Hash) -> Result<String, LedgerError> {
        Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
            extensions: Vec::new(),
        }
        .sign(&self.key)
    }

    /// The tree, for proofs.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Stored entries.
    pub entries: u64,
    /// Checkpoints checked (signature, root, consistency with the previous one).
    pub checkpoints: usize,
    /// The largest size a valid checkpoint vouches for.
    pub verified_size: u64,
    /// Entries after the last checkpoint (appended since it was signed; not yet vouched for).
    pub unsigned_tail: u64,
}

/// Verifies a stored log from scratch: every entry is a well-formed [`Entry`], every checkpoint
/// is signed by `verifier` for `origin`, each checkpoint's root is the root recomputed from the
/// stored entries at its size, and each checkpoint extends the previous one. The first failure
/// is the error, naming the entry or checkpoint where trust ends.
pub fn verify<'a>(
    origin: &str,
    verifier: &VerifierKey,
    entries: impl IntoIterator<Item = &'a [u8]>,
    checkpoints: &[&str],
) -> Result<VerifyReport, LedgerError> {
    let mut tree = Tree::new();
    for (index, bytes) in entries.into_iter().enumerate() {
        Entry::from_bytes(bytes).map_err(|e| {
            LedgerError::Verify(format!("entry {index} is not a ledger entry: {e}"))
        })?;
        tree.push_entry(bytes);
    }
    let mut previous: Option<(u64, Hash)> = None;
    for (i, note) in checkpoints.iter().enumerate() {
        let checkpoint = Checkpoint::open(note, origin, std::slice::from_ref(verifier))
            .map_err(|e| LedgerError::Verify(format!("checkpoint {i}: {e}")))?;
        if checkpoint.size > tree.len() {
            return Err(LedgerError::Verify(format!(
                "checkpoint {i} vouches for {} entries but only {} are stored: entries were removed",
                checkpoint.size,
                tree.len()
            )));
        }
        let root = tree.root_at(checkpoint.size)?;
        if root != checkpoint.root {
            let since = previous.map_or(0, |(size, _)| size);
            return Err(LedgerError::Verify(format!(
                "the stored entries do not match checkpoint {i} (size {}): an entry between {since} and {} was changed, removed, reordered or inserted",
                checkpoint.size,
                checkpoint.size - 1
            )));
        }
        // Every tree extends the empty one: nothing to prove from a checkpoint of size 0.
        if let Some((size, old_root)) = previous.filter(|(size, _)| *size > 0) {
            let proof = tree.consistency_proof(size, checkpoint.size).map_err(|_| {
                LedgerError::Verify(format!(
                    "checkpoint {i} (size {}) is smaller than the one before it ({size})",
                    checkpoint.size
                ))
            })?;
            verify_consistency(size, checkpoint.size, &proof, &old_root, &checkpoint.root)
                .map_err(|e| LedgerError::Verify(format!("checkpoint {i}: {e}")))?;
        }
        previous = Some((checkpoint.size, checkpoint.root));
    }
    let verified_size = previous.map_or(0, |(size, _)| size);
    Ok(VerifyReport {
        entries: tree.len(),
        checkpoints: checkpoints.len(),
        verified_size,
        unsigned_tail: tree.len() - verified_size,
    })
}
