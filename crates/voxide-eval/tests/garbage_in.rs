//! Bad or degenerate input: a clear error or the documented value, never a panic.

use ndarray::Array3;
use voxide_core::{geometry::IDENTITY, Geometry, Image};
use voxide_eval::{
    evaluate, evaluate_arrays, evaluate_labels, labels_present, Convention, EmptyDistance,
    EvalError, Metric, Options,
};

fn grid(size: [usize; 3], spacing: [f64; 3], origin: [f64; 3]) -> Geometry {
    Geometry::new(size, spacing, origin, IDENTITY).unwrap()
}

fn mask(g: Geometry, f: impl Fn(usize, usize, usize) -> bool) -> Image<u8> {
    let [ni, nj, nk] = g.size();
    let data = Array3::from_shape_fn((nk, nj, ni), |(k, j, i)| u8::from(f(k, j, i)));
    Image::new(g, data).unwrap()
}

fn cube(g: Geometry) -> Image<u8> {
    mask(g, |k, j, i| {
        (1..4).contains(&k) && (2..6).contains(&j) && (2..6).contains(&i)
    })
}

#[test]
fn mismatched_grids_name_what_differs() {
    let base = grid([8, 8, 5], [1.0, 1.0, 2.0], [0.0; 3]);
    let r = cube(base.clone());
    let cases: [(Geometry, &[&str]); 4] = [
        (
            grid([8, 9, 5], [1.0, 1.0, 2.0], [0.0; 3]),
            &["size [8, 8, 5] (reference) vs [8, 9, 5]"],
        ),
        (
            grid([8, 8, 5], [1.0, 1.0, 2.5], [0.0; 3]),
            &["spacing [1.0, 1.0, 2.0] vs [1.0, 1.0, 2.5] mm"],
        ),
        (
            grid([8, 8, 5], [1.0, 1.0, 2.0], [0.0, 0.0, 4.0]),
            &["origin", "(LPS)"],
        ),
        (
            Geometry::new(
                [8, 8, 5],
                [1.0, 1.0, 2.0],
                [0.0; 3],
                [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
            )
            .unwrap(),
            &["direction"],
        ),
    ];
    for (g, wanted) in cases {
        let p = cube(g);
        let err = evaluate(&r, &p, &Options::default()).unwrap_err();
        assert!(matches!(err, EvalError::GeometryMismatch(_)), "{err}");
        let msg = err.to_string();
        for w in wanted {
            assert!(msg.contains(w), "{msg} lacks {w}");
        }
        assert!(
            msg.contains("resample the prediction onto the reference grid"),
            "{msg}"
        );
        // Only what differs is named.
        assert_eq!(msg.matches(" vs ").count(), 1, "{msg}");
        assert!(evaluate_labels(&r, &p, &[1], &Options::default()).is_err());
    }
    // Several differences at once are all named.
    let p = cube(grid([8, 9, 5], [1.0, 1.0, 2.5], [1.0, 0.0, 0.0]));
    let msg = evaluate(&r, &p, &Options::default())
        .unwrap_err()
        .to_string();
    for w in ["size", "spacing", "origin"] {
        assert!(msg.contains(w), "{msg}");
    }
    // Within the grid tolerance (DICOM decimal strings) is the same grid.
    let p = cube(grid([8, 8, 5], [1.0, 1.0, 2.0 + 1e-5], [1e-4, 0.0, 0.0]));
    assert!(evaluate(&r, &p, &Options::default()).is_ok());
    // Array API: shapes must match.
    let a = Array3::<u8>::zeros((2, 3, 4));
    let b = Array3::<u8>::zeros((2, 4, 3));
    let err = evaluate_arrays(a.view(), b.view(), [1.0; 3], &Options::default()).unwrap_err();
    assert!(err.to_string().contains("(2, 3, 4)"), "{err}");
}

#[test]
fn sheared_grid_is_refused() {
    let d = [[1.0, 0.5, 0.0], [0.0, 0.8660254, 0.0], [0.0, 0.0, 1.0]];
    let g = Geometry::new([8, 8, 5], [1.0; 3], [0.0; 3], d).unwrap();
    let err = evaluate(&cube(g.clone()), &cube(g), &Options::default()).unwrap_err();
    assert!(matches!(err, EvalError::UnsupportedGeometry(_)), "{err}");
    // An oblique but orthogonal grid is fine.
    let (c, s) = (0.6, 0.8);
    let g = Geometry::new(
        [8, 8, 5],
        [1.0; 3],
        [0.0; 3],
        [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
    )
    .unwrap();
    assert_eq!(
        evaluate(&cube(g.clone()), &cube(g), &Options::default())
            .unwrap()
            .dice(),
        1.0
    );
}

#[test]
fn invalid_options_and_spacing_are_errors() {
    let g = grid([8, 8, 5], [1.0; 3], [0.0; 3]);
    let (r, p) = (cube(g.clone()), cube(g));
    for o in [
        Options {
            hausdorff_percentile: 100.5,
            ..Options::default()
        },
        Options {
            hausdorff_percentile: f64::NAN,
            ..Options::default()
        },
        Options {
            nsd_tolerance_mm: -1.0,
            ..Options::default()
        },
        Options {
            nsd_tolerance_mm: f64::INFINITY,
            ..Options::default()
        },
        Options {
            boundary_iou_distance_mm: 0.0,
            ..Options::default()
        },
        Options {
            empty_distance: EmptyDistance::Fixed(f64::NAN),
            ..Options::default()
        },
    ] {
        let err = evaluate(&r, &p, &o).unwrap_err();
        assert!(matches!(err, EvalError::InvalidOption(_)), "{err}");
    }
    let a = Array3::<u8>::ones((2, 2, 2));
    for s in [[0.0, 1.0, 1.0], [1.0, f64::NAN, 1.0], [1.0, 1.0, -2.0]] {
        assert!(evaluate_arrays(a.view(), a.view(), s, &Options::default()).is_err());
    }
}

#[test]
fn degenerate_grids_do_not_panic() {
    for c in [
        Convention::MetricsReloaded,
        Convention::MedPy,
        Convention::SurfaceDistance,
    ] {
        let o = Options::with_convention(c);
        // No voxel at all.
        let e = Array3::<u8>::zeros((0, 4, 4));
        let m = evaluate_arrays(e.view(), e.view(), [1.0; 3], &o).unwrap();
        assert_eq!(m.true_negatives, 0);
        // Masks filling the whole grid: their surface is the image border.
        let full = Array3::<u8>::ones((3, 4, 5));
        let m = evaluate_arrays(full.view(), full.view(), [1.0, 2.0, 3.0], &o).unwrap();
        assert_eq!(m.hausdorff(), 0.0);
        assert!(
            m.get(Metric::Specificity).is_nan(),
            "{c:?}: no reference background"
        );
        // One voxel; one row; extreme spacings.
        let mut one = Array3::<u8>::zeros((1, 1, 1));
        one[[0, 0, 0]] = 7;
        let m = evaluate_arrays(one.view(), one.view(), [1e-9, 1e300, 1.0], &o).unwrap();
        assert_eq!(m.dice(), 1.0);
        let a = Array3::from_shape_fn((2, 1, 9), |(k, _, i)| u8::from(i < 4 + k));
        let b = Array3::from_shape_fn((2, 1, 9), |(_, _, i)| u8::from(i > 2));
        let m = evaluate_arrays(a.view(), b.view(), [1e300, 1e300, 1e300], &o).unwrap();
        assert!(m.hausdorff() >= 0.0 || m.hausdorff().is_nan());
    }
}

#[test]
fn empty_masks_follow_the_default_convention() {
    // MetricsReloaded's BinaryPairwiseMeasures: dsc() is 1 with both masks empty, measured_distance
    // returns 0 for every distance, rel_vol_error() is 0, sensitivity() and
    // positive_predictive_values() are NaN; voxide's documented extensions: IoU, NSD and
    // boundary IoU 1; NaN distances with one mask empty unless a worst case is chosen.
    let g = grid([10, 9, 4], [0.5, 0.5, 2.0], [0.0; 3]);
    let empty = mask(g.clone(), |_, _, _| false);
    let r = cube(g.clone());
    let o = Options::default();
    let m = evaluate(&empty, &empty, &o).unwrap();
    for (metric, v) in [
        (Metric::Dice, 1.0),
        (Metric::Iou, 1.0),
        (Metric::Nsd, 1.0),
        (Metric::BoundaryIou, 1.0),
        (Metric::VolumeSimilarity, 1.0),
        (Metric::Hausdorff, 0.0),
        (Metric::HausdorffPercentile, 0.0),
        (Metric::Assd, 0.0),
        (Metric::Masd, 0.0),
        (Metric::RelativeVolumeDifference, 0.0),
        (Metric::Specificity, 1.0),
    ] {
        assert_eq!(m.get(metric), v, "both empty: {metric:?}");
    }
    for metric in [
        Metric::Sensitivity,
        Metric::Precision,
        Metric::CentreOfMassDistance,
    ] {
        assert!(m.get(metric).is_nan(), "both empty: {metric:?}");
    }

    let m = evaluate(&r, &empty, &o).unwrap();
    assert_eq!((m.dice(), m.iou(), m.nsd()), (0.0, 0.0, 0.0));
    assert_eq!(
        (m.get(Metric::Sensitivity), m.get(Metric::Precision)),
        (0.0, 0.0)
    );
    assert_eq!(m.get(Metric::RelativeVolumeDifference), -1.0);
    assert!(m.hausdorff().is_nan() && m.assd().is_nan());
    let m = evaluate(&empty, &r, &o).unwrap();
    assert!(m.get(Metric::Sensitivity).is_nan());
    assert_eq!(m.get(Metric::Precision), 0.0);
    assert_eq!(m.get(Metric::RelativeVolumeDifference), f64::INFINITY);

    // Worst cases on request: the diagonal between the outermost voxel centres, or a value.
    let diag = (4.5f64 * 4.5 + 4.0 * 4.0 + 6.0 * 6.0).sqrt();
    let o = Options {
        empty_distance: EmptyDistance::ImageDiagonal,
        ..Options::default()
    };
    let m = evaluate(&r, &empty, &o).unwrap();
    assert_eq!(m.hausdorff(), diag);
    assert_eq!(m.get(Metric::Masd), diag);
    let o = Options {
        empty_distance: EmptyDistance::Fixed(373.0),
        ..Options::default()
    };
    assert_eq!(
        evaluate(&empty, &r, &o).unwrap().hausdorff_percentile(),
        373.0
    );
}

#[test]
fn labels_present_lists_both_images() {
    let g = grid([4, 4, 1], [1.0; 3], [0.0; 3]);
    let a = mask(g.clone(), |_, j, _| j == 1);
    let b = Image::new(
        g.clone(),
        Array3::from_shape_fn(
            (1, 4, 4),
            |(_, j, i)| if j == 3 { 9 } else { u8::from(i == 0) * 4 },
        ),
    )
    .unwrap();
    assert_eq!(labels_present(&a, &b), vec![1, 4, 9]);
    let report = evaluate_labels(&a, &b, &[1, 4, 9], &Options::default()).unwrap();
    assert_eq!(report.labels.len(), 3);
    assert_eq!(report.mean.get(Metric::Dice), 0.0);
    // No label requested: nothing to average.
    let none = evaluate_labels(&a, &b, &[], &Options::default()).unwrap();
    assert!(none.mean.get(Metric::Dice).is_nan());
    assert_eq!(none.mean.defined(Metric::Dice), 0);
}
