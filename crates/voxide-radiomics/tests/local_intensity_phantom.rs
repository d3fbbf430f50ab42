//! IBSI local intensity features on the digital phantom against the IBSI reference values.
mod common;

use voxide_radiomics::features::local_intensity;

#[test]
fn local_intensity_matches_ibsi_digital_phantom() {
    let roi = common::digital_phantom();
    let features = local_intensity::features(&roi);
    for f in &features {
        println!("{:32} {} {}", f.name, f.ibsi_code, f.value);
    }
    let (matched, failures) = common::compare("dig. phantom", "local_intensity", &features);
    println!("local intensity: {matched} digital-phantom rows matched");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(matched, 2);
}
