//! Detection metrics: lesion-wise matching (by centre distance or by the overlap of connected
//! components), the FROC curve over many scans and the competition performance metric (CPM),
//! with a bootstrap over scans. See the crate documentation for the conventions.

mod components;
mod froc;
mod matching;

pub use components::{connected_components, Components, Connectivity};
pub use froc::{cpm_bootstrap, froc, Cpm, FrocCurve, CPM_FP_RATES};
pub use matching::{
    match_components, match_masks, match_points, Duplicates, MatchRadius, MatchedDetection,
    Outcome, PointDetection, ReferenceLesion, ScanMatches,
};
