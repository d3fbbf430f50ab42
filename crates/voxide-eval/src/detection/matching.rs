//! Lesion-wise matching of detections to reference lesions in one scan.

use std::collections::HashMap;

use ndarray::ArrayView3;

use super::components::{connected_components, Components, Connectivity};
use crate::classification::check_finite;
use crate::EvalError;

/// What a detection turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It found reference lesion `lesion` (an index into the scan's reference list).
    TruePositive { lesion: usize },
    /// It found nothing.
    FalsePositive,
    /// Neither: a second hit on an already found lesion under [`Duplicates::Ignore`], or a hit
    /// on a lesion marked `ignore` (LUNA16's "irrelevant findings").
    Ignored,
}

/// One scored detection after matching.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchedDetection {
    pub score: f64,
    pub outcome: Outcome,
}

/// The result of matching one scan: what [`froc`](super::froc) takes, one per scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanMatches {
    /// Every detection, in input order.
    pub detections: Vec<MatchedDetection>,
    /// Number of reference lesions that count (not marked `ignore`); the denominator of the
    /// sensitivity.
    pub lesions: usize,
}

impl ScanMatches {
    /// Lesions found (true positives).
    pub fn found(&self) -> usize {
        self.detections
            .iter()
            .filter(|d| matches!(d.outcome, Outcome::TruePositive { .. }))
            .count()
    }
}

/// What a second detection of an already matched lesion counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duplicates {
    /// A false positive (the one-to-one rule of COCO-style detection metrics).
    #[default]
    FalsePositive,
    /// Neither true nor false positive (LUNA16: "double detections" are ignored).
    Ignore,
}

/// A point detection: a position in mm (LPS, or any frame shared with the reference) and a
/// score (higher = more confident).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointDetection {
    pub position_mm: [f64; 3],
    pub score: f64,
}

/// A reference lesion given by its centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReferenceLesion {
    pub centre_mm: [f64; 3],
    /// The lesion's radius (mm), used with [`MatchRadius::LesionRadius`] (LUNA16: half the
    /// annotated diameter).
    pub radius_mm: f64,
    /// Hits on it are neither true nor false positives, and it does not count as a lesion
    /// (LUNA16's excluded findings).
    pub ignore: bool,
}

/// How close a point detection must be to a lesion centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MatchRadius {
    /// Within this distance (mm) of the centre, for every lesion.
    Fixed(f64),
    /// Within the lesion's own [`ReferenceLesion::radius_mm`].
    LesionRadius,
}

/// Greedy matching shared by the point and overlap rules. `candidates(d)` lists the lesions
/// detection `d` may match, best first (closest, or highest IoU).
fn greedy(
    scores: &[f64],
    lesions: usize,
    ignore: &[bool],
    duplicates: Duplicates,
    candidates: impl Fn(usize) -> Vec<usize>,
) -> Result<ScanMatches, EvalError> {
    check_finite(scores, "detection score")?;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Descending score; ties keep input order (a stable sort), so results are deterministic.
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut taken = vec![false; lesions];
    let mut detections = vec![
        MatchedDetection {
            score: 0.0,
            outcome: Outcome::FalsePositive
        };
        scores.len()
    ];
    for d in order {
        let near = candidates(d);
        let free = near.iter().find(|&&l| !ignore[l] && !taken[l]);
        let outcome = if let Some(&l) = free {
            taken[l] = true;
            Outcome::TruePositive { lesion: l }
        } else if near.iter().any(|&l| !ignore[l]) {
            match duplicates {
                Duplicates::FalsePositive => Outcome::FalsePositive,
                Duplicates::Ignore => Outcome::Ignored,
            }
        } else if !near.is_empty() {
            Outcome::Ignored
        } else {
            Outcome::FalsePositive
        };
        detections[d] = MatchedDetection {
            score: scores[d],
            outcome,
        };
    }
    Ok(ScanMatches {
        detections,
        lesions: ignore.iter().filter(|&&i| !i).count(),
    })
}

/// Matches point detections to reference lesions by centre distance.
///
/// Detections are taken in descending score order; each takes the closest reference lesion
/// within the radius (distance `≤` radius) that no higher-scoring detection has taken. A
/// detection within reach only of taken lesions is a duplicate ([`Duplicates`]); one within
/// reach only of `ignore` lesions is ignored; any other is a false positive. So a lesion's
/// score is that of the best detection near it, as in LUNA16.
pub fn match_points(
    reference: &[ReferenceLesion],
    detections: &[PointDetection],
    radius: MatchRadius,
    duplicates: Duplicates,
) -> Result<ScanMatches, EvalError> {
    if let MatchRadius::Fixed(r) = radius {
        if !(r.is_finite() && r >= 0.0) {
            return Err(EvalError::InvalidOption(format!(
                "the matching radius must be a finite distance ≥ 0 mm, got {r}"
            )));
        }
    }
    for (n, l) in reference.iter().enumerate() {
        if !l.centre_mm.iter().all(|c| c.is_finite()) {
            return Err(EvalError::InvalidInput(format!(
                "reference lesion {n} has a non-finite centre {:?}",
                l.centre_mm
            )));
        }
        if radius == MatchRadius::LesionRadius && !(l.radius_mm.is_finite() && l.radius_mm >= 0.0) {
            return Err(EvalError::InvalidInput(format!(
                "reference lesion {n} has radius {} mm; give a finite radius ≥ 0",
                l.radius_mm
            )));
        }
    }
    if let Some(n) = detections
        .iter()
        .position(|d| !d.position_mm.iter().all(|c| c.is_finite()))
    {
        return Err(EvalError::InvalidInput(format!(
            "detection {n} has a non-finite position {:?}",
            detections[n].position_mm
        )));
    }
    let scores: Vec<f64> = detections.iter().map(|d| d.score).collect();
    let ignore: Vec<bool> = reference.iter().map(|l| l.ignore).collect();
    greedy(&scores, reference.len(), &ignore, duplicates, |d| {
        let p = detections[d].position_mm;
        let mut near: Vec<(f64, usize)> = reference
            .iter()
            .enumerate()
            .filter_map(|(n, l)| {
                let dist = (0..3)
                    .map(|a| (p[a] - l.centre_mm[a]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                let r = match radius {
                    MatchRadius::Fixed(r) => r,
                    MatchRadius::LesionRadius => l.radius_mm,
                };
                (dist <= r).then_some((dist, n))
            })
            .collect();
        near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        near.into_iter().map(|(_, n)| n).collect()
    })
}

/// Matches predicted lesions to reference lesions, both given as labelled components (e.g.
/// from [`connected_components`]) on the same grid, by their intersection over union.
///
/// `scores[l − 1]` is the score of predicted component `l`. Greedy as [`match_points`]: each
/// predicted component, best score first, takes the free reference component with the highest
/// IoU `≥ min_iou` (ties: the lower label). With `min_iou > 0.5` each prediction overlaps at
/// most one reference that well, so the matching does not depend on the order.
/// `Outcome::TruePositive { lesion }` holds the reference label minus one.
pub fn match_components(
    reference: &Components,
    predicted: &Components,
    scores: &[f64],
    min_iou: f64,
    duplicates: Duplicates,
) -> Result<ScanMatches, EvalError> {
    if reference.labels.dim() != predicted.labels.dim() {
        return Err(EvalError::GeometryMismatch(format!(
            "reference shape {:?} vs prediction shape {:?}",
            reference.labels.dim(),
            predicted.labels.dim()
        )));
    }
    if !(min_iou > 0.0 && min_iou <= 1.0) {
        return Err(EvalError::InvalidOption(format!(
            "the IoU threshold must lie in (0, 1], got {min_iou}"
        )));
    }
    if scores.len() != predicted.count {
        return Err(EvalError::InvalidInput(format!(
            "{} predicted components but {} scores; give one score per component",
            predicted.count,
            scores.len()
        )));
    }
    // Voxels shared by each (reference, prediction) pair of labels, in one pass.
    let mut shared: HashMap<(u32, u32), u64> = HashMap::new();
    for (&r, &p) in reference.labels.iter().zip(predicted.labels.iter()) {
        if r != 0 && p != 0 {
            *shared.entry((r, p)).or_insert(0) += 1;
        }
    }
    let mut by_prediction: Vec<Vec<(f64, usize)>> = vec![Vec::new(); predicted.count];
    for (&(r, p), &inter) in &shared {
        let (r, p) = (r as usize - 1, p as usize - 1);
        let union = reference.sizes[r] + predicted.sizes[p] - inter;
        let iou = inter as f64 / union as f64;
        if iou >= min_iou {
            by_prediction[p].push((iou, r));
        }
    }
    for list in &mut by_prediction {
        list.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    }
    let ignore = vec![false; reference.count];
    greedy(scores, reference.count, &ignore, duplicates, |d| {
        by_prediction[d].iter().map(|&(_, r)| r).collect()
    })
}

/// Lesion-wise matching of two masks (shape `(nk, nj, ni)`, non-zero = lesion): both are split
/// into connected components, each predicted component is scored by the highest value of
/// `probability` over its voxels (1 for every component without a probability map), and
/// components are matched by IoU with [`match_components`].
pub fn match_masks(
    reference: ArrayView3<u8>,
    prediction: ArrayView3<u8>,
    probability: Option<ArrayView3<f64>>,
    connectivity: Connectivity,
    min_iou: f64,
    duplicates: Duplicates,
) -> Result<ScanMatches, EvalError> {
    if reference.dim() != prediction.dim() {
        return Err(EvalError::GeometryMismatch(format!(
            "reference shape {:?} vs prediction shape {:?}",
            reference.dim(),
            prediction.dim()
        )));
    }
    let r = connected_components(reference, connectivity)?;
    let p = connected_components(prediction, connectivity)?;
    let scores = match probability {
        None => vec![1.0; p.count],
        Some(prob) => {
            if prob.dim() != prediction.dim() {
                return Err(EvalError::GeometryMismatch(format!(
                    "probability map shape {:?} vs prediction shape {:?}",
                    prob.dim(),
                    prediction.dim()
                )));
            }
            let mut best = vec![f64::NEG_INFINITY; p.count];
            for (&l, &v) in p.labels.iter().zip(prob.iter()) {
                if l != 0 {
                    if v.is_nan() {
                        return Err(EvalError::InvalidInput(
                            "the probability map holds NaN inside a predicted lesion".into(),
                        ));
                    }
                    let b = &mut best[l as usize - 1];
                    *b = b.max(v);
                }
            }
            best
        }
    };
    match_components(&r, &p, &scores, min_iou, duplicates)
}
