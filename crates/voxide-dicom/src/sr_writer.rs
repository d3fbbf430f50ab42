//! Writing DICOM Structured Reports: the TID 1500 "Imaging Measurement Report" of a
//! segmentation (one measurement group per segment: its finding, the referenced segment of the
//! SEG, the source series, volume and intensity statistics), and a classification result
//! (TID 1500 with one group of qualitative evaluations and probabilities).
//!
//! Comprehensive SR (1.2.840.10008.5.1.4.1.1.88.33) is used: the groups reference segments by
//! IMAGE content items, so no 3D spatial coordinates are needed. The tree follows the one
//! highdicom's `MeasurementReport` writes, so highdicom, dcmqi and OHIF read it.

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use crate::seg::{Code, SEGMENTATION_STORAGE};
use crate::seg_writer::{code_item, new_uid, sequence, text, WrittenSeg};
use crate::series::DicomVolume;
use crate::{DicomError, EXPLICIT_VR_LE};

/// SOP Class UID of Comprehensive SR.
pub const COMPREHENSIVE_SR_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.88.33";

/// A numeric measurement with its concept and UCUM unit.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub concept: Code,
    pub value: f64,
    pub unit: Code,
}

/// The measurements of one segment.
#[derive(Debug, Clone)]
pub struct SegmentReport {
    /// Segment Number in the SEG.
    pub segment_number: u16,
    /// Tracking identifier (human-readable, e.g. "liver").
    pub name: String,
    /// The finding: the segmented property type.
    pub finding: Code,
    pub measurements: Vec<Measurement>,
}

/// One class of a classification result.
#[derive(Debug, Clone)]
pub struct ClassProbability {
    pub finding: Code,
    pub probability: f64,
}

/// Who reported, and how the new series is labelled.
#[derive(Debug, Clone)]
pub struct SrOptions {
    /// Device Observer Name (the model's name).
    pub observer_name: String,
    /// Algorithm version, reported with the name.
    pub version: String,
    pub series_description: String,
    pub series_number: i64,
    pub manufacturer: String,
}

impl Default for SrOptions {
    fn default() -> Self {
        Self {
            observer_name: "voxide".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            series_description: "voxide measurements".into(),
            series_number: 301,
            manufacturer: "voxide".into(),
        }
    }
}

/// A written report: Part-10 bytes and its identifiers.
#[derive(Debug, Clone)]
pub struct WrittenSr {
    pub bytes: Vec<u8>,
    pub sop_instance_uid: String,
    pub series_instance_uid: String,
}

fn sr_error(reason: impl Into<String>) -> DicomError {
    DicomError::Seg {
        path: "<new structured report>".into(),
        reason: reason.into(),
    }
}

fn code(value: &str, scheme: &str, meaning: &str) -> Code {
    Code {
        value: value.into(),
        scheme: scheme.into(),
        meaning: meaning.into(),
    }
}

/// A content item with its relationship, value type and concept name.
fn item(relationship: &str, value_type: &str, concept: &Code) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    if !relationship.is_empty() {
        item.put(text(tags::RELATIONSHIP_TYPE, VR::CS, relationship));
    }
    item.put(text(tags::VALUE_TYPE, VR::CS, value_type));
    item.put(sequence(
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code_item(concept)],
    ));
    item
}

fn container(
    relationship: &str,
    concept: &Code,
    children: Vec<InMemDicomObject>,
) -> InMemDicomObject {
    let mut c = item(relationship, "CONTAINER", concept);
    c.put(text(tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE"));
    c.put(sequence(tags::CONTENT_SEQUENCE, children));
    c
}

fn code_value(relationship: &str, concept: &Code, value: &Code) -> InMemDicomObject {
    let mut c = item(relationship, "CODE", concept);
    c.put(sequence(
        tags::CONCEPT_CODE_SEQUENCE,
        vec![code_item(value)],
    ));
    c
}

fn text_value(relationship: &str, concept: &Code, value: &str) -> InMemDicomObject {
    let mut c = item(relationship, "TEXT", concept);
    c.put(text(tags::TEXT_VALUE, VR::UT, value));
    c
}

fn uid_value(relationship: &str, concept: &Code, value: &str) -> InMemDicomObject {
    let mut c = item(relationship, "UIDREF", concept);
    c.put(text(tags::UID, VR::UI, value));
    c
}

fn num_value(concept: &Code, value: f64, unit: &Code) -> InMemDicomObject {
    let mut c = item("CONTAINS", "NUM", concept);
    let mut measured = InMemDicomObject::new_empty();
    measured.put(DataElement::new(
        tags::NUMERIC_VALUE,
        VR::DS,
        PrimitiveValue::from(crate::seg_writer::format_ds(value)),
    ));
    measured.put(DataElement::new(
        tags::FLOATING_POINT_VALUE,
        VR::FD,
        PrimitiveValue::from(value),
    ));
    measured.put(sequence(
        tags::MEASUREMENT_UNITS_CODE_SEQUENCE,
        vec![code_item(unit)],
    ));
    c.put(sequence(tags::MEASURED_VALUE_SEQUENCE, vec![measured]));
    c
}

/// The document header shared by both reports: patient and study of the source, a new series.
fn header(
    source: &DicomVolume,
    options: &SrOptions,
) -> Result<(InMemDicomObject, String, String), DicomError> {
    let series = &source.series;
    let first = series
        .slices
        .first()
        .ok_or_else(|| sr_error("the source series has no slice"))?;
    let source_obj = crate::open(&first.path, crate::ReadDepth::Header)?;
    let mut obj = InMemDicomObject::new_empty();
    for &(tag, vr) in crate::seg_writer::COPIED {
        if tag == tags::FRAME_OF_REFERENCE_UID || tag == tags::POSITION_REFERENCE_INDICATOR {
            continue; // not part of an SR document
        }
        match crate::str_of(&source_obj, tag) {
            Some(v) => obj.put(text(tag, vr, v)),
            None if tag != tags::STUDY_INSTANCE_UID && tag != tags::STUDY_DESCRIPTION => {
                obj.put(DataElement::new(tag, vr, PrimitiveValue::Empty))
            }
            None => None,
        };
    }
    if obj.get(tags::STUDY_INSTANCE_UID).is_none() {
        let uid = series
            .study_instance_uid
            .clone()
            .ok_or_else(|| sr_error("the source has no Study Instance UID"))?;
        obj.put(text(tags::STUDY_INSTANCE_UID, VR::UI, uid));
    }
    let sop_instance_uid = new_uid();
    let series_instance_uid = new_uid();
    let (date, time) = crate::seg_writer::now_date_time();
    obj.put(text(tags::SOP_CLASS_UID, VR::UI, COMPREHENSIVE_SR_STORAGE));
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
    obj.put(text(tags::MODALITY, VR::CS, "SR"));
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
    obj.put(text(tags::CONTENT_DATE, VR::DA, date.clone()));
    obj.put(text(tags::CONTENT_TIME, VR::TM, time.clone()));
    obj.put(text(tags::SERIES_DATE, VR::DA, date));
    obj.put(text(tags::SERIES_TIME, VR::TM, time));
    obj.put(text(tags::COMPLETION_FLAG, VR::CS, "COMPLETE"));
    obj.put(text(tags::VERIFICATION_FLAG, VR::CS, "UNVERIFIED"));
    // Type 2 sequences of the SR Document Series and General modules: present, empty.
    for tag in [
        tags::PERFORMED_PROCEDURE_CODE_SEQUENCE,
        tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
    ] {
        obj.put(DataElement::new(
            tag,
            VR::SQ,
            DataSetSequence::<InMemDicomObject>::empty(),
        ));
    }
    Ok((obj, sop_instance_uid, series_instance_uid))
}

/// `(SOP Class UID, SOP Instance UID)` of every slice of the source, each object once.
fn source_instances(source: &DicomVolume) -> Vec<(String, String)> {
    let class = source
        .series
        .sop_class_uid
        .clone()
        .unwrap_or_else(|| "1.2.840.10008.5.1.4.1.1.2".into());
    let mut instances: Vec<(String, String)> = source
        .slice_sop_instance_uids
        .iter()
        .map(|u| (class.clone(), u.clone()))
        .collect();
    // Frames of one multi-frame object repeat its UID, consecutively.
    instances.dedup();
    instances
}

/// Evidence: the instances the report's content refers to, grouped by series.
fn evidence(study: &str, series: Vec<(String, Vec<(String, String)>)>) -> InMemDicomObject {
    let mut study_item = InMemDicomObject::new_empty();
    study_item.put(text(tags::STUDY_INSTANCE_UID, VR::UI, study));
    let series_items = series
        .into_iter()
        .map(|(uid, instances)| {
            let mut s = InMemDicomObject::new_empty();
            s.put(text(tags::SERIES_INSTANCE_UID, VR::UI, uid));
            s.put(sequence(
                tags::REFERENCED_SOP_SEQUENCE,
                instances
                    .into_iter()
                    .map(|(class, instance)| {
                        let mut i = InMemDicomObject::new_empty();
                        i.put(text(tags::REFERENCED_SOP_CLASS_UID, VR::UI, class));
                        i.put(text(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, instance));
                        i
                    })
                    .collect(),
            ));
            s
        })
        .collect();
    study_item.put(sequence(tags::REFERENCED_SERIES_SEQUENCE, series_items));
    study_item
}

/// The root container of TID 1500 with its document-level context.
fn report_root(
    obj: &mut InMemDicomObject,
    options: &SrOptions,
    modality: Option<&str>,
    mut body: Vec<InMemDicomObject>,
) {
    let procedure = match modality.map(str::to_ascii_uppercase).as_deref() {
        Some("CT") => code("77477000", "SCT", "Computed Tomography"),
        Some("MR") => code("113091000", "SCT", "Magnetic Resonance Imaging"),
        Some("PT") => code("82918005", "SCT", "PET"),
        _ => code("363679005", "SCT", "Imaging"),
    };
    let mut content = vec![
        code_value(
            "HAS CONCEPT MOD",
            &code("121049", "DCM", "Language of Content Item and Descendants"),
            &code("en-US", "RFC5646", "English (United States)"),
        ),
        code_value(
            "HAS OBS CONTEXT",
            &code("121005", "DCM", "Observer Type"),
            &code("121007", "DCM", "Device"),
        ),
        uid_value(
            "HAS OBS CONTEXT",
            &code("121012", "DCM", "Device Observer UID"),
            &new_uid(),
        ),
        text_value(
            "HAS OBS CONTEXT",
            &code("121013", "DCM", "Device Observer Name"),
            &format!("{} {}", options.observer_name, options.version),
        ),
        code_value(
            "HAS CONCEPT MOD",
            &code("121058", "DCM", "Procedure reported"),
            &procedure,
        ),
    ];
    content.append(&mut body);
    let concept = code("126000", "DCM", "Imaging Measurement Report");
    obj.put(text(tags::VALUE_TYPE, VR::CS, "CONTAINER"));
    obj.put(sequence(
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code_item(&concept)],
    ));
    obj.put(text(tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE"));
    let mut template = InMemDicomObject::new_empty();
    template.put(text(tags::MAPPING_RESOURCE, VR::CS, "DCMR"));
    template.put(text(tags::TEMPLATE_IDENTIFIER, VR::CS, "1500"));
    obj.put(sequence(tags::CONTENT_TEMPLATE_SEQUENCE, vec![template]));
    obj.put(sequence(tags::CONTENT_SEQUENCE, content));
}

fn part10(obj: InMemDicomObject, sop_instance_uid: &str) -> Result<Vec<u8>, DicomError> {
    let meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(COMPREHENSIVE_SR_STORAGE)
        .media_storage_sop_instance_uid(sop_instance_uid)
        .transfer_syntax(EXPLICIT_VR_LE)
        .implementation_class_uid("1.2.826.0.1.3680043.10.1492.1")
        .implementation_version_name("VOXIDE_0_1")
        .build()
        .map_err(|e| sr_error(e.to_string()))?;
    let mut bytes = Vec::new();
    obj.with_exact_meta(meta)
        .write_all(&mut bytes)
        .map_err(|e| sr_error(format!("encoding failed: {e}")))?;
    Ok(bytes)
}

/// A TID 1500 report of the segments of `seg` (written by [`crate::encode_segmentation`] for
/// `source`): one measurement group per entry of `segments`.
pub fn encode_segmentation_report(
    source: &DicomVolume,
    seg: &WrittenSeg,
    segments: &[SegmentReport],
    options: &SrOptions,
) -> Result<WrittenSr, DicomError> {
    if segments.is_empty() {
        return Err(sr_error("no segment to report"));
    }
    let (mut obj, sop_instance_uid, series_instance_uid) = header(source, options)?;
    let series = &source.series;
    let groups = segments
        .iter()
        .map(|s| {
            let mut children = vec![
                text_value(
                    "HAS OBS CONTEXT",
                    &code("112039", "DCM", "Tracking Identifier"),
                    &s.name,
                ),
                uid_value(
                    "HAS OBS CONTEXT",
                    &code("112040", "DCM", "Tracking Unique Identifier"),
                    &new_uid(),
                ),
                code_value("CONTAINS", &code("121071", "DCM", "Finding"), &s.finding),
            ];
            let mut image = item(
                "CONTAINS",
                "IMAGE",
                &code("121191", "DCM", "Referenced Segment"),
            );
            let mut reference = InMemDicomObject::new_empty();
            reference.put(text(
                tags::REFERENCED_SOP_CLASS_UID,
                VR::UI,
                SEGMENTATION_STORAGE,
            ));
            reference.put(text(
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                seg.sop_instance_uid.clone(),
            ));
            reference.put(DataElement::new(
                tags::REFERENCED_SEGMENT_NUMBER,
                VR::US,
                PrimitiveValue::from(s.segment_number),
            ));
            image.put(sequence(tags::REFERENCED_SOP_SEQUENCE, vec![reference]));
            children.push(image);
            children.push(uid_value(
                "CONTAINS",
                &code("121232", "DCM", "Source series for segmentation"),
                &series.series_instance_uid,
            ));
            for m in &s.measurements {
                children.push(num_value(&m.concept, m.value, &m.unit));
            }
            container(
                "CONTAINS",
                &code("125007", "DCM", "Measurement Group"),
                children,
            )
        })
        .collect();
    let measurements = container(
        "CONTAINS",
        &code("126010", "DCM", "Imaging Measurements"),
        groups,
    );
    report_root(
        &mut obj,
        options,
        series.modality.as_deref(),
        vec![measurements],
    );
    let study = crate::str_of(&obj, tags::STUDY_INSTANCE_UID).unwrap_or_default();
    let source_instances = source_instances(source);
    obj.put(sequence(
        tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
        vec![evidence(
            &study,
            vec![
                (series.series_instance_uid.clone(), source_instances),
                (
                    seg.series_instance_uid.clone(),
                    vec![(
                        SEGMENTATION_STORAGE.to_string(),
                        seg.sop_instance_uid.clone(),
                    )],
                ),
            ],
        )],
    ));
    let bytes = part10(obj, &sop_instance_uid)?;
    Ok(WrittenSr {
        bytes,
        sop_instance_uid,
        series_instance_uid,
    })
}

/// A TID 1500 report of a classification of `source`: one measurement group holding each
/// class's probability (a NUM with unit "1") and, for the predicted class, a finding.
pub fn encode_classification_report(
    source: &DicomVolume,
    classes: &[ClassProbability],
    predicted: Option<usize>,
    options: &SrOptions,
) -> Result<WrittenSr, DicomError> {
    if classes.is_empty() {
        return Err(sr_error("no class to report"));
    }
    let (mut obj, sop_instance_uid, series_instance_uid) = header(source, options)?;
    let series = &source.series;
    let mut children = vec![
        text_value(
            "HAS OBS CONTEXT",
            &code("112039", "DCM", "Tracking Identifier"),
            &format!("{} classification", options.observer_name),
        ),
        uid_value(
            "HAS OBS CONTEXT",
            &code("112040", "DCM", "Tracking Unique Identifier"),
            &new_uid(),
        ),
    ];
    if let Some(c) = predicted.and_then(|p| classes.get(p)) {
        children.push(code_value(
            "CONTAINS",
            &code("121071", "DCM", "Finding"),
            &c.finding,
        ));
    }
    for c in classes {
        // Each class's probability: a NUM named by the class's finding, unit "1" (no units).
        children.push(num_value(
            &c.finding,
            c.probability,
            &code("1", "UCUM", "no units"),
        ));
    }
    let group = container(
        "CONTAINS",
        &code("125007", "DCM", "Measurement Group"),
        children,
    );
    let measurements = container(
        "CONTAINS",
        &code("126010", "DCM", "Imaging Measurements"),
        vec![group],
    );
    report_root(
        &mut obj,
        options,
        series.modality.as_deref(),
        vec![measurements],
    );
    let study = crate::str_of(&obj, tags::STUDY_INSTANCE_UID).unwrap_or_default();
    let source_instances = source_instances(source);
    obj.put(sequence(
        tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
        vec![evidence(
            &study,
            vec![(series.series_instance_uid.clone(), source_instances)],
        )],
    ));
    let bytes = part10(obj, &sop_instance_uid)?;
    Ok(WrittenSr {
        bytes,
        sop_instance_uid,
        series_instance_uid,
    })
}
