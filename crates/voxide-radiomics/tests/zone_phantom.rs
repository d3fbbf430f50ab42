//! GLSZM, GLDZM, NGTDM and NGLDM features of the IBSI digital phantom against the IBSI
//! reference values, at every aggregation (2D, 2.5D, 3D).

mod common;

use voxide_radiomics::features::{gldzm, glszm, ngldm, ngtdm};
use voxide_radiomics::{Aggregation, Feature};

const ALL: [Aggregation; 3] = [
    Aggregation::Slice2D,
    Aggregation::Volume25D,
    Aggregation::Volume3D,
];

fn check(family: &str, features: &[Feature], expected_rows: usize) {
    let (matched, failures) = common::compare("dig. phantom", family, features);
    println!(
        "{family}: {matched}/{} dig. phantom rows matched",
        matched + failures.len()
    );
    for f in &failures {
        println!("  {f}");
    }
    assert!(failures.is_empty(), "{family}: {failures:#?}");
    assert_eq!(matched, expected_rows, "{family}: reference rows");
}

#[test]
fn glszm_digital_phantom() {
    let (levels, n) = common::digital_phantom_levels();
    let f = glszm::features(&levels, n, &ALL);
    // 16 features × 3 aggregations; `common` re-files the table's small zone emphasis rows.
    check("glszm", &f, 48);
    // Small zone emphasis from the manual's table: 0.363 (2D), 0.368 (2.5D), 0.255 (3D).
    for (a, reference) in ALL.into_iter().zip([0.363, 0.368, 0.255]) {
        let v = f
            .iter()
            .find(|f| f.name == "szm_small_zone_emphasis" && f.aggregation == Some(a))
            .unwrap()
            .value;
        println!("glszm: small zone emphasis [{a:?}] {v} (manual {reference})");
        assert!((v - reference).abs() < 5e-4, "{a:?}: {v} vs {reference}");
    }
}

#[test]
fn gldzm_digital_phantom() {
    let roi = common::digital_phantom();
    let (levels, n) = common::digital_phantom_levels();
    let f = gldzm::features(&levels, &roi.morphological_mask, n, &ALL);
    check("gldzm", &f, 48);
}

#[test]
fn ngtdm_digital_phantom() {
    let (levels, n) = common::digital_phantom_levels();
    check("ngtdm", &ngtdm::features(&levels, n, &ALL), 15);
}

#[test]
fn ngldm_digital_phantom() {
    let (levels, n) = common::digital_phantom_levels();
    check("ngldm", &ngldm::features(&levels, n, &ALL), 51);
}

#[test]
fn every_feature_once_per_aggregation() {
    let roi = common::digital_phantom();
    let (levels, n) = common::digital_phantom_levels();
    let counts = [
        (glszm::features(&levels, n, &ALL), 16),
        (
            gldzm::features(&levels, &roi.morphological_mask, n, &ALL),
            16,
        ),
        (ngtdm::features(&levels, n, &ALL), 5),
        (ngldm::features(&levels, n, &ALL), 17),
    ];
    for (features, per_aggregation) in counts {
        assert_eq!(features.len(), 3 * per_aggregation);
        for a in ALL {
            let mut codes: Vec<_> = features
                .iter()
                .filter(|f| f.aggregation == Some(a))
                .map(|f| f.ibsi_code)
                .collect();
            codes.sort_unstable();
            codes.dedup();
            assert_eq!(codes.len(), per_aggregation);
        }
    }
}
