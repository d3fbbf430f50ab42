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
    let mut buffers = Vec::new();
    let mut rows: Vec<[f64; N]> = Vec::new();
    match settings.weighting_norm.as_deref() {
        Some(norm) => {
            let mut merged = vec![0.0; n * nr];
            for &a in &offsets {
                let w = weight(norm, offset_mm(a, input.spacing));
                for (m, v) in merged.iter_mut().zip(&count(lattice, a, nr, &mut buffers)) {
                    *m += v * w;
                }
            }
            rows.push(angle_values(&merged, &lattice.ivector, nr));
        }
        None => {
            for &a in &offsets {
                let p = count(lattice, a, nr, &mut buffers);
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
///
/// Instead of walking lines one voxel at a time (a chain of dependent steps), runs are
/// measured row by row: pairing each row with the row one offset further, `length[w] =
/// length[v] + 1` where `w = v + offset` has the level of `v`, else 1 — independent across a
/// row, so it vectorises (for the in-row offset the chain is sequential, as it must be).
/// Rows are visited in raster order, so a row's lengths are final before the next row along
/// the offset reads them. A run of length `R` leaves voxels numbered `1..=R`, so with `G(l, L)`
/// the number of ROI voxels of level `l` numbered `L` (the number of runs of length ≥ `L`),
/// `P(l, L) = G(l, L) − G(l, L + 1)`: a plain histogram, no test for run ends.
fn count(lattice: &Lattice, offset: [isize; 3], nr: usize, length: &mut Vec<u32>) -> Vec<f64> {
    let n = lattice.n_present();
    let slot = &lattice.slot;
    length.clear();
    length.resize(slot.len(), 1);
    lattice.for_each_pair_row(offset, |v, w, len| {
        if w >= v + len {
            // Disjoint rows: independent cells.
            let (before, after) = length.split_at_mut(w);
            let pairs = slot[v..v + len].iter().zip(&slot[w..w + len]);
            for ((lw, &lv), (&sv, &sw)) in
                after[..len].iter_mut().zip(&before[v..v + len]).zip(pairs)
            {
                // Branch-free so that it vectorises.
                let same = u32::from(sv != 0) & u32::from(sv == sw);
                *lw = same * lv + 1;
            }
        } else if w == v + 1 {
            // The in-row offset: a sequential chain, carried in a register rather than through
            // memory.
            let mut run = length[v];
            for t in 0..len {
                let same = slot[v + t] != 0 && slot[v + t] == slot[w + t];
                run = if same { run + 1 } else { 1 };
                length[w + t] = run;
            }
        } else {
            for t in 0..len {
                let same = slot[v + t] != 0 && slot[v + t] == slot[w + t];
                length[w + t] = if same { length[v + t] + 1 } else { 1 };
            }
        }
    });
    // G in four u32 tables filled in turn ([level][number], row 0 / column 0 unused, one
    // spare column for L + 1): hot cells would otherwise serialise on their load-add-store.
    let width = nr + 2;
    let cells = (n + 1) * width;
    let mut tables = vec![0u32; 4 * cells];
    let ni = lattice.shape[2];
    let (t0, rest) = tables.split_at_mut(cells);
    let (t1, rest) = rest.split_at_mut(cells);
    let (t2, t3) = rest.split_at_mut(cells);
    for (r, &(x0, x1)) in lattice.extents.iter().enumerate() {
        let (a, b) = (r * ni + x0, r * ni + x1);
        // Non-ROI voxels (slot 0) land in the unused row 0: no branch.
        let mut s4 = slot[a..b].chunks_exact(4);
        let mut l4 = length[a..b].chunks_exact(4);
        for (s, l) in (&mut s4).zip(&mut l4) {
            t0[s[0] as usize * width + l[0] as usize] += 1;
            t1[s[1] as usize * width + l[1] as usize] += 1;
            t2[s[2] as usize * width + l[2] as usize] += 1;
            t3[s[3] as usize * width + l[3] as usize] += 1;
        }
        for (&s, &l) in s4.remainder().iter().zip(l4.remainder()) {
            t0[s as usize * width + l as usize] += 1;
        }
    }
    let mut p = vec![0.0; n * nr];
    let mut longest = 0;
    let g = |at: usize| {
        tables[at] + tables[cells + at] + tables[2 * cells + at] + tables[3 * cells + at]
    };
    for level in 0..n {
        for run in 1..=nr {
            let at = (level + 1) * width + run;
            let runs = g(at) - g(at + 1);
            if runs > 0 {
                longest = longest.max(run);
            }
            p[level * nr + run - 1] = f64::from(runs);
        }
    }
    if longest < 2 {
        // No run longer than a voxel: PyRadiomics empties the angle unless some line holds
        // two (non-adjacent) ROI voxels, which only walking the lines tells.
        return count_by_walking(lattice, offset, nr);
    }
    p
}

/// The run-length counts of one offset (row-major `Ngp × nr`, column = run length − 1), by
/// walking every line through the box: the reference for [`count`], and how it decides
/// whether a line holds two ROI voxels when no run is longer than one voxel.
fn count_by_walking(lattice: &Lattice, offset: [isize; 3], nr: usize) -> Vec<f64> {
    let n = lattice.n_present();
    // (n + 1) × (nr + 1) counts indexed [level][run length]: row 0 (runs of non-ROI voxels)
    // and column 0 are sinks, so the walk records without branches.
    let width = nr + 1;
    let mut counts = vec![0u32; (n + 1) * width];
    let [nk, nj, ni] = lattice.shape;
    let strides = lattice.strides();
    let step: isize = (0..3).map(|d| offset[d] * strides[d] as isize).sum();
    let slot = &lattice.slot;
    let outside = |p: usize, d: isize, len: usize| {
        let q = p as isize - d;
        q < 0 || q >= len as isize
    };
    // Voxels on a line from `p` (inclusive) to the box's end along `d` on an axis of `len`.
    let remaining = |p: usize, d: isize, len: usize| match d.signum() {
        1 => len - p,
        -1 => p + 1,
        _ => usize::MAX,
    };
    let mut multi_element = false;
    let mut walk = |start: usize, length: usize, counts: &mut Vec<u32>| {
        let (mut level, mut run, mut elements) = (0u32, 0usize, 0usize);
        let mut v = start;
        for _ in 0..length {
            let s = slot[v];
            v = v.wrapping_add_signed(step);
            elements += usize::from(s != 0);
            let same = s == level;
            // A level change ends the current run (a no-op add of 0 otherwise).
            counts[level as usize * width + run] += u32::from(!same);
            run = if same { run + 1 } else { 1 };
            level = s;
        }
        counts[level as usize * width + run] += 1;
        multi_element |= elements > 1;
    };
    for z in 0..nk {
        for y in 0..nj {
            let row = z * strides[0] + y * strides[1];
            let along_zy = remaining(z, offset[0], nk).min(remaining(y, offset[1], nj));
            if outside(z, offset[0], nk) || outside(y, offset[1], nj) {
                // Every voxel of the row starts a line.
                for x in 0..ni {
                    let length = along_zy.min(remaining(x, offset[2], ni));
                    walk(row + x, length, &mut counts);
                }
            } else if offset[2] != 0 {
                // Only the row's first voxel along x starts a line.
                let x = if offset[2] > 0 { 0 } else { ni - 1 };
                let length = along_zy.min(remaining(x, offset[2], ni));
                walk(row + x, length, &mut counts);
            }
        }
    }
    let mut p = vec![0.0; n * nr];
    if multi_element {
        for level in 0..n {
            for run in 0..nr {
                p[level * nr + run] = f64::from(counts[(level + 1) * width + run + 1]);
            }
        }
    }
    // Otherwise every line holds at most one ROI voxel: PyRadiomics empties the angle.
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

#[cfg(test)]
mod tests {
    use ndarray::Array3;

    use super::*;

    #[test]
    fn row_pairing_counts_equal_line_walking() {
        let mut state: u64 = 5;
        for shape in [(4, 5, 6), (1, 7, 3), (6, 1, 1), (3, 4, 1), (5, 5, 5)] {
            for (levels_max, hole_every) in [(3u64, 4u64), (2, 1000), (5, 2)] {
                let levels = Array3::from_shape_simple_fn(shape, || {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let r = state >> 33;
                    if r.is_multiple_of(hole_every) {
                        0
                    } else {
                        (r % levels_max) as u32 + 1
                    }
                });
                let Ok(lattice) = Lattice::new(&levels) else {
                    continue;
                };
                let nr = shape.0.max(shape.1).max(shape.2);
                let mut buffers = Vec::new();
                let Ok(offsets) = angles(lattice.shape, &[1], None, false) else {
                    continue;
                };
                for a in offsets {
                    assert_eq!(
                        count(&lattice, a, nr, &mut buffers),
                        count_by_walking(&lattice, a, nr),
                        "{shape:?} {a:?}"
                    );
                }
            }
        }
    }
}
