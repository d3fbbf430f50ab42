//! Intensity-volume histogram features (IBSI 3.5).

use crate::Feature;

/// How intensities are discretised for the IVH (IBSI 3.5.1–3.5.3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IvhDiscretisation {
    /// Calibrated, discrete intensities (e.g. CT in HU): used as they are, interval `w_d = 1`.
    /// `range` is the re-segmentation range; an infinite upper bound (half-open range) is
    /// replaced by the ROI maximum, no range at all by the ROI minimum and maximum.
    Discrete { range: Option<(f64, f64)> },
    /// Calibrated, continuous intensities (e.g. PET SUV): fixed bin size `bin_width` from the
    /// re-segmentation range (or the ROI minimum and maximum), bins replaced by their centres.
    FixedBinSize {
        bin_width: f64,
        range: Option<(f64, f64)>,
    },
    /// Arbitrary units (e.g. MR): fixed bin number over the ROI's intensity range.
    FixedBinNumber { bins: usize },
}

/// The six IBSI IVH features (V10, V90, I10, I90, V10−V90, I10−I90) of the ROI intensities.
pub fn features(intensities: &[f64], discretisation: IvhDiscretisation) -> Vec<Feature> {
    let (values, g_min, g_max, step) = discretise(intensities, discretisation);
    let (v10, v90, i10, i90) = if values.is_empty() || !g_min.is_finite() || !g_max.is_finite() {
        (f64::NAN, f64::NAN, f64::NAN, f64::NAN)
    } else {
        evaluate(values, g_min, g_max, step)
    };
    let f = |name, ibsi_code, value| Feature {
        name,
        ibsi_code,
        aggregation: None,
        value,
    };
    vec![
        f("ivh_v10", "BC2M", v10),
        f("ivh_v90", "BC2M", v90),
        f("ivh_i10", "GBPN", i10),
        f("ivh_i90", "GBPN", i90),
        f("ivh_v10_minus_v90", "DDTU", v10 - v90),
        f("ivh_i10_minus_i90", "CNV2", i10 - i90),
    ]
}

/// The discretised intensities `X_d,gl`, the total range `G = [g_min, g_max]` and the interval.
fn discretise(x: &[f64], d: IvhDiscretisation) -> (Vec<f64>, f64, f64, f64) {
    let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    match d {
        IvhDiscretisation::Discrete { range } => {
            let (a, b) = range.unwrap_or((lo, hi));
            let a = if a.is_finite() { a } else { lo };
            let b = if b.is_finite() { b } else { hi };
            (x.to_vec(), a, b, 1.0)
        }
        IvhDiscretisation::FixedBinSize { bin_width, range } => {
            let (a, b) = range.unwrap_or((lo, hi));
            let a = if a.is_finite() { a } else { lo };
            let b = if b.is_finite() { b } else { hi };
            let values = x
                .iter()
                .map(|&v| a + (((v - a) / bin_width).floor() + 1.0 - 0.5) * bin_width)
                .collect();
            (values, a + 0.5 * bin_width, b - 0.5 * bin_width, bin_width)
        }
        IvhDiscretisation::FixedBinNumber { bins } => {
            let n = bins.max(1) as f64;
            let values = x
                .iter()
                .map(|&v| {
                    if v >= hi {
                        n
                    } else {
                        (n * (v - lo) / (hi - lo)).floor() + 1.0
                    }
                })
                .collect();
            (values, 1.0, n, 1.0)
        }
    }
}

/// Fractional volumes and intensities over `G` in steps of `step`; returns V10, V90, I10, I90.
fn evaluate(mut values: Vec<f64>, g_min: f64, g_max: f64, step: f64) -> (f64, f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    let steps = ((g_max - g_min) / step).round().max(0.0) as usize;
    // Intensities of the histogram, computed from the index to avoid accumulating error.
    let grid: Vec<f64> = (0..=steps).map(|s| g_min + s as f64 * step).collect();
    // ν_i: fraction of voxels with intensity ≥ i (the tolerance absorbs bin-centre rounding).
    let nu: Vec<f64> = grid
        .iter()
        .map(|&i| {
            let below = values.partition_point(|&v| v < i - 1e-9 * step);
            1.0 - below as f64 / n
        })
        .collect();
    let span = g_max - g_min;
    let gamma: Vec<f64> = grid
        .iter()
        .map(|&i| if span > 0.0 { (i - g_min) / span } else { 0.0 })
        .collect();
    // V_x: the largest volume fraction among intensity fractions of at least x.
    let volume_at = |x: f64| {
        gamma
            .iter()
            .zip(&nu)
            .filter(|(&g, _)| g >= x - 1e-12)
            .map(|(_, &v)| v)
            .fold(f64::NAN, f64::max)
    };
    // I_x: the lowest intensity present in at most x of the volume.
    let intensity_at = |x: f64| {
        grid.iter()
            .zip(&nu)
            .find(|(_, &v)| v <= x + 1e-12)
            .map_or(g_max + step, |(&i, _)| i)
    };
    (
        volume_at(0.1),
        volume_at(0.9),
        intensity_at(0.1),
        intensity_at(0.9),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_roi_gives_nan() {
        let fs = features(&[], IvhDiscretisation::Discrete { range: None });
        assert!(fs.iter().all(|f| f.value.is_nan()));
    }

    #[test]
    fn flat_roi_does_not_panic() {
        let fs = features(&[3.0; 5], IvhDiscretisation::FixedBinNumber { bins: 1000 });
        assert_eq!(fs.len(), 6);
    }
}
