//! Ledger entries: who did what to which object, when, with what outcome.
//!
//! An entry is stored as its JSON text, and those exact bytes are the Merkle leaf, so a
//! verifier needs nothing but the stored lines. Patient identifiers never enter the ledger in
//! clear: [`keyed_hash`] turns them into an HMAC-SHA-256 under the deployment's secret key, so
//! the ledger can say "the same patient" without saying who.

use std::collections::BTreeMap;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::LedgerError;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// An instance was stored (C-STORE, STOW-RS, import, a run's result).
    InstanceStored,
    /// A search (QIDO-RS, C-FIND).
    Query,
    /// Objects were read (WADO-RS/URI, C-MOVE, C-GET).
    Retrieve,
    /// Objects left the system (export, send).
    Export,
    Delete,
    /// A de-identified copy was made.
    Deidentify,
    /// An AI model run started or ended.
    AiRun,
    /// An AI run's result was stored.
    AiResult,
    Login,
    LoginFailed,
    /// Users, tokens, roles or grants changed.
    PermissionChange,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

/// One ledger entry. Optional fields are left out of the JSON when empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// UTC, RFC 3339 with milliseconds (`2026-11-24T07:00:00.000Z`).
    pub time: String,
    /// The user, service account or DICOM peer (AE title@address).
    pub actor: String,
    /// The actor's role at the time.
    pub role: String,
    pub action: Action,
    pub outcome: Outcome,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_instance_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_instance_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sop_instance_uid: Option<String>,
    /// SHA-256 of the stored content (instance file, result), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sha256: Option<String>,
    /// The patient, as [`keyed_hash`] of the Patient ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    /// Anything else worth keeping (query parameters, model name and version, counts).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

impl Entry {
    /// A successful `action` by `actor` in `role`, with no time yet (the recorder sets it) and
    /// no objects.
    pub fn new(actor: &str, role: &str, action: Action) -> Self {
        Self {
            time: String::new(),
            actor: actor.to_string(),
            role: role.to_string(),
            action,
            outcome: Outcome::Success,
            reason: None,
            collection: None,
            study_instance_uid: None,
            series_instance_uid: None,
            sop_instance_uid: None,
            content_sha256: None,
            patient: None,
            details: BTreeMap::new(),
        }
    }

    /// The entry's bytes as stored and hashed: compact JSON, fields in declaration order,
    /// details sorted by key.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising a struct of strings and maps cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads stored bytes back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LedgerError> {
        serde_json::from_slice(bytes).map_err(|e| LedgerError::Entry(e.to_string()))
    }
}

/// `hmac-sha256:<hex>` of `value` under `key`: the same value gives the same text under one
/// key, and nothing about the value can be learnt without the key.
pub fn keyed_hash(key: &[u8], value: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(value.as_bytes());
    format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
}
