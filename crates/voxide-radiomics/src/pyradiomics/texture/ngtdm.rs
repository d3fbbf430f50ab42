//! PyRadiomics NGTDM (`ngtdm.py`, C `calculate_ngtdm`).
//!
//! For every ROI voxel of level `i`: `A` = mean level of its ROI neighbours (bidirectional
//! offsets of the `distances`, inside the cropped box), `s[i] += |i − A|` (0 without
//! neighbours) and `n[i] += 1` — every ROI voxel counts, also those without neighbours.

use super::{angles, force_2d_axis, Lattice, TextureSettings};
use crate::RadiomicsError;

/// NGTDM feature names in PyRadiomics' `getFeatureNames()` order (none deprecated).
pub(super) const FEATURES: &[(&str, bool)] = &[
    ("Busyness", false),
    ("Coarseness", false),
    ("Complexity", false),
    ("Contrast", false),
    ("Strength", false),
];

/// All NGTDM values in [`FEATURES`] order.
pub(super) fn values(
    lattice: &Lattice,
    settings: &TextureSettings,
) -> Result<Vec<f64>, RadiomicsError> {
    let offsets = angles(
        lattice.shape,
        &settings.distances,
        force_2d_axis(settings),
        true,
    )?;
    let n = lattice.n_present();
    let mut n_i = vec![0.0f64; n];
    let mut s_i = vec![0.0f64; n];
    // 32-bit sums when they cannot overflow (they vectorise better), 64-bit otherwise.
    if u64::from(lattice.max_level()) * (offsets.len() as u64) < (1 << 32) {
        accumulate::<u32>(lattice, &offsets, &mut n_i, &mut s_i);
    } else {
        accumulate::<u64>(lattice, &offsets, &mut n_i, &mut s_i);
    }
    Ok(features(&n_i, &s_i, &lattice.ivector))
}

/// The five features from the per-level counts `n_i`, difference sums `s_i` and levels `g`.
fn features(n_i: &[f64], s_i: &[f64], g: &[f64]) -> Vec<f64> {
    let nvp: f64 = n_i.iter().sum();
    let p: Vec<f64> = n_i.iter().map(|&v| v / nvp).collect();
    let ngp = n_i.iter().filter(|&&v| v > 0.0).count() as f64;
    let sum_s: f64 = s_i.iter().sum();
    let ps: f64 = p.iter().zip(s_i).map(|(a, b)| a * b).sum();
    let coarseness = if ps != 0.0 { 1.0 / ps } else { 1e6 };
    let (mut pp_d2, mut abs_ip, mut complexity, mut strength) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..g.len() {
        for j in 0..g.len() {
            let d = g[i] - g[j];
            pp_d2 += p[i] * p[j] * d * d;
            abs_ip += (g[i] * p[i] - g[j] * p[j]).abs();
            let divisor = p[i] + p[j];
            let divisor = if divisor == 0.0 { 1.0 } else { divisor };
            complexity += d.abs() * (p[i] * s_i[i] + p[j] * s_i[j]) / divisor;
            strength += (p[i] + p[j]) * d * d;
        }
    }
    let div = ngp * (ngp - 1.0);
    let contrast = if div != 0.0 {
        pp_d2 * sum_s / nvp / div
    } else {
        0.0
    };
    let busyness = if abs_ip != 0.0 { ps / abs_ip } else { 0.0 };
    let complexity = complexity / nvp;
    let strength = if sum_s != 0.0 { strength / sum_s } else { 0.0 };
    vec![busyness, coarseness, complexity, contrast, strength]
}

/// An integer sum of neighbour levels.
trait LevelSum: Copy + Default + std::ops::AddAssign + From<u32> {
    fn to_f64(self) -> f64;
}

impl LevelSum for u32 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl LevelSum for u64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}

/// Adds every ROI voxel to `n_i` and `|level − mean neighbour level|` to `s_i` (0 without ROI
/// neighbours), in raster order as the C loop accumulates. Row by row (the rows around stay in
/// cache), all offsets at once: per voxel the number of ROI neighbours and the sum of their
/// levels (0 outside the ROI adds nothing). Sums are exact integers, as C's double sums are.
fn accumulate<S: LevelSum>(
    lattice: &Lattice,
    offsets: &[[isize; 3]],
    n_i: &mut [f64],
    s_i: &mut [f64],
) {
    let data = &lattice.data;
    let slot = &lattice.slot;
    let ni = lattice.shape[2];
    let mut count = vec![0u32; ni];
    let mut sum = vec![S::default(); ni];
    for (r, &(x0, x1)) in lattice.extents.iter().enumerate() {
        if x0 >= x1 {
            continue;
        }
        let len = x1 - x0;
        count[..len].fill(0);
        sum[..len].fill(S::default());
        for &a in offsets {
            if let Some((lo, hi, nb)) = lattice.row_neighbours(r, a) {
                let (k, m) = (lo - x0, hi - lo);
                let cells = count[k..k + m].iter_mut().zip(sum[k..k + m].iter_mut());
                for ((c, s), &l) in cells.zip(&data[nb..nb + m]) {
                    *c += u32::from(l != 0);
                    *s += S::from(l);
                }
            }
        }
        let row = r * ni + x0;
        let voxels = slot[row..row + len].iter().zip(&data[row..row + len]);
        for ((&sv, &lv), (&c, &s)) in voxels.zip(count.iter().zip(&sum)) {
            if sv == 0 {
                continue;
            }
            let diff = if c == 0 {
                0.0
            } else {
                (f64::from(lv) - s.to_f64() / f64::from(c)).abs()
            };
            n_i[sv as usize - 1] += 1.0;
            s_i[sv as usize - 1] += diff;
        }
    }
}
