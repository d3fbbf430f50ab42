//! The IBSI feature families. Each module exposes `features(..) -> Vec<Feature>`; texture
//! modules also expose their matrices so that other definitions (PyRadiomics) can reuse them.

mod directional;
pub mod glcm;
pub mod glrlm;
pub mod histogram;
pub mod ivh;
pub mod statistics;
