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
    let data = &lattice.data;
    let slot = &lattice.slot;
    let mut count = vec![0u32; data.len()];
    let mut sum = vec![0u64; data.len()];
    for &a in &offsets {
        lattice.for_each_pair_row(a, |v, w, len| {
            let rows = count[v..v + len]
                .iter_mut()
                .zip(sum[v..v + len].iter_mut())
                .zip(slot[v..v + len].iter().zip(&data[w..w + len]));
            for ((c, s), (&sv, &lw)) in rows {
                if sv != 0 && lw != 0 {
                    *c += 1;
                    *s += u64::from(lw);
                }
            }
        });
    }
    let n = lattice.n_present();
    let mut n_i = vec![0.0f64; n];
    let mut s_i = vec![0.0f64; n];
    // Raster order, as the C loop accumulates.
    for ((&sv, &lv), (&c, &s)) in slot.iter().zip(data.iter()).zip(count.iter().zip(&sum)) {
        if sv == 0 {
            continue;
        }
        let diff = if c == 0 {
            0.0
        } else {
            (f64::from(lv) - s as f64 / f64::from(c)).abs()
        };
        n_i[sv as usize - 1] += 1.0;
        s_i[sv as usize - 1] += diff;
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
