//! Every IBSI reference value of the digital phantom, all families and aggregations, through
//! the same `features_of_roi` entry point that the CLI uses.

mod common;

use voxide_radiomics::{features_of_roi, Settings, TextureDimension};

#[test]
fn every_digital_phantom_reference_row_matches() {
    let roi = common::digital_phantom();
    let mut features = Vec::new();
    for texture in [TextureDimension::Slice, TextureDimension::Volume] {
        let settings = Settings {
            texture,
            ..Settings::ibsi_digital_phantom()
        };
        let computed = features_of_roi(&roi, &settings).unwrap();
        // Families without aggregation come out of both passes; keep them once.
        features.extend(
            computed
                .into_iter()
                .filter(|f| texture == TextureDimension::Volume || f.aggregation.is_some()),
        );
    }
    let families = [
        "morphology",
        "local_intensity",
        "intensity_statistics",
        "intensity_histogram",
        "intensity_volume_histogram",
        "glcm",
        "glrlm",
        "glszm",
        "gldzm",
        "ngtdm",
        "ngldm",
    ];
    let rows = common::references()
        .iter()
        .filter(|r| r.data_set == "dig. phantom")
        .count();
    let mut total = 0;
    let mut failures = Vec::new();
    for family in families {
        let (matched, failed) = common::compare("dig. phantom", family, &features);
        println!(
            "dig. phantom {family}: {matched}/{}",
            matched + failed.len()
        );
        total += matched;
        failures.extend(failed);
    }
    println!("total: {total}/{rows}");
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(total, rows, "every reference row is compared");
}
