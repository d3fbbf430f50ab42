//! PyRadiomics compatibility mode: features as `pyradiomics-bhklab` 3.1.4 computes them.

pub mod texture;
