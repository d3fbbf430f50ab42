//! The crate's one error type.

use std::path::{Path, PathBuf};

use voxide_core::CoreError;

/// Name used in messages for data that did not come from a named file (`read_bytes`).
pub(crate) const IN_MEMORY: &str = "<in-memory data>";

/// Why an image could not be read or written.
///
/// Every message names the file (or `<in-memory data>` for the `read_bytes` functions) and says
/// what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// The operating system refused to open, read, write or rename a file.
    #[error("{}: {source} (check that the path and its folder exist and are accessible)", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file holds less data than its header declares.
    #[error(
        "{file}: truncated: {what} needs {expected} {unit} but the file holds {found}; the file is incomplete, copy or export it again"
    )]
    Truncated {
        file: String,
        /// What the header declares, e.g. `header says 256x256x25 int16 voxels from byte 352`.
        what: String,
        expected: u64,
        found: u64,
        /// `bytes`, or `values` for NRRD ASCII data.
        unit: &'static str,
    },

    /// The header or the data is invalid (wrong magic, impossible sizes, corrupt compression, ...).
    #[error("{file}: malformed: {reason}")]
    Malformed { file: String, reason: String },

    /// A valid file using a feature this crate does not read or write.
    #[error("{file}: unsupported: {what}")]
    Unsupported { file: String, what: String },

    /// The header describes a geometry that cannot be a voxel grid (zero spacing, parallel axes).
    #[error(
        "{file}: the header describes an invalid geometry: {source}; fix the orientation fields of the file"
    )]
    Geometry {
        file: String,
        #[source]
        source: CoreError,
    },
}

impl IoError {
    /// Replaces the placeholder file name of in-memory parsing with `path`.
    pub(crate) fn in_file(mut self, path: &Path) -> Self {
        let name = path.display().to_string();
        match &mut self {
            IoError::Truncated { file, .. }
            | IoError::Malformed { file, .. }
            | IoError::Unsupported { file, .. }
            | IoError::Geometry { file, .. } => {
                if file == IN_MEMORY {
                    *file = name;
                }
            }
            IoError::Io { .. } => {}
        }
        self
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        IoError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        IoError::Malformed {
            file: IN_MEMORY.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn unsupported(what: impl Into<String>) -> Self {
        IoError::Unsupported {
            file: IN_MEMORY.into(),
            what: what.into(),
        }
    }

    pub(crate) fn truncated(what: impl Into<String>, expected: u64, found: u64) -> Self {
        IoError::Truncated {
            file: IN_MEMORY.into(),
            what: what.into(),
            expected,
            found,
            unit: "bytes",
        }
    }

    pub(crate) fn geometry(source: CoreError) -> Self {
        IoError::Geometry {
            file: IN_MEMORY.into(),
            source,
        }
    }
}

impl From<CoreError> for IoError {
    /// A geometry error of in-memory parsing (the file name is filled in by the path readers).
    fn from(e: CoreError) -> Self {
        IoError::geometry(e)
    }
}
