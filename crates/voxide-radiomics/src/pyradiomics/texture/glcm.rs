//! PyRadiomics GLCM (`glcm.py`, C `calculate_glcm`).
//!
//! Per mono-directional angle `a` (distances from the settings), `P[i, j]` counts ROI voxels of
//! level `i` whose neighbour at `+a` is an ROI voxel of level `j`; rows and columns are the
//! levels present in the ROI. Each angle's matrix is added to its transpose when symmetrical,
//! then either merged into one matrix weighted by `weightingNorm`, or kept per angle with
//! all-zero angles dropped (when there is more than one). Features are computed per angle on
//! `p = P / ΣP` and averaged with `nanmean` (`JointAverage` with a plain mean).

use super::eigen::general_eigenvalues;
use super::{angles, check_cells, force_2d_axis, nanmean, offset_mm, Lattice, TextureInput, EPS};
use crate::RadiomicsError;

/// GLCM feature names in PyRadiomics' `getFeatureNames()` order, with their deprecation flag.
pub(super) const FEATURES: &[(&str, bool)] = &[
    ("Autocorrelation", false),
    ("ClusterProminence", false),
    ("ClusterShade", false),
    ("ClusterTendency", false),
    ("Contrast", false),
    ("Correlation", false),
    ("DifferenceAverage", false),
    ("DifferenceEntropy", false),
    ("DifferenceVariance", false),
    ("Dissimilarity", true),
    ("Homogeneity1", true),
    ("Homogeneity2", true),
    ("Id", false),
    ("Idm", false),
    ("Idmn", false),
    ("Idn", false),
    ("Imc1", false),
    ("Imc2", false),
    ("InverseVariance", false),
    ("JointAverage", false),
    ("JointEnergy", false),
    ("JointEntropy", false),
    ("MCC", false),
    ("MaximumProbability", false),
    ("SumAverage", false),
    ("SumEntropy", false),
    ("SumSquares", false),
    ("SumVariance", true),
];

const N: usize = 28;
const AUTOCORRELATION: usize = 0;
const CLUSTER_PROMINENCE: usize = 1;
const CLUSTER_SHADE: usize = 2;
const CLUSTER_TENDENCY: usize = 3;
const CONTRAST: usize = 4;
const CORRELATION: usize = 5;
const DIFFERENCE_AVERAGE: usize = 6;
const DIFFERENCE_ENTROPY: usize = 7;
const DIFFERENCE_VARIANCE: usize = 8;
const ID: usize = 12;
const IDM: usize = 13;
const IDMN: usize = 14;
const IDN: usize = 15;
const IMC1: usize = 16;
const IMC2: usize = 17;
const INVERSE_VARIANCE: usize = 18;
const JOINT_AVERAGE: usize = 19;
const JOINT_ENERGY: usize = 20;
const JOINT_ENTROPY: usize = 21;
const MCC: usize = 22;
const MAXIMUM_PROBABILITY: usize = 23;
const SUM_AVERAGE: usize = 24;
const SUM_ENTROPY: usize = 25;
const SUM_SQUARES: usize = 26;

/// All GLCM values in [`FEATURES`] order (deprecated ones NaN). `wanted` flags the features
/// asked for; only `MCC` (eigenvalues per angle) is skipped when not wanted.
pub(super) fn values(
    lattice: &Lattice,
    input: &TextureInput,
    wanted: &[bool],
) -> Result<Vec<f64>, RadiomicsError> {
    let settings = input.settings;
    let offsets = angles(
        lattice.shape,
        &settings.distances,
        force_2d_axis(settings),
        false,
    )?;
    let n = lattice.n_present();
    check_cells("GLCM", n, n)?;
    let want_mcc = wanted.get(MCC).copied().unwrap_or(false);
    let tables = PairTables::new(&lattice.levels);
    let context = AngleContext {
        g: &lattice.ivector,
        ng: f64::from(lattice.max_level()),
        tables: &tables,
        want_mcc,
    };
    let mut rows: Vec<[f64; N]> = Vec::new();
    match settings.weighting_norm.as_deref() {
        Some(norm) => {
            let mut merged = vec![0.0; n * n];
            for &a in &offsets {
                let w = weight(norm, offset_mm(a, input.spacing));
                let p = count(lattice, a, settings.symmetrical_glcm);
                for (m, v) in merged.iter_mut().zip(&p) {
                    *m += v * w;
                }
            }
            rows.push(context.values(&merged));
        }
        None => {
            for &a in &offsets {
                let p = count(lattice, a, settings.symmetrical_glcm);
                if offsets.len() > 1 && p.iter().all(|&v| v == 0.0) {
                    continue;
                }
                rows.push(context.values(&p));
            }
        }
    }
    let mut out: Vec<f64> = (0..N).map(|c| nanmean(rows.iter().map(|r| r[c]))).collect();
    // numpy mean (NaN propagates; NaN over no angle).
    out[JOINT_AVERAGE] = if rows.is_empty() {
        f64::NAN
    } else {
        rows.iter().map(|r| r[JOINT_AVERAGE]).sum::<f64>() / rows.len() as f64
    };
    if n < 2 {
        // PyRadiomics returns 1 for a flat region (fewer than 2 grey levels).
        out[MCC] = 1.0;
    }
    for (i, &(_, deprecated)) in FEATURES.iter().enumerate() {
        if deprecated {
            out[i] = f64::NAN;
        }
    }
    Ok(out)
}

/// PyRadiomics' GLCM weight of an offset whose per-axis lengths in mm are `mm`.
fn weight(norm: &str, mm: [f64; 3]) -> f64 {
    match norm {
        "infinity" => (-mm.iter().copied().fold(f64::NEG_INFINITY, f64::max).powi(2)).exp(),
        "euclidean" => (-mm.iter().map(|v| v * v).sum::<f64>()).exp(),
        "manhattan" => (-mm.iter().sum::<f64>().powi(2)).exp(),
        // "no_weighting", and unknown norms (PyRadiomics warns and uses 1).
        _ => 1.0,
    }
}

/// The co-occurrence counts of one offset (row-major `Ngp × Ngp`, rows = centre level),
/// symmetrised if asked.
fn count(lattice: &Lattice, offset: [isize; 3], symmetrical: bool) -> Vec<f64> {
    let n = lattice.n_present();
    let mut p = vec![0.0; n * n];
    let slot = &lattice.slot;
    lattice.for_each_pair_row(offset, |v, w, len| {
        for (&ci, &cj) in slot[v..v + len].iter().zip(&slot[w..w + len]) {
            if ci != 0 && cj != 0 {
                p[(ci as usize - 1) * n + cj as usize - 1] += 1.0;
            }
        }
    });
    if symmetrical {
        for i in 0..n {
            for j in 0..i {
                let s = p[i * n + j] + p[j * n + i];
                p[i * n + j] = s;
                p[j * n + i] = s;
            }
            p[i * n + i] *= 2.0;
        }
    }
    p
}

/// For every pair of present levels `(g_a, g_b)`: the bin of `|g_a − g_b|` among the distinct
/// differences and of `g_a + g_b` among the distinct sums (PyRadiomics' `pxSuby` / `pxAddy`
/// over `k = 0..Ng−1` / `2..2Ng`: the bins of values no pair reaches stay 0 and add nothing to
/// any feature).
#[derive(Debug)]
struct PairTables {
    diff_bin: Vec<u32>,
    diff_k: Vec<f64>,
    sum_bin: Vec<u32>,
    sum_k: Vec<f64>,
}

impl PairTables {
    fn new(levels: &[u32]) -> PairTables {
        let n = levels.len();
        let mut diffs = Vec::with_capacity(n * n);
        let mut sums = Vec::with_capacity(n * n);
        for &a in levels {
            for &b in levels {
                diffs.push(u64::from(a.abs_diff(b)));
                sums.push(u64::from(a) + u64::from(b));
            }
        }
        let (diff_bin, diff_k) = bins(&diffs);
        let (sum_bin, sum_k) = bins(&sums);
        PairTables {
            diff_bin,
            diff_k,
            sum_bin,
            sum_k,
        }
    }
}

/// Maps each key to the index of its value among the distinct keys (ascending).
fn bins(keys: &[u64]) -> (Vec<u32>, Vec<f64>) {
    let max = keys.iter().copied().max().unwrap_or(0);
    if max as usize <= 4 * keys.len() + 1024 {
        let mut table = vec![u32::MAX; max as usize + 1];
        for &k in keys {
            table[k as usize] = 0;
        }
        let mut values = Vec::new();
        for (k, t) in table.iter_mut().enumerate() {
            if *t == 0 {
                *t = values.len() as u32;
                values.push(k as f64);
            }
        }
        (keys.iter().map(|&k| table[k as usize]).collect(), values)
    } else {
        let mut distinct = keys.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let bin = keys
            .iter()
            .map(|k| distinct.binary_search(k).unwrap_or(0) as u32)
            .collect();
        (bin, distinct.iter().map(|&k| k as f64).collect())
    }
}

/// What every angle's feature computation shares.
struct AngleContext<'a> {
    /// Present grey levels as f64.
    g: &'a [f64],
    /// PyRadiomics' `Ng`: the largest level present.
    ng: f64,
    tables: &'a PairTables,
    want_mcc: bool,
}

impl AngleContext<'_> {
    /// The per-angle feature values of one (weighted) count matrix `counts`.
    fn values(&self, counts: &[f64]) -> [f64; N] {
        let mut out = [f64::NAN; N];
        let total: f64 = counts.iter().sum();
        if total == 0.0 || !total.is_finite() {
            // PyRadiomics divides by NaN: every feature of this angle is NaN.
            return out;
        }
        let g = self.g;
        let n = g.len();
        let p: Vec<f64> = counts.iter().map(|&c| c / total).collect();
        let mut px = vec![0.0; n];
        let mut py = vec![0.0; n];
        for i in 0..n {
            for j in 0..n {
                let v = p[i * n + j];
                px[i] += v;
                py[j] += v;
            }
        }
        let ux: f64 = g.iter().zip(&px).map(|(gi, v)| gi * v).sum();
        let uy: f64 = g.iter().zip(&py).map(|(gj, v)| gj * v).sum();
        let mut p_diff = vec![0.0; self.tables.diff_k.len()];
        let mut p_sum = vec![0.0; self.tables.sum_k.len()];
        let (mut autocorrelation, mut prominence, mut shade, mut tendency) = (0.0, 0.0, 0.0, 0.0);
        let (mut contrast, mut corm, mut sigx2, mut sigy2) = (0.0, 0.0, 0.0, 0.0);
        let (mut energy, mut hxy, mut hxy1, mut max_p) = (0.0, 0.0, 0.0, 0.0f64);
        for i in 0..n {
            let gi = g[i];
            for j in 0..n {
                let v = p[i * n + j];
                if v == 0.0 {
                    continue;
                }
                let gj = g[j];
                autocorrelation += v * gi * gj;
                let t = gi + gj - ux - uy;
                let t2 = t * t;
                tendency += v * t2;
                shade += v * t2 * t;
                prominence += v * t2 * t2;
                contrast += v * (gi - gj) * (gi - gj);
                corm += v * (gi - ux) * (gj - uy);
                sigx2 += v * (gi - ux) * (gi - ux);
                sigy2 += v * (gj - uy) * (gj - uy);
                energy += v * v;
                hxy -= v * (v + EPS).log2();
                hxy1 -= v * (px[i] * py[j] + EPS).log2();
                max_p = max_p.max(v);
                p_diff[self.tables.diff_bin[i * n + j] as usize] += v;
                p_sum[self.tables.sum_bin[i * n + j] as usize] += v;
            }
        }
        let mut hxy2 = 0.0;
        for &a in &px {
            for &b in &py {
                let q = a * b;
                hxy2 -= q * (q + EPS).log2();
            }
        }
        let entropy = |v: &[f64]| -> f64 { -v.iter().map(|&q| q * (q + EPS).log2()).sum::<f64>() };
        let hx = entropy(&px);
        let hy = entropy(&py);

        let ng = self.ng;
        let (mut da, mut de, mut id, mut idm, mut idmn, mut idn, mut inv_var) =
            (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for (&k, &v) in self.tables.diff_k.iter().zip(&p_diff) {
            da += k * v;
            de -= v * (v + EPS).log2();
            id += v / (1.0 + k);
            idm += v / (1.0 + k * k);
            idmn += v / (1.0 + k * k / (ng * ng));
            idn += v / (1.0 + k / ng);
            if k > 0.0 {
                inv_var += v / (k * k);
            }
        }
        let dv: f64 = self
            .tables
            .diff_k
            .iter()
            .zip(&p_diff)
            .map(|(&k, &v)| (k - da) * (k - da) * v)
            .sum();
        let (mut sa, mut se) = (0.0, 0.0);
        for (&k, &v) in self.tables.sum_k.iter().zip(&p_sum) {
            sa += k * v;
            se -= v * (v + EPS).log2();
        }

        out[AUTOCORRELATION] = autocorrelation;
        out[CLUSTER_PROMINENCE] = prominence;
        out[CLUSTER_SHADE] = shade;
        out[CLUSTER_TENDENCY] = tendency;
        out[CONTRAST] = contrast;
        let sig = sigx2.sqrt() * sigy2.sqrt();
        out[CORRELATION] = if sig == 0.0 { 1.0 } else { corm / (sig + EPS) };
        out[DIFFERENCE_AVERAGE] = da;
        out[DIFFERENCE_ENTROPY] = de;
        out[DIFFERENCE_VARIANCE] = dv;
        out[ID] = id;
        out[IDM] = idm;
        out[IDMN] = idmn;
        out[IDN] = idn;
        let div = hx.max(hy);
        out[IMC1] = if div == 0.0 { 0.0 } else { (hxy - hxy1) / div };
        out[IMC2] = if hxy2 == hxy {
            0.0
        } else {
            // NaN when HXY > HXY2, as numpy's power of a negative base.
            (1.0 - (-2.0 * (hxy2 - hxy)).exp()).sqrt()
        };
        out[INVERSE_VARIANCE] = inv_var;
        out[JOINT_AVERAGE] = ux;
        out[JOINT_ENERGY] = energy;
        out[JOINT_ENTROPY] = hxy;
        out[MAXIMUM_PROBABILITY] = max_p;
        out[SUM_AVERAGE] = sa;
        out[SUM_ENTROPY] = se;
        out[SUM_SQUARES] = sigx2;
        if self.want_mcc {
            out[MCC] = mcc(&p, &px, &py);
        }
        out
    }
}

/// The maximal correlation coefficient of one normalised matrix, as PyRadiomics computes it:
/// `Q(i, j) = Σ_k p(i,k) p(j,k) / (px(i) py(k) + eps)`, its eigenvalues (complex in general,
/// sorted by real then imaginary part), and the real part of the complex square root of the
/// second largest. The `eps` matters: for a level with one voxel `px py` is about 1e-10, so
/// dropping it (to use a symmetric similar matrix) shifts MCC by ~1e-7.
fn mcc(p: &[f64], px: &[f64], py: &[f64]) -> f64 {
    let n = px.len();
    let mut q = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            q[i * n + j] = (0..n)
                .map(|k| p[i * n + k] * p[j * n + k] / (px[i] * py[k] + EPS))
                .sum();
        }
    }
    let mut eigenvalues = general_eigenvalues(&q, n);
    eigenvalues.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    if eigenvalues.len() < 2 {
        return f64::NAN;
    }
    let (re, im) = eigenvalues[eigenvalues.len() - 2];
    // Real part of the principal square root of re + i·im.
    ((re.hypot(im) + re) / 2.0).sqrt()
}
