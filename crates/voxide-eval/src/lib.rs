//! # voxide-eval
//!
//! Evaluation of medical AI, in three parts:
//!
//! - **segmentation metrics** comparing a predicted mask with a reference mask, binary
//!   ([`evaluate`], [`evaluate_arrays`]) or per label with a mean over labels
//!   ([`evaluate_labels`]), 2D (a one-slice image) and 3D, in millimetres on anisotropic grids:
//!   overlap (Dice, IoU, sensitivity, specificity, precision, volume similarity); volume
//!   (reference and predicted volume, absolute and relative volume difference); surface
//!   distance (Hausdorff, percentile Hausdorff such as HD95, ASSD, MASD and the two directed
//!   means, normalised surface Dice at a tolerance, boundary IoU); centre-of-mass distance;
//! - **classification metrics** ([`classification`]): ROC curve and AUC, DeLong variance,
//!   interval and test of two correlated AUCs, bootstrap interval, operating-point metrics
//!   with Wilson intervals, Youden threshold, calibration (reliability curve, ECE, Brier),
//!   multi-class confusion matrix, Cohen's kappa;
//! - **detection metrics** ([`detection`]): lesion-wise matching by centre distance or by the
//!   overlap of connected components, FROC curve over scans, LUNA16's competition performance
//!   metric, bootstrap over scans.
//!
//! This crate is pure: it takes [`voxide_core::Image`]s (or plain `ndarray` views) and returns
//! numbers. Reading masks from files is the caller's job (`voxide-io`, `voxide-dicom`).
//!
//! ```
//! use voxide_core::{geometry::IDENTITY, Geometry, Image};
//! use voxide_eval::{evaluate, Options};
//! let g = Geometry::new([4, 4, 1], [0.5, 0.5, 1.0], [0.0; 3], IDENTITY)?;
//! let reference = Image::from_vec(g.clone(), (0..16).map(|i| u8::from(i % 4 < 2)).collect())?;
//! let prediction = Image::from_vec(g, (0..16).map(|i| u8::from(i % 4 < 3)).collect())?;
//! let m = evaluate(&reference, &prediction, &Options::default())?;
//! assert_eq!(m.dice(), 0.8);            // 2·8 / (8 + 12)
//! assert_eq!(m.hausdorff(), 0.5);       // one column, 0.5 mm wide
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Grids
//!
//! Reference and prediction must lie on the same grid: same size, and spacing, origin and
//! direction equal within [`voxide_core::GRID_TOLERANCE`]; otherwise
//! [`EvalError::GeometryMismatch`] names every component that differs. Axes must be orthogonal
//! (any orientation). An image of one slice (`nk = 1`) is a 2D image: surfaces use the in-plane
//! neighbourhood, and surface-distance's contour lengths replace its surface areas.
//!
//! ## Surface distances
//!
//! Distances come from an exact Euclidean distance transform ([`edt`]: separable lower envelope
//! of parabolas, linear time, anisotropic, parallel over lines) computed only on the bounding box
//! of the two masks plus one voxel, which holds every surface point, so the cropped transform is
//! exact, not an approximation. Only its first pass is run over the whole box; the distance at
//! each surface voxel is then found by a pruned outward search on that pass
//! ([`edt::NearestFeature`]), which falls back to the full transform when the surfaces are far
//! apart. Two surface definitions exist in the field and both are here:
//!
//! - **voxel surface** (MetricsReloaded, MedPy): the mask voxels with a face neighbour outside the
//!   mask, i.e. `mask XOR erosion(mask)` with the 6-neighbourhood (4 in 2D), the outside of the
//!   image counting as background; each surface voxel counts once, at its centre;
//! - **surface elements** (surface-distance): points on the grid of voxel corners whose 2×2×2
//!   neighbourhood is mixed, each weighted by the area of the marching-cubes-like surface patch
//!   its neighbourhood code stands for (its table, reproduced value for value); averages and
//!   percentiles are weighted by that area.
//!
//! ## Conventions
//!
//! [`Options::convention`] picks whose definitions to follow. They agree on Dice, IoU and the
//! confusion counts whenever both masks are non-empty, and differ in surfaces, percentiles and
//! empty masks:
//!
//! | | [`MetricsReloaded`](Convention::MetricsReloaded) (default) | [`MedPy`](Convention::MedPy) | [`SurfaceDistance`](Convention::SurfaceDistance) |
//! |---|---|---|---|
//! | surface | voxel | voxel | surface elements on the corner grid, area-weighted |
//! | HD | max over both directions | same | max of the two directed 100th area-percentiles |
//! | HD*p* | max of the two directed percentiles (NumPy linear) | percentile of both directions pooled (NumPy linear) | max of the two directed area-weighted percentiles (first element whose cumulative area fraction reaches *p*) |
//! | ASSD | mean of both directions pooled | same (`assd`) | area-weighted, pooled |
//! | MASD | mean of the two directed means | same (from `asd` both ways) | mean of the two area-weighted directed means |
//! | NSD | surface voxels within τ (`≤`) over all surface voxels | as MetricsReloaded (MedPy has none) | `compute_surface_dice_at_tolerance` |
//!
//! Boundary IoU (voxel surfaces, band `< d` mm) and the centre-of-mass distance are the same in
//! all three; metrics a tool does not define follow the default's rules.
//!
//! ### Empty masks
//!
//! With R the reference and P the prediction:
//!
//! | | both empty | R empty, P not | P empty, R not |
//! |---|---|---|---|
//! | **MetricsReloaded** (default) | Dice, IoU, NSD, boundary IoU, volume similarity 1; distances 0; relative volume difference 0; sensitivity, precision, centre-of-mass distance NaN | Dice, IoU, NSD, boundary IoU 0; sensitivity NaN; precision 0; relative volume difference +∞; distances per [`EmptyDistance`] (NaN by default) | Dice, IoU, NSD, boundary IoU, sensitivity, precision 0; distances per [`EmptyDistance`] |
//! | **MedPy** | IoU 1 (`jc`); Dice, precision, recall NaN; `ravd` and all distances NaN (MedPy raises) | Dice, IoU, precision 0; recall NaN; `ravd`, distances NaN (MedPy raises) | Dice, IoU, recall 0; precision NaN; distances NaN (MedPy raises) |
//! | **SurfaceDistance** | Dice NaN (`compute_dice_coefficient`); HD, HD*p* +∞; ASSD, MASD, directed means, NSD NaN | HD, HD*p*, ASSD, mean pred→ref +∞; mean ref→pred, MASD NaN; NSD 0 | symmetric to the left |
//!
//! Specificity with no reference background is NaN in all three.
//!
//! MedPy's source means Dice 1 for two empty masks and 0 for precision, recall and specificity
//! with a zero denominator (`except ZeroDivisionError`); but under NumPy 2 its counts are NumPy
//! integers, and dividing one by `0.0` gives NaN instead of raising, so MedPy 0.5.2 as installed
//! today returns NaN there, which is what the MedPy convention reproduces (`jc` divides Python
//! floats and still returns its 1).
//!
//! Where the default comes from: MetricsReloaded's reference implementation
//! (`BinaryPairwiseMeasures`) sets Dice to 1 when both masks are empty ("correct solution even
//! if not defined"), returns 0 for every distance when both are empty, returns NaN for
//! sensitivity with an empty reference and for precision with both empty, 0 for precision with
//! an empty prediction, and 0 % relative volume error when both are empty. voxide extends the
//! "both empty is a perfect result" rule to IoU, NSD and boundary IoU, which that code leaves at
//! NaN (0/0), so that Dice and IoU agree (IoU = Dice / (2 − Dice) everywhere). With exactly one
//! mask empty, surface distances have nothing to measure to: MetricsReloaded's code returns
//! numbers from a distance transform of an empty image, which are meaningless; voxide reports
//! NaN (undefined, as in Reinke et al., "Understanding metric-related pitfalls in image analysis
//! validation", Nature Methods 2024), or on request the image diagonal or a fixed worst case
//! ([`EmptyDistance`]), so that a mean over cases does not silently drop missed structures.
//! MetricsReloaded's code reports 100 % relative volume error for an empty reference and a
//! non-empty prediction; voxide reports +∞, since 100 % would equal a prediction of twice the
//! reference volume. The centre-of-mass distance is NaN where MetricsReloaded returns −1.
//!
//! ## Agreement with the reference tools
//!
//! The tests compare every metric with MedPy 0.5.2 and surface-distance 0.1 on the real tumour
//! masks of the IBSI soft-tissue-sarcoma data and perturbed predictions (erosion, dilation,
//! shifts, a deleted slice, empty masks), to 1e-6 relative. For the surface-distance convention
//! the arrays are taken in voxide's `(k, j, i)` order with spacing `(sk, sj, si)` — what
//! SimpleITK's `GetArrayFromImage` gives — since surface-distance's surface-element table is not
//! symmetric under a change of axis order.

//!
//! ## Classification
//!
//! Binary inputs are `labels: &[bool]` (true = positive, e.g. diseased) and `scores: &[f64]`
//! (higher = more likely positive), one per case. Every function checks them and returns
//! [`EvalError::InvalidInput`] for empty or unequal inputs, a non-finite score, or a missing
//! class where the metric needs both; [`EvalError::InvalidOption`] for a confidence level
//! outside (0, 1), zero bins, fewer than 2 bootstrap replicates. Nothing panics.
//!
//! ```
//! use voxide_eval::classification::{auc_ci_delong, roc_curve, youden_threshold};
//! let labels = [true, true, false, true, false, false];
//! let scores = [0.9, 0.7, 0.6, 0.6, 0.2, 0.1];
//! let roc = roc_curve(&labels, &scores)?;
//! assert_eq!(roc.thresholds, [f64::INFINITY, 0.9, 0.7, 0.6, 0.2, 0.1]);
//! assert_eq!(roc.auc(), 8.5 / 9.0); // the tie at 0.6 counts 1/2
//! let ci = auc_ci_delong(&labels, &scores, 0.95)?;
//! assert!(ci.lower < ci.auc && ci.upper == 1.0); // clipped to [0, 1]
//! assert_eq!(youden_threshold(&labels, &scores)?.threshold, 0.7);
//! # Ok::<(), voxide_eval::EvalError>(())
//! ```
//!
//! | metric | convention | reference it is checked against |
//! |---|---|---|
//! | [`roc_curve`](classification::roc_curve) | every distinct threshold, descending, the first +∞; positive = score `≥` threshold | scikit-learn `roc_curve(drop_intermediate=False)` |
//! | [`auc`](classification::auc) | Mann–Whitney, ties ½ (exact integer sum, one division) | scikit-learn `roc_auc_score` |
//! | [`auc_ci_delong`](classification::auc_ci_delong), [`delong_variance`](classification::delong_variance) | DeLong et al. 1988 variance (sample variances, n − 1), computed by Sun & Xu's midranks; interval AUC ± z·√var clipped to [0, 1] (pROC `ci.auc(method="delong")`); needs ≥ 2 cases per class | DeLong 1988's O(m·n) formulas |
//! | [`delong_test`](classification::delong_test) | paired, z = ΔAUC/√(var₁ + var₂ − 2cov), two-sided p (pROC `roc.test`) | DeLong 1988's O(m·n) formulas |
//! | [`auc_ci_bootstrap`](classification::auc_ci_bootstrap) | 2000 replicates, stratified by class (pROC's default), percentile interval with R's type-7 quantile; seeded SplitMix64, one stream per replicate, so the result does not depend on the number of threads | deterministic across thread counts; close to DeLong on 300 cases |
//! | [`confusion_at`](classification::confusion_at), [`threshold_metrics`](classification::threshold_metrics) | sensitivity, specificity, PPV, NPV, accuracy with Wilson score intervals (no continuity correction); F1 without interval; 0/0 is NaN | SciPy `binomtest(...).proportion_ci(method="wilson")` and the closed form |
//! | [`youden_threshold`](classification::youden_threshold) | max J = sens + spec − 1 over the ROC thresholds, compared exactly in integers; ties go to the highest threshold (highest specificity); +∞ when no threshold has J > 0 | brute force (property test) |
//! | [`reliability_curve`](classification::reliability_curve), [`expected_calibration_error`](classification::expected_calibration_error) | uniform or quantile bins as scikit-learn's `calibration_curve` (bins `(e_b, e_{b+1}]`, the first closed); ECE = Σ n_b/N·\|fraction positive − mean predicted\| over non-empty bins of the positive-class probability | scikit-learn `calibration_curve` (both strategies) |
//! | [`brier_score`](classification::brier_score) | mean of (p − y)² | scikit-learn `brier_score_loss` |
//! | [`confusion_matrix`](classification::confusion_matrix) | rows reference, columns prediction, classes sorted (any `Ord` type) | scikit-learn `confusion_matrix` |
//! | [`cohen_kappa`](classification::cohen_kappa) | unweighted, linear, quadratic; weights from class *positions* in sorted order; a single class is an error (0/0) | scikit-learn `cohen_kappa_score` |
//!
//! The normal CDF and quantile ([`normal`]) come from `libm`'s `erfc` and Acklam's
//! approximation refined by a Halley step (relative error ~1e-15). pROC's published `aSAH`
//! example (AUC 0.7314 for s100b) is not among the tests: its data ship only inside the
//! GPL-licensed pROC package.
//!
//! ## Detection
//!
//! A scan's detections are matched to its reference lesions, then the FROC curve is computed
//! over all scans:
//!
//! - [`match_points`](detection::match_points): point detections (position in mm, score)
//!   against lesion centres, within a fixed radius or each lesion's own radius (distance `≤`
//!   radius; LUNA16's script uses `<`, which differs only on the boundary);
//! - [`match_masks`](detection::match_masks) / [`match_components`](detection::match_components):
//!   connected components ([`connected_components`](detection::connected_components), 6- or
//!   26-connectivity, numbered as `scipy.ndimage.label` numbers them) matched by IoU `≥ t`; a
//!   predicted component's score is the maximum of a probability map over it;
//! - matching is greedy by descending score (ties in input order): each detection takes the
//!   best free lesion (closest, or highest IoU); each lesion is matched at most once. A further
//!   hit on a taken lesion is a false positive or ignored ([`Duplicates`](detection::Duplicates);
//!   LUNA16 ignores them), hits on lesions marked `ignore` are ignored (LUNA16's excluded
//!   findings). LUNA16 credits a candidate within reach of two nodules to both; greedy matching
//!   credits one, a difference only for overlapping lesions.
//! - [`froc`](detection::froc): sensitivity over all lesions of all scans against false
//!   positives per scan (averaged over every scan), one point per distinct score, from +∞;
//! - [`FrocCurve::cpm`](detection::FrocCurve::cpm): the mean sensitivity at 1/8, 1/4, 1/2, 1,
//!   2, 4, 8 false positives per scan, each read off the FROC curve by linear interpolation
//!   exactly as `numpy.interp` does in LUNA16's evaluation script (on a vertical step the
//!   highest sensitivity; beyond the last point the final sensitivity);
//! - [`cpm_bootstrap`](detection::cpm_bootstrap): percentile interval over scans resampled with
//!   replacement (as LUNA16's bootstrap), replicates without lesions skipped and counted.
//!
//! The FROC and CPM are checked against a restatement of LUNA16's `noduleCADEvaluation`
//! (matching, `computeFROC`, `numpy.interp` at the seven rates and on its 10 001-point grid),
//! the components against `scipy.ndimage.label`.

pub mod classification;
pub mod detection;
pub mod edt;
mod grid;
mod metrics;
pub mod normal;
mod options;
mod rng;
mod stats;
pub mod summary;
mod surface;
mod surfel_table;

pub use grid::check_grids;
pub use metrics::{
    evaluate, evaluate_arrays, evaluate_labels, labels_present, LabelMetrics, LabelReport,
    MeanMetrics, Metric, SegmentationMetrics,
};
pub use options::{Convention, EmptyDistance, Options};

/// Errors of the evaluation crate.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Reference and prediction do not lie on the same grid.
    #[error(
        "reference and prediction grids differ: {0}; resample the prediction onto the reference grid first"
    )]
    GeometryMismatch(String),
    /// The grid cannot carry distances in mm (e.g. non-orthogonal axes).
    #[error("unsupported grid: {0}")]
    UnsupportedGeometry(String),
    /// An option or parameter is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The data cannot give the metric: empty, mismatched lengths, non-finite scores, a class
    /// missing, and so on; the message says which.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}
