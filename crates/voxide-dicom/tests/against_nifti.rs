//! DICOM series + RTSTRUCT assembled by voxide against independent NIfTI conversions of the
//! same data (by the IBSI team): same voxel values, same grid, masks within 0.5% of voxels.

mod common;

use std::path::Path;

use voxide_core::{AnyImage, Image};
use voxide_dicom::{list_files, rasterise, read_rtstruct, read_series, AssemblyOptions};

struct Comparison {
    value_mismatches: usize,
    max_abs_diff: f64,
    mask_voxels: usize,
    mask_diff: usize,
}

fn compare(
    image_dir: &Path,
    rtstruct_dir: &Path,
    nifti_image: &Path,
    nifti_mask: Option<&Path>,
) -> Comparison {
    let vol = read_series(image_dir, &AssemblyOptions::default()).unwrap();
    let g = vol.image.geometry().clone();
    let nifti = voxide_io::read_image(nifti_image).unwrap();
    let ng = nifti.geometry();
    assert_eq!(ng.size(), g.size(), "{}: size", nifti_image.display());
    assert!(
        ng.matches(&g, 1e-3),
        "{}: grid differs:\n nifti {ng:?}\n dicom {g:?}",
        nifti_image.display()
    );
    let a = vol.image.to_f64_vec();
    let b = nifti.to_f64_vec();
    let mut value_mismatches = 0;
    let mut max_abs_diff = 0.0f64;
    for (x, y) in a.iter().zip(&b) {
        let d = (x - y).abs();
        // NIfTI conversions store f32: compare at f32 precision.
        if d > 1e-4 * x.abs().max(1.0) {
            value_mismatches += 1;
        }
        max_abs_diff = max_abs_diff.max(d);
    }
    let (mut mask_voxels, mut mask_diff) = (0, 0);
    if let Some(mask_path) = nifti_mask {
        let rs = list_files(rtstruct_dir).unwrap();
        let set = read_rtstruct(&rs[0]).unwrap();
        let ours = rasterise(&set.rois[0], &g).unwrap().mask;
        let theirs: Image<u8> = match voxide_io::read_image(mask_path).unwrap() {
            AnyImage::U8(m) => m,
            other => other.cast::<u8>(),
        };
        assert!(theirs.geometry().matches(&g, 1e-3), "mask grid differs");
        for (x, y) in ours.labels().data().iter().zip(theirs.data().iter()) {
            let (x, y) = (*x != 0, *y != 0);
            mask_voxels += usize::from(y);
            mask_diff += usize::from(x != y);
        }
    }
    Comparison {
        value_mismatches,
        max_abs_diff,
        mask_voxels,
        mask_diff,
    }
}

#[test]
fn ibsi_ct_phantom_dicom_matches_its_nifti() {
    let root = common::data_dir().join("radiomics/ibsi/ibsi_1_ct_radiomics_phantom");
    let c = compare(
        &root.join("dicom/image"),
        &root.join("dicom/mask"),
        &root.join("nifti/image/phantom.nii.gz"),
        Some(&root.join("nifti/mask/mask.nii.gz")),
    );
    assert_eq!(c.value_mismatches, 0, "max |diff| {}", c.max_abs_diff);
    let frac = c.mask_diff as f64 / c.mask_voxels as f64;
    eprintln!(
        "IBSI CT phantom: {} of {} mask voxels differ ({:.4}%)",
        c.mask_diff,
        c.mask_voxels,
        100.0 * frac
    );
    assert!(c.mask_voxels > 0);
    assert!(
        frac <= 0.005,
        "{} of {} mask voxels differ",
        c.mask_diff,
        c.mask_voxels
    );
}

#[test]
fn sts_dicom_matches_ibsi_nifti_conversions() {
    let dicom = common::data_dir().join("multimodal/ibsi-sts");
    let nifti = common::data_dir().join("multimodal/ibsi-sts-nifti");
    let mut compared = 0;
    for patient in [
        "STS_001", "STS_002", "STS_003", "STS_008", "STS_012", "STS_019",
    ] {
        for modality in ["CT", "PET", "MR_T1"] {
            let image = nifti.join(patient).join(format!("{modality}_image.nii.gz"));
            let mask = nifti.join(patient).join(format!("{modality}_mask.nii.gz"));
            if !image.exists() {
                // Documented absence: the data README says some CT files over 4 MiB were left out.
                assert_eq!(modality, "CT", "{} missing", image.display());
                continue;
            }
            let c = compare(
                &dicom.join(patient).join(modality).join("image"),
                &dicom.join(patient).join(modality).join("mask"),
                &image,
                mask.exists().then_some(mask.as_path()),
            );
            assert_eq!(
                c.value_mismatches, 0,
                "{patient}/{modality}: values differ (max {})",
                c.max_abs_diff
            );
            if c.mask_voxels > 0 {
                let frac = c.mask_diff as f64 / c.mask_voxels as f64;
                eprintln!(
                    "{patient}/{modality}: {} of {} mask voxels differ ({:.3}%)",
                    c.mask_diff,
                    c.mask_voxels,
                    100.0 * frac
                );
                assert!(
                    frac <= 0.005,
                    "{patient}/{modality}: {:.3}% of mask voxels differ",
                    100.0 * frac
                );
            }
            compared += 1;
        }
    }
    assert!(compared >= 13, "only {compared} series compared");
}
