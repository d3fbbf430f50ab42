//! A region of interest prepared for feature computation.

use ndarray::Array3;

/// Intensities and the two IBSI ROI masks on one grid, cropped to the ROI's bounding box plus
/// a margin that stays inside the image (the local intensity features look at image voxels
/// around the ROI). All arrays have the same shape `(nk, nj, ni)`.
#[derive(Debug, Clone)]
pub struct Roi {
    /// Intensities of every voxel of the crop (inside and outside the masks).
    pub intensity: Array3<f64>,
    /// The ROI intensity mask: the morphological mask after re-segmentation.
    pub intensity_mask: Array3<bool>,
    /// The ROI morphological mask: the segmentation as drawn (after interpolation).
    pub morphological_mask: Array3<bool>,
    /// Voxel spacing `[si, sj, sk]` in mm.
    pub spacing: [f64; 3],
}

impl Roi {
    /// Intensities of the voxels in the intensity mask, in memory order.
    pub fn intensities(&self) -> Vec<f64> {
        self.intensity
            .iter()
            .zip(self.intensity_mask.iter())
            .filter_map(|(&v, &m)| m.then_some(v))
            .collect()
    }
}
