//! DICOM series → volume assembly.
//!
//! Files are grouped by Series Instance UID and Frame of Reference UID; each image (a single
//! frame object, or one frame of an enhanced multi-frame object) becomes a slice; slices are
//! sorted by their position along the slice normal (never by Instance Number), and the stack is
//! checked before any voxel is trusted: consistent dimensions, one orientation, distinct
//! positions, no gantry tilt, uniform spacing and no missing slices.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use rayon::prelude::*;
use voxide_core::geometry::{cross, dot};
use voxide_core::{AnyImage, Geometry, Image, Voxel};

use crate::object::{
    first_item, float_of, floats_of, int_of, items_of, open, str_of, transfer_syntax_name,
    ReadDepth,
};
use crate::pixels::decode;
use crate::DicomError;

/// Progress callback: `(done, total)`.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// One image plane of a series: a single-frame object or one frame of a multi-frame object.
#[derive(Debug, Clone)]
pub struct SliceHeader {
    pub path: PathBuf,
    /// Frame index within the object (0 for single-frame objects).
    pub frame: usize,
    pub sop_instance_uid: String,
    pub instance_number: Option<i64>,
    pub rows: usize,
    pub columns: usize,
    pub samples_per_pixel: usize,
    pub bits_stored: u16,
    pub signed: bool,
    /// Image Position (Patient), LPS mm; `None` when the object has none (2D modalities).
    pub position: Option<[f64; 3]>,
    /// Row and column direction cosines.
    pub orientation: Option<[f64; 6]>,
    /// Pixel Spacing: (between rows, between columns) in mm.
    pub pixel_spacing: Option<[f64; 2]>,
    pub slice_thickness: Option<f64>,
    pub spacing_between_slices: Option<f64>,
    pub rescale_slope: f64,
    pub rescale_intercept: f64,
}

/// A series found on disk, with what identifies and describes it.
#[derive(Debug, Clone, Default)]
pub struct SeriesEntry {
    pub series_instance_uid: String,
    pub frame_of_reference_uid: Option<String>,
    pub study_instance_uid: Option<String>,
    pub patient_id: Option<String>,
    pub patient_name: Option<String>,
    pub modality: Option<String>,
    pub series_description: Option<String>,
    pub series_number: Option<i64>,
    pub sop_class_uid: Option<String>,
    pub transfer_syntaxes: Vec<String>,
    pub files: usize,
    pub slices: Vec<SliceHeader>,
}

/// What a folder scan found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Image series (objects with pixel data and an image geometry), by Series Instance UID.
    pub series: Vec<SeriesEntry>,
    /// DICOM objects without pixel data (RTSTRUCT, SR, DICOMDIR, ...): path and SOP Class name.
    pub non_image: Vec<(PathBuf, String)>,
    /// Files that are not readable DICOM, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// How strict series assembly is.
#[derive(Debug, Clone, Copy, Default)]
pub struct AssemblyOptions {
    /// Accept non-uniform slice spacing (mean spacing is used and a warning given) instead of
    /// refusing the series.
    pub allow_nonuniform_spacing: bool,
}

/// A series assembled into a volume, with its identity and any warnings.
#[derive(Debug, Clone)]
pub struct DicomVolume {
    pub image: AnyImage,
    pub series: SeriesEntry,
    /// SOP Instance UID of each slice, in slice (k) order; frames of one object repeat its UID.
    pub slice_sop_instance_uids: Vec<String>,
    pub warnings: Vec<String>,
}

/// Relative tolerance on slice spacing before a stack counts as non-uniform.
const SPACING_TOLERANCE: f64 = 0.01;
/// Largest angle (degrees) between the stacking direction and the slice normal before the
/// stack counts as gantry-tilted. DICOM positions are decimal strings rounded to ~1e-4 mm.
const TILT_TOLERANCE_DEG: f64 = 0.1;
/// Largest difference of direction cosines between slices of one stack.
const ORIENTATION_TOLERANCE: f64 = 1e-3;

/// Lists the files under `path` (a file or a folder, recursively), sorted.
pub fn list_files(path: &Path) -> Result<Vec<PathBuf>, DicomError> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.exists() {
        return Err(DicomError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
        });
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(path).follow_links(true) {
        let entry = entry.map_err(|e| DicomError::Io {
            path: e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| path.to_path_buf()),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("folder walk failed")),
        })?;
        if entry.file_type().is_file() {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(files)
}

/// Reads the headers of every file under `path` and groups images into series.
pub fn scan(path: &Path, progress: Option<Progress<'_>>) -> Result<Scan, DicomError> {
    let files = list_files(path)?;
    let total = files.len();
    let done = AtomicUsize::new(0);
    let parsed: Vec<(PathBuf, Result<FileHeader, String>)> = files
        .into_par_iter()
        .map(|f| {
            let r = read_file_header(&f);
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(p) = progress {
                p(n, total);
            }
            (f, r)
        })
        .collect();
    let mut scan = Scan::default();
    let mut by_series: BTreeMap<(String, Option<String>), SeriesEntry> = BTreeMap::new();
    for (path, result) in parsed {
        match result {
            Err(reason) => scan.unreadable.push((path, reason)),
            Ok(FileHeader::NonImage(class)) => scan.non_image.push((path, class)),
            Ok(FileHeader::Image(h)) => {
                let key = (
                    h.series.series_instance_uid.clone(),
                    h.series.frame_of_reference_uid.clone(),
                );
                let entry = by_series.entry(key).or_insert_with(|| SeriesEntry {
                    slices: Vec::new(),
                    files: 0,
                    transfer_syntaxes: Vec::new(),
                    ..h.series.clone()
                });
                entry.files += 1;
                if !entry.transfer_syntaxes.contains(&h.transfer_syntax) {
                    entry.transfer_syntaxes.push(h.transfer_syntax.clone());
                }
                entry.slices.extend(h.slices);
            }
        }
    }
    scan.series = by_series.into_values().collect();
    Ok(scan)
}

enum FileHeader {
    Image(Box<ImageHeader>),
    NonImage(String),
}

struct ImageHeader {
    series: SeriesEntry,
    transfer_syntax: String,
    slices: Vec<SliceHeader>,
}

fn read_file_header(path: &Path) -> Result<FileHeader, String> {
    let obj = open(path, ReadDepth::Header).map_err(|e| e.to_string())?;
    let rows = int_of(&obj, tags::ROWS);
    let columns = int_of(&obj, tags::COLUMNS);
    let sop_class = str_of(&obj, tags::SOP_CLASS_UID).or_else(|| {
        Some(
            obj.meta()
                .media_storage_sop_class_uid()
                .trim_end_matches('\0')
                .to_string(),
        )
    });
    let (Some(rows), Some(columns)) = (rows, columns) else {
        let class = sop_class.unwrap_or_default();
        return Ok(FileHeader::NonImage(sop_class_name(&class)));
    };
    let series_uid = str_of(&obj, tags::SERIES_INSTANCE_UID)
        .ok_or_else(|| "image without Series Instance UID (0020,000E)".to_string())?;
    let series = SeriesEntry {
        series_instance_uid: series_uid,
        frame_of_reference_uid: str_of(&obj, tags::FRAME_OF_REFERENCE_UID),
        study_instance_uid: str_of(&obj, tags::STUDY_INSTANCE_UID),
        patient_id: str_of(&obj, tags::PATIENT_ID),
        patient_name: str_of(&obj, tags::PATIENT_NAME),
        modality: str_of(&obj, tags::MODALITY),
        series_description: str_of(&obj, tags::SERIES_DESCRIPTION),
        series_number: int_of(&obj, tags::SERIES_NUMBER),
        sop_class_uid: sop_class,
        ..Default::default()
    };
    let transfer_syntax = transfer_syntax_name(obj.meta().transfer_syntax());
    let base = SliceHeader {
        path: path.to_path_buf(),
        frame: 0,
        sop_instance_uid: str_of(&obj, tags::SOP_INSTANCE_UID).unwrap_or_default(),
        instance_number: int_of(&obj, tags::INSTANCE_NUMBER),
        rows: usize::try_from(rows).map_err(|_| "negative Rows".to_string())?,
        columns: usize::try_from(columns).map_err(|_| "negative Columns".to_string())?,
        samples_per_pixel: int_of(&obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1).max(1) as usize,
        bits_stored: int_of(&obj, tags::BITS_STORED).unwrap_or(16).clamp(1, 32) as u16,
        signed: int_of(&obj, tags::PIXEL_REPRESENTATION) == Some(1),
        position: vec3(floats_of(&obj, tags::IMAGE_POSITION_PATIENT)),
        orientation: vec6(floats_of(&obj, tags::IMAGE_ORIENTATION_PATIENT)),
        pixel_spacing: vec2(floats_of(&obj, tags::PIXEL_SPACING)),
        slice_thickness: float_of(&obj, tags::SLICE_THICKNESS),
        spacing_between_slices: float_of(&obj, tags::SPACING_BETWEEN_SLICES),
        rescale_slope: float_of(&obj, tags::RESCALE_SLOPE)
            .filter(|s| *s != 0.0)
            .unwrap_or(1.0),
        rescale_intercept: float_of(&obj, tags::RESCALE_INTERCEPT).unwrap_or(0.0),
    };
    let frames = int_of(&obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as usize;
    let slices = if frames > 1
        || obj
            .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
            .is_some()
    {
        multiframe_slices(&obj, &base, frames)
    } else {
        vec![base]
    };
    Ok(FileHeader::Image(Box::new(ImageHeader {
        series,
        transfer_syntax,
        slices,
    })))
}

/// Per-frame geometry and rescale of an enhanced multi-frame object, from the per-frame and
/// shared functional groups (PS3.3 C.7.6.16). Frames without a plane position keep none, so the
/// stack checks refuse them rather than inventing positions.
fn multiframe_slices(
    obj: &InMemDicomObject,
    base: &SliceHeader,
    frames: usize,
) -> Vec<SliceHeader> {
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let per_frame = items_of(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
    // A functional group macro is looked up per frame first, then in the shared groups.
    let group = |frame: usize, seq| -> Option<&InMemDicomObject> {
        per_frame
            .get(frame)
            .and_then(|f| first_item(f, seq))
            .or_else(|| shared.and_then(|s| first_item(s, seq)))
    };
    (0..frames)
        .map(|f| {
            let mut s = base.clone();
            s.frame = f;
            if let Some(p) = group(f, tags::PLANE_POSITION_SEQUENCE) {
                s.position = vec3(floats_of(p, tags::IMAGE_POSITION_PATIENT));
            } else if frames > 1 {
                s.position = None;
            }
            if let Some(o) = group(f, tags::PLANE_ORIENTATION_SEQUENCE) {
                s.orientation = vec6(floats_of(o, tags::IMAGE_ORIENTATION_PATIENT));
            }
            if let Some(m) = group(f, tags::PIXEL_MEASURES_SEQUENCE) {
                s.pixel_spacing = vec2(floats_of(m, tags::PIXEL_SPACING)).or(s.pixel_spacing);
                s.slice_thickness = float_of(m, tags::SLICE_THICKNESS).or(s.slice_thickness);
                s.spacing_between_slices =
                    float_of(m, tags::SPACING_BETWEEN_SLICES).or(s.spacing_between_slices);
            }
            if let Some(t) = group(f, tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE) {
                s.rescale_slope = float_of(t, tags::RESCALE_SLOPE)
                    .filter(|v| *v != 0.0)
                    .unwrap_or(1.0);
                s.rescale_intercept = float_of(t, tags::RESCALE_INTERCEPT).unwrap_or(0.0);
            }
            s
        })
        .collect()
}

fn vec2(v: Option<Vec<f64>>) -> Option<[f64; 2]> {
    v.filter(|v| v.len() >= 2).map(|v| [v[0], v[1]])
}
fn vec3(v: Option<Vec<f64>>) -> Option<[f64; 3]> {
    v.filter(|v| v.len() >= 3).map(|v| [v[0], v[1], v[2]])
}
fn vec6(v: Option<Vec<f64>>) -> Option<[f64; 6]> {
    v.filter(|v| v.len() >= 6)
        .map(|v| [v[0], v[1], v[2], v[3], v[4], v[5]])
}

/// A readable name for common SOP classes of objects without pixel data.
pub fn sop_class_name(uid: &str) -> String {
    let name = match uid {
        "1.2.840.10008.5.1.4.1.1.481.3" => "RT Structure Set",
        "1.2.840.10008.5.1.4.1.1.88.11" => "Basic Text SR",
        "1.2.840.10008.5.1.4.1.1.88.22" => "Enhanced SR",
        "1.2.840.10008.5.1.4.1.1.88.33" => "Comprehensive SR",
        "1.2.840.10008.1.3.10" => "Media Storage Directory (DICOMDIR)",
        "1.2.840.10008.5.1.4.1.1.9.1.1" => "12-lead ECG Waveform",
        "" => "unknown SOP class",
        other => return other.to_string(),
    };
    name.to_string()
}

fn unit(v: [f64; 3]) -> [f64; 3] {
    let n = dot(v, v).sqrt();
    if n == 0.0 {
        v
    } else {
        v.map(|x| x / n)
    }
}

/// Geometry of a checked stack, and slice order.
struct Stack {
    order: Vec<usize>,
    geometry: Geometry,
    warnings: Vec<String>,
}

fn err(series: &SeriesEntry, reason: impl Into<String>) -> DicomError {
    DicomError::Series {
        series: describe_series(series),
        reason: reason.into(),
    }
}

/// `UID (Modality, "description")` for messages.
pub fn describe_series(s: &SeriesEntry) -> String {
    let mut d = s.series_instance_uid.clone();
    let mut extra = Vec::new();
    if let Some(m) = &s.modality {
        extra.push(m.clone());
    }
    if let Some(desc) = &s.series_description {
        extra.push(format!("\"{desc}\""));
    }
    if !extra.is_empty() {
        d.push_str(&format!(" ({})", extra.join(", ")));
    }
    d
}

fn check_stack(series: &SeriesEntry, options: &AssemblyOptions) -> Result<Stack, DicomError> {
    let slices = &series.slices;
    let first = slices
        .first()
        .ok_or_else(|| err(series, "the series has no image"))?;
    let mut warnings = Vec::new();
    for s in slices {
        if s.rows != first.rows || s.columns != first.columns {
            return Err(err(
                series,
                format!(
                    "inconsistent dimensions: {} is {}x{} but {} is {}x{}; the series mixes images of different sizes (split it by size or re-export it)",
                    first.path.display(), first.columns, first.rows, s.path.display(), s.columns, s.rows
                ),
            ));
        }
        if s.samples_per_pixel != 1 {
            return Err(err(
                series,
                format!(
                    "{} has {} samples per pixel (colour); volumes are scalar: convert to grey-scale first",
                    s.path.display(),
                    s.samples_per_pixel
                ),
            ));
        }
    }
    let spacing_rc = first.pixel_spacing.unwrap_or_else(|| {
        warnings.push("no Pixel Spacing: 1 mm assumed".into());
        [1.0, 1.0]
    });
    if spacing_rc.iter().any(|s| *s <= 0.0) {
        return Err(err(series, format!("invalid Pixel Spacing {spacing_rc:?}")));
    }
    let positioned = slices
        .iter()
        .all(|s| s.position.is_some() && s.orientation.is_some());
    if !positioned {
        if slices.len() == 1 {
            warnings.push(
                "no Image Position/Orientation (Patient): the image is placed at the origin with identity orientation, not in patient space".into(),
            );
            let geometry = Geometry::new(
                [first.columns, first.rows, 1],
                [
                    spacing_rc[1],
                    spacing_rc[0],
                    first.slice_thickness.filter(|t| *t > 0.0).unwrap_or(1.0),
                ],
                [0.0; 3],
                voxide_core::geometry::IDENTITY,
            )?;
            return Ok(Stack {
                order: vec![0],
                geometry,
                warnings,
            });
        }
        return Err(err(
            series,
            format!(
                "{} images without Image Position/Orientation (Patient): slice order and spacing cannot be known, and Instance Number is not a safe substitute",
                slices.len()
            ),
        ));
    }
    let iop = first.orientation.unwrap_or([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let row = unit([iop[0], iop[1], iop[2]]);
    let col = unit([iop[3], iop[4], iop[5]]);
    if dot(row, row) < 0.5 || dot(col, col) < 0.5 || dot(row, col).abs() > 0.01 {
        return Err(err(
            series,
            format!("invalid Image Orientation (Patient) {iop:?}"),
        ));
    }
    let normal = unit(cross(row, col));
    for s in slices {
        let o = s.orientation.unwrap_or(iop);
        if o.iter()
            .zip(iop.iter())
            .any(|(a, b)| (a - b).abs() > ORIENTATION_TOLERANCE)
        {
            return Err(err(
                series,
                format!(
                    "mixed orientations: {} has {:?} but {} has {:?}; the series holds several stacks (e.g. localisers); select one orientation",
                    first.path.display(), iop, s.path.display(), o
                ),
            ));
        }
    }
    let mut order: Vec<usize> = (0..slices.len()).collect();
    let dist = |i: usize| dot(slices[i].position.unwrap_or([0.0; 3]), normal);
    order.sort_by(|&a, &b| dist(a).total_cmp(&dist(b)));
    let n = order.len();
    let slice_spacing = if n == 1 {
        first
            .spacing_between_slices
            .or(first.slice_thickness)
            .filter(|v| *v > 0.0)
            .unwrap_or(1.0)
    } else {
        let gaps: Vec<f64> = order.windows(2).map(|w| dist(w[1]) - dist(w[0])).collect();
        let mut sorted = gaps.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let max_gap = sorted[sorted.len() - 1];
        if max_gap < 1e-3 {
            return Err(err(
                series,
                format!("not a volume: all {n} images lie at the same position (a time series, several echoes, or repeated acquisitions); split the series"),
            ));
        }
        if sorted[0] < 1e-3 {
            let dups = gaps.iter().filter(|g| **g < 1e-3).count();
            return Err(err(
                series,
                format!("{dups} images share a position with another image: the series holds several volumes (echoes, phases or repeats); split it"),
            ));
        }
        if n == 2 {
            return Err(err(
                series,
                "only 2 slices: slice spacing cannot be verified (a localiser or an incomplete series?); at least 3 are needed",
            ));
        }
        let tol = (median * SPACING_TOLERANCE).max(1e-3);
        if gaps.iter().any(|g| (g - median).abs() > tol) {
            let missing: Vec<String> = gaps
                .iter()
                .enumerate()
                .filter_map(|(i, g)| {
                    let ratio = g / median;
                    (ratio > 1.5 && (ratio - ratio.round()).abs() < 0.1).then(|| {
                        format!(
                            "{} missing after position {:.3} mm",
                            ratio.round() as usize - 1,
                            dist(order[i])
                        )
                    })
                })
                .collect();
            let (lo, hi) = (sorted[0], max_gap);
            if !missing.is_empty() {
                return Err(err(
                    series,
                    format!(
                        "missing slices: {} (spacing {median:.4} mm elsewhere); the series is incomplete, re-send it",
                        missing.join(", ")
                    ),
                ));
            }
            if !options.allow_nonuniform_spacing {
                return Err(err(
                    series,
                    format!(
                        "non-uniform slice spacing: gaps range from {lo:.4} to {hi:.4} mm (median {median:.4}); a regular grid would misplace slices. Pass --allow-nonuniform to use the mean spacing anyway"
                    ),
                ));
            }
            warnings.push(format!(
                "non-uniform slice spacing ({lo:.4} to {hi:.4} mm): mean spacing used, slices are misplaced by up to {:.4} mm",
                (hi - lo).abs()
            ));
        }
        // Gantry tilt: the stacking direction leaves the slice normal.
        let p0 = slices[order[0]].position.unwrap_or([0.0; 3]);
        let p1 = slices[order[n - 1]].position.unwrap_or([0.0; 3]);
        let along = [p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2]];
        let len = dot(along, along).sqrt();
        let angle = (dot(along, normal) / len)
            .clamp(-1.0, 1.0)
            .acos()
            .to_degrees();
        if angle > TILT_TOLERANCE_DEG {
            return Err(err(
                series,
                format!(
                    "gantry tilt of {angle:.2}°: slices are stacked obliquely to their plane, which a regular grid cannot represent without resampling; resample the series onto an orthogonal grid first"
                ),
            ));
        }
        (dist(order[n - 1]) - dist(order[0])) / (n - 1) as f64
    };
    let origin = slices[order[0]].position.unwrap_or([0.0; 3]);
    let direction = [
        [row[0], col[0], normal[0]],
        [row[1], col[1], normal[1]],
        [row[2], col[2], normal[2]],
    ];
    let geometry = Geometry::new(
        [first.columns, first.rows, n],
        [spacing_rc[1], spacing_rc[0], slice_spacing],
        origin,
        direction,
    )?;
    Ok(Stack {
        order,
        geometry,
        warnings,
    })
}

/// Which voxel type holds every modality value of the series exactly.
fn output_type(slices: &[SliceHeader]) -> voxide_core::VoxelType {
    use voxide_core::VoxelType::*;
    let integral = slices
        .iter()
        .all(|s| s.rescale_slope == 1.0 && s.rescale_intercept.fract() == 0.0);
    if !integral {
        return F32;
    }
    let (mut lo, mut hi) = (f64::MAX, f64::MIN);
    for s in slices {
        let bits = i32::from(s.bits_stored);
        let (a, b) = if s.signed {
            (-(2f64.powi(bits - 1)), 2f64.powi(bits - 1) - 1.0)
        } else {
            (0.0, 2f64.powi(bits) - 1.0)
        };
        lo = lo.min(a + s.rescale_intercept);
        hi = hi.max(b + s.rescale_intercept);
    }
    if lo >= 0.0 && hi <= 255.0 {
        U8
    } else if lo >= -32768.0 && hi <= 32767.0 {
        I16
    } else if lo >= 0.0 && hi <= 65535.0 {
        U16
    } else if lo >= f64::from(i32::MIN) && hi <= f64::from(i32::MAX) {
        I32
    } else {
        F64
    }
}

/// Decodes and assembles a scanned series into a volume.
pub fn assemble(
    series: &SeriesEntry,
    options: &AssemblyOptions,
    progress: Option<Progress<'_>>,
) -> Result<DicomVolume, DicomError> {
    let stack = check_stack(series, options)?;
    let slices = &series.slices;
    let plane = stack.geometry.size()[0] * stack.geometry.size()[1];
    // Decode object by object (a multi-frame object holds many slices), in parallel.
    let mut by_path: BTreeMap<&Path, Vec<(usize, usize)>> = BTreeMap::new();
    for (k, &idx) in stack.order.iter().enumerate() {
        by_path
            .entry(slices[idx].path.as_path())
            .or_default()
            .push((k, idx));
    }
    let total = by_path.len();
    let done = AtomicUsize::new(0);
    let decoded: Vec<Vec<(usize, Vec<f64>)>> = by_path
        .into_par_iter()
        .map(|(path, members)| {
            let obj = open(path, ReadDepth::Full)?;
            let frames = decode(&obj, path)?;
            let mut out = Vec::with_capacity(members.len());
            for (k, idx) in members {
                let s = &slices[idx];
                if frames.rows != s.rows || frames.columns != s.columns {
                    return Err(DicomError::PixelDecode {
                        path: path.to_path_buf(),
                        transfer_syntax: frames.transfer_syntax.clone(),
                        reason: format!(
                            "decoded {}x{} pixels but the header says {}x{}",
                            frames.columns, frames.rows, s.columns, s.rows
                        ),
                    });
                }
                let stored =
                    frames
                        .stored_values(s.frame)
                        .map_err(|reason| DicomError::PixelDecode {
                            path: path.to_path_buf(),
                            transfer_syntax: frames.transfer_syntax.clone(),
                            reason,
                        })?;
                let values = stored
                    .into_iter()
                    .map(|v| v * s.rescale_slope + s.rescale_intercept)
                    .collect();
                out.push((k, values));
            }
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(p) = progress {
                p(n, total);
            }
            Ok(out)
        })
        .collect::<Result<_, DicomError>>()?;
    let n_voxels = stack.geometry.len();
    let mut planes: Vec<Option<Vec<f64>>> = vec![None; stack.order.len()];
    for (k, v) in decoded.into_iter().flatten() {
        planes[k] = Some(v);
    }
    fn fill<T: Voxel>(
        geometry: &Geometry,
        planes: &[Option<Vec<f64>>],
        plane: usize,
        n: usize,
    ) -> Result<Image<T>, DicomError> {
        let mut voxels = Vec::with_capacity(n);
        for p in planes {
            match p {
                Some(v) if v.len() == plane => voxels.extend(v.iter().map(|x| T::from_f64(*x))),
                _ => return Err(DicomError::Internal("a slice was not decoded".into())),
            }
        }
        Ok(Image::from_vec(geometry.clone(), voxels)?)
    }
    let g = &stack.geometry;
    let image: AnyImage = match output_type(slices) {
        voxide_core::VoxelType::U8 => fill::<u8>(g, &planes, plane, n_voxels)?.into(),
        voxide_core::VoxelType::I16 => fill::<i16>(g, &planes, plane, n_voxels)?.into(),
        voxide_core::VoxelType::U16 => fill::<u16>(g, &planes, plane, n_voxels)?.into(),
        voxide_core::VoxelType::I32 => fill::<i32>(g, &planes, plane, n_voxels)?.into(),
        voxide_core::VoxelType::F32 => fill::<f32>(g, &planes, plane, n_voxels)?.into(),
        voxide_core::VoxelType::F64 => fill::<f64>(g, &planes, plane, n_voxels)?.into(),
    };
    let slice_sop_instance_uids = stack
        .order
        .iter()
        .map(|&i| slices[i].sop_instance_uid.clone())
        .collect();
    Ok(DicomVolume {
        image,
        series: series.clone(),
        slice_sop_instance_uids,
        warnings: stack.warnings,
    })
}

/// Reads the single image series under `path` (a folder or one file) into a volume.
///
/// Fails with [`DicomError::MultipleSeries`] when the folder holds several image series: pick
/// one with [`scan`] and [`assemble`] (the CLI's `--series`).
pub fn read_series(path: &Path, options: &AssemblyOptions) -> Result<DicomVolume, DicomError> {
    let scan = scan(path, None)?;
    let mut series = scan.series;
    match series.len() {
        0 => Err(DicomError::NoImages {
            path: path.to_path_buf(),
            unreadable: scan.unreadable.len(),
            non_image: scan.non_image.len(),
        }),
        1 => assemble(&series.remove(0), options, None),
        _ => Err(DicomError::MultipleSeries {
            path: path.to_path_buf(),
            series: series
                .iter()
                .map(|s| format!("{} [{} images]", describe_series(s), s.slices.len()))
                .collect(),
        }),
    }
}
