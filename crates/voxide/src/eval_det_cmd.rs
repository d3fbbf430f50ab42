//! `voxide eval det`: lesion detection against reference lesions from CSV tables (LUNA16's
//! `annotations.csv` / candidate-output layout or plain `scan,x,y,z`), matched by centre
//! distance: FROC curve, the competition performance metric (CPM) with a bootstrap interval
//! over scans, and per-scan counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::eval_cmd::{suffixed, write_file};
use serde_json::json;
use voxide_eval::classification::BootstrapOptions;
use voxide_eval::detection::{
    cpm_bootstrap, froc, match_points, Duplicates, MatchRadius, Outcome, PointDetection,
    ReferenceLesion, ScanMatches,
};

/// Arguments of `voxide eval det`.
#[derive(clap::Args, Debug)]
pub struct DetArgs {
    /// Reference lesions (CSV): scan id, centre x, y, z in mm, and a diameter in mm. Column
    /// names: LUNA16's `seriesuid,coordX,coordY,coordZ,diameter_mm` or `scan,x,y,z,diameter`.
    #[arg(long)]
    reference: PathBuf,
    /// Detections (CSV): scan id, position x, y, z in mm and a score; LUNA16's
    /// `seriesuid,coordX,coordY,coordZ,probability` or `scan,x,y,z,score`.
    #[arg(long)]
    detections: PathBuf,
    /// Every scan of the test set, one id per line (or a CSV whose first column is the id):
    /// scans without lesions or detections count in the false positives per scan. Default:
    /// the scans named in either table.
    #[arg(long)]
    scans: Option<PathBuf>,
    /// Match within this distance (mm) of a lesion's centre; default: within the lesion's
    /// radius (half its diameter), as LUNA16.
    #[arg(long)]
    radius: Option<f64>,
    /// Count a second detection of an already found lesion as a false positive (default: ignore
    /// it, as LUNA16).
    #[arg(long)]
    duplicates_are_false_positives: bool,
    /// Bootstrap replicates of the CPM interval (over scans).
    #[arg(long, default_value_t = 1000)]
    bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output prefix: `<prefix>.json` (CPM, sensitivities, per scan counts) and
    /// `<prefix>_froc.csv` (the FROC curve).
    #[arg(short, long, default_value = "eval_det")]
    output: PathBuf,
    /// Also write an HTML report with the FROC curve.
    #[arg(long)]
    report: Option<PathBuf>,
}

/// The columns of one table, found by any of their accepted names.
fn columns(header: &[String], path: &Path, wanted: &[&[&str]]) -> Result<Vec<usize>> {
    wanted
        .iter()
        .map(|names| {
            header
                .iter()
                .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
                .with_context(|| {
                    format!(
                        "{}: no column {} (columns: {})",
                        path.display(),
                        names.join(" or "),
                        header.join(", ")
                    )
                })
        })
        .collect()
}

type Rows = Vec<(String, [f64; 3], f64)>;

/// Rows of `(scan, [x, y, z], value)` where value is the diameter or the score.
fn read_points(path: &Path, value: &[&str]) -> Result<Rows> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let header: Vec<String> = reader
        .headers()
        .with_context(|| format!("{}: no header row", path.display()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let at = columns(
        &header,
        path,
        &[
            &["seriesuid", "scan"],
            &["coordX", "x"],
            &["coordY", "y"],
            &["coordZ", "z"],
            value,
        ],
    )?;
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let record = record.with_context(|| format!("{}: line {line}", path.display()))?;
        let field = |k: usize| record.get(at[k]).unwrap_or("").trim();
        let num = |k: usize| -> Result<f64> {
            field(k)
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .with_context(|| {
                    format!(
                        "{}: line {line}: {:?} in column {} is not a finite number",
                        path.display(),
                        field(k),
                        header[at[k]]
                    )
                })
        };
        rows.push((field(0).to_string(), [num(1)?, num(2)?, num(3)?], num(4)?));
    }
    Ok(rows)
}

pub fn det(args: &DetArgs) -> Result<()> {
    let lesions = read_points(&args.reference, &["diameter_mm", "diameter"])?;
    let detections = read_points(&args.detections, &["probability", "score"])?;
    let mut scans: BTreeSet<String> = match &args.scans {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read {}", p.display()))?
            .lines()
            .map(|l| l.split(',').next().unwrap_or("").trim().to_string())
            .filter(|s| !s.is_empty() && s != "seriesuid" && s != "scan")
            .collect(),
        None => lesions
            .iter()
            .chain(&detections)
            .map(|r| r.0.clone())
            .collect(),
    };
    if args.scans.is_some() {
        let unknown: BTreeSet<&String> = lesions
            .iter()
            .chain(&detections)
            .map(|r| &r.0)
            .filter(|s| !scans.contains(*s))
            .collect();
        if !unknown.is_empty() {
            bail!(
                "{} scan(s) of the tables are not in --scans, e.g. {}; list every scan of the test set",
                unknown.len(),
                unknown.iter().next().map_or("", |s| s.as_str())
            );
        }
    }
    if scans.is_empty() {
        bail!("no scans: both tables are empty and no --scans list was given");
    }
    scans.retain(|s| !s.is_empty());
    let radius = match args.radius {
        Some(r) => MatchRadius::Fixed(r),
        None => MatchRadius::LesionRadius,
    };
    let duplicates = if args.duplicates_are_false_positives {
        Duplicates::FalsePositive
    } else {
        Duplicates::Ignore
    };
    let mut per_scan: BTreeMap<&str, (Vec<ReferenceLesion>, Vec<PointDetection>)> = scans
        .iter()
        .map(|s| (s.as_str(), Default::default()))
        .collect();
    for (scan, centre, diameter) in &lesions {
        if let Some(e) = per_scan.get_mut(scan.as_str()) {
            e.0.push(ReferenceLesion {
                centre_mm: *centre,
                radius_mm: diameter / 2.0,
                ignore: false,
            });
        }
    }
    for (scan, position, score) in &detections {
        if let Some(e) = per_scan.get_mut(scan.as_str()) {
            e.1.push(PointDetection {
                position_mm: *position,
                score: *score,
            });
        }
    }
    let mut matches: Vec<ScanMatches> = Vec::new();
    let mut rows = Vec::new();
    for (scan, (refs, dets)) in &per_scan {
        let m =
            match_points(refs, dets, radius, duplicates).with_context(|| format!("scan {scan}"))?;
        let found = m
            .detections
            .iter()
            .filter(|d| matches!(d.outcome, Outcome::TruePositive { .. }))
            .count();
        let fps = m
            .detections
            .iter()
            .filter(|d| d.outcome == Outcome::FalsePositive)
            .count();
        rows.push(
            json!({"scan": scan, "lesions": refs.len(), "detections": dets.len(),
            "lesions_found_at_any_score": found, "false_positives_at_any_score": fps}),
        );
        matches.push(m);
    }
    let curve = froc(&matches)?;
    let cpm = curve.cpm();
    let interval = cpm_bootstrap(
        &matches,
        &BootstrapOptions {
            replicates: args.bootstrap,
            level: 0.95,
            seed: args.seed,
            stratified: false,
        },
    )?;
    let out = json!({
        "voxide": env!("CARGO_PKG_VERSION"),
        "settings": {
            "reference": args.reference.display().to_string(),
            "detections": args.detections.display().to_string(),
            "match_radius": match radius { MatchRadius::Fixed(r) => json!(r), MatchRadius::LesionRadius => json!("lesion radius") },
            "duplicates": format!("{duplicates:?}"),
            "bootstrap_replicates": args.bootstrap,
            "seed": args.seed,
        },
        "scans": scans.len(),
        "lesions": curve.lesions,
        "cpm": cpm.score,
        "cpm_ci": [interval.lower, interval.upper],
        "sensitivity_at": cpm.fp_rates.iter().zip(cpm.sensitivities).map(|(f, s)| json!({"fp_per_scan": f, "sensitivity": s})).collect::<Vec<_>>(),
        "per_scan": rows,
    });
    let json_path = suffixed(&args.output, ".json");
    write_file(&json_path, serde_json::to_string_pretty(&out)?.as_bytes())?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["threshold", "fp_per_scan", "sensitivity"])?;
    for i in 0..curve.thresholds.len() {
        w.write_record([
            format!("{}", curve.thresholds[i]),
            format!("{}", curve.fp_per_scan[i]),
            format!("{}", curve.sensitivity[i]),
        ])?;
    }
    let froc_path = suffixed(&args.output, "_froc.csv");
    write_file(&froc_path, &w.into_inner()?)?;
    if let Some(report) = &args.report {
        let html = crate::eval_report::det_html(
            &format!(
                "{} scans, {} lesions, {} detections",
                scans.len(),
                curve.lesions,
                detections.len()
            ),
            &curve,
            &cpm,
            (interval.lower, interval.upper),
        );
        write_file(report, html.as_bytes())?;
    }
    println!(
        "CPM {:.4} (95 % bootstrap {:.4}–{:.4}) over {} scans and {} lesions; sensitivity at {}",
        cpm.score,
        interval.lower,
        interval.upper,
        scans.len(),
        curve.lesions,
        cpm.fp_rates
            .iter()
            .zip(cpm.sensitivities)
            .map(|(f, s)| format!("{f} FP/scan {s:.3}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("wrote {} and {}", json_path.display(), froc_path.display());
    Ok(())
}
