//! Accounts, API tokens, collections and grants over HTTP (admins only; `GET /api/whoami` for
//! everyone). Every change is a `permission_change` entry on the ledger and takes effect at
//! once (remembered tokens are forgotten).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;
use voxide_auth::{check_name, Principal, Role, ALL_COLLECTIONS};
use voxide_store::{Actor, AuditAction, AuditEntry};

use super::{ApiError, ApiResult, Shared};

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8], example: &str) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body must be JSON like {example}: {e}")))
}

fn bad_name(e: voxide_auth::AuthError) -> ApiError {
    ApiError::bad_request(e.to_string())
}

/// Records a permission change and makes it effective.
fn changed(state: &Shared, actor: &Actor, change: String, collection: Option<&str>) {
    let mut entry = AuditEntry::new(&actor.name, &actor.role, AuditAction::PermissionChange);
    entry.details.insert("change".into(), change);
    entry.collection = collection.map(str::to_string);
    state.store.audit(entry);
    state.auth.forget_all();
}

/// `GET /api/whoami`: the caller's account, role and collections.
pub(crate) async fn whoami(Extension(principal): Extension<Principal>) -> Json<Principal> {
    Json(principal)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    name: String,
    role: String,
    /// `user` (default) or `service`.
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    collections: Vec<String>,
    #[serde(default)]
    upload_collection: Option<String>,
}

/// `POST /api/accounts`: creates an account and its first token (in the answer, once).
pub(crate) async fn create_account(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let new: NewAccount = parse_body(
        &body,
        r#"{"name": "alice", "role": "researcher", "collections": ["lung-trial"]}"#,
    )?;
    check_name("account", &new.name).map_err(bad_name)?;
    let role: Role = new.role.parse().map_err(bad_name)?;
    let kind = new.kind.as_deref().unwrap_or("user");
    if !matches!(kind, "user" | "service") {
        return Err(ApiError::bad_request(format!(
            "kind '{kind}': use user or service"
        )));
    }
    for c in new.collections.iter().chain(&new.upload_collection) {
        if c != ALL_COLLECTIONS {
            check_name("collection", c).map_err(bad_name)?;
        }
    }
    state
        .store
        .create_account(
            &new.name,
            kind,
            role.as_str(),
            new.upload_collection.as_deref(),
        )
        .await?;
    for c in &new.collections {
        state.store.grant(&new.name, c).await?;
    }
    let token = crate::auth::issue_token(&state.store, &new.name, "created with the account")
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    changed(
        &state,
        &actor,
        format!(
            "account {} created with role {role} and collections [{}]",
            new.name,
            new.collections.join(",")
        ),
        None,
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({ "name": new.name, "role": role, "token": token })),
    )
        .into_response())
}

/// `GET /api/accounts`.
pub(crate) async fn accounts(State(state): State<Shared>) -> ApiResult<Response> {
    Ok(Json(state.store.accounts().await?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountChange {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
}

/// `POST /api/accounts/{name}`: changes the role or disables the account.
pub(crate) async fn update_account(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let change: AccountChange = parse_body(&body, r#"{"role": "clinician", "disabled": false}"#)?;
    let role = match &change.role {
        Some(r) => Some(r.parse::<Role>().map_err(bad_name)?),
        None => None,
    };
    state
        .store
        .update_account(&name, role.map(Role::as_str), None, change.disabled)
        .await
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    changed(
        &state,
        &actor,
        format!(
            "account {name}: role {}, disabled {}",
            role.map_or("unchanged".into(), |r| r.to_string()),
            change
                .disabled
                .map_or("unchanged".into(), |d| d.to_string())
        ),
        None,
    );
    Ok(Json(state.store.account(&name).await?).into_response())
}

/// `POST /api/accounts/{name}/tokens`: another token for an account (in the answer, once).
pub(crate) async fn create_token(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    if state.store.account(&name).await?.is_none() {
        return Err(ApiError::not_found(format!("no account '{name}'")));
    }
    let token = crate::auth::issue_token(&state.store, &name, "created over the API")
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    changed(&state, &actor, format!("token created for {name}"), None);
    Ok((
        StatusCode::CREATED,
        Json(json!({ "account": name, "token": token })),
    )
        .into_response())
}

/// `GET /api/tokens`: ids, owners and dates (never the tokens).
pub(crate) async fn tokens(State(state): State<Shared>) -> ApiResult<Response> {
    Ok(Json(state.store.tokens(None).await?).into_response())
}

/// `DELETE /api/tokens/{id}`.
pub(crate) async fn revoke_token(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if !state.store.revoke_token(&id).await? {
        return Err(ApiError::not_found(format!(
            "no unrevoked token '{id}' (GET /api/tokens lists them)"
        )));
    }
    changed(&state, &actor, format!("token {id} revoked"), None);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT` and `DELETE /api/accounts/{name}/grants/{collection}`.
pub(crate) async fn grant(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path((name, collection)): Path<(String, String)>,
) -> ApiResult<Response> {
    if collection != ALL_COLLECTIONS {
        check_name("collection", &collection).map_err(bad_name)?;
    }
    // OpenID Connect users have no account row; their grants are kept by `oidc:` name.
    if !name.starts_with("oidc:") && state.store.account(&name).await?.is_none() {
        return Err(ApiError::not_found(format!("no account '{name}'")));
    }
    state.store.grant(&name, &collection).await?;
    changed(
        &state,
        &actor,
        format!("collection {collection} granted to {name}"),
        Some(&collection),
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn revoke_grant(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path((name, collection)): Path<(String, String)>,
) -> ApiResult<Response> {
    if !state.store.revoke_grant(&name, &collection).await? {
        return Err(ApiError::not_found(format!(
            "{name} holds no grant of {collection}"
        )));
    }
    changed(
        &state,
        &actor,
        format!("collection {collection} no longer granted to {name}"),
        Some(&collection),
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCollection {
    name: String,
    #[serde(default)]
    description: String,
}

/// `POST /api/collections`.
pub(crate) async fn create_collection(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let new: NewCollection = parse_body(&body, r#"{"name": "lung-trial", "description": "..."}"#)?;
    check_name("collection", &new.name).map_err(bad_name)?;
    state
        .store
        .create_collection(&new.name, &new.description)
        .await?;
    changed(
        &state,
        &actor,
        format!("collection {} created", new.name),
        Some(&new.name),
    );
    Ok((StatusCode::CREATED, Json(json!({ "name": new.name }))).into_response())
}

/// `GET /api/collections`.
pub(crate) async fn collections(State(state): State<Shared>) -> ApiResult<Response> {
    Ok(Json(state.store.collections().await?).into_response())
}

/// `GET /api/collections/{name}`: the collection and its Study Instance UIDs.
pub(crate) async fn collection(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let info = state
        .store
        .collections()
        .await?
        .into_iter()
        .find(|c| c.name == name)
        .ok_or_else(|| ApiError::not_found(format!("no collection '{name}'")))?;
    let studies = state.store.collection_studies(&name).await?;
    Ok(
        Json(json!({ "name": info.name, "description": info.description, "studies": studies }))
            .into_response(),
    )
}

/// `PUT /api/collections/{name}/studies/{study}`.
pub(crate) async fn add_study(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path((name, study)): Path<(String, String)>,
) -> ApiResult<Response> {
    voxide_store::check_uid(&study).map_err(|e| ApiError::bad_request(e.to_string()))?;
    state
        .store
        .add_to_collection(&name, &study)
        .await
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    let mut entry = AuditEntry::new(&actor.name, &actor.role, AuditAction::PermissionChange);
    entry.details.insert("change".into(), "study added".into());
    entry.collection = Some(name);
    entry.study_instance_uid = Some(study);
    state.store.audit(entry);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /api/collections/{name}/studies/{study}`.
pub(crate) async fn remove_study(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Path((name, study)): Path<(String, String)>,
) -> ApiResult<Response> {
    if !state.store.remove_from_collection(&name, &study).await? {
        return Err(ApiError::not_found(format!(
            "study {study} is not in collection '{name}'"
        )));
    }
    let mut entry = AuditEntry::new(&actor.name, &actor.role, AuditAction::PermissionChange);
    entry
        .details
        .insert("change".into(), "study removed".into());
    entry.collection = Some(name);
    entry.study_instance_uid = Some(study);
    state.store.audit(entry);
    Ok(StatusCode::NO_CONTENT.into_response())
}
