//! DeLong's variance of the AUC, its confidence interval, and the test of two correlated AUCs.
//!
//! DeLong, DeLong & Clarke-Pearson, "Comparing the areas under two or more correlated receiver
//! operating characteristic curves: a nonparametric approach", Biometrics 44 (1988) 837–845,
//! computed with the midrank algorithm of Sun & Xu, "Fast implementation of DeLong's algorithm
//! for comparing the areas under correlated receiver operating characteristic curves", IEEE
//! Signal Processing Letters 21 (2014) 1389–1393: O((m + n) log(m + n)) instead of the
//! original O(m·n) pairwise comparisons, same values.

use super::{check_binary, check_finite, check_lengths, check_level, midranks};
use crate::normal;
use crate::EvalError;

/// The structural components of one score set: V10 per positive case (the fraction of negatives
/// it outscores, ties 1/2) and V01 per negative case (the fraction of positives that outscore
/// it), and the AUC (the mean of either).
struct Placements {
    v10: Vec<f64>,
    v01: Vec<f64>,
    auc: f64,
}

fn placements(labels: &[bool], scores: &[f64]) -> Placements {
    let x: Vec<f64> = (0..labels.len())
        .filter(|&i| labels[i])
        .map(|i| scores[i])
        .collect();
    let y: Vec<f64> = (0..labels.len())
        .filter(|&i| !labels[i])
        .map(|i| scores[i])
        .collect();
    let (m, n) = (x.len(), y.len());
    let z: Vec<f64> = x.iter().chain(&y).copied().collect();
    let (tx, ty, tz) = (midranks(&x), midranks(&y), midranks(&z));
    // Sun & Xu eq. (12)–(13): a case's midrank among all cases minus its midrank among its own
    // class counts the cases of the other class below it (ties 1/2).
    let v10: Vec<f64> = (0..m).map(|i| (tz[i] - tx[i]) / n as f64).collect();
    let v01: Vec<f64> = (0..n)
        .map(|j| 1.0 - (tz[m + j] - ty[j]) / m as f64)
        .collect();
    let auc = v10.iter().sum::<f64>() / m as f64;
    Placements { v10, v01, auc }
}

/// Sample covariance (denominator k − 1) of two equally long series.
fn covariance(a: &[f64], b: &[f64]) -> f64 {
    let k = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / k, b.iter().sum::<f64>() / k);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (k - 1.0)
}

/// DeLong needs the sample variance of each class's components.
fn check_two_per_class(labels: &[bool]) -> Result<(), EvalError> {
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives < 2 || negatives < 2 {
        return Err(EvalError::InvalidInput(format!(
            "DeLong's variance needs at least 2 positive and 2 negative cases, got {positives} and {negatives}"
        )));
    }
    Ok(())
}

/// The AUC and DeLong's estimate of its variance, `S10/m + S01/n` (S10, S01: sample variances
/// of the structural components of the m positive and n negative cases).
///
/// Needs at least two cases of each class.
pub fn delong_variance(labels: &[bool], scores: &[f64]) -> Result<(f64, f64), EvalError> {
    check_binary(labels, scores)?;
    check_two_per_class(labels)?;
    let p = placements(labels, scores);
    let var = covariance(&p.v10, &p.v10) / p.v10.len() as f64
        + covariance(&p.v01, &p.v01) / p.v01.len() as f64;
    // A sum of two sample variances: ≥ 0 up to rounding; clamp the rounding away.
    Ok((p.auc, var.max(0.0)))
}

/// An AUC with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AucInterval {
    /// The AUC of the data.
    pub auc: f64,
    /// DeLong's variance of the AUC.
    pub variance: f64,
    /// Lower bound, ≥ 0.
    pub lower: f64,
    /// Upper bound, ≤ 1.
    pub upper: f64,
    /// The confidence level, e.g. 0.95.
    pub level: f64,
}

/// DeLong confidence interval of the AUC at `level` (0.95 for 95 %): `AUC ± z·√var` with z the
/// normal quantile at `(1 + level)/2`, clipped to [0, 1] — pROC's `ci.auc(method = "delong")`.
pub fn auc_ci_delong(
    labels: &[bool],
    scores: &[f64],
    level: f64,
) -> Result<AucInterval, EvalError> {
    check_level(level)?;
    let (auc, variance) = delong_variance(labels, scores)?;
    let half = normal::quantile(0.5 + level / 2.0) * variance.sqrt();
    Ok(AucInterval {
        auc,
        variance,
        lower: (auc - half).clamp(0.0, 1.0),
        upper: (auc + half).clamp(0.0, 1.0),
        level,
    })
}

/// DeLong's test of the difference of two AUCs measured on the same cases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelongTest {
    /// AUC of the first score set.
    pub auc1: f64,
    /// AUC of the second score set.
    pub auc2: f64,
    /// DeLong variance of `auc1`.
    pub variance1: f64,
    /// DeLong variance of `auc2`.
    pub variance2: f64,
    /// DeLong covariance of the two AUCs.
    pub covariance: f64,
    /// `(auc1 − auc2) / √(var1 + var2 − 2·cov)`.
    pub z: f64,
    /// Two-sided p-value, `2·(1 − Φ(|z|))`.
    pub p_value: f64,
}

/// DeLong's test that two score sets on the same cases (e.g. two models, or a model and a
/// reader) have equal AUCs: pROC's `roc.test(method = "delong", paired = TRUE)` with both
/// curves in the direction "higher score = positive".
///
/// When the variance of the difference is 0 (the two rankings differ by a constant shift of
/// every component), `z` is ±∞ and p is 0 if the AUCs differ; if they are equal as well the
/// test is undefined and this is an error (e.g. two identical rankings).
pub fn delong_test(
    labels: &[bool],
    scores1: &[f64],
    scores2: &[f64],
) -> Result<DelongTest, EvalError> {
    check_binary(labels, scores1)?;
    check_lengths(labels.len(), scores2.len(), "second scores")?;
    check_finite(scores2, "second score")?;
    check_two_per_class(labels)?;
    let a = placements(labels, scores1);
    let b = placements(labels, scores2);
    let (m, n) = (a.v10.len() as f64, a.v01.len() as f64);
    let var1 = covariance(&a.v10, &a.v10) / m + covariance(&a.v01, &a.v01) / n;
    let var2 = covariance(&b.v10, &b.v10) / m + covariance(&b.v01, &b.v01) / n;
    let cov = covariance(&a.v10, &b.v10) / m + covariance(&a.v01, &b.v01) / n;
    let diff = a.auc - b.auc;
    let var_diff = (var1 + var2 - 2.0 * cov).max(0.0);
    // Rounding can leave a few ulps of variance where the exact value is 0; treat a variance
    // that small relative to the terms as 0 so that identical rankings are recognised.
    let scale = var1.max(var2).max(f64::MIN_POSITIVE);
    let var_diff = if var_diff <= 1e-14 * scale {
        0.0
    } else {
        var_diff
    };
    if var_diff == 0.0 && diff.abs() <= 1e-14 {
        return Err(EvalError::InvalidInput(
            "the two score sets rank the cases identically (equal AUCs, zero variance of the difference); DeLong's test is undefined".into(),
        ));
    }
    let z = if var_diff == 0.0 {
        diff.signum() * f64::INFINITY
    } else {
        diff / var_diff.sqrt()
    };
    Ok(DelongTest {
        auc1: a.auc,
        auc2: b.auc,
        variance1: var1.max(0.0),
        variance2: var2.max(0.0),
        covariance: cov,
        z,
        p_value: (2.0 * normal::survival(z.abs())).min(1.0),
    })
}
