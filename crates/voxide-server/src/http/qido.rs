//! QIDO-RS (PS3.18 10.6): searches for studies, series and instances.

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{Map, Value as Json};
use voxide_store::query::tag;
use voxide_store::{Level, Query, Record, Scope};

use super::{base_url, ApiError, ApiResult, Shared};
use crate::dicomjson;

pub(crate) async fn studies(
    State(state): State<Shared>,
    Extension(scope): Extension<Scope>,
    headers: axum::http::HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    search(state, scope, headers, Level::Study, vec![], q).await
}

pub(crate) async fn all_series(
    State(state): State<Shared>,
    Extension(scope): Extension<Scope>,
    headers: axum::http::HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    search(state, scope, headers, Level::Series, vec![], q).await
}

pub(crate) async fn all_instances(
    State(state): State<Shared>,
    Extension(scope): Extension<Scope>,
    headers: axum::http::HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    search(state, scope, headers, Level::Instance, vec![], q).await
}

pub(crate) async fn study_series(
    State(state): State<Shared>,
    Extension(scope): Extension<Scope>,
    headers: axum::http::HeaderMap,
    Path(study): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    search(
        state,
        scope,
        headers,
        Level::Series,
        vec![(tag::STUDY_INSTANCE_UID, study)],
        q,
    )
    .await
}

pub(crate) async fn study_instances(
    State(state): State<Shared>,
    Extension(scope): Extension<Scope>,
    headers: axum::http::HeaderMap,
    Path(study): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    search(
        state,
        scope,
        headers,
        Level::Instance,
        vec![(tag::STUDY_INSTANCE_UID, study)],
        q,
    )
    .await
}

pub(crate) async fn series_instances(
    State(state): State<Shared>,
    Extension(scope): Extension<Scope>,
    headers: axum::http::HeaderMap,
    Path((study, series)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    search(
        state,
        scope,
        headers,
        Level::Instance,
        vec![
            (tag::STUDY_INSTANCE_UID, study),
            (tag::SERIES_INSTANCE_UID, series),
        ],
        q,
    )
    .await
}

async fn search(
    state: Shared,
    scope: Scope,
    headers: axum::http::HeaderMap,
    level: Level,
    mut keys: Vec<(u32, String)>,
    raw_query: Option<String>,
) -> ApiResult<Response> {
    negotiate_json(&headers)?;
    let parsed =
        voxide_dicomweb::qido::QidoQuery::from_query_string(raw_query.as_deref().unwrap_or(""))?;
    keys.extend(parsed.filters.iter().cloned());
    let query = Query {
        level,
        keys,
        limit: parsed.limit,
        offset: parsed.offset,
        scope,
    };
    let records = state.store.query(&query).await?;
    let indexed: Vec<u32> = voxide_store::query::indexed_attributes(level)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let extra: Vec<u32> = parsed
        .include_fields
        .iter()
        .copied()
        .filter(|t| !indexed.contains(t))
        .collect();
    let base = base_url(&state, &headers);
    let mut out = Vec::with_capacity(records.len());
    for record in &records {
        let mut json = dicomjson::record(record);
        if let Some(url) = retrieve_url(&base, level, record) {
            json.insert(
                "00081190".into(),
                serde_json::json!({ "vr": "UR", "Value": [url] }),
            );
        }
        if parsed.include_all || !extra.is_empty() {
            add_from_instance(&state, level, record, &extra, parsed.include_all, &mut json).await?;
        }
        out.push(Json::Object(json));
    }
    Ok((
        [(header::CONTENT_TYPE, "application/dicom+json")],
        Json::Array(out).to_string(),
    )
        .into_response())
}

/// QIDO answers in DICOM JSON; XML is not offered.
fn negotiate_json(headers: &axum::http::HeaderMap) -> ApiResult<()> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ranges = voxide_dicomweb::accept::parse_accept(accept)?;
    let offers = [
        voxide_dicomweb::accept::Offer::new("application/dicom+json"),
        voxide_dicomweb::accept::Offer::new("application/json"),
    ];
    if voxide_dicomweb::accept::negotiate(&ranges, &offers).is_none() {
        return Err(ApiError::not_acceptable(format!(
            "cannot answer with any of '{accept}': QIDO-RS results are application/dicom+json"
        )));
    }
    Ok(())
}

fn retrieve_url(base: &str, level: Level, r: &Record) -> Option<String> {
    let study = r.text(tag::STUDY_INSTANCE_UID)?;
    Some(match level {
        Level::Patient => return None,
        Level::Study => format!("{base}/studies/{study}"),
        Level::Series => format!(
            "{base}/studies/{study}/series/{}",
            r.text(tag::SERIES_INSTANCE_UID)?
        ),
        Level::Instance => format!(
            "{base}/studies/{study}/series/{}/instances/{}",
            r.text(tag::SERIES_INSTANCE_UID)?,
            r.text(tag::SOP_INSTANCE_UID)?
        ),
    })
}

/// Attributes the index does not keep come from one instance of the entity (the first).
async fn add_from_instance(
    state: &Shared,
    level: Level,
    record: &Record,
    extra: &[u32],
    all: bool,
    json: &mut Map<String, Json>,
) -> ApiResult<()> {
    let Some(study) = record.text(tag::STUDY_INSTANCE_UID) else {
        return Ok(());
    };
    let series = record.text(tag::SERIES_INSTANCE_UID);
    let instance = record.text(tag::SOP_INSTANCE_UID);
    let found = state.store.instances(study, series, instance).await?;
    let Some(first) = found.first() else {
        return Ok(());
    };
    let bytes = state.store.read(first).await?;
    let obj = tokio::task::spawn_blocking(move || {
        voxide_dicom::from_bytes(&bytes, voxide_dicom::ReadDepth::Header)
    })
    .await
    .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("stored instance unreadable: {e}"),
        )
    })?;
    let header = dicomjson::dataset(&obj, "");
    for (key, value) in header {
        let Ok(t) = u32::from_str_radix(&key, 16) else {
            continue;
        };
        let wanted = extra.contains(&t) || (all && belongs_to(level, t));
        // Bulk data has no URL worth giving in a search result.
        if wanted && value.get("BulkDataURI").is_none() {
            json.entry(key).or_insert(value);
        }
    }
    Ok(())
}

/// With `includefield=all`, a study result takes no image-level attributes: pixel module,
/// image position and the like (groups 0028, 0020 beyond identification, 7FE0).
fn belongs_to(level: Level, t: u32) -> bool {
    let group = t >> 16;
    match level {
        Level::Instance => true,
        Level::Series => group != 0x7FE0 && group != 0x0028,
        Level::Study | Level::Patient => {
            matches!(group, 0x0008 | 0x0010 | 0x0020 | 0x0032)
                && !matches!(
                    t,
                    0x0008_0016
                        | 0x0008_0018
                        | 0x0008_0008
                        | 0x0020_0013
                        | 0x0020_0032
                        | 0x0020_0037
                )
        }
    }
}
