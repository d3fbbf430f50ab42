//! Images: a voxel array on a [`Geometry`].

use ndarray::Array3;

use crate::{CoreError, Geometry};

/// The voxel types an image may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VoxelType {
    U8,
    I16,
    U16,
    I32,
    F32,
    F64,
}

impl VoxelType {
    /// Bytes per voxel.
    pub fn size(self) -> usize {
        match self {
            VoxelType::U8 => 1,
            VoxelType::I16 | VoxelType::U16 => 2,
            VoxelType::I32 | VoxelType::F32 => 4,
            VoxelType::F64 => 8,
        }
    }

    /// Lower-case name (`u8`, `i16`, ...).
    pub fn name(self) -> &'static str {
        match self {
            VoxelType::U8 => "u8",
            VoxelType::I16 => "i16",
            VoxelType::U16 => "u16",
            VoxelType::I32 => "i32",
            VoxelType::F32 => "f32",
            VoxelType::F64 => "f64",
        }
    }

    /// Whether the type is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, VoxelType::F32 | VoxelType::F64)
    }
}

impl std::fmt::Display for VoxelType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A scalar voxel value.
pub trait Voxel: Copy + Send + Sync + PartialOrd + Default + std::fmt::Debug + 'static {
    /// The runtime tag of this type.
    const TYPE: VoxelType;
    /// Widening conversion to `f64` (exact for every supported type but f64 itself).
    fn to_f64(self) -> f64;
    /// Conversion from `f64`: integers round half away from zero and saturate at the type's
    /// range (NaN becomes 0), as ITK's and SimpleITK's casts do for resampled values.
    fn from_f64(v: f64) -> Self;
}

macro_rules! int_voxel {
    ($t:ty, $tag:ident) => {
        impl Voxel for $t {
            const TYPE: VoxelType = VoxelType::$tag;
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                // `as` saturates and maps NaN to 0.
                v.round() as $t
            }
        }
    };
}
int_voxel!(u8, U8);
int_voxel!(i16, I16);
int_voxel!(u16, U16);
int_voxel!(i32, I32);

impl Voxel for f32 {
    const TYPE: VoxelType = VoxelType::F32;
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Voxel for f64 {
    const TYPE: VoxelType = VoxelType::F64;
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// A scalar 3D image: voxels in an `ndarray` of shape `(nk, nj, ni)` (i fastest in memory,
/// the order of DICOM pixel data, NIfTI and NRRD) on a [`Geometry`].
///
/// Two-dimensional images are volumes of one slice.
#[derive(Debug, Clone, PartialEq)]
pub struct Image<T: Voxel> {
    geometry: Geometry,
    data: Array3<T>,
}

impl<T: Voxel> Image<T> {
    /// Ties `data` to `geometry`; the array shape must be `geometry.shape()`.
    pub fn new(geometry: Geometry, data: Array3<T>) -> Result<Self, CoreError> {
        if data.dim() != geometry.shape() {
            return Err(CoreError::ShapeMismatch {
                expected: geometry.shape(),
                found: data.dim(),
            });
        }
        Ok(Self { geometry, data })
    }

    /// An image from voxels in file order (i fastest, then j, then k).
    pub fn from_vec(geometry: Geometry, voxels: Vec<T>) -> Result<Self, CoreError> {
        let shape = geometry.shape();
        if voxels.len() != geometry.len() {
            return Err(CoreError::ShapeMismatch {
                expected: shape,
                found: (voxels.len(), 1, 1),
            });
        }
        let data = Array3::from_shape_vec(shape, voxels)
            .map_err(|e| CoreError::InvalidGeometry(format!("cannot shape voxel buffer: {e}")))?;
        Ok(Self { geometry, data })
    }

    /// Internal constructor for arrays built from `geometry.shape()`.
    pub(crate) fn from_parts_unchecked(geometry: Geometry, data: Array3<T>) -> Self {
        debug_assert_eq!(data.dim(), geometry.shape());
        Self { geometry, data }
    }

    /// An image filled with `value`.
    pub fn filled(geometry: Geometry, value: T) -> Self {
        let data = Array3::from_elem(geometry.shape(), value);
        Self { geometry, data }
    }

    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }
    pub fn data(&self) -> &Array3<T> {
        &self.data
    }
    pub fn data_mut(&mut self) -> &mut Array3<T> {
        &mut self.data
    }
    pub fn into_parts(self) -> (Geometry, Array3<T>) {
        (self.geometry, self.data)
    }

    /// Voxel at integer index `[i, j, k]`, `None` outside the grid.
    pub fn get(&self, [i, j, k]: [usize; 3]) -> Option<T> {
        self.data.get((k, j, i)).copied()
    }

    /// Voxels in file order (i fastest). Copies only when the array is not in standard layout.
    pub fn to_vec(&self) -> Vec<T> {
        if let Some(s) = self.data.as_slice() {
            s.to_vec()
        } else {
            self.data.iter().copied().collect()
        }
    }

    /// Minimum and maximum voxel value (NaN ignored); `None` for an empty image.
    pub fn min_max(&self) -> Option<(f64, f64)> {
        let mut it = self.data.iter().map(|v| v.to_f64()).filter(|v| !v.is_nan());
        let first = it.next()?;
        Some(it.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
    }

    /// Converts every voxel to another type (rounding and saturating into integer types).
    pub fn cast<U: Voxel>(&self) -> Image<U> {
        Image {
            geometry: self.geometry.clone(),
            data: self.data.mapv(|v| U::from_f64(v.to_f64())),
        }
    }

    /// Replaces the geometry (same size required).
    pub fn with_geometry(self, geometry: Geometry) -> Result<Self, CoreError> {
        Image::new(geometry, self.data)
    }
}

/// An image whose voxel type is known only at run time, as read from a file.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyImage {
    U8(Image<u8>),
    I16(Image<i16>),
    U16(Image<u16>),
    I32(Image<i32>),
    F32(Image<f32>),
    F64(Image<f64>),
}

/// Runs `$body` with `$img` bound to the typed image inside an [`AnyImage`].
#[macro_export]
macro_rules! with_image {
    ($any:expr, $img:ident => $body:expr) => {
        match $any {
            $crate::AnyImage::U8($img) => $body,
            $crate::AnyImage::I16($img) => $body,
            $crate::AnyImage::U16($img) => $body,
            $crate::AnyImage::I32($img) => $body,
            $crate::AnyImage::F32($img) => $body,
            $crate::AnyImage::F64($img) => $body,
        }
    };
}

impl AnyImage {
    pub fn voxel_type(&self) -> VoxelType {
        match self {
            AnyImage::U8(_) => VoxelType::U8,
            AnyImage::I16(_) => VoxelType::I16,
            AnyImage::U16(_) => VoxelType::U16,
            AnyImage::I32(_) => VoxelType::I32,
            AnyImage::F32(_) => VoxelType::F32,
            AnyImage::F64(_) => VoxelType::F64,
        }
    }

    pub fn geometry(&self) -> &Geometry {
        with_image!(self, i => i.geometry())
    }

    pub fn min_max(&self) -> Option<(f64, f64)> {
        with_image!(self, i => i.min_max())
    }

    /// Converts to a typed image.
    pub fn cast<U: Voxel>(&self) -> Image<U> {
        with_image!(self, i => i.cast::<U>())
    }

    /// Voxels as `f64` in file order.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        with_image!(self, i => i.data().iter().map(|v| v.to_f64()).collect())
    }

    /// Replaces the geometry (same size required).
    pub fn with_geometry(self, geometry: Geometry) -> Result<Self, CoreError> {
        Ok(match self {
            AnyImage::U8(i) => AnyImage::U8(i.with_geometry(geometry)?),
            AnyImage::I16(i) => AnyImage::I16(i.with_geometry(geometry)?),
            AnyImage::U16(i) => AnyImage::U16(i.with_geometry(geometry)?),
            AnyImage::I32(i) => AnyImage::I32(i.with_geometry(geometry)?),
            AnyImage::F32(i) => AnyImage::F32(i.with_geometry(geometry)?),
            AnyImage::F64(i) => AnyImage::F64(i.with_geometry(geometry)?),
        })
    }
}

macro_rules! any_from {
    ($t:ty, $tag:ident) => {
        impl From<Image<$t>> for AnyImage {
            fn from(i: Image<$t>) -> Self {
                AnyImage::$tag(i)
            }
        }
    };
}
any_from!(u8, U8);
any_from!(i16, I16);
any_from!(u16, U16);
any_from!(i32, I32);
any_from!(f32, F32);
any_from!(f64, F64);

/// A label map (0 = background) tied to the geometry of the image it segments.
///
/// A binary mask is a label map with the single label 1.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMap {
    labels: Image<u8>,
}

/// Tolerance (mm, and unitless for direction cosines) under which two grids count as the same
/// when a mask is tied to an image. DICOM stores positions as decimal strings of ≤16 characters,
/// so grids derived independently differ in the 4th–6th decimal.
pub const GRID_TOLERANCE: f64 = 1e-3;

impl LabelMap {
    /// Wraps labels that already carry a geometry.
    pub fn new(labels: Image<u8>) -> Self {
        Self { labels }
    }

    /// Ties labels to `image`'s grid; fails when the geometries differ.
    pub fn for_image<T: Voxel>(image: &Image<T>, labels: Image<u8>) -> Result<Self, CoreError> {
        let map = Self { labels };
        map.check_matches(image.geometry())?;
        Ok(map)
    }

    /// An empty (all background) label map on `geometry`.
    pub fn empty(geometry: Geometry) -> Self {
        Self {
            labels: Image::filled(geometry, 0),
        }
    }

    /// Fails with [`CoreError::GeometryMismatch`] unless this map lies on `geometry`.
    pub fn check_matches(&self, geometry: &Geometry) -> Result<(), CoreError> {
        if self.labels.geometry().matches(geometry, GRID_TOLERANCE) {
            Ok(())
        } else {
            Err(CoreError::GeometryMismatch {
                mask: describe(self.labels.geometry()),
                image: describe(geometry),
            })
        }
    }

    pub fn geometry(&self) -> &Geometry {
        self.labels.geometry()
    }
    pub fn labels(&self) -> &Image<u8> {
        &self.labels
    }
    pub fn labels_mut(&mut self) -> &mut Array3<u8> {
        self.labels.data_mut()
    }
    pub fn into_image(self) -> Image<u8> {
        self.labels
    }

    /// Number of voxels carrying `label`.
    pub fn count(&self, label: u8) -> usize {
        self.labels.data().iter().filter(|&&v| v == label).count()
    }

    /// Number of non-background voxels.
    pub fn foreground(&self) -> usize {
        self.labels.data().iter().filter(|&&v| v != 0).count()
    }

    /// Binary mask (0/1) of one label.
    pub fn select(&self, label: u8) -> LabelMap {
        LabelMap {
            labels: Image {
                geometry: self.labels.geometry().clone(),
                data: self.labels.data().mapv(|v| u8::from(v == label)),
            },
        }
    }
}

fn describe(g: &Geometry) -> String {
    format!(
        "size {:?}, spacing {:?}, origin {:?}, direction {:?}",
        g.size(),
        g.spacing(),
        g.origin(),
        g.direction()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_casts_round_and_saturate() {
        assert_eq!(u8::from_f64(-3.0), 0);
        assert_eq!(u8::from_f64(300.0), 255);
        assert_eq!(i16::from_f64(2.5), 3);
        assert_eq!(i16::from_f64(-2.5), -3);
        assert_eq!(i32::from_f64(f64::NAN), 0);
    }

    #[test]
    fn shape_must_match_geometry() {
        let g = Geometry::with_size([4, 3, 2]);
        assert!(Image::<i16>::from_vec(g.clone(), vec![0; 24]).is_ok());
        assert!(Image::<i16>::from_vec(g.clone(), vec![0; 23]).is_err());
        let img = Image::<i16>::from_vec(g, (0..24).collect()).unwrap();
        // i fastest: voxel (1, 2, 1) is at 1 + 2*4 + 1*12.
        assert_eq!(img.get([1, 2, 1]), Some(21));
        assert_eq!(img.min_max(), Some((0.0, 23.0)));
    }

    #[test]
    fn label_map_requires_same_grid() {
        let g = Geometry::with_size([4, 3, 2]);
        let img = Image::<f32>::filled(g.clone(), 1.0);
        assert!(LabelMap::for_image(&img, Image::filled(g, 1u8)).is_ok());
        let shifted = Geometry::new(
            [4, 3, 2],
            [1.0; 3],
            [0.5, 0.0, 0.0],
            crate::geometry::IDENTITY,
        )
        .unwrap();
        let err = LabelMap::for_image(&img, Image::filled(shifted, 1u8)).unwrap_err();
        assert!(matches!(err, CoreError::GeometryMismatch { .. }));
    }
}
