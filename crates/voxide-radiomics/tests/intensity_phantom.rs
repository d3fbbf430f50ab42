//! Intensity statistics, intensity histogram and intensity-volume histogram features of the
//! IBSI digital phantom against the IBSI reference values.

mod common;

use voxide_radiomics::features::{histogram, ivh, statistics};

#[test]
fn intensity_families_match_the_ibsi_digital_phantom() {
    let roi = common::digital_phantom();
    let x = roi.intensities();
    assert_eq!(x.len(), 74);
    // The phantom needs no discretisation: its intensities are its grey levels 1..=6.
    let levels: Vec<u32> = x.iter().map(|&v| v as u32).collect();
    let cases = [
        ("intensity_statistics", statistics::features(&x)),
        ("intensity_histogram", histogram::features(&levels, 6)),
        (
            "intensity_volume_histogram",
            ivh::features(&x, ivh::IvhDiscretisation::Discrete { range: None }),
        ),
    ];
    let mut all = Vec::new();
    for (family, computed) in &cases {
        let (matched, failures) = common::compare("dig. phantom", family, computed);
        println!("{family}: {matched} matched, {} failed", failures.len());
        assert!(matched > 0);
        all.extend(failures);
    }
    assert!(all.is_empty(), "{all:#?}");
}
