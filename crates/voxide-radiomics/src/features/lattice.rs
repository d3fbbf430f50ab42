//! Flat-index helpers shared by the zone and neighbourhood texture families (GLSZM, GLDZM,
//! NGTDM, NGLDM): C-ordered voxel indices, neighbour enumeration and the aggregation of
//! per-slice / volume matrices into [`Feature`]s.
//!
//! Working on flat indices of a contiguous buffer (instead of `ndarray` indexing) keeps the
//! inner loops free of per-access stride arithmetic and bounds checks on three axes, and lets a
//! 2D slice be handled by the same code as a volume: a slice is a lattice with `nk == 1`, where
//! 26-neighbourhoods shrink to 8-neighbourhoods and 6-neighbourhoods to 4-neighbourhoods.

use std::borrow::Cow;

use ndarray::Array3;
use rayon::prelude::*;

use crate::{Aggregation, Feature};

/// The array's elements in C (row-major) order: borrowed when the array is already in
/// standard layout (the usual case), copied otherwise.
pub(crate) fn flat<T: Clone>(a: &Array3<T>) -> Cow<'_, [T]> {
    match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(a.iter().cloned().collect()),
    }
}

/// Shape of a C-ordered lattice `(nk, nj, ni)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub nk: usize,
    pub nj: usize,
    pub ni: usize,
}

impl Shape {
    pub(crate) fn of<T>(a: &Array3<T>) -> Shape {
        let (nk, nj, ni) = a.dim();
        Shape { nk, nj, ni }
    }

    pub(crate) fn len(self) -> usize {
        self.nk * self.nj * self.ni
    }

    /// Voxels in one slice.
    pub(crate) fn plane(self) -> usize {
        self.nj * self.ni
    }

    /// The shape of one slice of this lattice, as a lattice of its own.
    pub(crate) fn slice(self) -> Shape {
        Shape { nk: 1, ..self }
    }

    /// Calls `f` with the flat index of every neighbour of voxel `v` within Chebyshev
    /// distance 1 inside the lattice: 26 in a volume, 8 in a slice (`nk == 1`).
    #[inline]
    pub(crate) fn for_each_neighbour(self, v: usize, mut f: impl FnMut(usize)) {
        let plane = self.plane();
        let k = v / plane;
        let r = v % plane;
        let j = r / self.ni;
        let i = r % self.ni;
        // Clamped ranges instead of 26 bounds checks: the lattice border needs no special case
        // and interior voxels pay only the loop overhead.
        let (k0, k1) = (k.saturating_sub(1), (k + 1).min(self.nk - 1));
        let (j0, j1) = (j.saturating_sub(1), (j + 1).min(self.nj - 1));
        let (i0, i1) = (i.saturating_sub(1), (i + 1).min(self.ni - 1));
        for kk in k0..=k1 {
            for jj in j0..=j1 {
                let base = (kk * self.nj + jj) * self.ni;
                for ii in i0..=i1 {
                    let u = base + ii;
                    if u != v {
                        f(u);
                    }
                }
            }
        }
    }
}

/// The number of grey level rows a matrix reports: `n_levels`, or more when the input holds
/// levels above it (garbage in: such levels are kept rather than dropped or panicking). Only
/// metadata: no allocation is sized by it.
pub(crate) fn row_count(levels: &[u32], n_levels: usize) -> usize {
    let max = levels.iter().copied().max().unwrap_or(0) as usize;
    n_levels.max(max)
}

/// Maps the grey levels present in an ROI to dense row slots `0..len()`.
///
/// Matrices indexed by slot rather than by level stay small whatever the levels are: a
/// corrupt level of 4 000 000 000 must not size an allocation.
#[derive(Debug, Clone)]
pub(crate) struct LevelIndex {
    /// The distinct non-zero levels, ascending.
    levels: Vec<u32>,
    /// `lookup[level]` = slot, when the largest level is small enough for a table.
    lookup: Option<Vec<u32>>,
}

/// Largest level for which [`LevelIndex`] keeps a direct lookup table.
const MAX_LOOKUP_LEVEL: u32 = 1 << 16;

impl LevelIndex {
    pub(crate) fn new(data: &[u32]) -> LevelIndex {
        let max = data.iter().copied().max().unwrap_or(0);
        if max <= MAX_LOOKUP_LEVEL {
            let mut seen = vec![false; max as usize + 1];
            for &l in data {
                seen[l as usize] = true;
            }
            let levels: Vec<u32> = (1..=max).filter(|&l| seen[l as usize]).collect();
            let mut lookup = vec![0u32; max as usize + 1];
            for (slot, &l) in levels.iter().enumerate() {
                lookup[l as usize] = slot as u32;
            }
            LevelIndex {
                levels,
                lookup: Some(lookup),
            }
        } else {
            let mut levels: Vec<u32> = data.iter().copied().filter(|&l| l > 0).collect();
            levels.sort_unstable();
            levels.dedup();
            LevelIndex {
                levels,
                lookup: None,
            }
        }
    }

    /// The distinct non-zero levels, ascending (slot order).
    pub(crate) fn levels(&self) -> &[u32] {
        &self.levels
    }

    pub(crate) fn len(&self) -> usize {
        self.levels.len()
    }

    /// The slot of a level present in the data the index was built from.
    #[inline]
    pub(crate) fn slot(&self, level: u32) -> usize {
        match &self.lookup {
            Some(t) => t.get(level as usize).map_or(0, |&s| s as usize),
            None => self.levels.binary_search(&level).unwrap_or(0),
        }
    }
}

/// Builds matrices for the requested aggregations and turns them into features.
///
/// `slice_matrix(k)` builds the 2D matrix of slice `k` (`None` when the slice has no ROI
/// voxel), `volume_matrix()` the 3D matrix, `merge` sums slice matrices (2.5D) and `values`
/// evaluates a matrix (`None` when the matrix is empty, making every value `NaN`). Slice
/// matrices are built once (in parallel) even when both 2D and 2.5D are requested.
///
/// 2D (8QNN) averages feature values over the slices whose matrix has values; slices without
/// ROI voxels would otherwise drag every average towards `NaN`. Aggregations other than the
/// three zone/neighbourhood methods are not defined for these families and are skipped.
pub(crate) fn aggregate<M, const N: usize>(
    aggregations: &[Aggregation],
    n_slices: usize,
    table: &[(&'static str, &'static str); N],
    slice_matrix: impl Fn(usize) -> Option<M> + Sync,
    volume_matrix: impl Fn() -> M,
    merge: impl Fn(&[M]) -> M,
    values: impl Fn(&M) -> Option<[f64; N]>,
) -> Vec<Feature>
where
    M: Send,
{
    let needs_slices = aggregations
        .iter()
        .any(|a| matches!(a, Aggregation::Slice2D | Aggregation::Volume25D));
    let slices: Vec<M> = if needs_slices {
        (0..n_slices)
            .into_par_iter()
            .filter_map(&slice_matrix)
            .collect()
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for &aggregation in aggregations {
        let v = match aggregation {
            Aggregation::Slice2D => {
                let mut sum = [0.0; N];
                let mut n = 0usize;
                for m in &slices {
                    if let Some(v) = values(m) {
                        n += 1;
                        for (s, x) in sum.iter_mut().zip(v) {
                            *s += x;
                        }
                    }
                }
                (n > 0).then(|| sum.map(|s| s / n as f64))
            }
            Aggregation::Volume25D => values(&merge(&slices)),
            Aggregation::Volume3D => values(&volume_matrix()),
            _ => continue,
        };
        let v = v.unwrap_or([f64::NAN; N]);
        out.extend(
            table
                .iter()
                .zip(v)
                .map(|(&(name, ibsi_code), value)| Feature {
                    name,
                    ibsi_code,
                    aggregation: Some(aggregation),
                    value,
                }),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neighbours(shape: Shape, v: usize) -> Vec<usize> {
        let mut out = Vec::new();
        shape.for_each_neighbour(v, |u| out.push(u));
        out.sort_unstable();
        out
    }

    #[test]
    fn neighbour_counts() {
        let s = Shape {
            nk: 3,
            nj: 3,
            ni: 3,
        };
        assert_eq!(neighbours(s, 13).len(), 26);
        assert_eq!(neighbours(s, 0), vec![1, 3, 4, 9, 10, 12, 13]);
        let slice = s.slice();
        assert_eq!(neighbours(slice, 4).len(), 8);
        assert_eq!(neighbours(slice, 0), vec![1, 3, 4]);
        let single = Shape {
            nk: 1,
            nj: 1,
            ni: 1,
        };
        assert!(neighbours(single, 0).is_empty());
    }
}
