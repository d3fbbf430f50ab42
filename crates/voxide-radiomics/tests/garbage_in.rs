//! Bad or degenerate input: a clear error or the IBSI-defined value, never a panic.

use voxide_core::{geometry::IDENTITY, Geometry, Image};
use voxide_radiomics::{extract, RadiomicsError, Settings};

fn grid(size: [usize; 3]) -> Geometry {
    Geometry::new(size, [1.0, 1.0, 2.0], [0.0; 3], IDENTITY).unwrap()
}

fn image(size: [usize; 3], f: impl Fn(usize) -> f64) -> Image<f64> {
    let g = grid(size);
    let n = g.len();
    Image::from_vec(g, (0..n).map(f).collect()).unwrap()
}

fn mask(size: [usize; 3], f: impl Fn(usize) -> bool) -> Image<u8> {
    let g = grid(size);
    let n = g.len();
    Image::from_vec(g, (0..n).map(|i| u8::from(f(i))).collect()).unwrap()
}

fn every_setting() -> Vec<Settings> {
    let mut all = vec![Settings::default()];
    all.extend("ABCDE".chars().map(|c| Settings::ibsi_config(c).unwrap()));
    all
}

#[test]
fn empty_mask_is_a_clear_error() {
    let img = image([8, 8, 4], |i| i as f64);
    let m = mask([8, 8, 4], |_| false);
    for s in every_setting() {
        let err = extract(&img, &m, 1, &s).unwrap_err();
        assert!(matches!(err, RadiomicsError::EmptyRoi(_)), "{err}");
        assert!(err.to_string().contains("label 1"), "{err}");
    }
}

#[test]
fn mismatched_geometry_is_a_clear_error() {
    let img = image([8, 8, 4], |i| i as f64);
    // Same size, shifted origin: a mask drawn on another grid (or lying outside this image).
    let shifted = Geometry::new([8, 8, 4], [1.0, 1.0, 2.0], [100.0, 0.0, 0.0], IDENTITY).unwrap();
    let m = Image::from_vec(shifted, vec![1u8; 256]).unwrap();
    let err = extract(&img, &m, 1, &Settings::default()).unwrap_err();
    assert!(matches!(err, RadiomicsError::GeometryMismatch(_)), "{err}");
    let smaller = mask([4, 4, 4], |_| true);
    let err = extract(&img, &smaller, 1, &Settings::default()).unwrap_err();
    assert!(err.to_string().contains("resample the mask"), "{err}");
}

#[test]
fn nan_voxels_in_the_roi_are_a_clear_error() {
    let img = image([8, 8, 4], |i| if i == 100 { f64::NAN } else { i as f64 });
    let m = mask([8, 8, 4], |_| true);
    let err = extract(&img, &m, 1, &Settings::default()).unwrap_err();
    assert!(matches!(err, RadiomicsError::NonFinite(1)), "{err}");
}

#[test]
fn one_voxel_roi_gives_values_or_nan_without_panicking() {
    let img = image([8, 8, 4], |i| (i % 7) as f64 * 10.0);
    let m = mask([8, 8, 4], |i| i == 8 * 8 + 8 * 3 + 3);
    for s in every_setting() {
        // Interpolation may make a single voxel vanish under the partial-volume threshold:
        // that is an empty ROI, reported as such.
        match extract(&img, &m, 1, &s) {
            Ok(features) => {
                let mean = features.iter().find(|f| f.name == "stat_mean").unwrap();
                assert!(mean.value.is_finite());
                let var = features.iter().find(|f| f.name == "stat_var").unwrap();
                assert_eq!(var.value, 0.0);
            }
            Err(e) => assert!(matches!(e, RadiomicsError::EmptyRoi(_)), "{e}"),
        }
    }
}

#[test]
fn flat_region_gives_ibsi_values() {
    let img = image([10, 10, 6], |_| 42.0);
    let m = mask([10, 10, 6], |i| {
        i % 100 >= 22 && i % 10 >= 2 && i % 10 < 8 && i < 500
    });
    for s in every_setting() {
        let features = extract(&img, &m, 1, &s).unwrap();
        let get = |name: &str| features.iter().find(|f| f.name == name).unwrap().value;
        // IBSI: skewness and kurtosis are 0 when the variance is 0.
        assert_eq!(get("stat_var"), 0.0);
        assert_eq!(get("stat_skew"), 0.0);
        assert_eq!(get("stat_kurt"), 0.0);
        assert_eq!(get("ih_entropy"), 0.0);
        assert!(
            features.iter().all(|f| !f.value.is_infinite()),
            "no infinities"
        );
    }
}
