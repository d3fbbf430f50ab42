//! How metrics are computed: the convention and its parameters.

use crate::EvalError;

/// Whose definitions the metrics follow. See the crate documentation for the full table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Convention {
    /// voxide's default, after MetricsReloaded (Maier-Hein et al., Nature Methods 2024, and its
    /// reference implementation `BinaryPairwiseMeasures`): voxel surfaces, per-voxel distances,
    /// percentile Hausdorff as the larger of the two directed percentiles, and the empty-mask
    /// rules of the crate documentation.
    #[default]
    MetricsReloaded,
    /// MedPy 0.5 (`medpy.metric.binary`): voxel surfaces, percentile Hausdorff over the pooled
    /// distances of both directions, MedPy's values for empty masks (NaN where MedPy raises).
    MedPy,
    /// DeepMind's surface-distance 0.1: surface elements on the voxel-corner grid weighted by
    /// their area, area-weighted averages and percentiles, ∞/NaN for empty masks.
    SurfaceDistance,
}

/// What the MetricsReloaded convention reports for surface distances when exactly one of the
/// two masks is empty (there is no surface to measure to).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum EmptyDistance {
    /// NaN: undefined, as MetricsReloaded and Reinke et al. ("Understanding metric-related
    /// pitfalls", Nature Methods 2024) classify it. Aggregation skips it, so report how many
    /// cases were skipped.
    #[default]
    Nan,
    /// The largest distance two voxel centres of the grid can have (its diagonal, mm): a finite
    /// worst case, so that a missed or hallucinated structure is penalised in a mean.
    ImageDiagonal,
    /// A fixed worst-case value in mm chosen for the task.
    Fixed(f64),
}

/// Parameters of the segmentation metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Definitions and empty-mask values to follow.
    pub convention: Convention,
    /// Percentile of the robust Hausdorff distance, in `[0, 100]` (95 gives HD95).
    pub hausdorff_percentile: f64,
    /// Tolerance τ (mm) of the normalised surface Dice: surface within τ counts as agreeing.
    pub nsd_tolerance_mm: f64,
    /// Width d (mm) of the boundary band of the boundary IoU: mask voxels closer than d to
    /// their own surface.
    pub boundary_iou_distance_mm: f64,
    /// Distances when exactly one mask is empty, under [`Convention::MetricsReloaded`].
    pub empty_distance: EmptyDistance,
}

impl Default for Options {
    /// MetricsReloaded's defaults: HD95, τ = 1 mm, boundary band 1 mm, NaN for undefined
    /// distances.
    fn default() -> Self {
        Self {
            convention: Convention::MetricsReloaded,
            hausdorff_percentile: 95.0,
            nsd_tolerance_mm: 1.0,
            boundary_iou_distance_mm: 1.0,
            empty_distance: EmptyDistance::Nan,
        }
    }
}

impl Options {
    /// The defaults with another convention.
    pub fn with_convention(convention: Convention) -> Self {
        Self {
            convention,
            ..Self::default()
        }
    }

    /// Checks that every parameter is in range.
    pub fn validate(&self) -> Result<(), EvalError> {
        let p = self.hausdorff_percentile;
        if !(0.0..=100.0).contains(&p) {
            return Err(EvalError::InvalidOption(format!(
                "hausdorff_percentile must be in [0, 100], got {p}"
            )));
        }
        if !(self.nsd_tolerance_mm.is_finite() && self.nsd_tolerance_mm >= 0.0) {
            return Err(EvalError::InvalidOption(format!(
                "nsd_tolerance_mm must be finite and ≥ 0, got {}",
                self.nsd_tolerance_mm
            )));
        }
        let d = self.boundary_iou_distance_mm;
        if !(d.is_finite() && d > 0.0) {
            return Err(EvalError::InvalidOption(format!(
                "boundary_iou_distance_mm must be finite and > 0, got {d}"
            )));
        }
        if let EmptyDistance::Fixed(v) = self.empty_distance {
            if v.is_nan() || v < 0.0 {
                return Err(EvalError::InvalidOption(format!(
                    "EmptyDistance::Fixed must be ≥ 0, got {v}"
                )));
            }
        }
        Ok(())
    }
}
