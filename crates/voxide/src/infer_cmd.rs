//! `voxide infer` and `voxide model`: run model packages on images, manage the local registry.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::json;
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
    if !args.input.exists() {
        bail!("input {}: no such file or folder", args.input.display());
    }
    let input = if crate::is_image_file(&args.input) {
        let image = voxide_io::read_image(&args.input)
            .with_context(|| format!("reading {}", args.input.display()))?;
        voxide_ai::RunInput::Image(image.cast::<f32>())
    } else {
        let scan = crate::scan_with_progress(&args.input)?;
        let series = crate::pick_series(&args.input, scan, args.series.as_deref())?;
        let info = voxide_ai::SeriesInfo {
            modality: series.modality.clone(),
            body_part: None,
            series_description: series.series_description.clone(),
        };
        voxide_ai::check_series(model.manifest(), &info)?;
        let volume = crate::assemble_with_progress(&series, &Default::default())?;
        voxide_ai::RunInput::dicom(volume)
    };
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;

    let bar = crate::progress_bar("inferring");
    let result = voxide_ai::run(&model, &input, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        std::ops::ControlFlow::Continue(())
    });
    bar.finish_and_clear();
    let result = result?;
    let mut run = result.summary;
    run["input"] = json!(args.input.display().to_string());
    run["threads"] = json!(rayon::current_num_threads());
    let mut outputs = Vec::new();
    let ext = args.format.extension();
    if let Some(labels) = result.labels {
        let path = args.output.join(format!("labels.{ext}"));
        write_image(&path, labels.into())?;
        outputs.push(path.display().to_string());
    }
    if args.probabilities {
        for (c, p) in result.probabilities.into_iter().enumerate() {
            let path = args.output.join(format!("probabilities_{c}.{ext}"));
            write_image(&path, p.into())?;
            outputs.push(path.display().to_string());
        }
    }
    if run.get("classification").is_some() {
        let path = args.output.join("classification.json");
        crate::eval_cmd::write_file(&path, &serde_json::to_vec_pretty(&run["classification"])?)?;
        outputs.push(path.display().to_string());
    }
    if let Some(seg) = &result.seg {
        let path = args.output.join("seg.dcm");
        crate::eval_cmd::write_file(&path, &seg.bytes)?;
        run["dicom_seg"]["path"] = json!(path.display().to_string());
        outputs.push(path.display().to_string());
    }
    if let Some(sr) = &result.sr {
        let path = args.output.join("sr.dcm");
        crate::eval_cmd::write_file(&path, &sr.bytes)?;
        run["dicom_sr"]["path"] = json!(path.display().to_string());
        outputs.push(path.display().to_string());
    }
    eprintln!("{}", result.message);
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
