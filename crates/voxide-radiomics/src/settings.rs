//! Extraction settings, including the IBSI reference configurations A–E.

use voxide_core::Interpolation;

use crate::features::ivh::IvhDiscretisation;
use crate::processing::{Discretisation, InterpolationSettings, Resegmentation};
use crate::Aggregation;

/// Whether texture features are computed slice by slice or volumetrically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextureDimension {
    /// 2D and 2.5D aggregation (in-plane matrices).
    Slice,
    /// 3D aggregation.
    Volume,
}

impl TextureDimension {
    /// The aggregations of the directional families (GLCM, GLRLM).
    pub fn directional(self) -> &'static [Aggregation] {
        match self {
            TextureDimension::Slice => &[
                Aggregation::Slice2DAveraged,
                Aggregation::Slice2DMerged,
                Aggregation::Volume25DDirectionMerged,
                Aggregation::Volume25DMerged,
            ],
            TextureDimension::Volume => {
                &[Aggregation::Volume3DAveraged, Aggregation::Volume3DMerged]
            }
        }
    }

    /// The aggregations of the zone and neighbourhood families.
    pub fn zonal(self) -> &'static [Aggregation] {
        match self {
            TextureDimension::Slice => &[Aggregation::Slice2D, Aggregation::Volume25D],
            TextureDimension::Volume => &[Aggregation::Volume3D],
        }
    }
}

/// Everything that decides how features are computed.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Interpolation onto a new grid; `None` keeps the image grid.
    pub interpolation: Option<InterpolationSettings>,
    /// Re-segmentation of the intensity mask.
    pub resegmentation: Resegmentation,
    /// Discretisation for the intensity histogram and texture families.
    pub discretisation: Discretisation,
    /// Discretisation for the intensity-volume histogram.
    pub ivh: IvhDiscretisation,
    /// 2D/2.5D or 3D texture aggregation.
    pub texture: TextureDimension,
}

impl Default for Settings {
    /// No interpolation or re-segmentation, fixed bin size 25 from the ROI minimum, 3D texture:
    /// the closest IBSI equivalent of PyRadiomics' defaults.
    fn default() -> Self {
        Settings {
            interpolation: None,
            resegmentation: Resegmentation::default(),
            discretisation: Discretisation::FixedBinSize {
                width: 25.0,
                min: None,
            },
            ivh: IvhDiscretisation::FixedBinNumber { bins: 1000 },
            texture: TextureDimension::Volume,
        }
    }
}

impl Settings {
    /// The settings of the IBSI digital phantom: no processing, grey levels used as they are.
    pub fn ibsi_digital_phantom() -> Settings {
        Settings {
            interpolation: None,
            resegmentation: Resegmentation::default(),
            discretisation: Discretisation::None,
            ivh: IvhDiscretisation::Discrete { range: None },
            texture: TextureDimension::Volume,
        }
    }

    /// IBSI reference configuration `A`..`E` for the lung cancer CT phantom (manual chapter 5).
    pub fn ibsi_config(config: char) -> Option<Settings> {
        let linear = |spacing: [Option<f64>; 3], image| InterpolationSettings {
            spacing,
            image,
            mask: Interpolation::Linear,
            round_intensities: true,
            partial_volume: 0.5,
        };
        let in_plane = [Some(2.0), Some(2.0), None];
        let iso = [Some(2.0); 3];
        let range = |a: f64, b: f64| Resegmentation {
            range: Some((a, b)),
            outlier_sigma: None,
        };
        Some(match config.to_ascii_uppercase() {
            'A' => Settings {
                interpolation: None,
                resegmentation: range(-500.0, 400.0),
                discretisation: Discretisation::FixedBinSize {
                    width: 25.0,
                    min: Some(-500.0),
                },
                ivh: IvhDiscretisation::Discrete {
                    range: Some((-500.0, 400.0)),
                },
                texture: TextureDimension::Slice,
            },
            'B' => Settings {
                interpolation: Some(linear(in_plane, Interpolation::Linear)),
                resegmentation: range(-500.0, 400.0),
                discretisation: Discretisation::FixedBinNumber(32),
                ivh: IvhDiscretisation::Discrete {
                    range: Some((-500.0, 400.0)),
                },
                texture: TextureDimension::Slice,
            },
            'C' => Settings {
                interpolation: Some(linear(iso, Interpolation::Linear)),
                resegmentation: range(-1000.0, 400.0),
                discretisation: Discretisation::FixedBinSize {
                    width: 25.0,
                    min: Some(-1000.0),
                },
                ivh: IvhDiscretisation::FixedBinSize {
                    bin_width: 2.5,
                    range: Some((-1000.0, 400.0)),
                },
                texture: TextureDimension::Volume,
            },
            'D' => Settings {
                interpolation: Some(linear(iso, Interpolation::Linear)),
                resegmentation: Resegmentation {
                    range: None,
                    outlier_sigma: Some(3.0),
                },
                discretisation: Discretisation::FixedBinNumber(32),
                ivh: IvhDiscretisation::Discrete { range: None },
                texture: TextureDimension::Volume,
            },
            'E' => Settings {
                interpolation: Some(linear(iso, Interpolation::BSpline)),
                resegmentation: Resegmentation {
                    range: Some((-1000.0, 400.0)),
                    outlier_sigma: Some(3.0),
                },
                discretisation: Discretisation::FixedBinNumber(32),
                ivh: IvhDiscretisation::FixedBinNumber { bins: 1000 },
                texture: TextureDimension::Volume,
            },
            _ => return None,
        })
    }
}
