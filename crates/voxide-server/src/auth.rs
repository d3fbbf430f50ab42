//! Authentication and authorisation at the server's edges: which operation a request is,
//! who sent it (API token or OpenID Connect JWT), and which studies it may see. The rules are
//! `voxide-auth`'s; the records (accounts, token hashes, grants, collections) the store's.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use voxide_auth::oidc::{OidcSettings, OidcVerifier};
use voxide_auth::{AddressPattern, AuthError, Method, Operation, Principal, Role};
use voxide_store::{Scope, Store, StoreError};

use crate::config::{AuthConfig, DicomPeer};
use crate::ServerError;

/// Checks credentials, remembering verified API tokens for a while (Argon2id costs tens of
/// milliseconds per check, on purpose).
#[derive(Debug)]
pub struct Authenticator {
    enabled: bool,
    ttl: Duration,
    cache: Mutex<HashMap<[u8; 32], (Principal, Instant)>>,
    oidc: Option<OidcVerifier>,
    peers: Vec<(DicomPeer, Vec<AddressPattern>)>,
}

/// Why a request is refused before it reaches a handler.
#[derive(Debug)]
pub enum Refusal {
    /// No credentials, or invalid ones (401).
    Unauthenticated(String),
    /// Valid credentials without the right (403).
    Forbidden(String),
}

impl Authenticator {
    pub fn new(config: &AuthConfig) -> Result<Self, ServerError> {
        let oidc = match &config.oidc {
            None => None,
            Some(o) => {
                let jwks =
                    std::fs::read_to_string(&o.jwks_file).map_err(|source| ServerError::Io {
                        what: format!(
                            "cannot read the OpenID Connect key set {}",
                            o.jwks_file.display()
                        ),
                        source,
                    })?;
                let settings = OidcSettings {
                    issuer: o.issuer.clone(),
                    audiences: o.audiences.clone(),
                    name_claim: o.name_claim.clone(),
                    role_claim: o.role_claim.clone(),
                    collections_claim: o.collections_claim.clone(),
                };
                Some(
                    OidcVerifier::new(settings, &jwks)
                        .map_err(|e| ServerError::Config(format!("auth.oidc: {e}")))?,
                )
            }
        };
        let mut peers = Vec::new();
        for p in &config.dicom_peers {
            let patterns = p
                .addresses
                .iter()
                .map(|a| AddressPattern::parse(a))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ServerError::Config(format!("auth.dicom_peers: {e}")))?;
            peers.push((p.clone(), patterns));
        }
        Ok(Self {
            enabled: config.enabled,
            ttl: Duration::from_secs_f64(config.token_cache_seconds),
            cache: Mutex::new(HashMap::new()),
            oidc,
            peers,
        })
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Forgets every remembered token: after a revocation, role or grant change.
    pub fn forget_all(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }

    /// The principal of an `Authorization` header value; `fresh` when the credential was
    /// checked now rather than remembered (a login, for the ledger).
    pub async fn authenticate(
        &self,
        store: &Store,
        authorization: Option<&str>,
    ) -> Result<(Principal, bool), Refusal> {
        let credential = authorization
            .and_then(|h| {
                let (scheme, value) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| value.trim())
            })
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                Refusal::Unauthenticated(
                    "credentials required: send 'Authorization: Bearer <token>' (an API token from 'voxide token create', or an OpenID Connect access token)".into(),
                )
            })?;
        let fingerprint = voxide_auth::token::fingerprint(credential);
        if let Ok(cache) = self.cache.lock() {
            if let Some((p, at)) = cache.get(&fingerprint) {
                if at.elapsed() < self.ttl {
                    return Ok((p.clone(), false));
                }
            }
        }
        let principal = if let Some((id, secret)) = voxide_auth::token::parse(credential) {
            self.check_api_token(store, id, secret).await?
        } else if let (Some(oidc), true) = (&self.oidc, OidcVerifier::looks_like_jwt(credential)) {
            let mut p = oidc.verify(credential).map_err(invalid)?;
            let stored = store.grants(&p.name).await.map_err(internal)?;
            p.collections.extend(stored);
            p.collections.sort();
            p.collections.dedup();
            // JWTs are not remembered: checking a signature is cheap, and a token must stop
            // working the moment it expires.
            return Ok((p, true));
        } else {
            return Err(Refusal::Unauthenticated(
                "the bearer credential is neither a voxide API token nor an accepted OpenID Connect token".into(),
            ));
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(fingerprint, (principal.clone(), Instant::now()));
        }
        Ok((principal, true))
    }

    async fn check_api_token(
        &self,
        store: &Store,
        id: &str,
        secret: &str,
    ) -> Result<Principal, Refusal> {
        let unknown = || Refusal::Unauthenticated("unknown or revoked API token".into());
        let record = store
            .token(id)
            .await
            .map_err(internal)?
            .ok_or_else(unknown)?;
        if record.revoked_at.is_some() {
            return Err(unknown());
        }
        let (secret, hash) = (secret.to_string(), record.hash.clone());
        let matches =
            tokio::task::spawn_blocking(move || voxide_auth::token::verify(&secret, &hash))
                .await
                .unwrap_or(false);
        if !matches {
            return Err(unknown());
        }
        let account = store
            .account(&record.account)
            .await
            .map_err(internal)?
            .ok_or_else(unknown)?;
        if account.disabled {
            return Err(Refusal::Unauthenticated(format!(
                "account '{}' is disabled",
                account.name
            )));
        }
        let role: Role = account.role.parse().map_err(|e: AuthError| {
            Refusal::Forbidden(format!("account '{}': {e}", account.name))
        })?;
        Ok(Principal {
            name: account.name,
            role,
            collections: account.collections,
            method: Method::ApiToken,
            upload_collection: account.upload_collection,
        })
    }

    /// The principal of a DICOM peer, `None` when no allow-list entry matches its calling AE
    /// title and address. With authentication off every peer is an admin.
    pub fn dicom_peer(&self, calling_ae: &str, address: Option<IpAddr>) -> Option<Principal> {
        let calling_ae = calling_ae.trim();
        let name = format!(
            "dicom:{calling_ae}@{}",
            address.map_or_else(|| "unknown".into(), |a| a.to_string())
        );
        if !self.enabled {
            return Some(open_principal(name));
        }
        let address = address?;
        let (peer, _) = self.peers.iter().find(|(peer, patterns)| {
            (peer.ae_title == "*" || peer.ae_title.trim() == calling_ae)
                && patterns.iter().any(|p| p.matches(address))
        })?;
        Some(Principal {
            name,
            role: peer.role.parse().ok()?,
            collections: peer.collections.clone(),
            method: Method::DicomPeer,
            upload_collection: peer.upload_collection.clone(),
        })
    }
}

fn invalid(e: AuthError) -> Refusal {
    Refusal::Unauthenticated(e.to_string())
}

fn internal(e: StoreError) -> Refusal {
    tracing::error!(error = %e, "cannot read accounts");
    Refusal::Unauthenticated(format!("cannot check credentials now: {e}"))
}

/// Everyone, when authentication is off.
pub fn open_principal(name: String) -> Principal {
    Principal {
        name,
        role: Role::Admin,
        collections: vec![voxide_auth::ALL_COLLECTIONS.into()],
        method: Method::Open,
        upload_collection: None,
    }
}

/// The studies a principal sees.
pub fn scope_of(principal: &Principal) -> Scope {
    if principal.role == Role::Admin {
        return Scope::All;
    }
    let all_collections = principal.all_studies();
    match principal.role {
        Role::Clinician if all_collections => Scope::All,
        Role::Clinician | Role::Researcher => Scope::Studies {
            collections: principal.collections.clone(),
            all_collections,
            deidentified_only: principal.role.sees_only_deidentified(),
        },
        // Uploaders and auditors read no images, whatever they are granted.
        _ => Scope::nothing(),
    }
}

/// The operation of an HTTP route (axum's matched path); `None` for public routes.
pub fn operation_of(method: &str, route: &str) -> Option<Operation> {
    use Operation as O;
    let op = match (method, route) {
        (_, "/healthz") | (_, "unmatched") => return None,
        ("POST", "/dicom-web/studies" | "/dicom-web/studies/{study}") => O::Store,
        (_, r) if r.starts_with("/dicom-web/") => {
            if r.ends_with("/studies") || r.ends_with("/series") || r.ends_with("/instances") {
                O::Search
            } else {
                O::Retrieve
            }
        }
        (_, "/wado") => O::Retrieve,
        ("GET", "/api/models" | "/api/models/{name}") => O::ReadModels,
        ("POST", "/api/models/{name}/runs" | "/api/jobs/{id}/cancel") => O::RunModel,
        ("GET", "/api/jobs" | "/api/jobs/{id}" | "/api/rules") => O::ReadJobs,
        ("POST", "/api/studies/{study}/deidentify" | "/api/collections/{name}/deidentify") => {
            O::Deidentify
        }
        (_, r) if r.starts_with("/api/ledger") => O::ReadLedger,
        (_, "/metrics") => O::Monitor,
        (_, "/api/whoami") => O::WhoAmI,
        // Accounts, tokens, collections, grants; and anything else not listed: deny by default
        // to all but admins.
        _ => O::Administer,
    };
    Some(op)
}

/// Creates the first admin account and its token when the store has no account: the token
/// text, to print once; `None` when accounts exist.
pub async fn bootstrap_admin(store: &Store) -> Result<Option<String>, ServerError> {
    if store.has_accounts().await? {
        return Ok(None);
    }
    store.create_account("admin", "user", "admin", None).await?;
    let token = issue_token(store, "admin", "created at the first start").await?;
    let mut entry = voxide_store::AuditEntry::new(
        "local:first-start",
        "admin",
        voxide_store::AuditAction::PermissionChange,
    );
    entry.details.insert(
        "change".into(),
        "account admin created with role admin".into(),
    );
    store.audit(entry);
    Ok(Some(token))
}

/// Makes a token for an account and stores its hash; returns the token text.
pub async fn issue_token(
    store: &Store,
    account: &str,
    description: &str,
) -> Result<String, ServerError> {
    let new = tokio::task::spawn_blocking(voxide_auth::token::generate)
        .await
        .map_err(|e| ServerError::Config(e.to_string()))?
        .map_err(|e| ServerError::Config(e.to_string()))?;
    store
        .add_token(&new.id, account, &new.hash, description)
        .await?;
    Ok(new.token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_operations() {
        use Operation as O;
        let cases = [
            ("GET", "/healthz", None),
            ("GET", "/dicom-web/studies", Some(O::Search)),
            ("POST", "/dicom-web/studies", Some(O::Store)),
            ("POST", "/dicom-web/studies/{study}", Some(O::Store)),
            ("GET", "/dicom-web/studies/{study}", Some(O::Retrieve)),
            ("GET", "/dicom-web/studies/{study}/series", Some(O::Search)),
            (
                "GET",
                "/dicom-web/studies/{study}/series/{series}/instances/{instance}/frames/{frames}",
                Some(O::Retrieve),
            ),
            ("GET", "/wado", Some(O::Retrieve)),
            ("GET", "/api/ledger/proof/inclusion", Some(O::ReadLedger)),
            ("GET", "/metrics", Some(O::Monitor)),
            ("POST", "/api/accounts", Some(O::Administer)),
            ("GET", "/api/something-new", Some(O::Administer)),
        ];
        for (method, route, op) in cases {
            assert_eq!(operation_of(method, route), op, "{method} {route}");
        }
    }

    #[test]
    fn scopes_follow_role_and_grants() {
        let p = |role, collections: &[&str]| Principal {
            name: "x".into(),
            role,
            collections: collections.iter().map(|s| s.to_string()).collect(),
            method: Method::ApiToken,
            upload_collection: None,
        };
        assert_eq!(scope_of(&p(Role::Admin, &[])), Scope::All);
        assert_eq!(scope_of(&p(Role::Clinician, &["*"])), Scope::All);
        assert_eq!(
            scope_of(&p(Role::Researcher, &["*"])),
            Scope::Studies {
                collections: vec!["*".into()],
                all_collections: true,
                deidentified_only: true
            }
        );
        assert_eq!(
            scope_of(&p(Role::Clinician, &["a"])),
            Scope::Studies {
                collections: vec!["a".into()],
                all_collections: false,
                deidentified_only: false
            }
        );
        assert_eq!(scope_of(&p(Role::Uploader, &["*"])), Scope::nothing());
        assert_eq!(scope_of(&p(Role::Auditor, &["a"])), Scope::nothing());
    }
}
