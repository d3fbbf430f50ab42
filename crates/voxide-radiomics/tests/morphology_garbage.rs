//! Morphology and local intensity features on degenerate inputs: they must not panic and
//! must report undefined values as NaN.

use ndarray::Array3;
use voxide_radiomics::features::{local_intensity, morphology};
use voxide_radiomics::{Feature, Roi};

fn roi(mask: Array3<bool>, intensity: Array3<f64>, spacing: [f64; 3]) -> Roi {
    Roi {
        intensity,
        intensity_mask: mask.clone(),
        morphological_mask: mask,
        spacing,
    }
}

fn value(f: &[Feature], code: &str) -> f64 {
    f.iter().find(|f| f.ibsi_code == code).unwrap().value
}

#[test]
fn empty_mask() {
    let r = roi(
        Array3::from_elem((3, 4, 5), false),
        Array3::from_elem((3, 4, 5), 1.0),
        [1.0; 3],
    );
    let f = morphology::features(&r);
    assert_eq!(f.len(), 25);
    assert_eq!(value(&f, "RNU0"), 0.0);
    assert_eq!(value(&f, "YEKZ"), 0.0);
    assert_eq!(value(&f, "C0JK"), 0.0);
    for f in f
        .iter()
        .filter(|f| !["RNU0", "YEKZ", "C0JK"].contains(&f.ibsi_code))
    {
        assert!(f.value.is_nan(), "{} = {}", f.name, f.value);
    }
    let l = local_intensity::features(&r);
    assert!(l.iter().all(|f| f.value.is_nan()));
    // Zero-sized arrays too.
    let z = roi(
        Array3::from_elem((0, 0, 0), false),
        Array3::zeros((0, 0, 0)),
        [1.0; 3],
    );
    assert_eq!(morphology::features(&z).len(), 25);
    assert_eq!(local_intensity::features(&z).len(), 2);
}

#[test]
fn one_voxel() {
    let mut mask = Array3::from_elem((3, 3, 3), false);
    mask[(1, 1, 1)] = true;
    let r = roi(mask, Array3::from_elem((3, 3, 3), 7.0), [1.0, 2.0, 3.0]);
    let f = morphology::features(&r);
    // The mesh of one voxel is an octahedron: volume = voxel volume / 6.
    assert!((value(&f, "RNU0") - 1.0).abs() < 1e-12);
    assert_eq!(value(&f, "YEKZ"), 6.0);
    assert!(
        (value(&f, "R3ER") - 1.0).abs() < 1e-12,
        "the octahedron is convex"
    );
    assert_eq!(value(&f, "KLMA"), 0.0);
    assert_eq!(value(&f, "TDIC"), 0.0);
    assert!(value(&f, "Q3CK").is_nan(), "elongation is 0/0");
    assert!(
        value(&f, "N365").is_nan() && value(&f, "NPT7").is_nan(),
        "no voxel pairs"
    );
    assert!((value(&f, "99N0") - 7.0).abs() < 1e-12);
    let l = local_intensity::features(&r);
    assert!(l.iter().all(|f| f.value == 7.0));
}

#[test]
fn flat_intensities_make_autocorrelation_undefined() {
    let r = roi(
        Array3::from_elem((4, 4, 4), true),
        Array3::from_elem((4, 4, 4), 3.0),
        [1.0; 3],
    );
    let f = morphology::features(&r);
    assert!(value(&f, "N365").is_nan());
    assert!(value(&f, "NPT7").is_nan());
    assert!(value(&f, "KLMA").abs() < 1e-12);
    for f in f
        .iter()
        .filter(|f| !["N365", "NPT7"].contains(&f.ibsi_code))
    {
        assert!(f.value.is_finite(), "{} = {}", f.name, f.value);
    }
}

#[test]
fn mismatched_shapes_and_bad_values() {
    let mask = Array3::from_elem((2, 2, 2), true);
    let r = Roi {
        intensity: Array3::from_elem((2, 2, 3), 1.0),
        intensity_mask: mask.clone(),
        morphological_mask: mask.clone(),
        spacing: [1.0; 3],
    };
    let f = morphology::features(&r);
    assert!(value(&f, "99N0").is_nan() && value(&f, "N365").is_nan());
    assert!(
        value(&f, "RNU0") > 0.0,
        "shape features need only the morphological mask"
    );
    assert!(local_intensity::features(&r)
        .iter()
        .all(|f| f.value.is_nan()));
    // NaN intensities, zero and NaN spacings: values may be NaN, but nothing panics.
    let mut v = Array3::from_elem((2, 2, 2), 1.0);
    v[(0, 0, 0)] = f64::NAN;
    for spacing in [[0.0; 3], [f64::NAN, 1.0, 1.0], [1e-9, 1.0, 1e9], [1.0; 3]] {
        let r = roi(mask.clone(), v.clone(), spacing);
        let _ = morphology::features(&r);
        let _ = local_intensity::features(&r);
    }
}
