//! Parses arbitrary bytes as a DICOM file and decodes its pixel data.
//!
//! `voxide_dicom::decode` contains panics of the dicom-rs codecs (it turns them into a decoding
//! error of the file). libfuzzer-sys installs a panic hook that aborts even on a caught panic, so
//! the default hook is put back: a contained codec panic is then reported as the error it
//! becomes, and any panic that escapes voxide's code still aborts and counts as a crash.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;

static HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        let _ = std::panic::take_hook();
        std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    });
    if let Ok(obj) = voxide_dicom::from_bytes(data, voxide_dicom::ReadDepth::Full) {
        // A small floor keeps each run fast; the size check itself is exercised all the same.
        let path = std::path::Path::new("fuzz-input");
        if let Ok(px) = voxide_dicom::decode_with_limit(&obj, path, 16 << 20) {
            for f in 0..px.frames.min(4) {
                let _ = px.stored_values(f);
            }
        }
    }
});
