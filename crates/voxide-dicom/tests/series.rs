//! Series assembly on real multi-series studies, and refusal of broken series.

mod common;

use std::path::Path;

use dicom_dictionary_std::tags;
use voxide_core::geometry::{cross, dot};
use voxide_dicom::{
    floats_of, list_files, open, rasterise, read_rtstruct, read_series, AssemblyOptions,
    DicomError, ReadDepth,
};

/// The geometry a series folder implies, computed straight from the headers: size from
/// Rows/Columns and the file count, origin and spacing from the two extreme slice positions.
fn expected_geometry(dir: &Path) -> ([usize; 3], [f64; 3], [f64; 3], [[f64; 3]; 3]) {
    let files = list_files(dir).unwrap();
    let mut positions = Vec::new();
    let mut iop = Vec::new();
    let mut ps = Vec::new();
    let (mut rows, mut cols) = (0, 0);
    for f in &files {
        let obj = open(f, ReadDepth::Header).unwrap();
        positions.push(floats_of(&obj, tags::IMAGE_POSITION_PATIENT).unwrap());
        iop = floats_of(&obj, tags::IMAGE_ORIENTATION_PATIENT).unwrap();
        ps = floats_of(&obj, tags::PIXEL_SPACING).unwrap();
        rows = obj.element(tags::ROWS).unwrap().to_int::<usize>().unwrap();
        cols = obj
            .element(tags::COLUMNS)
            .unwrap()
            .to_int::<usize>()
            .unwrap();
    }
    let r = [iop[0], iop[1], iop[2]];
    let c = [iop[3], iop[4], iop[5]];
    let n = cross(r, c);
    let d = |p: &Vec<f64>| dot([p[0], p[1], p[2]], n);
    let first = positions
        .iter()
        .min_by(|a, b| d(a).total_cmp(&d(b)))
        .unwrap();
    let last = positions
        .iter()
        .max_by(|a, b| d(a).total_cmp(&d(b)))
        .unwrap();
    let dist = ((0..3).map(|i| (last[i] - first[i]).powi(2)).sum::<f64>()).sqrt();
    let k = files.len();
    (
        [cols, rows, k],
        [ps[1], ps[0], dist / (k - 1) as f64],
        [first[0], first[1], first[2]],
        [[r[0], c[0], n[0]], [r[1], c[1], n[1]], [r[2], c[2], n[2]]],
    )
}

#[test]
fn sts_series_load_with_header_geometry_and_their_rtstructs_rasterise() {
    let root = common::data_dir().join("multimodal/ibsi-sts");
    let mut checked = 0;
    for patient in [
        "STS_001", "STS_002", "STS_003", "STS_008", "STS_012", "STS_019",
    ] {
        for modality in ["CT", "PET", "MR_T1"] {
            let dir = root.join(patient).join(modality);
            let vol = read_series(&dir.join("image"), &AssemblyOptions::default())
                .unwrap_or_else(|e| panic!("{patient}/{modality}: {e}"));
            let (size, spacing, origin, direction) = expected_geometry(&dir.join("image"));
            let g = vol.image.geometry();
            assert_eq!(g.size(), size, "{patient}/{modality} size");
            for a in 0..3 {
                assert!(
                    (g.spacing()[a] - spacing[a]).abs() < 1e-4,
                    "{patient}/{modality} spacing {:?} vs {spacing:?}",
                    g.spacing()
                );
                assert!(
                    (g.origin()[a] - origin[a]).abs() < 1e-6,
                    "{patient}/{modality} origin"
                );
                for b in 0..3 {
                    assert!(
                        (g.direction()[a][b] - direction[a][b]).abs() < 1e-6,
                        "{patient}/{modality} direction"
                    );
                }
            }
            assert!(
                vol.warnings.is_empty(),
                "{patient}/{modality}: {:?}",
                vol.warnings
            );
            let (lo, hi) = vol.image.min_max().unwrap();
            assert!(hi > lo, "{patient}/{modality}: constant image");

            let rs = list_files(&dir.join("mask")).unwrap();
            assert_eq!(rs.len(), 1);
            let set = read_rtstruct(&rs[0]).unwrap();
            assert_eq!(
                set.frame_of_reference_uid, vol.series.frame_of_reference_uid,
                "{patient}/{modality}: frame of reference"
            );
            assert!(!set.rois.is_empty());
            for roi in &set.rois {
                let r = rasterise(roi, g).unwrap();
                let n = r.mask.foreground();
                assert!(
                    n > 0,
                    "{patient}/{modality} ROI '{}' rasterised empty",
                    roi.name
                );
                r.mask.check_matches(g).unwrap();
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 18);
}

fn refusal(rel: &str) -> String {
    let dir = common::data_dir().join("dicom/dicom2nifti").join(rel);
    match read_series(&dir, &AssemblyOptions::default()) {
        Ok(v) => panic!(
            "{rel}: assembled a volume of size {:?} instead of refusing",
            v.image.geometry().size()
        ),
        Err(e @ DicomError::Series { .. }) => e.to_string(),
        Err(e) => panic!("{rel}: wrong error kind: {e}"),
    }
}

#[test]
fn broken_series_are_refused_with_the_reason() {
    assert!(refusal("failing/gantrytilting/001").contains("gantry tilt"));
    assert!(refusal("failing/notavolume/001").contains("same position"));
    assert!(refusal("failing/slicecount/001").contains("only 2 slices"));
    assert!(refusal("failing/sliceorientation/001").contains("mixed orientations"));
    let missing = refusal("failing/sliceincrement/001");
    assert!(missing.contains("missing slices"), "{missing}");
    assert!(refusal("failing/sliceincrement/002").contains("missing slices"));
}

#[test]
fn nonuniform_spacing_can_be_accepted_explicitly_with_a_warning() {
    let dir = common::data_dir().join("dicom/dicom2nifti/failing/sliceincrement/001");
    let opts = AssemblyOptions {
        allow_nonuniform_spacing: true,
    };
    // A gap of exactly two slices is a missing slice, which no option papers over.
    assert!(read_series(&dir, &opts).is_err());
}

#[test]
fn a_folder_with_several_series_asks_which() {
    let dir = common::data_dir().join("multimodal/ibsi-sts/STS_001");
    match read_series(&dir, &AssemblyOptions::default()) {
        Err(DicomError::MultipleSeries { series, .. }) => assert_eq!(series.len(), 3),
        other => panic!("expected MultipleSeries, got {other:?}"),
    }
}

#[test]
fn contours_off_the_slice_planes_are_refused() {
    let dir = common::data_dir().join("multimodal/ibsi-sts/STS_001/CT");
    let set = read_rtstruct(&list_files(&dir.join("mask")).unwrap()[0]).unwrap();
    // A sagittal grid: the axial contours cut across its slices.
    let sagittal = voxide_core::Geometry::new(
        [200, 200, 200],
        [1.0, 1.0, 1.0],
        [-100.0, -150.0, -1000.0],
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
    )
    .unwrap();
    match rasterise(&set.rois[0], &sagittal) {
        Err(DicomError::Contour { roi, reason }) => {
            assert_eq!(roi, set.rois[0].name);
            assert!(reason.contains("slice planes"), "{reason}");
        }
        other => panic!("expected a contour error, got {other:?}"),
    }
    assert!(set.roi("no such roi").is_err());
    assert!(set.roi(&set.rois[0].name.to_lowercase()).is_ok());
}
