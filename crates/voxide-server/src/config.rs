//! The server's configuration: one TOML file, every key optional, command-line flags on top.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ServerError;

/// Everything `voxide serve` can be told. Missing keys take the defaults shown by
/// `voxide serve --print-config`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Holds the index (`index.sqlite`) and the objects (`objects/`).
    pub data_dir: PathBuf,
    /// Address of the HTTP server (DICOMweb, WADO-URI, health and metrics).
    pub http: SocketAddr,
    /// Address of the DICOM (DIMSE) listener; port 0 turns it off.
    pub dicom: SocketAddr,
    /// Our Application Entity title.
    pub ae_title: String,
    /// Refuse associations called with another AE title than ours.
    pub check_called_ae_title: bool,
    /// Base URL clients reach the DICOMweb service at (up to and including `/dicom-web`), used
    /// in Retrieve URLs and BulkDataURIs. Default: built from the request's Host header.
    pub public_base_url: Option<String>,
    /// What to do when an instance arrives again with other bytes: "reject" or "overwrite".
    pub on_conflict: String,
    /// "full": every instance is on disk (files, folder entries and index fsynced) before it
    /// is acknowledged. "relaxed": no fsync per instance; survives a killed process but a power
    /// loss may lose the last acknowledged instances (Orthanc's defaults are of this kind).
    pub durability: String,
    /// Largest accepted HTTP request body, in bytes (a STOW-RS upload).
    pub max_request_bytes: u64,
    /// Most DICOM associations served at once.
    pub max_associations: usize,
    /// Largest PDU we accept (and announce) on DICOM associations.
    pub max_pdu_length: u32,
    /// Cross-origin requests (browser viewers on another origin).
    pub cors: CorsConfig,
    /// Remote DICOM nodes C-MOVE can send to, by AE title.
    pub remote_aes: BTreeMap<String, RemoteAe>,
    /// AI model runs: how many at once, and the rules that start them when series arrive.
    pub inference: InferenceConfig,
    /// The audit ledger.
    pub ledger: LedgerConfig,
    /// Authentication and authorisation.
    pub auth: AuthConfig,
}

/// Who may connect and what they may do. On by default: a new data folder gets one admin
/// account whose token is printed once at the first start (`voxide token` makes more).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Require credentials on every HTTP request but `/healthz`, and an allow-listed peer on
    /// every DICOM association. Off: everyone may do everything (a test bench only).
    pub enabled: bool,
    /// A verified API token is remembered this long before its hash is checked again
    /// (revocations and role changes through the API take effect at once).
    pub token_cache_seconds: f64,
    /// Bearer JWTs of an OpenID Connect provider, besides API tokens.
    pub oidc: Option<OidcConfig>,
    /// DICOM peers allowed to associate, by AE title and address; the first match counts.
    pub dicom_peers: Vec<DicomPeer>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            token_cache_seconds: 60.0,
            oidc: None,
            dicom_peers: Vec::new(),
        }
    }
}

/// An OpenID Connect provider whose access tokens voxide accepts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The `iss` of its tokens.
    pub issuer: String,
    /// Accepted `aud` values (voxide's client id at the provider).
    pub audiences: Vec<String>,
    /// The provider's JSON Web Key Set, as a file (download it from the provider's `jwks_uri`;
    /// replace it when the provider rotates keys).
    pub jwks_file: PathBuf,
    /// The claim naming the user.
    #[serde(default = "default_name_claim")]
    pub name_claim: String,
    /// The claim holding the voxide role (a string or an array).
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// The claim holding granted collections (optional in tokens).
    #[serde(default = "default_collections_claim")]
    pub collections_claim: String,
}

fn default_name_claim() -> String {
    "sub".into()
}
fn default_role_claim() -> String {
    "voxide_role".into()
}
fn default_collections_claim() -> String {
    "voxide_collections".into()
}

/// A DICOM peer allowed to associate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DicomPeer {
    /// Its calling AE title; `*` for any.
    pub ae_title: String,
    /// Addresses it may connect from: IPs or CIDR blocks (`10.1.0.0/16`), `*` for any.
    pub addresses: Vec<String>,
    /// `uploader` (C-STORE only), `clinician` or `admin` (also C-FIND, C-MOVE, C-GET).
    pub role: String,
    /// Collections it sees through C-FIND, C-MOVE and C-GET (`*`: all studies).
    #[serde(default)]
    pub collections: Vec<String>,
    /// Studies it stores join this collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_collection: Option<String>,
}

/// The audit ledger: every store, query, retrieval and model run recorded in a Merkle log with
/// signed checkpoints (`/api/ledger/...`, `voxide ledger verify`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LedgerConfig {
    /// Keep the ledger. Turn it off only to measure what it costs.
    pub enabled: bool,
    /// A new checkpoint is signed this often while entries arrive (and at shutdown).
    pub checkpoint_interval_seconds: f64,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            checkpoint_interval_seconds: 60.0,
        }
    }
}

/// Model runs (`POST /api/models/{name}/runs` and arrival rules). Models are the ones
/// registered in `<data_dir>/models` (`voxide model add --data-dir ...`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct InferenceConfig {
    /// Model runs executed at once; further runs wait in the queue. 0 pauses all runs.
    pub max_concurrent_runs: usize,
    /// A series counts as complete for arrival rules once no new instance of it has arrived
    /// for this many seconds (Orthanc's "stable age").
    pub stable_age_seconds: f64,
    /// How many times a run interrupted by a server stop or crash is started again before it
    /// is marked failed.
    pub max_attempts: u32,
    /// Arrival rules: run `model` on every complete series that matches.
    pub rules: Vec<ArrivalRule>,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        Self {
            max_concurrent_runs: 1,
            stable_age_seconds: 60.0,
            max_attempts: 3,
            rules: Vec::new(),
        }
    }
}

/// Runs a model on each arriving series that matches both this rule and the model manifest's
/// own input filter. Unset fields match anything.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ArrivalRule {
    /// Names the rule in jobs (`rule:<name>`) and logs.
    pub name: String,
    /// The registered model to run.
    pub model: String,
    /// DICOM Modality, compared case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modality: Option<String>,
    /// Body Part Examined: a case-insensitive glob (`CHEST*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_part: Option<String>,
    /// Series Description: a case-insensitive glob (`*lung*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_description: Option<String>,
}

impl ArrivalRule {
    /// The rule's own series filter.
    pub fn filter(&self) -> voxide_ai::SeriesFilter {
        voxide_ai::SeriesFilter {
            modality: self.modality.clone(),
            body_part: self.body_part.clone(),
            series_description: self.series_description.clone(),
        }
    }
}

/// CORS settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed to call the server from a browser; `["*"]` allows all; empty: CORS off.
    pub allowed_origins: Vec<String>,
}

/// A DICOM node we can open associations to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RemoteAe {
    pub host: String,
    pub port: u16,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("voxide-data"),
            http: SocketAddr::from(([127, 0, 0, 1], 8042)),
            dicom: SocketAddr::from(([0, 0, 0, 0], 11112)),
            ae_title: "VOXIDE".into(),
            check_called_ae_title: false,
            public_base_url: None,
            on_conflict: "reject".into(),
            durability: "full".into(),
            max_request_bytes: 4 << 30,
            max_associations: 32,
            max_pdu_length: 65_536,
            cors: CorsConfig::default(),
            remote_aes: BTreeMap::new(),
            inference: InferenceConfig::default(),
            ledger: LedgerConfig::default(),
            auth: AuthConfig::default(),
        }
    }
}

impl ServerConfig {
    /// Reads a TOML file; keys it lacks keep their defaults.
    pub fn from_file(path: &Path) -> Result<Self, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::Io {
            what: format!("cannot read the configuration file {}", path.display()),
            source,
        })?;
        Self::from_toml(&text).map_err(|e| ServerError::Config(format!("{}: {e}", path.display())))
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration as TOML (for `--print-config`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        let ae = self.ae_title.trim();
        if ae.is_empty() || ae.len() > 16 || !ae.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
            return Err(format!(
                "ae_title '{}' is not a valid AE title: 1 to 16 printable ASCII characters",
                self.ae_title
            ));
        }
        self.on_conflict
            .parse::<voxide_store::ConflictPolicy>()
            .map_err(|e| format!("on_conflict: {e}"))?;
        self.durability
            .parse::<voxide_store::Durability>()
            .map_err(|e| format!("durability: {e}"))?;
        if !(4096..=16 << 20).contains(&self.max_pdu_length) {
            return Err("max_pdu_length must be between 4096 and 16777216".into());
        }
        if self.max_associations == 0 {
            return Err("max_associations must be at least 1".into());
        }
        for name in self.remote_aes.keys() {
            if name.is_empty() || name.len() > 16 {
                return Err(format!(
                    "remote AE title '{name}' must be 1 to 16 characters"
                ));
            }
        }
        if !(self.ledger.checkpoint_interval_seconds.is_finite()
            && self.ledger.checkpoint_interval_seconds > 0.0)
        {
            return Err("ledger.checkpoint_interval_seconds must be more than 0".into());
        }
        let auth = &self.auth;
        if !(auth.token_cache_seconds.is_finite() && auth.token_cache_seconds >= 0.0) {
            return Err("auth.token_cache_seconds must be 0 or more".into());
        }
        for peer in &auth.dicom_peers {
            let role: voxide_auth::Role = peer
                .role
                .parse()
                .map_err(|e| format!("auth.dicom_peers '{}': {e}", peer.ae_title))?;
            if !matches!(
                role,
                voxide_auth::Role::Admin
                    | voxide_auth::Role::Uploader
                    | voxide_auth::Role::Clinician
            ) {
                return Err(format!(
                    "auth.dicom_peers '{}': role {role} cannot be given to a DICOM peer (DICOM carries no de-identified views or ledger); use uploader, clinician or admin",
                    peer.ae_title
                ));
            }
            if peer.addresses.is_empty() {
                return Err(format!(
                    "auth.dicom_peers '{}': list the addresses it connects from (\"*\" for any)",
                    peer.ae_title
                ));
            }
            for a in &peer.addresses {
                voxide_auth::AddressPattern::parse(a)
                    .map_err(|e| format!("auth.dicom_peers '{}': {e}", peer.ae_title))?;
            }
        }
        let inference = &self.inference;
        if !(inference.stable_age_seconds.is_finite() && inference.stable_age_seconds >= 0.0) {
            return Err("inference.stable_age_seconds must be 0 or more".into());
        }
        if inference.max_attempts == 0 {
            return Err("inference.max_attempts must be at least 1".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for rule in &inference.rules {
            if rule.name.trim().is_empty() || rule.model.trim().is_empty() {
                return Err("every [[inference.rules]] needs a name and a model".into());
            }
            if !names.insert(rule.name.as_str()) {
                return Err(format!(
                    "two inference rules are named '{}'; rule names must be unique",
                    rule.name
                ));
            }
        }
        if let Some(url) = &self.public_base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "public_base_url '{url}' must start with http:// or https://"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_unknown_keys_are_errors() {
        let c = ServerConfig::default();
        assert_eq!(ServerConfig::from_toml(&c.to_toml()).unwrap(), c);
        let c = ServerConfig::from_toml(
            "ae_title = \"PACS1\"\n[remote_aes.VIEWER]\nhost = \"10.0.0.5\"\nport = 104\n",
        )
        .unwrap();
        assert_eq!(c.ae_title, "PACS1");
        assert_eq!(c.remote_aes["VIEWER"].port, 104);
        assert_eq!(c.http, ServerConfig::default().http);
        let e = ServerConfig::from_toml("ae_titel = \"X\"").unwrap_err();
        assert!(e.contains("ae_titel"), "{e}");
        assert!(ServerConfig::from_toml("ae_title = \"MUCH_TOO_LONG_AE_TITLE\"").is_err());
        assert!(ServerConfig::from_toml("on_conflict = \"maybe\"").is_err());
        let c = ServerConfig::from_toml(
            "[inference]\nmax_concurrent_runs = 2\n[[inference.rules]]\nname = \"lungs\"\nmodel = \"lung-seg\"\nmodality = \"CT\"\nseries_description = \"*lung*\"\n",
        )
        .unwrap();
        assert_eq!(c.inference.max_concurrent_runs, 2);
        assert_eq!(
            c.inference.rules[0].filter().modality.as_deref(),
            Some("CT")
        );
        assert_eq!(ServerConfig::from_toml(&c.to_toml()).unwrap(), c);
        let twice = "[[inference.rules]]\nname = \"a\"\nmodel = \"m\"\n[[inference.rules]]\nname = \"a\"\nmodel = \"n\"\n";
        assert!(ServerConfig::from_toml(twice)
            .unwrap_err()
            .contains("unique"));
        assert!(ServerConfig::from_toml(
            "[[inference.rules]]\nname = \"a\"\nmodel = \"m\"\nmodalty = \"CT\"\n"
        )
        .is_err());
    }
}
