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
    let rows: Vec<_> = common::references()
        .into_iter()
        .filter(|r| r.data_set == "dig. phantom" && r.family == "glrlm")
        .collect();
    // The csv was parsed from the manual, where GLSZM's first feature (small zone emphasis,
    // aggregations 2D / 2.5D / 3D) has no label of its own: its rows were filed under the last
    // GLRLM label with the GLSZM section code 9SAK. They are not GLRLM values.
    let misfiled = |code: &str, aggregation: &str| {
        code == "9SAK" && matches!(aggregation, "2D" | "2.5D" | "3D")
    };
    let n_misfiled = rows
        .iter()
        .filter(|r| misfiled(&r.code, &r.aggregation))
        .count();
    assert_eq!(n_misfiled, 3);
    assert_eq!(rows.len() - n_misfiled, 96, "16 features × 6 aggregations");
    let (matched, failures) = common::compare("dig. phantom", "glrlm", &features);
    let failures: Vec<String> = failures
        .into_iter()
        .filter(|f| !(f.starts_with("9SAK ") && f.ends_with("not computed")))
        .collect();
    println!(
        "glrlm digital phantom: {matched}/{} reference rows matched ({n_misfiled} GLSZM rows misfiled as GLRLM skipped)",
        rows.len() - n_misfiled
    );
    for f in &failures {
        println!("  {f}");
    }
    assert_eq!(matched, 96);
    assert!(failures.is_empty(), "{failures:#?}");
}
