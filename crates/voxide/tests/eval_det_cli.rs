//! `voxide eval det` end to end on a small LUNA16-style case worked out by hand, and clear
//! errors on bad tables.

use std::process::Command;

fn voxide() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voxide"))
}

#[test]
fn froc_and_cpm_of_a_hand_worked_case() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n);
    std::fs::write(
        p("annotations.csv"),
        "seriesuid,coordX,coordY,coordZ,diameter_mm\nA,0,0,0,10\nB,10,10,10,6\n",
    )
    .unwrap();
    // Scores in order: 0.95 a false positive (B), 0.9 finds A's lesion (1 mm off, radius 5),
    // 0.8 a false positive (A), 0.5 a false positive (C, a scan without lesions).
    std::fs::write(
        p("candidates.csv"),
        "seriesuid,coordX,coordY,coordZ,probability\nA,1,0,0,0.9\nA,50,50,50,0.8\nB,30,30,30,0.95\nC,0,0,0,0.5\n",
    )
    .unwrap();
    std::fs::write(p("scans.csv"), "seriesuid\nA\nB\nC\nD\n").unwrap();
    let out = voxide()
        .args(["eval", "det", "--reference"])
        .arg(p("annotations.csv"))
        .arg("--detections")
        .arg(p("candidates.csv"))
        .arg("--scans")
        .arg(p("scans.csv"))
        .arg("-o")
        .arg(p("det"))
        .arg("--report")
        .arg(p("det.html"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p("det.json")).unwrap()).unwrap();
    assert_eq!(j["scans"], 4);
    assert_eq!(j["lesions"], 2);
    // FROC points (FP/scan, sensitivity): (0.25, 0), (0.25, 0.5), (0.5, 0.5), (0.75, 0.5).
    // numpy.interp at 1/8 gives 0, at the vertical step 1/4 the higher 0.5, and beyond the
    // last point its 0.5: CPM = 6 × 0.5 / 7.
    let sens: Vec<f64> = j["sensitivity_at"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["sensitivity"].as_f64().unwrap())
        .collect();
    assert_eq!(sens, vec![0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    assert!((j["cpm"].as_f64().unwrap() - 3.0 / 7.0).abs() < 1e-12);
    let froc = std::fs::read_to_string(p("det_froc.csv")).unwrap();
    assert!(froc.starts_with("threshold,fp_per_scan,sensitivity\n"));
    assert!(std::fs::read_to_string(p("det.html"))
        .unwrap()
        .contains("<polyline"));

    // A scan of the tables missing from --scans is refused (it would distort FP per scan).
    std::fs::write(p("scans.csv"), "A\nB\n").unwrap();
    let out = voxide()
        .args(["eval", "det", "--reference"])
        .arg(p("annotations.csv"))
        .arg("--detections")
        .arg(p("candidates.csv"))
        .arg("--scans")
        .arg(p("scans.csv"))
        .arg("-o")
        .arg(p("det"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in --scans"));
}

#[test]
fn bad_tables_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |refs: &str, dets: &str| {
        std::fs::write(tmp.path().join("r.csv"), refs).unwrap();
        std::fs::write(tmp.path().join("d.csv"), dets).unwrap();
        let out = voxide()
            .args(["eval", "det", "--reference"])
            .arg(tmp.path().join("r.csv"))
            .arg("--detections")
            .arg(tmp.path().join("d.csv"))
            .arg("-o")
            .arg(tmp.path().join("o"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let good = "scan,x,y,z,score\nA,0,0,0,0.5\n";
    assert!(run("scan,x,y,diameter\nA,0,0,4\n", good).contains("no column coordZ or z"));
    assert!(run("scan,x,y,z,diameter\nA,0,0,zero,4\n", good).contains("\"zero\" in column z"));
    assert!(run(
        "scan,x,y,z,diameter\nA,0,0,0,4\n",
        "scan,x,y,z,score\nA,0,0,0,NaN\n"
    )
    .contains("not a finite number"));
}
