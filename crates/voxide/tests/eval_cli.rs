//! `voxide eval seg` end to end on the real sarcoma tumour masks: pairing folders by name,
//! missing partners, JSON/CSV/HTML outputs, values checked by direct voxel counting and by the
//! geometry of a known shift, grid mismatches and `--resample-prediction`, empty predictions.

use std::path::{Path, PathBuf};
use std::process::Command;

use voxide_core::{Geometry, Image};

fn voxide() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voxide"))
}

fn sts_mask(case: &str) -> PathBuf {
    voxide_testdata::data(&format!("multimodal/ibsi-sts-nifti/{case}/CT_mask.nii.gz"))
}

fn read_mask(path: &Path) -> Image<u8> {
    voxide_io::read_image(path).unwrap().cast()
}

fn write(path: &Path, image: Image<u8>) {
    voxide_io::write_image(path, &image.into()).unwrap();
}

/// `mask` moved by `by` voxels along i (voxels moved out of the grid are lost).
fn shifted(mask: &Image<u8>, by: usize) -> Image<u8> {
    let mut out = Image::filled(mask.geometry().clone(), 0u8);
    let (_, _, ni) = mask.data().dim();
    for ((k, j, i), &v) in mask.data().indexed_iter() {
        if v != 0 && i + by < ni {
            out.data_mut()[(k, j, i + by)] = v;
        }
    }
    out
}

fn dice_by_counting(a: &Image<u8>, b: &Image<u8>) -> f64 {
    let (mut both, mut na, mut nb) = (0usize, 0usize, 0usize);
    for (&x, &y) in a.data().iter().zip(b.data().iter()) {
        na += usize::from(x != 0);
        nb += usize::from(y != 0);
        both += usize::from(x != 0 && y != 0);
    }
    2.0 * both as f64 / (na + nb) as f64
}

fn run(args: &[&str], reference: &Path, prediction: &Path) -> std::process::Output {
    voxide()
        .args(["eval", "seg", "--reference"])
        .arg(reference)
        .arg("--prediction")
        .arg(prediction)
        .args(args)
        .output()
        .unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn case<'a>(j: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    j["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["case"] == name)
        .unwrap_or_else(|| panic!("case {name} missing"))
}

#[test]
fn folders_pair_by_name_and_report_every_case() {
    let tmp = tempfile::tempdir().unwrap();
    let (refs, preds) = (tmp.path().join("ref"), tmp.path().join("pred"));
    std::fs::create_dir_all(&refs).unwrap();
    std::fs::create_dir_all(&preds).unwrap();
    let a = read_mask(&sts_mask("STS_001"));
    let b = read_mask(&sts_mask("STS_002"));
    let spacing_i = b.geometry().spacing()[0];
    write(&refs.join("A.nii.gz"), a.clone());
    write(&refs.join("B.nii.gz"), b.clone());
    write(&refs.join("C.nii.gz"), a.clone());
    // A: the reference itself; B: shifted by 2 voxels; C: no prediction; D: no reference.
    write(&preds.join("A.nii.gz"), a.clone());
    let b_shift = shifted(&b, 2);
    write(&preds.join("B.nrrd"), b_shift.clone());
    write(&preds.join("D.nii.gz"), a.clone());

    let out_prefix = tmp.path().join("results/eval");
    let report = tmp.path().join("report.html");
    let out = run(
        &[
            "-o",
            out_prefix.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        &refs,
        &preds,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 case(s) evaluated, 2 failed"), "{stdout}");

    let j = json(&out_prefix.with_extension("json"));
    let metric = |c: &str, m: &str| case(&j, c)["labels"][0]["metrics"][m].as_f64().unwrap();
    assert_eq!(metric("A", "dice"), 1.0);
    assert_eq!(metric("A", "hd_mm"), 0.0);
    let want = dice_by_counting(&b, &b_shift);
    assert!(
        (metric("B", "dice") - want).abs() < 1e-12,
        "{} vs {want}",
        metric("B", "dice")
    );
    // A shift of two voxels along i: the Hausdorff distance is two voxel widths.
    assert!((metric("B", "hd_mm") - 2.0 * spacing_i).abs() < 1e-9);
    assert!(case(&j, "C")["error"]
        .as_str()
        .unwrap()
        .contains("no prediction named C"));
    assert!(case(&j, "D")["error"]
        .as_str()
        .unwrap()
        .contains("no reference mask named D"));
    let dice = &j["summary"][0]["metrics"]["dice"];
    assert_eq!(dice["n"], 2);
    let mean = dice["mean"].as_f64().unwrap();
    assert!((mean - (1.0 + want) / 2.0).abs() < 1e-12);
    let ci = dice["mean_ci"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= mean && mean <= ci[1].as_f64().unwrap());

    let csv = std::fs::read_to_string(out_prefix.with_extension("csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("case,label,dice,iou,"));
    assert_eq!(lines.len(), 5, "{csv}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains("<svg")
            && html.contains("hd_percentile_mm")
            && html.contains("no prediction named C")
    );
}

#[test]
fn grid_mismatch_is_explained_and_resampling_is_an_option() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = sts_mask("STS_003");
    let r = read_mask(&reference);
    // The same mask on a grid of twice the slice spacing (every other slice).
    let g = r.geometry();
    let [ni, nj, nk] = g.size();
    let coarse = Geometry::new(
        [ni, nj, nk.div_ceil(2)],
        [g.spacing()[0], g.spacing()[1], g.spacing()[2] * 2.0],
        g.origin(),
        g.direction(),
    )
    .unwrap();
    let data: Vec<u8> = (0..nk.div_ceil(2))
        .flat_map(|k| {
            let r = &r;
            (0..nj).flat_map(move |j| (0..ni).map(move |i| r.data()[(2 * k, j, i)]))
        })
        .collect();
    let prediction = tmp.path().join("coarse.nii.gz");
    write(&prediction, Image::from_vec(coarse, data).unwrap());

    let prefix = tmp.path().join("e");
    let out = run(&["-o", prefix.to_str().unwrap()], &reference, &prediction);
    assert!(
        !out.status.success(),
        "a grid mismatch must not pass silently"
    );
    let j = json(&prefix.with_extension("json"));
    let err = j["cases"][0]["error"].as_str().unwrap();
    assert!(
        err.contains("size") && err.contains("spacing") && err.contains("--resample-prediction"),
        "{err}"
    );

    let out = run(
        &["-o", prefix.to_str().unwrap(), "--resample-prediction"],
        &reference,
        &prediction,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json(&prefix.with_extension("json"));
    assert_eq!(j["cases"][0]["resampled_prediction"], true);
    let dice = j["cases"][0]["labels"][0]["metrics"]["dice"]
        .as_f64()
        .unwrap();
    assert!(dice > 0.8 && dice < 1.0, "{dice}");
}

#[test]
fn an_empty_prediction_follows_the_documented_convention() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = sts_mask("STS_012");
    let r = read_mask(&reference);
    let empty = tmp.path().join("empty.nii.gz");
    write(&empty, Image::filled(r.geometry().clone(), 0u8));
    let prefix = tmp.path().join("e");
    let out = run(&["-o", prefix.to_str().unwrap()], &reference, &empty);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json(&prefix.with_extension("json"));
    let m = &j["cases"][0]["labels"][0]["metrics"];
    // MetricsReloaded: Dice 0; distances to a missing surface are undefined (null in JSON).
    assert_eq!(m["dice"], 0.0);
    assert!(m["hd_mm"].is_null() && m["assd_mm"].is_null());
    assert_eq!(j["summary"][0]["metrics"]["hd_mm"]["undefined"], 1);
    let csv = std::fs::read_to_string(prefix.with_extension("csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().contains(",nan,"));
    // A fixed worst case instead, on request.
    let out = run(
        &["-o", prefix.to_str().unwrap(), "--empty-distance", "373"],
        &reference,
        &empty,
    );
    assert!(out.status.success());
    let j = json(&prefix.with_extension("json"));
    assert_eq!(j["cases"][0]["labels"][0]["metrics"]["hd_mm"], 373.0);
}

#[test]
fn bad_arguments_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = sts_mask("STS_001");
    let out = run(&["--empty-distance", "far"], &reference, &reference);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--empty-distance far"));
    let out = run(&[], &reference, &tmp.path().join("missing.nii.gz"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));
    let out = run(&["--percentile", "120"], &reference, &reference);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("120"));
    let out = run(&[], &reference, tmp.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("both be files or both be folders"));
}
