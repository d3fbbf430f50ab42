//! voxide-eval's classification and detection metrics against the field's implementations:
//! scikit-learn (ROC, AUC, calibration curve, Brier score, confusion matrix, Cohen's kappa),
//! SciPy (Wilson interval, normal distribution, connected components), DeLong's original
//! O(m·n) structural-component formulas (DeLong, DeLong & Clarke-Pearson, "Comparing the areas
//! under two or more correlated receiver operating characteristic curves: a nonparametric
//! approach", Biometrics 44 (1988) 837–845; voxide computes them with Sun & Xu's midrank
//! algorithm, so this checks one against the other), and a restatement of the LUNA16
//! evaluation script's FROC and CPM (Setio et al., Medical Image Analysis 42, 2017).
//!
//! The data are deterministic synthetic sets shaped like real ones: reader ratings on a 1–5
//! scale (heavy ties), model probabilities rounded to 2 or 3 decimals (ties, values on bin
//! edges), a perfectly separating score, a tiny set; scans with nodules of 4–30 mm, hits,
//! double hits, hits on excluded nodules and false positives. pROC's published `aSAH` example
//! is not used: its data ship only with the GPL-licensed pROC package, which is not available
//! here and must not be copied into this repository.
//!
//! The references run in `target/pyref` (`scripts/setup-test.sh` installs it);
//! `scripts/ref/cls_metrics_ref.py` reads the cases as JSON and prints their values. Without
//! the environment these tests fail; they never skip.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use ndarray::Array3;
use serde_json::{json, Value};
use voxide_eval::classification::{
    auc, auc_ci_delong, brier_score, cohen_kappa, confusion_matrix, delong_test, reliability_curve,
    roc_curve, wilson_interval, Binning, KappaWeights,
};
use voxide_eval::detection::{
    connected_components, froc, match_points, Connectivity, Duplicates, MatchRadius,
    PointDetection, ReferenceLesion,
};
use voxide_eval::normal;

/// Agreement required: 1e-9 relative (1e-15 absolute at zero).
const REL: f64 = 1e-9;

fn python() -> PathBuf {
    let p = voxide_testdata::workspace_root().join("target/pyref/bin/python");
    assert!(
        p.exists(),
        "reference environment missing at {}: run `bash scripts/setup-test.sh`",
        p.display()
    );
    p
}

/// Runs the reference script on `cases`; its JSON.
fn reference(cases: &Value) -> Value {
    let mut child = Command::new(python())
        .arg(voxide_testdata::workspace_root().join("scripts/ref/cls_metrics_ref.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the reference script");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(cases.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "cls_metrics_ref.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reference JSON")
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "nan" => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        other => panic!("unexpected reference value {other}"),
    }
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(number).collect()
}

fn agree(what: &str, ours: f64, theirs: f64) {
    let ok = if theirs.is_nan() || ours.is_nan() {
        theirs.is_nan() && ours.is_nan()
    } else if theirs.is_infinite() || ours.is_infinite() {
        ours == theirs
    } else {
        (ours - theirs).abs() <= REL * theirs.abs() + 1e-15
    };
    assert!(ok, "{what}: voxide {ours:e} vs reference {theirs:e}");
}

fn agree_all(what: &str, ours: &[f64], theirs: &[f64]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths differ");
    for (n, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        agree(&format!("{what}[{n}]"), a, b);
    }
}

/// A small deterministic generator for the test data (xorshift64*).
struct Gen(u64);

impl Gen {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Approximately standard normal (Irwin–Hall of 12).
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n - 1)
    }
}

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A binary data set: labels, two correlated score sets.
struct Binary {
    name: &'static str,
    labels: Vec<bool>,
    scores: Vec<f64>,
    scores2: Vec<f64>,
}

fn binary_sets() -> Vec<Binary> {
    let mut g = Gen(0x5eed_1234_abcd_0001);
    let mut sets = Vec::new();
    // Two readers rating 150 cases on a 1–5 scale, 35 % positive.
    let (mut labels, mut s1, mut s2) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..150 {
        let y = g.uniform() < 0.35;
        let latent = g.normal() + if y { 1.2 } else { 0.0 };
        let rate = |v: f64| (v * 1.1 + 3.0).round().clamp(1.0, 5.0);
        labels.push(y);
        s1.push(rate(latent + 0.6 * g.normal()));
        s2.push(rate(latent + 0.9 * g.normal()));
    }
    sets.push(Binary {
        name: "reader ratings 1-5",
        labels,
        scores: s1,
        scores2: s2,
    });
    // Two models' probabilities on 400 and 3000 cases, rounded to 2 and 3 decimals.
    for (name, n, prevalence, decimals) in [
        ("model probabilities n=400", 400, 0.2, 2),
        ("model probabilities n=3000", 3000, 0.1, 3),
    ] {
        let (mut labels, mut s1, mut s2) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let y = g.uniform() < prevalence;
            let latent = g.normal() + if y { 1.5 } else { 0.0 };
            labels.push(y);
            s1.push(round(sigmoid(latent + 0.5 * g.normal() - 1.0), decimals));
            s2.push(round(sigmoid(0.8 * latent + g.normal() - 1.0), decimals));
        }
        sets.push(Binary {
            name,
            labels,
            scores: s1,
            scores2: s2,
        });
    }
    sets.push(Binary {
        name: "tiny",
        labels: vec![true, false, true, false, false, true, false, true, false],
        scores: vec![0.9, 0.8, 0.8, 0.3, 0.5, 0.4, 0.1, 0.95, 0.4],
        scores2: vec![0.7, 0.2, 0.9, 0.3, 0.6, 0.6, 0.2, 0.5, 0.1],
    });
    sets.push(Binary {
        name: "perfect separation",
        labels: vec![false, false, false, true, true, false, true, true],
        scores: vec![1.0, 2.0, 2.5, 3.0, 4.0, 0.5, 3.5, 5.0],
        scores2: vec![1.0, 3.2, 2.5, 3.0, 4.0, 0.5, 2.0, 5.0],
    });
    sets
}

fn bits(labels: &[bool]) -> Vec<u8> {
    labels.iter().map(|&l| u8::from(l)).collect()
}

#[test]
fn roc_auc_and_delong_match_sklearn_and_delong_1988() {
    let sets = binary_sets();
    let cases: Vec<Value> = sets
        .iter()
        .map(|s| {
            json!({"labels": bits(&s.labels), "scores": s.scores, "scores2": s.scores2,
                   "level": 0.95})
        })
        .collect();
    let refs = reference(&json!({ "binary": cases }));
    let mut compared = 0;
    for (s, r) in sets.iter().zip(refs["binary"].as_array().unwrap()) {
        let name = s.name;
        let roc = roc_curve(&s.labels, &s.scores).unwrap();
        agree_all(
            &format!("{name}: thresholds"),
            &roc.thresholds,
            &numbers(&r["roc_thresholds"]),
        );
        agree_all(&format!("{name}: fpr"), &roc.fpr, &numbers(&r["roc_fpr"]));
        agree_all(&format!("{name}: tpr"), &roc.tpr, &numbers(&r["roc_tpr"]));
        compared += 3 * roc.thresholds.len();
        agree(
            &format!("{name}: auc"),
            auc(&s.labels, &s.scores).unwrap(),
            number(&r["auc"]),
        );
        agree(
            &format!("{name}: DeLong auc"),
            roc.auc(),
            number(&r["delong_auc"]),
        );
        let ci = auc_ci_delong(&s.labels, &s.scores, 0.95).unwrap();
        agree(
            &format!("{name}: DeLong variance"),
            ci.variance,
            number(&r["delong_var"]),
        );
        agree(
            &format!("{name}: DeLong lower"),
            ci.lower,
            number(&r["delong_lower"]),
        );
        agree(
            &format!("{name}: DeLong upper"),
            ci.upper,
            number(&r["delong_upper"]),
        );
        let t = delong_test(&s.labels, &s.scores, &s.scores2).unwrap();
        agree(
            &format!("{name}: test auc2"),
            t.auc2,
            number(&r["test_auc2"]),
        );
        agree(
            &format!("{name}: test var2"),
            t.variance2,
            number(&r["test_var2"]),
        );
        agree(
            &format!("{name}: test cov"),
            t.covariance,
            number(&r["test_cov"]),
        );
        agree(&format!("{name}: test z"), t.z, number(&r["test_z"]));
        agree(&format!("{name}: test p"), t.p_value, number(&r["test_p"]));
        compared += 11;
        eprintln!(
            "{name}: {} thresholds, AUC {:.6} [{:.6}, {:.6}], vs second scores z {:.4} p {:.4}",
            roc.thresholds.len(),
            ci.auc,
            ci.lower,
            ci.upper,
            t.z,
            t.p_value
        );
    }
    eprintln!("{compared} values agree with scikit-learn and DeLong 1988 to 1e-9");
    // The perfectly separating score: AUC 1, DeLong variance 0, interval [1, 1].
    let perfect = &sets[4];
    let ci = auc_ci_delong(&perfect.labels, &perfect.scores, 0.95).unwrap();
    assert_eq!(
        (ci.auc, ci.variance, ci.lower, ci.upper),
        (1.0, 0.0, 1.0, 1.0)
    );
}

#[test]
fn calibration_and_brier_match_sklearn() {
    let mut g = Gen(0x0ca1_1b0a_7e00_0002);
    let mut cases = Vec::new();
    let mut data = Vec::new();
    for (n, decimals, bins) in [(500, 2, 10), (2000, 3, 15), (60, 1, 7), (300, 2, 5)] {
        let mut labels = Vec::new();
        let mut probs = Vec::new();
        for _ in 0..n {
            let p = round(sigmoid(1.5 * g.normal()), decimals);
            // Over-confident model: the true probability is pulled towards 1/2.
            labels.push(g.uniform() < 0.5 + 0.7 * (p - 0.5));
            probs.push(p);
        }
        // Probabilities on the edges, 0 and 1 included.
        probs[0] = 0.0;
        probs[1] = 1.0;
        probs[2] = 0.5;
        cases.push(json!({"labels": bits(&labels), "probs": probs, "n_bins": bins}));
        data.push((labels, probs, bins));
    }
    let refs = reference(&json!({ "calibration": cases }));
    for (n, ((labels, probs, bins), r)) in data
        .iter()
        .zip(refs["calibration"].as_array().unwrap())
        .enumerate()
    {
        for (strategy, binning) in [
            ("uniform", Binning::Uniform(*bins)),
            ("quantile", Binning::Quantile(*bins)),
        ] {
            let curve = reliability_curve(labels, probs, binning).unwrap();
            let (prob_true, prob_pred) = curve.sklearn();
            let what = format!("case {n} {strategy} {bins} bins");
            agree_all(
                &format!("{what}: prob_true"),
                &prob_true,
                &numbers(&r[strategy]["prob_true"]),
            );
            agree_all(
                &format!("{what}: prob_pred"),
                &prob_pred,
                &numbers(&r[strategy]["prob_pred"]),
            );
            // ECE from the same bins, recomputed from scikit-learn's numbers and counts.
            let ece: f64 = curve
                .bins
                .iter()
                .filter(|b| b.count > 0)
                .zip(
                    numbers(&r[strategy]["prob_true"])
                        .iter()
                        .zip(numbers(&r[strategy]["prob_pred"])),
                )
                .map(|(b, (t, p))| b.count as f64 / labels.len() as f64 * (t - p).abs())
                .sum();
            agree(
                &format!("{what}: ECE"),
                curve.expected_calibration_error(),
                ece,
            );
        }
        agree(
            &format!("case {n}: Brier"),
            brier_score(labels, probs).unwrap(),
            number(&r["brier"]),
        );
    }
}

#[test]
fn confusion_matrix_and_kappa_match_sklearn() {
    let mut g = Gen(0x00ca_99a0_0000_0003);
    let mut cases = Vec::new();
    let mut data: Vec<(Vec<i64>, Vec<i64>)> = Vec::new();
    // Two readers on a 1–5 scale; sparse, unordered class values; two classes; three classes
    // where one rater never uses one of them.
    let mut a = Vec::new();
    let mut b = Vec::new();
    for _ in 0..200 {
        let t = g.normal();
        a.push((t * 1.2 + 3.0 + 0.5 * g.normal()).round().clamp(1.0, 5.0) as i64);
        b.push((t * 1.2 + 3.0 + 0.8 * g.normal()).round().clamp(1.0, 5.0) as i64);
    }
    data.push((a, b));
    let map = [7i64, 0, 2, 11, -3];
    data.push((
        (0..120).map(|_| map[g.below(5)]).collect(),
        (0..120).map(|_| map[g.below(5)]).collect(),
    ));
    data.push((
        (0..50).map(|_| g.below(2) as i64).collect(),
        (0..50).map(|_| g.below(2) as i64).collect(),
    ));
    data.push((
        (0..40).map(|_| g.below(3) as i64).collect(),
        (0..40).map(|_| (g.below(2) * 2) as i64).collect(),
    ));
    for (a, b) in &data {
        cases.push(json!({"a": a, "b": b}));
    }
    let refs = reference(&json!({ "kappa": cases }));
    for (n, ((a, b), r)) in data
        .iter()
        .zip(refs["kappa"].as_array().unwrap())
        .enumerate()
    {
        let m = confusion_matrix(a, b).unwrap();
        let classes: Vec<i64> = r["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(m.classes, classes, "case {n}: classes");
        let theirs: Vec<Vec<u64>> = r["matrix"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect()
            })
            .collect();
        assert_eq!(m.counts, theirs, "case {n}: confusion matrix");
        for (key, w) in [
            ("none", KappaWeights::Unweighted),
            ("linear", KappaWeights::Linear),
            ("quadratic", KappaWeights::Quadratic),
        ] {
            let k = cohen_kappa(a, b, w).unwrap();
            agree(&format!("case {n}: kappa {key}"), k, number(&r[key]));
        }
    }
}

#[test]
fn wilson_and_normal_match_scipy() {
    let trials: [(u64, u64, f64); 10] = [
        (0, 10, 0.95),
        (10, 10, 0.95),
        (3, 17, 0.95),
        (45, 50, 0.95),
        (1, 1, 0.95),
        (123, 456, 0.95),
        (7, 9, 0.9),
        (999, 1000, 0.99),
        (0, 1, 0.5),
        (5000, 9000, 0.999),
    ];
    let cases: Vec<Value> = trials
        .iter()
        .map(|&(k, n, level)| json!({"k": k, "n": n, "level": level}))
        .collect();
    let ps = [
        1e-12, 1e-6, 0.001, 0.025, 0.05, 0.3, 0.5, 0.7, 0.95, 0.975, 0.995, 0.999999,
    ];
    let xs = [-9.0, -5.0, -1.96, -0.5, 0.0, 0.3, 1.0, 2.5, 6.0];
    let refs = reference(&json!({"wilson": cases, "normal": {"p": ps, "x": xs}}));
    for (&(k, n, level), r) in trials.iter().zip(refs["wilson"].as_array().unwrap()) {
        let (lo, hi) = wilson_interval(k, n, level).unwrap();
        for source in ["scipy", "formula"] {
            let theirs = numbers(&r[source]);
            agree(
                &format!("Wilson {k}/{n} at {level} lower vs {source}"),
                lo,
                theirs[0],
            );
            agree(
                &format!("Wilson {k}/{n} at {level} upper vs {source}"),
                hi,
                theirs[1],
            );
        }
    }
    let ours: Vec<f64> = ps.iter().map(|&p| normal::quantile(p)).collect();
    // The quantile's own error (~1e-15 relative) is amplified near p = 1/2, where it is ~0.
    for (n, (&a, &b)) in ours
        .iter()
        .zip(&numbers(&refs["normal"]["ppf"]))
        .enumerate()
    {
        assert!(
            (a - b).abs() <= 1e-13 * b.abs().max(1e-3),
            "ppf({}): {a} vs {b}",
            ps[n]
        );
    }
    let ours: Vec<f64> = xs.iter().map(|&x| normal::cdf(x)).collect();
    agree_all("normal cdf", &ours, &numbers(&refs["normal"]["cdf"]));
}

/// One synthetic scan: nodules (centre, diameter, excluded) and candidates (position, score).
struct Scan {
    nodules: Vec<([f64; 3], f64, bool)>,
    candidates: Vec<([f64; 3], f64)>,
}

fn scans(seed: u64, n: usize) -> Vec<Scan> {
    let mut g = Gen(seed);
    let score = |g: &mut Gen, hi: bool| {
        // Scores on a 0.01 grid, so that hits and false positives tie now and then.
        let base = if hi { 0.45 } else { 0.0 };
        round(base + (1.0 - base) * g.uniform(), 2)
    };
    (0..n)
        .map(|_| {
            let mut nodules = Vec::new();
            let mut candidates = Vec::new();
            // Nodules on a coarse lattice (100 mm apart) so that no candidate reaches two.
            for slot in 0..g.below(5) {
                let centre = [
                    100.0 * slot as f64 + 20.0 * g.uniform(),
                    100.0 * g.below(3) as f64 + 20.0 * g.uniform(),
                    -300.0 + 20.0 * g.uniform(),
                ];
                let diameter = 4.0 + 26.0 * g.uniform();
                let excluded = g.uniform() < 0.15;
                nodules.push((centre, diameter, excluded));
                // 0–3 candidates inside the nodule (a double hit now and then).
                let hits = [0, 1, 1, 1, 2, 3][g.below(6)];
                for _ in 0..hits {
                    let r = 0.9 * diameter / 2.0 * g.uniform();
                    let dir = [g.normal(), g.normal(), g.normal()];
                    let norm = dir.iter().map(|d| d * d).sum::<f64>().sqrt().max(1e-9);
                    let p = [0, 1, 2].map(|a| centre[a] + r * dir[a] / norm);
                    candidates.push((p, score(&mut g, true)));
                }
            }
            // False positives far from every nodule (beyond its radius + 1 mm).
            for _ in 0..g.below(9) {
                loop {
                    let p = [
                        -100.0 + 600.0 * g.uniform(),
                        -100.0 + 400.0 * g.uniform(),
                        -350.0 + 120.0 * g.uniform(),
                    ];
                    let clear = nodules.iter().all(|(c, d, _)| {
                        (0..3).map(|a| (p[a] - c[a]).powi(2)).sum::<f64>().sqrt() > d / 2.0 + 1.0
                    });
                    if clear {
                        candidates.push((p, score(&mut g, false)));
                        break;
                    }
                }
            }
            Scan {
                nodules,
                candidates,
            }
        })
        .collect()
}

#[test]
fn froc_and_cpm_match_the_luna16_evaluation() {
    for (seed, n) in [(0xf70c_0001_u64, 40), (0xf70c_0002, 25), (0xf70c_0003, 8)] {
        let data = scans(seed, n);
        let case = json!({"scans": data.iter().map(|s| json!({
            "nodules": s.nodules.iter().map(|(c, d, e)| json!({"centre": c, "diameter": d, "excluded": e})).collect::<Vec<_>>(),
            "candidates": s.candidates.iter().map(|(p, sc)| json!({"position": p, "score": sc})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()});
        let r = &reference(&json!({ "froc": [case] }))["froc"][0];
        let matches: Vec<_> = data
            .iter()
            .map(|s| {
                let reference: Vec<ReferenceLesion> = s
                    .nodules
                    .iter()
                    .map(|&(centre_mm, d, ignore)| ReferenceLesion {
                        centre_mm,
                        radius_mm: d / 2.0,
                        ignore,
                    })
                    .collect();
                let detections: Vec<PointDetection> = s
                    .candidates
                    .iter()
                    .map(|&(position_mm, score)| PointDetection { position_mm, score })
                    .collect();
                match_points(
                    &reference,
                    &detections,
                    MatchRadius::LesionRadius,
                    Duplicates::Ignore,
                )
                .unwrap()
            })
            .collect();
        let curve = froc(&matches).unwrap();
        let cpm = curve.cpm();
        agree_all(
            &format!("scans {n}: CPM sensitivities"),
            &cpm.sensitivities,
            &numbers(&r["cpm_sensitivities"]),
        );
        agree(&format!("scans {n}: CPM"), cpm.score, number(&r["cpm"]));
        let grid = numbers(&r["grid"]);
        let ours: Vec<f64> = grid.iter().map(|&f| curve.sensitivity_at(f)).collect();
        agree_all(
            &format!("scans {n}: FROC on LUNA16's grid"),
            &ours,
            &numbers(&r["grid_sensitivity"]),
        );
        eprintln!(
            "{n} scans, {} lesions: CPM {:.6}, sensitivities {:?}",
            curve.lesions, cpm.score, cpm.sensitivities
        );
    }
}

#[test]
fn connected_components_match_scipy() {
    let mut g = Gen(0xc0c0_0000_0000_0004);
    let mut cases = Vec::new();
    let mut masks = Vec::new();
    for (shape, density, connectivity) in [
        ((6, 7, 8), 0.3, 6),
        ((6, 7, 8), 0.3, 26),
        ((1, 20, 20), 0.45, 26),
        ((1, 20, 20), 0.45, 6),
        ((10, 12, 9), 0.2, 26),
    ] {
        let m = Array3::from_shape_fn(shape, |_| u8::from(g.uniform() < density));
        cases.push(json!({"shape": [shape.0, shape.1, shape.2], "data": m.iter().copied().collect::<Vec<_>>(), "connectivity": connectivity}));
        masks.push((m, connectivity));
    }
    let refs = reference(&json!({ "components": cases }));
    for ((m, c), r) in masks.iter().zip(refs["components"].as_array().unwrap()) {
        let conn = if *c == 6 {
            Connectivity::Faces
        } else {
            Connectivity::Full
        };
        let ours = connected_components(m.view(), conn).unwrap();
        assert_eq!(
            ours.count as u64,
            r["count"].as_u64().unwrap(),
            "{c}-connectivity: count"
        );
        let theirs: Vec<u32> = r["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(
            ours.labels.iter().copied().collect::<Vec<_>>(),
            theirs,
            "{c}-connectivity: labels"
        );
    }
}
