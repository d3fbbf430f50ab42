//! PyRadiomics GLRLM (`glrlm.py`, C `calculate_glrlm`).
//!
//! Per mono-directional angle (distance 1, `force2D` respected), every line of voxels through
//! the cropped box along the angle is walked once; maximal runs of consecutive ROI voxels of one
//! level are counted in `P[level, run length − 1]`, with `max(shape)` run-length columns. An
//! angle none of whose lines holds two ROI voxels is emptied. Angles are then merged by
//! `weightingNorm` or kept, dropping empty ones (when there is more than one); features are
//! computed per angle and averaged with `nanmean`.

use super::{angles, check_cells, force_2d_axis, nanmean, offset_mm, Lattice, TextureInput, EPS};
use crate::RadiomicsError;

/// GLRLM feature names in PyRadiomics' `getFeatureNames()` order (none deprecated).
pub(super) const FEATURES: &[(&str, bool)] = &[
    ("GrayLevelNonUniformity", false),
    ("GrayLevelNonUniformityNormalized", false),
    ("GrayLevelVariance", false),
    ("HighGrayLevelRunEmphasis", false),
    ("LongRunEmphasis", false),
    ("LongRunHighGrayLevelEmphasis", false),
    ("LongRunLowGrayLevelEmphasis", false),
    ("LowGrayLevelRunEmphasis", false),
    ("RunEntropy", false),
    ("RunLengthNonUniformity", false),
    ("RunLengthNonUniformityNormalized", false),
    ("RunPercentage", false),
    ("RunVariance", false),
    ("ShortRunEmphasis", false),
    ("ShortRunHighGrayLevelEmphasis", false),
    ("ShortRunLowGrayLevelEmphasis", false),
];

const N: usize = 16;

/// All GLRLM values in [`FEATURES`] order.
pub(super) fn values(lattice: &Lattice, input: &TextureInput) -> Result<Vec<f64>, RadiomicsError> {
    let settings = input.settings;
    let offsets = angles(lattice.shape, &[1], force_2d_axis(settings), false)?;
    let n = lattice.n_present();
    let nr = lattice.shape.iter().copied().max().unwrap_or(1);
    check_cells("GLRLM", n, nr)?;
    let mut rows: Vec<[f64; N]> = Vec::new();
    match settings.weighting_norm.as_deref() {
        Some(norm) => {
            let mut merged = vec![0.0; n * nr];
            for &a in &offsets {
                let w = weight(norm, offset_mm(a, input.spacing));
                for (m, v) in merged.iter_mut().zip(&count(lattice, a, nr)) {
                    *m += v * w;
                }
            }
            rows.push(angle_values(&merged, &lattice.ivector, nr));
        }
        None => {
            for &a in &offsets {
                let p = count(lattice, a, nr);
                if offsets.len() > 1 && p.iter().all(|&v| v == 0.0) {
                    continue;
                }
                rows.push(angle_values(&p, &lattice.ivector, nr));
            }
        }
    }
    Ok((0..N).map(|c| nanmean(rows.iter().map(|r| r[c]))).collect())
}

/// PyRadiomics' GLRLM weight of an offset whose per-axis lengths in mm are `mm`.
fn weight(norm: &str, mm: [f64; 3]) -> f64 {
    match norm {
        "infinity" => mm.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "euclidean" => mm.iter().map(|v| v * v).sum::<f64>().sqrt(),
        "manhattan" => mm.iter().sum(),
        // "no_weighting", and unknown norms (PyRadiomics warns and uses 1).
        _ => 1.0,
    }
}

/// The run-length counts of one offset (row-major `Ngp × nr`, column = run length − 1).
fn count(lattice: &Lattice, offset: [isize; 3], nr: usize) -> Vec<f64> {
    let n = lattice.n_present();
    let mut p = vec![0.0; n * nr];
    let shape = lattice.shape;
    let strides = lattice.strides();
    let step: isize = (0..3).map(|d| offset[d] * strides[d] as isize).sum();
    let slot = &lattice.slot;
    let mut multi_element = false;
    let record = |level: u32, run: usize, p: &mut Vec<f64>| {
        if let Some(cell) = p.get_mut((level as usize - 1) * nr + run) {
            *cell += 1.0;
        }
    };
    for z in 0..shape[0] {
        for y in 0..shape[1] {
            for x in 0..shape[2] {
                let pos = [z, y, x];
                // A line starts where the previous voxel along the offset is outside the box.
                let is_start = (0..3).any(|d| {
                    offset[d] != 0 && {
                        let prev = pos[d] as isize - offset[d];
                        prev < 0 || prev >= shape[d] as isize
                    }
                });
                if !is_start {
                    continue;
                }
                // Number of voxels on the line from here to the box's end.
                let len = (0..3)
                    .filter(|&d| offset[d] != 0)
                    .map(|d| {
                        if offset[d] > 0 {
                            shape[d] - pos[d]
                        } else {
                            pos[d] + 1
                        }
                    })
                    .min()
                    .unwrap_or(0);
                let start = z * strides[0] + y * strides[1] + x;
                let (mut level, mut run, mut elements) = (0u32, 0usize, 0usize);
                for t in 0..len {
                    let v = start.wrapping_add_signed(step * t as isize);
                    let s = slot[v];
                    if s != 0 {
                        elements += 1;
                        if level == 0 {
                            level = s;
                        } else if s == level {
                            run += 1;
                        } else {
                            record(level, run, &mut p);
                            level = s;
                            run = 0;
                        }
                    } else if level != 0 {
                        record(level, run, &mut p);
                        level = 0;
                        run = 0;
                    }
                }
                if level != 0 {
                    record(level, run, &mut p);
                }
                if elements > 1 {
                    multi_element = true;
                }
            }
        }
    }
    if !multi_element {
        // Every line holds at most one ROI voxel: PyRadiomics empties the angle.
        p.iter_mut().for_each(|v| *v = 0.0);
    }
    p
}

/// The per-angle feature values of one (weighted) run-length matrix.
fn angle_values(p: &[f64], ivector: &[f64], nr: usize) -> [f64; N] {
    let n = ivector.len();
    let n_runs: f64 = p.iter().sum();
    let mut out = [f64::NAN; N];
    if n_runs == 0.0 || !n_runs.is_finite() {
        return out;
    }
    let mut pr = vec![0.0; nr];
    let mut pg = vec![0.0; n];
    for i in 0..n {
        for j in 0..nr {
            let v = p[i * nr + j];
            pr[j] += v;
            pg[i] += v;
        }
    }
    let (mut sre, mut lre, mut rln, mut np, mut ru) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (j, &v) in pr.iter().enumerate() {
        let jf = (j + 1) as f64;
        sre += v / (jf * jf);
        lre += v * jf * jf;
        rln += v * v;
        np += v * jf;
        ru += v / n_runs * jf;
    }
    let rv: f64 = pr
        .iter()
        .enumerate()
        .map(|(j, &v)| {
            let d = (j + 1) as f64 - ru;
            v / n_runs * d * d
        })
        .sum();
    let (mut gln, mut lglre, mut hglre, mut gu) = (0.0, 0.0, 0.0, 0.0);
    for (&v, &i) in pg.iter().zip(ivector) {
        gln += v * v;
        lglre += v / (i * i);
        hglre += v * i * i;
        gu += v / n_runs * i;
    }
    let glv: f64 = pg
        .iter()
        .zip(ivector)
        .map(|(&v, &i)| v / n_runs * (i - gu) * (i - gu))
        .sum();
    let (mut entropy, mut srlgle, mut srhgle, mut lrlgle, mut lrhgle) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (r, &i) in ivector.iter().enumerate() {
        let i2 = i * i;
        for j in 0..nr {
            let v = p[r * nr + j];
            if v == 0.0 {
                continue;
            }
            let j2 = ((j + 1) * (j + 1)) as f64;
            let q = v / n_runs;
            entropy -= q * (q + EPS).log2();
            srlgle += v / (i2 * j2);
            srhgle += v * i2 / j2;
            lrlgle += v * j2 / i2;
            lrhgle += v * i2 * j2;
        }
    }
    out[0] = gln / n_runs;
    out[1] = gln / (n_runs * n_runs);
    out[2] = glv;
    out[3] = hglre / n_runs;
    out[4] = lre / n_runs;
    out[5] = lrhgle / n_runs;
    out[6] = lrlgle / n_runs;
    out[7] = lglre / n_runs;
    out[8] = entropy;
    out[9] = rln / n_runs;
    out[10] = rln / (n_runs * n_runs);
    out[11] = n_runs / np;
    out[12] = rv;
    out[13] = sre / n_runs;
    out[14] = srhgle / n_runs;
    out[15] = srlgle / n_runs;
    out
}
