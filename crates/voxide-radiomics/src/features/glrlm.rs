//! Grey level run length matrix (GLRLM) features, IBSI chapter 1 "Grey level run length based
//! features" (TP0I): 16 features, six aggregation methods.
//!
//! Matrix construction ([`matrix`], [`volume_matrices`], [`slice_matrices`]) is separate from
//! the IBSI feature formulas ([`ibsi_values`]) so that other definitions (PyRadiomics) can reuse
//! the matrices with their own formulas and weighting.
//!
//! A run is a maximal sequence of ROI voxels with the same level along a direction; voxels
//! outside the ROI intensity mask break runs. Each matrix carries `N_v`, the number of ROI
//! voxels it covers, which IBSI sums when matrices are merged (run percentage).

use std::ops::Range;

use ndarray::{Array3, ArrayView2};

use super::directional::{self, DirectionalFamily, Grid};
use crate::{Aggregation, Feature, RadiomicsError};

pub use super::directional::{DIRECTIONS_2D, DIRECTIONS_3D, MAX_LEVELS};

/// The 16 IBSI GLRLM features in the order [`ibsi_values`] returns them: `(name, IBSI code)`.
/// Names are the IBSI labels without `feat_` (e.g. `rlm_sre` for `F_rlm.sre`).
pub const FEATURES: [(&str, &str); 16] = [
    ("rlm_sre", "22OV"),
    ("rlm_lre", "W4KF"),
    ("rlm_lgre", "V3SW"),
    ("rlm_hgre", "G3QZ"),
    ("rlm_srlge", "HTZT"),
    ("rlm_srhge", "GD3A"),
    ("rlm_lrlge", "IVPO"),
    ("rlm_lrhge", "3KUM"),
    ("rlm_glnu", "R5YN"),
    ("rlm_glnu_norm", "OVBL"),
    ("rlm_rlnu", "W92Y"),
    ("rlm_rlnu_norm", "IC23"),
    ("rlm_r_perc", "9ZK5"),
    ("rlm_gl_var", "8CE5"),
    ("rlm_rl_var", "SXLW"),
    ("rlm_rl_entr", "HJ9O"),
];

/// A grey level run length matrix: `n_levels × max_run` counts, row-major, cell `(i, j)`
/// (level `i` in `1..=n_levels`, run length `j` in `1..=max_run`) at
/// `(i - 1) * max_run + (j - 1)`, with `N_v`, the ROI voxels the runs were taken from.
#[derive(Debug, Clone, PartialEq)]
pub struct Glrlm {
    n_levels: usize,
    max_run: usize,
    counts: Vec<f64>,
    n_voxels: f64,
}

impl Glrlm {
    /// A matrix without runs or voxels.
    pub fn zeros(n_levels: usize) -> Glrlm {
        Glrlm {
            n_levels,
            max_run: 0,
            counts: Vec::new(),
            n_voxels: 0.0,
        }
    }

    /// Builds a matrix from row-major counts; `None` unless `counts.len() == n_levels·max_run`.
    pub fn from_counts(
        n_levels: usize,
        max_run: usize,
        counts: Vec<f64>,
        n_voxels: f64,
    ) -> Option<Glrlm> {
        (n_levels.checked_mul(max_run) == Some(counts.len())).then_some(Glrlm {
            n_levels,
            max_run,
            counts,
            n_voxels,
        })
    }

    /// Number of grey levels (rows).
    pub fn n_levels(&self) -> usize {
        self.n_levels
    }

    /// Number of run lengths (columns): the longest run counted, not the longest possible.
    pub fn max_run(&self) -> usize {
        self.max_run
    }

    /// The counts, row-major.
    pub fn counts(&self) -> &[f64] {
        &self.counts
    }

    /// The counts as an `n_levels × max_run` array (row `l - 1` is level `l`, column `r - 1`
    /// run length `r`).
    pub fn view(&self) -> ArrayView2<'_, f64> {
        ArrayView2::from_shape((self.n_levels, self.max_run), &self.counts)
            .unwrap_or_else(|_| ArrayView2::from_shape((0, 0), &[]).expect("empty view"))
    }

    /// Number of runs of level `level` with length `run` (both 1-based); 0 outside the matrix.
    pub fn get(&self, level: usize, run: usize) -> f64 {
        if level == 0 || run == 0 || level > self.n_levels || run > self.max_run {
            return 0.0;
        }
        self.counts[(level - 1) * self.max_run + (run - 1)]
    }

    /// `N_v`: ROI voxels covered (summed over merged matrices).
    pub fn n_voxels(&self) -> f64 {
        self.n_voxels
    }

    /// `N_s`: total number of runs.
    pub fn total(&self) -> f64 {
        self.counts.iter().sum()
    }

    /// Whether the matrix has no runs.
    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&c| c == 0.0)
    }

    /// Adds `other`'s runs and voxel count (IBSI matrix merging), widening as needed.
    pub fn add(&mut self, other: &Glrlm) {
        if other.n_levels > self.n_levels || other.max_run > self.max_run {
            let (n, r) = (
                self.n_levels.max(other.n_levels),
                self.max_run.max(other.max_run),
            );
            let mut counts = vec![0.0; n * r];
            for i in 0..self.n_levels {
                counts[i * r..i * r + self.max_run]
                    .copy_from_slice(&self.counts[i * self.max_run..(i + 1) * self.max_run]);
            }
            self.n_levels = n;
            self.max_run = r;
            self.counts = counts;
        }
        let r = self.max_run;
        for i in 0..other.n_levels {
            let src = &other.counts[i * other.max_run..(i + 1) * other.max_run];
            for (d, &c) in self.counts[i * r..i * r + other.max_run]
                .iter_mut()
                .zip(src)
            {
                *d += c;
            }
        }
        self.n_voxels += other.n_voxels;
    }
}

/// The GLRLM along `direction` `(dk, dj, di)` (any non-zero vector; runs along `d` and `-d`
/// are the same) over the whole array or, with `slice`, over that slice `k` alone. Levels
/// outside `1..=n_levels` are outside the ROI.
pub fn matrix(
    levels: &Array3<u32>,
    n_levels: usize,
    direction: [isize; 3],
    slice: Option<usize>,
) -> Result<Glrlm, RadiomicsError> {
    directional::check_levels(n_levels)?;
    let grid = Grid::new(levels, n_levels);
    Ok(count(&grid, n_levels, direction, grid.slice_range(slice)))
}

/// The 13 3D GLRLMs in [`DIRECTIONS_3D`] order (the first four are the in-plane directions,
/// counted over all slices).
pub fn volume_matrices(
    levels: &Array3<u32>,
    n_levels: usize,
) -> Result<Vec<Glrlm>, RadiomicsError> {
    use rayon::prelude::*;
    directional::check_levels(n_levels)?;
    let grid = Grid::new(levels, n_levels);
    Ok(DIRECTIONS_3D
        .par_iter()
        .map(|&d| count(&grid, n_levels, d, 0..grid.dims[0]))
        .collect())
}

/// The four 2D GLRLMs of slice `slice`, in [`DIRECTIONS_2D`] order.
pub fn slice_matrices(
    levels: &Array3<u32>,
    n_levels: usize,
    slice: usize,
) -> Result<Vec<Glrlm>, RadiomicsError> {
    directional::check_levels(n_levels)?;
    let grid = Grid::new(levels, n_levels);
    let k = grid.slice_range(Some(slice));
    Ok(DIRECTIONS_2D
        .iter()
        .map(|&d| count(&grid, n_levels, d, k.clone()))
        .collect())
}

/// Counts the runs along `direction` within slices `k_range` of the grid by walking every line
/// parallel to the direction once from its first voxel: O(voxels) per direction, no per-voxel
/// state beyond the current run.
fn count(grid: &Grid, n_levels: usize, direction: [isize; 3], k_range: Range<usize>) -> Glrlm {
    let [_, nj, ni] = grid.dims;
    let mut m = Glrlm::zeros(n_levels);
    m.n_voxels = grid.voxels_in(k_range.clone()) as f64;
    if direction == [0, 0, 0] || k_range.is_empty() || nj == 0 || ni == 0 {
        return m;
    }
    let bounds = [k_range.clone(), 0..nj, 0..ni];
    // A component at least as long as its axis leaves the grid in one step, like the axis
    // length itself: clamping keeps the flat stride small whatever the caller passes.
    let d: [isize; 3] = std::array::from_fn(|a| {
        direction[a].clamp(-(bounds[a].len() as isize), bounds[a].len() as isize)
    });
    let stride = d[0] * (nj * ni) as isize + d[1] * ni as isize + d[2];
    let max_run = bounds.iter().map(|b| b.len()).max().unwrap_or(0);
    let w = max_run + 1;
    // Run length r of level l lands in cell l·w + r. Row 0 takes the "runs" of voxels outside
    // the ROI, so the walk records every run without testing its level.
    let mut scratch = vec![0u64; (n_levels + 1) * w];

    // Steps that stay inside `b` from `x` along `step`.
    let steps = |x: usize, b: &Range<usize>, step: isize| -> usize {
        match step.signum() {
            1 => (b.end - 1 - x) / step as usize,
            -1 => (x - b.start) / step.unsigned_abs(),
            _ => usize::MAX,
        }
    };
    // Whether `x - step` is inside `b`.
    let before_inside = |x: usize, b: &Range<usize>, step: isize| -> bool {
        let p = x as isize - step;
        p >= b.start as isize && p < b.end as isize
    };
    for k in k_range {
        for j in 0..nj {
            // Lines start where the previous voxel along the direction is off the grid: the
            // whole row when the previous row is, else the first or last |di| voxels.
            let starts = if before_inside(k, &bounds[0], d[0]) && before_inside(j, &bounds[1], d[1])
            {
                let n = d[2].unsigned_abs().min(ni);
                if d[2] > 0 {
                    0..n
                } else {
                    ni - n..ni
                }
            } else {
                0..ni
            };
            let n_row = steps(k, &bounds[0], d[0]).min(steps(j, &bounds[1], d[1]));
            for i in starts {
                let n = n_row.min(steps(i, &bounds[2], d[2])) + 1;
                let mut idx = ((k * nj + j) * ni + i) as isize;
                let (mut cur, mut len) = (0u32, 0usize);
                for _ in 0..n {
                    let a = grid.data[idx as usize];
                    if a != cur {
                        scratch[cur as usize * w + len] += 1;
                        cur = a;
                        len = 0;
                    }
                    len += 1;
                    idx += stride;
                }
                scratch[cur as usize * w + len] += 1;
            }
        }
    }
    // Keep only the run lengths that occur: per-slice matrices stay small and the feature
    // loops do not scan empty columns.
    let longest = (1..w)
        .rev()
        .find(|&r| (1..=n_levels).any(|l| scratch[l * w + r] != 0))
        .unwrap_or(0);
    m.max_run = longest;
    m.counts = vec![0.0; n_levels * longest];
    for l in 1..=n_levels {
        for r in 1..=longest {
            m.counts[(l - 1) * longest + r - 1] = scratch[l * w + r] as f64;
        }
    }
    m
}

/// The 16 IBSI GLRLM features of one matrix, in [`FEATURES`] order; all NaN for a matrix
/// without runs. Run percentage is NaN when `N_v` is 0.
pub fn ibsi_values(m: &Glrlm) -> [f64; 16] {
    let (ng, nr) = (m.n_levels, m.max_run);
    let ns = m.total();
    if ns <= 0.0 || !ns.is_finite() {
        return [f64::NAN; 16];
    }
    let mut rows = vec![0.0; ng];
    let mut cols = vec![0.0; nr];
    let (mut srlge, mut srhge, mut lrlge, mut lrhge, mut entropy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for a in 0..ng {
        let row = &m.counts[a * nr..(a + 1) * nr];
        let i2 = ((a + 1) * (a + 1)) as f64;
        for (r, &c) in row.iter().enumerate() {
            if c == 0.0 {
                continue;
            }
            let j2 = ((r + 1) * (r + 1)) as f64;
            rows[a] += c;
            cols[r] += c;
            srlge += c / (i2 * j2);
            srhge += c * i2 / j2;
            lrlge += c * j2 / i2;
            lrhge += c * i2 * j2;
            let p = c / ns;
            entropy -= p * p.log2();
        }
    }
    let (mut lgre, mut hgre, mut glnu, mut gl_mean) = (0.0, 0.0, 0.0, 0.0);
    for (a, &c) in rows.iter().enumerate() {
        let i = (a + 1) as f64;
        lgre += c / (i * i);
        hgre += c * i * i;
        glnu += c * c;
        gl_mean += i * c / ns;
    }
    let (mut sre, mut lre, mut rlnu, mut rl_mean) = (0.0, 0.0, 0.0, 0.0);
    for (r, &c) in cols.iter().enumerate() {
        let j = (r + 1) as f64;
        sre += c / (j * j);
        lre += c * j * j;
        rlnu += c * c;
        rl_mean += j * c / ns;
    }
    let gl_var: f64 = rows
        .iter()
        .enumerate()
        .map(|(a, &c)| ((a + 1) as f64 - gl_mean).powi(2) * c / ns)
        .sum();
    let rl_var: f64 = cols
        .iter()
        .enumerate()
        .map(|(r, &c)| ((r + 1) as f64 - rl_mean).powi(2) * c / ns)
        .sum();
    let r_perc = if m.n_voxels > 0.0 {
        ns / m.n_voxels
    } else {
        f64::NAN
    };
    [
        sre / ns,
        lre / ns,
        lgre / ns,
        hgre / ns,
        srlge / ns,
        srhge / ns,
        lrlge / ns,
        lrhge / ns,
        glnu / ns,
        glnu / (ns * ns),
        rlnu / ns,
        rlnu / (ns * ns),
        r_perc,
        gl_var,
        rl_var,
        entropy,
    ]
}

/// IBSI GLRLM features for each requested directional aggregation (BTW3, SUJT, JJUI, ZW7Z,
/// ITBB, IAZD; the non-directional methods are skipped), 16 features per aggregation in
/// [`FEATURES`] order with `aggregation: Some(a)`.
///
/// `levels`: discretised levels, 0 outside the ROI intensity mask; levels above `n_levels` are
/// treated as outside. Merged matrices sum their `N_v`. Averaging methods take the mean over
/// matrices where a feature is defined (NaN values skipped, as in the IBSI reference
/// implementation); slices without ROI voxels are skipped. An empty ROI, or more than
/// [`MAX_LEVELS`] levels, gives NaN values.
pub fn features(
    levels: &Array3<u32>,
    n_levels: usize,
    aggregations: &[Aggregation],
) -> Vec<Feature> {
    if directional::check_levels(n_levels).is_err() {
        return directional::nan_features(&FEATURES, aggregations);
    }
    let grid = Grid::new(levels, n_levels);
    let family = IbsiGlrlm { n_levels };
    directional::to_features(
        &FEATURES,
        directional::aggregate(&family, &grid, aggregations),
    )
}

/// The IBSI GLRLM family for the aggregation driver.
struct IbsiGlrlm {
    n_levels: usize,
}

impl DirectionalFamily for IbsiGlrlm {
    type Matrix = Glrlm;

    fn zero(&self) -> Glrlm {
        Glrlm::zeros(self.n_levels)
    }

    fn count(&self, grid: &Grid, direction: [isize; 3], k_range: Range<usize>) -> Glrlm {
        count(grid, self.n_levels, direction, k_range)
    }

    fn merge(&self, into: &mut Glrlm, other: &Glrlm) {
        into.add(other);
    }

    fn values(&self, matrix: &Glrlm) -> Vec<f64> {
        ibsi_values(matrix).to_vec()
    }

    fn n_values(&self) -> usize {
        FEATURES.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Aggregation; 6] = [
        Aggregation::Slice2DAveraged,
        Aggregation::Slice2DMerged,
        Aggregation::Volume25DDirectionMerged,
        Aggregation::Volume25DMerged,
        Aggregation::Volume3DAveraged,
        Aggregation::Volume3DMerged,
    ];

    fn value(features: &[Feature], name: &str, a: Aggregation) -> f64 {
        features
            .iter()
            .find(|f| f.name == name && f.aggregation == Some(a))
            .map(|f| f.value)
            .unwrap()
    }

    /// The 2D example of the IBSI manual (figure "figGLRLM1"): grey levels
    /// 1 2 2 3 / 1 2 3 3 / 4 2 4 1 / 4 1 2 3.
    fn manual_example() -> Array3<u32> {
        Array3::from_shape_vec(
            (1, 4, 4),
            vec![1, 2, 2, 3, 1, 2, 3, 3, 4, 2, 4, 1, 4, 1, 2, 3],
        )
        .unwrap()
    }

    #[test]
    fn manual_example_matrices() {
        let a = manual_example();
        // 0°: rows  1 | 2 2 | 3 / 1 | 2 | 3 3 / 4 | 2 | 4 | 1 / 4 | 1 | 2 | 3.
        let m = matrix(&a, 4, [0, 0, 1], None).unwrap();
        assert_eq!(m.max_run(), 2);
        #[rustfmt::skip]
        let expected = [
            4.0, 0.0,
            3.0, 1.0,
            2.0, 1.0,
            3.0, 0.0,
        ];
        assert_eq!(m.counts(), &expected);
        assert_eq!(m.n_voxels(), 16.0);
        // 90°: columns 1 1 4 4 / 2 2 2 1 / 2 3 4 2 / 3 3 1 3.
        let m = matrix(&a, 4, [0, 1, 0], None).unwrap();
        assert_eq!(m.get(1, 2), 1.0);
        assert_eq!(m.get(4, 2), 1.0);
        assert_eq!(m.get(2, 3), 1.0);
        assert_eq!(m.get(3, 2), 1.0);
        assert_eq!(m.total(), 11.0);
        // The opposite direction gives the same runs.
        assert_eq!(m, matrix(&a, 4, [0, -1, 0], None).unwrap());
        assert_eq!(
            matrix(&a, 4, [0, 1, 1], None).unwrap(),
            matrix(&a, 4, [0, -1, -1], None).unwrap()
        );
    }

    #[test]
    fn hand_checked_values() {
        // One row 1 1 2: runs (1, length 2) and (2, length 1).
        let a = Array3::from_shape_vec((1, 1, 3), vec![1u32, 1, 2]).unwrap();
        let v = ibsi_values(&matrix(&a, 2, [0, 0, 1], None).unwrap());
        let get = |name: &str| v[FEATURES.iter().position(|f| f.0 == name).unwrap()];
        assert_eq!(get("rlm_sre"), (0.25 + 1.0) / 2.0);
        assert_eq!(get("rlm_lre"), (4.0 + 1.0) / 2.0);
        assert_eq!(get("rlm_lgre"), (1.0 + 0.25) / 2.0);
        assert_eq!(get("rlm_hgre"), (1.0 + 4.0) / 2.0);
        assert_eq!(get("rlm_srlge"), (1.0 / 4.0 + 1.0 / 4.0) / 2.0);
        assert_eq!(get("rlm_srhge"), (1.0 / 4.0 + 4.0) / 2.0);
        assert_eq!(get("rlm_lrlge"), (4.0 + 1.0 / 4.0) / 2.0);
        assert_eq!(get("rlm_lrhge"), (4.0 + 4.0) / 2.0);
        assert_eq!(get("rlm_glnu"), 1.0);
        assert_eq!(get("rlm_glnu_norm"), 0.5);
        assert_eq!(get("rlm_rlnu"), 1.0);
        assert_eq!(get("rlm_rlnu_norm"), 0.5);
        assert_eq!(get("rlm_r_perc"), 2.0 / 3.0);
        assert_eq!(get("rlm_gl_var"), 0.25);
        assert_eq!(get("rlm_rl_var"), 0.25);
        assert_eq!(get("rlm_rl_entr"), 1.0);
    }

    #[test]
    fn runs_break_outside_roi_and_respect_slices() {
        // 2 2 0 2 in one row: two runs of 2 (lengths 2 and 1).
        let a = Array3::from_shape_vec((1, 1, 4), vec![2u32, 2, 0, 2]).unwrap();
        let m = matrix(&a, 2, [0, 0, 1], None).unwrap();
        assert_eq!((m.get(2, 2), m.get(2, 1), m.n_voxels()), (1.0, 1.0, 3.0));
        // A column across slices is one run in 3D, three runs when restricted to a slice.
        let b = Array3::from_elem((3, 1, 1), 1u32);
        assert_eq!(matrix(&b, 1, [1, 0, 0], None).unwrap().get(1, 3), 1.0);
        assert_eq!(matrix(&b, 1, [1, 0, 0], Some(1)).unwrap().get(1, 1), 1.0);
        // Slice and volume in-plane matrices agree.
        let c = Array3::from_shape_fn((3, 4, 5), |(k, j, i)| ((k + j * i) % 3) as u32 + 1);
        let vol = volume_matrices(&c, 3).unwrap();
        let mut summed = vec![Glrlm::zeros(3); 4];
        for k in 0..3 {
            for (s, m) in summed.iter_mut().zip(slice_matrices(&c, 3, k).unwrap()) {
                s.add(&m);
            }
        }
        for (v, s) in vol.iter().zip(&summed) {
            assert_eq!(v.view(), s.view());
            assert_eq!(v.n_voxels(), s.n_voxels());
        }
    }

    #[test]
    fn every_direction_covers_every_voxel() {
        let c = Array3::from_shape_fn((4, 5, 6), |(k, j, i)| ((k * 5 + j * 2 + i) % 4) as u32 + 1);
        for m in volume_matrices(&c, 4).unwrap() {
            let voxels: f64 = m
                .view()
                .indexed_iter()
                .map(|((_, r), &n)| (r + 1) as f64 * n)
                .sum();
            assert_eq!(voxels, 120.0);
        }
    }

    #[test]
    fn degenerate_inputs() {
        let mut a = Array3::<u32>::zeros((3, 3, 3));
        a[[1, 1, 1]] = 2;
        // A single voxel: one run of length 1 in every matrix.
        let f = features(&a, 4, &ALL);
        assert_eq!(f.len(), 6 * 16);
        for agg in ALL {
            assert_eq!(value(&f, "rlm_sre", agg), 1.0);
            assert_eq!(value(&f, "rlm_r_perc", agg), 1.0);
            assert_eq!(value(&f, "rlm_gl_var", agg), 0.0);
            assert_eq!(value(&f, "rlm_rl_entr", agg), 0.0);
        }
        for empty in [Array3::zeros((0, 0, 0)), Array3::zeros((2, 2, 2))] {
            assert!(features(&empty, 4, &ALL).iter().all(|f| f.value.is_nan()));
        }
        // Flat cube: every line is one run.
        let flat = Array3::from_elem((2, 3, 3), 1u32);
        let f = features(&flat, 1, &ALL);
        assert!(value(&f, "rlm_rl_var", Aggregation::Volume3DMerged) >= 0.0);
        assert_eq!(value(&f, "rlm_gl_var", Aggregation::Volume3DMerged), 0.0);
        // Garbage settings.
        assert!(features(&flat, MAX_LEVELS + 1, &ALL)
            .iter()
            .all(|f| f.value.is_nan()));
        assert!(features(&flat, 0, &ALL).iter().all(|f| f.value.is_nan()));
        assert!(matrix(&flat, 1, [0, 0, 0], None).unwrap().is_empty());
        let far = matrix(&flat, 1, [isize::MIN, 0, isize::MAX], None).unwrap();
        assert_eq!(far.get(1, 1), 18.0);
    }
}
