//! PyRadiomics GLSZM (`glszm.py`, C `calculate_glszm`).
//!
//! Zones are connected components of ROI voxels sharing a level, connected through the
//! bidirectional distance-1 offsets: 26-connectivity in 3D, 8-connectivity within planes with
//! `force2D` (zones of all planes in one matrix). A box one voxel thick needs no special case:
//! its missing offsets would never find a neighbour. One matrix, no angles, no weighting.
//! The zone labelling is the IBSI module's ([`crate::features::glszm`]): the same zones.

use ndarray::Array3;

use super::columns::{column_features, Cell};
use super::{angles, force_2d_axis, Lattice, TextureInput};
use crate::features::glszm::{matrix, slice_matrices};
use crate::features::zone_matrix::ZoneMatrix;
use crate::RadiomicsError;

/// GLSZM feature names in PyRadiomics' `getFeatureNames()` order (none deprecated).
pub(super) const FEATURES: &[(&str, bool)] = &[
    ("GrayLevelNonUniformity", false),
    ("GrayLevelNonUniformityNormalized", false),
    ("GrayLevelVariance", false),
    ("HighGrayLevelZoneEmphasis", false),
    ("LargeAreaEmphasis", false),
    ("LargeAreaHighGrayLevelEmphasis", false),
    ("LargeAreaLowGrayLevelEmphasis", false),
    ("LowGrayLevelZoneEmphasis", false),
    ("SizeZoneNonUniformity", false),
    ("SizeZoneNonUniformityNormalized", false),
    ("SmallAreaEmphasis", false),
    ("SmallAreaHighGrayLevelEmphasis", false),
    ("SmallAreaLowGrayLevelEmphasis", false),
    ("ZoneEntropy", false),
    ("ZonePercentage", false),
    ("ZoneVariance", false),
];

/// All GLSZM values in [`FEATURES`] order.
pub(super) fn values(lattice: &Lattice, input: &TextureInput) -> Result<Vec<f64>, RadiomicsError> {
    let axis = force_2d_axis(input.settings);
    // PyRadiomics fails when there is no offset at all (e.g. a single voxel).
    angles(lattice.shape, &[1], axis, true)?;
    let zones = zone_matrix(input.levels, lattice.max_level() as usize, axis);
    let cells: Vec<Cell> = zones
        .entries()
        .iter()
        .map(|e| (f64::from(e.level), f64::from(e.column), e.count as f64))
        .collect();
    let f = column_features(&cells);
    Ok(vec![
        f.gln,
        f.glnn,
        f.grey_variance,
        f.high,
        f.large,
        f.large_high,
        f.large_low,
        f.low,
        f.cn,
        f.cnn,
        f.small,
        f.small_high,
        f.small_low,
        f.entropy,
        f.percentage,
        f.column_variance,
    ])
}

/// The zone matrix: 26-connected zones, or 8-connected zones in the planes across `axis`.
fn zone_matrix(levels: &Array3<u32>, n_levels: usize, axis: Option<usize>) -> ZoneMatrix {
    let permutation = match axis {
        Some(0) => [0, 1, 2],
        Some(1) => [1, 0, 2],
        Some(2) => [2, 0, 1],
        _ => return matrix(levels, n_levels),
    };
    let slices = if permutation == [0, 1, 2] {
        slice_matrices(levels, n_levels)
    } else {
        let planes_first = levels
            .view()
            .permuted_axes(permutation)
            .as_standard_layout()
            .into_owned();
        slice_matrices(&planes_first, n_levels)
    };
    ZoneMatrix::merge(&slices)
}
