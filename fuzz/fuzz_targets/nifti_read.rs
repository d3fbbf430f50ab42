//! Parses arbitrary bytes as a NIfTI-1/2 file (gzipped or not).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = voxide_io::nifti::read_bytes(data);
});
