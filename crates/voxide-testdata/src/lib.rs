//! # voxide-testdata
//!
//! The one place that knows where the shared test data lives: `../shared/data` beside the
//! repository root (see its `MANIFEST.tsv` for the origin and licence of every file). Tests ask
//! for it through [`data_dir`], which panics with a clear message when the folder is missing:
//! a test without its data fails, it never skips.

use std::path::PathBuf;

/// The workspace root (the repository).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared test data folder; panics when it is missing.
pub fn data_dir() -> PathBuf {
    let dir = workspace_root().join("../shared/data");
    assert!(
        dir.join("MANIFEST.tsv").is_file(),
        "test data missing: expected the shared data folder at {} (../shared/data beside the repository root); it is required, tests never skip without it",
        dir.display()
    );
    dir
}

/// A path inside the shared test data folder.
pub fn data(relative: &str) -> PathBuf {
    data_dir().join(relative)
}
