//! Model packages from untrusted bytes: a `voxide-model.toml` text (first byte even) or a
//! `model.onnx` file (first byte odd) loaded for a 3D patch. Either loads or is a typed error;
//! nothing panics (tract's own panics on malformed graphs are caught and reported).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    if kind % 2 == 0 {
        if let Ok(text) = std::str::from_utf8(bytes) {
            let _ = voxide_infer::manifest::Manifest::parse(text, "fuzz.toml");
        }
        return;
    }
    let dir = std::env::temp_dir().join(format!("voxide-fuzz-onnx-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("model.onnx");
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let hash = hex::encode(Sha256::digest(bytes));
    let _ = voxide_infer::backend::TractBackend::load(&path, &hash, &[1, 1, 4, 4, 4], None);
});
