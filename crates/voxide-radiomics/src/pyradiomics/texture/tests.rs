//! Unit tests of the PyRadiomics texture classes: hand-checked values on a 4-voxel line,
//! feature selection and order, and garbage input (errors, never panics). Agreement with
//! PyRadiomics itself is tested in `tests/pyradiomics_texture.rs`.

use ndarray::{Array3, ShapeBuilder};

use super::*;

fn run(
    class: &str,
    levels: &Array3<u32>,
    settings: &TextureSettings,
    enabled: &[&str],
) -> Result<Vec<(&'static str, f64)>, RadiomicsError> {
    compute(
        class,
        &TextureInput {
            levels,
            spacing: [1.0, 1.0, 1.0],
            settings,
        },
        enabled,
    )
}

fn value(values: &[(&str, f64)], name: &str) -> f64 {
    values
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .1
}

fn assert_close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
        "{got} vs {want}"
    );
}

/// The line `1 1 2 2` (shape 1 × 1 × 4): one offset `(0, 0, 1)` (mono) or two (bidirectional).
fn line() -> Array3<u32> {
    Array3::from_shape_vec((1, 1, 4), vec![1, 1, 2, 2]).unwrap()
}

#[test]
fn hand_checked_line() {
    let s = TextureSettings::default();
    let levels = line();

    // GLCM: pairs (1,1) (1,2) (2,2), symmetrised [[2,1],[1,2]] / 6.
    let glcm = run("glcm", &levels, &s, &[]).unwrap();
    assert_close(value(&glcm, "Contrast"), 1.0 / 3.0);
    assert_close(value(&glcm, "JointAverage"), 1.5);
    assert_close(value(&glcm, "SumAverage"), 3.0);
    assert_close(value(&glcm, "Autocorrelation"), 7.0 / 3.0);
    assert_close(value(&glcm, "JointEnergy"), 5.0 / 18.0);
    assert_close(value(&glcm, "Idm"), 2.0 / 3.0 + 1.0 / 6.0);
    assert_close(value(&glcm, "Idn"), 2.0 / 3.0 + (1.0 / 3.0) / 1.5);
    assert_close(value(&glcm, "MaximumProbability"), 1.0 / 3.0);
    // Q = [[5/9, 4/9], [4/9, 5/9]]: eigenvalues 1 and 1/9.
    assert_close(value(&glcm, "MCC"), 1.0 / 3.0);

    // GLRLM: runs (1, length 2) and (2, length 2).
    let glrlm = run("glrlm", &levels, &s, &[]).unwrap();
    assert_close(value(&glrlm, "ShortRunEmphasis"), 0.25);
    assert_close(value(&glrlm, "LongRunEmphasis"), 4.0);
    assert_close(value(&glrlm, "RunPercentage"), 0.5);
    assert_close(value(&glrlm, "GrayLevelNonUniformity"), 1.0);

    // GLSZM: the same two zones.
    let glszm = run("glszm", &levels, &s, &[]).unwrap();
    assert_close(value(&glszm, "SmallAreaEmphasis"), 0.25);
    assert_close(value(&glszm, "ZonePercentage"), 0.5);
    assert_close(value(&glszm, "HighGrayLevelZoneEmphasis"), 2.5);

    // GLDM: every voxel has exactly one dependent neighbour: dependence 1, column 2.
    let gldm = run("gldm", &levels, &s, &[]).unwrap();
    assert_close(value(&gldm, "SmallDependenceEmphasis"), 0.25);
    assert_close(value(&gldm, "LargeDependenceEmphasis"), 4.0);
    assert_close(value(&gldm, "DependenceNonUniformity"), 4.0);
    assert_close(value(&gldm, "DependenceVariance"), 0.0);

    // NGTDM: |1 − 1| + |1 − 1.5| for level 1, the same for level 2: s = [0.5, 0.5].
    let ngtdm = run("ngtdm", &levels, &s, &[]).unwrap();
    assert_close(value(&ngtdm, "Coarseness"), 2.0);
    assert_close(value(&ngtdm, "Contrast"), 0.0625);
    assert_close(value(&ngtdm, "Busyness"), 0.5);
    assert_close(value(&ngtdm, "Complexity"), 0.25);
    assert_close(value(&ngtdm, "Strength"), 2.0);
}

#[test]
fn gldm_alpha_and_flat_region_conventions() {
    let levels = line();
    let s = TextureSettings {
        gldm_a: 1.0,
        ..TextureSettings::default()
    };
    // With alpha 1 every neighbour depends: end voxels 1, inner voxels 2.
    let gldm = run("gldm", &levels, &s, &["DependenceNonUniformity"]).unwrap();
    assert_close(value(&gldm, "DependenceNonUniformity"), (4.0 + 4.0) / 4.0);

    let flat = Array3::from_elem((2, 2, 2), 7u32);
    let d = TextureSettings::default();
    let glcm = run(
        "glcm",
        &flat,
        &d,
        &["Correlation", "Imc1", "Imc2", "MCC", "Idmn"],
    )
    .unwrap();
    assert_eq!(
        glcm,
        vec![
            ("Correlation", 1.0),
            ("Imc1", 0.0),
            ("Imc2", 0.0),
            ("MCC", 1.0),
            ("Idmn", 1.0)
        ]
    );
    let ngtdm = run("ngtdm", &flat, &d, &[]).unwrap();
    assert_eq!(value(&ngtdm, "Coarseness"), 1e6);
    assert_eq!(value(&ngtdm, "Contrast"), 0.0);
    assert_eq!(value(&ngtdm, "Strength"), 0.0);
}

#[test]
fn feature_selection_and_order() {
    let levels = line();
    let s = TextureSettings::default();
    let all = run("glcm", &levels, &s, &[]).unwrap();
    assert_eq!(all.len(), 24);
    let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
    assert_eq!(names[0], "Autocorrelation");
    let mcc = names.iter().position(|&n| n == "MCC").unwrap();
    let max_p = names
        .iter()
        .position(|&n| n == "MaximumProbability")
        .unwrap();
    assert!(mcc < max_p, "getMCC sorts before getMaximumProbability");
    assert!(!names.contains(&"SumVariance"));
    for (class, n) in [("glrlm", 16), ("glszm", 16), ("gldm", 14), ("ngtdm", 5)] {
        assert_eq!(run(class, &levels, &s, &[]).unwrap().len(), n, "{class}");
    }
    // Explicit list: its order, repeated names once, deprecated names accepted without value.
    let some = run(
        "glcm",
        &levels,
        &s,
        &["Idmn", "Contrast", "Dissimilarity", "Idmn", "SumVariance"],
    )
    .unwrap();
    let names: Vec<&str> = some.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, vec!["Idmn", "Contrast"]);
    let gldm = run(
        "gldm",
        &levels,
        &s,
        &["DependencePercentage", "GrayLevelNonUniformityNormalized"],
    )
    .unwrap();
    assert!(gldm.is_empty());
    assert!(feature_names("glcm")
        .unwrap()
        .iter()
        .any(|&(n, d)| n == "Homogeneity1" && d));
    assert!(feature_names("shape").is_none());
}

#[test]
fn errors_instead_of_panics() {
    let s = TextureSettings::default();
    let levels = line();
    assert!(matches!(
        run("firstorder", &levels, &s, &[]),
        Err(RadiomicsError::InvalidSetting(_))
    ));
    assert!(matches!(
        run("glcm", &levels, &s, &["NoSuchFeature"]),
        Err(RadiomicsError::InvalidSetting(_))
    ));
    // Empty ROI, empty array.
    let empty = Array3::<u32>::zeros((2, 3, 4));
    let nothing = Array3::<u32>::zeros((0, 3, 4));
    for class in CLASSES {
        assert!(matches!(
            run(class, &empty, &s, &[]),
            Err(RadiomicsError::EmptyRoi(_))
        ));
        assert!(matches!(
            run(class, &nothing, &s, &[]),
            Err(RadiomicsError::EmptyRoi(_))
        ));
    }
    // A single voxel has no neighbour offset at all (PyRadiomics: RuntimeError).
    let single = Array3::from_elem((1, 1, 1), 3u32);
    for class in CLASSES {
        assert!(run(class, &single, &s, &[]).is_err(), "{class}");
    }
    // Distances: checked by the classes that use them only.
    let zero = TextureSettings {
        distances: vec![0],
        ..TextureSettings::default()
    };
    assert!(run("glcm", &levels, &zero, &[]).is_err());
    assert!(run("gldm", &levels, &zero, &[]).is_err());
    assert!(run("ngtdm", &levels, &zero, &[]).is_err());
    assert!(run("glrlm", &levels, &zero, &[]).is_ok());
    assert!(run("glszm", &levels, &zero, &[]).is_ok());
    // gldm_a must be an integer.
    for a in [0.5, f64::NAN, f64::INFINITY] {
        let bad = TextureSettings {
            gldm_a: a,
            ..TextureSettings::default()
        };
        assert!(run("gldm", &levels, &bad, &[]).is_err());
    }
    // force2D across the only long axis leaves no offset.
    let flat2d = TextureSettings {
        force_2d: true,
        force_2d_dimension: 2,
        ..TextureSettings::default()
    };
    assert!(run("glcm", &levels, &flat2d, &[]).is_err());
}

#[test]
fn garbage_levels_do_not_panic() {
    let s = TextureSettings::default();
    // Huge, sparse levels: matrices are sized by the levels present, not the largest one.
    let huge = Array3::from_shape_vec(
        (2, 2, 3),
        vec![
            u32::MAX,
            1,
            0,
            4_000_000_000,
            u32::MAX,
            7,
            1,
            1,
            3_999_999_999,
            0,
            0,
            2,
        ],
    )
    .unwrap();
    for class in CLASSES {
        let values = run(class, &huge, &s, &[]).unwrap();
        assert!(!values.is_empty(), "{class}");
    }
    let weighted = TextureSettings {
        weighting_norm: Some("manhattan".into()),
        gldm_a: 1e12,
        distances: vec![1, 2, 3, 50],
        ..TextureSettings::default()
    };
    for class in CLASSES {
        run(class, &huge, &weighted, &[]).unwrap();
    }
    // Too many distinct levels for a dense GLCM: an error, not an allocation of gigabytes.
    let many = Array3::from_shape_fn((5, 40, 40), |(k, j, i)| (k * 1600 + j * 40 + i) as u32 + 1);
    assert!(run("glcm", &many, &s, &["Contrast"]).is_err());
    assert!(run("ngtdm", &many, &s, &["Coarseness"]).is_ok());
}

#[test]
fn layout_does_not_matter() {
    let s = TextureSettings::default();
    let data: Vec<u32> = (0..60).map(|i| (i * 7 % 5) as u32).collect();
    let c = Array3::from_shape_vec((3, 4, 5), data.clone()).unwrap();
    // The same logical array stored in Fortran order.
    let f = Array3::from_shape_fn((3, 4, 5).f(), |(k, j, i)| c[[k, j, i]]);
    assert!(f.as_slice().is_none());
    for class in CLASSES {
        let a = run(class, &c, &s, &[]).unwrap();
        let b = run(class, &f, &s, &[]).unwrap();
        assert_eq!(a.len(), b.len());
        for ((n, x), (_, y)) in a.iter().zip(&b) {
            assert!(
                (x.is_nan() && y.is_nan()) || x == y,
                "{class} {n}: {x} vs {y}"
            );
        }
    }
}
