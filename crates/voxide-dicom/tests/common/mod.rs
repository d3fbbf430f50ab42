//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared test data folder (`../shared/data` from the repository root). Its absence is a
/// test failure, never a skip.
pub fn data_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "test data missing: expected the shared data folder at {} (../shared/data from the repository root)",
        dir.display()
    );
    dir
}
