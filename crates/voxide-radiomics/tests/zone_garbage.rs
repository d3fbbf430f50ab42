//! Garbage in for the zone and neighbourhood families (GLSZM, GLDZM, NGTDM, NGLDM): odd
//! ROIs and arrays must give defined values or `NaN`, never a panic.

use ndarray::{Array3, ShapeBuilder};
use voxide_radiomics::features::{gldzm, glszm, ngldm, ngtdm};
use voxide_radiomics::{Aggregation, Feature};

const ALL: [Aggregation; 3] = [
    Aggregation::Slice2D,
    Aggregation::Volume25D,
    Aggregation::Volume3D,
];

/// All four families at all three aggregations; the morphological mask is the intensity mask.
fn all_families(levels: &Array3<u32>, n_levels: usize) -> Vec<Feature> {
    let mask = levels.mapv(|l| l > 0);
    let mut f = glszm::features(levels, n_levels, &ALL);
    f.extend(gldzm::features(levels, &mask, n_levels, &ALL));
    f.extend(ngtdm::features(levels, n_levels, &ALL));
    f.extend(ngldm::features(levels, n_levels, &ALL));
    assert_eq!(f.len(), 3 * (16 + 16 + 5 + 17));
    f
}

fn value(f: &[Feature], code: &str, a: Aggregation) -> f64 {
    f.iter()
        .find(|f| f.ibsi_code == code && f.aggregation == Some(a))
        .map_or(f64::NAN, |f| f.value)
}

#[test]
fn empty_roi_is_nan() {
    for shape in [(3, 4, 5), (0, 4, 5), (3, 0, 5), (1, 1, 0)] {
        let f = all_families(&Array3::zeros(shape), 8);
        assert!(f.iter().all(|f| f.value.is_nan()), "{shape:?}");
    }
}

#[test]
fn single_voxel_roi() {
    for at in [[0, 0, 0], [2, 3, 4], [1, 2, 2]] {
        let mut a = Array3::<u32>::zeros((3, 4, 5));
        a[at] = 3;
        let f = all_families(&a, 8);
        // One zone of one voxel at distance 1: everything defined.
        assert_eq!(value(&f, "P30P", Aggregation::Volume3D), 1.0);
        assert_eq!(value(&f, "0GBI", Aggregation::Slice2D), 1.0);
        assert_eq!(value(&f, "SODN", Aggregation::Volume25D), 1.0);
        // No voxel has a neighbour in the ROI: NGTDM is undefined (N_v,c = 0).
        for (_, code) in ngtdm::FEATURES {
            for a in ALL {
                assert!(value(&f, code, a).is_nan(), "{code} {a:?}");
            }
        }
        for f in f.iter().filter(|f| !f.name.starts_with("ngtdm")) {
            assert!(f.value.is_finite(), "{f:?}");
        }
    }
}

#[test]
fn flat_roi_touching_the_border() {
    // One level filling the whole array: every slice and the volume are one zone touching
    // the array border, which counts as the ROI edge.
    let a = Array3::from_elem((4, 5, 6), 2u32);
    let f = all_families(&a, 4);
    assert!(f.iter().all(|f| f.value.is_finite()), "{f:#?}");
    assert_eq!(value(&f, "48P8", Aggregation::Volume3D), 120.0 * 120.0);
    // Distance 1 for every zone: all zones touch the border.
    assert_eq!(value(&f, "MB4I", Aggregation::Volume3D), 1.0);
    assert_eq!(value(&f, "MB4I", Aggregation::Volume25D), 1.0);
    // NGTDM of a single level: coarseness capped, the rest 0.
    assert_eq!(
        value(&f, "QCDE", Aggregation::Volume3D),
        ngtdm::MAX_COARSENESS
    );
    assert_eq!(value(&f, "65HE", Aggregation::Volume3D), 0.0);
    assert_eq!(value(&f, "NQ30", Aggregation::Volume3D), 0.0);
    assert_eq!(value(&f, "1X9X", Aggregation::Volume3D), 0.0);
    // Single-voxel-thick volumes and lines.
    for shape in [(1, 5, 6), (4, 1, 6), (4, 5, 1), (1, 1, 7), (1, 1, 1)] {
        let f = all_families(&Array3::from_elem(shape, 1u32), 1);
        for f in f.iter().filter(|f| !f.name.starts_with("ngtdm")) {
            assert!(f.value.is_finite(), "{shape:?} {f:?}");
        }
    }
}

#[test]
fn layout_does_not_matter() {
    // The same levels in C and Fortran memory order give the same features.
    let shape = (3, 4, 5);
    let c = Array3::from_shape_fn(shape, |(k, j, i)| ((k * 7 + j * 3 + i) % 5) as u32);
    let mut f = Array3::<u32>::zeros(shape.f());
    f.assign(&c);
    assert!(f.as_slice().is_none());
    let (a, b) = (all_families(&c, 4), all_families(&f, 4));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.ibsi_code, y.ibsi_code);
        assert!(x.value == y.value || (x.value.is_nan() && y.value.is_nan()));
    }
}

#[test]
fn odd_levels_and_settings() {
    let mut a = Array3::from_shape_fn((3, 4, 5), |(k, j, i)| ((k + j + i) % 3) as u32);
    // Levels above n_levels, up to the largest u32, and n_levels of 0 or absurdly large.
    a[[1, 1, 1]] = 1000;
    a[[2, 3, 4]] = u32::MAX;
    for n_levels in [0, 2, usize::MAX] {
        let f = all_families(&a, n_levels);
        for f in &f {
            assert!(!f.value.is_infinite(), "{f:?}");
        }
    }
    // Aggregations without meaning for these families are skipped; repeats are repeated.
    let f = glszm::features(
        &a,
        2,
        &[
            Aggregation::Volume3DMerged,
            Aggregation::Volume3D,
            Aggregation::Volume3D,
        ],
    );
    assert_eq!(f.len(), 32);
    // GLDZM with a mask of another shape: NaN, not a panic.
    let f = gldzm::features(&a, &Array3::from_elem((3, 4, 6), true), 2, &ALL);
    assert_eq!(f.len(), 48);
    assert!(f.iter().all(|f| f.value.is_nan()));
}
