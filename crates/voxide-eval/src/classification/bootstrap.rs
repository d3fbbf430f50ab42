//! Percentile bootstrap confidence interval of the AUC.

use rayon::prelude::*;

use super::{check_binary, check_level, descending};
use crate::rng::SplitMix64;
use crate::stats::percentile_linear;
use crate::EvalError;

/// Parameters of a bootstrap.
#[derive(Debug, Clone, PartialEq)]
pub struct BootstrapOptions {
    /// Number of replicates (pROC's default, 2000).
    pub replicates: usize,
    /// Confidence level of the interval, in (0, 1).
    pub level: f64,
    /// Seed of the random stream; the same seed gives the same interval on any number of
    /// threads.
    pub seed: u64,
    /// Resample each class separately, keeping their sizes (pROC's default for the AUC); with
    /// `false`, resample all cases together and skip replicates that lack a class.
    /// Ignored where there are no classes (the bootstrap of detection metrics over scans).
    pub stratified: bool,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            replicates: 2000,
            level: 0.95,
            seed: 0,
            stratified: true,
        }
    }
}

impl BootstrapOptions {
    pub(crate) fn validate(&self) -> Result<(), EvalError> {
        check_level(self.level)?;
        if self.replicates < 2 {
            return Err(EvalError::InvalidOption(format!(
                "a bootstrap needs at least 2 replicates (2000 is usual), got {}",
                self.replicates
            )));
        }
        Ok(())
    }
}

/// A statistic with its percentile bootstrap interval.
#[derive(Debug, Clone, PartialEq)]
pub struct BootstrapInterval {
    /// The statistic on the original data.
    pub estimate: f64,
    /// Lower bound: the `(1 − level)/2` quantile of the replicates.
    pub lower: f64,
    /// Upper bound: the `(1 + level)/2` quantile of the replicates.
    pub upper: f64,
    /// The confidence level.
    pub level: f64,
    /// Replicates that entered the interval.
    pub replicates: usize,
    /// Replicates skipped because the statistic was undefined on them (a class or every lesion
    /// missing from the resample).
    pub skipped: usize,
}

/// The percentile interval of `values` (finite, any order); `skipped` is carried through.
pub(crate) fn percentile_interval(
    estimate: f64,
    mut values: Vec<f64>,
    skipped: usize,
    level: f64,
) -> Result<BootstrapInterval, EvalError> {
    if values.is_empty() {
        return Err(EvalError::InvalidInput(format!(
            "every one of the {skipped} bootstrap replicates was undefined; the data are too small to resample"
        )));
    }
    values.sort_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    // R's default quantile (type 7), which pROC uses, is NumPy's linear method.
    Ok(BootstrapInterval {
        estimate,
        lower: percentile_linear(&values, 100.0 * alpha),
        upper: percentile_linear(&values, 100.0 * (1.0 - alpha)),
        level,
        replicates: values.len(),
        skipped,
    })
}

/// AUC with ties 1/2 of the cases `idx` (indices into `labels`/`scores`); `None` when a class
/// is missing.
fn auc_of(labels: &[bool], scores: &[f64], idx: &[usize]) -> Option<f64> {
    let s: Vec<f64> = idx.iter().map(|&i| scores[i]).collect();
    let order = descending(&s);
    let (mut tp, mut fp) = (0u128, 0u128);
    let (mut run_tp, mut run_fp) = (0u128, 0u128);
    let mut twice: u128 = 0;
    for (n, &k) in order.iter().enumerate() {
        if labels[idx[k]] {
            run_tp += 1;
        } else {
            run_fp += 1;
        }
        if order.get(n + 1).is_none_or(|&j| s[j] != s[k]) {
            twice += run_fp * (2 * tp + run_tp);
            tp += run_tp;
            fp += run_fp;
            run_tp = 0;
            run_fp = 0;
        }
    }
    (tp > 0 && fp > 0).then(|| twice as f64 / (2.0 * tp as f64 * fp as f64))
}

/// Percentile bootstrap interval of the AUC, like pROC's `ci.auc(method = "bootstrap")`:
/// `replicates` resamples with replacement (stratified by class by default), the AUC of each,
/// and their `(1 − level)/2` and `(1 + level)/2` quantiles (R's type 7). Deterministic for a
/// given seed; the replicates run in parallel.
pub fn auc_ci_bootstrap(
    labels: &[bool],
    scores: &[f64],
    options: &BootstrapOptions,
) -> Result<BootstrapInterval, EvalError> {
    check_binary(labels, scores)?;
    options.validate()?;
    let all: Vec<usize> = (0..labels.len()).collect();
    let pos: Vec<usize> = all.iter().copied().filter(|&i| labels[i]).collect();
    let neg: Vec<usize> = all.iter().copied().filter(|&i| !labels[i]).collect();
    let estimate = auc_of(labels, scores, &all).unwrap_or(f64::NAN);
    let aucs: Vec<Option<f64>> = (0..options.replicates)
        .into_par_iter()
        .map(|r| {
            let mut rng = SplitMix64::for_replicate(options.seed, r as u64);
            let mut idx = Vec::with_capacity(all.len());
            if options.stratified {
                // Positives first, then negatives: a fixed order of draws per replicate.
                for class in [&pos, &neg] {
                    for _ in 0..class.len() {
                        idx.push(class[rng.below(class.len())]);
                    }
                }
            } else {
                for _ in 0..all.len() {
                    idx.push(rng.below(all.len()));
                }
            }
            auc_of(labels, scores, &idx)
        })
        .collect();
    let skipped = aucs.iter().filter(|a| a.is_none()).count();
    percentile_interval(
        estimate,
        aucs.into_iter().flatten().collect(),
        skipped,
        options.level,
    )
}

/// A pointwise bootstrap band of the ROC curve: at each false positive rate of `fpr_grid`, the
/// percentile interval of the sensitivity over stratified resamples (pROC's `ci.se` at fixed
/// specificities, the band its `plot(ci.se(...))` shades). The sensitivity of a resample at a
/// false positive rate `f` is the highest true positive rate of its ROC curve with FPR ≤ `f`
/// (the step ROC curve read from above).
///
/// Returns one `(lower, upper)` per grid point, in grid order.
pub fn roc_sensitivity_band(
    labels: &[bool],
    scores: &[f64],
    fpr_grid: &[f64],
    options: &BootstrapOptions,
) -> Result<Vec<(f64, f64)>, EvalError> {
    check_binary(labels, scores)?;
    options.validate()?;
    if let Some(f) = fpr_grid.iter().find(|f| !(0.0..=1.0).contains(*f)) {
        return Err(EvalError::InvalidOption(format!(
            "false positive rates of the band must lie in [0, 1], got {f}"
        )));
    }
    let pos: Vec<usize> = (0..labels.len()).filter(|&i| labels[i]).collect();
    let neg: Vec<usize> = (0..labels.len()).filter(|&i| !labels[i]).collect();
    let replicates: Vec<Vec<f64>> = (0..options.replicates)
        .into_par_iter()
        .map(|r| {
            let mut rng = SplitMix64::for_replicate(options.seed, r as u64);
            let mut l = Vec::with_capacity(labels.len());
            let mut s = Vec::with_capacity(labels.len());
            for (class, truth) in [(&pos, true), (&neg, false)] {
                for _ in 0..class.len() {
                    l.push(truth);
                    s.push(scores[class[rng.below(class.len())]]);
                }
            }
            // Both classes are present by construction (stratified), so this cannot fail.
            let Ok(roc) = super::roc_curve(&l, &s) else {
                return vec![f64::NAN; fpr_grid.len()];
            };
            fpr_grid
                .iter()
                .map(|&f| {
                    roc.fpr
                        .iter()
                        .zip(&roc.tpr)
                        .filter(|(x, _)| **x <= f)
                        .map(|(_, t)| *t)
                        .fold(0.0, f64::max)
                })
                .collect()
        })
        .collect();
    let alpha = (1.0 - options.level) / 2.0;
    Ok((0..fpr_grid.len())
        .map(|g| {
            let mut v: Vec<f64> = replicates.iter().map(|r| r[g]).collect();
            v.sort_by(f64::total_cmp);
            (
                percentile_linear(&v, 100.0 * alpha),
                percentile_linear(&v, 100.0 * (1.0 - alpha)),
            )
        })
        .collect())
}

#[cfg(test)]
mod band_tests {
    use super::*;

    #[test]
    fn band_brackets_the_curve_and_narrows_with_more_cases() {
        // Scores with a known separation: positives shifted up by one unit.
        let make = |n: usize| {
            let mut labels = Vec::new();
            let mut scores = Vec::new();
            for i in 0..n {
                let u = (i as f64 + 0.5) / n as f64;
                labels.push(i % 2 == 0);
                scores.push(u * 3.0 + if i % 2 == 0 { 1.0 } else { 0.0 });
            }
            (labels, scores)
        };
        let grid = [0.0, 0.1, 0.25, 0.5, 1.0];
        let opts = BootstrapOptions::default();
        let (l, s) = make(200);
        let roc = super::super::roc_curve(&l, &s).unwrap();
        let band = roc_sensitivity_band(&l, &s, &grid, &opts).unwrap();
        for (&f, &(lo, hi)) in grid.iter().zip(&band) {
            let tpr = roc
                .fpr
                .iter()
                .zip(&roc.tpr)
                .filter(|(x, _)| **x <= f)
                .map(|(_, t)| *t)
                .fold(0.0, f64::max);
            assert!(
                lo <= tpr + 1e-12 && tpr <= hi + 1e-12,
                "{f}: {lo} {tpr} {hi}"
            );
        }
        assert_eq!(band[4], (1.0, 1.0));
        let (l2, s2) = make(2000);
        let wide = band[2].1 - band[2].0;
        let narrow = roc_sensitivity_band(&l2, &s2, &grid, &opts).unwrap()[2];
        assert!(narrow.1 - narrow.0 < wide, "{wide} vs {:?}", narrow);
        assert!(roc_sensitivity_band(&l, &s, &[1.5], &opts).is_err());
    }
}
