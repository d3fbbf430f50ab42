//! Every IBSI reference value of configurations A–E on the lung cancer CT phantom.

mod common;

use voxide_radiomics::{extract, Settings};

#[test]
fn ibsi_configurations_a_to_e_match_the_reference_values() {
    let (image, mask) = common::ct_phantom();
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
    let mut failures = Vec::new();
    let mut report = String::new();
    let mut total_matched = 0;
    for config in ['A', 'B', 'C', 'D', 'E'] {
        let settings = Settings::ibsi_config(config).unwrap();
        let features = extract(&image, &mask, 1, &settings).unwrap();
        let data_set = format!("config. {config}");
        for family in families {
            let (matched, failed) = common::compare(&data_set, family, &features);
            total_matched += matched;
            report.push_str(&format!(
                "{config} {family}: {matched}/{}\n",
                matched + failed.len()
            ));
            failures.extend(failed.into_iter().map(|f| format!("{config} {f}")));
        }
    }
    println!("{report}");
    println!("total: {total_matched} matched, {} failed", failures.len());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
