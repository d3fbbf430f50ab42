//! The inputs of an extraction read slab by slab (whole z-slices, in memory order), so that a
//! caller streaming a file never holds the whole volume: the mask is reduced to the ROI's box
//! on the way, and the image to the box the extraction reads, while the whole-volume facts
//! PyRadiomics reports (the SHA1 hashes, the image's mean, minimum and maximum) are computed
//! as the slabs pass. [`super::extract`] runs on whole images through the same code.

use std::collections::BTreeSet;
use std::sync::Arc;

use ndarray::{Array3, ArrayView3, ArrayViewMut3, Slice};
use sha1::{Digest, Sha1};
use voxide_core::{AnyImage, Geometry, Voxel, VoxelType};

use super::itk;
use super::pipeline::{hash_voxels, hex, scan_label, with_px, LoadedMask, Px, WorkMask};
use super::settings::PyRadiomicsParams;
use crate::RadiomicsError;

/// The box `[lo, lo + size)` (`[i, j, k]` order) of `a`.
fn boxed<T>(a: &Array3<T>, lo: [usize; 3], size: [usize; 3]) -> ArrayView3<'_, T> {
    a.slice_each_axis(|ax| {
        let d = 2 - ax.axis.index();
        Slice::from(lo[d]..lo[d] + size[d])
    })
}

fn boxed_mut<T>(a: &mut Array3<T>, lo: [usize; 3], size: [usize; 3]) -> ArrayViewMut3<'_, T> {
    a.slice_each_axis_mut(|ax| {
        let d = 2 - ax.axis.index();
        Slice::from(lo[d]..lo[d] + size[d])
    })
}

/// Checks that `slab` continues a volume of grid `grid` at slice `next_z`.
fn check_slab(grid: &Geometry, slab: &AnyImage, next_z: usize) -> Result<usize, RadiomicsError> {
    let [nx, ny, nz] = grid.size();
    let [sx, sy, sz] = slab.geometry().size();
    if [sx, sy] != [nx, ny] || next_z + sz > nz {
        return Err(RadiomicsError::GeometryMismatch(format!(
            "a slab of {sx}x{sy}x{sz} voxels does not continue a {nx}x{ny}x{nz} volume at slice {next_z}"
        )));
    }
    Ok(sz)
}

/// The mask, scanned slab by slab: `getMask` (the UInt32 cast and its hash, the label check)
/// keeping only the ROI.
#[derive(Debug)]
pub struct MaskScan {
    grid: Geometry,
    label_arg: Option<u32>,
    label: u32,
    hasher: Option<Sha1>,
    any_nonzero: bool,
    /// Labels seen before `label` was found, for the error that lists them when it is absent.
    labels: BTreeSet<u32>,
    lo: [usize; 3],
    hi: [usize; 3],
    count: usize,
    next_z: usize,
    /// `(first slice, mask == label)` of the slabs holding ROI voxels.
    kept: Vec<(usize, Array3<bool>)>,
}

impl MaskScan {
    /// Starts scanning a mask of grid `grid` for `label` (or the `label` setting when `None`).
    pub fn new(
        grid: &Geometry,
        label: Option<u32>,
        params: &PyRadiomicsParams,
    ) -> Result<MaskScan, RadiomicsError> {
        let s = params.resolve(label)?;
        Ok(MaskScan {
            grid: grid.clone(),
            label_arg: label,
            label: s.label,
            hasher: s.additional_info.then(Sha1::new),
            any_nonzero: false,
            labels: BTreeSet::new(),
            lo: [usize::MAX; 3],
            hi: [0; 3],
            count: 0,
            next_z: 0,
            kept: Vec::new(),
        })
    }

    /// Adds the next slab (whole slices following the previous slab).
    pub fn push(&mut self, slab: &AnyImage) -> Result<(), RadiomicsError> {
        let n = check_slab(&self.grid, slab, self.next_z)?;
        let z0 = self.next_z;
        let label = self.label;
        let (any, lo, hi, count) =
            with_px!(slab, img => scan_label(img.data(), label, self.hasher.as_mut()));
        if any {
            self.any_nonzero = true;
            // The labels are listed only by the error for a label the mask lacks, so they are
            // collected only until the label is found.
            if self.count + count == 0 && self.labels.len() < 64 {
                with_px!(slab, img => {
                    for v in img.data().iter() {
                        let u = v.to_u32();
                        if u != 0 && self.labels.len() < 64 {
                            self.labels.insert(u);
                        }
                    }
                });
            }
        }
        if count > 0 {
            for d in 0..3 {
                let off = if d == 2 { z0 } else { 0 };
                self.lo[d] = self.lo[d].min(lo[d] + off);
                self.hi[d] = self.hi[d].max(hi[d] + off);
            }
            self.count += count;
            let roi = with_px!(slab, img => img.data().mapv(|v| v.to_u32() == label));
            self.kept.push((z0, roi));
        }
        self.next_z += n;
        Ok(())
    }

    /// Ends the scan: the ROI, or the error PyRadiomics raises for an empty mask or label.
    pub fn finish(self) -> Result<ScannedMask, RadiomicsError> {
        let nz = self.grid.size()[2];
        if self.next_z != nz {
            return Err(RadiomicsError::GeometryMismatch(format!(
                "the mask ended after {} of its {nz} slices",
                self.next_z
            )));
        }
        if !self.any_nonzero {
            return Err(RadiomicsError::EmptyRoi(
                ": no labels found in this mask (i.e. nothing is segmented)".into(),
            ));
        }
        if self.count == 0 {
            let list: Vec<String> = self.labels.iter().map(|l| l.to_string()).collect();
            return Err(RadiomicsError::EmptyRoi(format!(
                ": label ({}) not present in mask; choose from [{}]",
                self.label,
                list.join(" ")
            )));
        }
        let (lo, hi) = (self.lo, self.hi);
        let size: [usize; 3] = std::array::from_fn(|d| hi[d] - lo[d] + 1);
        let mut data = Array3::from_elem((size[2], size[1], size[0]), false);
        for (z0, roi) in &self.kept {
            let n = roi.dim().0;
            let (a, b) = ((*z0).max(lo[2]), (z0 + n).min(hi[2] + 1));
            if a >= b {
                continue;
            }
            let part = [size[0], size[1], b - a];
            boxed_mut(&mut data, [0, 0, a - lo[2]], part).assign(&boxed(
                roi,
                [lo[0], lo[1], a - z0],
                part,
            ));
        }
        Ok(ScannedMask {
            label_arg: self.label_arg,
            loaded: LoadedMask {
                mask: WorkMask::new(self.grid, lo, data),
                hash: self.hasher.map(|h| hex(&h.finalize())),
            },
            bbox: (lo, hi),
        })
    }
}

/// A mask after [`MaskScan::finish`]: the ROI and the mask's hash.
#[derive(Debug)]
pub struct ScannedMask {
    pub(super) label_arg: Option<u32>,
    pub(super) loaded: LoadedMask,
    bbox: ([usize; 3], [usize; 3]),
}

impl ScannedMask {
    /// The box `(first voxel, size)` of the image grid that an extraction with `params` reads
    /// when the image is on the mask's grid: the ROI's bounding box plus `padDistance`. `None`
    /// when the extraction needs the whole image (normalisation, resampling, an image grid
    /// that differs from the mask's), or the parameters are invalid.
    pub fn image_box(
        &self,
        image_grid: &Geometry,
        params: &PyRadiomicsParams,
    ) -> Option<([usize; 3], [usize; 3])> {
        let s = params.resolve(self.label_arg).ok()?;
        let resampling = s.interpolator.is_some() && s.resampled_pixel_spacing.is_some();
        if s.normalize || resampling {
            return None;
        }
        let tol = s.geometry_tolerance.unwrap_or(1e-6);
        let grid = &self.loaded.mask.grid;
        if image_grid.size() != grid.size() || !itk::same_physical_space(image_grid, grid, tol, tol)
        {
            return None;
        }
        let n = grid.size();
        let pad = if s.pre_crop {
            s.pad_distance.max(0) as usize
        } else {
            0
        };
        let (lo, hi) = self.bbox;
        let lo: [usize; 3] = std::array::from_fn(|d| lo[d].saturating_sub(pad));
        let size = std::array::from_fn(|d| (hi[d] + pad).min(n[d] - 1) + 1 - lo[d]);
        Some((lo, size))
    }
}

/// Mean, minimum and maximum of every voxel, accumulated slab by slab in memory order (so the
/// floating-point sum is the one a single pass makes).
#[derive(Debug, Default)]
pub(super) struct WholeStats {
    int_sum: i64,
    float_sum: f64,
    min: f64,
    max: f64,
    nan: bool,
    count: usize,
    float: bool,
}

impl WholeStats {
    pub(super) fn add<T: Px>(&mut self, all: &[T]) {
        if self.count == 0 {
            self.min = f64::INFINITY;
            self.max = f64::NEG_INFINITY;
        }
        self.count += all.len();
        if T::TYPE.is_float() {
            self.float = true;
            for v in all {
                let x = v.to_f64();
                self.float_sum += x;
                self.nan |= x.is_nan();
                self.min = self.min.min(x);
                self.max = self.max.max(x);
            }
        } else {
            for chunk in all.chunks(1 << 16) {
                let (s, lo, hi) = T::int_stats(chunk);
                self.int_sum += s;
                self.min = self.min.min(lo as f64);
                self.max = self.max.max(hi as f64);
            }
        }
    }

    /// `(mean, minimum, maximum)`; NaN throughout when a voxel is NaN.
    pub(super) fn finish(&self) -> (f64, f64, f64) {
        if self.nan {
            return (f64::NAN, f64::NAN, f64::NAN);
        }
        let sum = if self.float {
            self.float_sum
        } else {
            self.int_sum as f64
        };
        (sum / self.count as f64, self.min, self.max)
    }
}

/// The image, scanned slab by slab: its hash and statistics, and the box the extraction reads.
#[derive(Debug)]
pub struct ImageScan {
    grid: Geometry,
    voxel_type: VoxelType,
    hasher: Sha1,
    stats: WholeStats,
    lo: [usize; 3],
    window: Array3<f64>,
    next_z: usize,
}

impl ImageScan {
    /// Starts scanning an image of grid `grid` and voxel type `voxel_type`, keeping the box
    /// `(first voxel, size)` (from [`ScannedMask::image_box`]).
    pub fn new(
        grid: &Geometry,
        voxel_type: VoxelType,
        window: ([usize; 3], [usize; 3]),
    ) -> Result<ImageScan, RadiomicsError> {
        let (lo, size) = window;
        let n = grid.size();
        if (0..3).any(|d| size[d] == 0 || lo[d] + size[d] > n[d]) {
            return Err(RadiomicsError::GeometryMismatch(format!(
                "the box {lo:?} + {size:?} does not fit in the image of {n:?} voxels"
            )));
        }
        Ok(ImageScan {
            grid: grid.clone(),
            voxel_type,
            hasher: Sha1::new(),
            stats: WholeStats::default(),
            lo,
            window: Array3::zeros((size[2], size[1], size[0])),
            next_z: 0,
        })
    }

    /// Adds the next slab (whole slices following the previous slab).
    pub fn push(&mut self, slab: &AnyImage) -> Result<(), RadiomicsError> {
        if slab.voxel_type() != self.voxel_type {
            return Err(RadiomicsError::GeometryMismatch(format!(
                "a slab of {} voxels in a {} image",
                slab.voxel_type(),
                self.voxel_type
            )));
        }
        let n = check_slab(&self.grid, slab, self.next_z)?;
        let z0 = self.next_z;
        let (lo, (wz, wy, wx)) = (self.lo, self.window.dim());
        with_px!(slab, img => {
            let data = img.data();
            hash_voxels(data, &mut self.hasher);
            match data.as_slice() {
                Some(all) => self.stats.add(all),
                None => self.stats.add(&data.iter().copied().collect::<Vec<_>>()),
            }
            let (a, b) = (z0.max(lo[2]), (z0 + n).min(lo[2] + wz));
            if a < b {
                let part = [wx, wy, b - a];
                let source = boxed(data, [lo[0], lo[1], a - z0], part);
                boxed_mut(&mut self.window, [0, 0, a - lo[2]], part)
                    .zip_mut_with(&source, |w, v| *w = Voxel::to_f64(*v));
            }
        });
        self.next_z += n;
        Ok(())
    }

    /// Ends the scan.
    pub fn finish(self) -> Result<ScannedImage, RadiomicsError> {
        let nz = self.grid.size()[2];
        if self.next_z != nz {
            return Err(RadiomicsError::GeometryMismatch(format!(
                "the image ended after {} of its {nz} slices",
                self.next_z
            )));
        }
        Ok(ScannedImage {
            grid: self.grid,
            voxel_type: self.voxel_type,
            hash: hex(&self.hasher.finalize()),
            stats: self.stats.finish(),
            lo: self.lo,
            window: Arc::new(self.window),
        })
    }
}

/// An image after [`ImageScan::finish`].
#[derive(Debug)]
pub struct ScannedImage {
    pub(super) grid: Geometry,
    pub(super) voxel_type: VoxelType,
    pub(super) hash: String,
    /// Mean, minimum, maximum.
    pub(super) stats: (f64, f64, f64),
    pub(super) lo: [usize; 3],
    pub(super) window: Arc<Array3<f64>>,
}
