//! # voxide-io
//!
//! Reads and writes voxide [`AnyImage`]s in the research file formats of medical imaging:
//!
//! - **NIfTI-1 and NIfTI-2** single files ([`nifti`]): `.nii` and `.nii.gz` (gzip detected by
//!   content), either byte order; written as NIfTI-1 (NIfTI-2 on request or when a size exceeds
//!   32767), little endian, with both sform and qform set (`code = 1`, scanner).
//! - **NRRD** ([`nrrd`]): `.nrrd` with attached data and `.nhdr` detached headers; raw, gzip,
//!   ASCII and hex encodings; written as `.nrrd` with gzip-compressed data.
//!
//! 4D images (time series, vector or RGB data), complex and RGB voxel types, NIfTI `.hdr`/`.img`
//! pairs and bzip2-compressed NRRD are refused with [`IoError::Unsupported`].
//!
//! ## Coordinates
//!
//! voxide geometry is in DICOM/ITK patient coordinates: **LPS** (x to the patient's Left, y to
//! Posterior, z to Superior), millimetres, origin at the centre of voxel `(0, 0, 0)`. NIfTI
//! affines map to **RAS** (x Right, y Anterior), so reading negates the x and y rows of the
//! NIfTI affine and writing negates them back. NRRD files declare their `space`; `RAS` and `LAS`
//! are converted, `LPS` is taken as is.
//!
//! ## NIfTI geometry precedence
//!
//! As nibabel: the **sform** when `sform_code > 0`, else the **qform** (quaternion, with
//! `qfac = pixdim[0]`, 0 read as 1) when `qform_code > 0`, else `pixdim` alone (diagonal
//! spacing, origin 0). Units in metres or microns (`xyzt_units`) are scaled to mm. A degenerate
//! sform (e.g. all zeros despite a non-zero code) falls back to the qform.
//!
//! ## Exactness
//!
//! Voxel values round-trip exactly. NRRD and NIfTI-2 store the geometry as f64 (NRRD as the
//! shortest decimal that reads back to the same f64), NIfTI-1 as f32, so NIfTI-1 geometry
//! round-trips only to f32 precision. Both formats store each axis as one vector (direction ×
//! spacing); reading splits it back by its length, which is bit-exact for axis-aligned
//! geometries and exact to within an ulp or two for oblique ones.
//!
//! ## Safety on untrusted input
//!
//! The `read_bytes` functions never panic and never allocate more than the data actually
//! present (or decompressed) supports: declared sizes are checked for overflow and against the
//! available bytes, and decompression stops one byte past the declared size.
//!
//! The parsers are hand-written: the `nifti` crate cannot write NIfTI-2 and does not convert
//! between RAS and LPS, both of which voxide needs.
//!
//! ```no_run
//! use std::path::Path;
//! let img = voxide_io::read_image(Path::new("brain.nii.gz"))?;
//! println!("{:?} {}", img.geometry().size(), img.voxel_type());
//! voxide_io::write_image(Path::new("brain.nrrd"), &img)?;
//! # Ok::<(), voxide_io::IoError>(())
//! ```

mod error;
pub mod nifti;
pub mod nrrd;
mod raw;
mod slabs;

use std::path::Path;

pub use error::IoError;
pub use nifti::NiftiVersion;
pub use slabs::SlabReader;
use voxide_core::AnyImage;

/// The file formats this crate reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// NIfTI-1/2: `.nii`, `.nii.gz`.
    Nifti,
    /// NRRD: `.nrrd`, `.nhdr`.
    Nrrd,
}

/// The format a file name's extension names (`.nii`, `.nii.gz`, `.nrrd`, `.nhdr`, any case).
pub fn format_of(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        Some(Format::Nifti)
    } else if name.ends_with(".nrrd") || name.ends_with(".nhdr") {
        Some(Format::Nrrd)
    } else {
        None
    }
}

fn unknown_extension(path: &Path) -> IoError {
    IoError::Unsupported {
        file: path.display().to_string(),
        what: "unknown file extension; voxide-io handles .nii, .nii.gz, .nrrd and .nhdr".into(),
    }
}

/// Reads an image, choosing the format by the file extension (see [`format_of`]).
pub fn read_image(path: &Path) -> Result<AnyImage, IoError> {
    match format_of(path) {
        Some(Format::Nifti) => nifti::read(path),
        Some(Format::Nrrd) => nrrd::read(path),
        None => Err(unknown_extension(path)),
    }
}

/// Writes an image, choosing the format by the file extension: `.nii` (NIfTI-1, raw),
/// `.nii.gz` (NIfTI-1, gzip), `.nrrd` (gzip). `.nhdr` is not supported for writing.
///
/// The file is written atomically: to a temporary file in the same folder, then renamed, so a
/// failed write never leaves a partial file under `path`.
pub fn write_image(path: &Path, image: &AnyImage) -> Result<(), IoError> {
    match format_of(path) {
        Some(Format::Nifti) => nifti::write(path, image, NiftiVersion::V1),
        Some(Format::Nrrd) => nrrd::write(path, image),
        None => Err(unknown_extension(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension() {
        let f = |s: &str| format_of(Path::new(s));
        assert_eq!(f("a/b.nii"), Some(Format::Nifti));
        assert_eq!(f("B.NII.GZ"), Some(Format::Nifti));
        assert_eq!(f("x.nrrd"), Some(Format::Nrrd));
        assert_eq!(f("x.NHDR"), Some(Format::Nrrd));
        assert_eq!(f("x.nii.bz2"), None);
        assert_eq!(f("x.gz"), None);
        assert_eq!(f("nii"), None);
    }
}
