//! `voxide eval cls`: classification metrics of one or more score columns against binary
//! reference labels, from a CSV table: ROC and AUC with DeLong and bootstrap intervals, the
//! DeLong test between every two models, operating-point metrics with Wilson intervals at a
//! fixed and at the Youden threshold, and calibration when the scores are probabilities.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::eval_cmd::{number, suffixed, write_file};
use serde_json::{json, Value};
use voxide_eval::classification::{
    auc_ci_bootstrap, auc_ci_delong, brier_score, confusion_at, delong_test, reliability_curve,
    roc_curve, roc_sensitivity_band, threshold_metrics, youden_threshold, Binning,
    BootstrapOptions, Proportion, ReliabilityCurve, RocCurve, ThresholdMetrics,
};

/// Arguments of `voxide eval cls`.
#[derive(clap::Args, Debug)]
pub struct ClsArgs {
    /// A CSV table with one row per case: a reference label column and one score column per
    /// model (higher score = more likely positive).
    predictions: PathBuf,
    /// The column of reference labels.
    #[arg(long, default_value = "label")]
    label_column: String,
    /// The score columns to evaluate, comma-separated (default: every column except the label
    /// and `--id-column`).
    #[arg(long, value_delimiter = ',')]
    scores: Vec<String>,
    /// A case identifier column, left out of the scores when present.
    #[arg(long, default_value = "case")]
    id_column: String,
    /// The label value of a positive case (`true`, `yes` and `positive` also count).
    #[arg(long, default_value = "1")]
    positive: String,
    /// The label value of a negative case (`false`, `no` and `negative` also count).
    #[arg(long, default_value = "0")]
    negative: String,
    /// Operating point: a case is called positive when its score is ≥ this.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// Confidence level of every interval.
    #[arg(long, default_value_t = 0.95)]
    level: f64,
    /// Bootstrap replicates (AUC interval and ROC band).
    #[arg(long, default_value_t = 2000)]
    bootstrap: usize,
    /// Seed of the bootstrap (same seed, same intervals).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Bins of the reliability curve (equal width), for scores in [0, 1].
    #[arg(long, default_value_t = 10)]
    bins: usize,
    /// Output prefix: `<prefix>.json` (every metric) and `<prefix>_roc.csv` (the ROC points).
    #[arg(short, long, default_value = "eval_cls")]
    output: PathBuf,
    /// Also write an HTML report (ROC curves with bootstrap bands, calibration curves, tables).
    #[arg(long)]
    report: Option<PathBuf>,
}

/// What the report draws of one model.
pub struct ModelResult {
    pub name: String,
    pub roc: RocCurve,
    pub auc: f64,
    pub delong: (f64, f64),
    pub bootstrap: (f64, f64),
    pub band_fpr: Vec<f64>,
    pub band: Vec<(f64, f64)>,
    pub at_threshold: ThresholdMetrics,
    pub youden: (f64, ThresholdMetrics),
    pub calibration: Option<(ReliabilityCurve, f64, f64)>,
}

pub fn cls(args: &ClsArgs) -> Result<()> {
    let (labels, models) = read_table(args)?;
    let boot = BootstrapOptions {
        replicates: args.bootstrap,
        level: args.level,
        seed: args.seed,
        stratified: true,
    };
    let bar = crate::progress_bar("evaluating");
    bar.set_length(models.len() as u64);
    let band_fpr: Vec<f64> = (0..=50).map(|i| f64::from(i) / 50.0).collect();
    let mut results = Vec::new();
    for (name, scores) in &models {
        let ctx = || format!("score column {name}");
        let roc = roc_curve(&labels, scores).with_context(ctx)?;
        let delong = auc_ci_delong(&labels, scores, args.level).with_context(ctx)?;
        let bootstrap = auc_ci_bootstrap(&labels, scores, &boot).with_context(ctx)?;
        let band = roc_sensitivity_band(&labels, scores, &band_fpr, &boot).with_context(ctx)?;
        let counts = confusion_at(&labels, scores, args.threshold).with_context(ctx)?;
        let at_threshold = threshold_metrics(&counts, args.level)?;
        let youden = youden_threshold(&labels, scores).with_context(ctx)?;
        let youden_counts = confusion_at(&labels, scores, youden.threshold)?;
        let probabilities = scores.iter().all(|s| (0.0..=1.0).contains(s));
        let calibration = if probabilities {
            let curve = reliability_curve(&labels, scores, Binning::Uniform(args.bins))
                .with_context(ctx)?;
            let ece = curve.expected_calibration_error();
            Some((curve, ece, brier_score(&labels, scores)?))
        } else {
            None
        };
        results.push(ModelResult {
            name: name.clone(),
            auc: delong.auc,
            delong: (delong.lower, delong.upper),
            bootstrap: (bootstrap.lower, bootstrap.upper),
            band_fpr: band_fpr.clone(),
            band,
            roc,
            at_threshold,
            youden: (
                youden.threshold,
                threshold_metrics(&youden_counts, args.level)?,
            ),
            calibration,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut tests = Vec::new();
    for a in 0..models.len() {
        for b in a + 1..models.len() {
            let test = delong_test(&labels, &models[a].1, &models[b].1);
            tests.push((models[a].0.clone(), models[b].0.clone(), test));
        }
    }

    let positives = labels.iter().filter(|&&l| l).count();
    let out = json!({
        "voxide": env!("CARGO_PKG_VERSION"),
        "settings": {
            "predictions": args.predictions.display().to_string(),
            "label_column": args.label_column,
            "threshold": args.threshold,
            "level": args.level,
            "bootstrap_replicates": args.bootstrap,
            "seed": args.seed,
            "bins": args.bins,
        },
        "cases": labels.len(),
        "positives": positives,
        "negatives": labels.len() - positives,
        "models": results.iter().map(model_json).collect::<Vec<_>>(),
        "delong_tests": tests.iter().map(|(a, b, t)| match t {
            Ok(t) => json!({"first": a, "second": b, "auc_first": t.auc1, "auc_second": t.auc2,
                "z": number(t.z), "p_value": t.p_value}),
            Err(e) => json!({"first": a, "second": b, "error": e.to_string()}),
        }).collect::<Vec<_>>(),
    });
    let json_path = suffixed(&args.output, ".json");
    write_file(&json_path, serde_json::to_string_pretty(&out)?.as_bytes())?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["model", "threshold", "fpr", "tpr"])?;
    for r in &results {
        for i in 0..r.roc.thresholds.len() {
            w.write_record([
                r.name.clone(),
                format!("{}", r.roc.thresholds[i]),
                format!("{}", r.roc.fpr[i]),
                format!("{}", r.roc.tpr[i]),
            ])?;
        }
    }
    let roc_path = suffixed(&args.output, "_roc.csv");
    write_file(&roc_path, &w.into_inner()?)?;
    if let Some(report) = &args.report {
        let html = crate::eval_report::cls_html(
            &format!(
                "{}: {} cases ({positives} positive); threshold {}; {} % intervals",
                args.predictions.display(),
                labels.len(),
                args.threshold,
                args.level * 100.0
            ),
            &results,
            &tests
                .iter()
                .map(|(a, b, t)| {
                    (
                        a.clone(),
                        b.clone(),
                        t.as_ref().ok().map(|t| (t.z, t.p_value)),
                    )
                })
                .collect::<Vec<_>>(),
        );
        write_file(report, html.as_bytes())?;
    }
    for r in &results {
        println!(
            "{}: AUC {:.4} (DeLong {:.4}–{:.4}, bootstrap {:.4}–{:.4}); at ≥ {}: sensitivity {:.3}, specificity {:.3}",
            r.name,
            r.auc,
            r.delong.0,
            r.delong.1,
            r.bootstrap.0,
            r.bootstrap.1,
            args.threshold,
            r.at_threshold.sensitivity.estimate,
            r.at_threshold.specificity.estimate
        );
    }
    for (a, b, t) in &tests {
        if let Ok(t) = t {
            println!("DeLong {a} vs {b}: z = {:.3}, p = {:.4}", t.z, t.p_value);
        }
    }
    println!("wrote {} and {}", json_path.display(), roc_path.display());
    Ok(())
}

type Models = Vec<(String, Vec<f64>)>;

fn read_table(args: &ClsArgs) -> Result<(Vec<bool>, Models)> {
    let path = &args.predictions;
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let header: Vec<String> = reader
        .headers()
        .with_context(|| format!("{}: no header row", path.display()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let find = |name: &str| header.iter().position(|h| h == name);
    let Some(label_at) = find(&args.label_column) else {
        bail!(
            "{}: no column {:?} (columns: {}); name the label column with --label-column",
            path.display(),
            args.label_column,
            header.join(", ")
        );
    };
    let score_names: Vec<String> = if args.scores.is_empty() {
        header
            .iter()
            .filter(|h| **h != args.label_column && **h != args.id_column)
            .cloned()
            .collect()
    } else {
        args.scores.clone()
    };
    if score_names.is_empty() {
        bail!("{}: no score column besides the labels", path.display());
    }
    let mut score_at = Vec::new();
    for s in &score_names {
        match find(s) {
            Some(i) => score_at.push(i),
            None => bail!(
                "{}: no score column {s:?} (columns: {})",
                path.display(),
                header.join(", ")
            ),
        }
    }
    let is = |v: &str, want: &str, words: [&str; 3]| {
        v == want || words.iter().any(|w| v.eq_ignore_ascii_case(w))
    };
    let mut labels = Vec::new();
    let mut scores: Vec<Vec<f64>> = vec![Vec::new(); score_at.len()];
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.with_context(|| format!("{}: line {line}", path.display()))?;
        let label = record.get(label_at).unwrap_or("").trim();
        labels.push(if is(label, &args.positive, ["true", "yes", "positive"]) {
            true
        } else if is(label, &args.negative, ["false", "no", "negative"]) {
            false
        } else {
            bail!(
                "{}: line {line}: label {label:?} is neither --positive {:?} nor --negative {:?}",
                path.display(),
                args.positive,
                args.negative
            );
        });
        for (k, &at) in score_at.iter().enumerate() {
            let text = record.get(at).unwrap_or("").trim();
            let v: f64 = text
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .with_context(|| {
                    format!(
                        "{}: line {line}: score {:?} in column {} is not a finite number",
                        path.display(),
                        text,
                        score_names[k]
                    )
                })?;
            scores[k].push(v);
        }
    }
    if labels.is_empty() {
        bail!("{}: no cases", path.display());
    }
    Ok((labels, score_names.into_iter().zip(scores).collect()))
}

fn proportion(p: &Proportion) -> Value {
    json!({"estimate": number(p.estimate), "lower": number(p.lower), "upper": number(p.upper),
        "successes": p.successes, "trials": p.trials})
}

fn metrics_json(m: &ThresholdMetrics) -> Value {
    json!({
        "true_positives": m.counts.true_positives,
        "false_positives": m.counts.false_positives,
        "true_negatives": m.counts.true_negatives,
        "false_negatives": m.counts.false_negatives,
        "sensitivity": proportion(&m.sensitivity),
        "specificity": proportion(&m.specificity),
        "ppv": proportion(&m.ppv),
        "npv": proportion(&m.npv),
        "accuracy": proportion(&m.accuracy),
        "f1": number(m.f1),
    })
}

fn model_json(r: &ModelResult) -> Value {
    json!({
        "model": r.name,
        "auc": r.auc,
        "auc_ci_delong": [r.delong.0, r.delong.1],
        "auc_ci_bootstrap": [r.bootstrap.0, r.bootstrap.1],
        "at_threshold": metrics_json(&r.at_threshold),
        "youden": {"threshold": number(r.youden.0), "metrics": metrics_json(&r.youden.1)},
        "calibration": r.calibration.as_ref().map(|(curve, ece, brier)| json!({
            "ece": ece,
            "brier": brier,
            "bins": curve.bins.iter().map(|b| json!({
                "lower": b.lower, "upper": b.upper, "count": b.count,
                "mean_predicted": number(b.mean_predicted),
                "fraction_positive": number(b.fraction_positive),
            })).collect::<Vec<_>>(),
        })),
    })
}
