//! Grey level size zone matrix (GLSZM) features (IBSI 3.8, 9SAK).
//!
//! A zone is a connected component of voxels sharing one discretised grey level: 26-connected
//! in 3D and 8-connected within a slice in 2D (IBSI default linkage, Chebyshev distance 1).
//! The matrix counts zones by grey level (row) and size in voxels (column).

use ndarray::Array3;

use super::lattice::{self, Shape};
use super::zone_matrix::{self, idx, ZoneMatrix};
use crate::{Aggregation, Feature};

/// The 16 GLSZM features in output order: `(name, IBSI code)`.
///
/// The IBSI manual prints no code for *small zone emphasis*; `5QRC` is its identifier in the
/// IBSI feature ontology.
pub const FEATURES: [(&str, &str); 16] = [
    ("szm_small_zone_emphasis", "5QRC"),
    ("szm_large_zone_emphasis", "48P8"),
    ("szm_low_grey_level_zone_emphasis", "XMSY"),
    ("szm_high_grey_level_zone_emphasis", "5GN9"),
    ("szm_small_zone_low_grey_level_emphasis", "5RAI"),
    ("szm_small_zone_high_grey_level_emphasis", "HW1V"),
    ("szm_large_zone_low_grey_level_emphasis", "YH51"),
    ("szm_large_zone_high_grey_level_emphasis", "J17V"),
    ("szm_grey_level_non_uniformity", "JNSA"),
    ("szm_grey_level_non_uniformity_normalised", "Y1RO"),
    ("szm_zone_size_non_uniformity", "4JP3"),
    ("szm_zone_size_non_uniformity_normalised", "VB3A"),
    ("szm_zone_percentage", "P30P"),
    ("szm_grey_level_variance", "BYLV"),
    ("szm_zone_size_variance", "3NSA"),
    ("szm_zone_size_entropy", "GU8N"),
];

/// Positions of [`FEATURES`] in the shared zone-matrix formulas.
const INDICES: [usize; 16] = [
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
];

/// GLSZM features of discretised `levels` (0 outside the ROI) for each requested aggregation
/// ([`Aggregation::Slice2D`], [`Aggregation::Volume25D`], [`Aggregation::Volume3D`]; others are
/// skipped). Values are `NaN` when the ROI is empty.
pub fn features(
    levels: &Array3<u32>,
    n_levels: usize,
    aggregations: &[Aggregation],
) -> Vec<Feature> {
    let data = lattice::flat(levels);
    let shape = Shape::of(levels);
    let n_rows = lattice::row_count(&data, n_levels);
    let plane = shape.plane();
    lattice::aggregate(
        aggregations,
        shape.nk,
        &FEATURES,
        |k| {
            let m = zone_matrix_of(&data[k * plane..(k + 1) * plane], shape.slice(), n_rows);
            (!m.is_empty()).then_some(m)
        },
        || zone_matrix_of(&data, shape, n_rows),
        ZoneMatrix::merge,
        values,
    )
}

/// The IBSI feature values of a GLSZM in [`FEATURES`] order; `None` for an empty matrix.
pub fn values(matrix: &ZoneMatrix) -> Option<[f64; 16]> {
    zone_matrix::select(zone_matrix::ibsi_values(matrix), &INDICES)
}

/// The 3D GLSZM (26-connected zones) of discretised `levels`, 0 meaning outside the ROI.
pub fn matrix(levels: &Array3<u32>, n_levels: usize) -> ZoneMatrix {
    let data = lattice::flat(levels);
    let n_rows = lattice::row_count(&data, n_levels);
    zone_matrix_of(&data, Shape::of(levels), n_rows)
}

/// The 2D GLSZM (8-connected zones) of every slice `k`, in slice order; slices without ROI
/// voxels give empty matrices.
pub fn slice_matrices(levels: &Array3<u32>, n_levels: usize) -> Vec<ZoneMatrix> {
    let data = lattice::flat(levels);
    let shape = Shape::of(levels);
    let n_rows = lattice::row_count(&data, n_levels);
    let plane = shape.plane();
    (0..shape.nk)
        .map(|k| zone_matrix_of(&data[k * plane..(k + 1) * plane], shape.slice(), n_rows))
        .collect()
}

fn zone_matrix_of(data: &[u32], shape: Shape, n_rows: usize) -> ZoneMatrix {
    let mut pairs = Vec::new();
    let mut n_voxels = 0u64;
    for_each_zone(data, shape, |level, voxels| {
        n_voxels += voxels.len() as u64;
        pairs.push((level, u32::try_from(voxels.len()).unwrap_or(u32::MAX)));
    });
    ZoneMatrix::from_pairs(n_rows, pairs, n_voxels)
}

/// Calls `on_zone(level, voxels)` once per zone: a 26-connected (8-connected when
/// `shape.nk == 1`) component of voxels with the same non-zero level, `voxels` holding its
/// flat indices.
///
/// Breadth-first flood fill over one reusable queue: no recursion (a large zone would overflow
/// the stack) and no allocation per voxel or per zone. The queue doubles as the zone's voxel
/// list, which GLDZM needs to find the zone's distance to the ROI edge.
pub(crate) fn for_each_zone(data: &[u32], shape: Shape, mut on_zone: impl FnMut(u32, &[usize])) {
    let n = shape.len().min(data.len());
    let mut visited = vec![false; n];
    let mut queue: Vec<usize> = Vec::new();
    for start in 0..n {
        let level = data[start];
        if level == 0 || visited[start] {
            continue;
        }
        visited[start] = true;
        queue.clear();
        queue.push(start);
        let mut head = 0;
        while head < queue.len() {
            let v = queue[head];
            head += 1;
            shape.for_each_neighbour(v, |u| {
                if !visited[u] && data[u] == level {
                    visited[u] = true;
                    queue.push(u);
                }
            });
        }
        on_zone(level, &queue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    fn slice(rows: &[&[u32]]) -> Array3<u32> {
        let nj = rows.len();
        let ni = rows[0].len();
        Array3::from_shape_fn((1, nj, ni), |(_, j, i)| rows[j][i])
    }

    #[test]
    fn hand_checked_zones() {
        // 8-connected zones, counted by hand: level 2 links (2,1)-(3,2) diagonally.
        let a = slice(&[&[1, 2, 2, 3], &[1, 2, 3, 3], &[4, 2, 4, 1], &[4, 1, 2, 3]]);
        let m = matrix(&a, 4);
        assert_eq!(m.get(1, 1), 2);
        assert_eq!(m.get(1, 2), 1);
        assert_eq!(m.get(2, 5), 1);
        assert_eq!(m.get(3, 3), 1);
        assert_eq!(m.get(3, 1), 1);
        assert_eq!(m.get(4, 1), 1);
        assert_eq!(m.get(4, 2), 1);
        assert_eq!(m.total(), 8);
        assert_eq!(m.n_voxels(), 16);
    }

    #[test]
    fn diagonal_links_in_3d_not_across_slices_in_2d() {
        let mut a = Array3::zeros((2, 2, 2));
        a[[0, 0, 0]] = 1;
        a[[1, 1, 1]] = 1;
        let m3 = matrix(&a, 1);
        assert_eq!(m3.get(1, 2), 1);
        let ms = slice_matrices(&a, 1);
        assert_eq!(ms.len(), 2);
        assert!(ms.iter().all(|m| m.get(1, 1) == 1 && m.total() == 1));
    }

    #[test]
    fn garbage_in() {
        let all = [
            Aggregation::Slice2D,
            Aggregation::Volume25D,
            Aggregation::Volume3D,
        ];
        // Empty ROI: NaN everywhere.
        let empty = Array3::<u32>::zeros((3, 4, 5));
        let f = features(&empty, 8, &all);
        assert_eq!(f.len(), 48);
        assert!(f.iter().all(|f| f.value.is_nan()));
        // Zero-sized array.
        let f = features(&Array3::<u32>::zeros((0, 3, 3)), 8, &all);
        assert!(f.iter().all(|f| f.value.is_nan()));
        // Single voxel at the array corner.
        let mut one = Array3::<u32>::zeros((3, 4, 5));
        one[[0, 0, 0]] = 2;
        let f = features(&one, 8, &all);
        assert!(f.iter().all(|f| f.value.is_finite()));
        // Flat ROI filling the whole array: one zone per slice in 2D, one in 3D.
        let flat = Array3::<u32>::from_elem((3, 4, 5), 1);
        let f = features(&flat, 1, &all);
        let get = |code: &str, a: Aggregation| {
            f.iter()
                .find(|f| f.ibsi_code == code && f.aggregation == Some(a))
                .unwrap()
                .value
        };
        assert_eq!(get("P30P", Aggregation::Volume3D), 1.0 / 60.0);
        assert!((get("P30P", Aggregation::Slice2D) - 1.0 / 20.0).abs() < 1e-15);
        assert_eq!(get("48P8", Aggregation::Volume3D), 3600.0);
        assert_eq!(get("GU8N", Aggregation::Volume25D), 0.0);
        // Levels above n_levels are kept, not a panic.
        let mut odd = flat.clone();
        odd[[1, 1, 1]] = 40;
        let f = features(&odd, 4, &all);
        assert!(f.iter().all(|f| f.value.is_finite()));
    }
}
