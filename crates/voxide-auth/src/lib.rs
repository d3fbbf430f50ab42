//! # voxide-auth
//!
//! Who may do what in voxide. Pure: no network, no database. The server asks three questions
//! of this crate and keeps the answers' storage (accounts, token hashes, collections, grants)
//! in the index.
//!
//! - **Who is this?** An API token ([`token`]: random, shown once, stored as an Argon2id hash)
//!   or an OpenID Connect bearer JWT ([`oidc`]: signature checked against the issuer's JSON Web
//!   Key Set, RS256 or ES256 only, issuer, audience and expiry checked) becomes a [`Principal`].
//! - **May it do this?** [`Role::may`] answers for each [`Operation`]: the matrix below. Deny
//!   by default: an operation not listed for a role is refused.
//! - **Which data?** [`Principal::all_studies`] and [`Role::sees_only_deidentified`] say what
//!   part of the store it sees: the studies of the collections it is granted, and for the
//!   `researcher` role only the de-identified copies among them.
//!
//! | operation    | admin | uploader | clinician | researcher | auditor |
//! |--------------|:-----:|:--------:|:---------:|:----------:|:-------:|
//! | `search`     |   ✓   |          |     ✓     |   ✓ (de-identified) | |
//! | `retrieve`   |   ✓   |          |     ✓     |   ✓ (de-identified) | |
//! | `store`      |   ✓   |    ✓     |     ✓     |            |         |
//! | `deidentify` |   ✓   |          |     ✓     |            |         |
//! | `run_model`  |   ✓   |          |     ✓     |            |         |
//! | `read_jobs`  |   ✓   |          |     ✓     |            |         |
//! | `read_models`|   ✓   |          |     ✓     |     ✓      |         |
//! | `read_ledger`|   ✓   |          |           |            |    ✓    |
//! | `monitor`    |   ✓   |          |           |            |    ✓    |
//! | `administer` |   ✓   |          |           |            |         |
//! | `whoami`     |   ✓   |    ✓     |     ✓     |     ✓      |    ✓    |

mod address;
pub mod oidc;
pub mod token;

pub use address::AddressPattern;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What can go wrong proving who one is.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The credentials are not valid (wrong, expired, revoked, badly signed). The message is
    /// for the log and the ledger; clients get a plain 401.
    #[error("{0}")]
    Invalid(String),
    /// The configuration cannot work (a bad key set, an unknown role name).
    #[error("{0}")]
    Config(String),
    /// The system's random number source failed.
    #[error("no random numbers: {0}")]
    Random(String),
}

/// A role: what a principal may do. One per principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, on all data, including accounts, tokens, collections and grants.
    Admin,
    /// Stores instances (a modality, a gateway, an import script); reads nothing.
    Uploader,
    /// Full (identified) data of the granted collections; runs models and makes de-identified
    /// copies.
    Clinician,
    /// De-identified copies in the granted collections only.
    Researcher,
    /// The audit ledger and metrics only.
    Auditor,
}

impl Role {
    /// Every role, in the order of the matrix.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Uploader,
        Role::Clinician,
        Role::Researcher,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Uploader => "uploader",
            Role::Clinician => "clinician",
            Role::Researcher => "researcher",
            Role::Auditor => "auditor",
        }
    }

    /// Whether this role may do `operation` (the matrix in the crate documentation).
    pub fn may(self, operation: Operation) -> bool {
        use Operation as O;
        match self {
            Role::Admin => true,
            Role::Uploader => matches!(operation, O::Store | O::WhoAmI),
            Role::Clinician => matches!(
                operation,
                O::Search
                    | O::Retrieve
                    | O::Store
                    | O::Deidentify
                    | O::RunModel
                    | O::ReadJobs
                    | O::ReadModels
                    | O::WhoAmI
            ),
            Role::Researcher => matches!(
                operation,
                O::Search | O::Retrieve | O::ReadModels | O::WhoAmI
            ),
            Role::Auditor => matches!(operation, O::ReadLedger | O::Monitor | O::WhoAmI),
        }
    }

    /// Whether data this role sees is limited to de-identified copies.
    pub fn sees_only_deidentified(self) -> bool {
        self == Role::Researcher
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                AuthError::Config(format!(
                    "unknown role '{s}': use one of admin, uploader, clinician, researcher, auditor"
                ))
            })
    }
}

/// What a request asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// QIDO-RS, C-FIND.
    Search,
    /// WADO-RS, WADO-URI, C-MOVE, C-GET.
    Retrieve,
    /// STOW-RS, C-STORE.
    Store,
    /// Make a de-identified copy of a study or collection.
    Deidentify,
    /// Queue a model run, cancel one.
    RunModel,
    /// Read jobs and arrival rules.
    ReadJobs,
    /// Read the registered models.
    ReadModels,
    /// Read the audit ledger, its checkpoints, proofs and exports.
    ReadLedger,
    /// Read the Prometheus metrics.
    Monitor,
    /// Accounts, tokens, collections and grants.
    Administer,
    /// Ask who one is.
    WhoAmI,
}

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    ApiToken,
    Oidc,
    DicomPeer,
    /// Authentication is turned off in the configuration.
    Open,
}

/// An authenticated user, service account or DICOM peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The account name (`oidc:<subject>` for OpenID Connect users, `dicom:<AE>@<address>` for
    /// DICOM peers).
    pub name: String,
    pub role: Role,
    /// Collections granted; [`ALL_COLLECTIONS`] grants every study, in a collection or not.
    pub collections: Vec<String>,
    pub method: Method,
    /// Studies this principal stores are added to this collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_collection: Option<String>,
}

/// The grant of every study.
pub const ALL_COLLECTIONS: &str = "*";

impl Principal {
    /// Whether the principal sees every study (in its role's form): admins always, others when
    /// granted [`ALL_COLLECTIONS`].
    pub fn all_studies(&self) -> bool {
        self.role == Role::Admin || self.collections.iter().any(|c| c == ALL_COLLECTIONS)
    }

    /// Whether the principal may do `operation`.
    pub fn may(&self, operation: Operation) -> bool {
        self.role.may(operation)
    }
}

/// Checks a collection or account name: 1 to 64 characters of letters, digits, `-`, `_`, `.`,
/// `@` and `:` (names appear in URLs and in the ledger).
pub fn check_name(what: &str, name: &str) -> Result<(), AuthError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AuthError::Config(format!(
            "{what} name '{name}' must be 1 to 64 letters, digits, '-', '_', '.', '@' or ':'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(
                role.to_string().to_uppercase().parse::<Role>().unwrap(),
                role
            );
        }
        let e = "doctor".parse::<Role>().unwrap_err().to_string();
        assert!(e.contains("clinician"), "{e}");
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("collection", "lung-trial_2026").is_ok());
        assert!(check_name("account", "oidc:alice@example.org").is_ok());
        assert!(check_name("collection", "").is_err());
        assert!(check_name("collection", "a/b").is_err());
        assert!(check_name("collection", &"x".repeat(65)).is_err());
    }
}
