//! Grey level size zone matrix (GLSZM) features (IBSI 3.8, 9SAK).
//!
//! A zone is a connected component of voxels sharing one discretised grey level: 26-connected
//! in 3D and 8-connected within a slice in 2D (IBSI default linkage, Chebyshev distance 1).
//! The matrix counts zones by grey level (row) and size in voxels (column).

use ndarray::Array3;

use super::lattice::{self, Padded, Shape};
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
    let zones = zones(&shape.padded(), data, None);
    let n_voxels = zones.iter().map(|z| u64::from(z.size)).sum();
    let pairs = zones.iter().map(|z| (z.level, z.size)).collect();
    ZoneMatrix::from_pairs(n_rows, pairs, n_voxels)
}

/// One zone: a connected component of voxels sharing a grey level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Zone {
    pub level: u32,
    /// Number of voxels.
    pub size: u32,
    /// Smallest distance-map value over the zone's voxels (0 without a distance map).
    pub min_distance: u32,
}

/// The zones of the lattice `data` (laid out as `geometry` describes): 26-connected
/// (8-connected in a slice) components of voxels with the same non-zero level, in raster
/// order of their first voxel. `distance`, in the padded layout of `geometry`, gives each
/// zone its smallest value (GLDZM).
///
/// Two-pass union-find over a flat parent array instead of a flood fill: the raster scan only
/// looks at the 13 (4 in a slice) neighbours already visited, row by row in memory order, and
/// needs no queue; no recursion, no allocation per voxel or zone. Every union links the larger
/// root to the smaller, so a parent index never exceeds its child's and a single second pass
/// in raster order resolves every voxel to its zone. Lattices of 2³² voxels or more (beyond
/// any real image) give no zones rather than overflowing the 32-bit indices.
pub(crate) fn zones(geometry: &Padded, data: &[u32], distance: Option<&[u32]>) -> Vec<Zone> {
    let n = geometry.len();
    if u32::try_from(n).is_err() {
        return Vec::new();
    }
    let levels = geometry.pad(data);
    let backward: Vec<usize> = geometry
        .offsets()
        .iter()
        .filter(|&&o| o < 0)
        .map(|&o| o.unsigned_abs())
        .collect();
    let mut parent = vec![0u32; n];
    let ni = geometry.row_len();
    let mut matches = vec![0u16; ni];
    for row in geometry.rows() {
        let centre = &levels[row.clone()];
        if centre.iter().all(|&l| l == 0) {
            continue;
        }
        // Bit b of matches[x]: backward neighbour b has the level of voxel x. Whole shifted
        // rows are compared at a time so the compiler vectorises the 13 tests per voxel;
        // the scalar loop below then only visits actual matches (few in noisy images).
        matches.fill(0);
        for (b, &o) in backward.iter().enumerate() {
            let first = row.start - o;
            for ((m, &c), &x) in matches
                .iter_mut()
                .zip(centre)
                .zip(&levels[first..first + ni])
            {
                *m |= u16::from(c == x) << b;
            }
        }
        for (x, (&level, &m)) in centre.iter().zip(&matches).enumerate() {
            if level == 0 {
                continue;
            }
            let v = row.start + x;
            let mut root = v as u32;
            parent[v] = root;
            let mut bits = m;
            while bits != 0 {
                // Backward neighbours precede v in memory: border voxels (level 0, never a
                // match) or voxels already labelled.
                let u = v - backward[bits.trailing_zeros() as usize];
                bits &= bits - 1;
                let ru = find(&mut parent, u as u32);
                if ru != root {
                    let (lo, hi) = if ru < root { (ru, root) } else { (root, ru) };
                    parent[hi as usize] = lo;
                    root = lo;
                }
            }
        }
    }
    // Resolve in raster order, overwriting each voxel's parent with its zone number: a root
    // (its own parent) opens a new zone; any other voxel's parent precedes it in the same
    // zone and already holds that zone's number.
    let mut zones: Vec<Zone> = Vec::new();
    for row in geometry.rows() {
        for v in row {
            let level = levels[v];
            if level == 0 {
                continue;
            }
            let p = parent[v] as usize;
            let id = if p == v {
                zones.push(Zone {
                    level,
                    size: 0,
                    min_distance: u32::MAX,
                });
                zones.len() - 1
            } else {
                parent[p] as usize
            };
            parent[v] = id as u32;
            let z = &mut zones[id];
            z.size += 1;
            if let Some(d) = distance {
                z.min_distance = z.min_distance.min(d.get(v).copied().unwrap_or(0));
            }
        }
    }
    if distance.is_none() {
        zones.iter_mut().for_each(|z| z.min_distance = 0);
    }
    zones
}

/// Root of `x`, halving the path on the way (every node then points to its grandparent).
fn find(parent: &mut [u32], mut x: u32) -> u32 {
    loop {
        let p = parent[x as usize];
        if p == x {
            return x;
        }
        let g = parent[p as usize];
        parent[x as usize] = g;
        x = g;
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

    /// Reference zones by breadth-first flood fill, the textbook definition.
    fn flood_fill_zones(data: &[u32], shape: Shape) -> Vec<(u32, u32)> {
        let g = shape.padded();
        let mut work = g.pad(data);
        let mut out = Vec::new();
        let mut queue = Vec::new();
        for v in g.rows().flatten() {
            let level = work[v];
            if level == 0 {
                continue;
            }
            work[v] = 0;
            queue.clear();
            queue.push(v);
            let mut head = 0;
            while head < queue.len() {
                let x = queue[head];
                head += 1;
                for &o in g.offsets() {
                    let u = x.wrapping_add_signed(o);
                    if work[u] == level {
                        work[u] = 0;
                        queue.push(u);
                    }
                }
            }
            out.push((level, queue.len() as u32));
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn union_find_matches_flood_fill() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for (shape, n_levels) in [
            ((6, 7, 9), 2),
            ((5, 8, 6), 3),
            ((1, 12, 11), 2),
            ((9, 1, 7), 2),
        ] {
            let a = Array3::from_shape_simple_fn(shape, || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % (n_levels + 1)) as u32
            });
            let s = Shape::of(&a);
            let data = a.as_slice().unwrap();
            for lattice in [s, s.slice()] {
                let data = &data[..lattice.len()];
                let mut got: Vec<(u32, u32)> = zones(&lattice.padded(), data, None)
                    .iter()
                    .map(|z| (z.level, z.size))
                    .collect();
                got.sort_unstable();
                assert_eq!(got, flood_fill_zones(data, lattice), "{lattice:?}");
            }
        }
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
