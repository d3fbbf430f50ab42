//! Surfaces of binary masks and the distances between them, on a crop around the two masks.
//!
//! Everything here works on a [`Crop`]: the bounding box of the union of reference and
//! prediction, padded by one background voxel on every side. The padding stands for everything
//! outside the box, which is background by construction, and for what lies beyond the image
//! edge, which MedPy (SciPy's `binary_erosion` with `border_value = 0`), MetricsReloaded and
//! surface-distance (`mode="constant", cval=0`) all treat as background too. Distances computed
//! inside the crop are exact: every surface point of both masks lies in it, so the nearest one
//! is never cut off.

use ndarray::{Array3, ArrayView3, Slice, Zip};
use rayon::prelude::*;

use crate::edt::squared_distance_transform;
use crate::stats::WeightedDistances;
use crate::surfel_table::NEIGHBOUR_CODE_TO_NORMALS;

/// Bit of a crop voxel that is in the reference mask.
pub(crate) const REF: u8 = 1;
/// Bit of a crop voxel that is in the prediction mask.
pub(crate) const PRED: u8 = 2;

/// Reference and prediction bits on the padded bounding box of their union.
#[derive(Debug)]
pub(crate) struct Crop {
    /// Shape `(nk + 2, nj + 2, ni + 2)` of the box plus padding; bits [`REF`] and [`PRED`].
    pub bits: Array3<u8>,
    /// `[si, sj, sk]` in mm.
    pub spacing: [f64; 3],
    /// One slice, evaluated as a 2D image: in-plane neighbourhoods and contours.
    pub planar: bool,
}

/// Index bounding box `[k, j, i]`, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BBox {
    pub min: [usize; 3],
    pub max: [usize; 3],
}

impl BBox {
    pub(crate) fn union(self, o: BBox) -> BBox {
        BBox {
            min: [0, 1, 2].map(|a| self.min[a].min(o.min[a])),
            max: [0, 1, 2].map(|a| self.max[a].max(o.max[a])),
        }
    }
}

impl Crop {
    /// Copies the box `bbox` of the two masks (selected by `is_ref`, `is_pred`) with padding.
    pub(crate) fn new(
        reference: ArrayView3<'_, u8>,
        prediction: ArrayView3<'_, u8>,
        is_ref: &(dyn Fn(u8) -> bool + Sync),
        is_pred: &(dyn Fn(u8) -> bool + Sync),
        bbox: BBox,
        spacing: [f64; 3],
        planar: bool,
    ) -> Self {
        let [k0, j0, i0] = bbox.min;
        let [k1, j1, i1] = bbox.max;
        let mut bits = Array3::<u8>::zeros((k1 - k0 + 3, j1 - j0 + 3, i1 - i0 + 3));
        // `s!` expands to unsafe code, which the workspace forbids; slice axis by axis.
        let lo = bbox.min;
        let hi = bbox.max;
        let window =
            |ax: ndarray::AxisDescription| Slice::from(lo[ax.axis.index()]..=hi[ax.axis.index()]);
        let inner = |ax: ndarray::AxisDescription| Slice::from(1..ax.len - 1);
        Zip::from(bits.slice_each_axis_mut(inner))
            .and(reference.slice_each_axis(window))
            .and(prediction.slice_each_axis(window))
            .par_for_each(|b, &r, &p| {
                *b = if is_ref(r) { REF } else { 0 } | if is_pred(p) { PRED } else { 0 };
            });
        Self {
            bits,
            spacing,
            planar,
        }
    }

    /// The mask voxels of `bit` that touch the background through a face (6-neighbourhood, or
    /// the in-plane 4-neighbourhood of a 2D image): `mask XOR erosion(mask)` with SciPy's default
    /// cross-shaped structuring element, the surface of MedPy and MetricsReloaded.
    pub(crate) fn voxel_surface(&self, bit: u8) -> Array3<bool> {
        let b = &self.bits;
        let (nk, nj, ni) = b.dim();
        let planar = self.planar;
        let mut out = Array3::from_elem(b.raw_dim(), false);
        out.outer_iter_mut()
            .into_par_iter()
            .enumerate()
            .for_each(|(k, mut plane)| {
                if k == 0 || k + 1 == nk {
                    return; // padding
                }
                for j in 1..nj - 1 {
                    for i in 1..ni - 1 {
                        if b[[k, j, i]] & bit == 0 {
                            continue;
                        }
                        let inside = |kk: usize, jj: usize, ii: usize| b[[kk, jj, ii]] & bit != 0;
                        let interior = inside(k, j - 1, i)
                            && inside(k, j + 1, i)
                            && inside(k, j, i - 1)
                            && inside(k, j, i + 1)
                            && (planar || (inside(k - 1, j, i) && inside(k + 1, j, i)));
                        plane[[j, i]] = !interior;
                    }
                }
            });
        out
    }
}

/// Directed distances between the voxel surfaces of reference and prediction, with the
/// distance maps they came from (for the boundary IoU).
#[derive(Debug)]
pub(crate) struct VoxelDistances {
    /// From every reference surface voxel to the prediction surface (mm), in crop order.
    pub ref_to_pred: Vec<f64>,
    /// From every prediction surface voxel to the reference surface (mm), in crop order.
    pub pred_to_ref: Vec<f64>,
    /// Squared distance (mm²) of every crop voxel to the reference surface.
    pub to_ref_surface: Array3<f64>,
    /// Squared distance (mm²) of every crop voxel to the prediction surface.
    pub to_pred_surface: Array3<f64>,
}

pub(crate) fn voxel_distances(crop: &Crop) -> VoxelDistances {
    let surf_ref = crop.voxel_surface(REF);
    let surf_pred = crop.voxel_surface(PRED);
    let (to_ref_surface, to_pred_surface) = rayon::join(
        || squared_distance_transform(surf_ref.view(), crop.spacing),
        || squared_distance_transform(surf_pred.view(), crop.spacing),
    );
    let sample = |surface: &Array3<bool>, dist: &Array3<f64>| -> Vec<f64> {
        surface
            .iter()
            .zip(dist.iter())
            .filter(|(s, _)| **s)
            .map(|(_, d)| d.sqrt())
            .collect()
    };
    VoxelDistances {
        ref_to_pred: sample(&surf_ref, &to_pred_surface),
        pred_to_ref: sample(&surf_pred, &to_ref_surface),
        to_ref_surface,
        to_pred_surface,
    }
}

/// surface-distance's weighted distances in both directions.
#[derive(Debug, Default)]
pub(crate) struct SurfelDistances {
    pub ref_to_pred: WeightedDistances,
    pub pred_to_ref: WeightedDistances,
}

/// surface-distance's `compute_surface_distances`: surface elements on the corner grid of the
/// crop, found by the 2×2×2 (2×2 in 2D) neighbour code of each corner, weighted by the area
/// (contour length in 2D) its code stands for, and their distances to the other surface's
/// corners.
///
/// The codes use the array axes in voxide's `(k, j, i)` order, as surface-distance does with a
/// NumPy array in that order (SimpleITK's `GetArrayFromImage`); its table is not symmetric under
/// a change of axis order, so this is part of the convention.
pub(crate) fn surfel_distances(crop: &Crop) -> SurfelDistances {
    let [si, sj, sk] = crop.spacing;
    let (codes_ref, codes_pred, areas, grid_spacing) = if crop.planar {
        let lengths = contour_length_table([sj, si]);
        let (r, p) = rayon::join(|| codes_2d(&crop.bits, REF), || codes_2d(&crop.bits, PRED));
        (r, p, lengths.to_vec(), [si, sj, 1.0])
    } else {
        let areas = surface_area_table([sk, sj, si]);
        let (r, p) = rayon::join(|| codes_3d(&crop.bits, REF), || codes_3d(&crop.bits, PRED));
        (r, p, areas.to_vec(), crop.spacing)
    };
    let full = if crop.planar { 0b1111 } else { 0b1111_1111 };
    let border = |codes: &Array3<u8>| codes.mapv(|c| c != 0 && c != full);
    let (border_ref, border_pred) = (border(&codes_ref), border(&codes_pred));
    let (dist_ref, dist_pred) = rayon::join(
        || squared_distance_transform(border_ref.view(), grid_spacing),
        || squared_distance_transform(border_pred.view(), grid_spacing),
    );
    let collect = |border: &Array3<bool>, codes: &Array3<u8>, dist_other: &Array3<f64>| {
        let pairs: Vec<(f64, f64)> =
            Zip::from(border)
                .and(codes)
                .and(dist_other)
                .fold(Vec::new(), |mut acc, &b, &c, &d| {
                    if b {
                        acc.push((d.sqrt(), areas[usize::from(c)]));
                    }
                    acc
                });
        WeightedDistances::sorted(pairs)
    };
    SurfelDistances {
        ref_to_pred: collect(&border_ref, &codes_ref, &dist_pred),
        pred_to_ref: collect(&border_pred, &codes_pred, &dist_ref),
    }
}

/// Neighbour codes of the 3D corner grid: corner `c` sees voxels `c − 1` and `c` along every
/// axis (SciPy's `correlate` with an even-sized kernel), weighted by surface-distance's kernel
/// `[[[128, 64], [32, 16]], [[8, 4], [2, 1]]]`. In padded crop coordinates these are voxels `c`
/// and `c + 1`, so the grid has one corner fewer than the crop along each axis.
fn codes_3d(bits: &Array3<u8>, bit: u8) -> Array3<u8> {
    let (nk, nj, ni) = bits.dim();
    let mut codes = Array3::<u8>::zeros((nk - 1, nj - 1, ni - 1));
    codes
        .outer_iter_mut()
        .into_par_iter()
        .enumerate()
        .for_each(|(k, mut plane)| {
            for j in 0..nj - 1 {
                for i in 0..ni - 1 {
                    let at =
                        |dk: usize, dj: usize, di: usize| bits[[k + dk, j + dj, i + di]] & bit != 0;
                    let mut code = 0u8;
                    for (w, (dk, dj, di)) in [
                        (128, (0, 0, 0)),
                        (64, (0, 0, 1)),
                        (32, (0, 1, 0)),
                        (16, (0, 1, 1)),
                        (8, (1, 0, 0)),
                        (4, (1, 0, 1)),
                        (2, (1, 1, 0)),
                        (1, (1, 1, 1)),
                    ] {
                        if at(dk, dj, di) {
                            code |= w;
                        }
                    }
                    plane[[j, i]] = code;
                }
            }
        });
    codes
}

/// Neighbour codes of the 2D corner grid of the one image slice (padded index 1), kernel
/// `[[8, 4], [2, 1]]`; returned as a one-slice grid.
fn codes_2d(bits: &Array3<u8>, bit: u8) -> Array3<u8> {
    let (_, nj, ni) = bits.dim();
    let mut codes = Array3::<u8>::zeros((1, nj - 1, ni - 1));
    for j in 0..nj - 1 {
        for i in 0..ni - 1 {
            let at = |dj: usize, di: usize| bits[[1, j + dj, i + di]] & bit != 0;
            let mut code = 0u8;
            for (w, (dj, di)) in [(8, (0, 0)), (4, (0, 1)), (2, (1, 0)), (1, (1, 1))] {
                if at(dj, di) {
                    code |= w;
                }
            }
            codes[[0, j, i]] = code;
        }
    }
    codes
}

/// surface-distance's `create_table_neighbour_code_to_surface_area`, for spacing per array
/// axis `[s0, s1, s2]`.
pub(crate) fn surface_area_table(s: [f64; 3]) -> [f64; 256] {
    let mut table = [0.0; 256];
    for (code, normals) in NEIGHBOUR_CODE_TO_NORMALS.iter().enumerate() {
        let mut sum = 0.0;
        for n in normals.iter() {
            let v = [n[0] * s[1] * s[2], n[1] * s[0] * s[2], n[2] * s[0] * s[1]];
            sum += (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        }
        table[code] = sum;
    }
    table
}

/// surface-distance's `create_table_neighbour_code_to_contour_length`, for spacing per array
/// axis `[s0, s1]` (s0 vertical, s1 horizontal).
pub(crate) fn contour_length_table(s: [f64; 2]) -> [f64; 16] {
    let vertical = s[0];
    let horizontal = s[1];
    let diag = 0.5 * (s[0] * s[0] + s[1] * s[1]).sqrt();
    let mut t = [0.0; 16];
    for (code, len) in [
        (0b0001, diag),
        (0b0010, diag),
        (0b0011, horizontal),
        (0b0100, diag),
        (0b0101, vertical),
        (0b0110, 2.0 * diag),
        (0b0111, diag),
        (0b1000, diag),
        (0b1001, 2.0 * diag),
        (0b1010, vertical),
        (0b1011, diag),
        (0b1100, horizontal),
        (0b1101, diag),
        (0b1110, diag),
    ] {
        t[code] = len;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_voxel_surfel_area() {
        // One voxel of 1 mm has the eight one-bit corner codes; surface-distance 0.1 gives each
        // the normal (1/8, 1/8, 1/8), so its surface is 8 · √3/8 (what
        // `create_table_neighbour_code_to_surface_area([1, 1, 1])` returns for those codes).
        let t = surface_area_table([1.0; 3]);
        let total: f64 = [1usize, 2, 4, 8, 16, 32, 64, 128]
            .iter()
            .map(|&c| t[c])
            .sum();
        assert!(
            (total - 8.0 * (3.0f64).sqrt() / 8.0).abs() < 1e-12,
            "{total}"
        );
    }

    #[test]
    fn contour_of_one_pixel_is_four_half_diagonals() {
        let t = contour_length_table([1.0, 2.0]);
        let total: f64 = [1usize, 2, 4, 8].iter().map(|&c| t[c]).sum();
        assert!((total - 2.0 * 5.0f64.sqrt()).abs() < 1e-12);
    }
}
