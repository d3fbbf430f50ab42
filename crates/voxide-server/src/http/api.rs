//! voxide's own JSON API under `/api`: registered models, model runs (jobs), arrival rules.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;
use voxide_store::JobState;
use voxide_store::Scope;

use super::{ApiError, ApiResult, Shared};
use crate::jobs::{self, ModelRunParams};

/// The registry folder could not be read (a broken manifest in it, permissions).
fn model_error(e: voxide_infer::InferError) -> ApiError {
    tracing::error!(error = %e, "model registry");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// `GET /api/models`: the registered models' manifests.
pub(crate) async fn models(State(state): State<Shared>) -> ApiResult<Response> {
    let registry = jobs::registry(&state);
    let list = tokio::task::spawn_blocking(move || registry.list())
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(model_error)?;
    Ok(Json(json!(list)).into_response())
}

/// `GET /api/models/{name}`: one registered model's manifest.
pub(crate) async fn model(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let list = jobs::registry(&state).list().map_err(model_error)?;
    match list.into_iter().find(|m| m.name == name) {
        Some(m) => Ok(Json(json!(m)).into_response()),
        None => Err(not_registered(&name)),
    }
}

fn not_registered(name: &str) -> ApiError {
    ApiError::not_found(format!(
        "model {name} is not registered; register it with `voxide model add <package> --data-dir <the server's data_dir>` (GET /api/models lists the registered ones)"
    ))
}

/// The body of `POST /api/models/{name}/runs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunRequest {
    series_instance_uid: String,
    /// Optional: checked against the series' study when given.
    #[serde(default)]
    study_instance_uid: Option<String>,
}

/// `POST /api/models/{name}/runs`: queues a run of the model on a stored series. Everything
/// that can be checked before the run is: the model is registered and intact, the series is
/// stored and of the model's modality.
pub(crate) async fn create_run(
    State(state): State<Shared>,
    Extension(scope): Extension<voxide_store::Scope>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let request: RunRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be JSON like {{\"series_instance_uid\": \"1.2.3\"}}: {e}"
        ))
    })?;
    let models = jobs::registry(&state).list().map_err(model_error)?;
    let manifest = models
        .into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| not_registered(&name))?;
    let series = state
        .store
        .series_summary(&request.series_instance_uid)
        .await?;
    let series = match series {
        Some(s)
            if state
                .store
                .study_in_scope(&scope, &s.study_instance_uid)
                .await? =>
        {
            Some(s)
        }
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::not_found(format!(
            "series {} is not stored here",
            request.series_instance_uid
        ))
    })?;
    if let Some(study) = &request.study_instance_uid {
        if study != &series.study_instance_uid {
            return Err(ApiError::bad_request(format!(
                "series {} belongs to study {}, not {study}",
                series.series_instance_uid, series.study_instance_uid
            )));
        }
    }
    voxide_ai::check_series(&manifest, &jobs::series_info(&series))
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let params = ModelRunParams {
        model: manifest.name.clone(),
        study_instance_uid: series.study_instance_uid,
        series_instance_uid: series.series_instance_uid,
    };
    let job = jobs::enqueue_run(&state, &params, "api").await?;
    if state.config.inference.max_concurrent_runs == 0 {
        tracing::warn!(
            job = job.id,
            "model run queued, but runs are paused (inference.max_concurrent_runs = 0)"
        );
    }
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/api/jobs/{}", job.id))],
        Json(jobs::job_json(&job)),
    )
        .into_response())
}

/// Query parameters of `GET /api/jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobsQuery {
    state: Option<String>,
    limit: Option<u32>,
}

/// `GET /api/jobs[?state=queued|running|succeeded|failed|canceled][&limit=N]`: newest first.
pub(crate) async fn list_jobs(
    State(state): State<Shared>,
    Extension(scope): Extension<Scope>,
    Query(query): Query<JobsQuery>,
) -> ApiResult<Response> {
    let filter = query
        .state
        .as_deref()
        .map(str::parse::<JobState>)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let limit = query.limit.unwrap_or(100).clamp(1, 10_000);
    let mut visible = Vec::new();
    for job in state.store.jobs(filter, limit).await? {
        if job_in_scope(&state, &scope, &job).await? {
            visible.push(jobs::job_json(&job));
        }
    }
    Ok(Json(visible).into_response())
}

/// Whether the study a job works on is one `scope` sees (jobs name studies and results).
async fn job_in_scope(state: &Shared, scope: &Scope, job: &voxide_store::Job) -> ApiResult<bool> {
    if *scope == Scope::All {
        return Ok(true);
    }
    let study = serde_json::from_str::<serde_json::Value>(&job.params)
        .ok()
        .and_then(|p| p["study_instance_uid"].as_str().map(str::to_string));
    Ok(match study {
        Some(study) => state.store.study_in_scope(scope, &study).await?,
        None => false,
    })
}

fn job_id(text: &str) -> ApiResult<i64> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("'{text}' is not a job id (a number)")))
}

/// `GET /api/jobs/{id}`.
pub(crate) async fn job(
    State(state): State<Shared>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = job_id(&id)?;
    match state.store.job(id).await? {
        Some(job) if job_in_scope(&state, &scope, &job).await? => {
            Ok(Json(jobs::job_json(&job)).into_response())
        }
        _ => Err(ApiError::not_found(format!("no job {id}"))),
    }
}

/// `POST /api/jobs/{id}/cancel`: a queued or running job is canceled (a running model run stops
/// after the network batch it is in and stores nothing); a finished one cannot be.
pub(crate) async fn cancel_job(
    State(state): State<Shared>,
    Extension(scope): Extension<Scope>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = job_id(&id)?;
    match state.store.job(id).await? {
        Some(job) if job_in_scope(&state, &scope, &job).await? => {}
        _ => return Err(ApiError::not_found(format!("no job {id}"))),
    }
    let job = state
        .store
        .cancel_job(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    match job.state {
        JobState::Canceled => Ok(Json(jobs::job_json(&job)).into_response()),
        other => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("job {id} has already ended ({})", other.as_str()),
        )),
    }
}

/// `GET /api/rules`: the configured arrival rules and their settings.
pub(crate) async fn rules(State(state): State<Shared>) -> Response {
    let i = &state.config.inference;
    Json(json!({
        "max_concurrent_runs": i.max_concurrent_runs,
        "stable_age_seconds": i.stable_age_seconds,
        "rules": i.rules,
    }))
    .into_response()
}
