//! Metrics at one operating point, Wilson intervals, and the Youden-optimal threshold.

use super::{check_finite, check_lengths, check_level, roc_curve};
use crate::normal;
use crate::EvalError;

/// The 2×2 confusion counts at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfusionCounts {
    /// Positive cases called positive.
    pub true_positives: u64,
    /// Negative cases called positive.
    pub false_positives: u64,
    /// Negative cases called negative.
    pub true_negatives: u64,
    /// Positive cases called negative.
    pub false_negatives: u64,
}

/// The confusion counts when a case is called positive if its score is `≥ threshold` (the
/// convention of [`roc_curve`](super::roc_curve)). One class may be absent here: the counts are
/// still defined, the proportions with a zero denominator are NaN.
pub fn confusion_at(
    labels: &[bool],
    scores: &[f64],
    threshold: f64,
) -> Result<ConfusionCounts, EvalError> {
    check_lengths(labels.len(), scores.len(), "scores")?;
    check_finite(scores, "score")?;
    if threshold.is_nan() {
        return Err(EvalError::InvalidOption("the threshold is NaN".into()));
    }
    let mut c = ConfusionCounts::default();
    for (&l, &s) in labels.iter().zip(scores) {
        match (l, s >= threshold) {
            (true, true) => c.true_positives += 1,
            (false, true) => c.false_positives += 1,
            (false, false) => c.true_negatives += 1,
            (true, false) => c.false_negatives += 1,
        }
    }
    Ok(c)
}

/// A proportion `successes / trials` with its Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proportion {
    /// Numerator.
    pub successes: u64,
    /// Denominator.
    pub trials: u64,
    /// `successes / trials`; NaN when `trials` is 0.
    pub estimate: f64,
    /// Lower Wilson bound; NaN when `trials` is 0.
    pub lower: f64,
    /// Upper Wilson bound; NaN when `trials` is 0.
    pub upper: f64,
}

impl Proportion {
    fn new(successes: u64, trials: u64, level: f64) -> Self {
        let (lower, upper) = wilson(successes, trials, level);
        Self {
            successes,
            trials,
            estimate: successes as f64 / trials as f64,
            lower,
            upper,
        }
    }
}

/// Wilson score interval without continuity correction, bounds assumed checked; NaN for no
/// trials.
fn wilson(successes: u64, trials: u64, level: f64) -> (f64, f64) {
    if trials == 0 {
        return (f64::NAN, f64::NAN);
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z = normal::quantile(0.5 + level / 2.0);
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // At p̂ = 0 the lower bound is exactly 0 (centre and half-width are both z²/2n over the
    // denominator), and at p̂ = 1 the upper bound exactly 1; rounding would leave ~1e-17
    // there. Elsewhere exact arithmetic keeps the bounds inside [0, 1]; clamp the rounding.
    let lower = if successes == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let upper = if successes == trials {
        1.0
    } else {
        (centre + half).min(1.0)
    };
    (lower, upper)
}

/// The Wilson score interval (E. B. Wilson, JASA 1927) of `successes` out of `trials` at
/// `level` (0.95 for 95 %), without continuity correction:
/// `(p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)`. Unlike the Wald interval it stays in
/// [0, 1] and keeps its coverage near 0 and 1, where sensitivities of good models live.
pub fn wilson_interval(successes: u64, trials: u64, level: f64) -> Result<(f64, f64), EvalError> {
    check_level(level)?;
    if trials == 0 {
        return Err(EvalError::InvalidInput(
            "a proportion of 0 trials has no interval".into(),
        ));
    }
    if successes > trials {
        return Err(EvalError::InvalidInput(format!(
            "{successes} successes out of {trials} trials"
        )));
    }
    Ok(wilson(successes, trials, level))
}

/// The metrics of one operating point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdMetrics {
    pub counts: ConfusionCounts,
    /// TP / (TP + FN).
    pub sensitivity: Proportion,
    /// TN / (TN + FP).
    pub specificity: Proportion,
    /// Positive predictive value (precision), TP / (TP + FP).
    pub ppv: Proportion,
    /// Negative predictive value, TN / (TN + FN).
    pub npv: Proportion,
    /// (TP + TN) / all.
    pub accuracy: Proportion,
    /// F1 = 2TP / (2TP + FP + FN), the harmonic mean of sensitivity and PPV; NaN when there
    /// are neither positive cases nor positive calls. Not a binomial proportion, so no Wilson
    /// interval (bootstrap it if needed).
    pub f1: f64,
}

/// Sensitivity, specificity, PPV, NPV and accuracy with Wilson intervals at `level`, and F1.
/// A proportion whose denominator is 0 (e.g. PPV with no positive calls) is NaN with NaN
/// bounds.
pub fn threshold_metrics(
    counts: &ConfusionCounts,
    level: f64,
) -> Result<ThresholdMetrics, EvalError> {
    check_level(level)?;
    let ConfusionCounts {
        true_positives: tp,
        false_positives: fp,
        true_negatives: tn,
        false_negatives: fn_,
    } = *counts;
    let f1_denominator = 2 * tp + fp + fn_;
    Ok(ThresholdMetrics {
        counts: *counts,
        sensitivity: Proportion::new(tp, tp + fn_, level),
        specificity: Proportion::new(tn, tn + fp, level),
        ppv: Proportion::new(tp, tp + fp, level),
        npv: Proportion::new(tn, tn + fn_, level),
        accuracy: Proportion::new(tp + tn, tp + fp + tn + fn_, level),
        f1: (2 * tp) as f64 / f1_denominator as f64,
    })
}

/// The threshold that maximises Youden's J = sensitivity + specificity − 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OperatingPoint {
    /// The threshold (a score of the data, or +∞ when no threshold beats calling every case
    /// negative); positive = score `≥ threshold`.
    pub threshold: f64,
    pub sensitivity: f64,
    pub specificity: f64,
    /// Youden's J at this threshold.
    pub youden: f64,
}

/// The Youden-optimal threshold among the ROC curve's thresholds (every distinct score, and
/// +∞).
///
/// J is compared exactly (as `TP·N − FP·P` in integers), so thresholds with mathematically
/// equal J tie; a tie goes to the **highest** threshold, i.e. the one with the highest
/// specificity among the tied points: a conservative choice, and deterministic. Where every
/// threshold has J ≤ 0 that is +∞ (call nothing positive), telling that the scores do not
/// separate the classes in the positive direction.
pub fn youden_threshold(labels: &[bool], scores: &[f64]) -> Result<OperatingPoint, EvalError> {
    let roc = roc_curve(labels, scores)?;
    let (p, n) = (i128::from(roc.positives), i128::from(roc.negatives));
    let j_scaled =
        |w: usize| i128::from(roc.true_positives[w]) * n - i128::from(roc.false_positives[w]) * p;
    let mut best = 0;
    for w in 1..roc.thresholds.len() {
        // Strictly greater: an equal J keeps the earlier, higher threshold.
        if j_scaled(w) > j_scaled(best) {
            best = w;
        }
    }
    let sensitivity = roc.tpr[best];
    let specificity = 1.0 - roc.fpr[best];
    Ok(OperatingPoint {
        threshold: roc.thresholds[best],
        sensitivity,
        specificity,
        youden: sensitivity + specificity - 1.0,
    })
}
