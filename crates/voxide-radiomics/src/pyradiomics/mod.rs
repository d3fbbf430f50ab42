//! PyRadiomics compatibility mode: the features of PyRadiomics 3.1.4 (`pyradiomics-bhklab`),
//! with its names, its pre-processing and its numbers, for the `Original` image type.
//!
//! [`extract`] is `RadiomicsFeatureExtractor.execute(image, mask)` in segment mode: it returns
//! the `diagnostics_*` entries, then `original_shape_*` (and `original_shape2D_*`), then the other
//! enabled classes (`original_firstorder_*`, `original_glcm_*`, ...) in the order PyRadiomics
//! prints them. Settings come from a PyRadiomics parameter file read by
//! [`PyRadiomicsParams::from_yaml`].
//!
//! What is reproduced exactly (see the module docs of each step): label selection and the
//! UInt32 cast of the mask, ITK's geometry tolerance, `correctMask`, `minimumROIDimensions` and
//! `minimumROISize`, `normalize`/`normalizeScale`/`removeOutliers` (ITK statistics), resampling
//! on PyRadiomics' corner-aligned grid with SimpleITK's nearest-neighbour (ties rounding up),
//! linear and cubic B-spline interpolators and its truncating cast, `preCrop` and
//! `padDistance`, re-segmentation (absolute, relative, sigma; `resegmentShape` and the
//! bounding-box quirk of shape without it), fixed bin width and bin count discretisation with
//! NumPy's dtype arithmetic (the voxel type of the input matters, as it does in PyRadiomics),
//! `voxelArrayShift`, `force2D`/`force2Ddimension`.
//!
//! Differences from PyRadiomics: images are always 3D (a 2D file is a one-slice volume, so
//! `Image-original_Dimensionality` is `3D` and `shape` rather than `shape2D` alone applies);
//! vector (segmentation object) masks and `label_channel` are not supported; the `Versions_*`
//! diagnostics report voxide's version; filtered image types are refused.

mod diagnostics;
mod firstorder;
mod itk;
mod pipeline;
mod scan;
pub mod settings;
mod shape;
mod shape2d;
pub mod texture;
mod value;

use ndarray::Array3;
use voxide_core::AnyImage;

pub use diagnostics::VERSION;
pub use settings::{Number, PyRadiomicsParams, SettingValue};
pub use value::{py_float, PyValue};

use itk::VoxelSource;
use pipeline::{WorkImage, WorkMask};
pub use scan::{ImageScan, MaskScan, ScannedImage, ScannedMask};

use crate::RadiomicsError;

/// Whether the ROI holds a single discretised grey level.
fn single_level(levels: &Array3<u32>) -> bool {
    let mut it = levels.iter().copied().filter(|&l| l > 0);
    let first = it.next();
    it.all(|l| Some(l) == first)
}

/// Runs PyRadiomics' segment-based extraction of `label` (or the `label` setting when `None`)
/// of `mask` on `image` with `params`, returning `(name, value)` pairs in PyRadiomics' order:
/// diagnostics first (when `additionalInfo` is on), then the features.
///
/// The voxel type of `image` matters as it does in PyRadiomics (NumPy's integer and float32
/// arithmetic in discretisation, the truncating cast of resampled integer images).
pub fn extract(
    image: &AnyImage,
    mask: &AnyImage,
    label: Option<u32>,
    params: &PyRadiomicsParams,
) -> Result<Vec<(String, PyValue)>, RadiomicsError> {
    let mut scan = MaskScan::new(mask.geometry(), label, params)?;
    scan.push(mask)?;
    extract_with_mask(image, scan.finish()?, params)
}

/// [`extract`] on an image and mask scanned slab by slab ([`ImageScan`], [`MaskScan`]), the
/// image box being the one [`ScannedMask::image_box`] gave.
pub fn extract_scanned(
    image: ScannedImage,
    mask: ScannedMask,
    params: &PyRadiomicsParams,
) -> Result<Vec<(String, PyValue)>, RadiomicsError> {
    run(Input::Scanned(Box::new(image)), mask, params)
}

/// [`extract`] on a whole image and a scanned mask. When the extraction reads only a box of the
/// image ([`ScannedMask::image_box`]) it takes the same path as a streaming caller, keeping
/// only that box.
pub fn extract_with_mask(
    image: &AnyImage,
    mask: ScannedMask,
    params: &PyRadiomicsParams,
) -> Result<Vec<(String, PyValue)>, RadiomicsError> {
    match mask.image_box(image.geometry(), params) {
        Some(window) => {
            let mut scan = ImageScan::new(image.geometry(), image.voxel_type(), window)?;
            scan.push(image)?;
            extract_scanned(scan.finish()?, mask, params)
        }
        None => run(Input::Whole(image), mask, params),
    }
}

enum Input<'a> {
    Whole(&'a AnyImage),
    Scanned(Box<ScannedImage>),
}

fn run(
    image: Input<'_>,
    mask: ScannedMask,
    params: &PyRadiomicsParams,
) -> Result<Vec<(String, PyValue)>, RadiomicsError> {
    let s = params.resolve(mask.label_arg)?;
    let label = s.label;
    let info = s.additional_info;
    let mut out: Vec<(String, PyValue)> = Vec::new();
    if info {
        diagnostics::header(&mut out, params, label);
    }

    // 1. Load: mask to UInt32 and label check (done by the scan), diagnostics, normalisation,
    // resampling / pre-crop.
    let loaded = mask.loaded;
    let mut img = match &image {
        Input::Whole(image) => {
            if info {
                let (hash, stats) = pipeline::image_stats(image);
                diagnostics::image_original(&mut out, image.geometry(), hash, stats);
            }
            let norm = s
                .normalize
                .then(|| pipeline::Normalization::of(image, s.remove_outliers, s.normalize_scale));
            WorkImage::input(image, norm)
        }
        Input::Scanned(scanned) => {
            if info {
                diagnostics::image_original(
                    &mut out,
                    &scanned.grid,
                    scanned.hash.clone(),
                    scanned.stats,
                );
            }
            if s.normalize {
                return Err(RadiomicsError::InvalidSetting(
                    "normalize needs the whole image; extract with the whole image instead of a scanned box".into(),
                ));
            }
            WorkImage::window(
                scanned.grid.clone(),
                scanned.voxel_type,
                std::sync::Arc::clone(&scanned.window),
                scanned.lo,
            )
        }
    };
    if info {
        diagnostics::mask(&mut out, "original", &loaded.mask, None, loaded.hash);
    }
    let mut msk: WorkMask = loaded.mask;
    match (&s.interpolator, &s.resampled_pixel_spacing) {
        (Some(interpolator), Some(spacing)) => {
            (img, msk) = pipeline::resample(&img, &msk, spacing, interpolator, &s)?;
            if info {
                diagnostics::image_interpolated(&mut out, &img);
                diagnostics::mask(&mut out, "interpolated", &msk, Some(&img), None);
            }
        }
        _ if s.pre_crop => {
            let (bb, corrected) = pipeline::check_mask(&img, &msk, &s)?;
            if let Some(c) = corrected {
                msk = c;
            }
            (img, msk) = pipeline::crop_to_tumor(&img, &msk, &bb, s.pad_distance);
        }
        _ => {}
    }

    // 2. Check the ROI (correcting the mask's geometry if allowed).
    let (mut bb, corrected) = pipeline::check_mask(&img, &msk, &s)?;
    if let Some(c) = corrected {
        if info {
            diagnostics::mask(&mut out, "corrected", &c, Some(&img), None);
        }
        msk = c;
    }

    // 3. Re-segmentation.
    let mut resegmented = None;
    if let Some(range) = &s.resegment_range {
        let r = pipeline::resegment(&img, &msk, range, &s.resegment_mode, label)?;
        (bb, _) = pipeline::check_mask(&img, &r, &s)?;
        if info {
            diagnostics::mask(&mut out, "resegmented", &r, Some(&img), None);
        }
        resegmented = Some(r);
    }

    // 4. Shape, on the bounding box (of the re-segmented mask when there is one).
    let size = bb.size();
    let spacing = img.grid.spacing();
    let shape_mask = match (&resegmented, s.resegment_shape) {
        (Some(r), true) => r,
        _ => &msk,
    };
    if let Some(features) = params.enabled_features("shape") {
        let roi = shape_mask.window(bb.lo, size);
        for (name, v) in shape::compute(&roi, spacing, &features) {
            out.push((format!("original_shape_{name}"), PyValue::Float(v)));
        }
    }
    if let Some(features) = params.enabled_features("shape2D") {
        // PyRadiomics' gate compares the bounding box size along the *grid* axis numbered
        // force2Ddimension (an array axis number), and skips when it is 1.
        let dim = s.shape_force_2d_dimension;
        let gated = (0..3).contains(&dim) && size[dim as usize] > 1;
        if s.shape_force_2d && gated {
            let roi = shape_mask.window(bb.lo, size);
            for (name, v) in shape2d::compute(&roi, spacing, dim as usize, &features)? {
                out.push((format!("original_shape2D_{name}"), PyValue::Float(v)));
            }
        }
    }

    // 5. The other classes, on the image cropped to the bounding box.
    let feature_mask = resegmented.as_ref().unwrap_or(&msk);
    let classes: Vec<&str> = params
        .feature_classes()
        .iter()
        .map(|(c, _)| c.as_str())
        .filter(|c| !c.starts_with("shape"))
        .collect();
    if classes.is_empty() {
        return Ok(out);
    }
    let roi = feature_mask.window(bb.lo, size);
    let values = img.region(bb.lo, size);
    let cs = &s.classes;
    let levels: Array3<u32> = pipeline::discretise(&values, &roi, img.dtype, cs)?;
    let texture_settings = texture::TextureSettings {
        distances: cs.distances.clone(),
        force_2d: cs.force_2d,
        force_2d_dimension: cs.force_2d_dimension,
        weighting_norm: cs.weighting_norm.clone(),
        symmetrical_glcm: cs.symmetrical_glcm,
        gldm_a: cs.gldm_a,
    };
    for class in classes {
        let Some(features) = params.enabled_features(class) else {
            continue;
        };
        let computed: Vec<(&'static str, f64)> = if class == "firstorder" {
            let roi_values: Vec<f64> = values
                .iter()
                .zip(roi.iter())
                .filter_map(|(&v, &m)| m.then_some(v))
                .collect();
            let roi_levels: Vec<u32> = levels
                .iter()
                .zip(roi.iter())
                .filter_map(|(&l, &m)| m.then_some(l))
                .collect();
            let input = firstorder::FirstOrderInput {
                values: &roi_values,
                levels: &roi_levels,
                voxel_volume: spacing[0] * spacing[1] * spacing[2],
                shift: cs.voxel_array_shift,
            };
            firstorder::compute(&input, &features)
        } else {
            let input = texture::TextureInput {
                levels: &levels,
                spacing,
                settings: &texture_settings,
            };
            let got = texture::compute(class, &input, &features)?;
            // Keep PyRadiomics' order (the enabled order); deprecated GLCM/GLDM features
            // raise in PyRadiomics and have no output.
            features
                .iter()
                .filter_map(|f| got.iter().find(|(n, _)| n == f).copied())
                .collect()
        };
        for (name, v) in computed {
            // GLCM MCC of a single grey level is the Python int 1 in PyRadiomics.
            let value = if class == "glcm" && name == "MCC" && v == 1.0 && single_level(&levels) {
                PyValue::Int(1)
            } else {
                PyValue::Float(v)
            };
            out.push((format!("original_{class}_{name}"), value));
        }
    }
    Ok(out)
}
