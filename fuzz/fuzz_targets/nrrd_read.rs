//! Parses arbitrary bytes as an NRRD file with attached data.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = voxide_io::nrrd::read_bytes(data, None);
});
