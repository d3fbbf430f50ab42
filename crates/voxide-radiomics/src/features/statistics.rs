//! Intensity-based statistical features (IBSI 3.3) and the shared moment helpers that the
//! intensity histogram features reuse on discretised intensities.

use crate::Feature;

/// Population moments and order statistics of a set of values.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    pub n: usize,
    pub mean: f64,
    pub variance: f64,
    pub skewness: f64,
    pub kurtosis: f64,
    pub sorted: Vec<f64>,
}

impl Summary {
    /// Moments without bias correction, as IBSI defines them; skewness and kurtosis are 0
    /// when the variance is 0 (IBSI), everything is NaN for an empty set.
    pub fn of(values: &[f64]) -> Summary {
        let n = values.len();
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        if n == 0 {
            return Summary {
                n,
                mean: f64::NAN,
                variance: f64::NAN,
                skewness: f64::NAN,
                kurtosis: f64::NAN,
                sorted,
            };
        }
        let nf = n as f64;
        // Pairwise-friendly two-pass moments: the mean first, then central sums.
        let mean = values.iter().sum::<f64>() / nf;
        let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
        for &v in values {
            let d = v - mean;
            let d2 = d * d;
            m2 += d2;
            m3 += d2 * d;
            m4 += d2 * d2;
        }
        let (m2, m3, m4) = (m2 / nf, m3 / nf, m4 / nf);
        let (skewness, kurtosis) = if m2 > 0.0 {
            (m3 / m2.powf(1.5), m4 / (m2 * m2) - 3.0)
        } else {
            (0.0, 0.0)
        };
        Summary {
            n,
            mean,
            variance: m2,
            skewness,
            kurtosis,
            sorted,
        }
    }

    /// The `p`-th percentile (0..=100) with linear interpolation between order statistics
    /// (numpy's default, also PyRadiomics'; it gives the IBSI phantom's P90 of 4).
    pub fn percentile(&self, p: f64) -> f64 {
        percentile_sorted(&self.sorted, p)
    }

    pub fn min(&self) -> f64 {
        self.sorted.first().copied().unwrap_or(f64::NAN)
    }

    pub fn max(&self) -> f64 {
        self.sorted.last().copied().unwrap_or(f64::NAN)
    }

    /// Mean absolute deviation from `centre`.
    pub fn mean_abs_dev(&self, centre: f64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        self.sorted.iter().map(|v| (v - centre).abs()).sum::<f64>() / self.n as f64
    }

    /// Mean absolute deviation of the values between P10 and P90 (inclusive) from their mean.
    pub fn robust_mean_abs_dev(&self) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        let (lo, hi) = (self.percentile(10.0), self.percentile(90.0));
        let inner: Vec<f64> = self
            .sorted
            .iter()
            .copied()
            .filter(|&v| v >= lo && v <= hi)
            .collect();
        if inner.is_empty() {
            return f64::NAN;
        }
        let mean = inner.iter().sum::<f64>() / inner.len() as f64;
        inner.iter().map(|v| (v - mean).abs()).sum::<f64>() / inner.len() as f64
    }
}

/// Linear-interpolation percentile of sorted values (NaN when empty).
pub(crate) fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let rank = p / 100.0 * (n - 1) as f64;
            let lo = rank.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            let frac = rank - lo as f64;
            sorted[lo] + (sorted[hi] - sorted[lo]) * frac
        }
    }
}

/// All 18 IBSI intensity-based statistical features of the ROI intensities.
pub fn features(intensities: &[f64]) -> Vec<Feature> {
    let s = Summary::of(intensities);
    let median = s.percentile(50.0);
    let (p10, p25, p75, p90) = (
        s.percentile(10.0),
        s.percentile(25.0),
        s.percentile(75.0),
        s.percentile(90.0),
    );
    let energy: f64 = intensities.iter().map(|v| v * v).sum();
    let rms = if s.n == 0 {
        f64::NAN
    } else {
        (energy / s.n as f64).sqrt()
    };
    let f = |name, ibsi_code, value| Feature {
        name,
        ibsi_code,
        aggregation: None,
        value,
    };
    vec![
        f("stat_mean", "Q4LE", s.mean),
        f("stat_var", "ECT3", s.variance),
        f("stat_skew", "KE2A", s.skewness),
        f("stat_kurt", "IPH6", s.kurtosis),
        f("stat_median", "Y12H", median),
        f("stat_min", "1GSF", s.min()),
        f("stat_p10", "QG58", p10),
        f("stat_p90", "8DWT", p90),
        f("stat_max", "84IY", s.max()),
        f("stat_iqr", "SALO", p75 - p25),
        f("stat_range", "2OJQ", s.max() - s.min()),
        f("stat_mad", "4FUA", s.mean_abs_dev(s.mean)),
        f("stat_rmad", "1128", s.robust_mean_abs_dev()),
        f("stat_medad", "N72L", s.mean_abs_dev(median)),
        f("stat_cov", "7TET", s.variance.sqrt() / s.mean),
        f("stat_qcod", "9S40", (p75 - p25) / (p75 + p25)),
        f(
            "stat_energy",
            "N8CA",
            if s.n == 0 { f64::NAN } else { energy },
        ),
        f("stat_rms", "5ZWQ", rms),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_linearly() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_sorted(&v, 50.0), 2.5);
        assert_eq!(percentile_sorted(&v, 0.0), 1.0);
        assert_eq!(percentile_sorted(&v, 100.0), 4.0);
        assert!((percentile_sorted(&v, 10.0) - 1.3).abs() < 1e-12);
    }

    #[test]
    fn flat_and_empty_inputs_do_not_panic() {
        let flat = features(&[5.0; 10]);
        let get = |fs: &[Feature], n: &str| fs.iter().find(|f| f.name == n).unwrap().value;
        assert_eq!(get(&flat, "stat_skew"), 0.0);
        assert_eq!(get(&flat, "stat_kurt"), 0.0);
        assert_eq!(get(&flat, "stat_var"), 0.0);
        let empty = features(&[]);
        assert!(empty.iter().all(|f| f.value.is_nan()));
    }
}
