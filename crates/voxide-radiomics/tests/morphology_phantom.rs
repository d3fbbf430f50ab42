//! IBSI morphological features on the digital phantom against the IBSI reference values.
mod common;

use voxide_radiomics::features::morphology;

#[test]
fn morphology_matches_ibsi_digital_phantom() {
    let roi = common::digital_phantom();
    let features = morphology::features(&roi);
    for f in &features {
        println!("{:32} {} {}", f.name, f.ibsi_code, f.value);
    }
    let (matched, failures) = common::compare("dig. phantom", "morphology", &features);
    println!("morphology: {matched} digital-phantom rows matched");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(matched, 25);
}
