//! `voxide eval seg`: segmentation metrics of predicted masks against reference masks, for one
//! pair of files or two folders paired by file name, on all cores, with JSON and CSV results,
//! a per-label summary (mean with a bootstrap interval, median, quartiles) and an optional
//! HTML report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use voxide_core::{AnyImage, Geometry, Image};
use voxide_eval::summary::{summarize, Bootstrap, Summary};
use voxide_eval::{Convention, EmptyDistance, Metric, Options};

/// Conventions of the segmentation metrics, as the command line names them.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum ConventionArg {
    /// MetricsReloaded's definitions (the default).
    MetricsReloaded,
    /// MedPy 0.5 (`medpy.metric.binary`).
    Medpy,
    /// DeepMind's surface-distance.
    SurfaceDistance,
}

/// Arguments of `voxide eval seg`.
#[derive(clap::Args, Debug)]
pub struct SegArgs {
    /// Reference masks: a NIfTI/NRRD label image, a DICOM SEG or RTSTRUCT file, or a folder of
    /// them (paired with the predictions by file name, extensions aside).
    #[arg(long)]
    reference: PathBuf,
    /// Predicted masks: a file or a folder, like --reference.
    #[arg(long)]
    prediction: PathBuf,
    /// The grid to rasterise DICOM SEG and RTSTRUCT masks onto when neither side of a pair is a
    /// label image: a NIfTI/NRRD image or a DICOM series folder.
    #[arg(long)]
    grid: Option<PathBuf>,
    /// Labels to evaluate, comma-separated (default: every label present in either mask).
    #[arg(long, value_delimiter = ',')]
    labels: Vec<u8>,
    /// Whose metric definitions to follow.
    #[arg(long, value_enum, default_value = "metrics-reloaded")]
    convention: ConventionArg,
    /// Percentile of the robust Hausdorff distance (95: HD95).
    #[arg(long, default_value_t = 95.0)]
    percentile: f64,
    /// Tolerance (mm) of the normalised surface Dice.
    #[arg(long, default_value_t = 1.0)]
    nsd_tolerance: f64,
    /// Band width (mm) of the boundary IoU.
    #[arg(long, default_value_t = 1.0)]
    boundary_distance: f64,
    /// Surface distances when exactly one mask is empty (MetricsReloaded convention): `nan`
    /// (undefined, left out of means), `diagonal` (the image diagonal) or a value in mm.
    #[arg(long, default_value = "nan")]
    empty_distance: String,
    /// Resample each prediction onto its reference's grid (nearest neighbour) when the grids
    /// differ, instead of refusing the pair.
    #[arg(long)]
    resample_prediction: bool,
    /// Cases evaluated at once (default: all cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Output prefix: writes `<prefix>.json` (settings, every case, summary) and `<prefix>.csv`
    /// (one row per case and label).
    #[arg(short, long, default_value = "eval")]
    output: PathBuf,
    /// Also write an HTML report (summary table, box and strip plots per metric and label).
    #[arg(long)]
    report: Option<PathBuf>,
}

/// One reference/prediction pair.
#[derive(Debug, Clone)]
struct Pair {
    name: String,
    reference: Option<PathBuf>,
    prediction: Option<PathBuf>,
}

/// A pair's outcome: per-label metrics, or why there are none.
#[derive(Debug)]
pub struct CaseResult {
    pub name: String,
    pub reference: Option<PathBuf>,
    pub prediction: Option<PathBuf>,
    pub labels: Vec<(u8, Vec<(Metric, f64)>)>,
    pub error: Option<String>,
    pub resampled: bool,
}

/// The metrics the report plots (the others are in the tables).
pub const PLOTTED: [Metric; 4] = [
    Metric::Dice,
    Metric::HausdorffPercentile,
    Metric::Assd,
    Metric::Nsd,
];

pub fn seg(args: &SegArgs) -> Result<()> {
    let options = options(args)?;
    let pairs = pair_up(&args.reference, &args.prediction)?;
    let grid = match &args.grid {
        Some(p) => Some(
            crate::radiomics_cmd::read_volume(p)
                .with_context(|| format!("reading the grid {}", p.display()))?
                .geometry()
                .clone(),
        ),
        None => None,
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("cannot start the worker threads")?;
    let bar = crate::progress_bar("evaluating");
    bar.set_length(pairs.len() as u64);
    let results: Vec<CaseResult> = pool.install(|| {
        pairs
            .par_iter()
            .map(|pair| {
                let r = evaluate_pair(pair, args, grid.as_ref(), &options);
                bar.inc(1);
                if let Some(e) = &r.error {
                    bar.println(format!("failed: {}: {e}", r.name));
                }
                r
            })
            .collect()
    });
    bar.finish_and_clear();

    let summary = summarise(&results);
    let json = json_output(args, &options, &results, &summary);
    let json_path = suffixed(&args.output, ".json");
    write_file(&json_path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    let csv_path = suffixed(&args.output, ".csv");
    write_file(&csv_path, &csv_output(&results)?)?;
    if let Some(report) = &args.report {
        let html = crate::eval_report::html(args_summary(args).as_str(), &results, &summary);
        write_file(report, html.as_bytes())?;
    }

    let failed = results.iter().filter(|r| r.error.is_some()).count();
    println!(
        "{} case(s) evaluated, {failed} failed; wrote {} and {}",
        results.len() - failed,
        json_path.display(),
        csv_path.display()
    );
    for (label, per_metric) in &summary {
        let get = |m: Metric| per_metric.iter().find(|(x, _)| *x == m).map(|(_, s)| s);
        if let (Some(d), Some(h)) = (get(Metric::Dice), get(Metric::HausdorffPercentile)) {
            println!(
                "label {label}: Dice {:.4} [{:.4}, {:.4}] (n={}), HD{} {:.3} mm [{:.3}, {:.3}] (n={}, {} undefined)",
                d.mean, d.mean_ci.0, d.mean_ci.1, d.n, args.percentile, h.mean, h.mean_ci.0, h.mean_ci.1, h.n, h.undefined
            );
        }
    }
    if failed > 0 && failed == results.len() {
        bail!("every case failed; see the errors above");
    }
    Ok(())
}

fn options(args: &SegArgs) -> Result<Options> {
    let empty_distance = match args.empty_distance.to_ascii_lowercase().as_str() {
        "nan" => EmptyDistance::Nan,
        "diagonal" => EmptyDistance::ImageDiagonal,
        mm => EmptyDistance::Fixed(mm.parse().map_err(|_| {
            anyhow::anyhow!(
                "--empty-distance {mm}: use nan, diagonal or a distance in mm such as 100"
            )
        })?),
    };
    let options = Options {
        convention: match args.convention {
            ConventionArg::MetricsReloaded => Convention::MetricsReloaded,
            ConventionArg::Medpy => Convention::MedPy,
            ConventionArg::SurfaceDistance => Convention::SurfaceDistance,
        },
        hausdorff_percentile: args.percentile,
        nsd_tolerance_mm: args.nsd_tolerance,
        boundary_iou_distance_mm: args.boundary_distance,
        empty_distance,
    };
    options.validate()?;
    Ok(options)
}

/// The name a mask file is paired by: its path below the folder, without the image extension.
fn case_key(relative: &Path) -> String {
    let s = relative.to_string_lossy().replace('\\', "/");
    let lower = s.to_ascii_lowercase();
    for ext in [".nii.gz", ".nii", ".nrrd", ".nhdr", ".dcm"] {
        if lower.ends_with(ext) {
            return s[..s.len() - ext.len()].to_string();
        }
    }
    s
}

fn mask_files(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let key = case_key(relative);
        if let Some(previous) = out.insert(key.clone(), entry.path().to_path_buf()) {
            bail!(
                "{} and {} both pair as case {key}; keep one mask per case name",
                previous.display(),
                entry.path().display()
            );
        }
    }
    Ok(out)
}

fn pair_up(reference: &Path, prediction: &Path) -> Result<Vec<Pair>> {
    for (p, what) in [(reference, "--reference"), (prediction, "--prediction")] {
        if !p.exists() {
            bail!("{what} {}: no such file or folder", p.display());
        }
    }
    match (reference.is_dir(), prediction.is_dir()) {
        (false, false) => Ok(vec![Pair {
            name: case_key(Path::new(
                reference.file_name().unwrap_or(reference.as_os_str()),
            )),
            reference: Some(reference.to_path_buf()),
            prediction: Some(prediction.to_path_buf()),
        }]),
        (true, true) => {
            let refs = mask_files(reference)?;
            let mut preds = mask_files(prediction)?;
            if refs.is_empty() {
                bail!(
                    "--reference {}: the folder holds no files",
                    reference.display()
                );
            }
            let mut pairs: Vec<Pair> = refs
                .into_iter()
                .map(|(name, r)| Pair {
                    prediction: preds.remove(&name),
                    reference: Some(r),
                    name,
                })
                .collect();
            // Predictions without a reference are listed too: they are not silently ignored.
            pairs.extend(preds.into_iter().map(|(name, p)| Pair {
                name,
                reference: None,
                prediction: Some(p),
            }));
            Ok(pairs)
        }
        _ => bail!(
            "--reference and --prediction must both be files or both be folders ({} and {})",
            reference.display(),
            prediction.display()
        ),
    }
}

fn evaluate_pair(
    pair: &Pair,
    args: &SegArgs,
    grid: Option<&Geometry>,
    options: &Options,
) -> CaseResult {
    let mut result = CaseResult {
        name: pair.name.clone(),
        reference: pair.reference.clone(),
        prediction: pair.prediction.clone(),
        labels: Vec::new(),
        error: None,
        resampled: false,
    };
    match try_evaluate(pair, args, grid, options) {
        Ok((labels, resampled)) => {
            result.labels = labels;
            result.resampled = resampled;
        }
        Err(e) => result.error = Some(format!("{e:#}")),
    }
    result
}

type LabelRows = Vec<(u8, Vec<(Metric, f64)>)>;

fn try_evaluate(
    pair: &Pair,
    args: &SegArgs,
    grid: Option<&Geometry>,
    options: &Options,
) -> Result<(LabelRows, bool)> {
    let (Some(ref_path), Some(pred_path)) = (&pair.reference, &pair.prediction) else {
        if pair.reference.is_none() {
            bail!(
                "no reference mask named {} (the prediction has no partner)",
                pair.name
            );
        }
        bail!("no prediction named {} in --prediction", pair.name);
    };
    // Label images carry their own grid; SEG and RTSTRUCT go onto the other side's (or --grid).
    let (reference, prediction) = if crate::is_image_file(ref_path) {
        let r = load_mask(ref_path, grid).context("reading the reference")?;
        let g = r.geometry().clone();
        let p = load_mask(pred_path, Some(grid.unwrap_or(&g))).context("reading the prediction")?;
        (r, p)
    } else {
        let p = load_mask(pred_path, grid).context("reading the prediction")?;
        let g = p.geometry().clone();
        let r = load_mask(ref_path, Some(grid.unwrap_or(&g))).context("reading the reference")?;
        (r, p)
    };
    let mut prediction = prediction;
    let mut resampled = false;
    if let Err(e) = voxide_eval::check_grids(reference.geometry(), prediction.geometry()) {
        if !args.resample_prediction {
            bail!("{e}; or pass --resample-prediction");
        }
        prediction = voxide_core::resample(
            &prediction,
            reference.geometry(),
            voxide_core::Interpolation::Nearest,
            0.0,
        );
        resampled = true;
    }
    let labels = if args.labels.is_empty() {
        let present = voxide_eval::labels_present(&reference, &prediction);
        // Two empty masks still make a case (a correct "nothing there"): evaluate label 1.
        if present.is_empty() {
            vec![1]
        } else {
            present
        }
    } else {
        args.labels.clone()
    };
    let report = voxide_eval::evaluate_labels(&reference, &prediction, &labels, options)?;
    Ok((
        report
            .labels
            .into_iter()
            .map(|l| (l.label, l.metrics.iter().collect()))
            .collect(),
        resampled,
    ))
}

/// A mask as a label image: NIfTI/NRRD as they are (integral labels 0–255), DICOM SEG with each
/// segment's number as its label, RTSTRUCT with the n-th ROI as label n.
fn load_mask(path: &Path, grid: Option<&Geometry>) -> Result<Image<u8>> {
    if crate::is_image_file(path) {
        let image = voxide_io::read_image(path)?;
        return label_image(image).with_context(|| path.display().to_string());
    }
    if !path.is_file() {
        bail!("{}: not a file", path.display());
    }
    let Some(grid) = grid else {
        bail!(
            "{}: a DICOM SEG or RTSTRUCT needs a grid; pair it with a label image or pass --grid",
            path.display()
        );
    };
    let mut labels = Image::<u8>::filled(grid.clone(), 0);
    if crate::is_rtstruct(path) {
        let set = voxide_dicom::read_rtstruct(path)?;
        if set.rois.len() > 255 {
            bail!("{}: more than 255 ROIs", path.display());
        }
        for (i, roi) in set.rois.iter().enumerate() {
            let raster = voxide_dicom::rasterise(roi, grid)?;
            paint(&mut labels, raster.mask.labels(), i as u8 + 1);
        }
        return Ok(labels);
    }
    if crate::radiomics_cmd::is_seg(path) {
        let seg = voxide_dicom::read_seg(path)?;
        for segment in &seg.segments {
            let Ok(label) = u8::try_from(segment.number) else {
                bail!(
                    "{}: segment number {} above 255",
                    path.display(),
                    segment.number
                );
            };
            let raster = voxide_dicom::rasterise_segment(&seg, segment.number, grid)?;
            paint(&mut labels, raster.mask.labels(), label);
        }
        return Ok(labels);
    }
    bail!(
        "{}: not a NIfTI/NRRD label image, a DICOM SEG or a DICOM RTSTRUCT file",
        path.display()
    )
}

fn paint(labels: &mut Image<u8>, mask: &Image<u8>, label: u8) {
    labels.data_mut().zip_mut_with(mask.data(), |l, &m| {
        if m != 0 {
            *l = label;
        }
    });
}

fn label_image(image: AnyImage) -> Result<Image<u8>> {
    let (lo, hi) = image.min_max().unwrap_or((0.0, 0.0));
    if lo < 0.0 || hi > 255.0 {
        bail!("mask values range over [{lo}, {hi}]; labels must be 0..=255");
    }
    if image.voxel_type().is_float() {
        // Float masks (common in NIfTI) hold integral labels; round rather than truncate.
        let values: Vec<u8> = image
            .to_f64_vec()
            .into_iter()
            .map(|v| v.round() as u8)
            .collect();
        return Ok(Image::from_vec(image.geometry().clone(), values)?);
    }
    Ok(image.cast())
}

/// Per label, per metric: the summary over the cases that have the label.
pub type LabelSummary = Vec<(u8, Vec<(Metric, Summary)>)>;

fn summarise(results: &[CaseResult]) -> LabelSummary {
    let mut by_label: BTreeMap<u8, Vec<&Vec<(Metric, f64)>>> = BTreeMap::new();
    for r in results {
        for (label, metrics) in &r.labels {
            by_label.entry(*label).or_default().push(metrics);
        }
    }
    by_label
        .into_iter()
        .map(|(label, cases)| {
            let per_metric = Metric::ALL
                .iter()
                .map(|&m| {
                    let values: Vec<f64> = cases
                        .iter()
                        .map(|c| {
                            c.iter()
                                .find(|(x, _)| *x == m)
                                .map_or(f64::NAN, |(_, v)| *v)
                        })
                        .collect();
                    (m, summarize(&values, &Bootstrap::default()))
                })
                .collect();
            (label, per_metric)
        })
        .collect()
}

/// JSON has no NaN or infinity: NaN (undefined) is `null`, infinities are the strings `"inf"`
/// and `"-inf"`.
pub(crate) fn number(v: f64) -> serde_json::Value {
    if v.is_nan() {
        serde_json::Value::Null
    } else if v.is_infinite() {
        serde_json::Value::String(if v > 0.0 { "inf" } else { "-inf" }.into())
    } else {
        serde_json::json!(v)
    }
}

fn json_output(
    args: &SegArgs,
    options: &Options,
    results: &[CaseResult],
    summary: &LabelSummary,
) -> serde_json::Value {
    use serde_json::json;
    let cases: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            json!({
                "case": r.name,
                "reference": r.reference.as_ref().map(|p| p.display().to_string()),
                "prediction": r.prediction.as_ref().map(|p| p.display().to_string()),
                "resampled_prediction": r.resampled,
                "error": r.error,
                "labels": r.labels.iter().map(|(label, metrics)| json!({
                    "label": label,
                    "metrics": metrics.iter().map(|(m, v)| (m.name().to_string(), number(*v))).collect::<serde_json::Map<_, _>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let summary: Vec<serde_json::Value> = summary
        .iter()
        .map(|(label, per_metric)| {
            json!({
                "label": label,
                "metrics": per_metric.iter().map(|(m, s)| (m.name().to_string(), json!({
                    "n": s.n,
                    "undefined": s.undefined,
                    "mean": number(s.mean),
                    "mean_ci": [number(s.mean_ci.0), number(s.mean_ci.1)],
                    "ci_level": s.level,
                    "std": number(s.std),
                    "median": number(s.median),
                    "q1": number(s.q1),
                    "q3": number(s.q3),
                    "min": number(s.min),
                    "max": number(s.max),
                }))).collect::<serde_json::Map<_, _>>(),
            })
        })
        .collect();
    json!({
        "voxide": env!("CARGO_PKG_VERSION"),
        "settings": {
            "reference": args.reference.display().to_string(),
            "prediction": args.prediction.display().to_string(),
            "convention": format!("{:?}", options.convention),
            "hausdorff_percentile": options.hausdorff_percentile,
            "nsd_tolerance_mm": options.nsd_tolerance_mm,
            "boundary_iou_distance_mm": options.boundary_iou_distance_mm,
            "empty_distance": format!("{:?}", options.empty_distance),
            "resample_prediction": args.resample_prediction,
            "confidence_interval": "percentile bootstrap of the mean over cases, 2000 replicates, fixed seed",
        },
        "cases": cases,
        "summary": summary,
    })
}

fn csv_output(results: &[CaseResult]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["case".to_string(), "label".to_string()];
    header.extend(Metric::ALL.iter().map(|m| m.name().to_string()));
    header.push("error".into());
    w.write_record(&header)?;
    for r in results {
        if let Some(e) = &r.error {
            let mut row = vec![r.name.clone(), String::new()];
            row.extend(Metric::ALL.iter().map(|_| String::new()));
            row.push(e.clone());
            w.write_record(&row)?;
            continue;
        }
        for (label, metrics) in &r.labels {
            let mut row = vec![r.name.clone(), label.to_string()];
            row.extend(metrics.iter().map(|(_, v)| format_number(*v)));
            row.push(String::new());
            w.write_record(&row)?;
        }
    }
    Ok(w.into_inner()?)
}

fn format_number(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{v}")
    }
}

fn args_summary(args: &SegArgs) -> String {
    format!(
        "reference {}; prediction {}; convention {:?}; HD{}; NSD τ = {} mm; boundary IoU d = {} mm",
        args.reference.display(),
        args.prediction.display(),
        args.convention,
        args.percentile,
        args.nsd_tolerance,
        args.boundary_distance
    )
}

/// `prefix` with `suffix` appended to its last component (`out/eval` + `.json`).
pub(crate) fn suffixed(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes `data` to `path`, creating its folder.
pub(crate) fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, data).with_context(|| format!("cannot write {}", path.display()))
}
