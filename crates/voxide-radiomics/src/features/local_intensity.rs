//! IBSI local intensity features (chapter 1, "Local intensity features", 9ST6): the mean
//! intensity in a 1 cm³ sphere around the maximum-intensity voxel (local intensity peak,
//! VJGA) and the largest such mean around any ROI voxel (global intensity peak, 0F91).
//!
//! The sphere holds every image voxel whose centre lies within `r = (3 / 4π)^(1/3) cm ≈ 6.2 mm`
//! (world distance) of the centre voxel, inside or outside the ROI. The [`Roi`] is a crop of
//! the image with a margin: voxels beyond the array are outside the image and not counted.
//! Non-finite intensities (outside the ROI, e.g. beyond the original image after interpolation)
//! are treated as outside the image as well.
//!
//! The sphere is a stack of rows along `i`; with running sums along `i` every row costs two
//! look-ups, so one sphere mean costs O(rows) ≈ O(r²) instead of O(r³). This is exact (the
//! same voxel set as the definition), unlike separable box filters.

use crate::{Feature, Roi};
use ndarray::Array3;
use rayon::prelude::*;
use std::f64::consts::PI;

/// Radius in mm of the sphere of volume 1 cm³.
fn radius_mm() -> f64 {
    10.0 * (3.0 / (4.0 * PI)).cbrt()
}

/// Local and global intensity peaks of `roi` (IBSI VJGA and 0F91); `NaN` when the intensity
/// mask is empty or its shape differs from the intensity array's.
pub fn features(roi: &Roi) -> Vec<Feature> {
    let (local, global) = peaks(&roi.intensity, &roi.intensity_mask, roi.spacing);
    vec![
        Feature {
            name: "loc_int_local_peak",
            ibsi_code: "VJGA",
            aggregation: None,
            value: local,
        },
        Feature {
            name: "loc_int_global_peak",
            ibsi_code: "0F91",
            aggregation: None,
            value: global,
        },
    ]
}

/// One row of the sphere: offsets `(dk, dj)` and half-width `h` along `i`.
#[derive(Debug, Clone, Copy)]
struct Row {
    dk: isize,
    dj: isize,
    h: usize,
}

/// The rows of the sphere of radius `r` mm on a grid of `spacing = [si, sj, sk]`, limited to
/// offsets that can stay inside an array of shape `dims` (so a tiny spacing cannot make the
/// row list explode).
fn sphere_rows(r: f64, spacing: [f64; 3], dims: (usize, usize, usize)) -> Vec<Row> {
    let [si, sj, sk] = spacing;
    let r2 = r * r;
    let mut rows = Vec::new();
    if !(si > 0.0 && sj > 0.0 && sk > 0.0) {
        // Degenerate spacing: only the centre voxel.
        rows.push(Row { dk: 0, dj: 0, h: 0 });
        return rows;
    }
    let limit = |extent: usize, s: f64| ((r / s).floor()).min(extent as f64) as isize;
    let nk = limit(dims.0, sk);
    let nj = limit(dims.1, sj);
    for dk in -nk..=nk {
        for dj in -nj..=nj {
            let rem = r2 - (dk as f64 * sk).powi(2) - (dj as f64 * sj).powi(2);
            if rem < 0.0 {
                continue;
            }
            // Largest h with (h si)² <= rem, checked exactly after the sqrt estimate.
            let mut h = (rem.sqrt() / si).floor().min(dims.2 as f64) as usize;
            while h < dims.2 && ((h + 1) as f64 * si).powi(2) <= rem {
                h += 1;
            }
            while h > 0 && (h as f64 * si).powi(2) > rem {
                h -= 1;
            }
            rows.push(Row { dk, dj, h });
        }
    }
    rows
}

/// `(local peak, global peak)`.
fn peaks(intensity: &Array3<f64>, mask: &Array3<bool>, spacing: [f64; 3]) -> (f64, f64) {
    if intensity.shape() != mask.shape() {
        return (f64::NAN, f64::NAN);
    }
    let (nk, nj, ni) = intensity.dim();
    // Running sums along i of the finite intensities and of their count.
    let stride = ni + 1;
    let mut sums = vec![0.0f64; nk * nj * stride];
    let mut counts = vec![0u32; nk * nj * stride];
    for k in 0..nk {
        for j in 0..nj {
            let base = (k * nj + j) * stride;
            for i in 0..ni {
                let v = intensity[(k, j, i)];
                let ok = v.is_finite();
                sums[base + i + 1] = sums[base + i] + if ok { v } else { 0.0 };
                counts[base + i + 1] = counts[base + i] + u32::from(ok);
            }
        }
    }
    let rows = sphere_rows(radius_mm(), spacing, (nk, nj, ni));
    let mean_at = |k: usize, j: usize, i: usize| -> f64 {
        let (mut s, mut c) = (0.0, 0u64);
        for r in &rows {
            let (Some(kk), Some(jj)) = (k.checked_add_signed(r.dk), j.checked_add_signed(r.dj))
            else {
                continue;
            };
            if kk >= nk || jj >= nj {
                continue;
            }
            let base = (kk * nj + jj) * stride;
            let i0 = i.saturating_sub(r.h);
            let i1 = (i + r.h + 1).min(ni);
            s += sums[base + i1] - sums[base + i0];
            c += u64::from(counts[base + i1] - counts[base + i0]);
        }
        s / c as f64
    };

    // Local peak: the voxels of the maximum intensity in the mask.
    let mut max = f64::NEG_INFINITY;
    for (&v, &m) in intensity.iter().zip(mask) {
        if m && v > max {
            max = v;
        }
    }
    if max == f64::NEG_INFINITY {
        return (f64::NAN, f64::NAN);
    }
    let mut local = f64::NAN;
    for ((k, j, i), &m) in mask.indexed_iter() {
        if m && intensity[(k, j, i)] == max {
            local = local.max(mean_at(k, j, i));
        }
    }
    let global = (0..nk)
        .into_par_iter()
        .map(|k| {
            let mut best = f64::NAN;
            for j in 0..nj {
                for i in 0..ni {
                    if mask[(k, j, i)] {
                        best = best.max(mean_at(k, j, i));
                    }
                }
            }
            best
        })
        .reduce(|| f64::NAN, f64::max);
    (local, global)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: mean of the finite voxels within the radius.
    fn brute(intensity: &Array3<f64>, spacing: [f64; 3], c: (usize, usize, usize)) -> f64 {
        let r = radius_mm();
        let (mut s, mut n) = (0.0, 0);
        for ((k, j, i), &v) in intensity.indexed_iter() {
            let d2 = ((k as f64 - c.0 as f64) * spacing[2]).powi(2)
                + ((j as f64 - c.1 as f64) * spacing[1]).powi(2)
                + ((i as f64 - c.2 as f64) * spacing[0]).powi(2);
            if d2 <= r * r && v.is_finite() {
                s += v;
                n += 1;
            }
        }
        s / n as f64
    }

    #[test]
    fn rows_match_brute_force() {
        let shape = (9, 11, 13);
        let intensity = Array3::from_shape_fn(shape, |(k, j, i)| {
            ((k * 31 + j * 17 + i * 7) % 23) as f64 - 5.0
        });
        let spacing = [1.3, 0.9, 2.1];
        let mut mask = Array3::from_elem(shape, false);
        mask[(4, 5, 6)] = true;
        mask[(0, 0, 12)] = true;
        let (local, global) = peaks(&intensity, &mask, spacing);
        let a = brute(&intensity, spacing, (4, 5, 6));
        let b = brute(&intensity, spacing, (0, 0, 12));
        assert!((global - a.max(b)).abs() < 1e-12);
        let va = intensity[(4, 5, 6)];
        let vb = intensity[(0, 0, 12)];
        let expect = if va > vb {
            a
        } else if vb > va {
            b
        } else {
            a.max(b)
        };
        assert!((local - expect).abs() < 1e-12);
    }

    #[test]
    fn garbage_inputs() {
        let intensity = Array3::from_elem((2, 2, 2), 1.0);
        let empty = Array3::from_elem((2, 2, 2), false);
        let (l, g) = peaks(&intensity, &empty, [1.0; 3]);
        assert!(l.is_nan() && g.is_nan());
        let other = Array3::from_elem((1, 2, 2), true);
        let (l, g) = peaks(&intensity, &other, [1.0; 3]);
        assert!(l.is_nan() && g.is_nan());
        let one = Array3::from_elem((1, 1, 1), true);
        let (l, g) = peaks(&Array3::from_elem((1, 1, 1), 4.0), &one, [0.0, -1.0, 1.0]);
        assert_eq!((l, g), (4.0, 4.0));
    }
}
