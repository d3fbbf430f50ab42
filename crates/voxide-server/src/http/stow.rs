//! STOW-RS (PS3.18 10.5): `POST /studies` and `POST /studies/{study}`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Map, Value as Json};
use voxide_auth::Principal;
use voxide_dicomweb::multipart;
use voxide_store::{Actor, IngestOutcome, StoreError};

use super::{base_url, ApiError, ApiResult, Shared};

/// Failure reasons of the Failed SOP Sequence (PS3.18 Table 10.5.3-2 and PS3.4 C-STORE status).
mod reason {
    /// Processing failure.
    pub const PROCESSING_FAILURE: u16 = 0x0110;
    /// Duplicate SOP Instance (same UID, other content, refused by the conflict policy).
    pub const DUPLICATE: u16 = 0x0111;
    /// Out of resources.
    pub const OUT_OF_RESOURCES: u16 = 0xA700;
    /// Data set does not match SOP class / inconsistent hierarchy.
    pub const DATASET_MISMATCH: u16 = 0xA900;
    /// Cannot understand.
    pub const CANNOT_UNDERSTAND: u16 = 0xC000;
    /// Study Instance UID differs from the one in the request URL.
    pub const STUDY_MISMATCH: u16 = 0xC409;
    /// Refused: Not Authorized (PS3.7 C.5.1).
    pub const NOT_AUTHORIZED: u16 = 0x0124;
}

pub(crate) async fn store(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let into = principal.upload_collection.as_deref();
    stow(state, &actor, into, headers, None, body).await
}

pub(crate) async fn store_in_study(
    State(state): State<Shared>,
    Extension(actor): Extension<Actor>,
    Extension(principal): Extension<Principal>,
    Path(study): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let into = principal.upload_collection.as_deref();
    stow(state, &actor, into, headers, Some(study), body).await
}

struct Failure {
    sop_class: Option<String>,
    sop_instance: Option<String>,
    reason: u16,
    message: String,
}

async fn stow(
    state: Shared,
    actor: &Actor,
    upload_collection: Option<&str>,
    headers: HeaderMap,
    study: Option<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "missing Content-Type: send multipart/related; type=\"application/dicom\"; boundary=...",
            )
        })?;
    let media = multipart::parse_content_type(content_type)
        .map_err(|e| ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, e.to_string()))?;
    if media.essence != "multipart/related" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type {} is not accepted: send multipart/related; type=\"application/dicom\"",
                media.essence
            ),
        ));
    }
    if let Some(t) = media.param("type") {
        if !t.eq_ignore_ascii_case("application/dicom") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("multipart/related type \"{t}\" is not supported: send Part 10 instances as type=\"application/dicom\""),
            ));
        }
    }
    let boundary = media.param("boundary").ok_or_else(|| {
        ApiError::bad_request("the multipart/related Content-Type has no boundary parameter")
    })?;
    // The whole body is parsed before anything is stored: a truncated or malformed upload
    // stores nothing.
    let parts = multipart::parse_related(&body, boundary)
        .map_err(|e| ApiError::bad_request(format!("{e}; nothing from this request was stored")))?;
    if parts.is_empty() {
        return Err(ApiError::bad_request(
            "the multipart body holds no parts: nothing to store",
        ));
    }
    let base = base_url(&state, &headers);
    let mut stored: Vec<Json> = Vec::new();
    let mut failed: Vec<Failure> = Vec::new();
    let mut warned = false;
    let mut collected = std::collections::HashSet::new();
    for part in &parts {
        let part_type = part.content_type().map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        if let Some(t) = &part_type {
            if t != "application/dicom" {
                failed.push(Failure {
                    sop_class: None,
                    sop_instance: None,
                    reason: reason::CANNOT_UNDERSTAND,
                    message: format!("part of type {t} skipped: only application/dicom is stored"),
                });
                continue;
            }
        }
        let bytes = part.body.to_vec();
        // Reading the identifiers costs a parse: only when the URL names a study, or for the
        // report of a failure.
        let ids = if study.is_some() {
            peek_ids(&bytes)
        } else {
            (None, None, None)
        };
        if let (Some(wanted), Some(actual)) = (&study, &ids.2) {
            if wanted != actual {
                failed.push(Failure {
                    sop_class: ids.0.clone(),
                    sop_instance: ids.1.clone(),
                    reason: reason::STUDY_MISMATCH,
                    message: format!(
                        "the instance belongs to study {actual}, not to {wanted} named in the URL"
                    ),
                });
                continue;
            }
        }
        let kept_for_report = if study.is_none() {
            Some(part.body)
        } else {
            None
        };
        match state.store.ingest_as(bytes, actor).await {
            Ok(ingested) => {
                if let Some(collection) = upload_collection {
                    if collected.insert(ingested.study_instance_uid.clone()) {
                        state
                            .store
                            .add_to_collection(collection, &ingested.study_instance_uid)
                            .await?;
                    }
                }
                let outcome = match ingested.outcome {
                    IngestOutcome::Stored => "stored",
                    IngestOutcome::Duplicate => "duplicate",
                    IngestOutcome::Replaced => {
                        warned = true;
                        "replaced"
                    }
                };
                state.metrics.received("stow", outcome);
                let url = format!(
                    "{base}/studies/{}/series/{}/instances/{}",
                    ingested.study_instance_uid,
                    ingested.series_instance_uid,
                    ingested.sop_instance_uid
                );
                stored.push(json!({
                    "00081150": { "vr": "UI", "Value": [ingested.sop_class_uid] },
                    "00081155": { "vr": "UI", "Value": [ingested.sop_instance_uid] },
                    "00081190": { "vr": "UR", "Value": [url] },
                }));
            }
            Err(e) => {
                state.metrics.received("stow", "failed");
                let reason = match &e {
                    StoreError::Invalid(_) => reason::CANNOT_UNDERSTAND,
                    StoreError::Conflict(_) => reason::DUPLICATE,
                    StoreError::Hierarchy(_) => reason::DATASET_MISMATCH,
                    StoreError::Refused(_) => reason::NOT_AUTHORIZED,
                    StoreError::Io { .. } | StoreError::Objects(_) => reason::OUT_OF_RESOURCES,
                    _ => reason::PROCESSING_FAILURE,
                };
                let ids = match kept_for_report {
                    Some(body) => peek_ids(body),
                    None => ids,
                };
                tracing::warn!(sop = ?ids.1, error = %e, "STOW-RS instance refused");
                failed.push(Failure {
                    sop_class: ids.0,
                    sop_instance: ids.1,
                    reason,
                    message: e.to_string(),
                });
            }
        }
    }
    let mut response = Map::new();
    if let Some(study) = study.as_ref().or(stored_study(&stored).as_ref()) {
        response.insert(
            "00081190".into(),
            json!({ "vr": "UR", "Value": [format!("{base}/studies/{study}")] }),
        );
    }
    if !failed.is_empty() {
        let items: Vec<Json> = failed
            .iter()
            .map(|f| {
                let mut item = Map::new();
                if let Some(c) = &f.sop_class {
                    item.insert("00081150".into(), json!({ "vr": "UI", "Value": [c] }));
                }
                if let Some(i) = &f.sop_instance {
                    item.insert("00081155".into(), json!({ "vr": "UI", "Value": [i] }));
                }
                item.insert(
                    "00081197".into(),
                    json!({ "vr": "US", "Value": [f.reason] }),
                );
                // Error Comment: why, in words (PS3.7 C.4.1.1.3 allows it in failure items).
                item.insert(
                    "00000902".into(),
                    json!({ "vr": "LO", "Value": [truncate(&f.message, 64)] }),
                );
                Json::Object(item)
            })
            .collect();
        response.insert("00081198".into(), json!({ "vr": "SQ", "Value": items }));
    }
    if !stored.is_empty() {
        response.insert("00081199".into(), json!({ "vr": "SQ", "Value": stored }));
    }
    let status = if failed.is_empty() {
        if warned {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        }
    } else if stored.is_empty() {
        StatusCode::CONFLICT
    } else {
        StatusCode::ACCEPTED
    };
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/dicom+json")],
        Json::Object(response).to_string(),
    )
        .into_response();
    if !failed.is_empty() {
        // The full reasons, for people reading logs of clients that drop the body.
        let summary: Vec<String> = failed.iter().map(|f| f.message.clone()).collect();
        if let Ok(v) = axum::http::HeaderValue::from_str(&truncate(&summary.join(" | "), 1000)) {
            resp.headers_mut().insert("warning", v);
        }
    }
    Ok(resp)
}

fn stored_study(stored: &[Json]) -> Option<String> {
    let url = stored
        .first()?
        .get("00081190")?
        .get("Value")?
        .get(0)?
        .as_str()?;
    let rest = url.split("/studies/").nth(1)?;
    Some(rest.split('/').next()?.to_string())
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// SOP Class, SOP Instance and Study Instance UIDs, when the part parses at all.
fn peek_ids(bytes: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
    use voxide_dicom::{str_of, tags};
    match voxide_dicom::from_bytes(bytes, voxide_dicom::ReadDepth::Header) {
        Ok(obj) => (
            str_of(&obj, tags::SOP_CLASS_UID),
            str_of(&obj, tags::SOP_INSTANCE_UID),
            str_of(&obj, tags::STUDY_INSTANCE_UID),
        ),
        Err(_) => (None, None, None),
    }
}
