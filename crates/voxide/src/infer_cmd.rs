//! `voxide infer` and `voxide model`: run model packages on images, manage the local registry.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;
use voxide_core::Image;
use voxide_infer::manifest::{Manifest, Task};
use voxide_infer::registry::Registry;
use voxide_infer::Model;

/// `voxide model ...`.
#[derive(clap::Subcommand, Debug)]
pub enum ModelCommand {
    /// Check a model package folder (manifest, weights SHA-256, operators, input shape) and
    /// add it to the registry under its manifest name.
    Add {
        /// The package folder: model.onnx and voxide-model.toml.
        package: PathBuf,
        /// Replace a registered model of the same name.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// List registered models.
    List {
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Show a registered model's manifest.
    Show {
        name: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Remove a registered model.
    Remove {
        name: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

/// Where the registry lives.
#[derive(clap::Args, Debug, Clone)]
pub struct RegistryArgs {
    /// The data folder; models are registered in its `models` folder.
    #[arg(long, default_value = "voxide-data")]
    pub data_dir: PathBuf,
}

impl RegistryArgs {
    fn registry(&self) -> Registry {
        Registry::new(self.data_dir.join("models"))
    }
}

/// `voxide infer` arguments.
#[derive(clap::Args, Debug)]
pub struct InferArgs {
    /// A registered model name, or a package folder.
    #[arg(long)]
    pub model: String,
    /// The input: a NIfTI/NRRD image or a DICOM series folder (or file).
    #[arg(long)]
    pub input: PathBuf,
    /// Series Instance UID, when the DICOM folder holds several series.
    #[arg(long)]
    pub series: Option<String>,
    /// Output folder: labels.nii.gz (or .nrrd), seg.dcm for DICOM inputs, run.json.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Also write the probability of every output channel (probabilities_<c>.nii.gz).
    #[arg(long)]
    pub probabilities: bool,
    /// Image format of the label map and probabilities.
    #[arg(long, value_enum, default_value = "nifti")]
    pub format: ImageFormat,
    /// Worker threads (default: all cores, or RAYON_NUM_THREADS).
    #[arg(long)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum ImageFormat {
    Nifti,
    Nrrd,
}

impl ImageFormat {
    fn extension(self) -> &'static str {
        match self {
            ImageFormat::Nifti => "nii.gz",
            ImageFormat::Nrrd => "nrrd",
        }
    }
}

pub fn model(cmd: &ModelCommand) -> Result<()> {
    match cmd {
        ModelCommand::Add {
            package,
            replace,
            registry,
        } => {
            let m = registry.registry().add(package, *replace)?;
            println!(
                "added {} {} ({:?}, patch {:?}) to {}",
                m.name,
                m.version,
                m.task,
                m.inference.patch_size,
                registry.registry().root().display()
            );
        }
        ModelCommand::List { registry } => {
            let all = registry.registry().list()?;
            if all.is_empty() {
                println!(
                    "no model registered in {}; add one with `voxide model add <folder>`",
                    registry.registry().root().display()
                );
            }
            for m in all {
                println!(
                    "{}\t{}\t{:?}\t{}\t{}",
                    m.name,
                    m.version,
                    m.task,
                    m.input.modality.as_deref().unwrap_or("any"),
                    m.description.as_deref().unwrap_or("")
                );
            }
        }
        ModelCommand::Show { name, registry } => {
            let dir = registry.registry().path(name)?;
            let text = std::fs::read_to_string(dir.join(voxide_infer::manifest::MANIFEST_FILE))?;
            println!("# {}", dir.display());
            print!("{text}");
        }
        ModelCommand::Remove { name, registry } => {
            registry.registry().remove(name)?;
            println!("removed {name}");
        }
    }
    Ok(())
}

fn load_model(spec: &str, registry: &RegistryArgs) -> Result<Model> {
    let as_dir = Path::new(spec);
    if as_dir.join(voxide_infer::manifest::MANIFEST_FILE).is_file() {
        return Ok(Model::load(as_dir)?);
    }
    Ok(registry.registry().load(spec)?)
}

pub fn infer(args: &InferArgs) -> Result<()> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .context("setting the thread count")?;
    }
    let started = Instant::now();
    // Everything is checked before the network runs: model package, input, its modality.
    let model = load_model(&args.model, &args.registry)?;
    let manifest = model.manifest().clone();
    if !args.input.exists() {
        bail!("input {}: no such file or folder", args.input.display());
    }
    let (image, dicom) = if crate::is_image_file(&args.input) {
        let image = voxide_io::read_image(&args.input)
            .with_context(|| format!("reading {}", args.input.display()))?;
        (image.cast::<f32>(), None)
    } else {
        let scan = crate::scan_with_progress(&args.input)?;
        let series = crate::pick_series(&args.input, scan, args.series.as_deref())?;
        check_modality(&manifest, series.modality.as_deref())?;
        let volume = crate::assemble_with_progress(&series, &Default::default())?;
        (volume.image.cast::<f32>(), Some(volume))
    };
    model.check_input(&[&image])?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;

    let inference_started = Instant::now();
    let mut outputs = Vec::new();
    let mut run = json!({
        "model": {
            "name": manifest.name,
            "version": manifest.version,
            "weights_sha256": manifest.weights_sha256,
            "task": format!("{:?}", manifest.task).to_lowercase(),
        },
        "input": args.input.display().to_string(),
        "threads": rayon::current_num_threads(),
    });
    match manifest.task {
        Task::Segmentation => {
            let bar = crate::progress_bar("inferring");
            let seg = model.segment(&[&image], &mut |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            })?;
            bar.finish_and_clear();
            let inference_s = inference_started.elapsed().as_secs_f64();
            let ext = args.format.extension();
            let labels_path = args.output.join(format!("labels.{ext}"));
            write_image(&labels_path, seg.labels.clone().into())?;
            outputs.push(labels_path.display().to_string());
            if args.probabilities {
                for (c, p) in seg.probabilities.iter().enumerate() {
                    let path = args.output.join(format!("probabilities_{c}.{ext}"));
                    write_image(&path, p.clone().into())?;
                    outputs.push(path.display().to_string());
                }
            }
            let spacing = seg.labels.geometry().spacing();
            let voxel_mm3 = spacing[0] * spacing[1] * spacing[2];
            let mut counts = std::collections::BTreeMap::<u8, u64>::new();
            for &v in seg.labels.data() {
                if v != 0 {
                    *counts.entry(v).or_default() += 1;
                }
            }
            let segments: Vec<_> = counts
                .iter()
                .map(|(&v, &n)| {
                    json!({
                        "label": v,
                        "name": manifest.label(v).map(|l| l.name.clone()),
                        "voxels": n,
                        "volume_mm3": n as f64 * voxel_mm3,
                    })
                })
                .collect();
            run["segments"] = json!(segments);
            run["patches"] = json!(seg.patches);
            if let Some(volume) = &dicom {
                if counts.is_empty() {
                    run["dicom_seg"] = json!(null);
                    run["notes"] = json!(["the label map is empty: no DICOM SEG written"]);
                } else {
                    let path = args.output.join("seg.dcm");
                    let written = write_seg(volume, &seg.labels, &manifest, &counts)?;
                    crate::eval_cmd::write_file(&path, &written.bytes)?;
                    outputs.push(path.display().to_string());
                    run["dicom_seg"] = json!({
                        "path": path.display().to_string(),
                        "sop_instance_uid": written.sop_instance_uid,
                        "series_instance_uid": written.series_instance_uid,
                        "frames": written.frames,
                    });
                    let sr =
                        write_segmentation_sr(volume, &image, &seg.labels, &manifest, &written)?;
                    let sr_path = args.output.join("sr.dcm");
                    crate::eval_cmd::write_file(&sr_path, &sr.bytes)?;
                    outputs.push(sr_path.display().to_string());
                    run["dicom_sr"] = json!({
                        "path": sr_path.display().to_string(),
                        "sop_instance_uid": sr.sop_instance_uid,
                        "series_instance_uid": sr.series_instance_uid,
                    });
                }
            }
            run["seconds"] = json!({"inference": inference_s});
            eprintln!(
                "{}: {} patch(es); {}",
                manifest.name,
                seg.patches,
                if counts.is_empty() {
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
                }
            );
        }
        Task::Classification => {
            let c = model.classify(&[&image])?;
            let inference_s = inference_started.elapsed().as_secs_f64();
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
            run["classification"] = json!({"predicted": c.predicted, "classes": classes});
            run["seconds"] = json!({"inference": inference_s});
            let path = args.output.join("classification.json");
            crate::eval_cmd::write_file(
                &path,
                &serde_json::to_vec_pretty(&run["classification"])?,
            )?;
            outputs.push(path.display().to_string());
            if let Some(volume) = &dicom {
                let classes: Vec<voxide_dicom::ClassProbability> = c
                    .probabilities
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| voxide_dicom::ClassProbability {
                        finding: class_code(&manifest, i),
                        probability: p,
                    })
                    .collect();
                let sr = voxide_dicom::encode_classification_report(
                    volume,
                    &classes,
                    c.predicted,
                    &sr_options(&manifest),
                )?;
                let sr_path = args.output.join("sr.dcm");
                crate::eval_cmd::write_file(&sr_path, &sr.bytes)?;
                outputs.push(sr_path.display().to_string());
                run["dicom_sr"] = json!({
                    "path": sr_path.display().to_string(),
                    "sop_instance_uid": sr.sop_instance_uid,
                });
            }
            eprintln!(
                "{}: predicted {}",
                manifest.name,
                c.predicted
                    .map(|i| manifest
                        .label(i.min(255) as u8)
                        .map_or(format!("class {i}"), |l| l.name.clone()))
                    .unwrap_or_else(|| "no finding".into())
            );
        }
        Task::Detection => bail!("detection models cannot be run yet"),
    }
    run["seconds"]["total"] = json!(started.elapsed().as_secs_f64());
    run["outputs"] = json!(outputs);
    let run_path = args.output.join("run.json");
    crate::eval_cmd::write_file(&run_path, &serde_json::to_vec_pretty(&run)?)?;
    eprintln!("wrote {}", args.output.display());
    Ok(())
}

fn write_image(path: &Path, image: voxide_core::AnyImage) -> Result<()> {
    voxide_io::write_image(path, &image).with_context(|| format!("writing {}", path.display()))
}

fn check_modality(manifest: &Manifest, modality: Option<&str>) -> Result<()> {
    if let Some(want) = &manifest.input.modality {
        match modality {
            Some(got) if got.eq_ignore_ascii_case(want) => {}
            got => bail!(
                "model {} is for {want} images; this series is {}",
                manifest.name,
                got.unwrap_or("of no stated modality")
            ),
        }
    }
    Ok(())
}

fn write_seg(
    volume: &voxide_dicom::DicomVolume,
    labels: &Image<u8>,
    manifest: &Manifest,
    counts: &std::collections::BTreeMap<u8, u64>,
) -> Result<voxide_dicom::WrittenSeg> {
    let fallback = |meaning: &str, code: &str| voxide_dicom::Code {
        value: code.into(),
        scheme: "SCT".into(),
        meaning: meaning.into(),
    };
    let segments: Vec<voxide_dicom::SegmentDescription> = counts
        .keys()
        .map(|&v| {
            let spec = manifest.label(v);
            let code = |c: Option<&voxide_infer::manifest::Code>, default: voxide_dicom::Code| {
                c.map_or(default, |c| voxide_dicom::Code {
                    value: c.code.clone(),
                    scheme: c.scheme.clone(),
                    meaning: c.meaning.clone(),
                })
            };
            voxide_dicom::SegmentDescription {
                label: v,
                name: spec.map_or_else(|| format!("label {v}"), |l| l.name.clone()),
                // Without codes in the manifest: "Tissue" (SCT 85756007), the generic concept.
                category: code(
                    spec.and_then(|l| l.category.as_ref()),
                    fallback("Tissue", "85756007"),
                ),
                property: code(
                    spec.and_then(|l| l.property.as_ref()),
                    fallback("Tissue", "85756007"),
                ),
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
fn class_code(manifest: &Manifest, i: usize) -> voxide_dicom::Code {
    let spec = u8::try_from(i).ok().and_then(|v| manifest.label(v));
    match spec.and_then(|l| l.property.as_ref()) {
        Some(c) => voxide_dicom::Code {
            value: c.code.clone(),
            scheme: c.scheme.clone(),
            meaning: c.meaning.clone(),
        },
        None => voxide_dicom::Code {
            value: format!("class-{i}"),
            scheme: "99VOXIDE".into(),
            meaning: spec.map_or_else(|| format!("class {i}"), |l| l.name.clone()),
        },
    }
}

/// TID 1500 report of the segmentation: per segment its volume and the input's intensity
/// statistics inside it (HU for CT).
fn write_segmentation_sr(
    volume: &voxide_dicom::DicomVolume,
    image: &Image<f32>,
    labels: &Image<u8>,
    manifest: &Manifest,
    seg: &voxide_dicom::WrittenSeg,
) -> Result<voxide_dicom::WrittenSr> {
    let code = |value: &str, scheme: &str, meaning: &str| voxide_dicom::Code {
        value: value.into(),
        scheme: scheme.into(),
        meaning: meaning.into(),
    };
    let spacing = labels.geometry().spacing();
    let voxel_mm3 = spacing[0] * spacing[1] * spacing[2];
    let intensity_unit = match volume.series.modality.as_deref() {
        Some("CT") => code("[hnsf'U]", "UCUM", "Hounsfield unit"),
        _ => code("1", "UCUM", "no units"),
    };
    type Stats = (u64, f64, f64, f64, f64);
    let mut stats: std::collections::BTreeMap<u8, Stats> = Default::default();
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
            let measure = |concept: voxide_dicom::Code, value: f64, unit: &voxide_dicom::Code| {
                voxide_dicom::Measurement {
                    concept,
                    value,
                    unit: unit.clone(),
                }
            };
            voxide_dicom::SegmentReport {
                segment_number: u16::from(l),
                name: spec.map_or_else(|| format!("label {l}"), |s| s.name.clone()),
                finding: spec.and_then(|s| s.property.as_ref()).map_or_else(
                    || code("85756007", "SCT", "Tissue"),
                    |c| code(&c.code, &c.scheme, &c.meaning),
                ),
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
