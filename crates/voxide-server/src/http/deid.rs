//! De-identified copies of stored studies: `POST /api/studies/{study}/deidentify`.
//!
//! Every instance of the study is de-identified (`voxide-deid`, PS3.15 Annex E) under the
//! deployment's export key (`<data_dir>/keys/deid.key`) and stored back through the ingest path
//! as a new study, so the copy is served by QIDO-RS, WADO-RS and C-MOVE like any other. The same
//! key gives the same UIDs and pseudonyms in every export: exporting again stores nothing new,
//! and two studies of one patient stay linked in their copies. The export is on the ledger.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;
use voxide_auth::{Principal, Role};
use voxide_deid::{Config, DeidKey, Options};
use voxide_store::{Actor, AuditAction, AuditEntry, AuditOutcome, IngestOutcome};

use super::{ApiError, ApiResult, Shared};

/// The body of `POST /api/studies/{study}/deidentify` (every field optional).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeidRequest {
    /// `basic` and options, comma-separated (as `voxide deid --profile`).
    #[serde(default)]
    profile: Option<String>,
    /// Copy images flagged for burned-in annotation too (default: leave them out).
    #[serde(default)]
    include_burned_in: bool,
    /// Add the copy to this (existing) collection, e.g. a research project's.
    #[serde(default)]
    collection: Option<String>,
}

/// The body of `POST /api/collections/{name}/deidentify`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CollectionDeidRequest {
    /// The collection the copies join; created when missing.
    target: String,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    include_burned_in: bool,
}

/// `POST /api/studies/{study}/deidentify`: stores a de-identified copy of the study; answers
/// with the copy's Study Instance UID and what was copied, left out or refused.
pub(crate) async fn deidentify_study(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Extension(principal): Extension<Principal>,
    Path(study): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let result = export(&state, &actor, &principal, &study, &body).await;
    // A refused export (bad body or profile, unknown study) is on the ledger too.
    if let Err(e) = &result {
        let mut entry = AuditEntry::new(&actor.name, &actor.role, AuditAction::Deidentify);
        entry.study_instance_uid = Some(study.clone());
        entry.outcome = AuditOutcome::Failure;
        entry.reason = Some(e.message.clone());
        entry
            .details
            .insert("status".into(), e.status.as_u16().to_string());
        state.store.audit(entry);
    }
    result
}

/// Whether `principal` may add studies to `collection`: admins, and those granted it (or all).
fn may_fill(principal: &Principal, collection: &str) -> bool {
    principal.all_studies() || principal.collections.iter().any(|c| c == collection)
}

async fn export(
    state: &Shared,
    actor: &Actor,
    principal: &Principal,
    study: &str,
    body: &[u8],
) -> ApiResult<Response> {
    let study = study.to_string();
    let request: DeidRequest = if body.is_empty() {
        DeidRequest::default()
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body must be JSON like {{\"profile\": \"basic,retain-long-modified-dates\"}}: {e}"
            ))
        })?
    };
    let profile = request.profile.unwrap_or_else(|| "basic".into());
    if let Some(c) = &request.collection {
        if !may_fill(principal, c) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("{} is not granted the collection '{c}'", principal.name),
            ));
        }
        if !state
            .store
            .collections()
            .await?
            .iter()
            .any(|k| &k.name == c)
        {
            return Err(ApiError::not_found(format!(
                "no collection '{c}' (an admin creates it with POST /api/collections)"
            )));
        }
    }
    let (status, answer) = copy_study(
        state,
        actor,
        &study,
        &profile,
        request.include_burned_in,
        request.collection.as_deref(),
    )
    .await?;
    Ok((status, Json(answer)).into_response())
}

/// `POST /api/collections/{name}/deidentify`: a de-identified copy of every study of a
/// collection, gathered in the target collection (a research project's, which researchers
/// are granted). Answers with one summary per study.
pub(crate) async fn deidentify_collection(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Extension(principal): Extension<Principal>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let request: CollectionDeidRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be JSON like {{\"target\": \"lung-trial-deid\", \"profile\": \"basic\"}}: {e}"
        ))
    })?;
    let granted = principal.all_studies() || principal.collections.iter().any(|c| c == &name);
    let collections = state.store.collections().await?;
    if !granted || !collections.iter().any(|c| c.name == name) {
        return Err(ApiError::not_found(format!(
            "no collection '{name}' granted to {}",
            principal.name
        )));
    }
    voxide_auth::check_name("collection", &request.target)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if request.target == name {
        return Err(ApiError::bad_request(
            "the target must be another collection than the source",
        ));
    }
    let profile = request.profile.unwrap_or_else(|| "basic".into());
    Options::parse(&profile).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let target_exists = collections.iter().any(|c| c.name == request.target);
    if !may_fill(&principal, &request.target) || (!target_exists && principal.role != Role::Admin) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{} may not fill the collection '{}': it must exist and be granted to you (an admin creates and grants collections)",
                principal.name, request.target
            ),
        ));
    }
    if !target_exists {
        state
            .store
            .create_collection(&request.target, &format!("de-identified copies of {name}"))
            .await?;
        let mut entry = AuditEntry::new(&actor.name, &actor.role, AuditAction::PermissionChange);
        entry.details.insert(
            "change".into(),
            format!("collection {} created", request.target),
        );
        entry.collection = Some(request.target.clone());
        state.store.audit(entry);
    }
    let mut studies = Vec::new();
    let mut worst = StatusCode::OK;
    for study in state.store.collection_studies(&name).await? {
        if state.store.instances(&study, None, None).await?.is_empty() {
            continue; // named in the collection, not (yet) stored
        }
        let (status, answer) = copy_study(
            &state,
            &actor,
            &study,
            &profile,
            request.include_burned_in,
            Some(&request.target),
        )
        .await?;
        if status != StatusCode::OK {
            worst = status;
        }
        studies.push(answer);
    }
    Ok((
        worst,
        Json(json!({ "source": name, "target": request.target, "profile": profile, "studies": studies })),
    )
        .into_response())
}

/// Stores a de-identified copy of one study, marks it as such and adds it to `collection`.
async fn copy_study(
    state: &Shared,
    actor: &Actor,
    study: &str,
    profile: &str,
    include_burned_in: bool,
    collection: Option<&str>,
) -> ApiResult<(StatusCode, serde_json::Value)> {
    let study = study.to_string();
    let profile = profile.to_string();
    let options = Options::parse(&profile).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let instances = state.store.instances(&study, None, None).await?;
    if instances.is_empty() {
        return Err(ApiError::not_found(format!(
            "study {study} is not stored here"
        )));
    }
    let key_bytes = state.store.deid_key()?;
    let key = DeidKey::new(&key_bytes)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let config = std::sync::Arc::new(Config::new(options, key));

    let (mut copied, mut duplicates, mut left_out) = (0u64, 0u64, Vec::new());
    let mut failed = Vec::new();
    let mut new_studies = std::collections::BTreeSet::new();
    for instance in &instances {
        let bytes = state.store.read(instance).await?;
        let config = config.clone();
        let include = include_burned_in;
        let result = tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, String> {
            let obj = voxide_dicom::from_bytes(&bytes, voxide_dicom::ReadDepth::Full)?;
            let outcome = voxide_deid::deidentify(obj, &config).map_err(|e| e.to_string())?;
            if outcome.burned_in.is_some() && !outcome.masked && !include {
                return Ok(None);
            }
            let mut out = Vec::new();
            outcome
                .object
                .write_all(&mut out)
                .map_err(|e| e.to_string())?;
            Ok(Some(out))
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        match result {
            Ok(None) => left_out.push(instance.sop_instance_uid.clone()),
            Ok(Some(copy)) => match state.store.ingest_deidentified_copy(copy, actor).await {
                Ok(stored) => {
                    new_studies.insert(stored.study_instance_uid);
                    match stored.outcome {
                        IngestOutcome::Duplicate => duplicates += 1,
                        _ => copied += 1,
                    }
                }
                Err(e) => failed.push(
                    json!({"sop_instance_uid": instance.sop_instance_uid, "error": e.to_string()}),
                ),
            },
            Err(why) => {
                failed.push(json!({"sop_instance_uid": instance.sop_instance_uid, "error": why}))
            }
        }
    }

    for copy in &new_studies {
        state
            .store
            .mark_deidentified(copy, &study, &profile)
            .await?;
        if let Some(c) = collection {
            state.store.add_to_collection(c, copy).await?;
        }
    }

    let mut entry = AuditEntry::new(&actor.name, &actor.role, AuditAction::Deidentify);
    entry.study_instance_uid = Some(study.clone());
    entry.collection = collection.map(str::to_string);
    entry.details.insert("profile".into(), profile.clone());
    entry.details.insert(
        "copy_study_instance_uids".into(),
        new_studies.iter().cloned().collect::<Vec<_>>().join(","),
    );
    entry.details.insert("copied".into(), copied.to_string());
    entry
        .details
        .insert("already_copied".into(), duplicates.to_string());
    entry
        .details
        .insert("left_out_burned_in".into(), left_out.len().to_string());
    entry
        .details
        .insert("failed".into(), failed.len().to_string());
    if !failed.is_empty() {
        entry.outcome = AuditOutcome::Failure;
        entry.reason = Some(format!(
            "{} instances could not be de-identified",
            failed.len()
        ));
    }
    state.store.audit(entry);

    let status = if failed.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    Ok((
        status,
        json!({
            "source_study_instance_uid": study,
            "study_instance_uids": new_studies,
            "profile": profile,
            "instances": instances.len(),
            "copied": copied,
            "already_copied": duplicates,
            "left_out_burned_in": left_out,
            "failed": failed,
        }),
    ))
}
