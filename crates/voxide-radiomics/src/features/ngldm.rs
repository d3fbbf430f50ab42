//! Neighbouring grey level dependence matrix (NGLDM) features (IBSI 3.11, REK0).
//!
//! Every ROI voxel is the centre of a neighbourhood (Chebyshev distance 1: 26 neighbours in
//! 3D, 8 within the slice in 2D). Its dependence count is 1 (itself) plus the neighbours inside
//! the ROI whose level differs from the centre's by at most the coarseness `alpha` (IBSI
//! default 0); neighbours outside the ROI never count, and incomplete neighbourhoods are
//! kept, so the number of neighbourhoods equals the number of ROI voxels.

use ndarray::Array3;

use super::lattice::{self, LevelIndex, Shape};
use super::zone_matrix::{self, idx, ZoneMatrix, N_VALUES};
use crate::{Aggregation, Feature};

/// The 17 NGLDM features in output order: `(name, IBSI code)`. Names follow the IBSI labels,
/// including `ngldm_normalised_dependence_count_non_uniformity`, whose word order differs
/// from the other normalised features.
pub const FEATURES: [(&str, &str); 17] = [
    ("ngldm_low_dependence_emphasis", "SODN"),
    ("ngldm_high_dependence_emphasis", "IMOQ"),
    ("ngldm_low_grey_level_count_emphasis", "TL9H"),
    ("ngldm_high_grey_level_count_emphasis", "OAE7"),
    ("ngldm_low_dependence_low_grey_level_emphasis", "EQ3F"),
    ("ngldm_low_dependence_high_grey_level_emphasis", "JA6D"),
    ("ngldm_high_dependence_low_grey_level_emphasis", "NBZI"),
    ("ngldm_high_dependence_high_grey_level_emphasis", "9QMG"),
    ("ngldm_grey_level_non_uniformity", "FP8K"),
    ("ngldm_grey_level_non_uniformity_normalised", "5SPA"),
    ("ngldm_dependence_count_non_uniformity", "Z87G"),
    ("ngldm_normalised_dependence_count_non_uniformity", "OKJI"),
    ("ngldm_dependence_count_percentage", "6XV8"),
    ("ngldm_grey_level_variance", "1PFV"),
    ("ngldm_dependence_count_variance", "DNX2"),
    ("ngldm_dependence_count_entropy", "FCBV"),
    ("ngldm_dependence_count_energy", "CAS9"),
];

/// Positions of [`FEATURES`] in the shared zone-matrix formulas.
const INDICES: [usize; N_VALUES] = [
    idx::SMALL,
    idx::LARGE,
    idx::LOW_GREY,
    idx::HIGH_GREY,
    idx::SMALL_LOW,
    idx::SMALL_HIGH,
    idx::LARGE_LOW,
    idx::LARGE_HIGH,
    idx::GLNU,
    idx::GLNU_NORM,
    idx::COLUMN_NU,
    idx::COLUMN_NU_NORM,
    idx::PERCENTAGE,
    idx::GREY_VARIANCE,
    idx::COLUMN_VARIANCE,
    idx::ENTROPY,
    idx::ENERGY,
];

/// Dependence counts range over 1..=27 (centre plus 26 neighbours).
const MAX_DEPENDENCE: usize = 27;

/// NGLDM features (coarseness `alpha` = 0, distance 1) of discretised `levels` (0 outside the
/// ROI) for each requested aggregation ([`Aggregation::Slice2D`], [`Aggregation::Volume25D`],
/// [`Aggregation::Volume3D`]; others are skipped). Values are `NaN` when the ROI is empty.
pub fn features(
    levels: &Array3<u32>,
    n_levels: usize,
    aggregations: &[Aggregation],
) -> Vec<Feature> {
    let data = lattice::flat(levels);
    let shape = Shape::of(levels);
    let index = LevelIndex::new(&data);
    let n_rows = lattice::row_count(&data, n_levels);
    let plane = shape.plane();
    lattice::aggregate(
        aggregations,
        shape.nk,
        &FEATURES,
        |k| {
            let slice = &data[k * plane..(k + 1) * plane];
            let m = build(slice, shape.slice(), &index, n_rows, 0);
            (!m.is_empty()).then_some(m)
        },
        || build(&data, shape, &index, n_rows, 0),
        ZoneMatrix::merge,
        values,
    )
}

/// The IBSI feature values of an NGLDM in [`FEATURES`] order; `None` for an empty matrix.
pub fn values(matrix: &ZoneMatrix) -> Option<[f64; 17]> {
    zone_matrix::select(zone_matrix::ibsi_values(matrix), &INDICES)
}

/// The 3D NGLDM (26 neighbours) of discretised `levels` with coarseness `alpha`: rows are
/// grey levels, columns dependence counts `1..=27`.
pub fn matrix(levels: &Array3<u32>, n_levels: usize, alpha: u32) -> ZoneMatrix {
    let data = lattice::flat(levels);
    let index = LevelIndex::new(&data);
    let n_rows = lattice::row_count(&data, n_levels);
    build(&data, Shape::of(levels), &index, n_rows, alpha)
}

/// The 2D NGLDM (8 in-slice neighbours, dependence counts `1..=9`) of every slice `k`, in slice
/// order; slices without ROI voxels give empty matrices.
pub fn slice_matrices(levels: &Array3<u32>, n_levels: usize, alpha: u32) -> Vec<ZoneMatrix> {
    let data = lattice::flat(levels);
    let shape = Shape::of(levels);
    let index = LevelIndex::new(&data);
    let n_rows = lattice::row_count(&data, n_levels);
    let plane = shape.plane();
    (0..shape.nk)
        .map(|k| {
            let slice = &data[k * plane..(k + 1) * plane];
            build(slice, shape.slice(), &index, n_rows, alpha)
        })
        .collect()
}

fn build(data: &[u32], shape: Shape, index: &LevelIndex, n_rows: usize, alpha: u32) -> ZoneMatrix {
    // Dense table over the levels present × dependence counts: at most 27 columns.
    let mut table = vec![0u64; index.len() * MAX_DEPENDENCE];
    let mut n_voxels = 0u64;
    let geometry = shape.padded();
    let padded = geometry.pad(data);
    // Summed over the whole neighbourhood, centre included: the centre always depends on
    // itself, which is the "1 +" of the IBSI count. Level 0 (outside) never counts.
    let dependent = |x: u32, c: u32| u32::from(x != 0 && x.abs_diff(c) <= alpha);
    geometry.for_each_row_sum(&padded, dependent, |row, acc| {
        for (&level, &dependence) in padded[row].iter().zip(acc) {
            if level > 0 {
                n_voxels += 1;
                let column = (dependence as usize).clamp(1, MAX_DEPENDENCE);
                table[index.slot(level) * MAX_DEPENDENCE + column - 1] += 1;
            }
        }
    });
    ZoneMatrix::from_dense(n_rows, index.levels(), MAX_DEPENDENCE, &table, n_voxels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_dependences() {
        // 1 1 2
        // 1 2 2
        // 3 3 2   (one slice, 8 neighbours, alpha 0)
        let a = Array3::from_shape_vec((1, 3, 3), vec![1, 1, 2, 1, 2, 2, 3, 3, 2]).unwrap();
        let m = matrix(&a, 3, 0);
        // Level 1: each of the three 1s sees the other two → dependence 3.
        assert_eq!(m.get(1, 3), 3);
        // Level 2: (0,2) sees (1,1), (1,2) → 3; (1,1) sees (0,2), (1,2), (2,2) → 4;
        // (1,2) sees (0,2), (1,1), (2,2) → 4; (2,2) sees (1,1), (1,2) → 3.
        assert_eq!(m.get(2, 3), 2);
        assert_eq!(m.get(2, 4), 2);
        // Level 3: the two 3s see each other → 2.
        assert_eq!(m.get(3, 2), 2);
        assert_eq!(m.total(), 9);
        // With alpha 1 every neighbour of a 2 counts.
        let m1 = matrix(&a, 3, 1);
        assert_eq!(m1.get(2, 9), 1);
    }

    #[test]
    fn percentage_is_one() {
        let a = Array3::from_shape_fn((3, 4, 5), |(k, j, i)| ((k + 2 * j + i) % 4) as u32);
        let f = features(&a, 3, &[Aggregation::Volume3D, Aggregation::Slice2D]);
        for f in f.iter().filter(|f| f.ibsi_code == "6XV8") {
            assert_eq!(f.value, 1.0);
        }
    }

    #[test]
    fn garbage_in() {
        let all = [
            Aggregation::Slice2D,
            Aggregation::Volume25D,
            Aggregation::Volume3D,
        ];
        let empty = Array3::<u32>::zeros((2, 3, 3));
        let f = features(&empty, 4, &all);
        assert_eq!(f.len(), 51);
        assert!(f.iter().all(|f| f.value.is_nan()));
        let mut one = Array3::<u32>::zeros((2, 3, 3));
        one[[0, 2, 2]] = 4;
        let f = features(&one, 4, &all);
        assert!(f.iter().all(|f| f.value.is_finite()));
        let flat = Array3::from_elem((2, 3, 3), 2u32);
        let f = features(&flat, usize::MAX, &all);
        assert!(f.iter().all(|f| f.value.is_finite()));
    }
}
