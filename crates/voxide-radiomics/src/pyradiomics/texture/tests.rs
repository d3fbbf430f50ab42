//! Unit tests of the PyRadiomics texture classes on small hand-checkable arrays.

use super::*;
