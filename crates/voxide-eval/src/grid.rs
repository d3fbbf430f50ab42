//! Checks that reference and prediction can be compared voxel by voxel.

use voxide_core::{Geometry, GRID_TOLERANCE};

use crate::EvalError;

/// Fails unless both grids coincide (size exactly; spacing, origin and direction within
/// [`GRID_TOLERANCE`]) and have orthogonal axes, naming every component that differs.
pub fn check_grids(reference: &Geometry, prediction: &Geometry) -> Result<(), EvalError> {
    let mut diffs = Vec::new();
    if reference.size() != prediction.size() {
        diffs.push(format!(
            "size {:?} (reference) vs {:?} (prediction)",
            reference.size(),
            prediction.size()
        ));
    }
    let close = |a: &[f64], b: &[f64]| {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= GRID_TOLERANCE)
    };
    if !close(&reference.spacing(), &prediction.spacing()) {
        diffs.push(format!(
            "spacing {:?} vs {:?} mm",
            reference.spacing(),
            prediction.spacing()
        ));
    }
    if !close(&reference.origin(), &prediction.origin()) {
        diffs.push(format!(
            "origin {:?} vs {:?} mm (LPS)",
            reference.origin(),
            prediction.origin()
        ));
    }
    let flat = |g: &Geometry| g.direction().iter().flatten().copied().collect::<Vec<_>>();
    if !close(&flat(reference), &flat(prediction)) {
        diffs.push(format!(
            "direction {:?} vs {:?}",
            reference.direction(),
            prediction.direction()
        ));
    }
    if !diffs.is_empty() {
        return Err(EvalError::GeometryMismatch(diffs.join("; ")));
    }
    if !reference.is_orthonormal(GRID_TOLERANCE) {
        return Err(EvalError::UnsupportedGeometry(format!(
            "direction {:?} has non-orthogonal axes; distances in mm need an orthogonal grid, resample onto one first",
            reference.direction()
        )));
    }
    Ok(())
}

/// Spacing of the array API: positive and finite.
pub(crate) fn check_spacing(spacing: [f64; 3]) -> Result<(), EvalError> {
    if spacing.iter().all(|s| s.is_finite() && *s > 0.0) {
        Ok(())
    } else {
        Err(EvalError::InvalidOption(format!(
            "spacing must be positive and finite, got {spacing:?}"
        )))
    }
}
