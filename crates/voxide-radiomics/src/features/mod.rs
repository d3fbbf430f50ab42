//! The IBSI feature families. Each module exposes `features(..) -> Vec<Feature>`; texture
//! modules also expose their matrices so that other definitions (PyRadiomics) can reuse them.

mod directional;
pub mod glcm;
pub mod gldzm;
pub mod glrlm;
pub mod glszm;
pub mod histogram;
pub mod ivh;
mod lattice;
pub mod local_intensity;
pub mod morphology;
pub mod ngldm;
pub mod ngtdm;
pub mod statistics;
pub mod zone_matrix;
