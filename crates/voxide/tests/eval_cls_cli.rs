//! `voxide eval cls` end to end: a CSV with two models, values checked by direct counting
//! (Mann–Whitney AUC, confusion counts), the outputs and report, and clear errors on bad
//! tables.

use std::path::Path;
use std::process::Command;

fn voxide() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voxide"))
}

/// 300 cases: labels alternate in a fixed pattern; model `a` separates well, `b` less, with
/// ties (scores rounded to 2 decimals).
fn table() -> (Vec<bool>, Vec<f64>, Vec<f64>) {
    let mut labels = Vec::new();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..300u32 {
        let positive = i % 3 == 0;
        let u = f64::from((i * 7919) % 300) / 300.0;
        let v = f64::from((i * 104_729) % 300) / 300.0;
        labels.push(positive);
        let shift = if positive { 0.35 } else { 0.0 };
        a.push(((0.6 * u + shift) * 100.0).round() / 100.0);
        b.push(((0.8 * v + shift * 0.4) * 100.0).round() / 100.0);
    }
    (labels, a, b)
}

fn write_csv(path: &Path, labels: &[bool], a: &[f64], b: &[f64]) {
    let mut s = String::from("case,label,model_a,model_b\n");
    for i in 0..labels.len() {
        s += &format!("c{i},{},{},{}\n", u8::from(labels[i]), a[i], b[i]);
    }
    std::fs::write(path, s).unwrap();
}

fn mann_whitney(labels: &[bool], scores: &[f64]) -> f64 {
    let (mut sum, mut pairs) = (0.0, 0.0);
    for (i, &li) in labels.iter().enumerate() {
        for (j, &lj) in labels.iter().enumerate() {
            if li && !lj {
                pairs += 1.0;
                sum += if scores[i] > scores[j] {
                    1.0
                } else if scores[i] == scores[j] {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    sum / pairs
}

#[test]
fn two_models_auc_intervals_operating_points_and_report() {
    let tmp = tempfile::tempdir().unwrap();
    let (labels, a, b) = table();
    let csv = tmp.path().join("pred.csv");
    write_csv(&csv, &labels, &a, &b);
    let prefix = tmp.path().join("out/cls");
    let report = tmp.path().join("cls.html");
    let out = voxide()
        .args(["eval", "cls"])
        .arg(&csv)
        .arg("-o")
        .arg(&prefix)
        .arg("--report")
        .arg(&report)
        .args(["--bootstrap", "500"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("out/cls.json")).unwrap()).unwrap();
    assert_eq!(j["cases"], 300);
    assert_eq!(j["positives"], 100);
    for (m, scores) in [(0, &a), (1, &b)] {
        let model = &j["models"][m];
        let auc = model["auc"].as_f64().unwrap();
        assert!((auc - mann_whitney(&labels, scores)).abs() < 1e-12, "{auc}");
        for ci in ["auc_ci_delong", "auc_ci_bootstrap"] {
            let lo = model[ci][0].as_f64().unwrap();
            let hi = model[ci][1].as_f64().unwrap();
            assert!(
                lo < auc && auc < hi && hi - lo < 0.3,
                "{ci}: {lo} {auc} {hi}"
            );
        }
        // Counts at the default threshold 0.5, by hand.
        let tp = (0..300).filter(|&i| labels[i] && scores[i] >= 0.5).count();
        let at = &model["at_threshold"];
        assert_eq!(at["true_positives"], tp);
        let sens = &at["sensitivity"];
        assert_eq!(sens["estimate"].as_f64().unwrap(), tp as f64 / 100.0);
        assert!(sens["lower"].as_f64().unwrap() < sens["estimate"].as_f64().unwrap());
        assert!(model["calibration"]["brier"].as_f64().is_some());
    }
    let test = &j["delong_tests"][0];
    assert_eq!(
        (test["first"].as_str(), test["second"].as_str()),
        (Some("model_a"), Some("model_b"))
    );
    assert!(
        test["p_value"].as_f64().unwrap() < 0.05,
        "model a separates better: {test}"
    );
    let roc = std::fs::read_to_string(tmp.path().join("out/cls_roc.csv")).unwrap();
    assert!(
        roc.starts_with("model,threshold,fpr,tpr\nmodel_a,inf,0,0\n"),
        "{}",
        &roc[..80]
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<polygon") && html.contains("model_b AUC") && html.contains("ECE"));
}

#[test]
fn bad_tables_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |content: &str, extra: &[&str]| {
        let p = tmp.path().join("t.csv");
        std::fs::write(&p, content).unwrap();
        let out = voxide()
            .args(["eval", "cls"])
            .arg(&p)
            .args(extra)
            .arg("-o")
            .arg(tmp.path().join("o"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(run("y,score\n1,0.5\n", &[]).contains("no column \"label\""));
    assert!(run("label,score\n1,0.5\n2,0.1\n", &[]).contains("line 3: label \"2\""));
    assert!(run("label,score\n1,0.5\n0,nan\n", &[]).contains("not a finite number"));
    assert!(run("label,score\n1,0.5\n1,0.1\n", &[]).contains("both classes"));
    assert!(run("label,score\n1,0.5\n0,0.1\n", &["--scores", "other"])
        .contains("no score column \"other\""));
}
