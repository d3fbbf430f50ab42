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
    let counts = dependence_counts(lattice, &offsets, alpha, width);
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

/// The GLDM counts, row-major `Ngp × width`: `[slot][dep]` for every ROI voxel, `dep` the
/// number of its ROI neighbours along `offsets` whose level differs by at most `alpha`.
fn dependence_counts(
    lattice: &Lattice,
    offsets: &[[isize; 3]],
    alpha: f64,
    width: usize,
) -> Vec<u64> {
    let n = lattice.n_present();
    let mut counts = vec![0u64; n * width];
    let data = &lattice.data;
    let slot = &lattice.slot;
    let ni = lattice.shape[2];
    // alpha is integral: compare integer differences (none dependent below 0, saturating at
    // u32::MAX above).
    let alpha = if alpha < 0.0 {
        None
    } else if alpha >= f64::from(u32::MAX) {
        Some(u32::MAX)
    } else {
        Some(alpha as u32)
    };
    // Signed 32-bit arithmetic vectorises on every x86-64 (SSE2 has no unsigned compare):
    // used when levels and alpha fit, the generic unsigned form otherwise.
    let small = lattice.max_level() < (1 << 30) && alpha.is_none_or(|a| a < (1 << 30));
    // Row by row (the rows around stay in cache), all offsets at once.
    let mut dep = vec![0u32; ni];
    for (r, &(x0, x1)) in lattice.extents.iter().enumerate() {
        if x0 >= x1 {
            continue;
        }
        let len = x1 - x0;
        dep[..len].fill(0);
        let row = r * ni + x0;
        if let Some(alpha) = alpha {
            for &a in offsets {
                let Some((lo, hi, nb)) = lattice.row_neighbours(r, a) else {
                    continue;
                };
                let (k, m) = (lo - x0, hi - lo);
                let centre = &data[row + k..row + k + m];
                let cells = dep[k..k + m].iter_mut().zip(centre).zip(&data[nb..nb + m]);
                if alpha == 0 {
                    for ((d, &lc), &ln) in cells {
                        *d += u32::from(ln != 0) & u32::from(lc == ln);
                    }
                } else if small {
                    let (lo_a, hi_a) = (-(alpha as i32), alpha as i32);
                    for ((d, &lc), &ln) in cells {
                        let diff = lc as i32 - ln as i32;
                        *d +=
                            u32::from(ln != 0) & u32::from(diff >= lo_a) & u32::from(diff <= hi_a);
                    }
                } else {
                    for ((d, &lc), &ln) in cells {
                        *d += u32::from(ln != 0) & u32::from(lc.abs_diff(ln) <= alpha);
                    }
                }
            }
        }
        for (&s, &d) in slot[row..row + len].iter().zip(&dep) {
            if s != 0 {
                if let Some(c) = counts.get_mut((s as usize - 1) * width + d as usize) {
                    *c += 1;
                }
            }
        }
    }
    counts
}
