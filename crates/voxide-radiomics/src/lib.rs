//! # voxide-radiomics
//!
//! Quantitative image features (radiomics) as defined by the Image Biomarker Standardisation
//! Initiative (IBSI, chapter 1): the image processing pipeline (interpolation, re-segmentation,
//! discretisation) and every feature family, each feature tagged with its IBSI code.
//!
//! This crate is pure: it takes images and masks in memory (`voxide-core`) and returns
//! numbers. Reading files, batch orchestration and reports live in the `voxide` CLI.
//!
//! [`pyradiomics`] is a second, separate mode: PyRadiomics 3.1.4's features, names, settings
//! and pre-processing reproduced to its numbers (`original_firstorder_Mean`, `diagnostics_*`).
//!
//! ## Array conventions
//! Every 3D array here has shape `(nk, nj, ni)` like [`voxide_core::Image`]: axis 0 is the
//! slice axis (k, "z" in IBSI), axis 1 the row axis (j, "y"), axis 2 the column axis (i, "x").
//! Spacings are given as `[si, sj, sk]` in mm, the order of [`voxide_core::Geometry::spacing`].
//! IBSI's 2D and 2.5D methods work in the `(j, i)` plane of each slice `k`.
//!
//! Discretised grey levels are `u32` arrays where `0` means "outside the ROI intensity mask"
//! and `1..=n_levels` are the levels.

mod extract;
pub mod features;
pub mod processing;
pub mod pyradiomics;
mod roi;
pub mod settings;

pub use extract::{extract, features_of_roi};
pub use roi::Roi;
pub use settings::{Settings, TextureDimension};

/// One computed feature value.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// The IBSI feature label without its `feat_` prefix: family prefix then feature, e.g.
    /// `cm_joint_max`, `morph_volume`, `stat_mean`.
    pub name: &'static str,
    /// The IBSI identifier of the feature (4 characters), e.g. `GYBY`.
    pub ibsi_code: &'static str,
    /// How texture matrices were aggregated; `None` for families without aggregation.
    pub aggregation: Option<Aggregation>,
    /// The value; `NaN` where IBSI defines the feature as undefined for this input.
    pub value: f64,
}

impl Feature {
    /// The column name of the feature in tables: the name, then the aggregation when there is
    /// one, e.g. `cm_joint_max_3d_avg`.
    pub fn column_name(&self) -> String {
        match self.aggregation {
            Some(a) => format!("{}_{}", self.name, a.short_name()),
            None => self.name.to_string(),
        }
    }
}

/// IBSI feature aggregation methods of the texture families.
///
/// GLCM and GLRLM use the six directional methods; GLSZM, GLDZM, NGTDM and NGLDM have no
/// directions and use [`Aggregation::Slice2D`], [`Aggregation::Volume25D`] and
/// [`Aggregation::Volume3D`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Aggregation {
    /// Per slice and 2D direction, features averaged over both (IBSI BTW3).
    Slice2DAveraged,
    /// Per slice, 2D directional matrices merged; features averaged over slices (SUJT).
    Slice2DMerged,
    /// Per 2D direction, matrices merged over slices; features averaged over directions (JJUI).
    Volume25DDirectionMerged,
    /// All 2D directional matrices of all slices merged into one (ZW7Z).
    Volume25DMerged,
    /// Per 3D direction (13), features averaged over directions (ITBB).
    Volume3DAveraged,
    /// All 3D directional matrices merged into one (IAZD).
    Volume3DMerged,
    /// Per slice, features averaged over slices (zone and neighbourhood families, 8QNN).
    Slice2D,
    /// Per-slice matrices merged over slices (62GR).
    Volume25D,
    /// One matrix from the whole volume (KOBO).
    Volume3D,
}

impl Aggregation {
    /// The IBSI code of the aggregation method.
    pub fn ibsi_code(self) -> &'static str {
        match self {
            Aggregation::Slice2DAveraged => "BTW3",
            Aggregation::Slice2DMerged => "SUJT",
            Aggregation::Volume25DDirectionMerged => "JJUI",
            Aggregation::Volume25DMerged => "ZW7Z",
            Aggregation::Volume3DAveraged => "ITBB",
            Aggregation::Volume3DMerged => "IAZD",
            Aggregation::Slice2D => "8QNN",
            Aggregation::Volume25D => "62GR",
            Aggregation::Volume3D => "KOBO",
        }
    }

    /// A short name for column headers, e.g. `2d_avg`, `3d_mrg`.
    pub fn short_name(self) -> &'static str {
        match self {
            Aggregation::Slice2DAveraged => "2d_avg",
            Aggregation::Slice2DMerged => "2d_s_mrg",
            Aggregation::Volume25DDirectionMerged => "2.5d_d_mrg",
            Aggregation::Volume25DMerged => "2.5d_v_mrg",
            Aggregation::Volume3DAveraged => "3d_avg",
            Aggregation::Volume3DMerged => "3d_v_mrg",
            Aggregation::Slice2D => "2d",
            Aggregation::Volume25D => "2.5d",
            Aggregation::Volume3D => "3d",
        }
    }

    /// Whether the method works slice by slice (2D or 2.5D) rather than in 3D.
    pub fn is_in_plane(self) -> bool {
        !matches!(
            self,
            Aggregation::Volume3DAveraged | Aggregation::Volume3DMerged | Aggregation::Volume3D
        )
    }
}

/// Errors of the radiomics engine.
#[derive(Debug, thiserror::Error)]
pub enum RadiomicsError {
    /// The mask selects no voxel (after re-segmentation, if any).
    #[error(
        "the region of interest is empty{0}: check the mask label and the re-segmentation range"
    )]
    EmptyRoi(String),
    /// Image and mask grids differ.
    #[error("mask and image grids differ: {0}; resample the mask onto the image grid first")]
    GeometryMismatch(String),
    /// A setting is out of range or inconsistent.
    #[error("invalid setting: {0}")]
    InvalidSetting(String),
    /// The image holds NaN or infinite intensities inside the ROI.
    #[error("the image has {0} non-finite (NaN or infinite) voxels inside the ROI; radiomics needs finite intensities")]
    NonFinite(usize),
}
