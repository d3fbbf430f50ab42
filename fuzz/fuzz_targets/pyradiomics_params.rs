//! Parses arbitrary bytes as a PyRadiomics parameter file (YAML, then JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxide_radiomics::pyradiomics::PyRadiomicsParams;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = PyRadiomicsParams::from_yaml(text);
        let _ = PyRadiomicsParams::from_json(text);
    }
});
