//! Grey level co-occurrence matrix (GLCM) features, IBSI chapter 1 "Grey level co-occurrence
//! based features" (LFYI): 25 features, six aggregation methods.
//!
//! Matrix construction ([`matrix`], [`volume_matrices`], [`slice_matrices`]) is separate from
//! the IBSI feature formulas ([`ibsi_values`]) so that other definitions (PyRadiomics) can reuse
//! the matrices with their own formulas and weighting.
//!
//! Matrices are symmetric (`M = M₊ + M₊ᵀ`, IBSI) and indexed by grey level `1..=n_levels`;
//! IBSI's `N_g` is `n_levels`, the number of levels of the discretisation (as in the IBSI
//! reference implementation), not the number of levels that happen to occur.
//!
//! Undefined values are NaN: every feature of an empty matrix (no voxel pair), correlation when
//! the marginal variance is 0 (a single grey level), and information correlation 1 when the
//! marginal entropy is 0. Averages over matrices skip NaN values (see [`features`]).

use std::ops::Range;

use ndarray::{Array3, ArrayView2};

use super::directional::{self, overlap, scaled, DirectionalFamily, Grid};
use crate::{Aggregation, Feature, RadiomicsError};

pub use super::directional::{DIRECTIONS_2D, DIRECTIONS_3D, MAX_LEVELS};

/// The 25 IBSI GLCM features in the order [`ibsi_values`] returns them: `(name, IBSI code)`.
/// Names are the IBSI labels without `feat_` (e.g. `cm_joint_max` for `F_cm.joint.max`).
pub const FEATURES: [(&str, &str); 25] = [
    ("cm_joint_max", "GYBY"),
    ("cm_joint_avg", "60VM"),
    ("cm_joint_var", "UR99"),
    ("cm_joint_entr", "TU9B"),
    ("cm_diff_avg", "TF7R"),
    ("cm_diff_var", "D3YU"),
    ("cm_diff_entr", "NTRS"),
    ("cm_sum_avg", "ZGXS"),
    ("cm_sum_var", "OEEB"),
    ("cm_sum_entr", "P6QZ"),
    ("cm_energy", "8ZQL"),
    ("cm_contrast", "ACUI"),
    ("cm_dissimilarity", "8S9J"),
    ("cm_inv_diff", "IB1Z"),
    ("cm_inv_diff_norm", "NDRX"),
    ("cm_inv_diff_mom", "WF0Z"),
    ("cm_inv_diff_mom_norm", "1QCO"),
    ("cm_inv_var", "E8JP"),
    ("cm_corr", "NI2N"),
    ("cm_auto_corr", "QWB0"),
    ("cm_clust_tend", "DG8W"),
    ("cm_clust_shade", "7NFM"),
    ("cm_clust_prom", "AE86"),
    ("cm_info_corr_1", "R8DG"),
    ("cm_info_corr_2", "JN9H"),
];

/// A symmetric grey level co-occurrence matrix: `n_levels × n_levels` counts, row-major, cell
/// `(i, j)` (levels `1..=n_levels`) at `(i - 1) * n_levels + (j - 1)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Glcm {
    n_levels: usize,
    counts: Vec<f64>,
}

impl Glcm {
    /// A matrix without counts.
    pub fn zeros(n_levels: usize) -> Glcm {
        Glcm {
            n_levels,
            counts: vec![0.0; n_levels * n_levels],
        }
    }

    /// Builds a matrix from row-major counts; `None` unless `counts.len() == n_levels²` and the
    /// counts are symmetric (IBSI GLCMs are; [`ibsi_values`] relies on it).
    pub fn from_counts(n_levels: usize, counts: Vec<f64>) -> Option<Glcm> {
        if n_levels.checked_mul(n_levels) != Some(counts.len()) {
            return None;
        }
        let symmetric = (0..n_levels)
            .all(|i| (0..i).all(|j| counts[i * n_levels + j] == counts[j * n_levels + i]));
        symmetric.then_some(Glcm { n_levels, counts })
    }

    /// Number of grey levels (rows and columns).
    pub fn n_levels(&self) -> usize {
        self.n_levels
    }

    /// The counts, row-major.
    pub fn counts(&self) -> &[f64] {
        &self.counts
    }

    /// The counts as an `n_levels × n_levels` array (row/column `l - 1` is level `l`).
    pub fn view(&self) -> ArrayView2<'_, f64> {
        ArrayView2::from_shape((self.n_levels, self.n_levels), &self.counts)
            .unwrap_or_else(|_| ArrayView2::from_shape((0, 0), &[]).expect("empty view"))
    }

    /// Count of level pair `(i, j)` (1-based levels); 0 outside the matrix.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        if i == 0 || j == 0 || i > self.n_levels || j > self.n_levels {
            return 0.0;
        }
        self.counts[(i - 1) * self.n_levels + (j - 1)]
    }

    /// Sum of all counts (twice the number of voxel pairs, the matrix being symmetric).
    pub fn total(&self) -> f64 {
        self.counts.iter().sum()
    }

    /// Whether the matrix has no counts.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&c| c == 0.0)
    }

    /// Adds `other`'s counts (IBSI matrix merging). A matrix with more levels widens `self`.
    pub fn add(&mut self, other: &Glcm) {
        if other.n_levels > self.n_levels {
            let mut wider = Glcm::zeros(other.n_levels);
            for i in 0..self.n_levels {
                let (src, dst) = (i * self.n_levels, i * other.n_levels);
                wider.counts[dst..dst + self.n_levels]
                    .copy_from_slice(&self.counts[src..src + self.n_levels]);
            }
            *self = wider;
        }
        let n = self.n_levels;
        for i in 0..other.n_levels {
            let src = &other.counts[i * other.n_levels..(i + 1) * other.n_levels];
            for (d, &c) in self.counts[i * n..i * n + other.n_levels]
                .iter_mut()
                .zip(src)
            {
                *d += c;
            }
        }
    }
}

/// The symmetric GLCM of one offset `(dk, dj, di)` (a direction vector already multiplied by
/// the distance), over the whole array or, with `slice`, over that slice `k` alone (so an
/// offset leaving the slice gives an empty matrix). Levels outside `1..=n_levels` are outside
/// the ROI.
pub fn matrix(
    levels: &Array3<u32>,
    n_levels: usize,
    offset: [isize; 3],
    slice: Option<usize>,
) -> Result<Glcm, RadiomicsError> {
    directional::check_levels(n_levels)?;
    let grid = Grid::new(levels, n_levels);
    Ok(count(&grid, n_levels, offset, grid.slice_range(slice)))
}

/// The 13 3D GLCMs at Chebyshev distance `distance`, in [`DIRECTIONS_3D`] order (the first
/// four are the in-plane directions, counted over all slices).
pub fn volume_matrices(
    levels: &Array3<u32>,
    n_levels: usize,
    distance: usize,
) -> Result<Vec<Glcm>, RadiomicsError> {
    use rayon::prelude::*;
    directional::check_levels(n_levels)?;
    let grid = Grid::new(levels, n_levels);
    Ok(DIRECTIONS_3D
        .par_iter()
        .map(|&d| count(&grid, n_levels, scaled(d, distance), 0..grid.dims[0]))
        .collect())
}

/// The four 2D GLCMs of slice `slice` at distance `distance`, in [`DIRECTIONS_2D`] order.
pub fn slice_matrices(
    levels: &Array3<u32>,
    n_levels: usize,
    distance: usize,
    slice: usize,
) -> Result<Vec<Glcm>, RadiomicsError> {
    directional::check_levels(n_levels)?;
    let grid = Grid::new(levels, n_levels);
    let k = grid.slice_range(Some(slice));
    Ok(DIRECTIONS_2D
        .iter()
        .map(|&d| count(&grid, n_levels, scaled(d, distance), k.clone()))
        .collect())
}

/// Counts the voxel pairs `(v, v + offset)` with both voxels in slices `k_range` of the grid.
fn count(grid: &Grid, n_levels: usize, offset: [isize; 3], k_range: Range<usize>) -> Glcm {
    // A cell never counts more pairs than the grid has voxels. 32-bit counters halve the
    // scratch matrix (64 levels: 17 kB, inside L1) which is what bounds this loop; grids too
    // large for them (over 4·10⁹ voxels) take 64-bit counters.
    if grid.data.len() < u32::MAX as usize {
        count_with::<u32>(grid, n_levels, offset, k_range)
    } else {
        count_with::<u64>(grid, n_levels, offset, k_range)
    }
}

/// An integer pair counter.
trait Counter: Copy + Default {
    fn increment(&mut self);
    fn value(self) -> u64;
}

impl Counter for u32 {
    fn increment(&mut self) {
        *self += 1;
    }
    fn value(self) -> u64 {
        u64::from(self)
    }
}

impl Counter for u64 {
    fn increment(&mut self) {
        *self += 1;
    }
    fn value(self) -> u64 {
        self
    }
}

fn count_with<C: Counter>(
    grid: &Grid,
    n_levels: usize,
    offset: [isize; 3],
    k_range: Range<usize>,
) -> Glcm {
    let [_, nj, ni] = grid.dims;
    // Row and column 0 collect pairs with a voxel outside the ROI: counting them and dropping
    // them afterwards keeps the inner loop free of branches.
    let s = n_levels + 1;
    let mut scratch = vec![C::default(); s * s];
    let ks = overlap(k_range, offset[0]);
    let js = overlap(0..nj, offset[1]);
    let is = overlap(0..ni, offset[2]);
    if !is.is_empty() {
        let plane = nj * ni;
        let width = is.len();
        for k in ks {
            let kb = (k as isize + offset[0]) as usize;
            for j in js.clone() {
                let jb = (j as isize + offset[1]) as usize;
                let a0 = k * plane + j * ni + is.start;
                let b0 = kb * plane + jb * ni + (is.start as isize + offset[2]) as usize;
                let row_a = &grid.data[a0..a0 + width];
                let row_b = &grid.data[b0..b0 + width];
                for (&a, &b) in row_a.iter().zip(row_b) {
                    scratch[a as usize * s + b as usize].increment();
                }
            }
        }
    }
    // Symmetrise (IBSI: M = M₊ + M₊ᵀ) while dropping row and column 0.
    let mut m = Glcm::zeros(n_levels);
    for a in 1..s {
        let row = &mut m.counts[(a - 1) * n_levels..a * n_levels];
        for (b, cell) in (1..s).zip(row) {
            *cell = (scratch[a * s + b].value() + scratch[b * s + a].value()) as f64;
        }
    }
    m
}

/// `log2(c)` for the integer counts `c < LOG2_TABLE_LEN`, which cover nearly every cell of
/// per-slice matrices: the joint entropy then needs no logarithm per cell.
const LOG2_TABLE_LEN: usize = 1 << 12;

fn log2_table() -> &'static [f64] {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| (0..LOG2_TABLE_LEN).map(|c| (c as f64).log2()).collect())
}

/// `log2(c)` through the table for small integer counts.
#[inline]
fn log2_count(table: &[f64], c: f64) -> f64 {
    let i = c as usize;
    if i < table.len() && i as f64 == c {
        table[i]
    } else {
        c.log2()
    }
}

/// The 25 IBSI GLCM features of one matrix, in [`FEATURES`] order; all NaN for an empty matrix.
///
/// One pass over the non-zero cells of the lower triangle (GLCMs are symmetric) gathers the joint statistics, the marginal `p_i.`, and the
/// diagonal (`p_{i-j}`) and cross-diagonal (`p_{i+j}`) distributions; every other feature is a
/// sum over those short vectors. For a symmetric matrix `HXY1 = HXY2 = 2·HX` exactly (the
/// marginals sum to 1), which the information correlations use.
pub fn ibsi_values(m: &Glcm) -> [f64; 25] {
    let ng = m.n_levels;
    let total = m.total();
    if total <= 0.0 || !total.is_finite() {
        return [f64::NAN; 25];
    }
    // The pass sums counts, not probabilities, dividing by the total at the end: sums of
    // integer counts are exact, so a single-cell matrix (flat ROI) gives a marginal of exactly
    // 1 and a variance of exactly 0 (correlation NaN, not rounding noise).
    let log2_total = total.log2();
    let table = log2_table();
    let mut marginal = vec![0.0; ng];
    let mut diff = vec![0.0; ng];
    // Index k = i + j with 1-based levels: 2..=2·ng.
    let mut sum = vec![0.0; 2 * ng + 1];
    let (mut max_count, mut sum_sq, mut entropy_sum, mut auto_sum) = (0.0f64, 0.0, 0.0, 0.0);
    // The matrix is symmetric: visit the lower triangle and weigh off-diagonal cells twice.
    let mut marginal_count = vec![0.0; ng];
    for a in 0..ng {
        let row = &m.counts[a * ng..=a * ng + a];
        let i = (a + 1) as f64;
        let mut row_j = 0.0;
        for (b, &c) in row.iter().enumerate() {
            if c == 0.0 {
                continue;
            }
            let weight = if a == b { 1.0 } else { 2.0 };
            let wc = weight * c;
            marginal_count[a] += c;
            if a != b {
                marginal_count[b] += c;
            }
            row_j += (b + 1) as f64 * wc;
            max_count = max_count.max(c);
            sum_sq += c * wc;
            // -p·log2(p) = c·(log2(N) − log2(c)) / N: every term is ≥ 0, and exactly 0 for
            // the single cell of a flat ROI.
            entropy_sum += wc * (log2_total - log2_count(table, c));
            diff[a - b] += wc;
            sum[a + b + 2] += wc;
        }
        auto_sum += i * row_j;
    }
    for (p, &c) in marginal.iter_mut().zip(&marginal_count) {
        *p = c / total;
    }
    diff.iter_mut().for_each(|d| *d /= total);
    sum.iter_mut().for_each(|d| *d /= total);
    let joint_max = max_count / total;
    let energy = sum_sq / (total * total);
    let joint_entropy = entropy_sum / total;
    let auto_corr = auto_sum / total;

    let (mut mu, mut hx) = (0.0, 0.0);
    for (a, &p) in marginal.iter().enumerate() {
        if p > 0.0 {
            mu += (a + 1) as f64 * p;
            hx -= p * p.log2();
        }
    }
    let joint_var: f64 = marginal
        .iter()
        .enumerate()
        .map(|(a, &p)| ((a + 1) as f64 - mu).powi(2) * p)
        .sum();

    let ngf = ng as f64;
    let (mut diff_avg, mut diff_entropy, mut contrast) = (0.0, 0.0, 0.0);
    let (mut inv_diff, mut inv_diff_norm, mut inv_diff_mom, mut inv_diff_mom_norm, mut inv_var) =
        (0.0, 0.0, 0.0, 0.0, 0.0);
    for (k, &p) in diff.iter().enumerate() {
        if p == 0.0 {
            continue;
        }
        let kf = k as f64;
        diff_avg += kf * p;
        diff_entropy -= p * p.log2();
        contrast += kf * kf * p;
        inv_diff += p / (1.0 + kf);
        inv_diff_norm += p / (1.0 + kf / ngf);
        inv_diff_mom += p / (1.0 + kf * kf);
        inv_diff_mom_norm += p / (1.0 + (kf / ngf).powi(2));
        if k > 0 {
            inv_var += p / (kf * kf);
        }
    }
    let diff_var: f64 = diff
        .iter()
        .enumerate()
        .map(|(k, &p)| (k as f64 - diff_avg).powi(2) * p)
        .sum();

    let (mut sum_avg, mut sum_entropy) = (0.0, 0.0);
    for (k, &p) in sum.iter().enumerate() {
        if p > 0.0 {
            sum_avg += k as f64 * p;
            sum_entropy -= p * p.log2();
        }
    }
    let (mut sum_var, mut clust_tend, mut clust_shade, mut clust_prom) = (0.0, 0.0, 0.0, 0.0);
    for (k, &p) in sum.iter().enumerate() {
        if p > 0.0 {
            sum_var += (k as f64 - sum_avg).powi(2) * p;
            let d = k as f64 - 2.0 * mu;
            let d2 = d * d;
            clust_tend += d2 * p;
            clust_shade += d2 * d * p;
            clust_prom += d2 * d2 * p;
        }
    }

    // Undefined for a single grey level (zero marginal variance / entropy).
    let corr = if joint_var > 0.0 {
        (auto_corr - mu * mu) / joint_var
    } else {
        f64::NAN
    };
    let hxy1 = 2.0 * hx;
    let info_corr_1 = if hx > 0.0 {
        (joint_entropy - hxy1) / hx
    } else {
        f64::NAN
    };
    // HXY2 ≥ HXY mathematically; clamp rounding so the root stays real (0 for a flat ROI).
    let info_corr_2 = (1.0 - (-2.0 * (hxy1 - joint_entropy).max(0.0)).exp()).sqrt();

    [
        joint_max,
        mu,
        joint_var,
        joint_entropy,
        diff_avg,
        diff_var,
        diff_entropy,
        sum_avg,
        sum_var,
        sum_entropy,
        energy,
        contrast,
        diff_avg,
        inv_diff,
        inv_diff_norm,
        inv_diff_mom,
        inv_diff_mom_norm,
        inv_var,
        corr,
        auto_corr,
        clust_tend,
        clust_shade,
        clust_prom,
        info_corr_1,
        info_corr_2,
    ]
}

/// IBSI GLCM features at Chebyshev distance 1 for each requested aggregation (see
/// [`features_with_distance`]).
pub fn features(
    levels: &Array3<u32>,
    n_levels: usize,
    aggregations: &[Aggregation],
) -> Vec<Feature> {
    features_with_distance(levels, n_levels, 1, aggregations)
}

/// IBSI GLCM features at Chebyshev distance `distance` for each requested directional
/// aggregation (BTW3, SUJT, JJUI, ZW7Z, ITBB, IAZD; the non-directional methods are skipped),
/// 25 features per aggregation in [`FEATURES`] order with `aggregation: Some(a)`.
///
/// `levels`: discretised levels, 0 outside the ROI intensity mask; levels above `n_levels` are
/// treated as outside. Averaging methods take the mean over matrices where a feature is defined
/// (empty matrices, e.g. a slice of isolated voxels, and NaN values are skipped, as in the IBSI
/// reference implementation); slices without ROI voxels are skipped. A feature no matrix
/// defines is NaN: an empty ROI, `distance` 0 or beyond the ROI, or more than [`MAX_LEVELS`]
/// levels give NaN values.
pub fn features_with_distance(
    levels: &Array3<u32>,
    n_levels: usize,
    distance: usize,
    aggregations: &[Aggregation],
) -> Vec<Feature> {
    if directional::check_levels(n_levels).is_err() || distance == 0 {
        return directional::nan_features(&FEATURES, aggregations);
    }
    let grid = Grid::new(levels, n_levels);
    let family = IbsiGlcm { n_levels, distance };
    directional::to_features(
        &FEATURES,
        directional::aggregate(&family, &grid, aggregations),
    )
}

/// The IBSI GLCM family for the aggregation driver.
struct IbsiGlcm {
    n_levels: usize,
    distance: usize,
}

impl DirectionalFamily for IbsiGlcm {
    type Matrix = Glcm;

    fn zero(&self) -> Glcm {
        Glcm::zeros(self.n_levels)
    }

    fn count(&self, grid: &Grid, direction: [isize; 3], k_range: Range<usize>) -> Glcm {
        count(
            grid,
            self.n_levels,
            scaled(direction, self.distance),
            k_range,
        )
    }

    fn merge(&self, into: &mut Glcm, other: &Glcm) {
        into.add(other);
    }

    fn values(&self, matrix: &Glcm) -> Vec<f64> {
        ibsi_values(matrix).to_vec()
    }

    fn n_values(&self) -> usize {
        FEATURES.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    fn value(features: &[Feature], name: &str, a: Aggregation) -> f64 {
        features
            .iter()
            .find(|f| f.name == name && f.aggregation == Some(a))
            .map(|f| f.value)
            .unwrap()
    }

    const ALL: [Aggregation; 6] = [
        Aggregation::Slice2DAveraged,
        Aggregation::Slice2DMerged,
        Aggregation::Volume25DDirectionMerged,
        Aggregation::Volume25DMerged,
        Aggregation::Volume3DAveraged,
        Aggregation::Volume3DMerged,
    ];

    /// The 2D example of the IBSI manual (figure "figGLCM1"): grey levels
    /// 1 2 2 3 / 1 2 3 3 / 4 2 4 1 / 4 1 2 3; its 0° matrix is printed there.
    fn manual_example() -> Array3<u32> {
        Array3::from_shape_vec(
            (1, 4, 4),
            vec![1, 2, 2, 3, 1, 2, 3, 3, 4, 2, 4, 1, 4, 1, 2, 3],
        )
        .unwrap()
    }

    #[test]
    fn manual_example_matrix_0_degrees() {
        let m = matrix(&manual_example(), 4, [0, 0, 1], None).unwrap();
        #[rustfmt::skip]
        let expected = [
            0.0, 3.0, 0.0, 2.0,
            3.0, 2.0, 3.0, 2.0,
            0.0, 3.0, 2.0, 0.0,
            2.0, 2.0, 0.0, 0.0,
        ];
        assert_eq!(m.counts(), &expected);
        assert_eq!(m.total(), 24.0);
        assert_eq!(m.get(1, 2), 3.0);
        assert_eq!(m.get(0, 2), 0.0);
        assert_eq!(m.view()[[3, 0]], 2.0);
    }

    #[test]
    fn hand_checked_values() {
        // Two voxels 1 and 2 side by side: M = [[0,1],[1,0]], p = 1/2 off the diagonal.
        let a = Array3::from_shape_vec((1, 1, 2), vec![1u32, 2]).unwrap();
        let m = matrix(&a, 2, [0, 0, 1], None).unwrap();
        let v = ibsi_values(&m);
        let get = |name: &str| v[FEATURES.iter().position(|f| f.0 == name).unwrap()];
        assert_eq!(get("cm_joint_max"), 0.5);
        assert_eq!(get("cm_joint_avg"), 1.5);
        assert_eq!(get("cm_joint_var"), 0.25);
        assert_eq!(get("cm_joint_entr"), 1.0);
        assert_eq!(get("cm_diff_avg"), 1.0);
        assert_eq!(get("cm_diff_var"), 0.0);
        assert_eq!(get("cm_diff_entr"), 0.0);
        assert_eq!(get("cm_sum_avg"), 3.0);
        assert_eq!(get("cm_sum_var"), 0.0);
        assert_eq!(get("cm_contrast"), 1.0);
        assert_eq!(get("cm_inv_diff"), 0.5);
        assert_eq!(get("cm_inv_diff_norm"), 1.0 / 1.5);
        assert_eq!(get("cm_inv_diff_mom"), 0.5);
        assert_eq!(get("cm_inv_diff_mom_norm"), 0.8);
        assert_eq!(get("cm_inv_var"), 1.0);
        assert_eq!(get("cm_corr"), -1.0);
        assert_eq!(get("cm_auto_corr"), 2.0);
        assert_eq!(get("cm_clust_tend"), 0.0);
        // HX = 1, HXY = 1, HXY1 = HXY2 = 2.
        assert_eq!(get("cm_info_corr_1"), -1.0);
        assert!((get("cm_info_corr_2") - (1.0 - (-2.0f64).exp()).sqrt()).abs() < 1e-15);
    }

    #[test]
    fn slice_and_volume_matrices_agree() {
        let a = Array3::from_shape_fn((3, 4, 5), |(k, j, i)| ((k * 7 + j * 3 + i) % 4) as u32 + 1);
        let vol = volume_matrices(&a, 4, 1).unwrap();
        assert_eq!(vol.len(), 13);
        let mut summed: Vec<Glcm> = vec![Glcm::zeros(4); 4];
        for k in 0..3 {
            for (s, m) in summed.iter_mut().zip(slice_matrices(&a, 4, 1, k).unwrap()) {
                s.add(&m);
            }
        }
        assert_eq!(&vol[..4], &summed[..]);
        // Each 3D matrix counts every in-bounds pair twice (symmetric).
        assert_eq!(vol[4].total(), 2.0 * (2 * 4 * 5) as f64);
        // An offset leaving the slice gives nothing when restricted to a slice.
        assert!(matrix(&a, 4, [1, 0, 0], Some(1)).unwrap().is_empty());
    }

    #[test]
    fn single_voxel_and_empty_give_nan() {
        let mut a = Array3::<u32>::zeros((3, 3, 3));
        a[[1, 1, 1]] = 2;
        for levels in [a, Array3::zeros((0, 0, 0)), Array3::zeros((2, 2, 2))] {
            let f = features(&levels, 4, &ALL);
            assert_eq!(f.len(), 6 * 25);
            assert!(f.iter().all(|f| f.value.is_nan()), "{f:?}");
        }
    }

    #[test]
    fn flat_roi() {
        let a = Array3::from_elem((3, 4, 4), 3u32);
        let f = features(&a, 5, &ALL);
        for a in ALL {
            assert_eq!(value(&f, "cm_joint_max", a), 1.0);
            assert_eq!(value(&f, "cm_joint_avg", a), 3.0);
            assert_eq!(value(&f, "cm_joint_var", a), 0.0);
            assert_eq!(value(&f, "cm_joint_entr", a), 0.0);
            assert_eq!(value(&f, "cm_energy", a), 1.0);
            assert_eq!(value(&f, "cm_inv_var", a), 0.0);
            assert!(value(&f, "cm_corr", a).is_nan());
            assert!(value(&f, "cm_info_corr_1", a).is_nan());
            assert_eq!(value(&f, "cm_info_corr_2", a), 0.0);
        }
    }

    #[test]
    fn garbage_settings_do_not_panic() {
        let a = Array3::from_shape_fn((2, 3, 3), |(k, j, i)| (k + j + i) as u32);
        // Levels above n_levels are outside the ROI; n_levels 0 leaves nothing.
        assert!(features(&a, 0, &ALL).iter().all(|f| f.value.is_nan()));
        let few = features(&a, 2, &ALL);
        assert!(few.iter().any(|f| !f.value.is_nan()));
        assert!(features(&a, MAX_LEVELS + 1, &ALL)
            .iter()
            .all(|f| f.value.is_nan()));
        assert!(matrix(&a, MAX_LEVELS + 1, [0, 0, 1], None).is_err());
        assert!(features_with_distance(&a, 6, 0, &ALL)
            .iter()
            .all(|f| f.value.is_nan()));
        assert!(features_with_distance(&a, 6, usize::MAX, &ALL)
            .iter()
            .all(|f| f.value.is_nan()));
        assert!(matrix(&a, 6, [isize::MIN, isize::MAX, 0], None)
            .unwrap()
            .is_empty());
        // Only non-directional aggregations: nothing to compute.
        assert!(features(&a, 6, &[Aggregation::Volume3D]).is_empty());
    }

    #[test]
    fn distance_two_skips_neighbours() {
        // 1 2 1 2 1: at distance 2 every pair is (1,1) or (2,2).
        let a = Array3::from_shape_vec((1, 1, 5), vec![1u32, 2, 1, 2, 1]).unwrap();
        let m = matrix(&a, 2, scaled([0, 0, 1], 2), None).unwrap();
        assert_eq!(m.counts(), &[4.0, 0.0, 0.0, 2.0]);
    }

    #[test]
    fn add_widens() {
        let mut a = Glcm::from_counts(1, vec![2.0]).unwrap();
        a.add(&Glcm::from_counts(2, vec![1.0, 2.0, 2.0, 4.0]).unwrap());
        assert_eq!(a.counts(), &[3.0, 2.0, 2.0, 4.0]);
        assert!(Glcm::from_counts(2, vec![1.0]).is_none());
        assert!(Glcm::from_counts(2, vec![1.0, 2.0, 3.0, 4.0]).is_none());
    }
}
