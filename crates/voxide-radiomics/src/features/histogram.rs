//! Intensity histogram features (IBSI 3.4) of discretised intensities.

use super::statistics::Summary;
use crate::Feature;

/// All 23 IBSI intensity histogram features of the discretised ROI intensities
/// (`levels` are the bin numbers `1..=n_levels` of the voxels in the intensity mask).
///
/// The histogram spans `1..=n_levels` without omitting empty bins, as the gradient
/// features require.
pub fn features(levels: &[u32], n_levels: usize) -> Vec<Feature> {
    let values: Vec<f64> = levels.iter().map(|&l| f64::from(l)).collect();
    let s = Summary::of(&values);
    let n_bins = n_levels.max(levels.iter().copied().max().unwrap_or(0) as usize);
    let mut counts = vec![0.0f64; n_bins];
    for &l in levels {
        if l >= 1 {
            counts[l as usize - 1] += 1.0;
        }
    }
    let n = s.n as f64;
    let median = s.percentile(50.0);
    let (p10, p25, p75, p90) = (
        s.percentile(10.0),
        s.percentile(25.0),
        s.percentile(75.0),
        s.percentile(90.0),
    );
    // Mode: the most frequent bin; ties go to the bin closest to the mean, then the lower.
    let mode = {
        let top = counts.iter().copied().fold(0.0, f64::max);
        let mut best: Option<(f64, usize)> = None;
        for (i, &c) in counts.iter().enumerate() {
            if c == top && top > 0.0 {
                let d = ((i + 1) as f64 - s.mean).abs();
                if best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, i + 1));
                }
            }
        }
        best.map_or(f64::NAN, |(_, i)| i as f64)
    };
    let (entropy, uniformity) = if s.n == 0 {
        (f64::NAN, f64::NAN)
    } else {
        counts
            .iter()
            .filter(|&&c| c > 0.0)
            .fold((0.0, 0.0), |(e, u), &c| {
                let p = c / n;
                (e - p * p.log2(), u + p * p)
            })
    };
    // Histogram gradient: one-sided at the ends, central inside.
    let gradient: Vec<f64> = (0..n_bins)
        .map(|i| match (i, n_bins) {
            (_, 1) => 0.0,
            (0, _) => counts[1] - counts[0],
            (i, n) if i == n - 1 => counts[i] - counts[i - 1],
            (i, _) => (counts[i + 1] - counts[i - 1]) / 2.0,
        })
        .collect();
    let argmax = gradient
        .iter()
        .enumerate()
        .fold(None, |best: Option<(usize, f64)>, (i, &g)| match best {
            Some((_, bg)) if bg >= g => best,
            _ => Some((i, g)),
        });
    let argmin = gradient
        .iter()
        .enumerate()
        .fold(None, |best: Option<(usize, f64)>, (i, &g)| match best {
            Some((_, bg)) if bg <= g => best,
            _ => Some((i, g)),
        });
    let empty = s.n == 0;
    let or_nan = |v: f64| if empty { f64::NAN } else { v };
    let f = |name, ibsi_code, value| Feature {
        name,
        ibsi_code,
        aggregation: None,
        value,
    };
    vec![
        f("ih_mean", "X6K6", s.mean),
        f("ih_var", "CH89", s.variance),
        f("ih_skew", "88K1", s.skewness),
        f("ih_kurt", "C3I7", s.kurtosis),
        f("ih_median", "WIFQ", median),
        f("ih_min", "1PR8", s.min()),
        // The IBSI manual prints 1PR8 for P10 too (a duplicate of the minimum's code).
        f("ih_p10", "1PR8", p10),
        f("ih_p90", "GPMT", p90),
        f("ih_max", "3NCY", s.max()),
        f("ih_mode", "AMMC", mode),
        f("ih_iqr", "WR0O", p75 - p25),
        f("ih_range", "5Z3W", s.max() - s.min()),
        f("ih_mad", "D2ZX", s.mean_abs_dev(s.mean)),
        f("ih_rmad", "WRZB", s.robust_mean_abs_dev()),
        f("ih_medad", "4RNL", s.mean_abs_dev(median)),
        f("ih_cov", "CWYJ", s.variance.sqrt() / s.mean),
        f("ih_qcod", "SLWD", (p75 - p25) / (p75 + p25)),
        f("ih_entropy", "TLU2", entropy),
        f("ih_uniformity", "BJ5W", uniformity),
        f(
            "ih_max_grad",
            "12CE",
            or_nan(argmax.map_or(f64::NAN, |(_, g)| g)),
        ),
        f(
            "ih_max_grad_g",
            "8E6O",
            or_nan(argmax.map_or(f64::NAN, |(i, _)| (i + 1) as f64)),
        ),
        f(
            "ih_min_grad",
            "VQB3",
            or_nan(argmin.map_or(f64::NAN, |(_, g)| g)),
        ),
        f(
            "ih_min_grad_g",
            "RHQZ",
            or_nan(argmin.map_or(f64::NAN, |(i, _)| (i + 1) as f64)),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_ties_go_to_the_bin_nearest_the_mean() {
        // Bins 1 and 3 both hold two voxels; mean 2.2 is closer to 3.
        let fs = features(&[1, 1, 3, 3, 4], 4);
        let mode = fs.iter().find(|f| f.name == "ih_mode").unwrap().value;
        assert_eq!(mode, 3.0);
    }

    #[test]
    fn single_bin_and_empty_inputs_do_not_panic() {
        let one = features(&[1, 1, 1], 1);
        assert!(one.iter().all(|f| !f.value.is_nan() || f.name == "ih_cov"));
        let empty = features(&[], 4);
        assert!(empty
            .iter()
            .filter(|f| f.name != "ih_mode")
            .all(|f| f.value.is_nan()));
    }
}
