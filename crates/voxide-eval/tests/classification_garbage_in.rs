//! Bad or degenerate input to the classification and detection metrics: a clear error, never a
//! panic; and the documented values at the edges.

use ndarray::Array3;
use voxide_eval::classification::{
    auc, auc_ci_bootstrap, auc_ci_delong, brier_score, cohen_kappa, confusion_at, delong_test,
    delong_variance, reliability_curve, roc_curve, threshold_metrics, wilson_interval,
    youden_threshold, Binning, BootstrapOptions, KappaWeights,
};
use voxide_eval::detection::{
    connected_components, cpm_bootstrap, froc, match_masks, match_points, Connectivity, Duplicates,
    MatchRadius, MatchedDetection, Outcome, PointDetection, ReferenceLesion, ScanMatches,
};
use voxide_eval::EvalError;

fn input_error<T: std::fmt::Debug>(r: Result<T, EvalError>, words: &str) {
    match r {
        Err(EvalError::InvalidInput(m)) => {
            assert!(m.contains(words), "message {m:?} lacks {words:?}")
        }
        other => panic!("expected InvalidInput containing {words:?}, got {other:?}"),
    }
}

fn option_error<T: std::fmt::Debug>(r: Result<T, EvalError>, words: &str) {
    match r {
        Err(EvalError::InvalidOption(m)) => {
            assert!(m.contains(words), "message {m:?} lacks {words:?}")
        }
        other => panic!("expected InvalidOption containing {words:?}, got {other:?}"),
    }
}

#[test]
fn binary_inputs_are_checked() {
    let l = [true, false, true, false];
    input_error(auc(&[], &[]), "empty");
    input_error(auc(&l, &[0.1, 0.2, 0.3]), "4 labels but 3 scores");
    input_error(auc(&l, &[0.1, f64::NAN, 0.3, 0.4]), "score 1 is NaN");
    input_error(roc_curve(&l, &[0.1, f64::INFINITY, 0.3, 0.4]), "finite");
    input_error(auc(&[true, true], &[0.1, 0.2]), "both classes");
    input_error(auc(&[false], &[0.1]), "0 positive and 1 negative");
    input_error(
        delong_variance(&[true, false, false], &[0.3, 0.2, 0.1]),
        "at least 2 positive",
    );
    input_error(
        delong_test(&l, &[0.1, 0.2, 0.3, 0.4], &[0.1, 0.2]),
        "second scores",
    );
    input_error(
        delong_test(&l, &[0.1, 0.2, 0.3, 0.4], &[0.1, 0.2, f64::NAN, 0.4]),
        "second score 2",
    );
    // Identical rankings: the test is undefined.
    input_error(
        delong_test(&l, &[0.1, 0.2, 0.3, 0.4], &[1.0, 2.0, 3.0, 4.0]),
        "identically",
    );
    option_error(
        auc_ci_delong(&l, &[0.4, 0.1, 0.3, 0.2], 1.0),
        "strictly between 0 and 1",
    );
    option_error(
        auc_ci_delong(&l, &[0.4, 0.1, 0.3, 0.2], f64::NAN),
        "confidence level",
    );
    let few = BootstrapOptions {
        replicates: 1,
        ..BootstrapOptions::default()
    };
    option_error(
        auc_ci_bootstrap(&l, &[0.4, 0.1, 0.3, 0.2], &few),
        "at least 2 replicates",
    );
    option_error(confusion_at(&l, &[0.4, 0.1, 0.3, 0.2], f64::NAN), "NaN");
    input_error(youden_threshold(&[true], &[0.5]), "both classes");
}

#[test]
fn edge_values_are_the_documented_ones() {
    // A perfect separator has AUC 1; its negation 0; a constant score 1/2.
    let l = [true, false, true, false, false];
    assert_eq!(auc(&l, &[0.9, 0.1, 0.8, 0.2, 0.3]).unwrap(), 1.0);
    assert_eq!(auc(&l, &[0.1, 0.9, 0.2, 0.8, 0.7]).unwrap(), 0.0);
    assert_eq!(auc(&l, &[0.5; 5]).unwrap(), 0.5);
    // -0.0 and 0.0 are one threshold.
    let roc = roc_curve(&[true, false], &[0.0, -0.0]).unwrap();
    assert_eq!(roc.thresholds.len(), 2);
    // The Youden point of a perfect separator: the lowest positive score, J = 1.
    let best = youden_threshold(&l, &[0.9, 0.1, 0.8, 0.2, 0.3]).unwrap();
    assert_eq!((best.threshold, best.youden), (0.8, 1.0));
    // Scores that rank backwards: nothing beats calling every case negative.
    let best = youden_threshold(&l, &[0.1, 0.9, 0.2, 0.8, 0.7]).unwrap();
    assert_eq!((best.threshold, best.youden), (f64::INFINITY, 0.0));
    // One class only: the counts are defined, the missing-class proportions are NaN.
    let c = confusion_at(&[true, true], &[0.2, 0.7], 0.5).unwrap();
    let m = threshold_metrics(&c, 0.95).unwrap();
    assert_eq!(m.sensitivity.estimate, 0.5);
    assert!(m.specificity.estimate.is_nan() && m.specificity.lower.is_nan());
    assert!((m.f1 - 2.0 / 3.0).abs() < 1e-15);
    let none = threshold_metrics(&confusion_at(&[false], &[0.1], 0.5).unwrap(), 0.95).unwrap();
    assert!(none.f1.is_nan() && none.ppv.estimate.is_nan());
    // Bootstrap without stratification on a tiny set: replicates missing a class are skipped.
    let loose = BootstrapOptions {
        replicates: 200,
        stratified: false,
        ..BootstrapOptions::default()
    };
    let b = auc_ci_bootstrap(&[true, false, false], &[0.9, 0.1, 0.2], &loose).unwrap();
    assert!(b.skipped > 0 && b.replicates + b.skipped == 200);
}

#[test]
fn wilson_calibration_and_kappa_inputs_are_checked() {
    input_error(wilson_interval(3, 0, 0.95), "0 trials");
    input_error(wilson_interval(5, 3, 0.95), "5 successes out of 3");
    option_error(wilson_interval(1, 3, 0.0), "confidence level");
    let (lo, hi) = wilson_interval(0, 20, 0.95).unwrap();
    assert_eq!(lo, 0.0);
    assert!(hi > 0.1 && hi < 0.2);

    let l = [true, false];
    input_error(brier_score(&l, &[0.5, 1.5]), "in [0, 1]");
    input_error(brier_score(&l, &[0.5, f64::NAN]), "finite");
    input_error(brier_score(&[], &[]), "empty");
    option_error(
        reliability_curve(&l, &[0.2, 0.4], Binning::Uniform(0)),
        "at least 1",
    );
    // One class is fine for calibration.
    assert_eq!(brier_score(&[true, true], &[1.0, 0.5]).unwrap(), 0.125);
    let c = reliability_curve(&[false; 3], &[0.3; 3], Binning::Quantile(4)).unwrap();
    assert_eq!(c.bins.iter().map(|b| b.count).sum::<u64>(), 3);
    assert!((c.expected_calibration_error() - 0.3).abs() < 1e-15);

    input_error(
        cohen_kappa(&[1, 1, 1], &[1, 1, 1], KappaWeights::Unweighted),
        "single class",
    );
    input_error(
        cohen_kappa(&[1, 2], &[1], KappaWeights::Linear),
        "2 labels but 1",
    );
    input_error(
        cohen_kappa::<u8>(&[], &[], KappaWeights::Quadratic),
        "empty",
    );
    // Complete disagreement between two constant raters: no better than chance.
    assert_eq!(
        cohen_kappa(&["a", "a"], &["b", "b"], KappaWeights::Unweighted).unwrap(),
        0.0
    );
}

fn lesion(c: [f64; 3], r: f64) -> ReferenceLesion {
    ReferenceLesion {
        centre_mm: c,
        radius_mm: r,
        ignore: false,
    }
}

fn det(p: [f64; 3], s: f64) -> PointDetection {
    PointDetection {
        position_mm: p,
        score: s,
    }
}

#[test]
fn point_matching_is_greedy_by_score() {
    let refs = [lesion([0.0; 3], 5.0), lesion([8.0, 0.0, 0.0], 5.0)];
    // The best detection sits between both lesions, nearer the second; it takes the second.
    // The next one reaches only the second: a duplicate.
    let dets = [
        det([5.0, 0.0, 0.0], 0.9),
        det([9.0, 0.0, 0.0], 0.8),
        det([50.0, 0.0, 0.0], 0.7),
    ];
    let m = match_points(
        &refs,
        &dets,
        MatchRadius::Fixed(6.0),
        Duplicates::FalsePositive,
    )
    .unwrap();
    let outcomes: Vec<Outcome> = m.detections.iter().map(|d| d.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::TruePositive { lesion: 1 },
            Outcome::FalsePositive,
            Outcome::FalsePositive
        ]
    );
    let m = match_points(&refs, &dets, MatchRadius::Fixed(6.0), Duplicates::Ignore).unwrap();
    assert_eq!(m.detections[1].outcome, Outcome::Ignored);
    assert_eq!((m.found(), m.lesions), (1, 2));
    // Distance exactly at the radius matches (≤).
    let m = match_points(
        &refs[..1],
        &[det([5.0, 0.0, 0.0], 0.5)],
        MatchRadius::LesionRadius,
        Duplicates::Ignore,
    )
    .unwrap();
    assert_eq!(m.found(), 1);
    // Hits on an ignored lesion are ignored, and it does not count.
    let ignored = [ReferenceLesion {
        ignore: true,
        ..lesion([0.0; 3], 5.0)
    }];
    let m = match_points(
        &ignored,
        &[det([1.0, 0.0, 0.0], 0.5)],
        MatchRadius::LesionRadius,
        Duplicates::FalsePositive,
    )
    .unwrap();
    assert_eq!((m.detections[0].outcome, m.lesions), (Outcome::Ignored, 0));

    option_error(
        match_points(
            &refs,
            &dets,
            MatchRadius::Fixed(f64::NAN),
            Duplicates::Ignore,
        ),
        "radius",
    );
    input_error(
        match_points(
            &[lesion([f64::NAN, 0.0, 0.0], 1.0)],
            &dets,
            MatchRadius::Fixed(1.0),
            Duplicates::Ignore,
        ),
        "non-finite centre",
    );
    input_error(
        match_points(
            &[lesion([0.0; 3], -1.0)],
            &dets,
            MatchRadius::LesionRadius,
            Duplicates::Ignore,
        ),
        "radius -1",
    );
    input_error(
        match_points(
            &refs,
            &[det([0.0; 3], f64::NAN)],
            MatchRadius::Fixed(1.0),
            Duplicates::Ignore,
        ),
        "detection score 0 is NaN",
    );
    input_error(
        match_points(
            &refs,
            &[det([0.0, f64::INFINITY, 0.0], 0.5)],
            MatchRadius::Fixed(1.0),
            Duplicates::Ignore,
        ),
        "non-finite position",
    );
}

#[test]
fn mask_matching_by_overlap() {
    // Two reference lesions; the prediction covers the first well, touches the second barely,
    // and adds a false positive.
    let mut r = Array3::<u8>::zeros((3, 10, 10));
    let mut p = Array3::<u8>::zeros((3, 10, 10));
    let mut prob = Array3::<f64>::zeros((3, 10, 10));
    for j in 0..3 {
        for i in 0..3 {
            r[(1, j, i)] = 1;
            p[(1, j, i)] = 1;
            prob[(1, j, i)] = 0.6 + 0.1 * i as f64;
            r[(1, j + 6, i + 6)] = 1;
        }
    }
    p[(1, 8, 8)] = 1;
    prob[(1, 8, 8)] = 0.95;
    p[(0, 5, 0)] = 1;
    prob[(0, 5, 0)] = 0.3;
    let m = match_masks(
        r.view(),
        p.view(),
        Some(prob.view()),
        Connectivity::Full,
        0.5,
        Duplicates::FalsePositive,
    )
    .unwrap();
    assert_eq!(m.lesions, 2);
    // Components are numbered in raster order: the stray voxel in slice 0 comes first.
    let got: Vec<(f64, Outcome)> = m.detections.iter().map(|d| (d.score, d.outcome)).collect();
    assert_eq!(
        got,
        [
            (0.3, Outcome::FalsePositive),
            (0.8, Outcome::TruePositive { lesion: 0 }),
            (0.95, Outcome::FalsePositive),
        ]
    );
    // At IoU ≥ 0.1 the small prediction (1 of 9 voxels) finds the second lesion too.
    let m = match_masks(
        r.view(),
        p.view(),
        None,
        Connectivity::Full,
        0.1,
        Duplicates::FalsePositive,
    )
    .unwrap();
    assert_eq!(m.found(), 2);

    option_error(
        match_masks(
            r.view(),
            p.view(),
            None,
            Connectivity::Faces,
            0.0,
            Duplicates::Ignore,
        ),
        "(0, 1]",
    );
    let small = Array3::<u8>::zeros((3, 10, 9));
    assert!(matches!(
        match_masks(
            r.view(),
            small.view(),
            None,
            Connectivity::Faces,
            0.5,
            Duplicates::Ignore
        ),
        Err(EvalError::GeometryMismatch(_))
    ));
    let mut bad = prob.clone();
    bad[(1, 0, 0)] = f64::NAN;
    input_error(
        match_masks(
            r.view(),
            p.view(),
            Some(bad.view()),
            Connectivity::Full,
            0.5,
            Duplicates::Ignore,
        ),
        "NaN",
    );

    // 6- against 26-connectivity: two voxels touching at a corner.
    let mut corner = Array3::<u8>::zeros((2, 2, 2));
    corner[(0, 0, 0)] = 1;
    corner[(1, 1, 1)] = 1;
    assert_eq!(
        connected_components(corner.view(), Connectivity::Faces)
            .unwrap()
            .count,
        2
    );
    assert_eq!(
        connected_components(corner.view(), Connectivity::Full)
            .unwrap()
            .count,
        1
    );
    let empty = Array3::<u8>::zeros((0, 4, 4));
    assert_eq!(
        connected_components(empty.view(), Connectivity::Full)
            .unwrap()
            .count,
        0
    );
}

#[test]
fn froc_inputs_are_checked() {
    input_error(froc(&[]), "no scans");
    let nothing = ScanMatches {
        detections: vec![],
        lesions: 0,
    };
    input_error(froc(std::slice::from_ref(&nothing)), "no reference lesions");
    let twice = ScanMatches {
        detections: vec![
            MatchedDetection {
                score: 0.5,
                outcome: Outcome::TruePositive { lesion: 0 },
            },
            MatchedDetection {
                score: 0.4,
                outcome: Outcome::TruePositive { lesion: 0 },
            },
        ],
        lesions: 3,
    };
    input_error(froc(&[twice]), "found twice");
    let nan = ScanMatches {
        detections: vec![MatchedDetection {
            score: f64::NAN,
            outcome: Outcome::FalsePositive,
        }],
        lesions: 1,
    };
    input_error(froc(&[nan]), "scan 0");
    // No detections at all: sensitivity 0 everywhere, CPM 0.
    let missed = ScanMatches {
        detections: vec![],
        lesions: 2,
    };
    let c = froc(&[missed.clone(), nothing]).unwrap();
    assert_eq!(c.cpm().score, 0.0);
    // Every replicate of a scan set with a single lesion-bearing scan may lack lesions; those
    // are skipped, never a panic.
    let b = cpm_bootstrap(
        &[
            missed,
            ScanMatches {
                detections: vec![],
                lesions: 0,
            },
        ],
        &BootstrapOptions {
            replicates: 50,
            ..BootstrapOptions::default()
        },
    )
    .unwrap();
    assert!(b.skipped > 0);
    // No false positives anywhere: the FROC curve stays at 0 FP/scan, the CPM is the final
    // sensitivity (numpy.interp beyond the last point).
    let clean = ScanMatches {
        detections: vec![MatchedDetection {
            score: 0.7,
            outcome: Outcome::TruePositive { lesion: 0 },
        }],
        lesions: 2,
    };
    assert_eq!(froc(&[clean]).unwrap().cpm().score, 0.5);
}
