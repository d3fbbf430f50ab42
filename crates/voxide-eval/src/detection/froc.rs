//! FROC curve over many scans, the competition performance metric, and its bootstrap.

use rayon::prelude::*;

use super::matching::{Outcome, ScanMatches};
use crate::classification::{percentile_interval, BootstrapInterval, BootstrapOptions};
use crate::rng::SplitMix64;
use crate::EvalError;

/// The false-positive rates (per scan) at which the CPM averages the sensitivity: LUNA16's
/// 1/8, 1/4, 1/2, 1, 2, 4 and 8.
pub const CPM_FP_RATES: [f64; 7] = [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0];

/// A free-response ROC curve: lesion sensitivity against mean false positives per scan, one
/// point per distinct detection score.
///
/// `thresholds` descend and start at +∞ (no detection kept: the point (0, 0)); at threshold
/// `t` the detections with score `≥ t` are kept. Ignored detections play no part.
#[derive(Debug, Clone, PartialEq)]
pub struct FrocCurve {
    pub thresholds: Vec<f64>,
    /// Mean false positives per scan at each threshold (non-decreasing).
    pub fp_per_scan: Vec<f64>,
    /// Found lesions / all lesions at each threshold (non-decreasing).
    pub sensitivity: Vec<f64>,
    pub true_positives: Vec<u64>,
    pub false_positives: Vec<u64>,
    /// Reference lesions over all scans.
    pub lesions: u64,
    /// Number of scans.
    pub scans: u64,
}

/// The competition performance metric and its parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cpm {
    /// [`CPM_FP_RATES`].
    pub fp_rates: [f64; 7],
    /// Sensitivity at each rate ([`FrocCurve::sensitivity_at`]).
    pub sensitivities: [f64; 7],
    /// Their mean.
    pub score: f64,
}

impl FrocCurve {
    /// The sensitivity at `fp_per_scan` false positives per scan, interpolated linearly on the
    /// FROC curve exactly as `numpy.interp(fp_per_scan, curve.fp_per_scan, curve.sensitivity)`
    /// does (LUNA16's evaluation script): below the first point, its sensitivity (0); beyond
    /// the last point, the last (highest) sensitivity; on a vertical step (several points at
    /// one FP rate), the highest of them.
    pub fn sensitivity_at(&self, fp_per_scan: f64) -> f64 {
        numpy_interp(fp_per_scan, &self.fp_per_scan, &self.sensitivity)
    }

    /// The competition performance metric (Niemeijer et al., IEEE TMI 2011; LUNA16, Setio et
    /// al., Medical Image Analysis 2017): the mean of [`sensitivity_at`](Self::sensitivity_at)
    /// the seven rates of [`CPM_FP_RATES`].
    pub fn cpm(&self) -> Cpm {
        let sensitivities = CPM_FP_RATES.map(|f| self.sensitivity_at(f));
        Cpm {
            fp_rates: CPM_FP_RATES,
            sensitivities,
            score: sensitivities.iter().sum::<f64>() / 7.0,
        }
    }
}

/// `numpy.interp(x, xp, fp)` for one `x`, `xp` non-decreasing and not empty (NumPy's
/// `arr_interp`, branch for branch).
fn numpy_interp(x: f64, xp: &[f64], fp: &[f64]) -> f64 {
    let last = xp.len() - 1;
    if x < xp[0] {
        return fp[0];
    }
    if x > xp[last] {
        return fp[last];
    }
    // The last j with xp[j] ≤ x, as NumPy's binary search finds it.
    let j = xp.partition_point(|&v| v <= x) - 1;
    if j == last || xp[j] == x {
        return fp[j];
    }
    let slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    slope * (x - xp[j]) + fp[j]
}

/// Checks that each scan's matches are consistent: finite scores, each lesion found at most
/// once, no more found lesions than lesions.
fn check_scan(n: usize, s: &ScanMatches) -> Result<(), EvalError> {
    let mut found: Vec<usize> = Vec::new();
    for d in &s.detections {
        if !d.score.is_finite() {
            return Err(EvalError::InvalidInput(format!(
                "scan {n}: a detection score is {}; scores must be finite",
                d.score
            )));
        }
        if let Outcome::TruePositive { lesion } = d.outcome {
            found.push(lesion);
        }
    }
    found.sort_unstable();
    let unique = found.windows(2).all(|w| w[0] != w[1]);
    if !unique || found.len() > s.lesions {
        return Err(EvalError::InvalidInput(format!(
            "scan {n}: {} true positives for {} lesions, or a lesion found twice; each lesion can be found once",
            found.len(),
            s.lesions
        )));
    }
    Ok(())
}

/// The FROC curve of the scans' matched detections. Sensitivity is over all lesions of all
/// scans (LUNA16's `totalNumberOfLesions`), so a missed lesion lowers it at every threshold;
/// false positives are averaged over all scans, those without detections or lesions included.
///
/// Errors when there are no scans or no lesions at all.
pub fn froc(scans: &[ScanMatches]) -> Result<FrocCurve, EvalError> {
    if scans.is_empty() {
        return Err(EvalError::InvalidInput("no scans".into()));
    }
    for (n, s) in scans.iter().enumerate() {
        check_scan(n, s)?;
    }
    let lesions: u64 = scans.iter().map(|s| s.lesions as u64).sum();
    if lesions == 0 {
        return Err(EvalError::InvalidInput(
            "the scans hold no reference lesions; sensitivity is undefined".into(),
        ));
    }
    let picks: Vec<&ScanMatches> = scans.iter().collect();
    Ok(curve(&picks, lesions))
}

/// The FROC curve of `scans` (already checked) with `lesions` lesions among them.
fn curve(scans: &[&ScanMatches], lesions: u64) -> FrocCurve {
    let mut kept: Vec<(f64, bool)> = scans
        .iter()
        .flat_map(|s| s.detections.iter())
        .filter_map(|d| match d.outcome {
            Outcome::TruePositive { .. } => Some((d.score, true)),
            Outcome::FalsePositive => Some((d.score, false)),
            Outcome::Ignored => None,
        })
        .collect();
    kept.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut thresholds = vec![f64::INFINITY];
    let mut true_positives = vec![0u64];
    let mut false_positives = vec![0u64];
    let (mut tp, mut fp) = (0u64, 0u64);
    for (n, &(score, hit)) in kept.iter().enumerate() {
        if hit {
            tp += 1;
        } else {
            fp += 1;
        }
        // −0.0 and 0.0 are one threshold.
        if kept.get(n + 1).is_none_or(|next| next.0 != score) {
            thresholds.push(score);
            true_positives.push(tp);
            false_positives.push(fp);
        }
    }
    let n_scans = scans.len() as f64;
    FrocCurve {
        fp_per_scan: false_positives
            .iter()
            .map(|&f| f as f64 / n_scans)
            .collect(),
        sensitivity: true_positives
            .iter()
            .map(|&t| t as f64 / lesions as f64)
            .collect(),
        thresholds,
        true_positives,
        false_positives,
        lesions,
        scans: scans.len() as u64,
    }
}

/// Percentile bootstrap interval of the CPM over scans (LUNA16's `computeFROC_bootstrap`
/// resamples scans with replacement): each replicate draws as many scans as there are, with
/// replacement, and computes the FROC curve and CPM of the draw; replicates without any lesion
/// are skipped and counted. `options.stratified` does not apply.
pub fn cpm_bootstrap(
    scans: &[ScanMatches],
    options: &BootstrapOptions,
) -> Result<BootstrapInterval, EvalError> {
    options.validate()?;
    let estimate = froc(scans)?.cpm().score;
    let values: Vec<Option<f64>> = (0..options.replicates)
        .into_par_iter()
        .map(|r| {
            let mut rng = SplitMix64::for_replicate(options.seed, r as u64);
            let picks: Vec<&ScanMatches> = (0..scans.len())
                .map(|_| &scans[rng.below(scans.len())])
                .collect();
            let lesions: u64 = picks.iter().map(|s| s.lesions as u64).sum();
            (lesions > 0).then(|| curve(&picks, lesions).cpm().score)
        })
        .collect();
    let skipped = values.iter().filter(|v| v.is_none()).count();
    percentile_interval(
        estimate,
        values.into_iter().flatten().collect(),
        skipped,
        options.level,
    )
}
