//! Calibration of predicted probabilities: reliability curve, expected calibration error, Brier
//! score.

use super::{check_finite, check_lengths};
use crate::stats::percentile_linear;
use crate::EvalError;

/// How the probability axis is cut into bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binning {
    /// `n` bins of equal width on [0, 1] (scikit-learn's `strategy="uniform"`).
    Uniform(usize),
    /// `n` bins holding about equally many cases: edges at the `i/n` quantiles of the predicted
    /// probabilities, NumPy's linear `percentile` (scikit-learn's `strategy="quantile"`).
    Quantile(usize),
}

impl Binning {
    fn bins(self) -> usize {
        match self {
            Binning::Uniform(n) | Binning::Quantile(n) => n,
        }
    }
}

/// One bin of a reliability curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliabilityBin {
    /// Lower edge (excluded, except for the first bin).
    pub lower: f64,
    /// Upper edge (included).
    pub upper: f64,
    /// Cases in the bin.
    pub count: u64,
    /// Positive cases in the bin.
    pub positives: u64,
    /// Mean predicted probability of the cases in the bin ("confidence"); NaN when empty.
    pub mean_predicted: f64,
    /// Fraction of positive cases in the bin ("accuracy"); NaN when empty.
    pub fraction_positive: f64,
}

/// A reliability diagram: every bin, empty ones included.
#[derive(Debug, Clone, PartialEq)]
pub struct ReliabilityCurve {
    pub bins: Vec<ReliabilityBin>,
    /// Number of cases.
    pub cases: u64,
}

impl ReliabilityCurve {
    /// scikit-learn's `calibration_curve` output `(prob_true, prob_pred)`: the fraction of
    /// positives and the mean predicted probability of the non-empty bins.
    pub fn sklearn(&self) -> (Vec<f64>, Vec<f64>) {
        self.bins
            .iter()
            .filter(|b| b.count > 0)
            .map(|b| (b.fraction_positive, b.mean_predicted))
            .unzip()
    }

    /// Expected calibration error over these bins: Σ (n_b / N)·|fraction_positive_b −
    /// mean_predicted_b|, empty bins contributing nothing.
    pub fn expected_calibration_error(&self) -> f64 {
        self.bins
            .iter()
            .filter(|b| b.count > 0)
            .map(|b| {
                b.count as f64 / self.cases as f64 * (b.fraction_positive - b.mean_predicted).abs()
            })
            .sum()
    }
}

fn check_probabilities(labels: &[bool], probabilities: &[f64]) -> Result<(), EvalError> {
    check_lengths(labels.len(), probabilities.len(), "probabilities")?;
    check_finite(probabilities, "probability")?;
    if let Some(i) = probabilities.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(EvalError::InvalidInput(format!(
            "probability {i} is {}; calibration needs probabilities in [0, 1] (apply the model's sigmoid or softmax first)",
            probabilities[i]
        )));
    }
    Ok(())
}

/// The reliability curve of `probabilities` (of the positive class) against `labels`.
///
/// Bins follow scikit-learn's `calibration_curve`: edges `e_0 … e_n` (for [`Binning::Uniform`]
/// NumPy's `linspace(0, 1, n + 1)`, for [`Binning::Quantile`] the percentiles of the data at
/// those fractions), and a case goes to bin `b` when `e_b < p ≤ e_{b+1}` (NumPy's
/// `searchsorted` on the inner edges; the first bin also holds `p = e_0`). Quantile edges can
/// coincide when many probabilities are equal; the bins between equal edges stay empty.
pub fn reliability_curve(
    labels: &[bool],
    probabilities: &[f64],
    binning: Binning,
) -> Result<ReliabilityCurve, EvalError> {
    check_probabilities(labels, probabilities)?;
    let n = binning.bins();
    if n == 0 {
        return Err(EvalError::InvalidOption(
            "the number of bins must be at least 1".into(),
        ));
    }
    // NumPy's linspace(0, 1, n + 1): i·(1/n), the last edge exactly 1.
    let step = 1.0 / n as f64;
    let fractions: Vec<f64> = (0..=n)
        .map(|i| if i == n { 1.0 } else { i as f64 * step })
        .collect();
    let edges: Vec<f64> = match binning {
        Binning::Uniform(_) => fractions,
        Binning::Quantile(_) => {
            let mut sorted = probabilities.to_vec();
            sorted.sort_by(f64::total_cmp);
            fractions
                .iter()
                .map(|&q| percentile_linear(&sorted, q * 100.0))
                .collect()
        }
    };
    let inner = &edges[1..n];
    let mut count = vec![0u64; n];
    let mut positives = vec![0u64; n];
    let mut sum = vec![0.0f64; n];
    for (&l, &p) in labels.iter().zip(probabilities) {
        let b = inner.partition_point(|&e| e < p);
        count[b] += 1;
        positives[b] += u64::from(l);
        // In input order, as NumPy's bincount accumulates its weights.
        sum[b] += p;
    }
    let bins = (0..n)
        .map(|b| ReliabilityBin {
            lower: edges[b],
            upper: edges[b + 1],
            count: count[b],
            positives: positives[b],
            mean_predicted: sum[b] / count[b] as f64,
            fraction_positive: positives[b] as f64 / count[b] as f64,
        })
        .collect();
    Ok(ReliabilityCurve {
        bins,
        cases: labels.len() as u64,
    })
}

/// Expected calibration error (Naeini, Cooper & Hauskrecht, AAAI 2015; Guo et al., ICML 2017):
/// the case-weighted mean over bins of |fraction of positives − mean predicted probability|,
/// on the bins of [`reliability_curve`] (so `Binning::Uniform(10)` gives the usual 10-bin ECE
/// of the positive-class probability, with bins closed on the right).
pub fn expected_calibration_error(
    labels: &[bool],
    probabilities: &[f64],
    binning: Binning,
) -> Result<f64, EvalError> {
    Ok(reliability_curve(labels, probabilities, binning)?.expected_calibration_error())
}

/// Brier score: the mean of `(p − y)²` with y = 1 for a positive case (scikit-learn's
/// `brier_score_loss`).
pub fn brier_score(labels: &[bool], probabilities: &[f64]) -> Result<f64, EvalError> {
    check_probabilities(labels, probabilities)?;
    let total: f64 = labels
        .iter()
        .zip(probabilities)
        .map(|(&l, &p)| (p - f64::from(u8::from(l))).powi(2))
        .sum();
    Ok(total / labels.len() as f64)
}
