//! # voxide-ai
//!
//! One AI model run, from an image or an assembled DICOM series in memory to everything a run
//! produces: the label map and probabilities ([`voxide_infer`]), per-label volumes, a DICOM SEG
//! and a TID 1500 measurement report for DICOM inputs ([`voxide_dicom`]), class probabilities
//! for classification models, and a JSON summary of it all.
//!
//! The command line (`voxide infer`) and the server's model-run jobs are thin shells over
//! [`run`]: they read the input, call it, and write the results to files or back into the
//! store. The checks that decide whether a model may run on a series ([`check_series`]) and
//! whether an arrival rule fires ([`SeriesFilter`]) live here too, so both shells refuse the
//! same things with the same words.
//!
//! No IO: inputs and outputs are values in memory.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use voxide_core::Image;
use voxide_dicom::{Code, DicomVolume, WrittenSeg, WrittenSr};
use voxide_infer::manifest::{glob_match, Manifest, Task};
use voxide_infer::Model;

/// Errors of a run; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum AiError {
    /// The model or its inference failed (bad package, input too small, ...).
    #[error(transparent)]
    Infer(#[from] voxide_infer::InferError),
    /// Writing the DICOM results failed.
    #[error(transparent)]
    Dicom(#[from] voxide_dicom::DicomError),
    /// The model does not accept this input.
    #[error("{0}")]
    Refused(String),
}

/// What a series says about itself, for the checks before a run and for arrival rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesInfo {
    pub modality: Option<String>,
    pub body_part: Option<String>,
    pub series_description: Option<String>,
}

/// Which series an arrival rule (or a model's manifest) is for: every given field must match.
/// Modality is compared case-insensitively; body part and series description are
/// case-insensitive globs (`*`, `?`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_part: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_description: Option<String>,
}

impl SeriesFilter {
    /// The filter a model's manifest declares for its inputs.
    pub fn of_manifest(manifest: &Manifest) -> Self {
        Self {
            modality: manifest.input.modality.clone(),
            body_part: manifest.input.body_part.clone(),
            series_description: manifest.input.series_description.clone(),
        }
    }

    /// True when `series` matches every field this filter sets. A field the series lacks
    /// matches only a filter that does not ask for it.
    pub fn matches(&self, series: &SeriesInfo) -> bool {
        let field = |want: &Option<String>, got: &Option<String>, glob: bool| match want {
            None => true,
            Some(w) => got.as_deref().is_some_and(|g| {
                if glob {
                    glob_match(w, g.trim())
                } else {
                    w.eq_ignore_ascii_case(g.trim())
                }
            }),
        };
        field(&self.modality, &series.modality, false)
            && field(&self.body_part, &series.body_part, true)
            && field(&self.series_description, &series.series_description, true)
    }
}

/// Refuses a series the model is not for: its modality must be the manifest's (when the
/// manifest names one), and detection models cannot run yet.
pub fn check_series(manifest: &Manifest, series: &SeriesInfo) -> Result<(), AiError> {
    if manifest.task == Task::Detection {
        return Err(AiError::Refused(format!(
            "model {} is a detection model; voxide runs segmentation and classification models only so far",
            manifest.name
        )));
    }
    if let Some(want) = &manifest.input.modality {
        match series.modality.as_deref().map(str::trim) {
            Some(got) if got.eq_ignore_ascii_case(want) => {}
            got => {
                return Err(AiError::Refused(format!(
                    "model {} is for {want} images; this series is {}",
                    manifest.name,
                    got.filter(|g| !g.is_empty())
                        .unwrap_or("of no stated modality")
                )))
            }
        }
    }
    Ok(())
}

/// The input of a run.
#[derive(Debug)]
pub enum RunInput {
    /// An image file's volume (no DICOM results can be written for it).
    Image(Image<f32>),
    /// An assembled DICOM series: the SEG and SR reference it.
    Dicom {
        volume: Box<DicomVolume>,
        /// The series' voxels as `f32` (the model's input).
        image: Image<f32>,
    },
}

impl RunInput {
    /// A DICOM series as input.
    pub fn dicom(volume: DicomVolume) -> Self {
        let image = volume.image.cast::<f32>();
        Self::Dicom {
            volume: Box::new(volume),
            image,
        }
    }

    fn image(&self) -> &Image<f32> {
        match self {
            Self::Image(image) | Self::Dicom { image, .. } => image,
        }
    }

    fn volume(&self) -> Option<&DicomVolume> {
        match self {
            Self::Image(_) => None,
            Self::Dicom { volume, .. } => Some(volume),
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct RunResult {
    /// `model`, `task`, `segments` (label, name, voxels, volume_mm3) or `classification`
    /// (predicted, classes), `patches`, `dicom_seg`/`dicom_sr` (UIDs, frames), `notes`,
    /// `seconds.inference`: what `run.json` and a job's result hold.
    pub summary: Value,
    /// The label map on the input grid (segmentation).
    pub labels: Option<Image<u8>>,
    /// Per output channel, its probability on the input grid (segmentation).
    pub probabilities: Vec<Image<f32>>,
    /// The DICOM SEG (DICOM segmentation input with at least one labelled voxel).
    pub seg: Option<WrittenSeg>,
    /// The TID 1500 report (DICOM input).
    pub sr: Option<WrittenSr>,
    /// One line for a person: what was found.
    pub message: String,
}

/// Runs `model` on `input`: checks it (channels, grid, size, and for DICOM the series filter
/// of [`check_series`]), infers, and builds the results. `progress(done, total)` counts
/// network batches; returning `Break` from it cancels the run
/// (`AiError::Infer(InferError::Canceled)`).
pub fn run(
    model: &Model,
    input: &RunInput,
    progress: &mut dyn FnMut(usize, usize) -> std::ops::ControlFlow<()>,
) -> Result<RunResult, AiError> {
    let manifest = model.manifest();
    if let Some(volume) = input.volume() {
        check_series(manifest, &series_info(volume))?;
    } else if manifest.task == Task::Detection {
        check_series(manifest, &SeriesInfo::default())?;
    }
    let image = input.image();
    model.check_input(&[image])?;
    let started = std::time::Instant::now();
    let mut summary = json!({
        "model": {
            "name": manifest.name,
            "version": manifest.version,
            "weights_sha256": manifest.weights_sha256,
            "task": format!("{:?}", manifest.task).to_lowercase(),
        },
    });
    match manifest.task {
        Task::Segmentation => {
            let seg = model.segment(&[image], progress)?;
            let inference_s = started.elapsed().as_secs_f64();
            let spacing = seg.labels.geometry().spacing();
            let voxel_mm3 = spacing[0] * spacing[1] * spacing[2];
            let mut counts = BTreeMap::<u8, u64>::new();
            for &v in seg.labels.data() {
                if v != 0 {
                    *counts.entry(v).or_default() += 1;
                }
            }
            summary["segments"] = json!(counts
                .iter()
                .map(|(&v, &n)| json!({
                    "label": v,
                    "name": manifest.label(v).map(|l| l.name.clone()),
                    "voxels": n,
                    "volume_mm3": n as f64 * voxel_mm3,
                }))
                .collect::<Vec<_>>());
            summary["patches"] = json!(seg.patches);
            let (mut written_seg, mut written_sr) = (None, None);
            if let Some(volume) = input.volume() {
                if counts.is_empty() {
                    summary["dicom_seg"] = Value::Null;
                    summary["notes"] = json!(["the label map is empty: no DICOM SEG written"]);
                } else {
                    let s = encode_seg(volume, &seg.labels, manifest, &counts)?;
                    summary["dicom_seg"] = json!({
                        "sop_instance_uid": s.sop_instance_uid,
                        "series_instance_uid": s.series_instance_uid,
                        "frames": s.frames,
                    });
                    let r = encode_segmentation_sr(volume, image, &seg.labels, manifest, &s)?;
                    summary["dicom_sr"] = json!({
                        "sop_instance_uid": r.sop_instance_uid,
                        "series_instance_uid": r.series_instance_uid,
                    });
                    written_seg = Some(s);
                    written_sr = Some(r);
                }
            }
            summary["seconds"] = json!({ "inference": inference_s });
            let found = if counts.is_empty() {
                "no voxel labelled".to_string()
            } else {
                counts
                    .iter()
                    .map(|(v, n)| {
                        format!(
                            "label {v} ({}) {:.1} mL",
                            manifest.label(*v).map_or("unnamed", |l| l.name.as_str()),
                            *n as f64 * voxel_mm3 / 1000.0
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            Ok(RunResult {
                message: format!("{}: {} patch(es); {found}", manifest.name, seg.patches),
                summary,
                labels: Some(seg.labels),
                probabilities: seg.probabilities,
                seg: written_seg,
                sr: written_sr,
            })
        }
        Task::Classification => {
            let c = model.classify(&[image])?;
            let inference_s = started.elapsed().as_secs_f64();
            let classes: Vec<_> = c
                .probabilities
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    json!({
                        "class": i,
                        "name": manifest.label(i.min(255) as u8).map(|l| l.name.clone()),
                        "probability": p,
                    })
                })
                .collect();
            summary["classification"] = json!({ "predicted": c.predicted, "classes": classes });
            summary["seconds"] = json!({ "inference": inference_s });
            let mut written_sr = None;
            if let Some(volume) = input.volume() {
                let classes: Vec<voxide_dicom::ClassProbability> = c
                    .probabilities
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| voxide_dicom::ClassProbability {
                        finding: class_code(manifest, i),
                        probability: p,
                    })
                    .collect();
                let sr = voxide_dicom::encode_classification_report(
                    volume,
                    &classes,
                    c.predicted,
                    &sr_options(manifest),
                )?;
                summary["dicom_sr"] = json!({
                    "sop_instance_uid": sr.sop_instance_uid,
                    "series_instance_uid": sr.series_instance_uid,
                });
                written_sr = Some(sr);
            }
            let predicted = c
                .predicted
                .map(|i| {
                    manifest
                        .label(i.min(255) as u8)
                        .map_or(format!("class {i}"), |l| l.name.clone())
                })
                .unwrap_or_else(|| "no finding".into());
            Ok(RunResult {
                message: format!("{}: predicted {predicted}", manifest.name),
                summary,
                labels: None,
                probabilities: Vec::new(),
                seg: None,
                sr: written_sr,
            })
        }
        Task::Detection => unreachable!("refused by check_series above"),
    }
}

/// What an assembled series says about itself.
pub fn series_info(volume: &DicomVolume) -> SeriesInfo {
    SeriesInfo {
        modality: volume.series.modality.clone(),
        body_part: None,
        series_description: volume.series.series_description.clone(),
    }
}

fn code(value: &str, scheme: &str, meaning: &str) -> Code {
    Code {
        value: value.into(),
        scheme: scheme.into(),
        meaning: meaning.into(),
    }
}

fn manifest_code(c: &voxide_infer::manifest::Code) -> Code {
    code(&c.code, &c.scheme, &c.meaning)
}

/// The SEG of a label map: one segment per label present, coded from the manifest's labels.
fn encode_seg(
    volume: &DicomVolume,
    labels: &Image<u8>,
    manifest: &Manifest,
    counts: &BTreeMap<u8, u64>,
) -> Result<WrittenSeg, AiError> {
    // Without codes in the manifest: "Tissue" (SCT 85756007), the generic concept.
    let tissue = || code("85756007", "SCT", "Tissue");
    let segments: Vec<voxide_dicom::SegmentDescription> = counts
        .keys()
        .map(|&v| {
            let spec = manifest.label(v);
            voxide_dicom::SegmentDescription {
                label: v,
                name: spec.map_or_else(|| format!("label {v}"), |l| l.name.clone()),
                category: spec
                    .and_then(|l| l.category.as_ref())
                    .map_or_else(tissue, manifest_code),
                property: spec
                    .and_then(|l| l.property.as_ref())
                    .map_or_else(tissue, manifest_code),
            }
        })
        .collect();
    let options = voxide_dicom::SegOptions {
        algorithm_name: manifest.name.clone(),
        algorithm_version: manifest.version.clone(),
        series_description: format!("{} {}", manifest.name, manifest.version),
        ..Default::default()
    };
    Ok(voxide_dicom::encode_segmentation(
        volume, labels, &segments, &options,
    )?)
}

fn sr_options(manifest: &Manifest) -> voxide_dicom::SrOptions {
    voxide_dicom::SrOptions {
        observer_name: manifest.name.clone(),
        version: manifest.version.clone(),
        series_description: format!("{} {} measurements", manifest.name, manifest.version),
        ..Default::default()
    }
}

/// The coded finding of class `i`: the manifest's property code, or a code of voxide's private
/// scheme (`99VOXIDE`, PS3.16 8.2: "99" designators are private) named after the class.
fn class_code(manifest: &Manifest, i: usize) -> Code {
    let spec = u8::try_from(i).ok().and_then(|v| manifest.label(v));
    match spec.and_then(|l| l.property.as_ref()) {
        Some(c) => manifest_code(c),
        None => Code {
            value: format!("class-{i}"),
            scheme: "99VOXIDE".into(),
            meaning: spec.map_or_else(|| format!("class {i}"), |l| l.name.clone()),
        },
    }
}

/// TID 1500 report of the segmentation: per segment its volume and the input's intensity
/// statistics inside it (HU for CT).
fn encode_segmentation_sr(
    volume: &DicomVolume,
    image: &Image<f32>,
    labels: &Image<u8>,
    manifest: &Manifest,
    seg: &WrittenSeg,
) -> Result<WrittenSr, AiError> {
    let spacing = labels.geometry().spacing();
    let voxel_mm3 = spacing[0] * spacing[1] * spacing[2];
    let intensity_unit = match volume.series.modality.as_deref() {
        Some("CT") => code("[hnsf'U]", "UCUM", "Hounsfield unit"),
        _ => code("1", "UCUM", "no units"),
    };
    /// Count, sum, sum of squares, minimum, maximum.
    type Stats = (u64, f64, f64, f64, f64);
    let mut stats: BTreeMap<u8, Stats> = BTreeMap::new();
    for (&l, &v) in labels.data().iter().zip(image.data().iter()) {
        if l == 0 {
            continue;
        }
        let v = f64::from(v);
        let e = stats
            .entry(l)
            .or_insert((0, 0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY));
        e.0 += 1;
        e.1 += v;
        e.2 += v * v;
        e.3 = e.3.min(v);
        e.4 = e.4.max(v);
    }
    let segments: Vec<voxide_dicom::SegmentReport> = stats
        .iter()
        .map(|(&l, &(n, sum, sum_sq, min, max))| {
            let n_f = n as f64;
            let mean = sum / n_f;
            let var = (sum_sq / n_f - mean * mean).max(0.0);
            let spec = manifest.label(l);
            let measure = |concept: Code, value: f64, unit: &Code| voxide_dicom::Measurement {
                concept,
                value,
                unit: unit.clone(),
            };
            voxide_dicom::SegmentReport {
                segment_number: u16::from(l),
                name: spec.map_or_else(|| format!("label {l}"), |s| s.name.clone()),
                finding: spec
                    .and_then(|s| s.property.as_ref())
                    .map_or_else(|| code("85756007", "SCT", "Tissue"), manifest_code),
                measurements: vec![
                    measure(
                        code("118565006", "SCT", "Volume"),
                        n_f * voxel_mm3,
                        &code("mm3", "UCUM", "cubic millimeter"),
                    ),
                    measure(code("373098007", "SCT", "Mean"), mean, &intensity_unit),
                    measure(
                        code("386136009", "SCT", "Standard Deviation"),
                        var.sqrt(),
                        &intensity_unit,
                    ),
                    measure(code("255605001", "SCT", "Minimum"), min, &intensity_unit),
                    measure(code("56851009", "SCT", "Maximum"), max, &intensity_unit),
                ],
            }
        })
        .collect();
    Ok(voxide_dicom::encode_segmentation_report(
        volume,
        seg,
        &segments,
        &sr_options(manifest),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(modality: &str, body: Option<&str>, desc: Option<&str>) -> SeriesInfo {
        SeriesInfo {
            modality: Some(modality.into()),
            body_part: body.map(Into::into),
            series_description: desc.map(Into::into),
        }
    }

    #[test]
    fn filters_match_every_field_they_set() {
        let any = SeriesFilter::default();
        assert!(any.matches(&SeriesInfo::default()));
        let f = SeriesFilter {
            modality: Some("ct".into()),
            body_part: Some("CHEST*".into()),
            series_description: Some("*lung*".into()),
        };
        assert!(f.matches(&info("CT", Some("chest"), Some("Thorax LUNG 1mm"))));
        assert!(!f.matches(&info("MR", Some("chest"), Some("lung"))));
        assert!(!f.matches(&info("CT", Some("abdomen"), Some("lung"))));
        assert!(
            !f.matches(&info("CT", None, Some("lung"))),
            "body part asked for, absent"
        );
        assert!(!f.matches(&info("CT", Some("CHEST"), Some("mediastinum"))));
    }
}
