//! The IBSI feature families. Each module exposes `features(..) -> Vec<Feature>`; texture
//! modules also expose their matrices so that other definitions (PyRadiomics) can reuse them.

pub mod local_intensity;
pub mod morphology;
