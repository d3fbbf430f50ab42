//! The IBSI feature families. Each module exposes `features(..) -> Vec<Feature>`; texture
//! modules also expose their matrices so that other definitions (PyRadiomics) can reuse them.

pub mod gldzm;
pub mod glszm;
mod lattice;
pub mod ngldm;
pub mod ngtdm;
pub mod zone_matrix;
