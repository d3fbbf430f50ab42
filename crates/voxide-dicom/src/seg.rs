//! DICOM Segmentation (SEG) → label masks on a reference image grid.
//!
//! A SEG is an enhanced multi-frame object: each frame is one plane of one segment (`BINARY`,
//! 1 bit per pixel, or `FRACTIONAL`, 8 bits scaled by the Maximum Fractional Value), or of all
//! segments at once (`LABELMAP`, the Label Map Segmentation SOP class, one label value per
//! pixel). Which segment a frame shows and where it lies come from its functional groups: the
//! Segment Identification, Plane Position, Plane Orientation and Pixel Measures sequences, per
//! frame or shared by all frames.
//!
//! Frames are placed on a reference grid by their Image Position (Patient), not by the source
//! images they name: a frame must coincide with a slice of the grid (same rows, columns,
//! orientation and pixel spacing, position on a slice within [`POSITION_TOLERANCE`] of a voxel).
//! SEG frames are not resampled; a SEG drawn on another grid is an error that says so.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use dicom_core::value::Value;
use dicom_dictionary_std::tags;
use voxide_core::{Geometry, Image, LabelMap};

use crate::object::{
    first_item, float_of, floats_of, int_of, items_of, open, str_of, transfer_syntax_name,
    DicomObject, ReadDepth,
};
use crate::pixels::decode_with_limit;
use crate::rtstruct::Rasterised;
use crate::DicomError;

/// SOP Class UID of Segmentation Storage (`BINARY` and `FRACTIONAL` segmentations).
pub const SEGMENTATION_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.66.4";
/// SOP Class UID of Label Map Segmentation Storage (`LABELMAP` segmentations).
pub const LABEL_MAP_SEGMENTATION_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.66.7";

/// Largest distance, in voxels along each grid axis, between a frame's Image Position
/// (Patient) and the grid voxel it is placed on. Positions are decimal strings, so a frame
/// copied from its source image lies within ~1e-4 mm of it; 0.05 voxel leaves room for writers
/// that round harder while still refusing a grid that is shifted.
pub const POSITION_TOLERANCE: f64 = 0.05;
/// Largest difference of direction cosines between a frame and the grid.
const ORIENTATION_TOLERANCE: f64 = 1e-3;
/// Largest drift, in voxels, accumulated across a frame by a pixel spacing mismatch.
const SPACING_DRIFT_TOLERANCE: f64 = 0.1;
/// The frame list of a `TILED_FULL` segmentation may always reach this size (bytes).
const MAX_TILED_FRAME_LIST: usize = 256 << 20;
/// Decoded pixel data may always reach this size (see [`crate::decode`]).
const DECODED_SIZE_FLOOR: u64 = 1 << 30;

/// How the pixels of a segmentation encode membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentationType {
    /// One bit per pixel, frames packed back to back (a frame may start inside a byte).
    Binary,
    /// 8 bits per pixel, 0 to `maximum` (the Maximum Fractional Value); a voxel belongs to the
    /// segment when its value is at least half the maximum.
    Fractional { maximum: u16 },
    /// One label value per pixel, all segments in each frame (Label Map Segmentation).
    Labelmap,
}

/// A coded concept (Code Value, Coding Scheme Designator, Code Meaning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// Code Value, or Long Code Value, or URN Code Value, whichever the item has.
    pub value: String,
    pub scheme: String,
    pub meaning: String,
}

/// One segment of the Segment Sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Segment Number: the number frames refer to, and the label value in a `LABELMAP`.
    pub number: u16,
    /// Segment Label (`"Segment n"` when the file has none).
    pub label: String,
    pub description: Option<String>,
    /// Segment Algorithm Type: `AUTOMATIC`, `SEMIAUTOMATIC` or `MANUAL` (empty when absent).
    pub algorithm_type: String,
    pub algorithm_name: Option<String>,
    /// Segmented Property Category (e.g. SCT 85756007 "Tissue").
    pub category: Option<Code>,
    /// Segmented Property Type (e.g. SCT 272673000 "Bone").
    pub property_type: Option<Code>,
}

/// What the functional groups say about one frame (per-frame values override shared ones).
#[derive(Debug, Clone, PartialEq)]
pub struct SegFrame {
    /// Referenced Segment Number of the Segment Identification Sequence; `None` in a
    /// `LABELMAP`, whose frames hold every segment.
    pub segment_number: Option<u16>,
    /// Image Position (Patient): LPS position (mm) of the centre of the first pixel.
    pub position: Option<[f64; 3]>,
    /// Image Orientation (Patient): the row direction (along columns, i), then the column
    /// direction (along rows, j).
    pub orientation: Option<[f64; 6]>,
    /// Pixel Spacing as DICOM orders it: between rows (along j), then between columns (along i).
    pub pixel_spacing: Option<[f64; 2]>,
    pub slice_thickness: Option<f64>,
    /// The source image this frame was derived from (Derivation Image Sequence), if named.
    pub source_sop_instance_uid: Option<String>,
}

/// A DICOM Segmentation: its segments, frames and stored pixels.
#[derive(Debug, Clone)]
pub struct Segmentation {
    pub path: PathBuf,
    pub sop_class_uid: String,
    pub sop_instance_uid: Option<String>,
    pub series_instance_uid: Option<String>,
    pub segmentation_type: SegmentationType,
    /// Segmentation Fractional Type (`PROBABILITY` or `OCCUPANCY`) of a `FRACTIONAL` SEG.
    pub fractional_type: Option<String>,
    /// Segments Overlap (`YES`, `NO` or `UNDEFINED`), when the file says.
    pub segments_overlap: Option<String>,
    pub rows: usize,
    pub columns: usize,
    pub frame_of_reference_uid: Option<String>,
    /// Series Instance UID of the first item of the Referenced Series Sequence: the images the
    /// segmentation was made from.
    pub referenced_series_uid: Option<String>,
    /// Segments in file order.
    pub segments: Vec<Segment>,
    /// One entry per frame, in frame order.
    pub frames: Vec<SegFrame>,
    pixels: StoredPixels,
}

/// Stored pixel bytes (native little endian; bit-packed when `bits` is 1).
#[derive(Clone)]
struct StoredPixels {
    bits: u16,
    data: Vec<u8>,
}

impl std::fmt::Debug for StoredPixels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes at {} bit(s)", self.data.len(), self.bits)
    }
}

impl Segmentation {
    /// The segment with Segment Number `number`.
    pub fn segment(&self, number: u16) -> Result<&Segment, DicomError> {
        self.segments
            .iter()
            .find(|s| s.number == number)
            .ok_or_else(|| DicomError::SegmentNotFound {
                path: self.path.clone(),
                number,
                available: self
                    .segments
                    .iter()
                    .map(|s| format!("{} '{}'", s.number, s.label))
                    .collect(),
            })
    }

    /// Bits per stored pixel: 1 (`BINARY`), 8 (`FRACTIONAL`, `LABELMAP`) or 16 (`LABELMAP`).
    pub fn bits_allocated(&self) -> u16 {
        self.pixels.bits
    }

    /// Stored values of frame `index` (0-based), row after row: 0/1 for `BINARY`, 0 to the
    /// maximum for `FRACTIONAL`, label values for `LABELMAP`.
    pub fn frame_values(&self, index: usize) -> Result<Vec<u16>, DicomError> {
        let n = self.rows * self.columns;
        let fail = |reason: String| DicomError::Seg {
            path: self.path.clone(),
            reason,
        };
        if index >= self.frames.len() {
            return Err(fail(format!(
                "frame {index} requested, the segmentation has {}",
                self.frames.len()
            )));
        }
        let short = || fail("pixel data shorter than the header says".into());
        let data = &self.pixels.data;
        match self.pixels.bits {
            1 => {
                // Frames are packed back to back, least significant bit first (PS3.5 8.1.1).
                let start = index * n;
                (start..start + n)
                    .map(|b| {
                        data.get(b / 8)
                            .map(|byte| u16::from((byte >> (b % 8)) & 1))
                            .ok_or_else(short)
                    })
                    .collect()
            }
            8 => Ok(data
                .get(index * n..(index + 1) * n)
                .ok_or_else(short)?
                .iter()
                .map(|&v| u16::from(v))
                .collect()),
            _ => Ok(data
                .get(index * n * 2..(index + 1) * n * 2)
                .ok_or_else(short)?
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect()),
        }
    }

    /// Whether a stored value means "in segment `segment`".
    fn is_member(&self, value: u16, segment: u16) -> bool {
        match self.segmentation_type {
            SegmentationType::Binary => value != 0,
            // At least half the maximum, in integers: 2v >= max.
            SegmentationType::Fractional { maximum } => 2 * u32::from(value) >= u32::from(maximum),
            SegmentationType::Labelmap => value == segment,
        }
    }

    /// Frames that hold segment `number`: its own frames, or every frame of a `LABELMAP`.
    fn frames_of(&self, number: u16) -> impl Iterator<Item = usize> + '_ {
        let all = self.segmentation_type == SegmentationType::Labelmap;
        self.frames
            .iter()
            .enumerate()
            .filter(move |(_, f)| all || f.segment_number == Some(number))
            .map(|(i, _)| i)
    }
}

/// Reads a DICOM Segmentation file (SEG or Label Map SEG).
pub fn read_seg(path: &Path) -> Result<Segmentation, DicomError> {
    let obj = open(path, ReadDepth::Full)?;
    seg_from_object(&obj, path)
}

/// Reads a Segmentation from an object opened from `path` (used in error messages).
pub fn seg_from_object(obj: &DicomObject, path: &Path) -> Result<Segmentation, DicomError> {
    seg_from_object_with_limit(obj, path, DECODED_SIZE_FLOOR)
}

/// [`seg_from_object`] with another floor for the decoded size of encapsulated pixel data (see
/// [`crate::decode_with_limit`]; the fuzz target uses a small one).
pub fn seg_from_object_with_limit(
    obj: &DicomObject,
    path: &Path,
    decoded_size_floor: u64,
) -> Result<Segmentation, DicomError> {
    let fail = |reason: String| DicomError::Seg {
        path: path.to_path_buf(),
        reason,
    };
    let sop_class_uid = str_of(obj, tags::SOP_CLASS_UID).unwrap_or_default();
    let modality = str_of(obj, tags::MODALITY).unwrap_or_default();
    if sop_class_uid != SEGMENTATION_STORAGE
        && sop_class_uid != LABEL_MAP_SEGMENTATION_STORAGE
        && modality != "SEG"
    {
        return Err(fail(format!(
            "not a DICOM Segmentation (SOP Class '{sop_class_uid}', modality '{modality}'); give a SEG file"
        )));
    }
    let kind = str_of(obj, tags::SEGMENTATION_TYPE).ok_or_else(|| {
        fail(
            "Segmentation Type (0062,0001) is missing; it must be BINARY, FRACTIONAL or LABELMAP"
                .into(),
        )
    })?;
    let bits = int_of(obj, tags::BITS_ALLOCATED).unwrap_or(0);
    let segmentation_type = match kind.as_str() {
        "BINARY" => SegmentationType::Binary,
        "FRACTIONAL" => {
            let maximum = int_of(obj, tags::MAXIMUM_FRACTIONAL_VALUE)
                .filter(|m| (1..=255).contains(m))
                .ok_or_else(|| {
                    fail("FRACTIONAL segmentation without a valid Maximum Fractional Value (0062,000E), 1 to 255; the file is not a valid SEG".into())
                })?;
            SegmentationType::Fractional {
                maximum: maximum as u16,
            }
        }
        "LABELMAP" => SegmentationType::Labelmap,
        other => {
            return Err(fail(format!(
                "Segmentation Type '{other}' is not BINARY, FRACTIONAL or LABELMAP"
            )))
        }
    };
    let bits_ok = match segmentation_type {
        SegmentationType::Binary => bits == 1,
        SegmentationType::Fractional { .. } => bits == 8,
        SegmentationType::Labelmap => bits == 8 || bits == 16,
    };
    if !bits_ok {
        return Err(fail(format!(
            "a {kind} segmentation cannot have Bits Allocated {bits} (BINARY: 1, FRACTIONAL: 8, LABELMAP: 8 or 16); the file is not a valid SEG"
        )));
    }
    let samples = int_of(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    if samples != 1 {
        return Err(fail(format!(
            "Samples per Pixel is {samples}; a segmentation has 1"
        )));
    }
    let dimension = |tag, name: &str| {
        int_of(obj, tag)
            .filter(|v| (1..=65535).contains(v))
            .map(|v| v as usize)
            .ok_or_else(|| fail(format!("{name} is missing or not in 1..65535")))
    };
    let rows = dimension(tags::ROWS, "Rows")?;
    let columns = dimension(tags::COLUMNS, "Columns")?;
    // Absent, Number of Frames means one frame (as for any image).
    let n_frames = int_of(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1);
    if n_frames < 1 {
        return Err(fail(format!(
            "Number of Frames is {n_frames}; a segmentation has at least one frame"
        )));
    }
    let n_frames = usize::try_from(n_frames)
        .map_err(|_| fail(format!("Number of Frames {n_frames} is too large")))?;

    let segments = read_segments(obj, segmentation_type).map_err(&fail)?;
    let per_frame = items_of(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE).len();
    if per_frame != 0 && per_frame != n_frames {
        return Err(fail(frame_count_mismatch(n_frames, per_frame)));
    }
    // The pixel data bounds the number of frames before one is allocated.
    let pixels = read_pixels(
        obj,
        path,
        rows,
        columns,
        n_frames,
        bits as u16,
        decoded_size_floor,
    )?;
    let frames = read_frames(
        obj,
        n_frames,
        segmentation_type,
        &segments,
        pixels.data.len(),
    )
    .map_err(&fail)?;

    Ok(Segmentation {
        path: path.to_path_buf(),
        sop_class_uid,
        sop_instance_uid: str_of(obj, tags::SOP_INSTANCE_UID),
        series_instance_uid: str_of(obj, tags::SERIES_INSTANCE_UID),
        segmentation_type,
        fractional_type: str_of(obj, tags::SEGMENTATION_FRACTIONAL_TYPE),
        segments_overlap: str_of(obj, tags::SEGMENTS_OVERLAP),
        rows,
        columns,
        frame_of_reference_uid: str_of(obj, tags::FRAME_OF_REFERENCE_UID),
        referenced_series_uid: first_item(obj, tags::REFERENCED_SERIES_SEQUENCE)
            .and_then(|s| str_of(s, tags::SERIES_INSTANCE_UID)),
        segments,
        frames,
        pixels,
    })
}

fn code_of(item: &dicom_object::InMemDicomObject, tag: dicom_core::Tag) -> Option<Code> {
    let c = first_item(item, tag)?;
    Some(Code {
        value: str_of(c, tags::CODE_VALUE)
            .or_else(|| str_of(c, tags::LONG_CODE_VALUE))
            .or_else(|| str_of(c, tags::URN_CODE_VALUE))
            .unwrap_or_default(),
        scheme: str_of(c, tags::CODING_SCHEME_DESIGNATOR).unwrap_or_default(),
        meaning: str_of(c, tags::CODE_MEANING).unwrap_or_default(),
    })
}

fn read_segments(obj: &DicomObject, kind: SegmentationType) -> Result<Vec<Segment>, String> {
    let items = items_of(obj, tags::SEGMENT_SEQUENCE);
    if items.is_empty() {
        return Err("the Segment Sequence (0062,0002) is missing or empty; a SEG describes at least one segment".into());
    }
    let mut segments: Vec<Segment> = Vec::with_capacity(items.len());
    let mut seen = HashSet::new();
    for (n, item) in items.iter().enumerate() {
        let number = int_of(item, tags::SEGMENT_NUMBER).ok_or_else(|| {
            format!(
                "item {} of the Segment Sequence has no Segment Number",
                n + 1
            )
        })?;
        let number = u16::try_from(number)
            .map_err(|_| format!("Segment Number {number} is not in 0..65535"))?;
        if number == 0 && kind != SegmentationType::Labelmap {
            return Err("Segment Number 0 in a BINARY or FRACTIONAL segmentation; segments are numbered from 1 (0 is the background of a LABELMAP only)".into());
        }
        if !seen.insert(number) {
            return Err(format!(
                "Segment Number {number} appears twice in the Segment Sequence"
            ));
        }
        segments.push(Segment {
            number,
            label: str_of(item, tags::SEGMENT_LABEL).unwrap_or_else(|| format!("Segment {number}")),
            description: str_of(item, tags::SEGMENT_DESCRIPTION),
            algorithm_type: str_of(item, tags::SEGMENT_ALGORITHM_TYPE).unwrap_or_default(),
            algorithm_name: str_of(item, tags::SEGMENT_ALGORITHM_NAME),
            category: code_of(item, tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE),
            property_type: code_of(item, tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE),
        });
    }
    Ok(segments)
}

fn frame_count_mismatch(n_frames: usize, items: usize) -> String {
    format!(
        "Number of Frames is {n_frames} but the Per-Frame Functional Groups Sequence has {items} items; the file is inconsistent (truncated or badly written)"
    )
}

fn read_frames(
    obj: &DicomObject,
    n_frames: usize,
    kind: SegmentationType,
    segments: &[Segment],
    pixel_bytes: usize,
) -> Result<Vec<SegFrame>, String> {
    let shared = first_item(obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
    let per_frame = items_of(obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
    if per_frame.is_empty() {
        if str_of(obj, tags::DIMENSION_ORGANIZATION_TYPE).as_deref() == Some("TILED_FULL") {
            return tiled_full_frames(obj, n_frames, kind, segments, shared, pixel_bytes);
        }
        return Err("the Per-Frame Functional Groups Sequence (5200,9230) is missing; without it the frames have no segment or position (the file is not a valid SEG)".into());
    }
    if per_frame.len() != n_frames {
        return Err(frame_count_mismatch(n_frames, per_frame.len()));
    }
    let declared: HashSet<u16> = segments.iter().map(|s| s.number).collect();
    let mut frames = Vec::with_capacity(n_frames);
    for (f, item) in per_frame.iter().enumerate() {
        // A functional group macro: in this frame's item, else in the shared item.
        let group = |tag| first_item(item, tag).or_else(|| shared.and_then(|s| first_item(s, tag)));
        let numbers = |tag, attr, name: &str, count: usize| -> Result<Option<Vec<f64>>, String> {
            let Some(values) = group(tag).and_then(|g| floats_of(g, attr)) else {
                return Ok(None);
            };
            if values.len() != count {
                return Err(format!(
                    "frame {}: {name} holds {} values, expected {count}",
                    f + 1,
                    values.len()
                ));
            }
            Ok(Some(values))
        };
        let segment_number = if kind == SegmentationType::Labelmap {
            None
        } else {
            let number = group(tags::SEGMENT_IDENTIFICATION_SEQUENCE)
                .and_then(|g| int_of(g, tags::REFERENCED_SEGMENT_NUMBER))
                .ok_or_else(|| {
                    format!(
                        "frame {} has no Referenced Segment Number (Segment Identification Sequence, in its per-frame or the shared functional groups)",
                        f + 1
                    )
                })?;
            match u16::try_from(number) {
                Ok(n) if declared.contains(&n) => Some(n),
                _ => {
                    return Err(format!(
                        "frame {} refers to segment {number}, which the Segment Sequence does not declare (it declares {})",
                        f + 1,
                        segments
                            .iter()
                            .map(|s| s.number.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        };
        let position = numbers(
            tags::PLANE_POSITION_SEQUENCE,
            tags::IMAGE_POSITION_PATIENT,
            "Image Position (Patient)",
            3,
        )?
        .map(|v| [v[0], v[1], v[2]]);
        let orientation = numbers(
            tags::PLANE_ORIENTATION_SEQUENCE,
            tags::IMAGE_ORIENTATION_PATIENT,
            "Image Orientation (Patient)",
            6,
        )?
        .map(|v| [v[0], v[1], v[2], v[3], v[4], v[5]]);
        let pixel_spacing = numbers(
            tags::PIXEL_MEASURES_SEQUENCE,
            tags::PIXEL_SPACING,
            "Pixel Spacing",
            2,
        )?
        .map(|v| [v[0], v[1]]);
        let slice_thickness =
            group(tags::PIXEL_MEASURES_SEQUENCE).and_then(|g| float_of(g, tags::SLICE_THICKNESS));
        let source_sop_instance_uid = first_item(item, tags::DERIVATION_IMAGE_SEQUENCE)
            .and_then(|d| first_item(d, tags::SOURCE_IMAGE_SEQUENCE))
            .and_then(|s| str_of(s, tags::REFERENCED_SOP_INSTANCE_UID));
        frames.push(SegFrame {
            segment_number,
            position,
            orientation,
            pixel_spacing,
            slice_thickness,
            source_sop_instance_uid,
        });
    }
    Ok(frames)
}

/// Frames of a `TILED_FULL` slide microscopy SEG, which has no per-frame functional groups:
/// the frames are the tiles of the total pixel matrix, row by row, for each focal plane, for
/// each segment in Segment Sequence order (PS3.3 C.7.6.17.3). Tiles lie in slide coordinates,
/// so they have no patient position.
fn tiled_full_frames(
    obj: &DicomObject,
    n_frames: usize,
    kind: SegmentationType,
    segments: &[Segment],
    shared: Option<&dicom_object::InMemDicomObject>,
    pixel_bytes: usize,
) -> Result<Vec<SegFrame>, String> {
    // Without per-frame items, only the pixel data bounds the frame count, and a header of tiny
    // frames could make the frame list cost a thousand times the file: refuse that.
    let frame_list = n_frames.saturating_mul(std::mem::size_of::<SegFrame>());
    if frame_list > MAX_TILED_FRAME_LIST.max(pixel_bytes.saturating_mul(64)) {
        return Err(format!(
            "TILED_FULL segmentation with {n_frames} frames in {pixel_bytes} bytes of pixel data; refusing a frame list that large (corrupt Rows, Columns or Number of Frames?)"
        ));
    }
    let positive = |tag, name: &str| {
        int_of(obj, tag)
            .filter(|v| (1..=u32::MAX as i64).contains(v))
            .map(|v| v as usize)
            .ok_or_else(|| format!("TILED_FULL segmentation without a valid {name}"))
    };
    let tiles = positive(tags::TOTAL_PIXEL_MATRIX_ROWS, "Total Pixel Matrix Rows")?
        .div_ceil(positive(tags::ROWS, "Rows")?)
        * positive(
            tags::TOTAL_PIXEL_MATRIX_COLUMNS,
            "Total Pixel Matrix Columns",
        )?
        .div_ceil(positive(tags::COLUMNS, "Columns")?)
        * int_of(obj, tags::TOTAL_PIXEL_MATRIX_FOCAL_PLANES)
            .unwrap_or(1)
            .clamp(1, i64::from(u32::MAX)) as usize;
    let planes = if kind == SegmentationType::Labelmap {
        1
    } else {
        segments.len()
    };
    if tiles.checked_mul(planes) != Some(n_frames) {
        return Err(format!(
            "TILED_FULL segmentation with {n_frames} frames, but {tiles} tiles x {planes} segment plane(s) = {} are expected; the file is inconsistent",
            tiles.saturating_mul(planes)
        ));
    }
    let group = |tag| shared.and_then(|s| first_item(s, tag));
    let pixel_spacing = group(tags::PIXEL_MEASURES_SEQUENCE)
        .and_then(|g| floats_of(g, tags::PIXEL_SPACING))
        .filter(|v| v.len() == 2)
        .map(|v| [v[0], v[1]]);
    let slice_thickness =
        group(tags::PIXEL_MEASURES_SEQUENCE).and_then(|g| float_of(g, tags::SLICE_THICKNESS));
    Ok((0..n_frames)
        .map(|f| SegFrame {
            segment_number: (kind != SegmentationType::Labelmap)
                .then(|| segments[f / tiles].number),
            position: None,
            orientation: None,
            pixel_spacing,
            slice_thickness,
            source_sop_instance_uid: None,
        })
        .collect())
}

fn read_pixels(
    obj: &DicomObject,
    path: &Path,
    rows: usize,
    columns: usize,
    n_frames: usize,
    bits: u16,
    decoded_size_floor: u64,
) -> Result<StoredPixels, DicomError> {
    let fail = |reason: String| DicomError::Seg {
        path: path.to_path_buf(),
        reason,
    };
    let pixels_total = rows
        .checked_mul(columns)
        .and_then(|p| p.checked_mul(n_frames))
        .ok_or_else(|| fail("Rows x Columns x Number of Frames overflows".into()))?;
    let needed = if bits == 1 {
        pixels_total.div_ceil(8)
    } else {
        pixels_total
            .checked_mul(usize::from(bits / 8))
            .ok_or_else(|| fail("Rows x Columns x Number of Frames overflows".into()))?
    };
    let element = obj
        .get(tags::PIXEL_DATA)
        .ok_or_else(|| DicomError::NoPixelData {
            path: path.to_path_buf(),
        })?;
    let ts = obj.meta().transfer_syntax().trim_end_matches('\0').trim();
    let data: Cow<'_, [u8]> = match element.value() {
        // Native pixel data, as stored (dicom-rs has already put big endian OW words in native
        // order, which is how 1-bit and 8-bit data in OW are meant to be read).
        Value::Primitive(p) => p.to_bytes(),
        _ if bits == 1 => {
            return Err(fail(format!(
                "encapsulated BINARY (1-bit) pixel data ({}) is not supported; decompress the file first (e.g. gdcmconv --raw)",
                transfer_syntax_name(ts)
            )))
        }
        _ => {
            // Encapsulated: the general decoder (RLE, JPEG-LS, JPEG 2000, ...).
            let px = decode_with_limit(obj, path, decoded_size_floor)?;
            if (px.rows, px.columns, px.frames) != (rows, columns, n_frames) {
                return Err(fail(format!(
                    "decoded {} frames of {} x {}, the header says {n_frames} of {rows} x {columns}",
                    px.frames, px.rows, px.columns
                )));
            }
            Cow::Owned(px.bytes().to_vec())
        }
    };
    // Native Pixel Data is padded to an even length: one byte more than needed is allowed.
    if data.len() < needed || data.len() > needed + 1 {
        let what = if bits == 1 {
            format!(
                "{rows} x {columns} pixels x {n_frames} frames packed at 1 bit need {needed} bytes ({pixels_total} bits, frames back to back, not padded per frame)"
            )
        } else {
            format!(
                "{rows} x {columns} pixels x {n_frames} frames at {bits} bits need {needed} bytes"
            )
        };
        let verdict = if data.len() < needed {
            "the pixel data is truncated, or Number of Frames, Rows or Columns is wrong"
        } else {
            "Number of Frames, Rows, Columns or Bits Allocated is wrong"
        };
        return Err(fail(format!(
            "Pixel Data holds {} bytes but {what}; {verdict}",
            data.len()
        )));
    }
    Ok(StoredPixels {
        bits,
        data: data[..needed].to_vec(),
    })
}

/// Where a frame lands on the reference grid.
enum Slot {
    /// On slice k.
    Slice(usize),
    /// On the grid's plane but beyond its slices, at this (rounded) slice index.
    Outside(i64),
}

/// Places the frames of a segmentation on a reference grid.
struct Placer<'a> {
    seg: &'a Segmentation,
    geometry: &'a Geometry,
}

impl<'a> Placer<'a> {
    /// Checks the in-plane size once for the whole segmentation.
    fn new(seg: &'a Segmentation, geometry: &'a Geometry) -> Result<Self, DicomError> {
        let [ni, nj, _] = geometry.size();
        if (seg.rows, seg.columns) != (nj, ni) {
            return Err(DicomError::Seg {
                path: seg.path.clone(),
                reason: format!(
                    "the SEG frames are {} rows x {} columns but the reference grid's slices are {nj} x {ni}; rasterise onto the series the segmentation was made from (SEG frames are not resampled)",
                    seg.rows, seg.columns
                ),
            });
        }
        Ok(Self { seg, geometry })
    }

    /// Where frame `f` lands; an error when it does not coincide with the grid's slices.
    fn place(&self, f: usize) -> Result<Slot, DicomError> {
        let frame = &self.seg.frames[f];
        let what = match frame.segment_number {
            Some(n) => format!("frame {} (segment {n})", f + 1),
            None => format!("frame {}", f + 1),
        };
        let fail = |reason: String| DicomError::Seg {
            path: self.seg.path.clone(),
            reason: format!("{what}: {reason}"),
        };
        let g = self.geometry;
        let dir = g.direction();
        let spacing = g.spacing();
        let position = frame.position.ok_or_else(|| {
            fail("no Image Position (Patient) (Plane Position Sequence) in its per-frame or the shared functional groups, so it cannot be placed on a volume (a slide microscopy SEG, or an incomplete file)".into())
        })?;
        let o = frame.orientation.ok_or_else(|| {
            fail("no Image Orientation (Patient) (Plane Orientation Sequence) in its per-frame or the shared functional groups".into())
        })?;
        let axis_i = [dir[0][0], dir[1][0], dir[2][0]];
        let axis_j = [dir[0][1], dir[1][1], dir[2][1]];
        let differs = (0..3).any(|r| {
            (o[r] - axis_i[r]).abs() > ORIENTATION_TOLERANCE
                || (o[3 + r] - axis_j[r]).abs() > ORIENTATION_TOLERANCE
        });
        if differs {
            return Err(fail(format!(
                "orientation {o:?} differs from the reference grid's rows {axis_i:?} and columns {axis_j:?}; rasterise onto the series the segmentation was made from (SEG frames are not resampled)"
            )));
        }
        let ps = frame.pixel_spacing.ok_or_else(|| {
            fail("no Pixel Spacing (Pixel Measures Sequence) in its per-frame or the shared functional groups, so it cannot be checked against the grid".into())
        })?;
        // Pixel Spacing is [between rows (j), between columns (i)].
        let drift_i = (ps[1] - spacing[0]).abs() * (self.seg.columns as f64 - 1.0) / spacing[0];
        let drift_j = (ps[0] - spacing[1]).abs() * (self.seg.rows as f64 - 1.0) / spacing[1];
        if drift_i > SPACING_DRIFT_TOLERANCE || drift_j > SPACING_DRIFT_TOLERANCE {
            return Err(fail(format!(
                "pixel spacing {:?} (rows, columns) differs from the reference grid's [{}, {}]; rasterise onto the series the segmentation was made from (SEG frames are not resampled)",
                ps, spacing[1], spacing[0]
            )));
        }
        let idx = g.physical_to_index(position);
        if idx[0].abs() > POSITION_TOLERANCE || idx[1].abs() > POSITION_TOLERANCE {
            return Err(fail(format!(
                "position {position:?} is shifted in-plane by ({:.3}, {:.3}) voxels from the reference grid; the segmentation was made on another grid",
                idx[0], idx[1]
            )));
        }
        let k = idx[2].round();
        if (idx[2] - k).abs() > POSITION_TOLERANCE {
            return Err(fail(format!(
                "position {position:?} lies between slices {} and {} of the reference grid (at {:.3}); the segmentation was made on another grid, or the series' slices are unevenly spaced",
                idx[2].floor(),
                idx[2].floor() + 1.0,
                idx[2]
            )));
        }
        if k < 0.0 || k >= g.size()[2] as f64 {
            return Ok(Slot::Outside(k as i64));
        }
        Ok(Slot::Slice(k as usize))
    }
}

/// What could not be placed, for the warnings.
#[derive(Default)]
struct Outside {
    frames: usize,
    pixels: usize,
    slices: Vec<i64>,
}

impl Outside {
    fn add(&mut self, k: i64, pixels: usize) {
        self.frames += 1;
        self.pixels += pixels;
        // The first few slices are enough to tell where the frames are.
        if self.slices.len() < 8 && !self.slices.contains(&k) {
            self.slices.push(k);
        }
    }

    fn warning(&self, what: &str, nk: usize) -> Option<String> {
        (self.frames > 0).then(|| {
            format!(
                "{what}: {} frame(s) lie on the grid's plane but beyond its {nk} slices (at slice(s) {}{}), holding {} segment pixel(s) that were not placed",
                self.frames,
                self.slices
                    .iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                if self.slices.len() == 8 { ", ..." } else { "" },
                self.pixels
            )
        })
    }
}

/// Rasterises one segment onto `geometry` as a binary mask (label 1).
///
/// Each frame of the segment is placed on the grid slice its Image Position (Patient) names.
/// Frames must have the grid's rows, columns, orientation and pixel spacing, and lie on a
/// slice; otherwise this is an error. Frames beyond the grid's first or last slice are not
/// placed and are reported in the warnings. `FRACTIONAL` values count as members from half the
/// Maximum Fractional Value up; in a `LABELMAP`, pixels equal to `segment_number` are members.
pub fn rasterise_segment(
    seg: &Segmentation,
    segment_number: u16,
    geometry: &Geometry,
) -> Result<Rasterised, DicomError> {
    let segment = seg.segment(segment_number)?;
    let placer = Placer::new(seg, geometry)?;
    // Voxels in file order: slice k, then the frame's pixels (row after row) on it.
    let plane = seg.rows * seg.columns;
    let mut data = vec![0u8; geometry.len()];
    let mut outside = Outside::default();
    let mut filled = vec![false; geometry.size()[2]];
    let mut combined = 0usize;
    for f in seg.frames_of(segment_number) {
        let slot = placer.place(f)?;
        let values = seg.frame_values(f)?;
        let members = values
            .iter()
            .enumerate()
            .filter(|(_, &v)| seg.is_member(v, segment_number))
            .map(|(p, _)| p);
        match slot {
            Slot::Slice(k) => {
                if std::mem::replace(&mut filled[k], true) {
                    combined += 1;
                }
                for p in members {
                    data[k * plane + p] = 1;
                }
            }
            Slot::Outside(k) => outside.add(k, members.count()),
        }
    }
    let what = format!("segment {} '{}'", segment.number, segment.label);
    let mut warnings: Vec<String> = outside
        .warning(&what, geometry.size()[2])
        .into_iter()
        .collect();
    if combined > 0 && seg.segmentation_type != SegmentationType::Labelmap {
        warnings.push(format!(
            "{what}: {combined} frame(s) fall on a slice that another frame of the segment already covers; they were combined (union)"
        ));
    }
    Ok(Rasterised {
        mask: LabelMap::new(Image::from_vec(geometry.clone(), data)?),
        warnings,
    })
}

/// Rasterises every segment onto `geometry` as one label map: label `n` for segment `n`.
///
/// Frames are placed as by [`rasterise_segment`]. Where segments overlap, the higher segment
/// number wins (segments are painted in ascending order) and the warnings count the voxels
/// concerned. Segment numbers (label values of a `LABELMAP`) above 255 do not fit a label map
/// and are an error; rasterise those segments one at a time.
pub fn segments_to_labels(
    seg: &Segmentation,
    geometry: &Geometry,
) -> Result<Rasterised, DicomError> {
    let placer = Placer::new(seg, geometry)?;
    let fail = |reason: String| DicomError::Seg {
        path: seg.path.clone(),
        reason,
    };
    let nk = geometry.size()[2];
    let plane = seg.rows * seg.columns;
    let mut data = vec![0u8; geometry.len()];
    let mut overlapped = vec![false; geometry.len()];
    let mut overlaps = 0usize;
    let mut warnings = Vec::new();
    let too_big = |n: u16| {
        fail(format!(
            "segment {n} does not fit an 8-bit label map (labels 1 to 255); rasterise it on its own with rasterise_segment"
        ))
    };
    // Paints voxel `at` (slice k, pixel p: k * plane + p), counting voxels painted twice.
    let mut paint = |at: usize, label: u8, data: &mut [u8]| {
        let old = data[at];
        if old != 0 && old != label && !std::mem::replace(&mut overlapped[at], true) {
            overlaps += 1;
        }
        data[at] = label;
    };
    if seg.segmentation_type == SegmentationType::Labelmap {
        let mut declared = vec![false; 1 << 16];
        for s in &seg.segments {
            declared[usize::from(s.number)] = true;
        }
        let mut undeclared = vec![false; 1 << 16];
        let mut outside = Outside::default();
        for f in 0..seg.frames.len() {
            let slot = placer.place(f)?;
            let values = seg.frame_values(f)?;
            let members = values.iter().enumerate().filter(|(_, &v)| v != 0);
            match slot {
                Slot::Slice(k) => {
                    for (p, &v) in members {
                        let label = u8::try_from(v).map_err(|_| too_big(v))?;
                        if !declared[usize::from(v)] {
                            undeclared[usize::from(v)] = true;
                        }
                        paint(k * plane + p, label, &mut data);
                    }
                }
                Slot::Outside(k) => outside.add(k, members.count()),
            }
        }
        warnings.extend(outside.warning("label map", nk));
        let undeclared: Vec<usize> = (0..undeclared.len()).filter(|&v| undeclared[v]).collect();
        if !undeclared.is_empty() {
            warnings.push(format!(
                "pixels carry label value(s) {undeclared:?} that the Segment Sequence does not declare; they were kept as labels"
            ));
        }
    } else {
        // Frames by segment number, ascending, then in frame order.
        let mut order: Vec<(u16, usize)> = seg
            .frames
            .iter()
            .enumerate()
            .filter_map(|(f, frame)| Some((frame.segment_number?, f)))
            .collect();
        order.sort_unstable();
        for group in order.chunk_by(|a, b| a.0 == b.0) {
            let segment = seg.segment(group[0].0)?;
            let label = u8::try_from(segment.number).map_err(|_| too_big(segment.number))?;
            let mut outside = Outside::default();
            for &(_, f) in group {
                let slot = placer.place(f)?;
                let values = seg.frame_values(f)?;
                let members = values
                    .iter()
                    .enumerate()
                    .filter(|(_, &v)| seg.is_member(v, segment.number))
                    .map(|(p, _)| p);
                match slot {
                    Slot::Slice(k) => {
                        for p in members {
                            paint(k * plane + p, label, &mut data);
                        }
                    }
                    Slot::Outside(k) => outside.add(k, members.count()),
                }
            }
            warnings.extend(outside.warning(
                &format!("segment {} '{}'", segment.number, segment.label),
                nk,
            ));
        }
    }
    if overlaps > 0 {
        warnings.push(format!(
            "{overlaps} voxel(s) belong to more than one segment; each holds the highest segment number"
        ));
    }
    Ok(Rasterised {
        mask: LabelMap::new(Image::from_vec(geometry.clone(), data)?),
        warnings,
    })
}
