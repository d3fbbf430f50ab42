//! IBSI digital phantom: every GLCM reference value of the IBSI 1 table, all six aggregations.

mod common;

use voxide_radiomics::features::glcm;
use voxide_radiomics::Aggregation;

const ALL: [Aggregation; 6] = [
    Aggregation::Slice2DAveraged,
    Aggregation::Slice2DMerged,
    Aggregation::Volume25DDirectionMerged,
    Aggregation::Volume25DMerged,
    Aggregation::Volume3DAveraged,
    Aggregation::Volume3DMerged,
];

#[test]
fn digital_phantom_glcm() {
    let (levels, n_levels) = common::digital_phantom_levels();
    let features = glcm::features(&levels, n_levels, &ALL);
    assert_eq!(features.len(), 6 * 25);
    let total = common::references()
        .iter()
        .filter(|r| r.data_set == "dig. phantom" && r.family == "glcm")
        .count();
    let (matched, failures) = common::compare("dig. phantom", "glcm", &features);
    println!("glcm digital phantom: {matched}/{total} reference rows matched");
    for f in &failures {
        println!("  {f}");
    }
    assert_eq!(total, 150, "the table has 25 features × 6 aggregations");
    assert!(failures.is_empty(), "{failures:#?}");
}
