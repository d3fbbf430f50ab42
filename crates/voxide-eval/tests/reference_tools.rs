//! voxide-eval against MedPy 0.5.2, DeepMind's surface-distance 0.1 and MetricsReloaded's
//! formulas (on SciPy), on the real tumour masks of the IBSI soft-tissue-sarcoma data set and
//! predictions made from them by erosion, dilation, shifts, a deleted slice and emptying.
//!
//! The references run in `target/pyref` (`scripts/setup-test.sh` installs it; the README's test
//! command runs that); `scripts/ref/seg_metrics_ref.py` prints their values as JSON. Without the
//! environment or the data these tests fail; they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::{Array3, Axis};
use serde_json::Value;
use voxide_core::{AnyImage, Geometry, Image};
use voxide_eval::{evaluate, evaluate_labels, Convention, Metric, Options, SegmentationMetrics};

const REL: f64 = 1e-6;

fn python() -> PathBuf {
    let p = voxide_testdata::workspace_root().join("target/pyref/bin/python");
    assert!(
        p.exists(),
        "reference environment missing at {}: run `bash scripts/setup-test.sh`",
        p.display()
    );
    p
}

fn read_mask(relative: &str) -> Image<u8> {
    let path = voxide_testdata::data(relative);
    assert!(path.is_file(), "test data missing: {}", path.display());
    let img = voxide_io::read_image(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    img.cast::<u8>()
}

fn write(dir: &Path, name: &str, img: &Image<u8>) -> PathBuf {
    let path = dir.join(name);
    voxide_io::write_image(&path, &AnyImage::from(img.clone())).unwrap();
    path
}

/// Runs the reference script on two masks; its JSON.
fn reference_values(
    reference: &Path,
    prediction: &Path,
    spacing: [f64; 3],
    options: &Options,
) -> Value {
    let out = Command::new(python())
        .arg(voxide_testdata::workspace_root().join("scripts/ref/seg_metrics_ref.py"))
        .arg(reference)
        .arg(prediction)
        .args([
            "--percentile",
            &format!("{:?}", options.hausdorff_percentile),
        ])
        .args(["--tolerance", &format!("{:?}", options.nsd_tolerance_mm)])
        .args([
            "--boundary",
            &format!("{:?}", options.boundary_iou_distance_mm),
        ])
        .arg("--spacing")
        .args(spacing.iter().map(|s| format!("{s:?}")))
        .output()
        .expect("run the reference script");
    assert!(
        out.status.success(),
        "seg_metrics_ref.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reference JSON")
}

/// A reference value: a number, "nan", "inf", or "raised" (MedPy's error, NaN in voxide).
fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "nan" || s == "raised" => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        other => panic!("unexpected reference value {other}"),
    }
}

/// Agreement within 1e-6 relative (1e-12 absolute at zero); NaN and ±∞ must match exactly.
fn agree(case: &str, what: &str, ours: f64, theirs: f64) {
    let ok = if theirs.is_nan() || ours.is_nan() {
        theirs.is_nan() && ours.is_nan()
    } else if theirs.is_infinite() || ours.is_infinite() {
        ours == theirs
    } else {
        (ours - theirs).abs() <= REL * theirs.abs() + 1e-12
    };
    assert!(ok, "{case}: {what}: voxide {ours} vs reference {theirs}");
}

/// Compares every metric the three references compute for two binary masks; returns how many
/// values were compared.
fn check(case: &str, reference: &Image<u8>, prediction: &Image<u8>, options: &Options) -> usize {
    let json = reference_json(reference, prediction, options);
    compare(case, &json, options, |c| {
        let o = Options {
            convention: c,
            ..options.clone()
        };
        evaluate(reference, prediction, &o).unwrap()
    })
}

/// The reference tools' values for two binary masks.
fn reference_json(reference: &Image<u8>, prediction: &Image<u8>, options: &Options) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let r = write(dir.path(), "reference.nii.gz", reference);
    let p = write(dir.path(), "prediction.nii.gz", prediction);
    reference_values(&r, &p, reference.geometry().spacing(), options)
}

/// Compares voxide's metrics under each convention (`run`) with the reference values.
fn compare(
    case: &str,
    json: &Value,
    options: &Options,
    run: impl Fn(Convention) -> SegmentationMetrics,
) -> usize {
    let mut compared = 0;
    let mut cmp = |what: &str, ours: f64, theirs: &Value| {
        agree(case, what, ours, number(theirs));
        compared += 1;
    };

    let medpy = run(Convention::MedPy);
    let j = &json["medpy"];
    cmp("medpy dc", medpy.get(Metric::Dice), &j["dc"]);
    cmp("medpy jc", medpy.get(Metric::Iou), &j["jc"]);
    cmp(
        "medpy precision",
        medpy.get(Metric::Precision),
        &j["precision"],
    );
    cmp("medpy recall", medpy.get(Metric::Sensitivity), &j["recall"]);
    cmp(
        "medpy specificity",
        medpy.get(Metric::Specificity),
        &j["specificity"],
    );
    cmp(
        "medpy ravd",
        medpy.get(Metric::RelativeVolumeDifference),
        &j["ravd"],
    );
    cmp("medpy hd", medpy.get(Metric::Hausdorff), &j["hd"]);
    cmp(
        "medpy hd percentile",
        medpy.get(Metric::HausdorffPercentile),
        &j["hd_percentile"],
    );
    if options.hausdorff_percentile == 95.0 {
        cmp(
            "medpy hd95",
            medpy.get(Metric::HausdorffPercentile),
            &j["hd95"],
        );
    }
    cmp("medpy assd", medpy.get(Metric::Assd), &j["assd"]);
    cmp(
        "medpy asd(pred, ref)",
        medpy.get(Metric::AsdPredictionToReference),
        &j["asd_pred_to_ref"],
    );
    cmp(
        "medpy asd(ref, pred)",
        medpy.get(Metric::AsdReferenceToPrediction),
        &j["asd_ref_to_pred"],
    );

    let sdm = run(Convention::SurfaceDistance);
    let j = &json["surface_distance"];
    cmp("surface-distance dice", sdm.get(Metric::Dice), &j["dice"]);
    cmp("surface-distance hd", sdm.get(Metric::Hausdorff), &j["hd"]);
    cmp(
        "surface-distance robust hd",
        sdm.get(Metric::HausdorffPercentile),
        &j["hd_percentile"],
    );
    cmp(
        "surface-distance asd gt→pred",
        sdm.get(Metric::AsdReferenceToPrediction),
        &j["asd_ref_to_pred"],
    );
    cmp(
        "surface-distance asd pred→gt",
        sdm.get(Metric::AsdPredictionToReference),
        &j["asd_pred_to_ref"],
    );
    cmp(
        "surface-distance pooled mean",
        sdm.get(Metric::Assd),
        &j["assd"],
    );
    cmp(
        "surface-distance surface dice",
        sdm.get(Metric::Nsd),
        &j["nsd"],
    );
    let masd = 0.5 * (number(&j["asd_ref_to_pred"]) + number(&j["asd_pred_to_ref"]));
    agree(case, "surface-distance masd", sdm.get(Metric::Masd), masd);

    let mr = run(Convention::MetricsReloaded);
    let j = &json["metricsreloaded"];
    if !j.is_null() {
        cmp("MetricsReloaded hd", mr.get(Metric::Hausdorff), &j["hd"]);
        cmp(
            "MetricsReloaded hd percentile",
            mr.get(Metric::HausdorffPercentile),
            &j["hd_percentile"],
        );
        cmp("MetricsReloaded assd", mr.get(Metric::Assd), &j["assd"]);
        cmp("MetricsReloaded masd", mr.get(Metric::Masd), &j["masd"]);
        cmp("MetricsReloaded nsd", mr.get(Metric::Nsd), &j["nsd"]);
        cmp(
            "MetricsReloaded boundary iou",
            mr.get(Metric::BoundaryIou),
            &j["boundary_iou"],
        );
        cmp(
            "MetricsReloaded com distance",
            mr.get(Metric::CentreOfMassDistance),
            &j["com_distance"],
        );
    }
    compared
}

// ---- perturbations of a mask (test-side morphology, independent of the crate) ----

fn map(img: &Image<u8>, data: Array3<u8>) -> Image<u8> {
    Image::new(img.geometry().clone(), data).unwrap()
}

/// Face-neighbourhood erosion (`inside = true`) or dilation; outside the image is background.
fn morph(img: &Image<u8>, erode: bool) -> Image<u8> {
    let a = img.data();
    let (nk, nj, ni) = a.dim();
    let at = |k: isize, j: isize, i: isize| -> bool {
        k >= 0
            && j >= 0
            && i >= 0
            && (k as usize) < nk
            && (j as usize) < nj
            && (i as usize) < ni
            && a[[k as usize, j as usize, i as usize]] != 0
    };
    let out = Array3::from_shape_fn((nk, nj, ni), |(k, j, i)| {
        let (k, j, i) = (k as isize, j as isize, i as isize);
        let n = [
            at(k, j, i),
            at(k - 1, j, i),
            at(k + 1, j, i),
            at(k, j - 1, i),
            at(k, j + 1, i),
            at(k, j, i - 1),
            at(k, j, i + 1),
        ];
        u8::from(if erode {
            n.iter().all(|&x| x)
        } else {
            n.iter().any(|&x| x)
        })
    });
    map(img, out)
}

/// Shift by `[dk, dj, di]` voxels, filling with background.
fn shift(img: &Image<u8>, d: [isize; 3]) -> Image<u8> {
    let a = img.data();
    let (nk, nj, ni) = a.dim();
    let out = Array3::from_shape_fn((nk, nj, ni), |(k, j, i)| {
        let (sk, sj, si) = (k as isize - d[0], j as isize - d[1], i as isize - d[2]);
        if sk < 0 || sj < 0 || si < 0 || sk as usize >= nk || sj as usize >= nj || si as usize >= ni
        {
            0
        } else {
            a[[sk as usize, sj as usize, si as usize]]
        }
    });
    map(img, out)
}

/// The mask with the middle slice of its extent along k cleared.
fn delete_middle_slice(img: &Image<u8>) -> Image<u8> {
    let ks: Vec<usize> = img
        .data()
        .axis_iter(Axis(0))
        .enumerate()
        .filter(|(_, s)| s.iter().any(|&v| v != 0))
        .map(|(k, _)| k)
        .collect();
    let mid = ks[ks.len() / 2];
    let mut data = img.data().clone();
    data.index_axis_mut(Axis(0), mid).fill(0);
    map(img, data)
}

fn empty(img: &Image<u8>) -> Image<u8> {
    map(img, Array3::zeros(img.data().raw_dim()))
}

/// Slice `k` as a one-slice (2D) image at its place in space.
fn slice(img: &Image<u8>, k: usize) -> Image<u8> {
    let g = img.geometry();
    let [ni, nj, _] = g.size();
    let g2 = Geometry::new(
        [ni, nj, 1],
        g.spacing(),
        g.index_to_physical([0.0, 0.0, k as f64]),
        g.direction(),
    )
    .unwrap();
    let data = img
        .data()
        .index_axis(Axis(0), k)
        .to_owned()
        .insert_axis(Axis(0));
    Image::new(g2, data).unwrap()
}

fn middle_slice_index(img: &Image<u8>) -> usize {
    let counts: Vec<usize> = img
        .data()
        .axis_iter(Axis(0))
        .map(|s| s.iter().filter(|&&v| v != 0).count())
        .collect();
    (0..counts.len()).max_by_key(|&k| counts[k]).unwrap()
}

#[test]
fn ct_tumour_perturbations_match_medpy_and_surface_distance() {
    let reference = read_mask("multimodal/ibsi-sts-nifti/STS_001/CT_mask.nii.gz");
    let o = Options::default();
    let mut n = 0;
    n += check(
        "STS_001 CT eroded",
        &reference,
        &morph(&reference, true),
        &o,
    );
    n += check(
        "STS_001 CT dilated",
        &reference,
        &morph(&reference, false),
        &o,
    );
    n += check(
        "STS_001 CT shifted (1, -2, 3)",
        &reference,
        &shift(&reference, [1, -2, 3]),
        &o,
    );
    n += check(
        "STS_001 CT slice deleted",
        &reference,
        &delete_middle_slice(&reference),
        &o,
    );
    eprintln!("STS_001 CT: {n} values agree");
}

/// The tumour contour as the data set ships it, an RTSTRUCT, rasterised by voxide-dicom onto
/// its CT series: the references get the same voxel masks voxide evaluates.
#[test]
fn rtstruct_tumours_rasterised_onto_their_ct_match() {
    let mut n = 0;
    for case in ["STS_001", "STS_012"] {
        let dir = voxide_testdata::data(&format!("multimodal/ibsi-sts/{case}/CT"));
        let scan = voxide_dicom::scan(&dir.join("image"), None).unwrap();
        assert_eq!(scan.series.len(), 1, "{case}: one CT series");
        let volume = voxide_dicom::assemble(&scan.series[0], &Default::default(), None).unwrap();
        let grid = volume.image.geometry().clone();
        let set = voxide_dicom::read_rtstruct(&dir.join("mask/RS.dcm")).unwrap();
        let roi = set
            .rois
            .iter()
            .find(|r| r.name.starts_with("GTV_Mass"))
            .unwrap_or_else(|| panic!("{case}: no GTV_Mass ROI"));
        let raster = voxide_dicom::rasterise(roi, &grid).unwrap();
        let reference = raster.mask.labels().clone();
        let voxels = reference.data().iter().filter(|&&v| v != 0).count();
        assert!(voxels > 1000, "{case}: {voxels} voxels rasterised");
        let o = Options::default();
        n += check(
            &format!("{case} RTSTRUCT dilated"),
            &reference,
            &morph(&reference, false),
            &o,
        );
        n += check(
            &format!("{case} RTSTRUCT shifted (0, 2, -1)"),
            &reference,
            &shift(&reference, [0, 2, -1]),
            &o,
        );
    }
    eprintln!("RTSTRUCT masks: {n} values agree");
}

#[test]
fn other_tumours_and_parameters_match() {
    let o90 = Options {
        hausdorff_percentile: 90.0,
        nsd_tolerance_mm: 2.0,
        boundary_iou_distance_mm: 2.5,
        ..Options::default()
    };
    let mut n = 0;
    // Coarse PET grid (5.5 × 5.5 × 3.3 mm): percentiles and tolerances fall between distances.
    let pet = read_mask("multimodal/ibsi-sts-nifti/STS_002/PET_mask.nii.gz");
    n += check(
        "STS_002 PET shifted (0, 1, 1)",
        &pet,
        &shift(&pet, [0, 1, 1]),
        &o90,
    );
    n += check(
        "STS_002 PET dilated",
        &pet,
        &morph(&pet, false),
        &Options::default(),
    );
    // MR grid with its own spacing; prediction eroded then shifted.
    let mr = read_mask("multimodal/ibsi-sts-nifti/STS_019/MR_T1_mask.nii.gz");
    n += check(
        "STS_019 MR eroded+shifted",
        &mr,
        &shift(&morph(&mr, true), [2, 0, -1]),
        &o90,
    );
    // The prediction as reference: directions swap.
    let ct = read_mask("multimodal/ibsi-sts-nifti/STS_008/CT_mask.nii.gz");
    n += check(
        "STS_008 CT dilated as reference",
        &morph(&ct, false),
        &ct,
        &o90,
    );
    eprintln!("{n} values agree");
}

#[test]
fn two_dimensional_slices_match() {
    let ct = read_mask("multimodal/ibsi-sts-nifti/STS_003/CT_mask.nii.gz");
    let k = middle_slice_index(&ct);
    let reference = slice(&ct, k);
    let o = Options::default();
    let mut n = 0;
    n += check(
        "STS_003 CT 2D shifted",
        &reference,
        &shift(&reference, [0, 3, -2]),
        &o,
    );
    // The neighbouring slice is a realistic prediction of this one.
    let next = slice(&ct, k + 1)
        .with_geometry(reference.geometry().clone())
        .unwrap();
    n += check("STS_003 CT 2D next slice", &reference, &next, &o);
    eprintln!("{n} values agree in 2D");
}

#[test]
fn empty_masks_match_each_tools_convention() {
    let pet = read_mask("multimodal/ibsi-sts-nifti/STS_012/PET_mask.nii.gz");
    let o = Options::default();
    let mut n = 0;
    n += check("STS_012 PET empty prediction", &pet, &empty(&pet), &o);
    n += check("STS_012 PET empty reference", &empty(&pet), &pet, &o);
    n += check("STS_012 PET both empty", &empty(&pet), &empty(&pet), &o);
    eprintln!("{n} values agree with empty masks");
}

#[test]
fn labels_match_per_label_references() {
    // Three labels from a real tumour: its eroded core (1), the rim around it (2), and a label
    // present only in the reference (3, a copy of the core shifted away from the tumour).
    let ct = read_mask("multimodal/ibsi-sts-nifti/STS_008/CT_mask.nii.gz");
    let core = morph(&ct, true);
    let far = shift(&core, [0, 0, -25]);
    let labels = |mask: &Image<u8>, core: &Image<u8>, far: Option<&Image<u8>>| {
        let mut data = mask.data().mapv(|v| if v != 0 { 2u8 } else { 0 });
        ndarray::Zip::from(&mut data)
            .and(core.data())
            .for_each(|d, &c| {
                if c != 0 {
                    *d = 1;
                }
            });
        if let Some(far) = far {
            ndarray::Zip::from(&mut data)
                .and(far.data())
                .for_each(|d, &f| {
                    if f != 0 && *d == 0 {
                        *d = 3;
                    }
                });
        }
        map(mask, data)
    };
    let reference = labels(&ct, &core, Some(&far));
    let moved = shift(&ct, [1, 2, 0]);
    let prediction = labels(&moved, &shift(&core, [1, 2, 0]), None);
    let o = Options::default();
    let report = |c: Convention| {
        let o = Options {
            convention: c,
            ..o.clone()
        };
        evaluate_labels(&reference, &prediction, &[1, 2, 3], &o).unwrap()
    };
    let mut n = 0;
    let mut dice = Vec::new();
    for (idx, label) in [1u8, 2, 3].into_iter().enumerate() {
        let binary = |img: &Image<u8>| map(img, img.data().mapv(|v| u8::from(v == label)));
        let json = reference_json(&binary(&reference), &binary(&prediction), &o);
        dice.push(number(&json["medpy"]["dc"]));
        n += compare(&format!("STS_008 label {label}"), &json, &o, |c| {
            report(c).labels[idx].metrics.clone()
        });
    }
    // The default's mean Dice over labels is the mean of the per-label Dice MedPy computes.
    let mean = report(Convention::MetricsReloaded).mean;
    agree(
        "label mean",
        "dice",
        mean.get(Metric::Dice),
        dice.iter().sum::<f64>() / 3.0,
    );
    assert_eq!(mean.defined(Metric::Dice), 3);
    // Label 3 has no prediction: its distances are undefined, the mean skips it.
    assert_eq!(mean.defined(Metric::Hausdorff), 2);
    eprintln!("{n} values agree per label");
}
