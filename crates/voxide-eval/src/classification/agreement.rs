//! Multi-class confusion matrix and Cohen's kappa.

use super::check_lengths;
use crate::EvalError;

/// A multi-class confusion matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix<T> {
    /// The classes, sorted ascending: the union of the classes in both inputs (scikit-learn's
    /// `unique_labels`).
    pub classes: Vec<T>,
    /// `counts[r][c]`: cases of reference class `classes[r]` predicted as `classes[c]`.
    pub counts: Vec<Vec<u64>>,
}

impl<T> ConfusionMatrix<T> {
    /// Number of cases.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }
}

/// The confusion matrix of `predicted` against `reference` (rows: reference, columns:
/// prediction; scikit-learn's `confusion_matrix(reference, predicted)`).
pub fn confusion_matrix<T: Ord + Clone>(
    reference: &[T],
    predicted: &[T],
) -> Result<ConfusionMatrix<T>, EvalError> {
    check_lengths(reference.len(), predicted.len(), "predictions")?;
    let mut classes: Vec<T> = reference.iter().chain(predicted).cloned().collect();
    classes.sort();
    classes.dedup();
    let k = classes.len();
    let mut counts = vec![vec![0u64; k]; k];
    for (r, p) in reference.iter().zip(predicted) {
        // Both are in `classes` by construction, so the searches succeed.
        if let (Ok(i), Ok(j)) = (classes.binary_search(r), classes.binary_search(p)) {
            counts[i][j] += 1;
        }
    }
    Ok(ConfusionMatrix { classes, counts })
}

/// The disagreement weights of Cohen's kappa.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KappaWeights {
    /// Every disagreement weighs 1 (Cohen 1960).
    #[default]
    Unweighted,
    /// `|i − j|`, with i, j the positions of the two classes in ascending order.
    Linear,
    /// `(i − j)²` (Cohen 1968; equals the intraclass correlation under some conditions).
    Quadratic,
}

/// Cohen's kappa between two raters (or a model and a reference) on the same cases:
/// `1 − Σ w·O / Σ w·E`, O the observed confusion matrix and E the one expected from the two
/// raters' marginals — scikit-learn's `cohen_kappa_score`.
///
/// Weighted kappa uses the *positions* of the classes in ascending order, not their values
/// (as scikit-learn does): ratings 1, 2, 5 are 0, 1, 2 apart. Kappa is undefined, and this is
/// an error, when the raters use a single class between them (Σ w·E = 0).
pub fn cohen_kappa<T: Ord + Clone>(
    rater1: &[T],
    rater2: &[T],
    weights: KappaWeights,
) -> Result<f64, EvalError> {
    cohen_kappa_from_matrix(&confusion_matrix(rater1, rater2)?, weights)
}

/// Cohen's kappa of a confusion matrix (see [`cohen_kappa`]).
pub fn cohen_kappa_from_matrix<T>(
    matrix: &ConfusionMatrix<T>,
    weights: KappaWeights,
) -> Result<f64, EvalError> {
    let k = matrix.counts.len();
    if k == 0 || matrix.counts.iter().any(|row| row.len() != k) {
        return Err(EvalError::InvalidInput(
            "the confusion matrix must be square and not empty".into(),
        ));
    }
    let c: Vec<Vec<f64>> = matrix
        .counts
        .iter()
        .map(|row| row.iter().map(|&v| v as f64).collect())
        .collect();
    let col: Vec<f64> = (0..k).map(|j| (0..k).map(|i| c[i][j]).sum()).collect();
    let row: Vec<f64> = (0..k).map(|i| c[i].iter().sum()).collect();
    let total: f64 = col.iter().sum();
    if total == 0.0 {
        return Err(EvalError::InvalidInput(
            "no cases: the confusion matrix is all zero".into(),
        ));
    }
    let w = |i: usize, j: usize| -> f64 {
        let d = i.abs_diff(j) as f64;
        match weights {
            KappaWeights::Unweighted => f64::from(u8::from(i != j)),
            KappaWeights::Linear => d,
            KappaWeights::Quadratic => d * d,
        }
    };
    let (mut observed, mut expected) = (0.0, 0.0);
    for i in 0..k {
        for j in 0..k {
            observed += w(i, j) * c[i][j];
            // scikit-learn's np.outer(sum0, sum1) / total: column sums index the rows.
            expected += w(i, j) * (col[i] * row[j] / total);
        }
    }
    if expected == 0.0 {
        return Err(EvalError::InvalidInput(
            "Cohen's kappa is undefined: the ratings use a single class, so chance agreement is already perfect".into(),
        ));
    }
    Ok(1.0 - observed / expected)
}
