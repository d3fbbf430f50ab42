//! WADO-RS (PS3.18 10.4): instances, metadata, frames, bulk data, rendered images and
//! thumbnails; and WADO-URI (PS3.18 9).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value as Json;
use voxide_dicom::{DicomObject, EXPLICIT_VR_LE};
use voxide_dicomweb::accept::{negotiate, parse_accept, Offer};
use voxide_dicomweb::multipart::{related_content_type, RelatedWriter};
use voxide_store::InstanceRef;

use super::{base_url, ApiError, ApiResult, Shared};
use crate::dicomjson;
use crate::render::{self, ImageFormat, RenderOptions};

/// Uncompressed transfer syntaxes we produce on request.
const NATIVE_SYNTAXES: [&str; 2] = [EXPLICIT_VR_LE, "1.2.840.10008.1.2"];

fn accept_header(headers: &HeaderMap) -> &str {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// What the client asked for, as a transfer syntax: `None` = as stored.
fn requested_syntax(param: Option<&str>) -> ApiResult<Option<String>> {
    match param.map(str::trim) {
        Some("*") => Ok(None),
        // PS3.18 8.7.3.5.2: without the parameter, application/dicom means Explicit VR LE.
        None | Some("") => Ok(Some(EXPLICIT_VR_LE.to_string())),
        Some(ts) => Ok(Some(ts.to_string())),
    }
}

async fn find(
    state: &Shared,
    study: &str,
    series: Option<&str>,
    instance: Option<&str>,
) -> ApiResult<Vec<InstanceRef>> {
    for uid in [Some(study), series, instance].into_iter().flatten() {
        voxide_store::check_uid(uid).map_err(|why| {
            ApiError::bad_request(format!("invalid UID '{uid}' in the URL: {why}"))
        })?;
    }
    let found = state.store.instances(study, series, instance).await?;
    if found.is_empty() {
        let what = match (series, instance) {
            (_, Some(i)) => format!("instance {i}"),
            (Some(s), None) => format!("series {s}"),
            _ => format!("study {study}"),
        };
        return Err(ApiError::not_found(format!("{what} is not stored here")));
    }
    Ok(found)
}

async fn parse_stored(state: &Shared, r: &InstanceRef) -> ApiResult<(Bytes, DicomObject)> {
    let bytes = state.store.read(r).await?;
    let b = bytes.clone();
    let obj = tokio::task::spawn_blocking(move || {
        voxide_dicom::from_bytes(&b, voxide_dicom::ReadDepth::Full)
    })
    .await
    .map_err(internal)?
    .map_err(|e| {
        internal(format!(
            "stored instance {} unreadable: {e}",
            r.sop_instance_uid
        ))
    })?;
    Ok((bytes, obj))
}

/// The instance's file in the wanted transfer syntax; falls back to the stored one (and says
/// so in the part's Content-Type) when it cannot be converted.
async fn instance_in_syntax(
    state: &Shared,
    r: &InstanceRef,
    wanted: Option<&str>,
) -> ApiResult<(Bytes, String)> {
    let stored = r.transfer_syntax.clone();
    match wanted {
        None => Ok((state.store.read(r).await?, stored)),
        Some(ts) if ts == stored => Ok((state.store.read(r).await?, stored)),
        Some(ts) => {
            let (bytes, obj) = parse_stored(state, r).await?;
            let sop = r.sop_instance_uid.clone();
            let ts = ts.to_string();
            let converted = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
                let name = std::path::PathBuf::from(&sop);
                let mut obj =
                    voxide_dicom::to_explicit_le(obj, &name).map_err(|e| e.to_string())?;
                if ts != EXPLICIT_VR_LE {
                    obj.meta_mut().set_transfer_syntax(
                        &dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN
                            .erased(),
                    );
                }
                let mut out = Vec::new();
                obj.write_all(&mut out).map_err(|e| e.to_string())?;
                Ok(out)
            })
            .await
            .map_err(internal)?;
            match converted {
                Ok(out) => Ok((Bytes::from(out), wanted.unwrap_or_default().to_string())),
                Err(e) => {
                    tracing::warn!(sop = %r.sop_instance_uid, error = %e, "cannot convert; sending as stored");
                    Ok((bytes, stored))
                }
            }
        }
    }
}

async fn retrieve(
    state: Shared,
    headers: HeaderMap,
    study: String,
    series: Option<String>,
    instance: Option<String>,
) -> ApiResult<Response> {
    let accept = accept_header(&headers);
    let ranges = parse_accept(accept)?;
    let offers = [Offer::new("multipart/related").with_param("type", "application/dicom")];
    let Some((_, range)) = negotiate(&ranges, &offers) else {
        return Err(ApiError::not_acceptable(format!(
            "cannot answer with any of '{accept}': instances are sent as multipart/related; type=\"application/dicom\""
        )));
    };
    let wanted = requested_syntax(range.param("transfer-syntax"))?;
    if let Some(ts) = &wanted {
        if !NATIVE_SYNTAXES.contains(&ts.as_str()) {
            // Another compressed syntax: only when every instance is stored that way.
            let found = find(&state, &study, series.as_deref(), instance.as_deref()).await?;
            if found.iter().any(|r| &r.transfer_syntax != ts) {
                return Err(ApiError::not_acceptable(format!(
                    "cannot convert to transfer syntax {ts}: ask for transfer-syntax=* (as stored) or {EXPLICIT_VR_LE}"
                )));
            }
        }
    }
    let found = find(&state, &study, series.as_deref(), instance.as_deref()).await?;
    let writer = RelatedWriter::with_new_boundary();
    let boundary = writer.boundary().to_string();
    let ts_param = match &wanted {
        None => Some("*".to_string()),
        Some(ts) => Some(ts.clone()),
    };
    // Streamed one instance at a time: a whole study never sits in memory. An error after the
    // first part can only cut the response short (the status is already sent); it is logged.
    let parts = futures::stream::unfold(
        (state, found.into_iter(), writer, wanted, false),
        |(state, mut instances, mut writer, wanted, done)| async move {
            if done {
                return None;
            }
            let Some(r) = instances.next() else {
                let end = Bytes::from(writer.close());
                return Some((Ok(end), (state, instances, writer, wanted, true)));
            };
            let chunk = match instance_in_syntax(&state, &r, wanted.as_deref()).await {
                Ok((bytes, ts)) => {
                    let mut part = writer
                        .part_header(&format!("application/dicom; transfer-syntax={ts}"), &[]);
                    part.extend_from_slice(&bytes);
                    Ok(Bytes::from(part))
                }
                Err(e) => {
                    tracing::error!(sop = %r.sop_instance_uid, error = %e.message, "retrieval cut short");
                    Err(std::io::Error::other(e.message))
                }
            };
            Some((chunk, (state, instances, writer, wanted, false)))
        },
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            related_content_type(&boundary, "application/dicom", ts_param.as_deref()),
        )],
        axum::body::Body::from_stream(parts),
    )
        .into_response())
}

pub(crate) async fn study(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(study): Path<String>,
) -> ApiResult<Response> {
    retrieve(state, headers, study, None, None).await
}

pub(crate) async fn series(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((study, series)): Path<(String, String)>,
) -> ApiResult<Response> {
    retrieve(state, headers, study, Some(series), None).await
}

pub(crate) async fn instance(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((study, series, instance)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    retrieve(state, headers, study, Some(series), Some(instance)).await
}

async fn metadata(
    state: Shared,
    headers: HeaderMap,
    study: String,
    series: Option<String>,
    instance: Option<String>,
) -> ApiResult<Response> {
    let accept = accept_header(&headers);
    let ranges = parse_accept(accept)?;
    if negotiate(
        &ranges,
        &[
            Offer::new("application/dicom+json"),
            Offer::new("application/json"),
        ],
    )
    .is_none()
    {
        return Err(ApiError::not_acceptable(format!(
            "cannot answer with any of '{accept}': metadata is application/dicom+json"
        )));
    }
    let found = find(&state, &study, series.as_deref(), instance.as_deref()).await?;
    let base = base_url(&state, &headers);
    let mut out = Vec::with_capacity(found.len());
    for r in &found {
        let bytes = state.store.read(r).await?;
        let url = format!(
            "{base}/studies/{}/series/{}/instances/{}",
            r.study_instance_uid, r.series_instance_uid, r.sop_instance_uid
        );
        let json = tokio::task::spawn_blocking(move || {
            voxide_dicom::from_bytes(&bytes, voxide_dicom::ReadDepth::Full)
                .map(|obj| dicomjson::dataset(&obj, &url))
        })
        .await
        .map_err(internal)?
        .map_err(|e| {
            internal(format!(
                "stored instance {} unreadable: {e}",
                r.sop_instance_uid
            ))
        })?;
        out.push(Json::Object(json));
    }
    Ok((
        [(header::CONTENT_TYPE, "application/dicom+json")],
        Json::Array(out).to_string(),
    )
        .into_response())
}

pub(crate) async fn study_metadata(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(study): Path<String>,
) -> ApiResult<Response> {
    metadata(state, headers, study, None, None).await
}

pub(crate) async fn series_metadata(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((study, series)): Path<(String, String)>,
) -> ApiResult<Response> {
    metadata(state, headers, study, Some(series), None).await
}

pub(crate) async fn instance_metadata(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((study, series, instance)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    metadata(state, headers, study, Some(series), Some(instance)).await
}

/// `1,2,3` → zero-based frame indices, each checked against the frame count.
fn frame_list(list: &str, frames: usize) -> ApiResult<Vec<usize>> {
    let mut out = Vec::new();
    for item in list.split(',') {
        let n: usize = item.trim().parse().map_err(|_| {
            ApiError::bad_request(format!(
                "'{item}' is not a frame number: write frames as 1,2,3 (numbered from 1)"
            ))
        })?;
        if n == 0 || n > frames {
            return Err(ApiError::not_found(format!(
                "frame {n} does not exist: the instance has {frames} frame(s), numbered from 1"
            )));
        }
        out.push(n - 1);
    }
    Ok(out)
}

/// Encapsulated frames as stored: one frame's fragments, found through the Basic Offset Table
/// when there is one, else one fragment per frame, else all fragments for a single frame.
fn encapsulated_frames(obj: &DicomObject, frames: usize) -> Option<Vec<Vec<u8>>> {
    use dicom_core::value::Value;
    let element = obj.get(voxide_dicom::tags::PIXEL_DATA)?;
    let Value::PixelSequence(seq) = element.value() else {
        return None;
    };
    let fragments = seq.fragments();
    let table = seq.offset_table();
    if frames == 1 {
        return Some(vec![fragments
            .iter()
            .flat_map(|f| f.iter().copied())
            .collect()]);
    }
    if fragments.len() == frames {
        return Some(fragments.iter().map(|f| f.to_vec()).collect());
    }
    if table.len() == frames {
        // Offsets are from the first fragment's item tag; each fragment item adds 8 bytes.
        let mut starts = Vec::with_capacity(fragments.len());
        let mut pos = 0u64;
        for f in fragments {
            starts.push(pos);
            pos += 8 + f.len() as u64;
        }
        let mut out = vec![Vec::new(); frames];
        for (fi, start) in starts.iter().enumerate() {
            let frame = table.iter().rposition(|&o| u64::from(o) <= *start)?;
            out[frame].extend_from_slice(&fragments[fi]);
        }
        return Some(out);
    }
    None
}

pub(crate) async fn frames(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((study, series, instance, list)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let accept = accept_header(&headers);
    let ranges = parse_accept(accept)?;
    let offers = [Offer::new("multipart/related").with_param("type", "application/octet-stream")];
    let Some((_, range)) = negotiate(&ranges, &offers) else {
        return Err(ApiError::not_acceptable(format!(
            "cannot answer with any of '{accept}': frames are sent as multipart/related; type=application/octet-stream"
        )));
    };
    let as_stored = range.param("transfer-syntax").map(str::trim) == Some("*");
    let wanted = range
        .param("transfer-syntax")
        .map(str::trim)
        .map(str::to_string);
    let r = find(&state, &study, Some(&series), Some(&instance))
        .await?
        .remove(0);
    let (_, obj) = parse_stored(&state, &r).await?;
    let count = voxide_dicom::int_of(&obj, voxide_dicom::tags::NUMBER_OF_FRAMES)
        .unwrap_or(1)
        .max(1) as usize;
    if obj.get(voxide_dicom::tags::PIXEL_DATA).is_none() {
        return Err(ApiError::not_found(format!(
            "instance {instance} has no pixel data, hence no frames"
        )));
    }
    let indices = frame_list(&list, count)?;
    let stored_ts = r.transfer_syntax.clone();
    let encapsulated = !matches!(
        stored_ts.as_str(),
        "1.2.840.10008.1.2"
            | "1.2.840.10008.1.2.1"
            | "1.2.840.10008.1.2.2"
            | "1.2.840.10008.1.2.1.99"
    );
    let keep_compressed =
        encapsulated && (as_stored || wanted.as_deref() == Some(stored_ts.as_str()));
    if !as_stored && !keep_compressed {
        if let Some(ts) = wanted.as_deref() {
            if ts != EXPLICIT_VR_LE {
                return Err(ApiError::not_acceptable(format!(
                    "cannot send frames in transfer syntax {ts}: ask for transfer-syntax=* or {EXPLICIT_VR_LE}"
                )));
            }
        }
    }
    let sop = r.sop_instance_uid.clone();
    let parts: Vec<(Vec<u8>, String)> = tokio::task::spawn_blocking(move || {
        if keep_compressed {
            if let Some(all) = encapsulated_frames(&obj, count) {
                return Ok(indices
                    .iter()
                    .map(|&i| (all[i].clone(), stored_ts.clone()))
                    .collect());
            }
        }
        let name = std::path::PathBuf::from(&sop);
        let decoded = voxide_dicom::decode(&obj, &name).map_err(|e| e.to_string())?;
        let per_frame = if decoded.bits_allocated == 1 {
            decoded.samples_per_frame().div_ceil(8)
        } else {
            decoded.samples_per_frame() * usize::from(decoded.bits_allocated / 8)
        };
        let data = decoded.bytes();
        indices
            .iter()
            .map(|&i| {
                data.get(i * per_frame..(i + 1) * per_frame)
                    .map(|s| (s.to_vec(), EXPLICIT_VR_LE.to_string()))
                    .ok_or_else(|| format!("frame {} is missing from the pixel data", i + 1))
            })
            .collect::<Result<Vec<_>, String>>()
    })
    .await
    .map_err(internal)?
    .map_err(|e| internal(format!("cannot extract frames: {e}")))?;
    let mut writer = RelatedWriter::with_new_boundary();
    let boundary = writer.boundary().to_string();
    let mut body = Vec::new();
    for (bytes, ts) in &parts {
        body.extend_from_slice(&writer.part_header(
            &format!("application/octet-stream; transfer-syntax={ts}"),
            &[],
        ));
        body.extend_from_slice(bytes);
    }
    body.extend_from_slice(&writer.close());
    let ts_param = if as_stored {
        "*"
    } else {
        parts.first().map_or(EXPLICIT_VR_LE, |p| p.1.as_str())
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            related_content_type(&boundary, "application/octet-stream", Some(ts_param)),
        )],
        body,
    )
        .into_response())
}

pub(crate) async fn bulkdata(
    State(state): State<Shared>,
    Path((study, series, instance, tag)): Path<(String, String, String, String)>,
) -> ApiResult<Response> {
    let t = u32::from_str_radix(&tag, 16)
        .ok()
        .filter(|_| tag.len() == 8)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "'{tag}' is not a tag: write 8 hex digits, e.g. 7FE00010"
            ))
        })?;
    let r = find(&state, &study, Some(&series), Some(&instance))
        .await?
        .remove(0);
    let (_, obj) = parse_stored(&state, &r).await?;
    let tag = voxide_dicom::Tag((t >> 16) as u16, (t & 0xFFFF) as u16);
    let element = obj.get(tag).ok_or_else(|| {
        ApiError::not_found(format!("instance {instance} has no attribute {tag}"))
    })?;
    use dicom_core::value::Value;
    let (bytes, ts) = match element.value() {
        Value::Primitive(p) => (p.to_bytes().to_vec(), EXPLICIT_VR_LE.to_string()),
        Value::PixelSequence(_) => {
            let count = voxide_dicom::int_of(&obj, voxide_dicom::tags::NUMBER_OF_FRAMES)
                .unwrap_or(1)
                .max(1) as usize;
            let frames = encapsulated_frames(&obj, count)
                .ok_or_else(|| internal("cannot split the encapsulated pixel data into frames"))?;
            (frames.concat(), r.transfer_syntax.clone())
        }
        Value::Sequence(_) => {
            return Err(ApiError::bad_request(format!(
                "{tag} is a sequence: it is in the metadata, not bulk data"
            )))
        }
    };
    let mut writer = RelatedWriter::with_new_boundary();
    let boundary = writer.boundary().to_string();
    let mut body = writer.part_header(
        &format!("application/octet-stream; transfer-syntax={ts}"),
        &[],
    );
    body.extend_from_slice(&bytes);
    body.extend_from_slice(&writer.close());
    Ok((
        [(
            header::CONTENT_TYPE,
            related_content_type(&boundary, "application/octet-stream", None),
        )],
        body,
    )
        .into_response())
}

/// Query parameters of rendered resources (PS3.18 8.3.5).
fn render_options(query: &HashMap<String, String>, thumbnail: bool) -> ApiResult<RenderOptions> {
    let mut options = RenderOptions {
        max_size: if thumbnail { Some(128) } else { None },
        ..RenderOptions::default()
    };
    if let Some(w) = query.get("window") {
        // window=center,width[,function]
        let v: Vec<&str> = w.split(',').collect();
        let parse = |s: &str| s.trim().parse::<f64>().ok();
        match (
            v.first().and_then(|s| parse(s)),
            v.get(1).and_then(|s| parse(s)),
        ) {
            (Some(c), Some(width)) if width > 0.0 => options.window = Some((c, width)),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "window='{w}': write window=center,width with a positive width"
                )))
            }
        }
    }
    if let Some(q) = query.get("quality") {
        options.quality = q
            .parse::<u8>()
            .ok()
            .filter(|q| (1..=100).contains(q))
            .ok_or_else(|| ApiError::bad_request("quality must be 1 to 100"))?;
    }
    if let Some(v) = query.get("viewport") {
        let dims: Vec<u32> = v.split(',').filter_map(|s| s.trim().parse().ok()).collect();
        match dims.as_slice() {
            [w, h, ..] if *w > 0 && *h > 0 => options.max_size = Some((*w).max(*h)),
            _ => return Err(ApiError::bad_request("viewport must be width,height")),
        }
    }
    Ok(options)
}

fn image_format(headers: &HeaderMap, query: &HashMap<String, String>) -> ApiResult<ImageFormat> {
    let accept = query
        .get("accept")
        .map(String::as_str)
        .unwrap_or_else(|| accept_header(headers));
    let ranges = parse_accept(accept)?;
    let offers = [Offer::new("image/jpeg"), Offer::new("image/png")];
    match negotiate(&ranges, &offers) {
        Some((0, _)) => Ok(ImageFormat::Jpeg),
        Some(_) => Ok(ImageFormat::Png),
        None => Err(ApiError::not_acceptable(format!(
            "cannot answer with any of '{accept}': rendered images are image/jpeg or image/png"
        ))),
    }
}

async fn rendered(
    state: Shared,
    headers: HeaderMap,
    query: HashMap<String, String>,
    r: InstanceRef,
    frame: usize,
    thumbnail: bool,
) -> ApiResult<Response> {
    let format = image_format(&headers, &query)?;
    let options = render_options(&query, thumbnail)?;
    let (_, obj) = parse_stored(&state, &r).await?;
    let sop = r.sop_instance_uid.clone();
    let image =
        tokio::task::spawn_blocking(move || render::render(&obj, &sop, frame, &options, format))
            .await
            .map_err(internal)?
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    Ok(([(header::CONTENT_TYPE, format.media_type())], image).into_response())
}

/// The middle instance of a series (thumbnails and series rendering).
fn middle(mut found: Vec<InstanceRef>) -> InstanceRef {
    let i = found.len() / 2;
    found.swap_remove(i)
}

pub(crate) async fn instance_rendered(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((study, series, instance)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let r = find(&state, &study, Some(&series), Some(&instance))
        .await?
        .remove(0);
    rendered(state, headers, q, r, 0, false).await
}

pub(crate) async fn instance_thumbnail(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((study, series, instance)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let r = find(&state, &study, Some(&series), Some(&instance))
        .await?
        .remove(0);
    rendered(state, headers, q, r, 0, true).await
}

pub(crate) async fn frames_rendered(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((study, series, instance, list)): Path<(String, String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let r = find(&state, &study, Some(&series), Some(&instance))
        .await?
        .remove(0);
    let frames = r.frames.unwrap_or(1).max(1) as usize;
    let list = frame_list(&list, frames)?;
    if list.len() != 1 {
        return Err(ApiError::bad_request(
            "a rendered frame is one image: ask for one frame number",
        ));
    }
    rendered(state, headers, q, r, list[0], false).await
}

pub(crate) async fn series_rendered(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((study, series)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let found = find(&state, &study, Some(&series), None).await?;
    rendered(state, headers, q, middle(found), 0, false).await
}

pub(crate) async fn series_thumbnail(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((study, series)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let found = find(&state, &study, Some(&series), None).await?;
    rendered(state, headers, q, middle(found), 0, true).await
}

/// A study's first series with images, its middle instance.
async fn study_image(state: &Shared, study: &str) -> ApiResult<InstanceRef> {
    let found = find(state, study, None, None).await?;
    let first_series = found
        .iter()
        .find(|r| r.frames.is_some() || !r.sop_class_uid.starts_with("1.2.840.10008.5.1.4.1.1.481"))
        .map(|r| r.series_instance_uid.clone())
        .unwrap_or_else(|| found[0].series_instance_uid.clone());
    Ok(middle(
        found
            .into_iter()
            .filter(|r| r.series_instance_uid == first_series)
            .collect(),
    ))
}

pub(crate) async fn study_rendered(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(study): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let r = study_image(&state, &study).await?;
    rendered(state, headers, q, r, 0, false).await
}

pub(crate) async fn study_thumbnail(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(study): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let r = study_image(&state, &study).await?;
    rendered(state, headers, q, r, 0, true).await
}

/// WADO-URI (PS3.18 9): `/wado?requestType=WADO&studyUID=..&seriesUID=..&objectUID=..`.
pub(crate) async fn wado_uri(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let get = |k: &str| q.get(k).map(String::as_str);
    if get("requestType") != Some("WADO") {
        return Err(ApiError::bad_request(
            "requestType=WADO is required (PS3.18 9.1)",
        ));
    }
    let missing = |k: &str| ApiError::bad_request(format!("{k} is required"));
    let study = get("studyUID").ok_or_else(|| missing("studyUID"))?;
    let series = get("seriesUID").ok_or_else(|| missing("seriesUID"))?;
    let object = get("objectUID").ok_or_else(|| missing("objectUID"))?;
    let r = find(&state, study, Some(series), Some(object))
        .await?
        .remove(0);
    let content_type = get("contentType").unwrap_or("image/jpeg");
    let wants_dicom = content_type
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case("application/dicom"));
    if wants_dicom {
        let wanted = get("transferSyntax").map(str::to_string);
        if let Some(ts) = &wanted {
            if !NATIVE_SYNTAXES.contains(&ts.as_str()) && ts != &r.transfer_syntax {
                return Err(ApiError::not_acceptable(format!(
                    "cannot convert to transfer syntax {ts}"
                )));
            }
        }
        let (bytes, _) = instance_in_syntax(&state, &r, wanted.as_deref()).await?;
        return Ok(([(header::CONTENT_TYPE, "application/dicom")], bytes).into_response());
    }
    let mut query: HashMap<String, String> = HashMap::new();
    query.insert("accept".into(), content_type.to_string());
    if let (Some(c), Some(w)) = (get("windowCenter"), get("windowWidth")) {
        query.insert("window".into(), format!("{c},{w}"));
    }
    if let Some(quality) = get("imageQuality") {
        query.insert("quality".into(), quality.to_string());
    }
    if let (Some(r), Some(c)) = (get("rows"), get("columns")) {
        query.insert("viewport".into(), format!("{c},{r}"));
    }
    let frame = match get("frameNumber") {
        Some(f) => frame_list(f, r.frames.unwrap_or(1).max(1) as usize)?[0],
        None => 0,
    };
    rendered(state, headers, query, r, frame, false).await
}
