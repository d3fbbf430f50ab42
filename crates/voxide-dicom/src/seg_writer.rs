//! Writing DICOM Segmentation objects (binary, PS3.3 A.51) from a label map on a source series.
//!
//! The label map must lie on the grid of the series it was computed from (the grid
//! [`crate::assemble`] built): frame `k` of a segment is slice `k` of the source, referenced by
//! its SOP Instance UID, at its Image Position (Patient), in its Frame of Reference. Every label
//! value present becomes one segment with its coded category and type; frames where a segment
//! has no voxel are left out (the standard allows it and viewers expect it). Frames are ordered
//! by segment, then slice, and indexed by the dimension pair (Referenced Segment Number, Image
//! Position Patient), the organisation highdicom, dcmqi and OHIF read.

use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use voxide_core::Image;

use crate::seg::{Code, SEGMENTATION_STORAGE};
use crate::series::DicomVolume;
use crate::{DicomError, EXPLICIT_VR_LE};

/// One segment to write.
#[derive(Debug, Clone)]
pub struct SegmentDescription {
    /// The label value in the label map; also the Segment Number (1..=255).
    pub label: u8,
    /// Segment Label (e.g. "liver").
    pub name: String,
    /// Segmented Property Category (e.g. SCT 123037004 "Anatomical Structure").
    pub category: Code,
    /// Segmented Property Type (e.g. SCT 10200004 "Liver").
    pub property: Code,
}

/// Who made the segmentation, and how the new series is labelled.
#[derive(Debug, Clone)]
pub struct SegOptions {
    /// Segment Algorithm Name (the model's name).
    pub algorithm_name: String,
    /// Algorithm Version.
    pub algorithm_version: String,
    pub series_description: String,
    pub series_number: i64,
    /// Content Label (CS: upper case, digits, space, underscore; 16 characters at most).
    pub content_label: String,
    pub manufacturer: String,
}

impl Default for SegOptions {
    fn default() -> Self {
        Self {
            algorithm_name: "voxide".into(),
            algorithm_version: env!("CARGO_PKG_VERSION").into(),
            series_description: "voxide segmentation".into(),
            series_number: 300,
            content_label: "SEGMENTATION".into(),
            manufacturer: "voxide".into(),
        }
    }
}

/// A written Segmentation: the Part-10 bytes and its identifiers.
#[derive(Debug, Clone)]
pub struct WrittenSeg {
    pub bytes: Vec<u8>,
    pub sop_instance_uid: String,
    pub series_instance_uid: String,
    /// Frames written (segments × slices where the segment is present).
    pub frames: usize,
}

/// A new globally unique UID under the `2.25` root (PS3.5 B.2: a 128-bit number), from the
/// clock, the process and randomly keyed hashes.
pub fn new_uid() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut halves = [0u64; 2];
    for (i, h) in halves.iter_mut().enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.write_u64(n);
        hasher.write_usize(i);
        *h = hasher.finish();
    }
    let value = (u128::from(halves[0]) << 64) | u128::from(halves[1]);
    format!("2.25.{value}")
}

fn seg_error(reason: impl Into<String>) -> DicomError {
    DicomError::Seg {
        path: PathBuf::from("<new segmentation>"),
        reason: reason.into(),
    }
}

pub(crate) fn text(tag: Tag, vr: VR, value: impl Into<String>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(value.into()))
}

pub(crate) fn sequence(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

pub(crate) fn code_item(code: &Code) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    item.put(text(tags::CODE_VALUE, VR::SH, code.value.clone()));
    item.put(text(
        tags::CODING_SCHEME_DESIGNATOR,
        VR::SH,
        code.scheme.clone(),
    ));
    item.put(text(tags::CODE_MEANING, VR::LO, code.meaning.clone()));
    item
}

fn ds(values: &[f64]) -> PrimitiveValue {
    // DS is at most 16 characters: `{:.10}` trimmed fits every coordinate a scanner produces.
    let strings: Vec<String> = values.iter().map(|v| format_ds(*v)).collect();
    PrimitiveValue::Strs(strings.into_iter().collect())
}

pub(crate) fn format_ds(v: f64) -> String {
    for precision in (0..=10).rev() {
        let s = format!("{v:.precision$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s.len() <= 16 {
            return if s == "-0" { "0".into() } else { s };
        }
    }
    format!("{v:.3e}")
}

/// Patient, study and frame-of-reference attributes copied from the source.
pub(crate) const COPIED: &[(Tag, VR)] = &[
    (tags::PATIENT_NAME, VR::PN),
    (tags::PATIENT_ID, VR::LO),
    (tags::PATIENT_BIRTH_DATE, VR::DA),
    (tags::PATIENT_SEX, VR::CS),
    (tags::STUDY_INSTANCE_UID, VR::UI),
    (tags::STUDY_DATE, VR::DA),
    (tags::STUDY_TIME, VR::TM),
    (tags::REFERRING_PHYSICIAN_NAME, VR::PN),
    (tags::STUDY_ID, VR::SH),
    (tags::ACCESSION_NUMBER, VR::SH),
    (tags::STUDY_DESCRIPTION, VR::LO),
    (tags::FRAME_OF_REFERENCE_UID, VR::UI),
    (tags::POSITION_REFERENCE_INDICATOR, VR::LO),
];

/// Encodes `labels` (on `source.image`'s grid) as a binary DICOM Segmentation of `source`'s
/// series, one segment per entry of `segments` (labels without an entry are an error; entries
/// whose label is absent give empty segments).
pub fn encode_segmentation(
    source: &DicomVolume,
    labels: &Image<u8>,
    segments: &[SegmentDescription],
    options: &SegOptions,
) -> Result<WrittenSeg, DicomError> {
    let grid = source.image.geometry();
    if !labels.geometry().matches(grid, voxide_core::GRID_TOLERANCE) {
        return Err(seg_error(
            "the label map is not on the source series' grid; a SEG frame must match a source slice",
        ));
    }
    let [columns, rows, slices] = grid.size();
    if source.slice_sop_instance_uids.len() != slices {
        return Err(seg_error(format!(
            "the source has {} slice UIDs for {slices} slices",
            source.slice_sop_instance_uids.len()
        )));
    }
    if rows > usize::from(u16::MAX) || columns > usize::from(u16::MAX) {
        return Err(seg_error(
            "slices larger than 65535 pixels cannot be encoded",
        ));
    }
    let present: std::collections::BTreeSet<u8> =
        labels.data().iter().copied().filter(|&v| v != 0).collect();
    if let Some(v) = present
        .iter()
        .find(|v| !segments.iter().any(|s| s.label == **v))
    {
        return Err(seg_error(format!(
            "label {v} is in the label map but has no segment description"
        )));
    }
    if segments.is_empty() {
        return Err(seg_error("no segment to write"));
    }
    let series = &source.series;
    let first = series
        .slices
        .first()
        .ok_or_else(|| seg_error("the source series has no slice"))?;
    let source_obj = crate::open(&first.path, crate::ReadDepth::Header)?;
    let source_class = series
        .sop_class_uid
        .clone()
        .unwrap_or_else(|| "1.2.840.10008.5.1.4.1.1.2".into());

    let sop_instance_uid = new_uid();
    let series_instance_uid = new_uid();
    let dimension_uid = new_uid();
    let mut obj = InMemDicomObject::new_empty();
    for &(tag, vr) in COPIED {
        if let Some(v) = crate::str_of(&source_obj, tag) {
            obj.put(text(tag, vr, v));
        } else if matches!(
            tag,
            tags::PATIENT_NAME
                | tags::PATIENT_ID
                | tags::PATIENT_BIRTH_DATE
                | tags::PATIENT_SEX
                | tags::STUDY_DATE
                | tags::STUDY_TIME
                | tags::REFERRING_PHYSICIAN_NAME
                | tags::STUDY_ID
                | tags::ACCESSION_NUMBER
                | tags::POSITION_REFERENCE_INDICATOR
        ) {
            // Type 2: present, possibly empty.
            obj.put(DataElement::new(tag, vr, PrimitiveValue::Empty));
        }
    }
    if obj.get(tags::STUDY_INSTANCE_UID).is_none() {
        let uid = series
            .study_instance_uid
            .clone()
            .ok_or_else(|| seg_error("the source has no Study Instance UID"))?;
        obj.put(text(tags::STUDY_INSTANCE_UID, VR::UI, uid));
    }
    if obj.get(tags::FRAME_OF_REFERENCE_UID).is_none() {
        let uid = series
            .frame_of_reference_uid
            .clone()
            .ok_or_else(|| seg_error("the source has no Frame of Reference UID"))?;
        obj.put(text(tags::FRAME_OF_REFERENCE_UID, VR::UI, uid));
    }
    let now = now_date_time();
    obj.put(text(tags::SOP_CLASS_UID, VR::UI, SEGMENTATION_STORAGE));
    obj.put(text(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        sop_instance_uid.clone(),
    ));
    obj.put(text(
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        series_instance_uid.clone(),
    ));
    obj.put(text(tags::MODALITY, VR::CS, "SEG"));
    obj.put(text(
        tags::SERIES_NUMBER,
        VR::IS,
        options.series_number.to_string(),
    ));
    obj.put(text(
        tags::SERIES_DESCRIPTION,
        VR::LO,
        options.series_description.clone(),
    ));
    obj.put(text(tags::INSTANCE_NUMBER, VR::IS, "1"));
    obj.put(text(
        tags::MANUFACTURER,
        VR::LO,
        options.manufacturer.clone(),
    ));
    obj.put(text(
        tags::MANUFACTURER_MODEL_NAME,
        VR::LO,
        options.algorithm_name.clone(),
    ));
    obj.put(text(tags::DEVICE_SERIAL_NUMBER, VR::LO, "1"));
    obj.put(text(
        tags::SOFTWARE_VERSIONS,
        VR::LO,
        options.algorithm_version.clone(),
    ));
    obj.put(text(tags::CONTENT_DATE, VR::DA, now.0.clone()));
    obj.put(text(tags::CONTENT_TIME, VR::TM, now.1.clone()));
    obj.put(text(tags::SERIES_DATE, VR::DA, now.0));
    obj.put(text(tags::SERIES_TIME, VR::TM, now.1));
    obj.put(DataElement::new(
        tags::IMAGE_TYPE,
        VR::CS,
        PrimitiveValue::Strs(
            ["DERIVED".to_string(), "PRIMARY".to_string()]
                .into_iter()
                .collect(),
        ),
    ));
    obj.put(text(
        tags::CONTENT_LABEL,
        VR::CS,
        options.content_label.clone(),
    ));
    obj.put(text(
        tags::CONTENT_DESCRIPTION,
        VR::LO,
        format!("{} {}", options.algorithm_name, options.algorithm_version),
    ));
    obj.put(DataElement::new(
        tags::CONTENT_CREATOR_NAME,
        VR::PN,
        PrimitiveValue::Empty,
    ));
    obj.put(text(tags::SEGMENTATION_TYPE, VR::CS, "BINARY"));
    obj.put(text(tags::SEGMENTS_OVERLAP, VR::CS, "NO"));
    obj.put(text(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"));
    obj.put(DataElement::new(
        tags::SAMPLES_PER_PIXEL,
        VR::US,
        PrimitiveValue::from(1u16),
    ));
    obj.put(text(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        "MONOCHROME2",
    ));
    obj.put(DataElement::new(
        tags::ROWS,
        VR::US,
        PrimitiveValue::from(rows as u16),
    ));
    obj.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(columns as u16),
    ));
    for tag in [tags::BITS_ALLOCATED, tags::BITS_STORED] {
        obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(1u16)));
    }
    obj.put(DataElement::new(
        tags::HIGH_BIT,
        VR::US,
        PrimitiveValue::from(0u16),
    ));
    obj.put(DataElement::new(
        tags::PIXEL_REPRESENTATION,
        VR::US,
        PrimitiveValue::from(0u16),
    ));

    // Segments.
    let segment_items = segments
        .iter()
        .map(|s| {
            let mut item = InMemDicomObject::new_empty();
            item.put(DataElement::new(
                tags::SEGMENT_NUMBER,
                VR::US,
                PrimitiveValue::from(u16::from(s.label)),
            ));
            item.put(text(tags::SEGMENT_LABEL, VR::LO, s.name.clone()));
            item.put(sequence(
                tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
                vec![code_item(&s.category)],
            ));
            item.put(sequence(
                tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE,
                vec![code_item(&s.property)],
            ));
            item.put(text(tags::SEGMENT_ALGORITHM_TYPE, VR::CS, "AUTOMATIC"));
            item.put(text(
                tags::SEGMENT_ALGORITHM_NAME,
                VR::LO,
                options.algorithm_name.clone(),
            ));
            let mut algorithm = InMemDicomObject::new_empty();
            algorithm.put(sequence(
                tags::ALGORITHM_FAMILY_CODE_SEQUENCE,
                vec![code_item(&Code {
                    value: "123109".into(),
                    scheme: "DCM".into(),
                    meaning: "Artificial Intelligence".into(),
                })],
            ));
            algorithm.put(text(
                tags::ALGORITHM_NAME,
                VR::LO,
                options.algorithm_name.clone(),
            ));
            algorithm.put(text(
                tags::ALGORITHM_VERSION,
                VR::LO,
                options.algorithm_version.clone(),
            ));
            item.put(sequence(
                tags::SEGMENTATION_ALGORITHM_IDENTIFICATION_SEQUENCE,
                vec![algorithm],
            ));
            item
        })
        .collect();
    obj.put(sequence(tags::SEGMENT_SEQUENCE, segment_items));

    // Dimensions: segment, then position.
    let mut organisation = InMemDicomObject::new_empty();
    organisation.put(text(
        tags::DIMENSION_ORGANIZATION_UID,
        VR::UI,
        dimension_uid.clone(),
    ));
    obj.put(sequence(
        tags::DIMENSION_ORGANIZATION_SEQUENCE,
        vec![organisation],
    ));
    let dimension = |pointer: Tag, group: Tag, label: &str| {
        let mut item = InMemDicomObject::new_empty();
        item.put(DataElement::new(
            tags::DIMENSION_INDEX_POINTER,
            VR::AT,
            PrimitiveValue::Tags(std::iter::once(pointer).collect()),
        ));
        item.put(DataElement::new(
            tags::FUNCTIONAL_GROUP_POINTER,
            VR::AT,
            PrimitiveValue::Tags(std::iter::once(group).collect()),
        ));
        item.put(text(
            tags::DIMENSION_ORGANIZATION_UID,
            VR::UI,
            dimension_uid.clone(),
        ));
        item.put(text(tags::DIMENSION_DESCRIPTION_LABEL, VR::LO, label));
        item
    };
    obj.put(sequence(
        tags::DIMENSION_INDEX_SEQUENCE,
        vec![
            dimension(
                tags::REFERENCED_SEGMENT_NUMBER,
                tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                "ReferencedSegmentNumber",
            ),
            dimension(
                tags::IMAGE_POSITION_PATIENT,
                tags::PLANE_POSITION_SEQUENCE,
                "ImagePositionPatient",
            ),
        ],
    ));

    // Shared functional groups: orientation and pixel measures of the source grid.
    let direction = grid.direction();
    let spacing = grid.spacing();
    let mut shared = InMemDicomObject::new_empty();
    let mut orientation = InMemDicomObject::new_empty();
    orientation.put(DataElement::new(
        tags::IMAGE_ORIENTATION_PATIENT,
        VR::DS,
        ds(&[
            direction[0][0],
            direction[1][0],
            direction[2][0],
            direction[0][1],
            direction[1][1],
            direction[2][1],
        ]),
    ));
    shared.put(sequence(
        tags::PLANE_ORIENTATION_SEQUENCE,
        vec![orientation],
    ));
    let mut measures = InMemDicomObject::new_empty();
    // Pixel Spacing is (between rows, between columns) = (j, i).
    measures.put(DataElement::new(
        tags::PIXEL_SPACING,
        VR::DS,
        ds(&[spacing[1], spacing[0]]),
    ));
    measures.put(DataElement::new(
        tags::SLICE_THICKNESS,
        VR::DS,
        ds(&[spacing[2]]),
    ));
    measures.put(DataElement::new(
        tags::SPACING_BETWEEN_SLICES,
        VR::DS,
        ds(&[spacing[2]]),
    ));
    shared.put(sequence(tags::PIXEL_MEASURES_SEQUENCE, vec![measures]));
    obj.put(sequence(
        tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        vec![shared],
    ));

    // Frames and pixel data.
    let plane = rows * columns;
    // Standard layout (k, j, i): slice k is one contiguous plane, row-major like a DICOM frame.
    let data = labels.data().as_standard_layout();
    let flat = data
        .as_slice()
        .ok_or_else(|| seg_error("label map not contiguous"))?;
    let mut per_frame = Vec::new();
    let mut bits: Vec<u8> = Vec::new();
    let mut frames = 0usize;
    let mut referenced: Vec<usize> = Vec::new();
    for s in segments {
        for k in 0..slices {
            let slice = &flat[k * plane..(k + 1) * plane];
            if !slice.contains(&s.label) {
                continue;
            }
            let offset = frames * plane;
            bits.resize((offset + plane).div_ceil(8), 0);
            for (n, &v) in slice.iter().enumerate() {
                if v == s.label {
                    let bit = offset + n;
                    bits[bit / 8] |= 1 << (bit % 8);
                }
            }
            frames += 1;
            referenced.push(k);
            let mut item = InMemDicomObject::new_empty();
            let mut source_image = InMemDicomObject::new_empty();
            source_image.put(text(
                tags::REFERENCED_SOP_CLASS_UID,
                VR::UI,
                source_class.clone(),
            ));
            source_image.put(text(
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                source.slice_sop_instance_uids[k].clone(),
            ));
            source_image.put(sequence(
                tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
                vec![code_item(&Code {
                    value: "121322".into(),
                    scheme: "DCM".into(),
                    meaning: "Source image for image processing operation".into(),
                })],
            ));
            source_image.put(text(tags::SPATIAL_LOCATIONS_PRESERVED, VR::CS, "YES"));
            let mut derivation = InMemDicomObject::new_empty();
            derivation.put(sequence(tags::SOURCE_IMAGE_SEQUENCE, vec![source_image]));
            derivation.put(sequence(
                tags::DERIVATION_CODE_SEQUENCE,
                vec![code_item(&Code {
                    value: "113076".into(),
                    scheme: "DCM".into(),
                    meaning: "Segmentation".into(),
                })],
            ));
            item.put(sequence(tags::DERIVATION_IMAGE_SEQUENCE, vec![derivation]));
            let mut content = InMemDicomObject::new_empty();
            content.put(DataElement::new(
                tags::DIMENSION_INDEX_VALUES,
                VR::UL,
                PrimitiveValue::U32([u32::from(s.label), k as u32 + 1].into_iter().collect()),
            ));
            item.put(sequence(tags::FRAME_CONTENT_SEQUENCE, vec![content]));
            let mut position = InMemDicomObject::new_empty();
            position.put(DataElement::new(
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                ds(&grid.index_to_physical([0.0, 0.0, k as f64])),
            ));
            item.put(sequence(tags::PLANE_POSITION_SEQUENCE, vec![position]));
            let mut identification = InMemDicomObject::new_empty();
            identification.put(DataElement::new(
                tags::REFERENCED_SEGMENT_NUMBER,
                VR::US,
                PrimitiveValue::from(u16::from(s.label)),
            ));
            item.put(sequence(
                tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                vec![identification],
            ));
            per_frame.push(item);
        }
    }
    if frames == 0 {
        return Err(seg_error(
            "the label map has no voxel of any segment; an empty segmentation has no frame to write",
        ));
    }
    obj.put(text(tags::NUMBER_OF_FRAMES, VR::IS, frames.to_string()));
    obj.put(sequence(
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
        per_frame,
    ));

    // References to every source slice a frame was derived from.
    referenced.sort_unstable();
    referenced.dedup();
    let instances = referenced
        .iter()
        .map(|&k| {
            let mut item = InMemDicomObject::new_empty();
            item.put(text(
                tags::REFERENCED_SOP_CLASS_UID,
                VR::UI,
                source_class.clone(),
            ));
            item.put(text(
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                source.slice_sop_instance_uids[k].clone(),
            ));
            item
        })
        .collect();
    let mut referenced_series = InMemDicomObject::new_empty();
    referenced_series.put(text(
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        series.series_instance_uid.clone(),
    ));
    referenced_series.put(sequence(tags::REFERENCED_INSTANCE_SEQUENCE, instances));
    obj.put(sequence(
        tags::REFERENCED_SERIES_SEQUENCE,
        vec![referenced_series],
    ));

    if bits.len() % 2 == 1 {
        bits.push(0);
    }
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::from(bits),
    ));

    let meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(SEGMENTATION_STORAGE)
        .media_storage_sop_instance_uid(sop_instance_uid.as_str())
        .transfer_syntax(EXPLICIT_VR_LE)
        .implementation_class_uid("1.2.826.0.1.3680043.10.1492.1")
        .implementation_version_name("VOXIDE_0_1")
        .build()
        .map_err(|e| seg_error(e.to_string()))?;
    let file = obj.with_exact_meta(meta);
    let mut bytes = Vec::new();
    file.write_all(&mut bytes)
        .map_err(|e| seg_error(format!("encoding failed: {e}")))?;
    Ok(WrittenSeg {
        bytes,
        sop_instance_uid,
        series_instance_uid,
        frames,
    })
}

/// Today's date (`YYYYMMDD`) and time (`HHMMSS`) in UTC, without a date crate.
pub(crate) fn now_date_time() -> (String, String) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = crate::dates::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    (
        format!("{y:04}{m:02}{d:02}"),
        format!("{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_unique_and_valid() {
        let a = new_uid();
        let b = new_uid();
        assert_ne!(a, b);
        assert!(a.starts_with("2.25.") && a.len() <= 64);
        assert!(a[5..].chars().all(|c| c.is_ascii_digit()));
    }

    #[test]
    fn decimal_strings_fit() {
        assert_eq!(format_ds(-170.5), "-170.5");
        assert_eq!(format_ds(0.626_953_1), "0.6269531");
        assert!(format_ds(-359.999_999_999_999_9).len() <= 16);
        assert_eq!(format_ds(-0.0), "0");
        assert!(format_ds(123_456_789.123_456_79).len() <= 16);
    }
}
