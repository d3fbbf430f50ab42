//! Flat-index helpers shared by the zone and neighbourhood texture families (GLSZM, GLDZM,
//! NGTDM, NGLDM): C-ordered voxel indices, neighbour enumeration and the aggregation of
//! per-slice / volume matrices into [`Feature`]s.
//!
//! Working on flat indices of a zero-bordered contiguous buffer (instead of `ndarray`
//! indexing) keeps the inner loops free of per-access stride arithmetic and border tests, and
//! lets a 2D slice be handled by the same code as a volume: a slice is a lattice with
//! `nk == 1`, where 26-neighbourhoods shrink to 8-neighbourhoods.

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

    /// The zero-bordered layout of this lattice, see [`Padded`].
    pub(crate) fn padded(self) -> Padded {
        Padded::new(self)
    }
}

/// The layout of a lattice copied into a buffer with a one-voxel border of `T::default()`
/// (0 / `false`: outside the ROI) around it, in i and j always and in k for volumes
/// (`nk > 1`); [`Padded::pad`] makes such a copy.
///
/// With the border, every voxel of the lattice has all its neighbours at fixed flat offsets,
/// so neighbourhood loops need no coordinates, divisions or bounds logic: neighbours beyond
/// the lattice read as "outside the ROI", which is what every family wants. A slice
/// (`nk == 1`) gets the 8 in-plane offsets, a volume the 26 of Chebyshev distance 1.
#[derive(Debug, Clone)]
pub(crate) struct Padded {
    shape: Shape,
    /// Padded extents.
    pk: usize,
    pj: usize,
    pi: usize,
    /// Flat offsets of the Chebyshev-1 neighbours.
    offsets: Vec<isize>,
    /// Flat offsets of the rows `(k + dk, j + dj)` around a row, itself included: 9 in a
    /// volume, 3 in a slice. With the i border, `row + offset - 1 .. row + offset + ni + 1`
    /// is always inside the buffer.
    row_offsets: Vec<isize>,
}

impl Padded {
    fn new(shape: Shape) -> Padded {
        let three_d = shape.nk > 1;
        let pk = if three_d { shape.nk + 2 } else { shape.nk };
        let (pj, pi) = (shape.nj + 2, shape.ni + 2);
        let dk: &[isize] = if three_d { &[-1, 0, 1] } else { &[0] };
        let mut offsets = Vec::with_capacity(26);
        let mut row_offsets = Vec::with_capacity(9);
        for &k in dk {
            for j in -1isize..=1 {
                let row = (k * pj as isize + j) * pi as isize;
                row_offsets.push(row);
                for i in -1isize..=1 {
                    if (k, j, i) != (0, 0, 0) {
                        offsets.push(row + i);
                    }
                }
            }
        }
        Padded {
            shape,
            pk,
            pj,
            pi,
            offsets,
            row_offsets,
        }
    }

    /// Flat offsets of a voxel's Chebyshev-1 neighbours in the padded buffer.
    pub(crate) fn offsets(&self) -> &[isize] {
        &self.offsets
    }

    /// Voxels per lattice row (`ni`).
    pub(crate) fn row_len(&self) -> usize {
        self.shape.ni
    }

    /// Length of the padded buffer.
    pub(crate) fn len(&self) -> usize {
        self.pk * self.pj * self.pi
    }

    /// Padded index of the first voxel of row `(k, j)` of the lattice.
    fn row_start(&self, k: usize, j: usize) -> usize {
        let kk = if self.pk > self.shape.nk { k + 1 } else { k };
        (kk * self.pj + j + 1) * self.pi + 1
    }

    /// Padded index ranges of the lattice's rows, in C order: together they visit every
    /// lattice voxel once, in the order of the unpadded buffer.
    pub(crate) fn rows(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let (nj, ni) = (self.shape.nj, self.shape.ni);
        (0..self.shape.nk)
            .flat_map(move |k| (0..nj).map(move |j| (k, j)))
            .map(move |(k, j)| {
                let start = self.row_start(k, j);
                start..start + ni
            })
    }

    /// Calls `f(row_range, acc)` for every lattice row that holds an ROI voxel, after adding
    /// `cell(neighbour, centre)` over the row's whole 3×3×3 (3×3 in a slice) neighbourhood,
    /// centre included, into `acc[x]` for each voxel `x` of the row.
    ///
    /// Summing whole neighbour rows at a time, as three shifted slices zipped together, lets
    /// the compiler vectorise the 27 (9) terms per voxel; the per-voxel loop over neighbour
    /// offsets it replaces was several times slower. Neighbours in the zero border or outside
    /// the ROI enter `cell` as 0.
    pub(crate) fn for_each_row_sum<A>(
        &self,
        padded: &[u32],
        cell: impl Fn(u32, u32) -> A,
        mut f: impl FnMut(std::ops::Range<usize>, &[A]),
    ) where
        A: Copy + Default + std::ops::Add<Output = A>,
    {
        let ni = self.shape.ni;
        let mut acc = vec![A::default(); ni];
        for row in self.rows() {
            let centre = &padded[row.clone()];
            if centre.iter().all(|&l| l == 0) {
                continue;
            }
            acc.fill(A::default());
            for &o in &self.row_offsets {
                let first = row.start.wrapping_add_signed(o) - 1;
                let r = &padded[first..first + ni + 2];
                for ((((a, &c), &x0), &x1), &x2) in acc
                    .iter_mut()
                    .zip(centre)
                    .zip(&r[..ni])
                    .zip(&r[1..ni + 1])
                    .zip(&r[2..])
                {
                    *a = *a + cell(x0, c) + cell(x1, c) + cell(x2, c);
                }
            }
            f(row, &acc);
        }
    }

    /// Copies a lattice buffer (`shape.len()` elements, C order) into the padded layout.
    pub(crate) fn pad<T: Copy + Default>(&self, data: &[T]) -> Vec<T> {
        let mut out = vec![T::default(); self.len()];
        let ni = self.shape.ni;
        if ni == 0 {
            return out;
        }
        for (row, src) in self.rows().zip(data.chunks_exact(ni)) {
            out[row].copy_from_slice(src);
        }
        out
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
        // Map padded neighbour indices back to lattice indices through a padded index map.
        let p = shape.padded();
        let ids: Vec<usize> = (1..=shape.len()).collect();
        let padded = p.pad(&ids);
        let pv = p.rows().flatten().nth(v).unwrap();
        let mut out: Vec<usize> = p
            .offsets()
            .iter()
            .map(|&o| padded[pv.wrapping_add_signed(o)])
            .filter(|&id| id > 0)
            .map(|id| id - 1)
            .collect();
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
        let rows: Vec<_> = s.padded().rows().flatten().collect();
        assert_eq!(rows.len(), 27);
    }
}
