//! The slab-by-slab extraction (the CLI streams files through `MaskScan` and `ImageScan`)
//! gives exactly what `extract` on whole images gives, whatever the slab size, for real
//! PyRadiomics test cases; and slabs that do not continue the volume are errors.

use std::path::PathBuf;

use voxide_core::{AnyImage, Image};
use voxide_io::SlabReader;
use voxide_radiomics::pyradiomics::{
    extract, extract_scanned, extract_with_mask, ImageScan, MaskScan, PyRadiomicsParams,
};

fn data(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/radiomics/pyradiomics")
        .join(name);
    assert!(p.exists(), "test data missing: {}", p.display());
    p
}

fn slabs(name: &str, voxels: usize) -> (SlabReader, Vec<AnyImage>) {
    let mut r = SlabReader::open(&data(name)).unwrap();
    let mut out = Vec::new();
    while let Some(s) = r.next_slab(voxels).unwrap() {
        out.push(s);
    }
    (r, out)
}

const DEFAULTS: &str = "imageType:\n  Original: {}\nsetting:\n  binWidth: 25\n  label: 1\n";
const PRECROP: &str =
    "setting:\n  binWidth: 10\n  preCrop: true\n  padDistance: 2\n  resegmentRange: [-2, 2]\n  resegmentMode: sigma\n";
const RESAMPLED: &str = "setting:\n  resampledPixelSpacing: [2, 2, 2]\n  interpolator: sitkBSpline\n  padDistance: 3\nfeatureClass:\n  firstorder:\n  glcm:\n";

#[test]
fn streamed_extraction_equals_whole_image_extraction() {
    for case in ["brain1", "lung2"] {
        let image = voxide_io::read_image(&data(&format!("{case}_image.nrrd"))).unwrap();
        let mask = voxide_io::read_image(&data(&format!("{case}_label.nrrd"))).unwrap();
        for text in [DEFAULTS, PRECROP, RESAMPLED] {
            let params = PyRadiomicsParams::from_yaml(text).unwrap();
            let want = extract(&image, &mask, None, &params).unwrap();
            for voxels in [1, 300_000] {
                let (mr, mask_slabs) = slabs(&format!("{case}_label.nrrd"), voxels);
                let mut ms = MaskScan::new(mr.geometry(), None, &params).unwrap();
                for s in &mask_slabs {
                    ms.push(s).unwrap();
                }
                let scanned = ms.finish().unwrap();
                let got = match scanned.image_box(image.geometry(), &params) {
                    Some(window) => {
                        assert!(text != RESAMPLED, "resampling reads beyond the ROI box");
                        let (ir, image_slabs) = slabs(&format!("{case}_image.nrrd"), voxels);
                        let mut is =
                            ImageScan::new(ir.geometry(), ir.voxel_type(), window).unwrap();
                        for s in &image_slabs {
                            is.push(s).unwrap();
                        }
                        extract_scanned(is.finish().unwrap(), scanned, &params).unwrap()
                    }
                    None => {
                        assert!(text == RESAMPLED);
                        extract_with_mask(&image, scanned, &params).unwrap()
                    }
                };
                assert_eq!(got.len(), want.len(), "{case}");
                for ((k1, v1), (k2, v2)) in got.iter().zip(&want) {
                    assert_eq!(k1, k2);
                    assert_eq!(
                        format!("{v1:?}"),
                        format!("{v2:?}"),
                        "{case} {k1} slab {voxels}"
                    );
                }
            }
        }
    }
}

#[test]
fn slabs_that_do_not_continue_the_volume_are_errors() {
    let params = PyRadiomicsParams::from_yaml(DEFAULTS).unwrap();
    let (mr, mask_slabs) = slabs("brain1_label.nrrd", 100_000);
    assert!(mask_slabs.len() > 2);
    // A slab missing: the scan ends short.
    let mut ms = MaskScan::new(mr.geometry(), None, &params).unwrap();
    for s in mask_slabs.iter().skip(1) {
        ms.push(s).unwrap();
    }
    assert!(ms.finish().unwrap_err().to_string().contains("ended after"));
    // A slab of another width.
    let mut ms = MaskScan::new(mr.geometry(), None, &params).unwrap();
    let g = voxide_core::Geometry::new(
        [3, 3, 1],
        [1.0; 3],
        [0.0; 3],
        voxide_core::geometry::IDENTITY,
    )
    .unwrap();
    let odd: AnyImage = Image::filled(g, 1u8).into();
    assert!(ms.push(&odd).is_err());
    // An image slab of another voxel type.
    let image = voxide_io::read_image(&data("brain1_image.nrrd")).unwrap();
    let mut ms = MaskScan::new(mr.geometry(), None, &params).unwrap();
    for s in &mask_slabs {
        ms.push(s).unwrap();
    }
    let window = ms
        .finish()
        .unwrap()
        .image_box(image.geometry(), &params)
        .unwrap();
    let mut is = ImageScan::new(image.geometry(), voxide_core::VoxelType::F32, window).unwrap();
    assert!(is.push(&image).is_err());
}
