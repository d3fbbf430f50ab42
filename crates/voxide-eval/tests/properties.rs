//! Properties every segmentation metric must have, on random masks and grids: symmetry of the
//! symmetric metrics, ranges, identities, and the exact distance transform against the
//! definition (every feature checked).

use ndarray::Array3;
use proptest::prelude::*;
use voxide_eval::edt::squared_distance_transform;
use voxide_eval::{evaluate_arrays, Convention, Metric, Options};

const CONVENTIONS: [Convention; 3] = [
    Convention::MetricsReloaded,
    Convention::MedPy,
    Convention::SurfaceDistance,
];

/// The metrics that do not depend on which mask is the reference.
const SYMMETRIC: [Metric; 11] = [
    Metric::Dice,
    Metric::Iou,
    Metric::VolumeSimilarity,
    Metric::AbsoluteVolumeDifference,
    Metric::Hausdorff,
    Metric::HausdorffPercentile,
    Metric::Assd,
    Metric::Masd,
    Metric::Nsd,
    Metric::BoundaryIou,
    Metric::CentreOfMassDistance,
];

/// Two random masks on one grid (one slice now and then: 2D) and a random anisotropic spacing.
fn masks() -> impl Strategy<Value = (Array3<u8>, Array3<u8>, [f64; 3])> {
    (1usize..6, 1usize..9, 1usize..9, 0u32..100, 0u32..100)
        .prop_flat_map(|(nk, nj, ni, da, db)| {
            let n = nk * nj * ni;
            (
                proptest::collection::vec(0u32..100, n),
                proptest::collection::vec(0u32..100, n),
                [0.3f64..3.0, 0.3f64..3.0, 0.3f64..3.0],
                Just((nk, nj, ni, da, db)),
            )
        })
        .prop_map(|(a, b, spacing, (nk, nj, ni, da, db))| {
            let a =
                Array3::from_shape_vec((nk, nj, ni), a.iter().map(|&v| u8::from(v < da)).collect())
                    .unwrap();
            let b =
                Array3::from_shape_vec((nk, nj, ni), b.iter().map(|&v| u8::from(v < db)).collect())
                    .unwrap();
            (a, b, spacing)
        })
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn symmetric_metrics_are_symmetric((a, b, spacing) in masks()) {
        for c in CONVENTIONS {
            let o = Options::with_convention(c);
            let ab = evaluate_arrays(a.view(), b.view(), spacing, &o).unwrap();
            let ba = evaluate_arrays(b.view(), a.view(), spacing, &o).unwrap();
            for metric in SYMMETRIC {
                prop_assert!(same(ab.get(metric), ba.get(metric)),
                    "{c:?} {metric:?}: {} vs {}", ab.get(metric), ba.get(metric));
            }
            // Directed quantities swap.
            prop_assert!(same(ab.get(Metric::AsdReferenceToPrediction), ba.get(Metric::AsdPredictionToReference)));
            prop_assert_eq!(ab.true_positives, ba.true_positives);
            prop_assert_eq!(ab.false_positives, ba.false_negatives);
            let (na, nb) = (a.iter().filter(|&&v| v != 0).count(), b.iter().filter(|&&v| v != 0).count());
            if na > 0 && nb > 0 {
                prop_assert!(same(ab.get(Metric::Sensitivity), ba.get(Metric::Precision)));
            }
        }
    }

    #[test]
    fn ranges_and_orderings((a, b, spacing) in masks()) {
        for c in CONVENTIONS {
            let m = evaluate_arrays(a.view(), b.view(), spacing, &Options::with_convention(c)).unwrap();
            for metric in [Metric::Dice, Metric::Iou, Metric::Sensitivity, Metric::Specificity,
                           Metric::Precision, Metric::VolumeSimilarity, Metric::Nsd, Metric::BoundaryIou] {
                let v = m.get(metric);
                prop_assert!(v.is_nan() || (0.0..=1.0).contains(&v), "{c:?} {metric:?} = {v}");
            }
            let dice = m.dice();
            if !dice.is_nan() {
                // IoU = Dice / (2 − Dice) (both from the same counts).
                prop_assert!((m.iou() - dice / (2.0 - dice)).abs() < 1e-12);
            }
            let hd = m.hausdorff();
            for metric in [Metric::HausdorffPercentile, Metric::Assd, Metric::Masd,
                           Metric::AsdReferenceToPrediction, Metric::AsdPredictionToReference] {
                let v = m.get(metric);
                prop_assert!(v.is_nan() || (v >= 0.0 && v <= hd * (1.0 + 1e-12)),
                    "{c:?} {metric:?} = {v} > HD {hd}");
            }
        }
    }

    #[test]
    fn identical_masks_agree_perfectly((a, _b, spacing) in masks()) {
        prop_assume!(a.iter().any(|&v| v != 0));
        for c in CONVENTIONS {
            let m = evaluate_arrays(a.view(), a.view(), spacing, &Options::with_convention(c)).unwrap();
            prop_assert_eq!(m.dice(), 1.0);
            prop_assert_eq!(m.iou(), 1.0);
            prop_assert_eq!(m.hausdorff(), 0.0);
            prop_assert_eq!(m.hausdorff_percentile(), 0.0);
            prop_assert_eq!(m.assd(), 0.0);
            prop_assert_eq!(m.nsd(), 1.0);
            prop_assert_eq!(m.get(Metric::BoundaryIou), 1.0);
            prop_assert_eq!(m.get(Metric::CentreOfMassDistance), 0.0);
        }
    }

    #[test]
    fn distance_transform_is_exact((a, _b, spacing) in masks()) {
        let features = a.mapv(|v| v != 0);
        let got = squared_distance_transform(features.view(), spacing);
        let pts: Vec<(usize, usize, usize)> =
            features.indexed_iter().filter(|(_, &f)| f).map(|(i, _)| i).collect();
        for ((k, j, i), &g) in got.indexed_iter() {
            let want = pts.iter().map(|&(pk, pj, pi)| {
                let dk = (k as f64 - pk as f64) * spacing[2];
                let dj = (j as f64 - pj as f64) * spacing[1];
                let di = (i as f64 - pi as f64) * spacing[0];
                dk * dk + dj * dj + di * di
            }).fold(f64::INFINITY, f64::min);
            prop_assert!(g == want || (g - want).abs() <= 1e-12 * want, "({k},{j},{i}): {g} vs {want}");
        }
    }
}
