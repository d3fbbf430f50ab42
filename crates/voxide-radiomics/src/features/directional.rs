//! Machinery shared by the directional texture families (GLCM and GLRLM): the cropped level
//! grid, the IBSI direction vectors, and the six IBSI ways of aggregating directional matrices
//! (BTW3, SUJT, JJUI, ZW7Z, ITBB, IAZD) driven from a single counting pass per direction.

use std::ops::Range;

use ndarray::Array3;
use rayon::prelude::*;

use crate::{Aggregation, Feature, RadiomicsError};

/// The four in-plane (2D) direction vectors as `(dk, dj, di)` offsets.
///
/// These are IBSI's 2D directions `(1,0)`, `(1,1)`, `(0,1)` and `(-1,1)` in `(x, y)` = `(i, j)`
/// notation, i.e. 0°, 45°, 90° and 135°. Symmetric GLCMs and run lengths do not depend on the
/// sign of a direction, so each axis appears once.
pub const DIRECTIONS_2D: [[isize; 3]; 4] = [[0, 0, 1], [0, 1, 1], [0, 1, 0], [0, 1, -1]];

/// The 13 unique 3D direction vectors of the 26-connected neighbourhood as `(dk, dj, di)`
/// offsets: the four in-plane directions of [`DIRECTIONS_2D`] first (same order), then the nine
/// that cross slices. Every vector is lexicographically positive, so its opposite is not listed.
pub const DIRECTIONS_3D: [[isize; 3]; 13] = [
    [0, 0, 1],
    [0, 1, 1],
    [0, 1, 0],
    [0, 1, -1],
    [1, 0, 0],
    [1, 0, 1],
    [1, 0, -1],
    [1, 1, 0],
    [1, 1, 1],
    [1, 1, -1],
    [1, -1, 0],
    [1, -1, 1],
    [1, -1, -1],
];

/// The largest number of grey levels the directional families accept. A GLCM has
/// `n_levels²` cells per direction; far beyond any useful discretisation (IBSI configurations
/// use tens to a few hundred levels) the matrices would no longer fit in memory, so such a
/// setting is refused instead of aborting on allocation.
pub const MAX_LEVELS: usize = 4096;

/// Refuses level counts the matrices cannot hold (see [`MAX_LEVELS`]).
pub(crate) fn check_levels(n_levels: usize) -> Result<(), RadiomicsError> {
    if n_levels > MAX_LEVELS {
        return Err(RadiomicsError::InvalidSetting(format!(
            "{n_levels} grey levels; texture matrices support at most {MAX_LEVELS}"
        )));
    }
    Ok(())
}

/// The discretised levels cropped to the bounding box of the ROI voxels, contiguous in
/// `(k, j, i)` order. Voxels above `n_levels` are set to 0 (outside), so every stored level
/// indexes a matrix row without a bounds surprise.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    /// Levels, 0 outside the ROI.
    pub data: Vec<u32>,
    /// `[nk, nj, ni]` of the crop.
    pub dims: [usize; 3],
    /// Index, in the caller's array, of the crop's first slice.
    pub k0: usize,
    /// ROI voxels in each slice of the crop.
    pub slice_voxels: Vec<usize>,
}

impl Grid {
    /// Crops `levels` to the bounding box of its voxels with a level in `1..=n_levels`.
    /// Restricting the counting to that box is exact: pairs and runs only involve ROI voxels.
    pub fn new(levels: &Array3<u32>, n_levels: usize) -> Grid {
        let (nk, nj, ni) = levels.dim();
        let empty = Grid {
            data: Vec::new(),
            dims: [0, 0, 0],
            k0: 0,
            slice_voxels: Vec::new(),
        };
        if nk == 0 || nj == 0 || ni == 0 {
            return empty;
        }
        // Work on contiguous rows (copies only an array that is not in standard layout).
        let standard = levels.as_standard_layout();
        let Some(all) = standard.as_slice() else {
            return empty;
        };
        let valid = |v: u32| v != 0 && (v as usize) <= n_levels;
        let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
        for (r, row) in all.chunks_exact(ni).enumerate() {
            // First and last ROI voxel of the row; a row without any costs one scan.
            if let Some(first) = row.iter().position(|&v| valid(v)) {
                let last = row.iter().rposition(|&v| valid(v)).unwrap_or(first);
                let (k, j) = (r / nj, r % nj);
                lo = [lo[0].min(k), lo[1].min(j), lo[2].min(first)];
                hi = [hi[0].max(k), hi[1].max(j), hi[2].max(last)];
            }
        }
        if lo[0] == usize::MAX {
            return empty;
        }
        let dims = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
        let mut data = Vec::with_capacity(dims[0] * dims[1] * dims[2]);
        let mut slice_voxels = vec![0usize; dims[0]];
        for (kc, k) in (lo[0]..=hi[0]).enumerate() {
            for j in lo[1]..=hi[1] {
                let start = (k * nj + j) * ni;
                for &v in &all[start + lo[2]..=start + hi[2]] {
                    let v = if valid(v) { v } else { 0 };
                    slice_voxels[kc] += usize::from(v != 0);
                    data.push(v);
                }
            }
        }
        Grid {
            data,
            dims,
            k0: lo[0],
            slice_voxels,
        }
    }

    /// Total ROI voxels in the slices `k_range` of the crop.
    pub fn voxels_in(&self, k_range: Range<usize>) -> usize {
        self.slice_voxels.get(k_range).map_or(0, |s| s.iter().sum())
    }

    /// The crop's slice range for a caller's slice index (`None`: every slice); an empty range
    /// when the slice holds no part of the crop.
    pub fn slice_range(&self, slice: Option<usize>) -> Range<usize> {
        match slice {
            None => 0..self.dims[0],
            Some(k) => match k.checked_sub(self.k0) {
                Some(k) if k < self.dims[0] => k..k + 1,
                _ => 0..0,
            },
        }
    }
}

/// Indices `x` of `range` such that `x + d` is also in `range`. Saturating arithmetic keeps
/// absurd offsets (beyond the array, `isize::MIN`) from overflowing: they give an empty range.
pub(crate) fn overlap(range: Range<usize>, d: isize) -> Range<usize> {
    let (start, end) = (range.start as isize, range.end as isize);
    let lo = start.saturating_sub(d.min(0));
    let hi = end.saturating_sub(d.max(0));
    if hi <= lo {
        0..0
    } else {
        lo as usize..hi as usize
    }
}

/// Scales a unit direction by a grid distance, saturating (a distance beyond the array only
/// yields empty matrices).
pub(crate) fn scaled(direction: [isize; 3], distance: usize) -> [isize; 3] {
    let d = isize::try_from(distance).unwrap_or(isize::MAX);
    direction.map(|c| c.saturating_mul(d))
}

/// One texture family as seen by the aggregation driver: how to count a directional matrix,
/// merge matrices, and turn a matrix into feature values.
pub(crate) trait DirectionalFamily: Sync {
    /// A texture matrix with its normalising counts.
    type Matrix: Send + Sync;
    /// A matrix with no counts, the neutral element of [`DirectionalFamily::merge`].
    fn zero(&self) -> Self::Matrix;
    /// The matrix of one unit direction over slices `k_range` of the grid.
    fn count(&self, grid: &Grid, direction: [isize; 3], k_range: Range<usize>) -> Self::Matrix;
    /// Adds `other`'s counts (and voxel counts) to `into`.
    fn merge(&self, into: &mut Self::Matrix, other: &Self::Matrix);
    /// The family's features of one matrix; all NaN for a matrix without counts.
    fn values(&self, matrix: &Self::Matrix) -> Vec<f64>;
    /// Number of values [`DirectionalFamily::values`] returns.
    fn n_values(&self) -> usize;
}

/// Feature-wise mean that skips NaN values, as the IBSI reference implementation (MIRP) does:
/// a matrix on which a feature is undefined (or an empty matrix) does not count, and the mean
/// is NaN only when no matrix defines the feature.
#[derive(Debug)]
struct NanMean {
    sum: Vec<f64>,
    count: Vec<usize>,
}

impl NanMean {
    fn new(n: usize) -> Self {
        NanMean {
            sum: vec![0.0; n],
            count: vec![0; n],
        }
    }

    fn add(&mut self, values: &[f64]) {
        for ((s, c), &v) in self.sum.iter_mut().zip(&mut self.count).zip(values) {
            if !v.is_nan() {
                *s += v;
                *c += 1;
            }
        }
    }

    fn mean(&self) -> Vec<f64> {
        self.sum
            .iter()
            .zip(&self.count)
            .map(|(&s, &c)| if c == 0 { f64::NAN } else { s / c as f64 })
            .collect()
    }
}

/// Feature values of one slice: per 2D direction, and from the slice's merged matrix.
type SliceValues = (usize, Vec<Vec<f64>>, Vec<f64>);

/// Computes the requested directional aggregations of a family. Aggregations that are not
/// directional (`Slice2D`, `Volume25D`, `Volume3D`) and repeats are skipped. Each direction is
/// counted once; the per-slice in-plane matrices are summed into the 2.5D/3D in-plane matrices,
/// so all six methods come from one pass per direction. Slices without ROI voxels are skipped.
pub(crate) fn aggregate<F: DirectionalFamily>(
    family: &F,
    grid: &Grid,
    aggregations: &[Aggregation],
) -> Vec<(Aggregation, Vec<f64>)> {
    use Aggregation::*;
    let mut wanted: Vec<Aggregation> = Vec::new();
    for &a in aggregations {
        let directional = matches!(
            a,
            Slice2DAveraged
                | Slice2DMerged
                | Volume25DDirectionMerged
                | Volume25DMerged
                | Volume3DAveraged
                | Volume3DMerged
        );
        if directional && !wanted.contains(&a) {
            wanted.push(a);
        }
    }
    if wanted.is_empty() {
        return Vec::new();
    }
    let want = |a: Aggregation| wanted.contains(&a);
    let need_slices = want(Slice2DAveraged) || want(Slice2DMerged);
    let need_3d = want(Volume3DAveraged) || want(Volume3DMerged);
    let n = family.n_values();
    let nk = grid.dims[0];

    // In-plane directions: per slice when a 2D method needs slice features (the slice matrices
    // are summed on the way), otherwise straight over the volume (same counts, fewer matrices).
    let (in_plane, mut slice_values): (Vec<F::Matrix>, Vec<SliceValues>) = if need_slices {
        let slices: Vec<usize> = (0..nk).filter(|&k| grid.slice_voxels[k] > 0).collect();
        let zero_sums =
            || -> Vec<F::Matrix> { DIRECTIONS_2D.iter().map(|_| family.zero()).collect() };
        slices
            .par_iter()
            .fold(
                || (zero_sums(), Vec::new()),
                |(mut sums, mut values), &k| {
                    let mats: Vec<F::Matrix> = DIRECTIONS_2D
                        .iter()
                        .map(|&d| family.count(grid, d, k..k + 1))
                        .collect();
                    let per_direction = mats.iter().map(|m| family.values(m)).collect();
                    let mut merged = family.zero();
                    for (sum, m) in sums.iter_mut().zip(&mats) {
                        family.merge(&mut merged, m);
                        family.merge(sum, m);
                    }
                    values.push((k, per_direction, family.values(&merged)));
                    (sums, values)
                },
            )
            .reduce(
                || (zero_sums(), Vec::new()),
                |(mut sums, mut values), (other_sums, other_values)| {
                    for (s, o) in sums.iter_mut().zip(&other_sums) {
                        family.merge(s, o);
                    }
                    values.extend(other_values);
                    (sums, values)
                },
            )
    } else {
        let mats = DIRECTIONS_2D
            .par_iter()
            .map(|&d| family.count(grid, d, 0..nk))
            .collect();
        (mats, Vec::new())
    };
    // Sum slice features in slice order whatever the thread split, for reproducible values.
    slice_values.sort_by_key(|v| v.0);

    let in_plane_values: Vec<Vec<f64>> = in_plane.iter().map(|m| family.values(m)).collect();
    let cross_slice: Vec<F::Matrix> = if need_3d {
        DIRECTIONS_3D[DIRECTIONS_2D.len()..]
            .par_iter()
            .map(|&d| family.count(grid, d, 0..nk))
            .collect()
    } else {
        Vec::new()
    };

    let mean_of = |rows: &mut dyn Iterator<Item = &Vec<f64>>| {
        let mut m = NanMean::new(n);
        rows.for_each(|r| m.add(r));
        m.mean()
    };
    let merged_of = |mats: &mut dyn Iterator<Item = &F::Matrix>| {
        let mut merged = family.zero();
        mats.for_each(|m| family.merge(&mut merged, m));
        family.values(&merged)
    };

    wanted
        .into_iter()
        .map(|a| {
            let values = match a {
                Slice2DAveraged => {
                    mean_of(&mut slice_values.iter().flat_map(|(_, per_dir, _)| per_dir))
                }
                Slice2DMerged => mean_of(&mut slice_values.iter().map(|(_, _, merged)| merged)),
                Volume25DDirectionMerged => mean_of(&mut in_plane_values.iter()),
                Volume25DMerged => merged_of(&mut in_plane.iter()),
                Volume3DAveraged => {
                    let cross_values: Vec<Vec<f64>> =
                        cross_slice.iter().map(|m| family.values(m)).collect();
                    mean_of(&mut in_plane_values.iter().chain(&cross_values))
                }
                _ => merged_of(&mut in_plane.iter().chain(&cross_slice)),
            };
            (a, values)
        })
        .collect()
}

/// Turns aggregated values into features, using the family's `(name, code)` table.
pub(crate) fn to_features(
    table: &[(&'static str, &'static str)],
    aggregated: Vec<(Aggregation, Vec<f64>)>,
) -> Vec<Feature> {
    aggregated
        .into_iter()
        .flat_map(|(a, values)| {
            table
                .iter()
                .zip(values)
                .map(move |(&(name, ibsi_code), value)| Feature {
                    name,
                    ibsi_code,
                    aggregation: Some(a),
                    value,
                })
        })
        .collect()
}

/// NaN features for every requested directional aggregation (used when the input cannot be
/// processed at all, e.g. too many grey levels).
pub(crate) fn nan_features(
    table: &[(&'static str, &'static str)],
    aggregations: &[Aggregation],
) -> Vec<Feature> {
    let grid = Grid {
        data: Vec::new(),
        dims: [0, 0, 0],
        k0: 0,
        slice_voxels: Vec::new(),
    };
    to_features(
        table,
        aggregate(&NanFamily(table.len()), &grid, aggregations),
    )
}

/// A family whose matrices are always empty: yields NaN for every requested aggregation.
struct NanFamily(usize);

impl DirectionalFamily for NanFamily {
    type Matrix = ();
    fn zero(&self) {}
    fn count(&self, _: &Grid, _: [isize; 3], _: Range<usize>) {}
    fn merge(&self, _: &mut (), _: &()) {}
    fn values(&self, _: &()) -> Vec<f64> {
        vec![f64::NAN; self.0]
    }
    fn n_values(&self) -> usize {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_ranges() {
        assert_eq!(overlap(0..5, 1), 0..4);
        assert_eq!(overlap(0..5, -1), 1..5);
        assert_eq!(overlap(0..5, 0), 0..5);
        assert_eq!(overlap(2..3, 0), 2..3);
        assert_eq!(overlap(2..3, 1), 0..0);
        assert_eq!(overlap(0..5, 7), 0..0);
        assert_eq!(overlap(0..5, isize::MIN), 0..0);
        assert_eq!(overlap(0..5, isize::MAX), 0..0);
    }

    #[test]
    fn grid_crops_to_roi_and_drops_out_of_range_levels() {
        let mut a = Array3::<u32>::zeros((4, 5, 6));
        a[[1, 2, 3]] = 2;
        a[[2, 3, 1]] = 1;
        a[[3, 0, 0]] = 9; // above n_levels: outside
        let g = Grid::new(&a, 4);
        assert_eq!(g.dims, [2, 2, 3]);
        assert_eq!(g.k0, 1);
        assert_eq!(g.slice_voxels, vec![1, 1]);
        assert_eq!(g.data.iter().filter(|&&v| v != 0).count(), 2);
        assert_eq!(g.slice_range(Some(2)), 1..2);
        assert_eq!(g.slice_range(Some(0)), 0..0);
        assert_eq!(g.slice_range(Some(7)), 0..0);
        let empty = Grid::new(&Array3::<u32>::zeros((0, 3, 3)), 4);
        assert_eq!(empty.dims, [0, 0, 0]);
    }
}
