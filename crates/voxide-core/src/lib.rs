//! # voxide-core
//!
//! The imaging core of voxide: a 3D scalar [`Image`] with physical [`Geometry`] in DICOM
//! patient coordinates (LPS, millimetres), the voxel types medical images use ([`Voxel`]:
//! `u8`, `i16`, `u16`, `i32`, `f32`, `f64`, and [`AnyImage`] when the type is known only at run
//! time), [`LabelMap`]s tied to the grid of the image they segment, and [`resample`] onto
//! another grid (nearest, linear, cubic B-spline).
//!
//! This crate is pure: no file, network or database access. Readers and writers live in
//! `voxide-dicom` and `voxide-io`.
//!
//! ```
//! use voxide_core::{Geometry, Image, Interpolation, resample};
//! let g = Geometry::new([4, 4, 2], [0.5, 0.5, 2.0], [0.0; 3], voxide_core::geometry::IDENTITY)?;
//! let img = Image::<i16>::from_vec(g.clone(), (0..32).collect())?;
//! let p = img.geometry().index_to_physical([1.0, 2.0, 1.0]);
//! assert_eq!(p, [0.5, 1.0, 2.0]);
//! let same = resample(&img, &g, Interpolation::Linear, 0.0);
//! assert_eq!(same, img);
//! # Ok::<(), voxide_core::CoreError>(())
//! ```

pub mod geometry;
mod image;
mod resample;

pub use geometry::Geometry;
pub use image::{AnyImage, Image, LabelMap, Voxel, VoxelType, GRID_TOLERANCE};
pub use resample::{bspline_coefficients, resample, Interpolation};

/// Errors of the imaging core.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Spacing, origin or direction cannot describe a voxel grid.
    #[error("invalid geometry: {0}")]
    InvalidGeometry(String),
    /// A voxel array does not have the shape its geometry requires.
    #[error("voxel array has shape {found:?} but the geometry needs (nk, nj, ni) = {expected:?}")]
    ShapeMismatch {
        expected: (usize, usize, usize),
        found: (usize, usize, usize),
    },
    /// A mask or label map does not lie on the grid of its image.
    #[error(
        "mask geometry does not match the image: mask has {mask}, image has {image}; resample the mask onto the image grid first"
    )]
    GeometryMismatch { mask: String, image: String },
}
