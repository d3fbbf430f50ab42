//! Summaries of a metric over cases: the statistics an evaluation report gives, with a
//! bootstrap confidence interval of the mean.
//!
//! Undefined values (NaN: e.g. a distance when one mask is empty under the default convention)
//! are left out and counted, so that a report says how many cases a mean stands for. An
//! infinite value makes the mean, the standard deviation and the interval infinite (or NaN),
//! which is what it should do to a mean; the median and quartiles stay meaningful.

use crate::rng::SplitMix64;

/// Statistics of one metric over cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Cases with a value (not NaN).
    pub n: usize,
    /// Cases whose value is undefined (NaN), left out of every statistic.
    pub undefined: usize,
    pub mean: f64,
    /// Sample standard deviation (`n − 1`); NaN for fewer than two values.
    pub std: f64,
    pub median: f64,
    /// First and third quartiles (NumPy's linear interpolation).
    pub q1: f64,
    pub q3: f64,
    pub min: f64,
    pub max: f64,
    /// Percentile bootstrap interval of the mean at [`Summary::level`]; NaN for fewer than two
    /// values.
    pub mean_ci: (f64, f64),
    /// Confidence level of `mean_ci` (e.g. 0.95).
    pub level: f64,
}

/// Bootstrap settings: replicates and the seed that makes the interval reproducible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    pub replicates: usize,
    pub seed: u64,
    pub level: f64,
}

impl Default for Bootstrap {
    /// 2,000 replicates, 95 %, a fixed seed.
    fn default() -> Self {
        Self {
            replicates: 2000,
            seed: 0x5eed_2026,
            level: 0.95,
        }
    }
}

/// NumPy's linear percentile of sorted values, except that an exact hit returns the value
/// itself and an infinite neighbour gives an infinite result rather than NaN (`inf · 0`).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * p / 100.0;
    let lo = h.floor() as usize;
    let frac = h - lo as f64;
    if frac == 0.0 || lo + 1 >= n {
        return sorted[lo.min(n - 1)];
    }
    let (a, b) = (sorted[lo], sorted[lo + 1]);
    if a == b || a.is_infinite() {
        a
    } else if b.is_infinite() {
        b
    } else {
        a + (b - a) * frac
    }
}

/// Summarises `values` (one per case).
pub fn summarize(values: &[f64], bootstrap: &Bootstrap) -> Summary {
    let defined: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let n = defined.len();
    let undefined = values.len() - n;
    let mean = if n == 0 {
        f64::NAN
    } else {
        defined.iter().sum::<f64>() / n as f64
    };
    let std = if n < 2 {
        f64::NAN
    } else {
        let ss: f64 = defined.iter().map(|v| (v - mean) * (v - mean)).sum();
        (ss / (n - 1) as f64).sqrt()
    };
    let mut sorted = defined.clone();
    sorted.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if n == 0 {
            f64::NAN
        } else {
            percentile(&sorted, p)
        }
    };
    let mean_ci = if n < 2 || bootstrap.replicates == 0 {
        (f64::NAN, f64::NAN)
    } else {
        let mut means: Vec<f64> = (0..bootstrap.replicates)
            .map(|r| {
                let mut rng = SplitMix64::for_replicate(bootstrap.seed, r as u64);
                (0..n).map(|_| defined[rng.below(n)]).sum::<f64>() / n as f64
            })
            .collect();
        means.sort_by(f64::total_cmp);
        let tail = (1.0 - bootstrap.level) / 2.0 * 100.0;
        (percentile(&means, tail), percentile(&means, 100.0 - tail))
    };
    Summary {
        n,
        undefined,
        mean,
        std,
        median: pct(50.0),
        q1: pct(25.0),
        q3: pct(75.0),
        min: sorted.first().copied().unwrap_or(f64::NAN),
        max: sorted.last().copied().unwrap_or(f64::NAN),
        mean_ci,
        level: bootstrap.level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_match_numpy() {
        // NumPy on the defined values: mean 3.1, std(ddof=1) 2.8372521918222215,
        // percentile([25, 50, 75]) = [1.5, 2.0, 3.0].
        let v = [1.0, 2.0, 3.0, 8.0, f64::NAN, 1.5];
        let s = summarize(&v, &Bootstrap::default());
        assert_eq!((s.n, s.undefined), (5, 1));
        assert!((s.mean - 3.1).abs() < 1e-12);
        assert!((s.std - 2.837_252_191_822_221_5).abs() < 1e-12, "{}", s.std);
        assert_eq!((s.q1, s.median, s.q3), (1.5, 2.0, 3.0));
        assert_eq!((s.min, s.max), (1.0, 8.0));
        let (lo, hi) = s.mean_ci;
        assert!(
            lo < s.mean && s.mean < hi && lo >= 1.0 && hi <= 8.0,
            "{lo} {hi}"
        );
        // Reproducible.
        assert_eq!(summarize(&v, &Bootstrap::default()).mean_ci, s.mean_ci);
    }

    #[test]
    fn degenerate_inputs() {
        let s = summarize(&[], &Bootstrap::default());
        assert_eq!((s.n, s.undefined), (0, 0));
        assert!(s.mean.is_nan() && s.median.is_nan() && s.mean_ci.0.is_nan());
        let s = summarize(&[f64::NAN, 4.0], &Bootstrap::default());
        assert_eq!((s.n, s.mean, s.median), (1, 4.0, 4.0));
        assert!(s.std.is_nan() && s.mean_ci.0.is_nan());
        let s = summarize(&[1.0, f64::INFINITY, 2.0], &Bootstrap::default());
        assert_eq!(s.mean, f64::INFINITY);
        assert_eq!(s.median, 2.0);
    }

    #[test]
    fn bootstrap_interval_covers_a_known_mean() {
        // 200 values 0..199: mean 99.5, standard error ≈ 4.08; the 95 % interval is about
        // ±8 around the mean.
        let v: Vec<f64> = (0..200).map(f64::from).collect();
        let s = summarize(&v, &Bootstrap::default());
        let (lo, hi) = s.mean_ci;
        assert!(
            (lo - 91.5).abs() < 1.5 && (hi - 107.5).abs() < 1.5,
            "{lo} {hi}"
        );
    }
}
