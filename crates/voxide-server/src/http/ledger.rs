//! The audit ledger over HTTP (`/api/ledger`): its state, signed checkpoints, entries, inclusion
//! and consistency proofs, and exports for SIEMs (FHIR AuditEvent, DICOM audit messages).
//!
//! Proof hashes are base64, as in the C2SP tlog-proof format; checkpoints are C2SP signed notes
//! (`text/plain`).

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use voxide_ledger::{leaf_hash, Entry};

use super::{ApiError, ApiResult, Shared};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn b64(hashes: &[voxide_ledger::Hash]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

/// `GET /api/ledger`: name, public key, committed size and the latest checkpoint.
pub(crate) async fn info(State(state): State<Shared>) -> ApiResult<Response> {
    let checkpoint = state.store.ledger_checkpoint().await?;
    let (origin, verifier, size) = state.store.ledger_info()?;
    Ok(axum::Json(json!({
        "origin": origin,
        "verifier_key": verifier.to_string(),
        "size": size,
        "checkpoint": checkpoint,
    }))
    .into_response())
}

/// `GET /api/ledger/checkpoint`: the latest signed checkpoint (a new one is signed when entries
/// were added since the last).
pub(crate) async fn checkpoint(State(state): State<Shared>) -> ApiResult<Response> {
    let note = state.store.ledger_checkpoint().await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Range {
    #[serde(default)]
    start: u64,
    end: Option<u64>,
    #[serde(default)]
    format: Option<String>,
}

/// The stored entries of `range`; entries recorded a moment ago are committed first, so a client
/// sees its own requests.
async fn committed_entries(state: &Shared, range: &Range) -> ApiResult<Vec<(u64, Vec<u8>)>> {
    state.store.ledger_flush().await?;
    Ok(state
        .store
        .ledger_entries(range.start, range.end.unwrap_or(u64::MAX))
        .await?)
}

/// `GET /api/ledger/entries?start=&end=`: committed entries (at most 1000), each with its index,
/// the entry and its leaf hash.
pub(crate) async fn entries(
    State(state): State<Shared>,
    Query(range): Query<Range>,
) -> ApiResult<Response> {
    let rows = committed_entries(&state, &range).await?;
    let list: Vec<_> = rows
        .iter()
        .map(|(index, bytes)| {
            let entry: serde_json::Value =
                serde_json::from_slice(bytes).unwrap_or(serde_json::Value::Null);
            json!({ "index": index, "entry": entry, "leaf_hash": B64.encode(leaf_hash(bytes)) })
        })
        .collect();
    Ok(axum::Json(list).into_response())
}

/// `GET /api/ledger/export?start=&end=&format=fhir|dicom`: entries as a FHIR R4 Bundle of
/// AuditEvents (default) or as DICOM PS3.15 audit messages.
pub(crate) async fn export(
    State(state): State<Shared>,
    Query(range): Query<Range>,
) -> ApiResult<Response> {
    let format = range.format.as_deref().unwrap_or("fhir");
    if format != "fhir" && format != "dicom" {
        return Err(ApiError::bad_request(format!(
            "unknown export format '{format}': use fhir (AuditEvent) or dicom (PS3.15 audit messages)"
        )));
    }
    let rows = committed_entries(&state, &range).await?;
    let (origin, _, _) = state.store.ledger_info()?;
    let mut events = Vec::with_capacity(rows.len());
    for (index, bytes) in &rows {
        let entry = Entry::from_bytes(bytes).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("ledger entry {index} is unreadable ({e}); run `voxide ledger verify`"),
            )
        })?;
        events.push(if format == "fhir" {
            voxide_ledger::export::fhir_audit_event(*index, &entry, &origin)
        } else {
            voxide_ledger::export::dicom_audit_message(*index, &entry, &origin)
        });
    }
    let body = if format == "fhir" {
        json!({
            "resourceType": "Bundle",
            "type": "collection",
            "total": events.len(),
            "entry": events.into_iter().map(|r| json!({ "resource": r })).collect::<Vec<_>>(),
        })
    } else {
        json!(events)
    };
    let content_type = if format == "fhir" {
        "application/fhir+json"
    } else {
        "application/json"
    };
    Ok(([(header::CONTENT_TYPE, content_type)], body.to_string()).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InclusionParams {
    index: u64,
    size: Option<u64>,
}

/// The tree size asked for, or all committed entries.
async fn size_or_committed(state: &Shared, size: Option<u64>) -> ApiResult<u64> {
    match size {
        Some(s) => Ok(s),
        None => Ok(state.store.ledger_flush().await?),
    }
}

/// `GET /api/ledger/proof/inclusion?index=&size=`: the proof that entry `index` is in the tree
/// of `size` entries (default: all committed).
pub(crate) async fn inclusion(
    State(state): State<Shared>,
    Query(p): Query<InclusionParams>,
) -> ApiResult<Response> {
    let size = size_or_committed(&state, p.size).await?;
    let proof = state.store.ledger_inclusion_proof(p.index, size)?;
    let leaf = state.store.ledger_entries(p.index, p.index + 1).await?;
    let leaf_hash = leaf.first().map(|(_, bytes)| B64.encode(leaf_hash(bytes)));
    Ok(axum::Json(json!({
        "index": p.index,
        "tree_size": size,
        "leaf_hash": leaf_hash,
        "hashes": b64(&proof),
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyParams {
    from: u64,
    to: Option<u64>,
}

/// `GET /api/ledger/proof/consistency?from=&to=`: the proof that the tree of `to` entries
/// (default: all committed) extends the tree of `from` entries.
pub(crate) async fn consistency(
    State(state): State<Shared>,
    Query(p): Query<ConsistencyParams>,
) -> ApiResult<Response> {
    let to = size_or_committed(&state, p.to).await?;
    let proof = state.store.ledger_consistency_proof(p.from, to)?;
    Ok(axum::Json(json!({ "from": p.from, "to": to, "hashes": b64(&proof) })).into_response())
}
