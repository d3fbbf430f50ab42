//! The segmentation metrics of one binary comparison, and their per-label form.

use ndarray::{ArrayView3, Axis, Zip};
use rayon::prelude::*;
use voxide_core::Image;

use crate::grid::{check_grids, check_spacing};
use crate::options::{Convention, EmptyDistance, Options};
use crate::stats::{numpy_sum, percentile_linear};
use crate::surface::{surfel_distances, voxel_distances, BBox, Crop, VoxelSurfaces, REF};
use crate::EvalError;

/// Every scalar metric, for tables and aggregation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Sørensen–Dice coefficient `2TP / (2TP + FP + FN)`.
    Dice,
    /// Intersection over union (Jaccard index) `TP / (TP + FP + FN)`.
    Iou,
    /// Sensitivity (recall, true positive rate) `TP / (TP + FN)`.
    Sensitivity,
    /// Specificity (true negative rate) `TN / (TN + FP)`.
    Specificity,
    /// Precision (positive predictive value) `TP / (TP + FP)`.
    Precision,
    /// Volume similarity `1 − |FN − FP| / (2TP + FP + FN)` (Taha & Hanbury 2015).
    VolumeSimilarity,
    /// Reference volume (mm³).
    ReferenceVolume,
    /// Prediction volume (mm³).
    PredictionVolume,
    /// `|V_pred − V_ref|` (mm³).
    AbsoluteVolumeDifference,
    /// `(V_pred − V_ref) / V_ref`, signed (MedPy's `ravd`; its magnitude is MetricsReloaded's
    /// `vol_diff`, ×100 its `rel_vol_error` in %).
    RelativeVolumeDifference,
    /// Hausdorff distance (mm): the largest surface distance in either direction.
    Hausdorff,
    /// Percentile Hausdorff distance (mm) at [`Options::hausdorff_percentile`] (HD95).
    HausdorffPercentile,
    /// Average symmetric surface distance (mm): the mean of the distances of both directions
    /// pooled.
    Assd,
    /// Mean average surface distance (mm): the mean of the two directed mean distances.
    Masd,
    /// Mean distance (mm) from the reference surface to the prediction surface.
    AsdReferenceToPrediction,
    /// Mean distance (mm) from the prediction surface to the reference surface (MedPy's `asd`).
    AsdPredictionToReference,
    /// Normalised surface Dice at [`Options::nsd_tolerance_mm`].
    Nsd,
    /// Boundary IoU (Cheng et al. 2021) with band [`Options::boundary_iou_distance_mm`].
    BoundaryIou,
    /// Distance (mm) between the centres of mass of the two masks.
    CentreOfMassDistance,
}

impl Metric {
    /// Every metric, in report order.
    pub const ALL: [Metric; 19] = [
        Metric::Dice,
        Metric::Iou,
        Metric::Sensitivity,
        Metric::Specificity,
        Metric::Precision,
        Metric::VolumeSimilarity,
        Metric::ReferenceVolume,
        Metric::PredictionVolume,
        Metric::AbsoluteVolumeDifference,
        Metric::RelativeVolumeDifference,
        Metric::Hausdorff,
        Metric::HausdorffPercentile,
        Metric::Assd,
        Metric::Masd,
        Metric::AsdReferenceToPrediction,
        Metric::AsdPredictionToReference,
        Metric::Nsd,
        Metric::BoundaryIou,
        Metric::CentreOfMassDistance,
    ];

    /// Column name for tables, e.g. `dice`, `hd_percentile_mm`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Dice => "dice",
            Metric::Iou => "iou",
            Metric::Sensitivity => "sensitivity",
            Metric::Specificity => "specificity",
            Metric::Precision => "precision",
            Metric::VolumeSimilarity => "volume_similarity",
            Metric::ReferenceVolume => "reference_volume_mm3",
            Metric::PredictionVolume => "prediction_volume_mm3",
            Metric::AbsoluteVolumeDifference => "absolute_volume_difference_mm3",
            Metric::RelativeVolumeDifference => "relative_volume_difference",
            Metric::Hausdorff => "hd_mm",
            Metric::HausdorffPercentile => "hd_percentile_mm",
            Metric::Assd => "assd_mm",
            Metric::Masd => "masd_mm",
            Metric::AsdReferenceToPrediction => "asd_reference_to_prediction_mm",
            Metric::AsdPredictionToReference => "asd_prediction_to_reference_mm",
            Metric::Nsd => "nsd",
            Metric::BoundaryIou => "boundary_iou",
            Metric::CentreOfMassDistance => "centre_of_mass_distance_mm",
        }
    }
}

/// All metrics of one comparison of a reference mask with a prediction mask.
///
/// Values are `f64`: NaN where the metric is undefined under the chosen convention, `+∞` where
/// the convention says so (surface-distance with an empty mask).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentationMetrics {
    /// Voxels in both masks.
    pub true_positives: u64,
    /// Voxels in the prediction only.
    pub false_positives: u64,
    /// Voxels in the reference only.
    pub false_negatives: u64,
    /// Voxels in neither.
    pub true_negatives: u64,
    values: [f64; Metric::ALL.len()],
}

impl SegmentationMetrics {
    /// The value of one metric.
    pub fn get(&self, metric: Metric) -> f64 {
        self.values[metric as usize]
    }

    /// Every metric with its value, in [`Metric::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Metric, f64)> + '_ {
        Metric::ALL.iter().map(|&m| (m, self.get(m)))
    }

    pub fn dice(&self) -> f64 {
        self.get(Metric::Dice)
    }
    pub fn iou(&self) -> f64 {
        self.get(Metric::Iou)
    }
    pub fn hausdorff(&self) -> f64 {
        self.get(Metric::Hausdorff)
    }
    pub fn hausdorff_percentile(&self) -> f64 {
        self.get(Metric::HausdorffPercentile)
    }
    pub fn assd(&self) -> f64 {
        self.get(Metric::Assd)
    }
    pub fn nsd(&self) -> f64 {
        self.get(Metric::Nsd)
    }

    fn set(&mut self, metric: Metric, v: f64) {
        self.values[metric as usize] = v;
    }
}

/// Metrics of one label of a multi-label comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMetrics {
    pub label: u8,
    pub metrics: SegmentationMetrics,
}

/// Per-label metrics and their mean over labels.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelReport {
    /// One entry per requested label, in the order requested.
    pub labels: Vec<LabelMetrics>,
    /// The mean over labels of every metric (macro average).
    pub mean: MeanMetrics,
}

/// The mean of each metric over labels, skipping labels where it is NaN (undefined); NaN when
/// it is undefined for every label. An infinite value makes the mean infinite.
#[derive(Debug, Clone, PartialEq)]
pub struct MeanMetrics {
    values: [f64; Metric::ALL.len()],
    counts: [usize; Metric::ALL.len()],
}

impl MeanMetrics {
    /// Mean of `metric` over the labels where it is defined.
    pub fn get(&self, metric: Metric) -> f64 {
        self.values[metric as usize]
    }

    /// Number of labels where `metric` is defined (not NaN), i.e. that entered its mean.
    pub fn defined(&self, metric: Metric) -> usize {
        self.counts[metric as usize]
    }

    /// Every metric with its mean, in [`Metric::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Metric, f64)> + '_ {
        Metric::ALL.iter().map(|&m| (m, self.get(m)))
    }

    fn of(all: &[SegmentationMetrics]) -> Self {
        let mut values = [f64::NAN; Metric::ALL.len()];
        let mut counts = [0; Metric::ALL.len()];
        for m in Metric::ALL {
            let defined: Vec<f64> = all
                .iter()
                .map(|x| x.get(m))
                .filter(|v| !v.is_nan())
                .collect();
            counts[m as usize] = defined.len();
            if !defined.is_empty() {
                values[m as usize] = defined.iter().sum::<f64>() / defined.len() as f64;
            }
        }
        Self { values, counts }
    }
}

/// Which voxel values make up a mask.
#[derive(Debug, Clone, Copy)]
enum Select {
    NonZero,
    Label(u8),
}

impl Select {
    #[inline]
    fn test(self, v: u8) -> bool {
        match self {
            Select::NonZero => v != 0,
            Select::Label(l) => v == l,
        }
    }

    /// Whether any voxel of `row` is selected; written as block reductions so that it
    /// vectorises.
    fn any(self, row: &[u8]) -> bool {
        match self {
            Select::NonZero => row.iter().fold(0u8, |a, &b| a | b) != 0,
            Select::Label(l) => row.iter().fold(0u8, |a, &b| a | u8::from(b == l)) != 0,
        }
    }
}

/// Binary metrics of `prediction` against `reference`: every non-zero voxel is foreground.
///
/// The two images must lie on the same grid (size, spacing, origin and direction within
/// [`voxide_core::GRID_TOLERANCE`]) with orthogonal axes; a single-slice image is evaluated as a
/// 2D image.
pub fn evaluate(
    reference: &Image<u8>,
    prediction: &Image<u8>,
    options: &Options,
) -> Result<SegmentationMetrics, EvalError> {
    check_grids(reference.geometry(), prediction.geometry())?;
    options.validate()?;
    Ok(binary(
        reference.data().view(),
        prediction.data().view(),
        Select::NonZero,
        reference.geometry().spacing(),
        options,
    ))
}

/// Binary metrics of plain arrays of shape `(nk, nj, ni)` (one slice: a 2D image), non-zero
/// voxels being foreground, with `spacing = [si, sj, sk]` in mm.
pub fn evaluate_arrays(
    reference: ArrayView3<'_, u8>,
    prediction: ArrayView3<'_, u8>,
    spacing: [f64; 3],
    options: &Options,
) -> Result<SegmentationMetrics, EvalError> {
    if reference.dim() != prediction.dim() {
        return Err(EvalError::GeometryMismatch(format!(
            "array shape (nk, nj, ni) {:?} (reference) vs {:?} (prediction)",
            reference.dim(),
            prediction.dim()
        )));
    }
    check_spacing(spacing)?;
    options.validate()?;
    Ok(binary(
        reference,
        prediction,
        Select::NonZero,
        spacing,
        options,
    ))
}

/// Metrics of each label in `labels` (each compared as a binary mask `voxel == label`), and
/// their mean over labels.
pub fn evaluate_labels(
    reference: &Image<u8>,
    prediction: &Image<u8>,
    labels: &[u8],
    options: &Options,
) -> Result<LabelReport, EvalError> {
    check_grids(reference.geometry(), prediction.geometry())?;
    options.validate()?;
    let spacing = reference.geometry().spacing();
    let labels: Vec<LabelMetrics> = labels
        .iter()
        .map(|&label| LabelMetrics {
            label,
            metrics: binary(
                reference.data().view(),
                prediction.data().view(),
                Select::Label(label),
                spacing,
                options,
            ),
        })
        .collect();
    let all: Vec<SegmentationMetrics> = labels.iter().map(|l| l.metrics.clone()).collect();
    Ok(LabelReport {
        mean: MeanMetrics::of(&all),
        labels,
    })
}

/// The non-zero labels present in either image, ascending.
pub fn labels_present(reference: &Image<u8>, prediction: &Image<u8>) -> Vec<u8> {
    let mut seen = [false; 256];
    for v in reference.data().iter().chain(prediction.data().iter()) {
        seen[usize::from(*v)] = true;
    }
    (1..=255u8).filter(|&l| seen[usize::from(l)]).collect()
}

/// Voxel counts, bounding box and index sums of one pass over both volumes.
#[derive(Debug, Clone, Default)]
struct Tally {
    tp: u64,
    fp: u64,
    fn_: u64,
    bbox: Option<BBox>,
    /// Σ index per axis (k, j, i) over reference voxels, and over prediction voxels.
    ref_sum: [u128; 3],
    pred_sum: [u128; 3],
}

impl Tally {
    fn merge(mut self, o: Tally) -> Tally {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
        self.bbox = match (self.bbox, o.bbox) {
            (Some(a), Some(b)) => Some(a.union(b)),
            (a, b) => a.or(b),
        };
        for a in 0..3 {
            self.ref_sum[a] += o.ref_sum[a];
            self.pred_sum[a] += o.pred_sum[a];
        }
        self
    }
}

fn tally(reference: ArrayView3<'_, u8>, prediction: ArrayView3<'_, u8>, sel: Select) -> Tally {
    let (_, nj, ni) = reference.dim();
    let plane = nj * ni;
    // Contiguous slices (no copy for the usual standard layout) let the empty-row test below
    // run vectorised: most rows of a large image hold no foreground at all.
    let (r, p) = (
        reference.as_standard_layout(),
        prediction.as_standard_layout(),
    );
    let (Some(rs), Some(ps)) = (r.as_slice(), p.as_slice()) else {
        return Tally::default(); // unreachable: standard layout is contiguous
    };
    if plane == 0 || rs.is_empty() {
        return Tally::default();
    }
    rs.par_chunks(plane)
        .zip(ps.par_chunks(plane))
        .enumerate()
        .map(|(k, (rpl, ppl))| {
            let mut t = Tally::default();
            // Per-slice sums fit u64 for any slice that fits in memory.
            let mut ref_sum = [0u64; 3];
            let mut pred_sum = [0u64; 3];
            let (mut n_ref, mut n_pred) = (0u64, 0u64);
            for (j, (rrow, prow)) in rpl.chunks(ni).zip(ppl.chunks(ni)).enumerate() {
                if !sel.any(rrow) && !sel.any(prow) {
                    continue;
                }
                let mut row_min = usize::MAX;
                let mut row_max = 0usize;
                for (i, (&r, &p)) in rrow.iter().zip(prow).enumerate() {
                    let (r, p) = (sel.test(r), sel.test(p));
                    if !(r || p) {
                        continue;
                    }
                    row_min = row_min.min(i);
                    row_max = i;
                    if r {
                        n_ref += 1;
                        ref_sum[1] += j as u64;
                        ref_sum[2] += i as u64;
                    }
                    if p {
                        n_pred += 1;
                        pred_sum[1] += j as u64;
                        pred_sum[2] += i as u64;
                    }
                    match (r, p) {
                        (true, true) => t.tp += 1,
                        (false, true) => t.fp += 1,
                        _ => t.fn_ += 1,
                    }
                }
                let b = BBox {
                    min: [k, j, row_min],
                    max: [k, j, row_max],
                };
                t.bbox = Some(t.bbox.map_or(b, |x| x.union(b)));
            }
            t.ref_sum = [
                u128::from(n_ref) * k as u128,
                u128::from(ref_sum[1]),
                u128::from(ref_sum[2]),
            ];
            t.pred_sum = [
                u128::from(n_pred) * k as u128,
                u128::from(pred_sum[1]),
                u128::from(pred_sum[2]),
            ];
            t
        })
        .reduce(Tally::default, Tally::merge)
}

/// The metrics of one binary comparison; inputs already checked.
fn binary(
    reference: ArrayView3<'_, u8>,
    prediction: ArrayView3<'_, u8>,
    sel: Select,
    spacing: [f64; 3],
    options: &Options,
) -> SegmentationMetrics {
    let conv = options.convention;
    let t = tally(reference, prediction, sel);
    let total = reference.len() as u64;
    let (tp, fp, fn_) = (t.tp, t.fp, t.fn_);
    let tn = total - tp - fp - fn_;
    let n_ref = tp + fn_;
    let n_pred = tp + fp;
    let neg_ref = total - n_ref;
    let union = tp + fp + fn_;
    let (tpf, fpf, fnf, tnf) = (tp as f64, fp as f64, fn_ as f64, tn as f64);

    let mut m = SegmentationMetrics {
        true_positives: tp,
        false_positives: fp,
        false_negatives: fn_,
        true_negatives: tn,
        values: [f64::NAN; Metric::ALL.len()],
    };

    // Overlap. Where a ratio is 0/0 the convention decides (see the crate documentation).
    let ratio = |num: f64, den: u64, if_zero: f64| {
        if den == 0 {
            if_zero
        } else {
            num / den as f64
        }
    };
    // MedPy means 1 (dc) and 0 (precision, recall, specificity) through `except
    // ZeroDivisionError`, but under NumPy 2 its counts are NumPy integers, whose division by 0.0
    // gives NaN without raising; `jc` divides Python floats and does reach its 1.
    let (dice_empty, iou_empty, sens_empty, spec_empty) = match conv {
        Convention::MetricsReloaded => (1.0, 1.0, f64::NAN, f64::NAN),
        Convention::MedPy => (f64::NAN, 1.0, f64::NAN, f64::NAN),
        Convention::SurfaceDistance => (f64::NAN, 1.0, f64::NAN, f64::NAN),
    };
    m.set(Metric::Dice, ratio(2.0 * tpf, n_ref + n_pred, dice_empty));
    m.set(Metric::Iou, ratio(tpf, union, iou_empty));
    m.set(Metric::Sensitivity, ratio(tpf, n_ref, sens_empty));
    m.set(Metric::Specificity, ratio(tnf, neg_ref, spec_empty));
    let precision_empty = match conv {
        Convention::MedPy => f64::NAN,
        // MetricsReloaded: undefined with nothing to find, a miss (0) when the reference is not
        // empty.
        _ if n_ref == 0 => f64::NAN,
        _ => 0.0,
    };
    m.set(Metric::Precision, ratio(tpf, n_pred, precision_empty));
    m.set(
        Metric::VolumeSimilarity,
        ratio(union as f64 - (fnf - fpf).abs(), union, 1.0),
    );

    // Volumes.
    let voxel_volume = spacing[0] * spacing[1] * spacing[2];
    let (v_ref, v_pred) = (n_ref as f64 * voxel_volume, n_pred as f64 * voxel_volume);
    m.set(Metric::ReferenceVolume, v_ref);
    m.set(Metric::PredictionVolume, v_pred);
    m.set(Metric::AbsoluteVolumeDifference, (v_pred - v_ref).abs());
    let rvd = if n_ref > 0 {
        (n_pred as f64 - n_ref as f64) / n_ref as f64
    } else {
        match conv {
            Convention::MedPy => f64::NAN, // MedPy's ravd raises
            _ if n_pred == 0 => 0.0,
            _ => f64::INFINITY,
        }
    };
    m.set(Metric::RelativeVolumeDifference, rvd);

    // Centres of mass: mean index per axis, scaled by the spacing of that axis (k, j, i).
    let com = if n_ref > 0 && n_pred > 0 {
        let axis_spacing = [spacing[2], spacing[1], spacing[0]];
        let mut sq = 0.0;
        for a in 0..3 {
            let d = (t.ref_sum[a] as f64 / n_ref as f64 - t.pred_sum[a] as f64 / n_pred as f64)
                * axis_spacing[a];
            sq += d * d;
        }
        sq.sqrt()
    } else {
        f64::NAN
    };
    m.set(Metric::CentreOfMassDistance, com);

    let planar = reference.len_of(Axis(0)) == 1;
    let crop = t.bbox.map(|bbox| {
        Crop::new(
            reference,
            prediction,
            |v| sel.test(v),
            |v| sel.test(v),
            bbox,
            spacing,
            planar,
        )
    });
    surface_metrics(
        &mut m,
        crop.as_ref(),
        n_ref,
        n_pred,
        spacing,
        reference.dim(),
        options,
    );
    m
}

/// Surface distances, NSD and boundary IoU.
fn surface_metrics(
    m: &mut SegmentationMetrics,
    crop: Option<&Crop>,
    n_ref: u64,
    n_pred: u64,
    spacing: [f64; 3],
    shape: (usize, usize, usize),
    options: &Options,
) {
    let p = options.hausdorff_percentile;
    let tau = options.nsd_tolerance_mm;
    let distance_metrics = [
        Metric::Hausdorff,
        Metric::HausdorffPercentile,
        Metric::Assd,
        Metric::Masd,
        Metric::AsdReferenceToPrediction,
        Metric::AsdPredictionToReference,
    ];

    // Voxel surfaces: the distances of MetricsReloaded and MedPy, and the boundary IoU of all.
    let surfaces = crop.map(|c| (c, VoxelSurfaces::new(c)));
    let boundary_iou = match &surfaces {
        Some((c, s)) => boundary_iou(c, s, options.boundary_iou_distance_mm),
        _ => 1.0, // both empty: perfect agreement (the MetricsReloaded rule)
    };
    m.set(Metric::BoundaryIou, boundary_iou);

    if options.convention == Convention::SurfaceDistance {
        // surface-distance computes through empty masks with IEEE arithmetic: no surface
        // elements give empty lists, distances to no surface are +∞.
        let s = crop.map(surfel_distances).unwrap_or_default();
        let (rp, pr) = (&s.ref_to_pred, &s.pred_to_ref);
        m.set(
            Metric::Hausdorff,
            rp.robust_percentile(100.0).max(pr.robust_percentile(100.0)),
        );
        m.set(
            Metric::HausdorffPercentile,
            rp.robust_percentile(p).max(pr.robust_percentile(p)),
        );
        let (a_rp, a_pr) = (rp.weighted_mean(), pr.weighted_mean());
        m.set(Metric::AsdReferenceToPrediction, a_rp);
        m.set(Metric::AsdPredictionToReference, a_pr);
        m.set(Metric::Masd, 0.5 * (a_rp + a_pr));
        let mut products: Vec<f64> = rp
            .distances
            .iter()
            .zip(&rp.areas)
            .map(|(d, a)| d * a)
            .collect();
        products.extend(pr.distances.iter().zip(&pr.areas).map(|(d, a)| d * a));
        m.set(
            Metric::Assd,
            numpy_sum(&products) / (rp.total_area() + pr.total_area()),
        );
        m.set(
            Metric::Nsd,
            (rp.area_within(tau) + pr.area_within(tau)) / (rp.total_area() + pr.total_area()),
        );
        return;
    }

    if n_ref == 0 || n_pred == 0 {
        let d = if n_ref == 0 && n_pred == 0 {
            match options.convention {
                Convention::MedPy => f64::NAN, // MedPy raises on empty masks
                _ => 0.0,                      // both empty: perfect agreement
            }
        } else {
            match (options.convention, options.empty_distance) {
                (Convention::MedPy, _) | (_, EmptyDistance::Nan) => f64::NAN,
                (_, EmptyDistance::Fixed(v)) => v,
                (_, EmptyDistance::ImageDiagonal) => {
                    let (nk, nj, ni) = shape;
                    let ext = |n: usize, s: f64| n.saturating_sub(1) as f64 * s;
                    let (x, y, z) = (
                        ext(ni, spacing[0]),
                        ext(nj, spacing[1]),
                        ext(nk, spacing[2]),
                    );
                    (x * x + y * y + z * z).sqrt()
                }
            }
        };
        for metric in distance_metrics {
            m.set(metric, d);
        }
        m.set(Metric::Nsd, if n_ref == n_pred { 1.0 } else { 0.0 });
        return;
    }
    let Some((c, s)) = surfaces else {
        return; // unreachable: both masks are non-empty here, so there is a crop
    };
    let (rp, pr) = &voxel_distances(c, &s);
    let max = |d: &[f64]| d.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m.set(Metric::Hausdorff, max(rp).max(max(pr)));
    let sorted = |d: &[f64]| {
        let mut s = d.to_vec();
        s.sort_by(f64::total_cmp);
        s
    };
    let hd_p = match options.convention {
        Convention::MedPy => {
            let mut all = rp.clone();
            all.extend_from_slice(pr);
            percentile_linear(&sorted(&all), p)
        }
        _ => percentile_linear(&sorted(rp), p).max(percentile_linear(&sorted(pr), p)),
    };
    m.set(Metric::HausdorffPercentile, hd_p);
    let mean = |d: &[f64]| numpy_sum(d) / d.len() as f64;
    let (a_rp, a_pr) = (mean(rp), mean(pr));
    m.set(Metric::AsdReferenceToPrediction, a_rp);
    m.set(Metric::AsdPredictionToReference, a_pr);
    m.set(Metric::Masd, 0.5 * (a_rp + a_pr));
    let mut all = rp.clone();
    all.extend_from_slice(pr);
    m.set(Metric::Assd, mean(&all));
    let within = rp.iter().chain(pr.iter()).filter(|d| **d <= tau).count();
    m.set(Metric::Nsd, within as f64 / all.len() as f64);
}

/// Boundary IoU: IoU of the bands of each mask within `d` mm of its own surface
/// (MetricsReloaded's strict `<`, its distance in mm here).
fn boundary_iou(crop: &Crop, surfaces: &VoxelSurfaces, d: f64) -> f64 {
    let (band_ref, band_pred) = rayon::join(
        || crate::surface::band(crop, &surfaces.reference, REF, d),
        || crate::surface::band(crop, &surfaces.prediction, crate::surface::PRED, d),
    );
    let (inter, union) = Zip::from(&band_ref).and(&band_pred).par_fold(
        || (0u64, 0u64),
        |(i, u), &r, &p| (i + u64::from(r && p), u + u64::from(r || p)),
        |a, b| (a.0 + b.0, a.1 + b.1),
    );
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}
