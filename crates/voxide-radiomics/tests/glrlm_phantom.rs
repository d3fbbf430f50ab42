//! IBSI digital phantom: every GLRLM reference value of the IBSI 1 table, all six aggregations.

mod common;

use voxide_radiomics::features::glrlm;
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
fn digital_phantom_glrlm() {
    let (levels, n_levels) = common::digital_phantom_levels();
    let features = glrlm::features(&levels, n_levels, &ALL);
    assert_eq!(features.len(), 6 * 16);
    // The table's misfiled GLSZM small zone emphasis rows (code 9SAK) are moved to GLSZM by
    // `common::references`, so every GLRLM row left is a GLRLM value.
    let rows = common::references()
        .into_iter()
        .filter(|r| r.data_set == "dig. phantom" && r.family == "glrlm")
        .count();
    assert_eq!(rows, 96, "16 features × 6 aggregations");
    let (matched, failures) = common::compare("dig. phantom", "glrlm", &features);
    println!("glrlm digital phantom: {matched}/{rows} reference rows matched");
    assert_eq!(matched, 96);
    assert!(failures.is_empty(), "{failures:#?}");
}
