//! # voxide-ledger
//!
//! The core of voxide's audit ledger: a tamper-evident, verifiable append-only log in the style
//! of Certificate Transparency, not a home-made blockchain.
//!
//! - [`merkle`]: the RFC 9162 Merkle tree over the log's entries (leaf and node hashes with
//!   their `0x00`/`0x01` prefixes), inclusion proofs (this entry is in the log) and consistency
//!   proofs (the log of today extends the log of yesterday unchanged), with the RFC's
//!   verification algorithms;
//! - [`note`]: checkpoints (origin, size, root) signed with Ed25519 in the C2SP signed-note
//!   format, which Go's `sumdb/note` and transparency-log tooling read;
//! - [`entry`]: what an entry records (actor, role, action, objects, outcome, content hash, the
//!   patient as a keyed hash, never in clear);
//! - [`log`]: the [`Ledger`] (append, checkpoint, proofs) and [`verify`], which recomputes
//!   everything from the stored entries and checkpoints and names where trust ends;
//! - [`export`]: entries as FHIR R4 `AuditEvent` resources and DICOM PS3.15 audit messages.
//!
//! Pure: no IO. `voxide-store` keeps the entries and checkpoints in its index, the server serves
//! them with proofs under `/api/ledger`, and `voxide ledger verify` checks a stored ledger.

pub mod entry;
pub mod export;
pub mod log;
pub mod merkle;
pub mod note;

pub use entry::{keyed_hash, Action, Entry, Outcome};
pub use log::{verify, Ledger, VerifyReport};
pub use merkle::{leaf_hash, node_hash, verify_consistency, verify_inclusion, Hash, Tree};
pub use note::{Checkpoint, SigningKey, VerifierKey};

/// Errors of the ledger; each says what failed to hold.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A proof does not verify, or cannot be made for the sizes asked.
    #[error("proof: {0}")]
    Proof(String),
    /// A signed note, key or checkpoint is malformed or its signature does not hold.
    #[error("signed note: {0}")]
    Note(String),
    /// Stored bytes that are not a ledger entry.
    #[error("ledger entry: {0}")]
    Entry(String),
    /// A stored log that does not verify.
    #[error("ledger verification failed: {0}")]
    Verify(String),
}
