//! Classification metrics: ROC and AUC with DeLong and bootstrap intervals, the DeLong test of
//! two correlated AUCs, operating-point metrics with Wilson intervals, the Youden threshold,
//! calibration (reliability curve, ECE, Brier score), the multi-class confusion matrix and
//! Cohen's kappa. See the crate documentation for the conventions.

mod agreement;
mod bootstrap;
mod calibration;
mod delong;
mod roc;
mod threshold;

pub use agreement::{
    cohen_kappa, cohen_kappa_from_matrix, confusion_matrix, ConfusionMatrix, KappaWeights,
};
pub(crate) use bootstrap::percentile_interval;
pub use bootstrap::{auc_ci_bootstrap, roc_sensitivity_band, BootstrapInterval, BootstrapOptions};
pub use calibration::{
    brier_score, expected_calibration_error, reliability_curve, Binning, ReliabilityBin,
    ReliabilityCurve,
};
pub use delong::{auc_ci_delong, delong_test, delong_variance, AucInterval, DelongTest};
pub use roc::{auc, roc_curve, RocCurve};
pub use threshold::{
    confusion_at, threshold_metrics, wilson_interval, youden_threshold, ConfusionCounts,
    OperatingPoint, Proportion, ThresholdMetrics,
};

use crate::EvalError;

/// Checks a binary classification input: equal lengths, finite scores, both classes present.
/// Returns the numbers of positives and negatives.
pub(crate) fn check_binary(labels: &[bool], scores: &[f64]) -> Result<(usize, usize), EvalError> {
    check_lengths(labels.len(), scores.len(), "scores")?;
    check_finite(scores, "score")?;
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Err(EvalError::InvalidInput(format!(
            "the labels hold {positives} positive and {negatives} negative cases; ROC and AUC need both classes"
        )));
    }
    Ok((positives, negatives))
}

pub(crate) fn check_lengths(labels: usize, values: usize, what: &str) -> Result<(), EvalError> {
    if labels == 0 {
        return Err(EvalError::InvalidInput(
            "no cases: the inputs are empty".into(),
        ));
    }
    if labels != values {
        return Err(EvalError::InvalidInput(format!(
            "{labels} labels but {values} {what}; give one per case"
        )));
    }
    Ok(())
}

pub(crate) fn check_finite(values: &[f64], what: &str) -> Result<(), EvalError> {
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(EvalError::InvalidInput(format!(
            "{what} {i} is {}; every {what} must be a finite number",
            values[i]
        )));
    }
    Ok(())
}

/// Checks a confidence level, in (0, 1).
pub(crate) fn check_level(level: f64) -> Result<(), EvalError> {
    if level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(EvalError::InvalidOption(format!(
            "confidence level must lie strictly between 0 and 1 (0.95 for 95 %), got {level}"
        )))
    }
}

/// Indices of `scores` in descending score order; ties keep input order. Scores are finite
/// (checked), and −0.0 and 0.0 compare equal, as in NumPy.
pub(crate) fn descending(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        scores[b]
            .partial_cmp(&scores[a])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    order
}

/// Midranks (1-based, ties get the mean of their ranks) of `values`, which are finite.
pub(crate) fn midranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        values[a]
            .partial_cmp(&values[b])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && values[order[j]] == values[order[i]] {
            j += 1;
        }
        // Positions i..j (0-based) hold ranks i+1..=j; their mean is (i + 1 + j) / 2.
        let rank = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = rank;
        }
        i = j;
    }
    ranks
}
