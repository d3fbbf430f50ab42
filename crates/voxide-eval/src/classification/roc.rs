//! The ROC curve over every distinct threshold, and the AUC.

use super::{check_binary, descending};
use crate::EvalError;

/// A receiver operating characteristic curve, one point per distinct threshold.
///
/// scikit-learn's `roc_curve(drop_intermediate=False)`: `thresholds` descend, the first is +∞
/// (nothing called positive: the point (0, 0)), the others are the distinct scores; a case is
/// called positive at threshold `t` when its score is `≥ t`. The last point is (1, 1).
#[derive(Debug, Clone, PartialEq)]
pub struct RocCurve {
    /// Thresholds, descending, starting at +∞.
    pub thresholds: Vec<f64>,
    /// False positive rate (1 − specificity) at each threshold.
    pub fpr: Vec<f64>,
    /// True positive rate (sensitivity) at each threshold.
    pub tpr: Vec<f64>,
    /// True positives at each threshold.
    pub true_positives: Vec<u64>,
    /// False positives at each threshold.
    pub false_positives: Vec<u64>,
    /// Number of positive cases.
    pub positives: u64,
    /// Number of negative cases.
    pub negatives: u64,
}

impl RocCurve {
    /// Area under the curve by the trapezoidal rule, which on this curve (every threshold) is
    /// the Mann–Whitney AUC with ties counted 1/2.
    pub fn auc(&self) -> f64 {
        // Twice the area in units of one positive × one negative, summed exactly in integers,
        // then divided once: no rounding accumulates over thousands of thresholds.
        let mut twice: u128 = 0;
        for w in 1..self.thresholds.len() {
            let dfp = u128::from(self.false_positives[w] - self.false_positives[w - 1]);
            let tp = u128::from(self.true_positives[w] + self.true_positives[w - 1]);
            twice += dfp * tp;
        }
        twice as f64 / (2.0 * self.positives as f64 * self.negatives as f64)
    }
}

/// The ROC curve of `scores` (higher = more likely positive) against `labels` (true =
/// positive).
///
/// Errors when the lengths differ, the input is empty, a score is not finite, or one class is
/// missing.
pub fn roc_curve(labels: &[bool], scores: &[f64]) -> Result<RocCurve, EvalError> {
    let (positives, negatives) = check_binary(labels, scores)?;
    let order = descending(scores);
    let mut thresholds = vec![f64::INFINITY];
    let mut true_positives = vec![0u64];
    let mut false_positives = vec![0u64];
    let (mut tp, mut fp) = (0u64, 0u64);
    for (n, &i) in order.iter().enumerate() {
        if labels[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        // A point closes a run of equal scores: all cases at or above the threshold count.
        let last_of_run = order.get(n + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_run {
            thresholds.push(scores[i]);
            true_positives.push(tp);
            false_positives.push(fp);
        }
    }
    let (p, q) = (positives as f64, negatives as f64);
    Ok(RocCurve {
        fpr: false_positives.iter().map(|&f| f as f64 / q).collect(),
        tpr: true_positives.iter().map(|&t| t as f64 / p).collect(),
        thresholds,
        true_positives,
        false_positives,
        positives: positives as u64,
        negatives: negatives as u64,
    })
}

/// The area under the ROC curve: the probability that a random positive case scores higher
/// than a random negative one, ties counting 1/2 (Mann–Whitney U / (m·n)); scikit-learn's
/// `roc_auc_score`, pROC's `auc`.
pub fn auc(labels: &[bool], scores: &[f64]) -> Result<f64, EvalError> {
    Ok(roc_curve(labels, scores)?.auc())
}
