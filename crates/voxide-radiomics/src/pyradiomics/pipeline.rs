//! PyRadiomics' image and mask handling before the feature classes (its `imageoperations`):
//! label selection, geometry checks, normalisation, resampling, cropping, re-segmentation and
//! discretisation, with PyRadiomics' (and NumPy's, and SimpleITK's) exact arithmetic.
//!
//! PyRadiomics works on whole images; here the images stay where they are and only the parts
//! the next step needs are read: a [`WorkImage`] is a grid plus a way to read any box of it
//! (from the input, optionally normalised on the fly, or from a small resampled array), and a
//! [`WorkMask`] is a grid plus the ROI (`mask == label`) inside a box that holds all of it.

use std::sync::Arc;

use ndarray::Array3;
use sha1::{Digest, Sha1};
use voxide_core::{with_image, AnyImage, Geometry, Image, Voxel, VoxelType};

use super::itk::{self, Kernel, VoxelSource};
use super::scan::WholeStats;
use super::settings::{ClassSettings, Interpolator, Number, Resolved};
use crate::RadiomicsError;

fn invalid(msg: impl Into<String>) -> RadiomicsError {
    RadiomicsError::InvalidSetting(msg.into())
}

/// `sitk.Normalize` (then outlier clipping and scaling) as a per-voxel function: PyRadiomics
/// normalises the whole image with its mean and sample standard deviation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Normalization {
    mean: f64,
    inv_sigma: f64,
    outliers: Option<f64>,
    scale: f64,
}

impl Normalization {
    /// Statistics of the whole image as ITK's `StatisticsImageFilter` computes them
    /// (compensated sums, variance with `n - 1`).
    pub(crate) fn of(image: &AnyImage, outliers: Option<f64>, scale: f64) -> Normalization {
        let (sum, sum_sq, n) = with_image!(image, img => {
            let mut sum = Kahan::default();
            let mut sq = Kahan::default();
            for v in img.data().iter() {
                let x = v.to_f64();
                sum.add(x);
                sq.add(x * x);
            }
            (sum.value(), sq.value(), img.data().len() as f64)
        });
        let mean = sum / n;
        let variance = (sum_sq - (sum * sum / n)) / (n - 1.0);
        Normalization {
            mean,
            inv_sigma: 1.0 / variance.sqrt(),
            outliers,
            scale,
        }
    }

    #[inline]
    fn apply(&self, x: f64) -> f64 {
        let mut v = (x + (-self.mean)) * self.inv_sigma;
        if let Some(o) = self.outliers {
            if v > o {
                v = o;
            }
            if v < -o {
                v = -o;
            }
        }
        v * self.scale
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Kahan {
    sum: f64,
    c: f64,
}

impl Kahan {
    #[inline]
    fn add(&mut self, x: f64) {
        let y = x - self.c;
        let t = self.sum + y;
        self.c = (t - self.sum) - y;
        self.sum = t;
    }
    fn value(&self) -> f64 {
        self.sum
    }
}

/// PyRadiomics' current image: a grid, the NumPy dtype of its voxels, and where to read them.
#[derive(Debug, Clone)]
pub(crate) struct WorkImage<'a> {
    pub grid: Geometry,
    /// The voxel type PyRadiomics' arrays would have (`F64` after normalisation).
    pub dtype: VoxelType,
    source: Source<'a>,
}

#[derive(Debug, Clone)]
enum Source<'a> {
    /// A box of the input image starting at `offset` (the grid's voxel 0), optionally normalised.
    Input {
        image: &'a AnyImage,
        offset: [usize; 3],
        norm: Option<Normalization>,
    },
    /// Every voxel of the grid.
    Owned(Array3<f64>),
    /// A box of the input image kept by a slab scan: `data` holds the voxels from grid index
    /// `origin` of the input image on; the grid's voxel 0 is the input's voxel `offset`.
    Window {
        data: Arc<Array3<f64>>,
        origin: [usize; 3],
        offset: [usize; 3],
    },
}

fn slice_box<T: Clone>(
    a: &Array3<T>,
    lo: [usize; 3],
    size: [usize; 3],
) -> ndarray::ArrayView3<'_, T> {
    a.slice_each_axis(|ax| {
        let d = 2 - ax.axis.index();
        ndarray::Slice::from(lo[d]..lo[d] + size[d])
    })
}

impl<'a> WorkImage<'a> {
    /// The input image as loaded (optionally normalised).
    pub(crate) fn input(image: &'a AnyImage, norm: Option<Normalization>) -> WorkImage<'a> {
        WorkImage {
            grid: image.geometry().clone(),
            dtype: if norm.is_some() {
                VoxelType::F64
            } else {
                image.voxel_type()
            },
            source: Source::Input {
                image,
                offset: [0; 3],
                norm,
            },
        }
    }

    /// The input image of grid `grid` and voxel type `dtype`, of which only the box starting at
    /// `origin` (`data`) was kept: the extraction must not read outside it.
    pub(crate) fn window(
        grid: Geometry,
        dtype: VoxelType,
        data: Arc<Array3<f64>>,
        origin: [usize; 3],
    ) -> WorkImage<'a> {
        WorkImage {
            grid,
            dtype,
            source: Source::Window {
                data,
                origin,
                offset: [0; 3],
            },
        }
    }

    /// `CropImageFilter`: the box `[lo, lo + size)` as a new image.
    pub(crate) fn crop(&self, lo: [usize; 3], size: [usize; 3]) -> WorkImage<'a> {
        let grid = itk::sub_grid(&self.grid, lo, size);
        let source = match &self.source {
            Source::Input {
                image,
                offset,
                norm,
            } => Source::Input {
                image,
                offset: [offset[0] + lo[0], offset[1] + lo[1], offset[2] + lo[2]],
                norm: *norm,
            },
            Source::Owned(a) => Source::Owned(slice_box(a, lo, size).to_owned()),
            Source::Window {
                data,
                origin,
                offset,
            } => Source::Window {
                data: Arc::clone(data),
                origin: *origin,
                offset: [offset[0] + lo[0], offset[1] + lo[1], offset[2] + lo[2]],
            },
        };
        WorkImage {
            grid,
            dtype: self.dtype,
            source,
        }
    }

    /// Mean, minimum and maximum of every voxel (the `Image-interpolated_*` diagnostics).
    pub(crate) fn stats(&self) -> (f64, f64, f64) {
        let all = self.region([0; 3], self.grid.size());
        let values: Vec<f64> = all.iter().copied().collect();
        let (min, max) = min_max(&values);
        (pairwise_sum(&values) / values.len() as f64, min, max)
    }
}

impl VoxelSource for WorkImage<'_> {
    fn grid(&self) -> &Geometry {
        &self.grid
    }

    fn region(&self, lo: [usize; 3], size: [usize; 3]) -> Array3<f64> {
        match &self.source {
            Source::Input {
                image,
                offset,
                norm,
            } => {
                let at = [offset[0] + lo[0], offset[1] + lo[1], offset[2] + lo[2]];
                with_image!(image, img => {
                    let view = slice_box(img.data(), at, size);
                    match norm {
                        Some(n) => view.mapv(|v| n.apply(v.to_f64())),
                        None => view.mapv(|v| v.to_f64()),
                    }
                })
            }
            Source::Owned(a) => slice_box(a, lo, size).to_owned(),
            Source::Window {
                data,
                origin,
                offset,
            } => {
                // The scan kept the box the pipeline reads (ScannedMask::image_box); a read
                // outside it is a bug in that box, not bad input.
                let at: [usize; 3] = std::array::from_fn(|d| {
                    (offset[d] + lo[d])
                        .checked_sub(origin[d])
                        .unwrap_or_else(|| {
                            unreachable!("read below the scanned image box on axis {d}")
                        })
                });
                slice_box(data, at, size).to_owned()
            }
        }
    }
}

/// Inclusive bounding box of the ROI in grid indices `[i, j, k]`, with the voxel count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BBox {
    pub lo: [usize; 3],
    pub hi: [usize; 3],
    pub count: usize,
}

impl BBox {
    pub(crate) fn size(&self) -> [usize; 3] {
        std::array::from_fn(|d| self.hi[d] - self.lo[d] + 1)
    }
}

/// PyRadiomics' current mask, reduced to the ROI (`mask == label`): a grid and a box of it
/// outside which no voxel belongs to the ROI.
#[derive(Debug, Clone)]
pub(crate) struct WorkMask {
    pub grid: Geometry,
    lo: [usize; 3],
    data: Array3<bool>,
}

impl WorkMask {
    pub(super) fn new(grid: Geometry, lo: [usize; 3], data: Array3<bool>) -> WorkMask {
        WorkMask { grid, lo, data }
    }

    /// Whether grid voxel `[i, j, k]` belongs to the ROI.
    #[inline]
    pub(crate) fn get(&self, i: usize, j: usize, k: usize) -> bool {
        let (nk, nj, ni) = self.data.dim();
        if i < self.lo[0] || j < self.lo[1] || k < self.lo[2] {
            return false;
        }
        let (a, b, c) = (i - self.lo[0], j - self.lo[1], k - self.lo[2]);
        a < ni && b < nj && c < nk && self.data[(c, b, a)]
    }

    /// Bounding box and count of the ROI; `None` when it is empty.
    pub(crate) fn bbox(&self) -> Option<BBox> {
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        let mut count = 0;
        for ((k, j, i), &m) in self.data.indexed_iter() {
            if m {
                count += 1;
                let p = [i + self.lo[0], j + self.lo[1], k + self.lo[2]];
                for d in 0..3 {
                    lo[d] = lo[d].min(p[d]);
                    hi[d] = hi[d].max(p[d]);
                }
            }
        }
        (count > 0).then_some(BBox { lo, hi, count })
    }

    /// The ROI over the box `[lo, lo + size)` of the grid.
    pub(crate) fn window(&self, lo: [usize; 3], size: [usize; 3]) -> Array3<bool> {
        Array3::from_shape_fn((size[2], size[1], size[0]), |(k, j, i)| {
            self.get(lo[0] + i, lo[1] + j, lo[2] + k)
        })
    }

    /// `CropImageFilter`: the box `[lo, lo + size)` as a new mask.
    pub(crate) fn crop(&self, lo: [usize; 3], size: [usize; 3]) -> WorkMask {
        WorkMask::new(
            itk::sub_grid(&self.grid, lo, size),
            [0; 3],
            self.window(lo, size),
        )
    }

    /// Replaces the ROI inside its box (same box).
    fn with_data(&self, data: Array3<bool>) -> WorkMask {
        WorkMask::new(self.grid.clone(), self.lo, data)
    }
}

/// What the streaming pass over the input mask found.
#[derive(Debug, Clone)]
pub(crate) struct LoadedMask {
    pub mask: WorkMask,
    /// SHA1 of the mask as a UInt32 buffer (`sitk.Hash` after PyRadiomics' cast), if asked.
    pub hash: Option<String>,
}

/// A voxel type as PyRadiomics' arrays hold it: its UInt32 cast (SimpleITK's
/// `Cast(mask, sitkUInt32)`: C conversion, integers wrap modulo 2³², floats truncate), its
/// value as a double, and its in-memory bytes (little-endian) for `sitk.Hash`.
pub(super) trait Px: Voxel + bytemuck::Pod {
    fn to_u32(self) -> u32;
    /// The value as an integer (integer types only; floats truncate).
    fn to_i64(self) -> i64;
    /// Sum, minimum and maximum of a chunk of integers (at most 2¹⁶ voxels), computed in the
    /// voxel's own type where that vectorises.
    fn int_stats(chunk: &[Self]) -> (i64, i64, i64) {
        let mut s = 0i64;
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for v in chunk {
            let x = v.to_i64();
            s += x;
            lo = lo.min(x);
            hi = hi.max(x);
        }
        (s, lo, hi)
    }
    /// Whether the 32-bit cast of every voxel is the voxel's own bytes (`i32`).
    const U32_BYTES_ARE_OWN: bool = false;
}

macro_rules! int_px {
    ($t:ty, $own:expr) => {
        impl Px for $t {
            #[inline]
            fn to_u32(self) -> u32 {
                self as i64 as u32
            }
            #[inline]
            fn to_i64(self) -> i64 {
                self as i64
            }
            fn int_stats(chunk: &[Self]) -> (i64, i64, i64) {
                let mut s = 0i64;
                let (mut lo, mut hi) = (<$t>::MAX, <$t>::MIN);
                for c in chunk.chunks(1024) {
                    let mut part = 0i64;
                    for &v in c {
                        part += v as i64;
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                    s += part;
                }
                (s, lo as i64, hi as i64)
            }
            const U32_BYTES_ARE_OWN: bool = $own;
        }
    };
}
int_px!(u8, false);
int_px!(i16, false);
int_px!(u16, false);
int_px!(i32, true);

macro_rules! float_px {
    ($t:ty) => {
        impl Px for $t {
            #[inline]
            fn to_u32(self) -> u32 {
                if self.is_nan() {
                    0
                } else {
                    (self.trunc() as i64) as u32
                }
            }
            #[inline]
            fn to_i64(self) -> i64 {
                self as i64
            }
        }
    };
}
float_px!(f32);
float_px!(f64);

/// Runs `$body` with `$img` bound to the typed image (all voxel types implement [`Px`]).
macro_rules! with_px {
    ($any:expr, $img:ident => $body:expr) => {
        match $any {
            AnyImage::U8($img) => $body,
            AnyImage::I16($img) => $body,
            AnyImage::U16($img) => $body,
            AnyImage::I32($img) => $body,
            AnyImage::F32($img) => $body,
            AnyImage::F64($img) => $body,
        }
    };
}
pub(super) use with_px;

/// Feeds the voxels' little-endian bytes, in memory order, to a SHA1.
pub(super) fn hash_voxels<T: Px>(data: &Array3<T>, hasher: &mut Sha1) {
    match data.as_slice() {
        Some(all) if cfg!(target_endian = "little") => {
            hasher.update(bytemuck::cast_slice::<T, u8>(all));
        }
        _ => {
            let mut buf: Vec<u8> = Vec::new();
            for row in data.rows() {
                buf.clear();
                for v in row.iter() {
                    let b = bytemuck::bytes_of(v);
                    if cfg!(target_endian = "little") {
                        buf.extend_from_slice(b);
                    } else {
                        buf.extend(b.iter().rev());
                    }
                }
                hasher.update(&buf);
            }
        }
    }
}

/// One pass over the mask: whether any voxel is non-zero, the bounding box and count of
/// `label`, and (when `hasher` is given) the SHA1 of the mask cast to UInt32 (`sitk.Hash`
/// after PyRadiomics' cast).
pub(super) fn scan_label<T: Px>(
    data: &Array3<T>,
    label: u32,
    mut hasher: Option<&mut Sha1>,
) -> (bool, [usize; 3], [usize; 3], usize) {
    let (_, nj, ni) = data.dim();
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    let mut count = 0usize;
    let mut any = false;
    let mut pending: Vec<u32> = Vec::with_capacity(1 << 14);
    let flush = |pending: &mut Vec<u32>, hasher: &mut Option<&mut Sha1>| {
        if let Some(h) = hasher.as_deref_mut() {
            if cfg!(target_endian = "little") {
                h.update(bytemuck::cast_slice::<u32, u8>(pending));
            } else {
                for v in pending.iter() {
                    h.update(v.to_le_bytes());
                }
            }
        }
        pending.clear();
    };
    let own_bytes = T::U32_BYTES_ARE_OWN && data.is_standard_layout();
    let mut row_u32: Vec<u32> = Vec::with_capacity(ni);
    for (r, row) in data.rows().into_iter().enumerate() {
        row_u32.clear();
        match row.as_slice() {
            Some(sl) => row_u32.extend(sl.iter().map(|v| v.to_u32())),
            None => row_u32.extend(row.iter().map(|v| v.to_u32())),
        }
        if hasher.is_some() && !own_bytes {
            pending.extend_from_slice(&row_u32);
            if pending.len() >= 1 << 14 {
                flush(&mut pending, &mut hasher);
            }
        }
        if row_u32.iter().fold(0u32, |acc, v| acc | v) == 0 {
            continue;
        }
        any = true;
        let (k, j) = (r / nj.max(1), r % nj.max(1));
        for (i, &u) in row_u32.iter().enumerate() {
            if u == label {
                count += 1;
                let p = [i, j, k];
                for d in 0..3 {
                    lo[d] = lo[d].min(p[d]);
                    hi[d] = hi[d].max(p[d]);
                }
            }
        }
    }
    flush(&mut pending, &mut hasher);
    if own_bytes {
        if let Some(h) = hasher {
            hash_voxels(data, h);
        }
    }
    (any, lo, hi, count)
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sitk.Hash`, mean, minimum and maximum of the input image.
pub(crate) fn image_stats(image: &AnyImage) -> (String, (f64, f64, f64)) {
    fn run<T: Px>(img: &Image<T>) -> (String, (f64, f64, f64)) {
        let mut hasher = Sha1::new();
        hash_voxels(img.data(), &mut hasher);
        let mut stats = WholeStats::default();
        match img.data().as_slice() {
            Some(all) => stats.add(all),
            None => stats.add(&img.data().iter().copied().collect::<Vec<_>>()),
        }
        (hex(&hasher.finalize()), stats.finish())
    }
    with_px!(image, img => run(img))
}

/// `_checkROI`: the ROI's bounding box `(index, size)` in the mask grid, after checking that the
/// box lies inside the image's physical extent.
pub(crate) fn check_roi(
    image: &Geometry,
    mask: &WorkMask,
    label: u32,
) -> Result<BBox, RadiomicsError> {
    let bb = mask
        .bbox()
        .ok_or_else(|| RadiomicsError::EmptyRoi(format!(" (label {label} not present in mask)")))?;
    let size = bb.size();
    let lower = itk::to_physical(&mask.grid, bb.lo.map(|v| v as f64 - 0.5));
    let upper = itk::to_physical(
        &mask.grid,
        std::array::from_fn(|d| (bb.lo[d] + size[d]) as f64 - 0.5),
    );
    let a = itk::to_continuous_index(image, lower);
    let b = itk::to_continuous_index(image, upper);
    let n = image.size();
    let tolerance = 1e-3;
    for d in 0..3 {
        if a[d].min(b[d]) < -0.5 - tolerance || a[d].max(b[d]) > n[d] as f64 - 0.5 + tolerance {
            return Err(RadiomicsError::GeometryMismatch(format!(
                "the bounding box of the ROI is larger than the image space: ROI bounds in image index space {a:?} to {b:?}, image size {n:?}"
            )));
        }
    }
    Ok(bb)
}

/// `ResampleImageFilter(reference = image grid, NearestNeighbor)` of the mask, computed on the
/// part of the image grid the ROI can reach.
fn mask_onto(grid: &Geometry, mask: &WorkMask) -> WorkMask {
    let Some(bb) = mask.bbox() else {
        return WorkMask::new(grid.clone(), [0; 3], Array3::from_elem((0, 0, 0), false));
    };
    let n = grid.size();
    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    for corner in 0..8 {
        let ci: [f64; 3] = std::array::from_fn(|d| {
            if corner & (1 << d) == 0 {
                bb.lo[d] as f64 - 0.5
            } else {
                bb.hi[d] as f64 + 0.5
            }
        });
        let t = itk::to_continuous_index(grid, itk::to_physical(&mask.grid, ci));
        for d in 0..3 {
            lo[d] = lo[d].min(t[d]);
            hi[d] = hi[d].max(t[d]);
        }
    }
    let mut wlo = [0usize; 3];
    let mut wsize = [0usize; 3];
    for d in 0..3 {
        let a = (lo[d].floor() - 1.0).max(0.0);
        let b = (hi[d].ceil() + 1.0).min(n[d] as f64 - 1.0);
        if a.is_nan() || b.is_nan() || a > b {
            return WorkMask::new(grid.clone(), [0; 3], Array3::from_elem((0, 0, 0), false));
        }
        wlo[d] = a as usize;
        wsize[d] = b as usize - wlo[d] + 1;
    }
    let data = itk::resample_mask(&mask.grid, |i, j, k| mask.get(i, j, k), grid, wlo, wsize);
    WorkMask::new(grid.clone(), wlo, data)
}

/// `checkMask`: geometry check (with correction when `correctMask` is on), bounding box,
/// minimum ROI dimensions and size. Returns the bounding box and the corrected mask, if any.
pub(crate) fn check_mask(
    image: &WorkImage,
    mask: &WorkMask,
    s: &Resolved,
) -> Result<(BBox, Option<WorkMask>), RadiomicsError> {
    let tol = s.geometry_tolerance.unwrap_or(1e-6);
    let same_size = image.grid.size() == mask.grid.size();
    let same_space = itk::same_physical_space(&image.grid, &mask.grid, tol, tol);
    let mut corrected = None;
    if !(same_size && same_space) {
        if !s.correct_mask {
            return Err(RadiomicsError::GeometryMismatch(if same_size {
                format!(
                    "image/mask geometry mismatch (image origin {:?} spacing {:?}, mask origin {:?} spacing {:?}); increase geometryTolerance or enable correctMask",
                    image.grid.origin(),
                    image.grid.spacing(),
                    mask.grid.origin(),
                    mask.grid.spacing()
                )
            } else {
                format!(
                    "image/mask size mismatch (image {:?}, mask {:?}); enable correctMask to resample the mask onto the image grid",
                    image.grid.size(),
                    mask.grid.size()
                )
            }));
        }
        check_roi(&image.grid, mask, s.label)?;
        corrected = Some(mask_onto(&image.grid, mask));
    }
    let m = corrected.as_ref().unwrap_or(mask);
    let bb = m.bbox().ok_or_else(|| {
        RadiomicsError::EmptyRoi(format!(": label ({}) not present in mask", s.label))
    })?;
    let ndims = bb.size().iter().filter(|&&n| n > 1).count() as i64;
    if ndims == 0 {
        return Err(RadiomicsError::EmptyRoi(
            ": the mask only contains 1 segmented voxel; cannot extract features for a single voxel".into(),
        ));
    }
    if ndims < s.minimum_roi_dimensions {
        return Err(invalid(format!(
            "mask has too few dimensions (number of dimensions {ndims}, minimum required {})",
            s.minimum_roi_dimensions
        )));
    }
    if let Some(min) = s.minimum_roi_size {
        if bb.count as i64 <= min {
            return Err(invalid(format!(
                "size of the ROI is too small (minimum size: {min}, ROI size: {})",
                bb.count
            )));
        }
    }
    Ok((bb, corrected))
}

/// `cropToTumorMask`: crops image and mask to the bounding box plus `pad` voxels (clipped to
/// the grid).
pub(crate) fn crop_to_tumor<'a>(
    image: &WorkImage<'a>,
    mask: &WorkMask,
    bb: &BBox,
    pad: i64,
) -> (WorkImage<'a>, WorkMask) {
    let size = mask.grid.size();
    let mut lo = [0usize; 3];
    let mut new_size = [0usize; 3];
    for d in 0..3 {
        let lower = (bb.lo[d] as i64 - pad).max(0);
        let upper = (size[d] as i64 - bb.hi[d] as i64 - pad - 1).max(0);
        lo[d] = lower as usize;
        new_size[d] = (size[d] as i64 - lower - upper).max(0) as usize;
    }
    (image.crop(lo, new_size), mask.crop(lo, new_size))
}

/// `resampleImage`: resamples image and mask onto PyRadiomics' corner-aligned grid of spacing
/// `resampledPixelSpacing`, cropped to the ROI plus `padDistance`.
pub(crate) fn resample<'a>(
    image: &WorkImage<'a>,
    mask: &WorkMask,
    spacing: &[f64],
    interpolator: &Interpolator,
    s: &Resolved,
) -> Result<(WorkImage<'a>, WorkMask), RadiomicsError> {
    if spacing.len() != 3 {
        return Err(invalid(format!(
            "wrong dimensionality ({}-D) of resampledPixelSpacing, 3-D required",
            spacing.len()
        )));
    }
    let kernel = match interpolator {
        Interpolator::Nearest => Kernel::Nearest,
        Interpolator::Linear => Kernel::Linear,
        Interpolator::BSpline => Kernel::BSpline,
        Interpolator::Unsupported(name) => {
            return Err(invalid(format!(
                "interpolator {name} is not supported by voxide's PyRadiomics mode; use sitkBSpline, sitkLinear or sitkNearestNeighbor"
            )))
        }
    };
    let mask_sp = mask.grid.spacing();
    let image_sp = image.grid.spacing();
    let mut new_sp: [f64; 3] = std::array::from_fn(|d| {
        if spacing[d] == 0.0 {
            mask_sp[d]
        } else {
            spacing[d]
        }
    });
    let bb = check_roi(&image.grid, mask, s.label)?;
    let bb_size = bb.size();
    for d in 0..3 {
        if bb_size[d] == 1 {
            new_sp[d] = mask_sp[d];
        }
    }
    let pad = s.pad_distance as f64;
    let allclose = (0..3).all(|d| (image_sp[d] - new_sp[d]).abs() <= 1e-8 + 1e-5 * new_sp[d].abs());
    if allclose {
        let onto = mask_onto(&image.grid, mask);
        let bb = onto.bbox().ok_or_else(|| {
            RadiomicsError::EmptyRoi(format!(
                ": label ({}) not present in the mask resampled onto the image grid",
                s.label
            ))
        })?;
        return Ok(crop_to_tumor(image, &onto, &bb, s.pad_distance));
    }
    let mask_size = mask.grid.size();
    let mut lb = [0.0f64; 3];
    let mut size = [0usize; 3];
    for d in 0..3 {
        let ratio = mask_sp[d] / new_sp[d];
        let mut lo = ((bb.lo[d] as f64 - 0.5) * ratio - pad).floor();
        let mut up = (((bb.lo[d] + bb_size[d]) as f64 - 0.5) * ratio + pad).ceil();
        let max_up = (mask_size[d] as f64 * ratio).ceil() - 1.0;
        if lo < 0.0 {
            lo = 0.0;
        }
        if up > max_up {
            up = max_up;
        }
        let n = up - lo + 1.0;
        if n.is_nan() || n < 1.0 || !n.is_finite() || n > 1e5 {
            return Err(invalid(format!(
                "resampling to spacing {new_sp:?} gives an empty or huge grid along axis {d}"
            )));
        }
        lb[d] = lo;
        size[d] = n as usize;
    }
    if size.iter().map(|&n| n as f64).product::<f64>() > 1e9 {
        return Err(invalid(format!(
            "resampling to spacing {new_sp:?} would make a grid of {size:?} voxels"
        )));
    }
    let origin_index: [f64; 3] = std::array::from_fn(|d| {
        let ratio = mask_sp[d] / new_sp[d];
        0.5 * (new_sp[d] - mask_sp[d]) / mask_sp[d] + lb[d] / ratio
    });
    let origin = itk::to_physical(&mask.grid, origin_index);
    let target = Geometry::new(size, new_sp, origin, mask.grid.direction())
        .map_err(|e| invalid(format!("resampling grid: {e}")))?;
    let values = itk::resample_image(image, &target, kernel, image.dtype);
    let roi = itk::resample_mask(
        &mask.grid,
        |i, j, k| mask.get(i, j, k),
        &target,
        [0; 3],
        size,
    );
    Ok((
        WorkImage {
            grid: target.clone(),
            dtype: image.dtype,
            source: Source::Owned(values),
        },
        WorkMask::new(target, [0; 3], roi),
    ))
}

/// NumPy's pairwise summation (`np.sum` / `np.mean` over a contiguous float64 array).
pub(crate) fn pairwise_sum(v: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = v.len();
    if n < 8 {
        let mut s = 0.0;
        for x in v {
            s += x;
        }
        s
    } else if n <= BLOCK {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&v[..8]);
        let mut i = 8;
        while i + 8 <= n {
            for k in 0..8 {
                r[k] += v[i + k];
            }
            i += 8;
        }
        let mut s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            s += v[i];
            i += 1;
        }
        s
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&v[..n2]) + pairwise_sum(&v[n2..])
    }
}

/// NumPy's pairwise summation in float32 arithmetic.
fn pairwise_sum_f32(v: &[f32]) -> f32 {
    const BLOCK: usize = 128;
    let n = v.len();
    if n < 8 {
        let mut s = 0.0f32;
        for x in v {
            s += x;
        }
        s
    } else if n <= BLOCK {
        let mut r = [0.0f32; 8];
        r.copy_from_slice(&v[..8]);
        let mut i = 8;
        while i + 8 <= n {
            for k in 0..8 {
                r[k] += v[i + k];
            }
            i += 8;
        }
        let mut s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            s += v[i];
            i += 1;
        }
        s
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum_f32(&v[..n2]) + pairwise_sum_f32(&v[n2..])
    }
}

/// Minimum and maximum (NaN if any value is NaN, as NumPy).
pub(crate) fn min_max(v: &[f64]) -> (f64, f64) {
    let mut min = f64::INFINITY;
    let mut max = f64::NEG_INFINITY;
    for &x in v {
        if x.is_nan() {
            return (f64::NAN, f64::NAN);
        }
        min = min.min(x);
        max = max.max(x);
    }
    (min, max)
}

/// `numpy.mean` and `numpy.std` (ddof 0) of ROI values in the array's dtype.
fn np_mean_std(values: &[f64], dtype: VoxelType) -> (f64, f64) {
    let n = values.len();
    if dtype == VoxelType::F32 {
        let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
        let mean = pairwise_sum_f32(&v) / n as f32;
        let sq: Vec<f32> = v.iter().map(|&x| (x - mean) * (x - mean)).collect();
        let var = pairwise_sum_f32(&sq) / n as f32;
        (mean as f64, var.sqrt() as f64)
    } else {
        let mean = pairwise_sum(values) / n as f64;
        let sq: Vec<f64> = values.iter().map(|&x| (x - mean) * (x - mean)).collect();
        let var = pairwise_sum(&sq) / n as f64;
        (mean, var.sqrt())
    }
}

fn int_range(dtype: VoxelType) -> Option<(i64, i64)> {
    match dtype {
        VoxelType::U8 => Some((0, 255)),
        VoxelType::I16 => Some((-32768, 32767)),
        VoxelType::U16 => Some((0, 65535)),
        VoxelType::I32 => Some((i32::MIN as i64, i32::MAX as i64)),
        VoxelType::F32 | VoxelType::F64 => None,
    }
}

/// Wraps an integer into the range of an integer dtype (NumPy scalar overflow).
fn wrap(v: i64, (lo, hi): (i64, i64)) -> i64 {
    let span = hi - lo + 1;
    (v - lo).rem_euclid(span) + lo
}

/// `resegmentMask`: keeps the ROI voxels inside the range (absolute, relative to the ROI
/// maximum, or in ROI standard deviations around the ROI mean).
pub(crate) fn resegment(
    image: &WorkImage,
    mask: &WorkMask,
    range: &[Number],
    mode: &str,
    label: u32,
) -> Result<WorkMask, RadiomicsError> {
    if range.is_empty() || range.len() > 2 {
        return Err(invalid(format!(
            "length {} is not allowed for resegmentRange (1 or 2 values)",
            range.len()
        )));
    }
    let (nk, nj, ni) = mask.data.dim();
    let values_box = image.region(mask.lo, [ni, nj, nk]);
    let roi_values: Vec<f64> = values_box
        .iter()
        .zip(mask.data.iter())
        .filter_map(|(&v, &m)| m.then_some(v))
        .collect();
    let mut sorted = range.to_vec();
    sorted.sort_by(|a, b| a.as_f64().total_cmp(&b.as_f64()));
    let f32_type = image.dtype == VoxelType::F32;
    let thresholds: Vec<f64> = match mode {
        "absolute" => sorted
            .iter()
            .map(|t| {
                let x = t.as_f64();
                if f32_type {
                    x as f32 as f64
                } else {
                    x
                }
            })
            .collect(),
        "relative" => {
            if roi_values.is_empty() {
                return Err(RadiomicsError::EmptyRoi(" before re-segmentation".into()));
            }
            let (_, max) = min_max(&roi_values);
            sorted
                .iter()
                .map(|t| match (t, int_range(image.dtype)) {
                    (Number::Int(i), Some(r)) => wrap((max as i64).wrapping_mul(*i), r) as f64,
                    (t, _) if f32_type => (max as f32 * t.as_f64() as f32) as f64,
                    (t, _) => max * t.as_f64(),
                })
                .collect()
        }
        "sigma" => {
            if roi_values.is_empty() {
                return Err(RadiomicsError::EmptyRoi(" before re-segmentation".into()));
            }
            let (mean, sd) = np_mean_std(&roi_values, image.dtype);
            sorted
                .iter()
                .map(|t| {
                    if f32_type {
                        (mean as f32 + sd as f32 * t.as_f64() as f32) as f64
                    } else {
                        mean + sd * t.as_f64()
                    }
                })
                .collect()
        }
        other => {
            return Err(invalid(format!(
                "resegment mode {other} not recognized (absolute, relative or sigma)"
            )))
        }
    };
    let mut data = mask.data.clone();
    let mut kept = 0usize;
    for (m, &v) in data.iter_mut().zip(values_box.iter()) {
        if *m {
            let mut keep = v >= thresholds[0];
            if thresholds.len() == 2 {
                keep = keep && v <= thresholds[1];
            }
            *m = keep;
            kept += keep as usize;
        }
    }
    if kept <= 1 {
        return Err(RadiomicsError::EmptyRoi(format!(
            " after re-segmentation: it excluded too many voxels with label {label} (retained {kept} voxel(s))"
        )));
    }
    Ok(mask.with_data(data))
}

/// NumPy's `%` for floats (`npy_divmod`): the remainder has the sign of the divisor.
fn np_fmod64(a: f64, b: f64) -> f64 {
    let m = a % b;
    if m != 0.0 {
        if (b < 0.0) != (m < 0.0) {
            m + b
        } else {
            m
        }
    } else {
        0.0f64.copysign(b)
    }
}

fn np_fmod32(a: f32, b: f32) -> f32 {
    let m = a % b;
    if m != 0.0 {
        if (b < 0.0) != (m < 0.0) {
            m + b
        } else {
            m
        }
    } else {
        0.0f32.copysign(b)
    }
}

/// More bins than this is refused (NumPy would try to allocate them and fail or crawl).
const MAX_BINS: f64 = 10_000_000.0;

fn too_many_bins(n: f64) -> RadiomicsError {
    invalid(format!(
        "the discretisation would make {n:.3e} bins; use a larger binWidth or a smaller binCount (at most {MAX_BINS:e})"
    ))
}

/// `numpy.arange(low, high, step)` for float64 results.
fn arange_f64(low: f64, high: f64, step: f64) -> Result<Vec<f64>, RadiomicsError> {
    let n = ((high - low) / step).ceil();
    if n.is_nan() || n <= 0.0 || !n.is_finite() {
        return Ok(Vec::new());
    }
    if n > MAX_BINS {
        return Err(too_many_bins(n));
    }
    let n = n as usize;
    let second = low + step;
    let delta = second - low;
    Ok((0..n)
        .map(|i| match i {
            0 => low,
            1 => second,
            _ => low + i as f64 * delta,
        })
        .collect())
}

/// The bin edges of `getBinEdges` for the ROI values, with NumPy's dtype arithmetic.
pub(crate) fn bin_edges(
    values: &[f64],
    dtype: VoxelType,
    cs: &ClassSettings,
) -> Result<Vec<f64>, RadiomicsError> {
    let (min, max) = min_max(values);
    if !min.is_finite() || !max.is_finite() {
        return Err(RadiomicsError::NonFinite(
            values.iter().filter(|v| !v.is_finite()).count(),
        ));
    }
    if let Some(n) = cs.bin_count {
        let n = usize::try_from(n)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| invalid("binCount must be > 0"))?;
        let mut edges = Vec::with_capacity(n + 1);
        if dtype == VoxelType::F32 {
            let (mut first, mut last) = (min as f32, max as f32);
            if first == last {
                first -= 0.5;
                last += 0.5;
            }
            let delta = last - first;
            let step = delta / n as f32;
            for i in 0..=n {
                edges.push(if i == n {
                    last as f64
                } else if step == 0.0 {
                    ((i as f32 / n as f32) * delta + first) as f64
                } else {
                    (i as f32 * step + first) as f64
                });
            }
            edges[n] = (edges[n] as f32 + 1.0) as f64;
        } else {
            let (mut first, mut last) = (min, max);
            if first == last {
                first -= 0.5;
                last += 0.5;
            }
            let delta = last - first;
            let step = delta / n as f64;
            for i in 0..=n {
                edges.push(if i == n {
                    last
                } else if step == 0.0 {
                    (i as f64 / n as f64) * delta + first
                } else {
                    i as f64 * step + first
                });
            }
            edges[n] += 1.0;
        }
        return Ok(edges);
    }
    let mut edges = match (int_range(dtype), cs.bin_width) {
        (Some(range), Number::Int(bw)) => {
            // Integer image, integer bin width: NumPy computes in the image's integer type.
            if bw <= 0 || bw > range.1 || 2 * bw > range.1 {
                return Err(invalid(format!(
                    "binWidth {bw} does not fit the image's voxel type ({dtype}); NumPy would overflow"
                )));
            }
            let (min, max) = (min as i64, max as i64);
            let low = wrap(min - min.rem_euclid(bw), range);
            let high = wrap(max + 2 * bw, range);
            if high <= low {
                return Err(invalid(format!(
                    "the bin edges overflow the image's voxel type ({dtype}) for binWidth {bw} and maximum {max}"
                )));
            }
            let n = (high - low + bw - 1) / bw;
            if n as f64 > MAX_BINS {
                return Err(too_many_bins(n as f64));
            }
            (0..n).map(|i| (low + i * bw) as f64).collect::<Vec<f64>>()
        }
        (_, bw) if dtype == VoxelType::F32 => {
            let bw32 = bw.as_f64() as f32;
            let two_bw = match bw {
                Number::Int(i) => (2 * i) as f32,
                Number::Float(f) => (2.0 * f) as f32,
            };
            let (min32, max32) = (min as f32, max as f32);
            let low = min32 - np_fmod32(min32, bw32);
            let high = max32 + two_bw;
            let n = ((high - low) / bw32).ceil();
            if n as f64 > MAX_BINS {
                return Err(too_many_bins(n as f64));
            }
            if n.is_nan() || n <= 0.0 || !n.is_finite() {
                Vec::new()
            } else {
                let second = (low + bw32) as f64;
                let low = low as f64;
                let delta = second - low;
                (0..n as usize)
                    .map(|i| match i {
                        0 => low,
                        1 => second,
                        _ => low + i as f64 * delta,
                    })
                    .collect()
            }
        }
        (_, bw) => {
            let bw = bw.as_f64();
            let low = min - np_fmod64(min, bw);
            let high = max + 2.0 * bw;
            arange_f64(low, high, bw)?
        }
    };
    if edges.len() == 1 {
        let e = edges[0];
        edges = vec![e - 0.5, e + 0.5];
    }
    if edges.is_empty() {
        return Err(invalid(
            "no bin edges: the ROI's intensity range is not usable",
        ));
    }
    Ok(edges)
}

/// `numpy.digitize(x, edges)` for increasing edges: the number of edges `<= x`.
#[inline]
pub(crate) fn digitize(x: f64, edges: &[f64]) -> u32 {
    edges.partition_point(|&e| e <= x) as u32
}

/// Discretises the ROI of a cropped image: levels as `np.digitize` gives them, 0 outside.
pub(crate) fn discretise(
    values: &Array3<f64>,
    roi: &Array3<bool>,
    dtype: VoxelType,
    cs: &ClassSettings,
) -> Result<Array3<u32>, RadiomicsError> {
    let roi_values: Vec<f64> = values
        .iter()
        .zip(roi.iter())
        .filter_map(|(&v, &m)| m.then_some(v))
        .collect();
    if roi_values.is_empty() {
        return Err(RadiomicsError::EmptyRoi(String::new()));
    }
    let edges = bin_edges(&roi_values, dtype, cs)?;
    let mut levels = Array3::<u32>::zeros(values.dim());
    for ((l, &v), &m) in levels.iter_mut().zip(values.iter()).zip(roi.iter()) {
        if m {
            *l = digitize(v, &edges);
        }
    }
    Ok(levels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs(bin_width: Number, bin_count: Option<i64>) -> ClassSettings {
        ClassSettings {
            bin_width,
            bin_count,
            voxel_array_shift: 0.0,
            distances: vec![1],
            force_2d: false,
            force_2d_dimension: 0,
            symmetrical_glcm: true,
            weighting_norm: None,
            gldm_a: 0.0,
        }
    }

    #[test]
    fn fixed_width_edges_are_multiples_of_the_width() {
        let v = [468.0, 500.0, 1266.0];
        let e = bin_edges(&v, VoxelType::I16, &cs(Number::Int(25), None)).unwrap();
        assert_eq!(e[0], 450.0);
        assert_eq!(*e.last().unwrap(), 1300.0);
        assert_eq!(digitize(468.0, &e), 1);
        assert_eq!(digitize(475.0, &e), 2);
        assert_eq!(digitize(1266.0, &e), 33);
        // Negative minimum: floor-mod.
        let e = bin_edges(&[-7.0, 30.0], VoxelType::I16, &cs(Number::Int(25), None)).unwrap();
        assert_eq!(e[0], -25.0);
        let e = bin_edges(&[-7.0, 30.0], VoxelType::F64, &cs(Number::Float(2.5), None)).unwrap();
        assert_eq!(e[0], -7.5);
    }

    #[test]
    fn fixed_count_edges_follow_numpy_histogram() {
        let e = bin_edges(&[0.0, 10.0], VoxelType::I16, &cs(Number::Int(25), Some(4))).unwrap();
        assert_eq!(e, vec![0.0, 2.5, 5.0, 7.5, 11.0]);
        assert_eq!(digitize(10.0, &e), 4);
        // Flat region: level N/2 + 1.
        let e = bin_edges(&[5.0, 5.0], VoxelType::I16, &cs(Number::Int(25), Some(64))).unwrap();
        assert_eq!(digitize(5.0, &e), 33);
    }

    #[test]
    fn integer_overflow_is_an_error_not_a_panic() {
        let r = bin_edges(&[0.0, 32760.0], VoxelType::I16, &cs(Number::Int(25), None));
        assert!(r.is_err());
        let r = bin_edges(&[0.0, 10.0], VoxelType::U8, &cs(Number::Int(300), None));
        assert!(r.is_err());
    }

    #[test]
    fn pairwise_sum_matches_plain_sum_on_integers() {
        let v: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        assert_eq!(pairwise_sum(&v), 499500.0);
    }
}
