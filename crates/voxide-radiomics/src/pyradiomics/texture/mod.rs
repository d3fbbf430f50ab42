//! PyRadiomics texture classes (GLCM, GLDM, GLRLM, GLSZM, NGTDM).
//!
//! Placeholder until the texture implementation is merged: it defines the interface the
//! pipeline calls and reports that the classes are not available yet.

use ndarray::Array3;

use crate::RadiomicsError;

/// Settings of the texture classes, as PyRadiomics reads them from its settings dict.
#[derive(Debug, Clone, PartialEq)]
pub struct TextureSettings {
    /// `distances` (GLCM, GLDM, NGTDM neighbourhoods); default `[1]`.
    pub distances: Vec<usize>,
    /// `force2D`; default false.
    pub force_2d: bool,
    /// `force2Ddimension` (array axis, 0 = k); default 0.
    pub force_2d_dimension: usize,
    /// `weightingNorm` (`infinity`, `euclidean`, `manhattan`, `no_weighting`); default none.
    pub weighting_norm: Option<String>,
    /// `symmetricalGLCM`; default true.
    pub symmetrical_glcm: bool,
    /// `gldm_a`; default 0.
    pub gldm_a: f64,
}

impl Default for TextureSettings {
    fn default() -> Self {
        TextureSettings {
            distances: vec![1],
            force_2d: false,
            force_2d_dimension: 0,
            weighting_norm: None,
            symmetrical_glcm: true,
            gldm_a: 0.0,
        }
    }
}

/// What a texture class gets.
#[derive(Debug, Clone, Copy)]
pub struct TextureInput<'a> {
    /// Discretised bin indices as PyRadiomics' `np.digitize` gives them (1-based), 0 outside
    /// the (re-segmented) mask, cropped to the ROI bounding box; shape `(nk, nj, ni)`.
    pub levels: &'a Array3<u32>,
    /// Spacing `[si, sj, sk]` in mm.
    pub spacing: [f64; 3],
    /// Class settings.
    pub settings: &'a TextureSettings,
}

/// Computes the `enabled` features of texture class `class`.
pub fn compute(
    _class: &str,
    _input: &TextureInput,
    _enabled: &[&str],
) -> Result<Vec<(&'static str, f64)>, RadiomicsError> {
    Err(RadiomicsError::InvalidSetting(
        "texture classes not merged yet".into(),
    ))
}
