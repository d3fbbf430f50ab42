//! The six directional aggregations of GLCM and GLRLM recomputed by hand from the public
//! matrix functions, on a ROI with an empty slice, a single-voxel slice and a flat slice.

use ndarray::{Array3, ShapeBuilder};
use voxide_radiomics::features::{glcm, glrlm};
use voxide_radiomics::{Aggregation, Feature};

const ALL: [Aggregation; 6] = [
    Aggregation::Slice2DAveraged,
    Aggregation::Slice2DMerged,
    Aggregation::Volume25DDirectionMerged,
    Aggregation::Volume25DMerged,
    Aggregation::Volume3DAveraged,
    Aggregation::Volume3DMerged,
];

/// 7 slices of 6 × 5: slice 0 empty, slice 1 a single voxel, slice 2 flat, the others
/// pseudo-random levels 1..=5 with some voxels outside the ROI.
fn awkward_roi() -> Array3<u32> {
    let mut state = 12345u64;
    let mut a = Array3::from_shape_simple_fn((7, 6, 5), || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let r = (state >> 33) % 7;
        if r >= 5 {
            0
        } else {
            r as u32 + 1
        }
    });
    a.index_axis_mut(ndarray::Axis(0), 0).fill(0);
    a.index_axis_mut(ndarray::Axis(0), 1).fill(0);
    a[[1, 2, 3]] = 4;
    a.index_axis_mut(ndarray::Axis(0), 2).fill(2);
    a
}

fn nan_mean(rows: &[Vec<f64>]) -> Vec<f64> {
    let n = rows.first().map_or(0, |r| r.len());
    (0..n)
        .map(|f| {
            let defined: Vec<f64> = rows.iter().map(|r| r[f]).filter(|v| !v.is_nan()).collect();
            if defined.is_empty() {
                f64::NAN
            } else {
                defined.iter().sum::<f64>() / defined.len() as f64
            }
        })
        .collect()
}

fn assert_close(features: &[Feature], a: Aggregation, expected: &[f64]) {
    let got: Vec<f64> = features
        .iter()
        .filter(|f| f.aggregation == Some(a))
        .map(|f| f.value)
        .collect();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(expected) {
        assert!(
            (g.is_nan() && e.is_nan()) || (g - e).abs() <= 1e-12 * e.abs().max(1.0),
            "{a:?}: {got:?} vs {expected:?}"
        );
    }
}

#[test]
fn glcm_aggregations_by_hand() {
    let levels = awkward_roi();
    let n = 5;
    let features = glcm::features(&levels, n, &ALL);
    let values = |m: &glcm::Glcm| glcm::ibsi_values(m).to_vec();

    let mut per_dir = Vec::new();
    let mut per_slice = Vec::new();
    for k in 1..7 {
        let mats = glcm::slice_matrices(&levels, n, 1, k).unwrap();
        let mut merged = glcm::Glcm::zeros(n);
        for m in &mats {
            per_dir.push(values(m));
            merged.add(m);
        }
        per_slice.push(values(&merged));
    }
    // The single-voxel slice has only empty matrices: all NaN, skipped by the mean.
    assert!(per_slice[0].iter().all(|v| v.is_nan()));
    assert_close(&features, Aggregation::Slice2DAveraged, &nan_mean(&per_dir));
    assert_close(&features, Aggregation::Slice2DMerged, &nan_mean(&per_slice));

    let vol = glcm::volume_matrices(&levels, n, 1).unwrap();
    let in_plane: Vec<Vec<f64>> = vol[..4].iter().map(values).collect();
    assert_close(
        &features,
        Aggregation::Volume25DDirectionMerged,
        &nan_mean(&in_plane),
    );
    let mut merged = glcm::Glcm::zeros(n);
    vol[..4].iter().for_each(|m| merged.add(m));
    assert_close(&features, Aggregation::Volume25DMerged, &values(&merged));
    let all: Vec<Vec<f64>> = vol.iter().map(values).collect();
    assert_close(&features, Aggregation::Volume3DAveraged, &nan_mean(&all));
    vol[4..].iter().for_each(|m| merged.add(m));
    assert_close(&features, Aggregation::Volume3DMerged, &values(&merged));
}

#[test]
fn glrlm_aggregations_by_hand() {
    let levels = awkward_roi();
    let n = 5;
    let features = glrlm::features(&levels, n, &ALL);
    let values = |m: &glrlm::Glrlm| glrlm::ibsi_values(m).to_vec();

    let mut per_dir = Vec::new();
    let mut per_slice = Vec::new();
    for k in 1..7 {
        let mats = glrlm::slice_matrices(&levels, n, k).unwrap();
        let mut merged = glrlm::Glrlm::zeros(n);
        for m in &mats {
            per_dir.push(values(m));
            merged.add(m);
        }
        per_slice.push(values(&merged));
    }
    assert_close(&features, Aggregation::Slice2DAveraged, &nan_mean(&per_dir));
    assert_close(&features, Aggregation::Slice2DMerged, &nan_mean(&per_slice));

    let vol = glrlm::volume_matrices(&levels, n).unwrap();
    let in_plane: Vec<Vec<f64>> = vol[..4].iter().map(values).collect();
    assert_close(
        &features,
        Aggregation::Volume25DDirectionMerged,
        &nan_mean(&in_plane),
    );
    let mut merged = glrlm::Glrlm::zeros(n);
    vol[..4].iter().for_each(|m| merged.add(m));
    assert_close(&features, Aggregation::Volume25DMerged, &values(&merged));
    let all: Vec<Vec<f64>> = vol.iter().map(values).collect();
    assert_close(&features, Aggregation::Volume3DAveraged, &nan_mean(&all));
    vol[4..].iter().for_each(|m| merged.add(m));
    assert_close(&features, Aggregation::Volume3DMerged, &values(&merged));
    // Merged matrices sum N_v: 13 directions × the ROI voxels.
    let roi_voxels = levels.iter().filter(|&&v| v != 0).count() as f64;
    assert_eq!(merged.n_voxels(), 13.0 * roi_voxels);
}

#[test]
fn memory_layout_does_not_matter() {
    let levels = awkward_roi();
    let mut fortran = Array3::<u32>::zeros(levels.dim().f());
    fortran.assign(&levels);
    assert!(fortran.as_slice().is_none());
    assert_eq!(
        glcm::features(&levels, 5, &ALL),
        glcm::features(&fortran, 5, &ALL)
    );
    assert_eq!(
        glrlm::features(&levels, 5, &ALL),
        glrlm::features(&fortran, 5, &ALL)
    );
}

#[test]
fn requested_order_and_repeats() {
    let levels = awkward_roi();
    let asked = [
        Aggregation::Volume3DMerged,
        Aggregation::Slice2D,
        Aggregation::Slice2DAveraged,
        Aggregation::Volume3DMerged,
    ];
    let f = glcm::features(&levels, 5, &asked);
    assert_eq!(f.len(), 2 * 25);
    assert_eq!(f[0].aggregation, Some(Aggregation::Volume3DMerged));
    assert_eq!(f[25].aggregation, Some(Aggregation::Slice2DAveraged));
    assert_eq!((f[0].name, f[0].ibsi_code), ("cm_joint_max", "GYBY"));
    let f = glrlm::features(&levels, 5, &asked);
    assert_eq!(f.len(), 2 * 16);
    assert_eq!((f[0].name, f[0].ibsi_code), ("rlm_sre", "22OV"));
}
