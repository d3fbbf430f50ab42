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

use crate::edt::NearestFeature;
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
        is_ref: impl Fn(u8) -> bool + Sync,
        is_pred: impl Fn(u8) -> bool + Sync,
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
        let (nk, nj, ni) = self.bits.dim();
        let planar = self.planar;
        let mut out = Array3::from_elem(self.bits.raw_dim(), false);
        let (Some(b), Some(o)) = (self.bits.as_slice(), out.as_slice_mut()) else {
            unreachable!("both arrays are built in standard layout")
        };
        let plane = nj * ni;
        if plane == 0 {
            return out;
        }
        o.par_chunks_mut(plane)
            .enumerate()
            .for_each(|(k, out_plane)| {
                if k == 0 || k + 1 == nk {
                    return; // padding
                }
                let row = |kk: usize, jj: usize| &b[(kk * nj + jj) * ni..][..ni];
                for j in 1..nj - 1 {
                    let (c, up, down) = (row(k, j), row(k, j - 1), row(k, j + 1));
                    // In 2D the planes above and below do not count: use the row itself.
                    let (before, after) = if planar {
                        (c, c)
                    } else {
                        (row(k - 1, j), row(k + 1, j))
                    };
                    let out_row = &mut out_plane[j * ni..][..ni];
                    for i in 1..ni - 1 {
                        let all = c[i - 1] & c[i + 1] & up[i] & down[i] & before[i] & after[i];
                        out_row[i] = c[i] & bit != 0 && all & bit == 0;
                    }
                }
            });
        out
    }
}

/// The voxel surfaces of reference and prediction.
#[derive(Debug)]
pub(crate) struct VoxelSurfaces {
    pub reference: Array3<bool>,
    pub prediction: Array3<bool>,
}

impl VoxelSurfaces {
    pub(crate) fn new(crop: &Crop) -> Self {
        let (reference, prediction) =
            rayon::join(|| crop.voxel_surface(REF), || crop.voxel_surface(PRED));
        Self {
            reference,
            prediction,
        }
    }
}

/// Directed distances between the voxel surfaces of reference and prediction (mm), from every
/// surface voxel of one to the other surface, in crop order: `(reference → prediction,
/// prediction → reference)`.
pub(crate) fn voxel_distances(crop: &Crop, surfaces: &VoxelSurfaces) -> (Vec<f64>, Vec<f64>) {
    let directed = |from: &Array3<bool>, to: &Array3<bool>| -> Vec<f64> {
        let to = NearestFeature::new(to.view(), crop.spacing);
        distances_at(from, &to, |_| ())
            .into_iter()
            .map(|(d, ())| d)
            .collect()
    };
    rayon::join(
        || directed(&surfaces.reference, &surfaces.prediction),
        || directed(&surfaces.prediction, &surfaces.reference),
    )
}

/// The voxels of `mask_bit` in the crop that are strictly closer than `d` mm to a voxel of
/// `surface` (compared as `distance.sqrt() < d`): the boundary band of the boundary IoU.
///
/// Paints the ball of radius `d` around every surface voxel, plane by plane of the output;
/// when the balls are large compared with the crop it asks [`NearestFeature`] per voxel instead.
pub(crate) fn band(crop: &Crop, surface: &Array3<bool>, mask_bit: u8, d: f64) -> Array3<bool> {
    let [si, sj, sk] = crop.spacing;
    let (nk, nj, ni) = crop.bits.dim();
    // Offsets beyond the crop reach nothing; the cast saturates for huge or infinite ratios.
    let reach = |s: f64, n: usize| (((d / s).floor() as usize).saturating_add(1)).min(n);
    let (rk, rj, ri) = (reach(sk, nk), reach(sj, nj), reach(si, ni));
    let surface_voxels = surface.iter().filter(|&&s| s).count();
    let box_offsets = (2 * rk + 1) * (2 * rj + 1) * (2 * ri + 1);
    let paint = surface_voxels.saturating_mul(box_offsets) <= 4 * crop.bits.len().max(1);
    if !paint {
        let near = NearestFeature::new(surface.view(), crop.spacing);
        let mut out = Array3::from_elem(crop.bits.raw_dim(), false);
        Zip::indexed(&mut out)
            .and(&crop.bits)
            .par_for_each(|(k, j, i), o, &b| {
                *o = b & mask_bit != 0 && near.closer_than(k, j, i, d);
            });
        return out;
    }
    // Offsets in the full transform's summation order (axis 0, then 1, then 2).
    let mut ball: Vec<(isize, isize, isize)> = Vec::new();
    for dk in -(rk as isize)..=rk as isize {
        for dj in -(rj as isize)..=rj as isize {
            for di in -(ri as isize)..=ri as isize {
                let (x, y, z) = (dk as f64 * sk, dj as f64 * sj, di as f64 * si);
                if (z * z + (x * x + y * y)).sqrt() < d {
                    ball.push((dk, dj, di));
                }
            }
        }
    }
    let mut out = Array3::from_elem(crop.bits.raw_dim(), false);
    let per_plane: Vec<Vec<(usize, usize)>> = surface
        .outer_iter()
        .into_par_iter()
        .map(|plane| {
            plane
                .indexed_iter()
                .filter(|(_, &s)| s)
                .map(|(at, _)| at)
                .collect()
        })
        .collect();
    out.outer_iter_mut()
        .into_par_iter()
        .enumerate()
        .for_each(|(k, mut plane)| {
            let bits = crop.bits.index_axis(ndarray::Axis(0), k);
            for &(dk, dj, di) in &ball {
                let Some(src) = k.checked_add_signed(-dk).filter(|&s| s < nk) else {
                    continue;
                };
                for &(j, i) in &per_plane[src] {
                    let (Some(jj), Some(ii)) = (j.checked_add_signed(dj), i.checked_add_signed(di))
                    else {
                        continue;
                    };
                    if jj < nj && ii < ni && bits[[jj, ii]] & mask_bit != 0 {
                        plane[[jj, ii]] = true;
                    }
                }
            }
        });
    out
}

/// The distance (mm) to the features of `other` from every voxel set in `from`, in crop order,
/// each with `tag` of its index.
fn distances_at<T: Send>(
    from: &Array3<bool>,
    other: &NearestFeature,
    tag: impl Fn((usize, usize, usize)) -> T + Sync,
) -> Vec<(f64, T)> {
    let (_, nj, ni) = from.dim();
    from.outer_iter()
        .into_par_iter()
        .enumerate()
        .flat_map_iter(|(k, plane)| {
            let mut found = Vec::new();
            for j in 0..nj {
                for i in 0..ni {
                    if plane[[j, i]] {
                        found.push((other.squared_at(k, j, i).sqrt(), tag((k, j, i))));
                    }
                }
            }
            found
        })
        .collect()
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
        || NearestFeature::new(border_ref.view(), grid_spacing),
        || NearestFeature::new(border_pred.view(), grid_spacing),
    );
    let collect = |border: &Array3<bool>, codes: &Array3<u8>, dist_other: &NearestFeature| {
        let pairs = distances_at(border, dist_other, |at| areas[usize::from(codes[at])]);
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
    let (Some(b), Some(c)) = (bits.as_slice(), codes.as_slice_mut()) else {
        unreachable!("both arrays are built in standard layout")
    };
    let row = |k: usize, j: usize| &b[(k * nj + j) * ni..][..ni];
    let on = |x: u8| u8::from(x & bit != 0);
    c.par_chunks_mut((nj - 1) * (ni - 1))
        .enumerate()
        .for_each(|(k, plane)| {
            for (j, out) in plane.chunks_mut(ni - 1).enumerate() {
                let (r00, r01, r10, r11) =
                    (row(k, j), row(k, j + 1), row(k + 1, j), row(k + 1, j + 1));
                for (i, code) in out.iter_mut().enumerate() {
                    *code = on(r00[i]) << 7
                        | on(r00[i + 1]) << 6
                        | on(r01[i]) << 5
                        | on(r01[i + 1]) << 4
                        | on(r10[i]) << 3
                        | on(r10[i + 1]) << 2
                        | on(r11[i]) << 1
                        | on(r11[i + 1]);
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
