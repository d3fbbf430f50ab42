//! PyRadiomics GLDM (`gldm.py`, C `calculate_gldm`).
//!
//! For every ROI voxel of level `i`, `dep` counts its ROI neighbours (bidirectional offsets of
//! the `distances`, inside the cropped box) whose level differs from `i` by at most `gldm_a`;
//! `P[i, dep] += 1` and the dependence column value is `dep + 1`. One matrix, no angles.

use super::columns::{column_features, Cell};
use super::{angles, check_cells, force_2d_axis, Lattice, TextureSettings};
use crate::RadiomicsError;

/// GLDM feature names in PyRadiomics' `getFeatureNames()` order, with their deprecation flag.
pub(super) const FEATURES: &[(&str, bool)] = &[
    ("DependenceEntropy", false),
    ("DependenceNonUniformity", false),
    ("DependenceNonUniformityNormalized", false),
    ("DependencePercentage", true),
    ("DependenceVariance", false),
    ("GrayLevelNonUniformity", false),
    ("GrayLevelNonUniformityNormalized", true),
    ("GrayLevelVariance", false),
    ("HighGrayLevelEmphasis", false),
    ("LargeDependenceEmphasis", false),
    ("LargeDependenceHighGrayLevelEmphasis", false),
    ("LargeDependenceLowGrayLevelEmphasis", false),
    ("LowGrayLevelEmphasis", false),
    ("SmallDependenceEmphasis", false),
    ("SmallDependenceHighGrayLevelEmphasis", false),
    ("SmallDependenceLowGrayLevelEmphasis", false),
];

/// All GLDM values in [`FEATURES`] order (deprecated ones NaN).
pub(super) fn values(
    lattice: &Lattice,
    settings: &TextureSettings,
) -> Result<Vec<f64>, RadiomicsError> {
    let alpha = settings.gldm_a;
    if !alpha.is_finite() || alpha.fract() != 0.0 {
        return Err(RadiomicsError::InvalidSetting(format!(
            "gldm_a must be an integer (PyRadiomics passes it to C as int), got {alpha}"
        )));
    }
    let offsets = angles(
        lattice.shape,
        &settings.distances,
        force_2d_axis(settings),
        true,
    )?;
    let n = lattice.n_present();
    let width = offsets.len() + 1;
    check_cells("GLDM", n, width)?;
    let data = &lattice.data;
    let slot = &lattice.slot;
    let mut dep = vec![0u32; data.len()];
    for &a in &offsets {
        lattice.for_each_pair_row(a, |v, w, len| {
            let rows = dep[v..v + len]
                .iter_mut()
                .zip(&slot[w..w + len])
                .zip(data[v..v + len].iter().zip(&data[w..w + len]));
            for ((d, &sw), (&lv, &lw)) in rows {
                if lv != 0 && sw != 0 && f64::from(lv.abs_diff(lw)) <= alpha {
                    *d += 1;
                }
            }
        });
    }
    let mut counts = vec![0u64; n * width];
    for (&s, &d) in slot.iter().zip(&dep) {
        if s != 0 {
            counts[(s as usize - 1) * width + d as usize] += 1;
        }
    }
    let cells: Vec<Cell> = counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(k, &c)| (lattice.ivector[k / width], (k % width + 1) as f64, c as f64))
        .collect();
    let f = column_features(&cells);
    Ok(vec![
        f.entropy,
        f.cn,
        f.cnn,
        f64::NAN,
        f.column_variance,
        f.gln,
        f64::NAN,
        f.grey_variance,
        f.high,
        f.large,
        f.large_high,
        f.large_low,
        f.low,
        f.small,
        f.small_high,
        f.small_low,
    ])
}
