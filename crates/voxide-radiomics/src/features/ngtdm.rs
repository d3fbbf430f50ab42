//! Neighbourhood grey tone difference matrix (NGTDM) features (IBSI 3.10, IPET).
//!
//! For every ROI voxel, the mean grey level of its neighbours within Chebyshev distance 1
//! (26 in 3D, 8 within the slice in 2D) is taken over the neighbours *inside the ROI* only
//! (IBSI's deviation from Amadasun and King: neighbourhoods need not be complete). A voxel
//! without any ROI neighbour has no valid neighbourhood and is left out of the matrix
//! (`n_i`, `s_i` and `N_v,c`) altogether.

use ndarray::Array3;

use super::lattice::{self, LevelIndex, Shape};
use crate::{Aggregation, Feature};

/// The 5 NGTDM features in output order: `(name, IBSI code)`.
pub const FEATURES: [(&str, &str); 5] = [
    ("ngtdm_coarseness", "QCDE"),
    ("ngtdm_contrast", "65HE"),
    ("ngtdm_busyness", "NQ30"),
    ("ngtdm_complexity", "HDEZ"),
    ("ngtdm_strength", "1X9X"),
];

/// The largest *coarseness*, used when `Σ p_i s_i` is 0 (IBSI's explicit cap).
pub const MAX_COARSENESS: f64 = 1e6;

/// A neighbourhood grey tone difference matrix, stored for the grey levels present only.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NgtdmMatrix {
    /// Present grey levels, ascending.
    levels: Vec<u32>,
    /// `n_i`: voxels of each level with a valid neighbourhood.
    counts: Vec<u64>,
    /// `s_i`: sum of `|i − mean of neighbours|` over those voxels.
    sums: Vec<f64>,
    /// Number of ROI voxels (`N_v`, including those without a valid neighbourhood).
    n_voxels: u64,
}

impl NgtdmMatrix {
    /// The grey levels present in the ROI, ascending; [`Self::counts`] and [`Self::sums`] are
    /// parallel to it.
    pub fn levels(&self) -> &[u32] {
        &self.levels
    }

    /// `n_i`: number of voxels of each level with at least one ROI neighbour.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// `s_i`: neighbourhood grey tone difference of each level.
    pub fn sums(&self) -> &[f64] {
        &self.sums
    }

    /// Number of ROI voxels the matrix was built from (`N_v`).
    pub fn n_voxels(&self) -> u64 {
        self.n_voxels
    }

    /// `N_v,c`: number of voxels with a valid neighbourhood.
    pub fn n_valid(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Sums `n_i`, `s_i` and `N_v` level by level (IBSI 2.5D merging, 62GR).
    pub fn merge(matrices: &[NgtdmMatrix]) -> NgtdmMatrix {
        let mut rows: Vec<(u32, u64, f64)> = matrices
            .iter()
            .flat_map(|m| {
                m.levels
                    .iter()
                    .zip(&m.counts)
                    .zip(&m.sums)
                    .map(|((&l, &n), &s)| (l, n, s))
            })
            .collect();
        rows.sort_by_key(|r| r.0);
        let mut out = NgtdmMatrix {
            n_voxels: matrices.iter().map(|m| m.n_voxels).sum(),
            ..NgtdmMatrix::default()
        };
        for (l, n, s) in rows {
            if out.levels.last() == Some(&l) {
                if let (Some(c), Some(t)) = (out.counts.last_mut(), out.sums.last_mut()) {
                    *c += n;
                    *t += s;
                }
            } else {
                out.levels.push(l);
                out.counts.push(n);
                out.sums.push(s);
            }
        }
        out
    }
}

/// NGTDM features of discretised `levels` (0 outside the ROI) for each requested aggregation
/// ([`Aggregation::Slice2D`], [`Aggregation::Volume25D`], [`Aggregation::Volume3D`]; others
/// are skipped). `n_levels` is accepted for symmetry with the other families: only the levels
/// present matter. Values are `NaN` when no voxel has a neighbour in the ROI (empty ROI,
/// isolated voxels); in 2D such slices are left out of the average.
pub fn features(
    levels: &Array3<u32>,
    n_levels: usize,
    aggregations: &[Aggregation],
) -> Vec<Feature> {
    let _ = n_levels;
    let data = lattice::flat(levels);
    let shape = Shape::of(levels);
    let index = LevelIndex::new(&data);
    let plane = shape.plane();
    lattice::aggregate(
        aggregations,
        shape.nk,
        &FEATURES,
        |k| {
            let m = build(&data[k * plane..(k + 1) * plane], shape.slice(), &index);
            (m.n_valid() > 0).then_some(m)
        },
        || build(&data, shape, &index),
        NgtdmMatrix::merge,
        values,
    )
}

/// The 3D NGTDM (26 neighbours) of discretised `levels`, 0 meaning outside the ROI.
pub fn matrix(levels: &Array3<u32>) -> NgtdmMatrix {
    let data = lattice::flat(levels);
    build(&data, Shape::of(levels), &LevelIndex::new(&data))
}

/// The 2D NGTDM (8 in-slice neighbours) of every slice `k`, in slice order.
pub fn slice_matrices(levels: &Array3<u32>) -> Vec<NgtdmMatrix> {
    let data = lattice::flat(levels);
    let shape = Shape::of(levels);
    let index = LevelIndex::new(&data);
    let plane = shape.plane();
    (0..shape.nk)
        .map(|k| build(&data[k * plane..(k + 1) * plane], shape.slice(), &index))
        .collect()
}

fn build(data: &[u32], shape: Shape, index: &LevelIndex) -> NgtdmMatrix {
    let mut counts = vec![0u64; index.len()];
    let mut sums = vec![0.0f64; index.len()];
    let mut n_voxels = 0u64;
    let geometry = shape.padded();
    let padded = geometry.pad(data);
    // Box sums over the neighbourhood, centre included (removed below): the level total and
    // the ROI voxel count. Outside voxels and the border are 0 and add nothing to either.
    let mut add = |level: u32, total: u64, n: u64| {
        n_voxels += 1;
        let (total, n) = (total - u64::from(level), n - 1);
        if n > 0 {
            let slot = index.slot(level);
            counts[slot] += 1;
            sums[slot] += (f64::from(level) - total as f64 / n as f64).abs();
        }
    };
    // 32-bit sums vectorise twice as wide; they hold 27 levels unless the levels are absurd.
    if index
        .levels()
        .last()
        .is_none_or(|&max| max <= u32::MAX / 27)
    {
        let cell = |x: u32, _c: u32| Pair(x, u32::from(x > 0));
        geometry.for_each_row_sum(&padded, cell, |row, acc| {
            for (&level, &Pair(total, n)) in padded[row].iter().zip(acc) {
                if level > 0 {
                    add(level, u64::from(total), u64::from(n));
                }
            }
        });
    } else {
        let cell = |x: u32, _c: u32| Pair(u64::from(x), u64::from(x > 0));
        geometry.for_each_row_sum(&padded, cell, |row, acc| {
            for (&level, &Pair(total, n)) in padded[row].iter().zip(acc) {
                if level > 0 {
                    add(level, total, n);
                }
            }
        });
    }
    // Drop levels absent from this lattice (a slice holds a subset of the volume's levels).
    let mut m = NgtdmMatrix {
        n_voxels,
        ..NgtdmMatrix::default()
    };
    for ((&l, &n), &s) in index.levels().iter().zip(&counts).zip(&sums) {
        if n > 0 {
            m.levels.push(l);
            m.counts.push(n);
            m.sums.push(s);
        }
    }
    m
}

/// A (level total, voxel count) accumulator for the neighbourhood box sums.
#[derive(Debug, Clone, Copy, Default)]
struct Pair<T>(T, T);

impl<T: std::ops::Add<Output = T>> std::ops::Add for Pair<T> {
    type Output = Pair<T>;
    fn add(self, o: Pair<T>) -> Pair<T> {
        Pair(self.0 + o.0, self.1 + o.1)
    }
}

/// The IBSI feature values of an NGTDM in [`FEATURES`] order; `None` when no voxel has a valid
/// neighbourhood.
///
/// The pairwise sums run over the levels with `p_i > 0` only, as IBSI specifies. Busyness is 0
/// when its denominator is 0 (IBSI gives 0 for a single level, the usual cause; PyRadiomics
/// does the same for any zero denominator).
pub fn values(m: &NgtdmMatrix) -> Option<[f64; 5]> {
    let nvc = m.n_valid() as f64;
    if nvc == 0.0 {
        return None;
    }
    // Levels with p_i > 0 only.
    let rows: Vec<(f64, f64, f64)> = m
        .levels
        .iter()
        .zip(&m.counts)
        .zip(&m.sums)
        .filter(|((_, &n), _)| n > 0)
        .map(|((&l, &n), &s)| (f64::from(l), n as f64 / nvc, s))
        .collect();
    let ngp = rows.len() as f64;
    let sum_s: f64 = rows.iter().map(|r| r.2).sum();
    let sum_ps: f64 = rows.iter().map(|r| r.1 * r.2).sum();
    let coarseness = if sum_ps > 0.0 {
        (1.0 / sum_ps).min(MAX_COARSENESS)
    } else {
        MAX_COARSENESS
    };
    let (mut spread, mut busy_den, mut complexity, mut strength) = (0.0, 0.0, 0.0, 0.0);
    for &(i1, p1, s1) in &rows {
        for &(i2, p2, s2) in &rows {
            let d2 = (i1 - i2) * (i1 - i2);
            spread += p1 * p2 * d2;
            busy_den += (i1 * p1 - i2 * p2).abs();
            complexity += (i1 - i2).abs() * (p1 * s1 + p2 * s2) / (p1 + p2);
            strength += (p1 + p2) * d2;
        }
    }
    let contrast = if ngp > 1.0 {
        spread / (ngp * (ngp - 1.0)) * sum_s / nvc
    } else {
        0.0
    };
    let busyness = if ngp > 1.0 && busy_den > 0.0 {
        sum_ps / busy_den
    } else {
        0.0
    };
    let strength = if sum_s > 0.0 { strength / sum_s } else { 0.0 };
    Some([coarseness, contrast, busyness, complexity / nvc, strength])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_checked_sums() {
        // 3 2 3
        // 2 2 3
        // 2 3 1   every pixel has ROI neighbours, borders have incomplete neighbourhoods.
        let a = Array3::from_shape_vec((1, 3, 3), vec![3, 2, 3, 2, 2, 3, 2, 3, 1]).unwrap();
        let m = matrix(&a);
        let slot = |l| m.levels().iter().position(|&x| x == l).unwrap();
        assert_eq!(m.counts()[slot(2)], 4);
        assert_eq!(m.counts()[slot(3)], 4);
        assert_eq!(m.counts()[slot(1)], 1);
        // Level 1 at the corner (2,2): neighbours (1,1)=2, (1,2)=3, (2,1)=3 → |1 − 8/3|.
        assert!((m.sums()[slot(1)] - 5.0 / 3.0).abs() < 1e-12);
        // Level 2: centre |2 − 19/8|, (0,1) |2 − 13/5|, (1,0) |2 − 12/5|, (2,0) |2 − 7/3|.
        let s2 = 3.0 / 8.0 + 0.6 + 0.4 + 1.0 / 3.0;
        assert!((m.sums()[slot(2)] - s2).abs() < 1e-12);
        assert_eq!(m.n_valid(), 9);
    }

    #[test]
    fn isolated_voxels_have_no_neighbourhood() {
        let mut a = Array3::<u32>::zeros((1, 3, 3));
        a[[0, 0, 0]] = 1;
        a[[0, 2, 2]] = 2;
        let m = matrix(&a);
        assert_eq!(m.n_valid(), 0);
        assert_eq!(m.n_voxels(), 2);
        assert!(values(&m).is_none());
    }

    #[test]
    fn single_level_values() {
        let a = Array3::from_elem((2, 3, 3), 4u32);
        let v = values(&matrix(&a)).unwrap();
        assert_eq!(v, [MAX_COARSENESS, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn garbage_in() {
        let all = [
            Aggregation::Slice2D,
            Aggregation::Volume25D,
            Aggregation::Volume3D,
        ];
        let empty = Array3::<u32>::zeros((2, 3, 3));
        let f = features(&empty, 4, &all);
        assert_eq!(f.len(), 15);
        assert!(f.iter().all(|f| f.value.is_nan()));
        let mut huge = Array3::from_elem((2, 3, 3), 1u32);
        huge[[1, 1, 1]] = u32::MAX;
        let f = features(&huge, 4, &all);
        assert!(f.iter().all(|f| f.value.is_finite()));
    }
}
