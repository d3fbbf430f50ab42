//! The HTTP side: DICOMweb under `/dicom-web`, WADO-URI at `/wado`, `/healthz`, `/metrics`.

mod admin;
mod api;
mod deid;
mod ledger;
mod qido;
mod stow;
mod wado;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use voxide_auth::{Operation, Principal};
use voxide_store::{Actor, AuditAction, AuditEntry, AuditOutcome, Scope, StoreError};

use crate::auth::Refusal;

use crate::metrics::RequestLabels;
use crate::AppState;

pub(crate) type Shared = Arc<AppState>;

/// An error answer: a status and a message saying what to fix.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_ACCEPTABLE, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::Invalid(_) | StoreError::Query(_) => StatusCode::BAD_REQUEST,
            StoreError::Conflict(_) | StoreError::Hierarchy(_) => StatusCode::CONFLICT,
            StoreError::Refused(_) => StatusCode::FORBIDDEN,
            _ => {
                tracing::error!(error = %e, "store error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        Self::new(status, e.to_string())
    }
}

impl From<voxide_dicomweb::DicomWebError> for ApiError {
    fn from(e: voxide_dicomweb::DicomWebError) -> Self {
        Self::bad_request(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "status": self.status.as_u16(), "error": self.message });
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The DICOMweb base URL for links in responses: the configured public URL, else the
/// request's Host.
pub(crate) fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_base_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    // Some clients (dicomweb-client 0.60) send Host without the port; links built from it would
    // point at port 80. Behind a proxy, set public_base_url instead.
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        && !host.ends_with(']');
    let port = state.config.http.port();
    if !has_port && port != 80 && headers.get("x-forwarded-proto").is_none() {
        return format!("{scheme}://{host}:{port}/dicom-web");
    }
    format!("{scheme}://{host}/dicom-web")
}

/// All routes.
pub(crate) fn router(state: Shared) -> Router {
    let dicomweb = Router::new()
        .route("/studies", get(qido::studies).post(stow::store))
        .route("/series", get(qido::all_series))
        .route("/instances", get(qido::all_instances))
        .route(
            "/studies/{study}",
            get(wado::study).post(stow::store_in_study),
        )
        .route("/studies/{study}/metadata", get(wado::study_metadata))
        .route("/studies/{study}/series", get(qido::study_series))
        .route("/studies/{study}/instances", get(qido::study_instances))
        .route("/studies/{study}/thumbnail", get(wado::study_thumbnail))
        .route("/studies/{study}/rendered", get(wado::study_rendered))
        .route("/studies/{study}/series/{series}", get(wado::series))
        .route(
            "/studies/{study}/series/{series}/metadata",
            get(wado::series_metadata),
        )
        .route(
            "/studies/{study}/series/{series}/instances",
            get(qido::series_instances),
        )
        .route(
            "/studies/{study}/series/{series}/rendered",
            get(wado::series_rendered),
        )
        .route(
            "/studies/{study}/series/{series}/thumbnail",
            get(wado::series_thumbnail),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}",
            get(wado::instance),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/metadata",
            get(wado::instance_metadata),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/rendered",
            get(wado::instance_rendered),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/thumbnail",
            get(wado::instance_thumbnail),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}",
            get(wado::frames),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}/rendered",
            get(wado::frames_rendered),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}/thumbnail",
            get(wado::frames_rendered),
        )
        .route(
            "/studies/{study}/series/{series}/instances/{instance}/bulkdata/{tag}",
            get(wado::bulkdata),
        );
    let mut app = Router::new()
        .nest("/dicom-web", dicomweb)
        .route("/wado", get(wado::wado_uri))
        .route("/api/models", get(api::models))
        .route("/api/models/{name}", get(api::model))
        .route("/api/models/{name}/runs", post(api::create_run))
        .route("/api/jobs", get(api::list_jobs))
        .route("/api/jobs/{id}", get(api::job))
        .route("/api/jobs/{id}/cancel", post(api::cancel_job))
        .route("/api/rules", get(api::rules))
        .route(
            "/api/studies/{study}/deidentify",
            post(deid::deidentify_study),
        )
        .route(
            "/api/collections/{name}/deidentify",
            post(deid::deidentify_collection),
        )
        .route("/api/whoami", get(admin::whoami))
        .route(
            "/api/accounts",
            get(admin::accounts).post(admin::create_account),
        )
        .route("/api/accounts/{name}", post(admin::update_account))
        .route("/api/accounts/{name}/tokens", post(admin::create_token))
        .route(
            "/api/accounts/{name}/grants/{collection}",
            put(admin::grant).delete(admin::revoke_grant),
        )
        .route("/api/tokens", get(admin::tokens))
        .route(
            "/api/tokens/{id}",
            axum::routing::delete(admin::revoke_token),
        )
        .route(
            "/api/collections",
            get(admin::collections).post(admin::create_collection),
        )
        .route("/api/collections/{name}", get(admin::collection))
        .route(
            "/api/collections/{name}/studies/{study}",
            put(admin::add_study).delete(admin::remove_study),
        )
        .route("/api/ledger", get(ledger::info))
        .route("/api/ledger/checkpoint", get(ledger::checkpoint))
        .route("/api/ledger/entries", get(ledger::entries))
        .route("/api/ledger/export", get(ledger::export))
        .route("/api/ledger/proof/inclusion", get(ledger::inclusion))
        .route("/api/ledger/proof/consistency", get(ledger::consistency))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(
            usize::try_from(state.config.max_request_bytes).unwrap_or(usize::MAX),
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe));
    if let Some(cors) = cors_layer(&state.config.cors.allowed_origins) {
        app = app.layer(cors);
    }
    app.with_state(state)
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(Any)
        .expose_headers(Any);
    Some(if origins.iter().any(|o| o == "*") {
        layer.allow_origin(Any)
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        layer.allow_origin(AllowOrigin::list(list))
    })
}

/// The actor of requests to public routes (`/healthz`, unknown paths).
fn anonymous() -> Actor {
    Actor {
        name: "http:anonymous".into(),
        role: "anonymous".into(),
    }
}

/// Authenticates and authorises each request, records latency by route, logs it and puts data
/// accesses (and logins, refused or not) on the audit ledger.
async fn observe(State(state): State<Shared>, mut request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let (actor, response) =
        match authorise(&state, &method, &route, &path, &query, request.headers()).await {
            Ok(Some(principal)) => {
                let actor = Actor {
                    name: principal.name.clone(),
                    role: principal.role.as_str().into(),
                };
                request.extensions_mut().insert(actor.clone());
                request
                    .extensions_mut()
                    .insert(crate::auth::scope_of(&principal));
                request.extensions_mut().insert(principal);
                (actor, next.run(request).await)
            }
            Ok(None) => {
                request.extensions_mut().insert(anonymous());
                request.extensions_mut().insert(Scope::nothing());
                (anonymous(), next.run(request).await)
            }
            Err((actor, refusal)) => (actor, refusal),
        };
    if state.store.audit_enabled() {
        if let Some(entry) = audit_entry(
            &state,
            &actor,
            &method,
            &route,
            &path,
            &query,
            response.status(),
        ) {
            state.store.audit(entry);
        }
    }
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .http_requests
        .get_or_create(&RequestLabels {
            method: method.clone(),
            route,
            status,
        })
        .observe(elapsed.as_secs_f64());
    tracing::debug!(%method, %path, status, ms = elapsed.as_secs_f64() * 1e3, "request");
    response
}

/// Who sent the request and whether it may do what it asks: the principal (`None` on public
/// routes), or the refusal to answer with and the actor to record it under.
async fn authorise(
    state: &AppState,
    method: &str,
    route: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
) -> Result<Option<Principal>, (Actor, Response)> {
    if !state.auth.enabled() {
        return Ok(Some(crate::auth::open_principal("http:anonymous".into())));
    }
    let Some(operation) = crate::auth::operation_of(method, route) else {
        return Ok(None);
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    let (principal, fresh) = match state.auth.authenticate(&state.store, authorization).await {
        Ok(found) => found,
        Err(Refusal::Unauthenticated(why)) => {
            // Only presented credentials that fail are failed logins; a missing header is a
            // plain refusal (recorded with the route when it asks for data).
            if authorization.is_some() {
                let mut entry = AuditEntry::new("http:unknown", "none", AuditAction::LoginFailed);
                entry.outcome = AuditOutcome::Failure;
                entry.reason = Some(why.clone());
                entry
                    .details
                    .insert("route".into(), format!("{method} {route}"));
                state.store.audit(entry);
            }
            let mut response = ApiError::new(StatusCode::UNAUTHORIZED, why).into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"voxide\""),
            );
            return Err((anonymous(), response));
        }
        Err(Refusal::Forbidden(why)) => {
            return Err((
                anonymous(),
                ApiError::new(StatusCode::FORBIDDEN, why).into_response(),
            ))
        }
    };
    let actor = Actor {
        name: principal.name.clone(),
        role: principal.role.as_str().into(),
    };
    if fresh {
        let mut entry = AuditEntry::new(&actor.name, &actor.role, AuditAction::Login);
        entry
            .details
            .insert("method".into(), format!("{:?}", principal.method));
        state.store.audit(entry);
    }
    if !principal.may(operation) {
        let why = format!(
            "the role {} may not {operation:?} ({method} {route}); ask an admin for another role or account",
            principal.role
        );
        return Err((
            actor,
            ApiError::new(StatusCode::FORBIDDEN, why).into_response(),
        ));
    }
    if matches!(
        operation,
        Operation::Search | Operation::Retrieve | Operation::Deidentify
    ) {
        let scope = crate::auth::scope_of(&principal);
        if scope != Scope::All {
            let mut studies = Vec::new();
            for (template, value) in route.split('/').zip(path.split('/')) {
                if template == "{study}" {
                    studies.push(value.to_string());
                }
            }
            if route == "/wado" {
                for (key, value) in form_urlencoded_pairs(query) {
                    match key.as_str() {
                        "studyUID" => studies.push(value),
                        "objectUID" => {
                            if let Ok(Some(found)) = state.store.instance(&value).await {
                                studies.push(found.study_instance_uid);
                            }
                        }
                        _ => {}
                    }
                }
            }
            for study in studies {
                let visible = state
                    .store
                    .study_in_scope(&scope, &study)
                    .await
                    .unwrap_or(false);
                if !visible {
                    // Names nothing looked up: a WADO-URI objectUID must not reveal its study.
                    let e = ApiError::not_found(format!(
                        "not found: the requested study is not stored here, or not in a collection granted to {}",
                        principal.name
                    ));
                    return Err((actor, e.into_response()));
                }
            }
        }
    }
    Ok(Some(principal))
}

/// The ledger entry of a request, for requests that touch data: searches (QIDO-RS), reads
/// (WADO-RS, WADO-URI) and queued model runs. Stores are recorded instance by instance by the
/// ingest path; reading the ledger itself is not recorded (an auditor's verification would
/// otherwise grow what it verifies).
fn audit_entry(
    state: &AppState,
    actor: &Actor,
    method: &str,
    route: &str,
    path: &str,
    query: &str,
    status: StatusCode,
) -> Option<AuditEntry> {
    let action = match (method, route) {
        ("GET", r) if r.starts_with("/dicom-web") => {
            if r.ends_with("/studies") || r.ends_with("/series") || r.ends_with("/instances") {
                AuditAction::Query
            } else {
                AuditAction::Retrieve
            }
        }
        ("GET", "/wado") => AuditAction::Retrieve,
        ("POST", "/api/models/{name}/runs") => AuditAction::AiRun,
        _ => return None,
    };
    let mut entry = AuditEntry::new(&actor.name, &actor.role, action);
    entry
        .details
        .insert("route".into(), format!("{method} {route}"));
    entry
        .details
        .insert("status".into(), status.as_u16().to_string());
    if status.is_client_error() || status.is_server_error() {
        entry.outcome = AuditOutcome::Failure;
    }
    // Objects named in the path.
    for (template, value) in route.split('/').zip(path.split('/')) {
        let value = value.to_string();
        match template {
            "{study}" => entry.study_instance_uid = Some(value),
            "{series}" => entry.series_instance_uid = Some(value),
            "{instance}" => entry.sop_instance_uid = Some(value),
            "{name}" => {
                entry.details.insert("model".into(), value);
            }
            _ => {}
        }
    }
    // Query parameters: their names only (values can be patient names), the Patient ID as the
    // ledger's keyed hash, and the UIDs of WADO-URI.
    let mut keys = Vec::new();
    for (key, value) in form_urlencoded_pairs(query) {
        match key.as_str() {
            "studyUID" => entry.study_instance_uid = Some(value),
            "seriesUID" => entry.series_instance_uid = Some(value),
            "objectUID" => entry.sop_instance_uid = Some(value),
            "PatientID" | "00100020" => entry.patient = state.store.patient_ref(&value),
            _ => {}
        }
        keys.push(key);
    }
    if !keys.is_empty() {
        keys.sort();
        keys.dedup();
        entry.details.insert("query_keys".into(), keys.join(","));
    }
    Some(entry)
}

/// `application/x-www-form-urlencoded` pairs of a query string, decoded.
fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

async fn healthz(State(state): State<Shared>) -> Response {
    match state.store.stats().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the index is not readable: {e}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<Shared>) -> ApiResult<Response> {
    let stats = state.store.stats().await?;
    let m = &state.metrics;
    m.instances_stored.set(stats.instances as i64);
    m.studies_stored.set(stats.studies as i64);
    m.bytes_stored.set(stats.bytes as i64);
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
        .into_response())
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "no such resource: {}; DICOMweb lives under /dicom-web (studies, series, instances), voxide's API under /api (models, jobs, rules, ledger, accounts, tokens, collections, whoami)",
        uri.path()
    ))
}
