//! Grey level distance zone matrix (GLDZM) features (IBSI 3.9, VMDZ).
//!
//! Zones are those of the GLSZM (26-connected in 3D, 8-connected in 2D, taken from the ROI
//! intensity mask); each zone is counted by grey level (row) and its distance to the ROI edge
//! (column): the smallest distance map value over its voxels.
//!
//! The distance map follows IBSI: it is computed on the ROI *morphological* mask, with the
//! Manhattan norm (6-connected steps in 3D, 4-connected within the slice in 2D), and voxels on
//! the edge have distance 1. Iterated erosion with the cross-shaped structuring element, as
//! the manual describes it, equals the L1 distance to the nearest voxel outside the mask
//! (everything beyond the array counts as outside), which a separable two-pass transform
//! computes in linear time.

use ndarray::Array3;

use super::glszm::zones;
use super::lattice::{self, Shape};
use super::zone_matrix::{self, idx, ZoneMatrix};
use crate::{Aggregation, Feature};

/// The 16 GLDZM features in output order: `(name, IBSI code)`.
pub const FEATURES: [(&str, &str); 16] = [
    ("dzm_small_distance_emphasis", "0GBI"),
    ("dzm_large_distance_emphasis", "MB4I"),
    ("dzm_low_grey_level_zone_emphasis", "S1RA"),
    ("dzm_high_grey_level_zone_emphasis", "K26C"),
    ("dzm_small_distance_low_grey_level_emphasis", "RUVG"),
    ("dzm_small_distance_high_grey_level_emphasis", "DKNJ"),
    ("dzm_large_distance_low_grey_level_emphasis", "A7WM"),
    ("dzm_large_distance_high_grey_level_emphasis", "KLTH"),
    ("dzm_grey_level_non_uniformity", "VFT7"),
    ("dzm_grey_level_non_uniformity_normalised", "7HP3"),
    ("dzm_zone_distance_non_uniformity", "V294"),
    ("dzm_zone_distance_non_uniformity_normalised", "IATH"),
    ("dzm_zone_percentage", "VIWW"),
    ("dzm_grey_level_variance", "QK93"),
    ("dzm_zone_distance_variance", "7WT1"),
    ("dzm_zone_distance_entropy", "GBDU"),
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

/// GLDZM features for each requested aggregation ([`Aggregation::Slice2D`],
/// [`Aggregation::Volume25D`], [`Aggregation::Volume3D`]; others are skipped).
///
/// `levels` are the discretised grey levels (0 outside the ROI intensity mask) and
/// `morphological_mask` the ROI morphological mask, on the same grid; the distance map is
/// computed on the morphological mask joined with the intensity mask (so that an intensity
/// mask voxel never gets distance 0, whatever the masks). Values are `NaN` when the ROI is
/// empty or when the two arrays differ in shape.
pub fn features(
    levels: &Array3<u32>,
    morphological_mask: &Array3<bool>,
    n_levels: usize,
    aggregations: &[Aggregation],
) -> Vec<Feature> {
    let Some(input) = Input::new(levels, morphological_mask, n_levels) else {
        return lattice::aggregate(
            aggregations,
            0,
            &FEATURES,
            |_| None,
            ZoneMatrix::default,
            ZoneMatrix::merge,
            values,
        );
    };
    lattice::aggregate(
        aggregations,
        input.shape.nk,
        &FEATURES,
        |k| {
            let m = input.slice_matrix(k);
            (!m.is_empty()).then_some(m)
        },
        || input.volume_matrix(),
        ZoneMatrix::merge,
        values,
    )
}

/// The IBSI feature values of a GLDZM in [`FEATURES`] order; `None` for an empty matrix.
pub fn values(matrix: &ZoneMatrix) -> Option<[f64; 16]> {
    zone_matrix::select(zone_matrix::ibsi_values(matrix), &INDICES)
}

/// The 3D GLDZM: 26-connected zones, 6-connected distances. Empty when the arrays differ in
/// shape.
pub fn matrix(
    levels: &Array3<u32>,
    morphological_mask: &Array3<bool>,
    n_levels: usize,
) -> ZoneMatrix {
    Input::new(levels, morphological_mask, n_levels)
        .map(|i| i.volume_matrix())
        .unwrap_or_default()
}

/// The 2D GLDZM of every slice `k` (8-connected zones, 4-connected in-plane distances), in
/// slice order; slices without ROI voxels give empty matrices, and all are empty when the
/// arrays differ in shape.
pub fn slice_matrices(
    levels: &Array3<u32>,
    morphological_mask: &Array3<bool>,
    n_levels: usize,
) -> Vec<ZoneMatrix> {
    match Input::new(levels, morphological_mask, n_levels) {
        Some(input) => (0..input.shape.nk).map(|k| input.slice_matrix(k)).collect(),
        None => vec![ZoneMatrix::default(); levels.dim().0],
    }
}

/// The IBSI distance to the edge of `mask` for every voxel: 1 on the edge, 0 outside the
/// mask, Manhattan steps (6-connected) in 3D or, with `in_plane`, 4-connected steps within
/// each slice. Voxels beyond the array count as outside the mask.
pub fn distance_map(mask: &Array3<bool>, in_plane: bool) -> Array3<u32> {
    let shape = Shape::of(mask);
    let flat = lattice::flat(mask);
    let mut d = Vec::with_capacity(shape.len());
    if in_plane {
        let plane = shape.plane();
        for k in 0..shape.nk {
            d.extend(distances(
                &flat[k * plane..(k + 1) * plane],
                shape.slice(),
                false,
            ));
        }
    } else {
        d = distances(&flat, shape, true);
    }
    Array3::from_shape_vec(mask.dim(), d).unwrap_or_else(|_| Array3::zeros(mask.dim()))
}

/// Flat levels plus the distance mask (morphological ∪ intensity), checked for equal shapes.
struct Input<'a> {
    levels: std::borrow::Cow<'a, [u32]>,
    mask: Vec<bool>,
    shape: Shape,
    n_rows: usize,
}

impl<'a> Input<'a> {
    fn new(
        levels: &'a Array3<u32>,
        morphological_mask: &Array3<bool>,
        n_levels: usize,
    ) -> Option<Input<'a>> {
        if levels.dim() != morphological_mask.dim() {
            return None;
        }
        let flat = lattice::flat(levels);
        let mask = flat
            .iter()
            .zip(lattice::flat(morphological_mask).iter())
            .map(|(&l, &m)| m || l > 0)
            .collect();
        let n_rows = lattice::row_count(&flat, n_levels);
        Some(Input {
            levels: flat,
            mask,
            shape: Shape::of(levels),
            n_rows,
        })
    }

    fn slice_matrix(&self, k: usize) -> ZoneMatrix {
        let plane = self.shape.plane();
        let range = k * plane..(k + 1) * plane;
        let shape = self.shape.slice();
        let d = distances(&self.mask[range.clone()], shape, false);
        zone_distance_matrix(&self.levels[range], &d, shape, self.n_rows)
    }

    fn volume_matrix(&self) -> ZoneMatrix {
        let d = distances(&self.mask, self.shape, true);
        zone_distance_matrix(&self.levels, &d, self.shape, self.n_rows)
    }
}

fn zone_distance_matrix(levels: &[u32], d: &[u32], shape: Shape, n_rows: usize) -> ZoneMatrix {
    let geometry = shape.padded();
    // `zones` reads the distance map in its padded layout.
    let d = geometry.pad(d);
    let zones = zones(&geometry, levels, Some(&d));
    let n_voxels = zones.iter().map(|z| u64::from(z.size)).sum();
    let pairs = zones.iter().map(|z| (z.level, z.min_distance)).collect();
    ZoneMatrix::from_pairs(n_rows, pairs, n_voxels)
}

/// L1 distance of every mask voxel to the nearest non-mask voxel (0 outside the mask), by one
/// forward and one backward min-plus sweep per axis: the L1 norm is the sum of per-axis
/// distances, so the transform separates into 1D passes. The k axis is skipped for in-plane
/// distances. Positions just beyond the array count as outside the mask (distance 0).
fn distances(mask: &[bool], shape: Shape, three_d: bool) -> Vec<u32> {
    let mut d: Vec<u32> = mask.iter().map(|&m| if m { u32::MAX } else { 0 }).collect();
    let Shape { nj, ni, .. } = shape;
    if d.is_empty() || nj == 0 || ni == 0 {
        return d;
    }
    for row in d.chunks_exact_mut(ni) {
        let mut prev = 0u32;
        for x in row.iter_mut() {
            prev = (*x).min(prev.saturating_add(1));
            *x = prev;
        }
        prev = 0;
        for x in row.iter_mut().rev() {
            prev = (*x).min(prev.saturating_add(1));
            *x = prev;
        }
    }
    for plane in d.chunks_exact_mut(nj * ni) {
        sweep(plane, ni);
    }
    if three_d {
        sweep(&mut d, nj * ni);
    }
    d
}

/// Min-plus sweep along the axis whose consecutive elements are the blocks of `width`
/// elements of `data` (rows of a slice, or slices of a volume), whole blocks at a time so the
/// inner loops run over contiguous memory.
fn sweep(data: &mut [u32], width: usize) {
    let n = data.len() / width;
    if n == 0 {
        return;
    }
    let clamp_to_edge = |block: &mut [u32]| block.iter_mut().for_each(|x| *x = (*x).min(1));
    clamp_to_edge(&mut data[..width]);
    for b in 1..n {
        let (done, rest) = data.split_at_mut(b * width);
        let prev = &done[(b - 1) * width..];
        for (x, &p) in rest[..width].iter_mut().zip(prev) {
            *x = (*x).min(p.saturating_add(1));
        }
    }
    clamp_to_edge(&mut data[(n - 1) * width..]);
    for b in (0..n - 1).rev() {
        let (head, tail) = data.split_at_mut((b + 1) * width);
        for (x, &p) in head[b * width..].iter_mut().zip(&tail[..width]) {
            *x = (*x).min(p.saturating_add(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_map_matches_iterated_erosion() {
        // A 5x5 square in a 7x7 slice: rings 1, 2, 3 from the edge inwards.
        let mut m = Array3::from_elem((1, 7, 7), false);
        for j in 1..6 {
            for i in 1..6 {
                m[[0, j, i]] = true;
            }
        }
        let d = distance_map(&m, true);
        assert_eq!(d[[0, 0, 0]], 0);
        assert_eq!(d[[0, 1, 1]], 1);
        assert_eq!(d[[0, 2, 2]], 2);
        assert_eq!(d[[0, 3, 3]], 3);
        assert_eq!(d[[0, 2, 3]], 2);
        assert_eq!(d[[0, 1, 3]], 1);
        // The same square as a one-slice volume: everything touches the edge along k.
        let d3 = distance_map(&m, false);
        assert_eq!(d3[[0, 3, 3]], 1);
        // The array border is the ROI edge.
        let full = Array3::from_elem((5, 5, 5), true);
        let d = distance_map(&full, false);
        assert_eq!(d[[0, 0, 0]], 1);
        assert_eq!(d[[2, 2, 2]], 3);
        assert_eq!(d[[1, 2, 2]], 2);
        let d2 = distance_map(&full, true);
        assert_eq!(d2[[0, 2, 2]], 3);
    }

    #[test]
    fn brute_force_distances() {
        // Compare the separable transform with the definition on an irregular mask.
        let shape = (4, 6, 5);
        let mask = Array3::from_shape_fn(shape, |(k, j, i)| (k * 7 + j * 3 + i * 5) % 11 != 0);
        let d = distance_map(&mask, false);
        let (nk, nj, ni) = (shape.0 as i64, shape.1 as i64, shape.2 as i64);
        for ((k, j, i), &m) in mask.indexed_iter() {
            let expected = if !m {
                0
            } else {
                let (k, j, i) = (k as i64, j as i64, i as i64);
                let mut best = i64::MAX;
                for kk in -1..=nk {
                    for jj in -1..=nj {
                        for ii in -1..=ni {
                            let inside = (0..nk).contains(&kk)
                                && (0..nj).contains(&jj)
                                && (0..ni).contains(&ii);
                            if !inside || !mask[[kk as usize, jj as usize, ii as usize]] {
                                best = best.min((kk - k).abs() + (jj - j).abs() + (ii - i).abs());
                            }
                        }
                    }
                }
                best as u32
            };
            assert_eq!(d[[k, j, i]], expected, "at {k},{j},{i}");
        }
    }

    #[test]
    fn zone_distance_is_minimum_over_zone() {
        // A 3x3 slice of level 1 around a centre of level 2 inside a 5x5 ROI.
        let mut levels = Array3::from_elem((1, 5, 5), 3u32);
        for j in 1..4 {
            for i in 1..4 {
                levels[[0, j, i]] = 1;
            }
        }
        levels[[0, 2, 2]] = 2;
        let mask = levels.mapv(|l| l > 0);
        let ms = slice_matrices(&levels, &mask, 3);
        assert_eq!(ms[0].get(3, 1), 1);
        assert_eq!(ms[0].get(1, 2), 1);
        assert_eq!(ms[0].get(2, 3), 1);
        // The morphological mask sets the distances, not the intensity mask.
        let mut holed = levels.clone();
        holed[[0, 0, 2]] = 0;
        let ms = slice_matrices(&holed, &mask, 3);
        assert_eq!(ms[0].get(1, 2), 1);
        assert_eq!(ms[0].n_voxels(), 24);
    }

    #[test]
    fn garbage_in() {
        let all = [
            Aggregation::Slice2D,
            Aggregation::Volume25D,
            Aggregation::Volume3D,
        ];
        let levels = Array3::<u32>::zeros((2, 3, 3));
        let mask = Array3::from_elem((2, 3, 3), false);
        assert!(features(&levels, &mask, 4, &all)
            .iter()
            .all(|f| f.value.is_nan()));
        let wrong = Array3::from_elem((2, 3, 4), true);
        let f = features(&levels, &wrong, 4, &all);
        assert_eq!(f.len(), 48);
        assert!(f.iter().all(|f| f.value.is_nan()));
        // Intensity voxel outside the morphological mask still gets distance >= 1.
        let mut one = Array3::<u32>::zeros((2, 3, 3));
        one[[1, 2, 2]] = 3;
        let f = features(&one, &mask, 4, &all);
        assert!(f.iter().all(|f| f.value.is_finite()));
        let flat = Array3::from_elem((1, 1, 1), 1u32);
        let f = features(&flat, &flat.mapv(|_| true), 1, &all);
        assert!(f.iter().all(|f| f.value.is_finite()));
    }
}
