//! PyRadiomics GLCM (`glcm.py`, C `calculate_glcm`).
//!
//! Per mono-directional angle `a` (distances from the settings), `P[i, j]` counts ROI voxels of
//! level `i` whose neighbour at `+a` is an ROI voxel of level `j`; rows and columns are the
//! levels present in the ROI. Each angle's matrix is added to its transpose when symmetrical,
//! then either merged into one matrix weighted by `weightingNorm`, or kept per angle with
//! all-zero angles dropped (when there is more than one). Features are computed per angle on
//! `p = P / ΣP` and averaged with `nanmean` (`JointAverage` with a plain mean).

use super::eigen::{dot, symmetric_eigenvalues};
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
    let n1 = n as u32 + 1;
    let row_slot: Vec<u32> = lattice.slot.iter().map(|&s| s * n1).collect();
    let mut rows: Vec<[f64; N]> = Vec::new();
    match settings.weighting_norm.as_deref() {
        Some(norm) => {
            let mut merged = vec![0.0; n * n];
            for &a in &offsets {
                let w = weight(norm, offset_mm(a, input.spacing));
                let p = count(lattice, &row_slot, a, settings.symmetrical_glcm);
                for (m, v) in merged.iter_mut().zip(&p) {
                    *m += v * w;
                }
            }
            rows.push(context.values(&merged));
        }
        None => {
            for &a in &offsets {
                let p = count(lattice, &row_slot, a, settings.symmetrical_glcm);
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
/// symmetrised if asked. `row_slot[v]` is `slot[v] × (Ngp + 1)`: counting into an
/// `(Ngp + 1)²` table whose row and column 0 collect the pairs touching non-ROI voxels keeps
/// the inner loop free of branches.
fn count(lattice: &Lattice, row_slot: &[u32], offset: [isize; 3], symmetrical: bool) -> Vec<f64> {
    let n = lattice.n_present();
    let n1 = n + 1;
    let cells = n1 * n1;
    // Four tables filled in turn: consecutive pairs of a smooth ROI often hit the same cell,
    // and one table would serialise on that cell's load-add-store.
    let mut tables = vec![0u32; 4 * cells];
    let slot = &lattice.slot;
    lattice.for_each_pair_row(offset, |v, w, len| {
        let rows = &row_slot[v..v + len];
        let cols = &slot[w..w + len];
        let (t0, rest) = tables.split_at_mut(cells);
        let (t1, rest) = rest.split_at_mut(cells);
        let (t2, t3) = rest.split_at_mut(cells);
        let mut r4 = rows.chunks_exact(4);
        let mut c4 = cols.chunks_exact(4);
        for (r, c) in (&mut r4).zip(&mut c4) {
            t0[(r[0] + c[0]) as usize] += 1;
            t1[(r[1] + c[1]) as usize] += 1;
            t2[(r[2] + c[2]) as usize] += 1;
            t3[(r[3] + c[3]) as usize] += 1;
        }
        for (&r, &c) in r4.remainder().iter().zip(c4.remainder()) {
            t0[(r + c) as usize] += 1;
        }
    });
    let table: Vec<u32> = (0..cells)
        .map(|k| tables[k] + tables[cells + k] + tables[2 * cells + k] + tables[3 * cells + k])
        .collect();
    let mut p = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            p[i * n + j] = f64::from(table[(i + 1) * n1 + j + 1]);
        }
    }
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
        // Logarithms dominate this function: for a symmetric matrix (the default) each is
        // computed once per pair {i, j} and mirrored (px and py then agree to rounding).
        let symmetric = (0..n).all(|i| (0..i).all(|j| p[i * n + j] == p[j * n + i]));
        // log2(px(i) py(j) + eps) for every cell with px, py > 0 (HXY1 and HXY2); the other
        // cells have p = 0 and px py = 0 and add nothing.
        let mut log_pxy = vec![0.0; n * n];
        let mut hxy2 = 0.0;
        for i in 0..n {
            if px[i] == 0.0 {
                continue;
            }
            for j in 0..n {
                if py[j] != 0.0 {
                    let q = px[i] * py[j];
                    let l = if symmetric && j < i {
                        log_pxy[j * n + i]
                    } else {
                        (q + EPS).log2()
                    };
                    log_pxy[i * n + j] = l;
                    hxy2 -= q * l;
                }
            }
        }
        // log2(p + eps) of the non-zero cells (HXY).
        let mut log_p = vec![0.0; n * n];
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
                let lp = if symmetric && j < i {
                    log_p[j * n + i]
                } else {
                    (v + EPS).log2()
                };
                log_p[i * n + j] = lp;
                hxy -= v * lp;
                hxy1 -= v * log_pxy[i * n + j];
                max_p = max_p.max(v);
                p_diff[self.tables.diff_bin[i * n + j] as usize] += v;
                p_sum[self.tables.sum_bin[i * n + j] as usize] += v;
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

/// The maximal correlation coefficient of one normalised matrix `p` (`n × n`) with marginals
/// `px`, `py`, as PyRadiomics defines it: the real part of the square root of the second
/// largest eigenvalue of `Q(i, j) = Σ_k p(i,k) p(j,k) / (px(i) py(k) + eps)` (numpy `eigvals`,
/// complex sort: by real part).
///
/// Rows and columns of levels absent from this angle (`px = 0`) are zero and add eigenvalues 0.
/// On the others, `M = Dx^½ Q Dx^-½` is symmetric but for the `eps` terms (without them,
/// `M(i,j) = Σ_k p(i,k) p(j,k) / (√(px(i) px(j)) py(k))`), so `M` is its symmetric part plus a
/// skew-symmetric part `K` of relative size `eps / (px py)` (up to ~1e-6 for a level of one
/// voxel in a 10⁵-voxel ROI: dropping `eps` would move MCC by ~1e-7). A skew perturbation moves
/// the eigenvalues of a symmetric matrix only at second order (`vᵀ K v = 0`), so the
/// eigenvalues of `(M + Mᵀ) / 2` — a symmetric problem, several times cheaper than `eigvals`'
/// Hessenberg QR — equal numpy's to ~1e-12.
fn mcc(p: &[f64], px: &[f64], py: &[f64]) -> f64 {
    let n = px.len();
    let active: Vec<usize> = (0..n).filter(|&i| px[i] > 0.0).collect();
    let m = active.len();
    // a(i, k) = p(i, k) / (px(i) py(k) + eps) for the active rows.
    let mut a = vec![0.0; m * n];
    for (r, &i) in active.iter().enumerate() {
        for k in 0..n {
            a[r * n + k] = p[i * n + k] / (px[i] * py[k] + EPS);
        }
    }
    let mut q = vec![0.0; m * m];
    for r in 0..m {
        for (c, &j) in active.iter().enumerate() {
            q[r * m + c] = dot(&a[r * n..(r + 1) * n], &p[j * n..(j + 1) * n]);
        }
    }
    let root: Vec<f64> = active.iter().map(|&i| px[i].sqrt()).collect();
    let mut s = vec![0.0; m * m];
    for r in 0..m {
        for c in 0..=r {
            let v = 0.5 * (root[r] / root[c] * q[r * m + c] + root[c] / root[r] * q[c * m + r]);
            s[r * m + c] = v;
            s[c * m + r] = v;
        }
    }
    let mut eigenvalues = symmetric_eigenvalues(&mut s, m);
    eigenvalues.resize(n, 0.0);
    eigenvalues.sort_by(|a, b| b.total_cmp(a));
    match eigenvalues.get(1) {
        Some(&v) if v > 0.0 => v.sqrt(),
        Some(_) => 0.0,
        None => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::super::eigen::general_eigenvalues;
    use super::*;

    /// PyRadiomics' MCC computed literally: `Q` with `eps`, general eigenvalues, complex sort,
    /// real part of the complex square root of the second largest.
    fn mcc_reference(p: &[f64], px: &[f64], py: &[f64]) -> f64 {
        let n = px.len();
        let mut q = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                q[i * n + j] = (0..n)
                    .map(|k| p[i * n + k] * p[j * n + k] / (px[i] * py[k] + EPS))
                    .sum();
            }
        }
        let mut ev = general_eigenvalues(&q, n);
        ev.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let (re, im) = ev[n - 2];
        ((re.hypot(im) + re) / 2.0).sqrt()
    }

    #[test]
    fn mcc_shortcut_matches_the_literal_definition() {
        let mut state: u64 = 99;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        for (n, sparsity, symmetric, tiny) in [
            (2, 0.0, true, false),
            (5, 0.3, true, false),
            (12, 0.6, true, true),
            (12, 0.2, false, true),
            (30, 0.5, true, true),
            (30, 0.0, false, false),
        ] {
            let mut p = vec![0.0; n * n];
            for v in p.iter_mut() {
                if next() >= sparsity {
                    *v = (next() * 1000.0).floor();
                }
            }
            if tiny {
                // A level seen once in a large ROI: px py ≈ 1e-12, where eps matters.
                p.iter_mut().take(n).for_each(|v| *v = 0.0);
                p[1] = 1.0;
                p.iter_mut().for_each(|v| *v *= 1e5);
                p[1] = 1.0;
            }
            if symmetric {
                for i in 0..n {
                    for j in 0..i {
                        let s = p[i * n + j] + p[j * n + i];
                        p[i * n + j] = s;
                        p[j * n + i] = s;
                    }
                }
            }
            // A level absent from this angle.
            for k in 0..n {
                p[(n - 1) * n + k] = 0.0;
                p[k * n + n - 1] = 0.0;
            }
            let total: f64 = p.iter().sum();
            p.iter_mut().for_each(|v| *v /= total);
            let px: Vec<f64> = (0..n).map(|i| p[i * n..(i + 1) * n].iter().sum()).collect();
            let py: Vec<f64> = (0..n).map(|j| (0..n).map(|i| p[i * n + j]).sum()).collect();
            let got = mcc(&p, &px, &py);
            let want = mcc_reference(&p, &px, &py);
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1e-3),
                "n {n}: {got} vs {want}"
            );
        }
    }
}
