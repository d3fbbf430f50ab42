//! The IBSI image processing chain before feature calculation (manual chapter 2):
//! interpolation onto an isotropic grid with *align grid centres* (3WE3), intensity rounding,
//! ROI mask interpolation with a partial-volume threshold, re-segmentation (range and outlier)
//! into the ROI intensity mask, and discretisation.

use ndarray::{Array3, Zip};
use voxide_core::{resample, Geometry, Image, Interpolation, Voxel};

use crate::{RadiomicsError, Roi};

/// Radius (mm) of the 1 cm³ sphere of the local intensity features; the crop keeps this much
/// image around the ROI.
const LOCAL_INTENSITY_RADIUS_MM: f64 = 6.2;
/// Extra source voxels kept around the ROI so that interpolation kernels (the B-spline's
/// prefilter above all) see the same neighbourhood as on the whole image.
const KERNEL_MARGIN_VOXELS: usize = 12;

/// Interpolation onto a new grid (IBSI 2.4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InterpolationSettings {
    /// New spacing `[si, sj, sk]` in mm; `None` along an axis keeps that axis as it is (2D
    /// interpolation leaves the slice axis alone).
    pub spacing: [Option<f64>; 3],
    /// Kernel for intensities.
    pub image: Interpolation,
    /// Kernel for the ROI mask (trilinear, then the partial-volume threshold).
    pub mask: Interpolation,
    /// Round interpolated intensities to the nearest integer (CT in HU).
    pub round_intensities: bool,
    /// Partial-volume threshold δ for the interpolated mask (IBSI: 0.5).
    pub partial_volume: f64,
}

/// Re-segmentation of the ROI intensity mask (IBSI 2.5).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Resegmentation {
    /// Keep voxels with intensities in `[a, b]`; `b = ∞` for a half-open range.
    pub range: Option<(f64, f64)>,
    /// Remove voxels outside `μ ± k·σ` of the ROI (IBSI uses k = 3).
    pub outlier_sigma: Option<f64>,
}

/// Intensity discretisation (IBSI 2.7).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Discretisation {
    /// `N_g` bins over the ROI's intensity range.
    FixedBinNumber(usize),
    /// Bins of `width` starting at `min` (the lower bound of the re-segmentation range; the
    /// ROI minimum when `None`).
    FixedBinSize { width: f64, min: Option<f64> },
    /// The intensities are already grey levels `1..=n` (the IBSI digital phantom).
    None,
}

/// Counts describing the ROI after processing (IBSI "diagnostic features").
#[derive(Debug, Clone, PartialEq)]
pub struct RoiSummary {
    /// Voxels in the morphological and intensity masks.
    pub morphological_voxels: usize,
    pub intensity_voxels: usize,
    /// Mean, minimum and maximum intensity in the intensity mask.
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

/// Prepares the ROI: crops image and mask around the ROI, interpolates both when asked,
/// thresholds the mask and re-segments the intensity mask.
///
/// `mask` must lie on `image`'s grid; `label` selects the ROI voxels.
pub fn prepare_roi<T: Voxel>(
    image: &Image<T>,
    mask: &Image<u8>,
    label: u8,
    interpolation: Option<&InterpolationSettings>,
    resegmentation: &Resegmentation,
) -> Result<Roi, RadiomicsError> {
    if !mask
        .geometry()
        .matches(image.geometry(), voxide_core::GRID_TOLERANCE)
    {
        return Err(RadiomicsError::GeometryMismatch(format!(
            "image size {:?} spacing {:?} origin {:?}, mask size {:?} spacing {:?} origin {:?}",
            image.geometry().size(),
            image.geometry().spacing(),
            image.geometry().origin(),
            mask.geometry().size(),
            mask.geometry().spacing(),
            mask.geometry().origin()
        )));
    }
    let Some((lo, hi)) = bounding_box(mask.data(), label) else {
        return Err(RadiomicsError::EmptyRoi(format!(
            " (no voxel carries label {label})"
        )));
    };
    let src = image.geometry();
    let spacing = src.spacing();
    let size = src.size();
    // Crop bounds per grid axis (i, j, k), with room for the local-intensity sphere and kernels.
    let target_spacing: [f64; 3] = match interpolation {
        Some(s) => std::array::from_fn(|a| s.spacing[a].unwrap_or(spacing[a])),
        None => spacing,
    };
    let mut crop_lo = [0usize; 3];
    let mut crop_hi = [0usize; 3];
    for a in 0..3 {
        let sphere =
            (LOCAL_INTENSITY_RADIUS_MM / spacing[a].min(target_spacing[a])).ceil() as usize;
        let margin = sphere
            + if interpolation.is_some() {
                KERNEL_MARGIN_VOXELS
            } else {
                0
            };
        crop_lo[a] = lo[a].saturating_sub(margin);
        crop_hi[a] = (hi[a] + margin).min(size[a] - 1);
    }
    let crop_geometry = sub_geometry(src, crop_lo, crop_hi)?;
    // Array axes are (k, j, i): axis 0 is grid axis 2.
    let sl = |ax: ndarray::AxisDescription| {
        let a = 2 - ax.axis.index();
        ndarray::Slice::from(crop_lo[a]..=crop_hi[a])
    };
    // Only the crop is converted to f64: the whole image never is.
    let crop_image = Image::new(
        crop_geometry.clone(),
        image.data().slice_each_axis(sl).mapv(Voxel::to_f64),
    )
    .map_err(|e| RadiomicsError::InvalidSetting(e.to_string()))?;
    let crop_mask: Array3<f64> =
        mask.data()
            .slice_each_axis(sl)
            .mapv(|v| if v == label { 1.0 } else { 0.0 });

    let (intensity, morphological, out_spacing) = match interpolation {
        None => (
            crop_image.data().clone(),
            crop_mask.mapv(|v| v > 0.5),
            spacing,
        ),
        Some(settings) => {
            let target = interpolation_grid(src, settings, crop_lo, crop_hi)?;
            let mut values = resample(&crop_image, &target, settings.image, f64::NAN);
            if settings.round_intensities {
                values.data_mut().mapv_inplace(f64::round);
            }
            let mask_image = Image::new(crop_geometry, crop_mask)
                .map_err(|e| RadiomicsError::InvalidSetting(e.to_string()))?;
            let interpolated = resample(&mask_image, &target, settings.mask, 0.0);
            let threshold = settings.partial_volume;
            let morphological = interpolated.data().mapv(|v| v >= threshold);
            (values.into_parts().1, morphological, target.spacing())
        }
    };
    let intensity_mask = resegment(&intensity, &morphological, resegmentation)?;
    Ok(Roi {
        intensity,
        intensity_mask,
        morphological_mask: morphological,
        spacing: out_spacing,
    })
}

/// Inclusive bounding box `[i, j, k]` of the voxels carrying `label`.
///
/// Row by row, with `position`/`rposition` on each row: this runs over whole (512×512×N)
/// masks, where per-voxel index bookkeeping would dominate the extraction time.
fn bounding_box(mask: &Array3<u8>, label: u8) -> Option<([usize; 3], [usize; 3])> {
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    let mut any = false;
    for (k, plane) in mask.outer_iter().enumerate() {
        for (j, row) in plane.outer_iter().enumerate() {
            let found = match row.as_slice() {
                Some(r) => r
                    .iter()
                    .position(|&v| v == label)
                    .zip(r.iter().rposition(|&v| v == label)),
                None => row
                    .iter()
                    .position(|&v| v == label)
                    .zip(row.iter().rposition(|&v| v == label)),
            };
            if let Some((first, last)) = found {
                any = true;
                lo = [lo[0].min(first), lo[1].min(j), lo[2].min(k)];
                hi = [hi[0].max(last), hi[1].max(j), hi[2].max(k)];
            }
        }
    }
    any.then_some((lo, hi))
}

/// The geometry of the sub-grid `lo..=hi` (grid indices) of `g`.
fn sub_geometry(g: &Geometry, lo: [usize; 3], hi: [usize; 3]) -> Result<Geometry, RadiomicsError> {
    let origin = g.index_to_physical([lo[0] as f64, lo[1] as f64, lo[2] as f64]);
    Geometry::new(
        std::array::from_fn(|a| hi[a] - lo[a] + 1),
        g.spacing(),
        origin,
        g.direction(),
    )
    .map_err(|e| RadiomicsError::InvalidSetting(e.to_string()))
}

/// The part of the IBSI interpolation grid (align grid centres) that covers the source crop
/// `crop_lo..=crop_hi`.
///
/// The whole grid has `n_b = ⌈n_a s_a / s_b⌉` points per axis starting at source grid
/// coordinate `(n_a − 1 − (s_b/s_a)(n_b − 1)) / 2`; only the points falling inside the crop are
/// resampled, so the grid is the same as for the whole image.
fn interpolation_grid(
    src: &Geometry,
    settings: &InterpolationSettings,
    crop_lo: [usize; 3],
    crop_hi: [usize; 3],
) -> Result<Geometry, RadiomicsError> {
    let size = src.size();
    let spacing = src.spacing();
    let mut first = [0.0; 3];
    let mut count = [0usize; 3];
    let mut new_spacing = [0.0; 3];
    for a in 0..3 {
        let Some(sb) = settings.spacing[a] else {
            first[a] = crop_lo[a] as f64;
            count[a] = crop_hi[a] - crop_lo[a] + 1;
            new_spacing[a] = spacing[a];
            continue;
        };
        if !(sb.is_finite() && sb > 0.0) {
            return Err(RadiomicsError::InvalidSetting(format!(
                "interpolation spacing must be positive, got {sb}"
            )));
        }
        let na = size[a] as f64;
        let step = sb / spacing[a];
        // ⌈n_a s_a / s_b⌉, with a guard against 2.0000000001 becoming 3.
        let nb = ((na / step) - 1e-9).ceil().max(1.0);
        let origin = 0.5 * (na - 1.0 - step * (nb - 1.0));
        // Target indices t with origin + t·step inside the crop (±½ voxel at the image edge).
        let lo_x = crop_lo[a] as f64 - if crop_lo[a] == 0 { 0.5 } else { 0.0 };
        let hi_x = crop_hi[a] as f64 + if crop_hi[a] == size[a] - 1 { 0.5 } else { 0.0 };
        let t0 = ((lo_x - origin) / step - 1e-9).ceil().max(0.0);
        let t1 = ((hi_x - origin) / step + 1e-9).floor().min(nb - 1.0);
        if t1 < t0 {
            return Err(RadiomicsError::InvalidSetting(format!(
                "interpolation spacing {sb} mm leaves no grid point on the ROI along axis {a}"
            )));
        }
        first[a] = origin + t0 * step;
        count[a] = (t1 - t0) as usize + 1;
        new_spacing[a] = sb;
    }
    Geometry::new(
        count,
        new_spacing,
        src.index_to_physical(first),
        src.direction(),
    )
    .map_err(|e| RadiomicsError::InvalidSetting(e.to_string()))
}

/// The ROI intensity mask: the morphological mask minus voxels outside the re-segmentation
/// range and the outlier range (their intersection when both are set).
fn resegment(
    intensity: &Array3<f64>,
    morphological: &Array3<bool>,
    settings: &Resegmentation,
) -> Result<Array3<bool>, RadiomicsError> {
    let non_finite = Zip::from(intensity)
        .and(morphological)
        .fold(0usize, |n, &v, &m| n + usize::from(m && !v.is_finite()));
    if non_finite > 0 {
        return Err(RadiomicsError::NonFinite(non_finite));
    }
    if !morphological.iter().any(|&m| m) {
        return Err(RadiomicsError::EmptyRoi(
            " after interpolating the mask (the ROI is smaller than the partial-volume threshold allows)".into(),
        ));
    }
    let (mut lo, mut hi) = settings.range.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
    if lo > hi {
        return Err(RadiomicsError::InvalidSetting(format!(
            "re-segmentation range [{lo}, {hi}] is empty"
        )));
    }
    if let Some(k) = settings.outlier_sigma {
        let (n, sum, sum2) = Zip::from(intensity).and(morphological).fold(
            (0usize, 0.0f64, 0.0f64),
            |(n, s, s2), &v, &m| {
                if m {
                    (n + 1, s + v, s2 + v * v)
                } else {
                    (n, s, s2)
                }
            },
        );
        let mean = sum / n as f64;
        let sd = (sum2 / n as f64 - mean * mean).max(0.0).sqrt();
        lo = lo.max(mean - k * sd);
        hi = hi.min(mean + k * sd);
    }
    let mask = Zip::from(intensity)
        .and(morphological)
        .map_collect(|&v, &m| m && v >= lo && v <= hi);
    if !mask.iter().any(|&m| m) {
        return Err(RadiomicsError::EmptyRoi(format!(
            " after re-segmentation to [{lo}, {hi}]"
        )));
    }
    Ok(mask)
}

/// Discretised grey levels of the intensity mask (0 outside) and the number of levels `N_g`.
pub fn discretise(
    roi: &Roi,
    method: Discretisation,
) -> Result<(Array3<u32>, usize), RadiomicsError> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    Zip::from(&roi.intensity)
        .and(&roi.intensity_mask)
        .for_each(|&v, &m| {
            if m {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        });
    if lo > hi {
        return Err(RadiomicsError::EmptyRoi(String::new()));
    }
    let levels = match method {
        Discretisation::FixedBinNumber(n) => {
            if n == 0 {
                return Err(RadiomicsError::InvalidSetting(
                    "the fixed bin number must be at least 1".into(),
                ));
            }
            let nf = n as f64;
            Zip::from(&roi.intensity)
                .and(&roi.intensity_mask)
                .map_collect(|&v, &m| {
                    if !m {
                        0
                    } else if v >= hi || hi == lo {
                        if hi == lo {
                            1
                        } else {
                            n as u32
                        }
                    } else {
                        ((nf * (v - lo) / (hi - lo)).floor() as u32 + 1).min(n as u32)
                    }
                })
        }
        Discretisation::FixedBinSize { width, min } => {
            if !(width.is_finite() && width > 0.0) {
                return Err(RadiomicsError::InvalidSetting(format!(
                    "the fixed bin size must be positive, got {width}"
                )));
            }
            let base = min.filter(|m| m.is_finite()).unwrap_or(lo);
            if lo < base {
                return Err(RadiomicsError::InvalidSetting(format!(
                    "ROI intensity {lo} lies below the fixed-bin-size minimum {base}; re-segment to the range first"
                )));
            }
            Zip::from(&roi.intensity)
                .and(&roi.intensity_mask)
                .map_collect(|&v, &m| {
                    if m {
                        ((v - base) / width).floor() as u32 + 1
                    } else {
                        0
                    }
                })
        }
        Discretisation::None => {
            if lo < 1.0 || hi.fract() != 0.0 || lo.fract() != 0.0 {
                return Err(RadiomicsError::InvalidSetting(
                    "without discretisation the ROI intensities must be integers ≥ 1".into(),
                ));
            }
            Zip::from(&roi.intensity)
                .and(&roi.intensity_mask)
                .map_collect(|&v, &m| if m { v as u32 } else { 0 })
        }
    };
    let n_levels = levels.iter().copied().max().unwrap_or(0) as usize;
    let n_levels = match method {
        Discretisation::FixedBinNumber(n) => n,
        _ => n_levels,
    };
    Ok((levels, n_levels))
}

/// Diagnostic counts of a prepared ROI.
pub fn summary(roi: &Roi) -> RoiSummary {
    let x = roi.intensities();
    RoiSummary {
        morphological_voxels: roi.morphological_mask.iter().filter(|&&m| m).count(),
        intensity_voxels: x.len(),
        mean: x.iter().sum::<f64>() / x.len() as f64,
        min: x.iter().copied().fold(f64::INFINITY, f64::min),
        max: x.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}
