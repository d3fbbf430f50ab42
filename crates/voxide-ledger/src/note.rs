//! Signed notes (C2SP `signed-note`) with Ed25519 keys, and log checkpoints (C2SP
//! `tlog-checkpoint`) carried in them.
//!
//! A note is UTF-8 text ending in a newline, then a blank line, then one signature line per
//! signer: `— <key name> <base64(key ID (4 bytes, big-endian) || signature)>`. An Ed25519
//! key's ID is the first 4 bytes of `SHA-256(name || "\n" || 0x01 || public key)`; its
//! verifier key is written `<name>+<ID, 8 hex digits>+<base64(0x01 || public key)>` and its
//! private key `PRIVATE+KEY+<name>+<ID>+<base64(0x01 || seed)>`, as Go's
//! `golang.org/x/mod/sumdb/note` writes them, so checkpoints can be checked with Go tooling.
//!
//! A checkpoint's text is the log's origin line, its size in decimal, and its root hash in
//! base64, each on its own line, then optional extension lines.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, Verifier as _};
use sha2::{Digest, Sha256};

use crate::merkle::Hash;
use crate::LedgerError;

/// The algorithm byte of Ed25519 keys in signed notes.
const ALG_ED25519: u8 = 0x01;
/// What starts every signature line.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

fn note_error(reason: impl Into<String>) -> LedgerError {
    LedgerError::Note(reason.into())
}

fn check_name(name: &str) -> Result<(), LedgerError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(note_error(format!(
            "key name {name:?} must be non-empty, without '+' or spaces"
        )));
    }
    Ok(())
}

fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// A named Ed25519 signing key.
pub struct SigningKey {
    name: String,
    id: u32,
    key: ed25519_dalek::SigningKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        write!(f, "SigningKey({}+{:08x})", self.name, self.id)
    }
}

impl SigningKey {
    /// The key of the 32-byte Ed25519 `seed` (from a secure random source), named `name`.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, LedgerError> {
        check_name(name)?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        Ok(Self {
            name: name.to_string(),
            id: key_id(name, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<id>+<base64>`.
    pub fn parse(text: &str) -> Result<Self, LedgerError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| note_error("a private key starts with PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(note_error("a private key is PRIVATE+KEY+<name>+<id>+<key>"));
        };
        let bytes = B64
            .decode(key)
            .map_err(|e| note_error(format!("private key: {e}")))?;
        if bytes.len() != 33 || bytes[0] != ALG_ED25519 {
            return Err(note_error("private key: not an Ed25519 key"));
        }
        let seed: [u8; 32] = bytes[1..].try_into().unwrap_or([0; 32]);
        let k = Self::from_seed(name, seed)?;
        if format!("{:08x}", k.id) != id {
            return Err(note_error(format!(
                "private key: its ID {id} does not match the key ({:08x})",
                k.id
            )));
        }
        Ok(k)
    }

    /// `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>`: keep it secret.
    pub fn to_private_string(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            B64.encode(bytes)
        )
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` (which must end in a newline and contain no blank line's worth of
    /// signatures): the signed note.
    pub fn sign(&self, text: &str) -> Result<String, LedgerError> {
        check_text(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut blob = self.id.to_be_bytes().to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            B64.encode(blob)
        ))
    }
}

fn check_text(text: &str) -> Result<(), LedgerError> {
    if !text.ends_with('\n') {
        return Err(note_error("a note's text must end with a newline"));
    }
    if text.contains("\n\n") {
        return Err(note_error("a note's text cannot contain a blank line"));
    }
    Ok(())
}

/// A named Ed25519 verifier (public) key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl VerifierKey {
    /// Parses `<name>+<id>+<base64(0x01 || public key)>`.
    pub fn parse(text: &str) -> Result<Self, LedgerError> {
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(note_error("a verifier key is <name>+<id>+<key>"));
        };
        check_name(name)?;
        let bytes = B64
            .decode(key)
            .map_err(|e| note_error(format!("verifier key: {e}")))?;
        if bytes.len() != 33 || bytes[0] != ALG_ED25519 {
            return Err(note_error("verifier key: not an Ed25519 key"));
        }
        let public: [u8; 32] = bytes[1..].try_into().unwrap_or([0; 32]);
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public)
            .map_err(|e| note_error(format!("verifier key: {e}")))?;
        let computed = key_id(name, &public);
        if format!("{computed:08x}") != id {
            return Err(note_error(format!(
                "verifier key: its ID {id} does not match the key ({computed:08x})"
            )));
        }
        Ok(Self {
            name: name.to_string(),
            id: computed,
            key,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.id, B64.encode(bytes))
    }
}

/// Checks the signatures of `note` by `verifiers`; returns the note's text when at least one
/// of them signed it and every signature by a known key is valid. Signatures by unknown keys
/// are ignored (another witness may co-sign).
pub fn open(note: &str, verifiers: &[VerifierKey]) -> Result<String, LedgerError> {
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| note_error("not a signed note: no blank line before the signatures"))?;
    let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
    if signatures.is_empty() || !signatures.ends_with('\n') {
        return Err(note_error("not a signed note: no signature lines"));
    }
    let mut verified = 0;
    for line in signatures.lines() {
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or_else(|| note_error(format!("malformed signature line {line:?}")))?;
        let (name, blob) = rest
            .split_once(' ')
            .ok_or_else(|| note_error(format!("malformed signature line {line:?}")))?;
        let blob = B64
            .decode(blob)
            .map_err(|e| note_error(format!("signature of {name}: {e}")))?;
        if blob.len() < 4 {
            return Err(note_error(format!("signature of {name}: too short")));
        }
        let id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
        let Some(key) = verifiers.iter().find(|k| k.name == name && k.id == id) else {
            continue;
        };
        let signature = ed25519_dalek::Signature::from_slice(&blob[4..])
            .map_err(|e| note_error(format!("signature of {name}: {e}")))?;
        key.key.verify(text.as_bytes(), &signature).map_err(|_| {
            note_error(format!(
                "the signature of {name} does not match the note: it was changed after signing"
            ))
        })?;
        verified += 1;
    }
    if verified == 0 {
        return Err(note_error(format!(
            "the note carries no signature by {}",
            verifiers
                .iter()
                .map(|k| format!("{}+{:08x}", k.name, k.id))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(text.to_string())
}

/// A log checkpoint: the log's origin, its size and root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Names the log (a schema-less URL, e.g. `voxide.example.org/ledger`).
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Further lines (none written by voxide; kept when read).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The checkpoint's text (the note body).
    pub fn text(&self) -> String {
        let mut t = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            t.push_str(e);
            t.push('\n');
        }
        t
    }

    /// Parses a checkpoint's text.
    pub fn parse(text: &str) -> Result<Self, LedgerError> {
        let bad = |what: &str| note_error(format!("checkpoint: {what}"));
        if !text.ends_with('\n') {
            return Err(bad("the text must end with a newline"));
        }
        let mut lines = text.lines();
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin line"))?;
        let size = lines
            .next()
            .filter(|s| {
                !s.is_empty()
                    && s.bytes().all(|b| b.is_ascii_digit())
                    && (s.len() == 1 || !s.starts_with('0'))
            })
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("the second line must be the tree size in decimal"))?;
        let root = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| <[u8; 32]>::try_from(r).ok())
            .ok_or_else(|| bad("the third line must be the base64 root hash (32 bytes)"))?;
        Ok(Self {
            origin: origin.to_string(),
            size,
            root,
            extensions: lines.map(str::to_string).collect(),
        })
    }

    /// The checkpoint signed by `key`.
    pub fn sign(&self, key: &SigningKey) -> Result<String, LedgerError> {
        key.sign(&self.text())
    }

    /// Opens a signed checkpoint: its signature by one of `verifiers` must hold and its origin
    /// must be `origin`.
    pub fn open(note: &str, origin: &str, verifiers: &[VerifierKey]) -> Result<Self, LedgerError> {
        let checkpoint = Self::parse(&open(note, verifiers)?)?;
        if checkpoint.origin != origin {
            return Err(note_error(format!(
                "checkpoint of log {:?}, expected {origin:?}",
                checkpoint.origin
            )));
        }
        Ok(checkpoint)
    }
}
