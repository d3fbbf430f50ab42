//! PyRadiomics mode on bad or degenerate input: clear errors (or PyRadiomics' own values),
//! never a panic.

use voxide_core::geometry::IDENTITY;
use voxide_core::{AnyImage, Geometry, Image};
use voxide_radiomics::pyradiomics::{extract, PyRadiomicsParams, PyValue, SettingValue};
use voxide_radiomics::RadiomicsError;

fn geometry(size: [usize; 3]) -> Geometry {
    Geometry::new(size, [1.0, 1.0, 2.0], [0.0; 3], IDENTITY).unwrap()
}

fn image(size: [usize; 3]) -> AnyImage {
    let n = size.iter().product();
    let v: Vec<i16> = (0..n).map(|i| ((i * 37) % 200) as i16 - 50).collect();
    AnyImage::I16(Image::from_vec(geometry(size), v).unwrap())
}

fn mask(size: [usize; 3], voxels: &[[usize; 3]], label: u8) -> AnyImage {
    let mut img = Image::filled(geometry(size), 0u8);
    for &[i, j, k] in voxels {
        img.data_mut()[(k, j, i)] = label;
    }
    AnyImage::U8(img)
}

fn params(text: &str) -> PyRadiomicsParams {
    PyRadiomicsParams::from_yaml(text).unwrap()
}

fn shape_and_firstorder() -> PyRadiomicsParams {
    params("featureClass:\n  shape:\n  firstorder:\n")
}

fn block(lo: [usize; 3], hi: [usize; 3]) -> Vec<[usize; 3]> {
    let mut v = Vec::new();
    for k in lo[2]..=hi[2] {
        for j in lo[1]..=hi[1] {
            for i in lo[0]..=hi[0] {
                v.push([i, j, k]);
            }
        }
    }
    v
}

fn get<'a>(out: &'a [(String, PyValue)], key: &str) -> &'a PyValue {
    &out.iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("{key} missing"))
        .1
}

#[test]
fn empty_mask_and_absent_label_are_clear_errors() {
    let img = image([6, 6, 4]);
    let err = extract(
        &img,
        &mask([6, 6, 4], &[], 1),
        None,
        &shape_and_firstorder(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("nothing is segmented"), "{err}");
    let m = mask([6, 6, 4], &block([1, 1, 1], [3, 3, 2]), 2);
    let err = extract(&img, &m, None, &shape_and_firstorder()).unwrap_err();
    assert!(
        err.to_string().contains("label (1) not present") && err.to_string().contains("[2]"),
        "{err}"
    );
    // Label given explicitly.
    let out = extract(&img, &m, Some(2), &shape_and_firstorder()).unwrap();
    assert_eq!(
        get(&out, "diagnostics_Mask-original_VoxelNum"),
        &PyValue::Int(18)
    );
}

#[test]
fn single_voxel_and_thin_rois_follow_minimum_roi_dimensions() {
    let img = image([6, 6, 4]);
    let err = extract(
        &img,
        &mask([6, 6, 4], &[[2, 2, 2]], 1),
        None,
        &shape_and_firstorder(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("1 segmented voxel"), "{err}");
    // A line of voxels is 1-dimensional: refused by default (minimumROIDimensions 2) ...
    let line = mask([6, 6, 4], &block([0, 2, 1], [4, 2, 1]), 1);
    let err = extract(&img, &line, None, &shape_and_firstorder()).unwrap_err();
    assert!(err.to_string().contains("too few dimensions"), "{err}");
    // ... and computed with minimumROIDimensions 1.
    let p = params("setting:\n  minimumROIDimensions: 1\nfeatureClass:\n  shape:\n  firstorder:\n");
    let out = extract(&img, &line, None, &p).unwrap();
    assert_eq!(
        get(&out, "original_shape_VoxelVolume"),
        &PyValue::Float(10.0)
    );
    // minimumROISize: the ROI needs strictly more voxels.
    let p = params(
        "setting:\n  minimumROIDimensions: 1\n  minimumROISize: 5\nfeatureClass:\n  firstorder:\n",
    );
    assert!(extract(&img, &line, None, &p).is_err());
}

#[test]
fn mismatched_geometry_is_refused_or_corrected() {
    let img = image([6, 6, 4]);
    let shifted = Geometry::new([6, 6, 4], [1.0, 1.0, 2.0], [0.3, 0.0, 0.0], IDENTITY).unwrap();
    let m = mask([6, 6, 4], &block([1, 1, 1], [3, 3, 2]), 1);
    let AnyImage::U8(mi) = m else { unreachable!() };
    let m = AnyImage::U8(mi.with_geometry(shifted).unwrap());
    let err = extract(&img, &m, None, &shape_and_firstorder()).unwrap_err();
    assert!(matches!(err, RadiomicsError::GeometryMismatch(_)), "{err}");
    let mut p = shape_and_firstorder();
    p.set("correctMask", SettingValue::Bool(true)).unwrap();
    let out = extract(&img, &m, None, &p).unwrap();
    assert!(out
        .iter()
        .any(|(k, _)| k == "diagnostics_Mask-corrected_BoundingBox"));
    // Different sizes.
    let small = mask([5, 6, 4], &block([1, 1, 1], [3, 3, 2]), 1);
    let err = extract(&img, &small, None, &shape_and_firstorder()).unwrap_err();
    assert!(err.to_string().contains("size mismatch"), "{err}");
}

#[test]
fn nan_voxels_give_a_clear_error_for_intensity_features() {
    let mut v = vec![1.0f32; 6 * 6 * 4];
    v[6 * 6 + 6 + 1] = f32::NAN;
    let img = AnyImage::F32(Image::from_vec(geometry([6, 6, 4]), v).unwrap());
    let m = mask([6, 6, 4], &block([1, 1, 1], [3, 3, 2]), 1);
    let err = extract(&img, &m, None, &shape_and_firstorder()).unwrap_err();
    assert!(matches!(err, RadiomicsError::NonFinite(_)), "{err}");
    // Shape alone does not read intensities.
    let out = extract(&img, &m, None, &params("featureClass:\n  shape:\n")).unwrap();
    assert_eq!(
        get(&out, "diagnostics_Image-original_Mean")
            .as_f64()
            .map(f64::is_nan),
        Some(true)
    );
}

#[test]
fn flat_region_and_resegmentation_extremes() {
    let img = AnyImage::I16(Image::filled(geometry([6, 6, 4]), 7i16));
    let m = mask([6, 6, 4], &block([1, 1, 1], [3, 3, 2]), 1);
    let out = extract(&img, &m, None, &shape_and_firstorder()).unwrap();
    assert_eq!(
        get(&out, "original_firstorder_Skewness"),
        &PyValue::Float(0.0)
    );
    assert_eq!(get(&out, "original_firstorder_Range"), &PyValue::Float(0.0));
    // Re-segmentation excluding everything.
    let p = params("setting:\n  resegmentRange: [100, 200]\nfeatureClass:\n  firstorder:\n");
    let err = extract(&img, &m, None, &p).unwrap_err();
    assert!(err.to_string().contains("re-segmentation"), "{err}");
    // Absurd bin widths and resampling grids are refused, not allocated.
    let p = params("setting:\n  binWidth: 1.0e-12\nfeatureClass:\n  firstorder:\n");
    let img = image([6, 6, 4]);
    assert!(extract(&img, &m, None, &p).is_err());
    let p = params(
        "setting:\n  resampledPixelSpacing: [1.0e-6, 1.0e-6, 1.0e-6]\nfeatureClass:\n  shape:\n",
    );
    assert!(extract(&img, &m, None, &p).is_err());
}

#[test]
fn every_roi_shape_in_a_small_volume_runs() {
    // Many small ROIs in every corner and size: no panics, finite diagnostics.
    let img = image([5, 4, 3]);
    let p = params("setting:\n  minimumROIDimensions: 1\n  resampledPixelSpacing: [0.7, 1.3, 1.1]\nfeatureClass:\n  shape:\n  firstorder:\n");
    let plain = params(
        "setting:\n  minimumROIDimensions: 1\nfeatureClass:\n  shape:\n  firstorder:\n  shape2D:\n",
    );
    let mut runs = 0;
    for lo in block([0, 0, 0], [4, 3, 2]) {
        for hi in block(lo, [4, 3, 2]) {
            let m = mask([5, 4, 3], &block(lo, hi), 1);
            for p in [&p, &plain] {
                let _ = extract(&img, &m, None, p);
                runs += 1;
            }
        }
    }
    assert!(runs > 100);
}
