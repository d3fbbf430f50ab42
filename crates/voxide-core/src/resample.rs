//! Resampling an image onto another grid.
//!
//! For each voxel of the target grid the physical position is mapped into the source's
//! continuous index space and the source is interpolated there. A point is inside the source
//! when every continuous index lies in `[-0.5, n - 0.5]` (the voxel extents, as in ITK's
//! `ResampleImageFilter`); outside points get `default`. Interpolation near the border clamps
//! (linear) or mirrors (B-spline) neighbours, so values are defined over the whole extent.

use ndarray::parallel::prelude::*;
use ndarray::{Array3, Axis, Zip};

use crate::{Geometry, Image, Voxel};

/// Interpolation kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// Value of the nearest voxel centre (for label maps).
    Nearest,
    /// Trilinear.
    Linear,
    /// Cubic B-spline on prefiltered coefficients (interpolating: it reproduces the samples
    /// exactly at voxel centres), as ITK's `BSplineInterpolateImageFunction` of order 3.
    BSpline,
}

impl std::str::FromStr for Interpolation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "nearest" | "nn" => Ok(Self::Nearest),
            "linear" | "trilinear" => Ok(Self::Linear),
            "bspline" | "b-spline" | "cubic" => Ok(Self::BSpline),
            other => Err(format!(
                "unknown interpolation '{other}': use nearest, linear or bspline"
            )),
        }
    }
}

/// Resamples `image` onto `target`, keeping the voxel type (integers round and saturate).
pub fn resample<T: Voxel>(
    image: &Image<T>,
    target: &Geometry,
    interpolation: Interpolation,
    default: f64,
) -> Image<T> {
    let src = image.geometry();
    let sampler = match interpolation {
        Interpolation::Nearest => Sampler::Nearest(image.data()),
        Interpolation::Linear => Sampler::Linear(image.data()),
        Interpolation::BSpline => Sampler::BSpline(bspline_coefficients(image)),
    };
    let (nk, nj, ni) = target.shape();
    let mut out = Array3::<T>::from_elem((nk, nj, ni), T::from_f64(default));
    let size = src.size();
    out.axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each(|(k, mut plane)| {
            for j in 0..nj {
                for i in 0..ni {
                    let p = target.index_to_physical([i as f64, j as f64, k as f64]);
                    let x = src.physical_to_index(p);
                    if inside(x, size) {
                        plane[(j, i)] = T::from_f64(sampler.sample(x, size));
                    }
                }
            }
        });
    Image::from_parts_unchecked(target.clone(), out)
}

enum Sampler<'a, T> {
    Nearest(&'a Array3<T>),
    Linear(&'a Array3<T>),
    BSpline(Array3<f64>),
}

impl<T: Voxel> Sampler<'_, T> {
    fn sample(&self, x: [f64; 3], size: [usize; 3]) -> f64 {
        match self {
            Sampler::Nearest(d) => nearest(d, x, size).to_f64(),
            Sampler::Linear(d) => linear(d, x, size),
            Sampler::BSpline(c) => bspline(c, x, size),
        }
    }
}

fn inside(x: [f64; 3], size: [usize; 3]) -> bool {
    (0..3).all(|d| x[d] >= -0.5 && x[d] <= size[d] as f64 - 0.5 && size[d] > 0)
}

fn clamp_index(v: isize, n: usize) -> usize {
    v.clamp(0, n as isize - 1) as usize
}

fn nearest<T: Voxel>(data: &Array3<T>, x: [f64; 3], size: [usize; 3]) -> T {
    // Round half up, as ITK's NearestNeighborInterpolateImageFunction (floor(x + 0.5)).
    let i = clamp_index((x[0] + 0.5).floor() as isize, size[0]);
    let j = clamp_index((x[1] + 0.5).floor() as isize, size[1]);
    let k = clamp_index((x[2] + 0.5).floor() as isize, size[2]);
    data[(k, j, i)]
}

fn linear<T: Voxel>(data: &Array3<T>, x: [f64; 3], size: [usize; 3]) -> f64 {
    let base = x.map(|v| v.floor());
    let frac = [x[0] - base[0], x[1] - base[1], x[2] - base[2]];
    let mut acc = 0.0;
    for dk in 0..2 {
        let wk = if dk == 0 { 1.0 - frac[2] } else { frac[2] };
        if wk == 0.0 {
            continue;
        }
        let k = clamp_index(base[2] as isize + dk, size[2]);
        for dj in 0..2 {
            let wj = if dj == 0 { 1.0 - frac[1] } else { frac[1] };
            if wj == 0.0 {
                continue;
            }
            let j = clamp_index(base[1] as isize + dj, size[1]);
            for di in 0..2 {
                let wi = if di == 0 { 1.0 - frac[0] } else { frac[0] };
                if wi == 0.0 {
                    continue;
                }
                let i = clamp_index(base[0] as isize + di, size[0]);
                acc += wk * wj * wi * data[(k, j, i)].to_f64();
            }
        }
    }
    acc
}

/// Mirror-on-boundary index (period `2n - 2`), as the B-spline prefilter assumes.
fn mirror(v: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let n = n as isize;
    let period = 2 * n - 2;
    let mut m = v.rem_euclid(period);
    if m >= n {
        m = period - m;
    }
    m as usize
}

fn cubic_weights(t: f64) -> [f64; 4] {
    // Cubic B-spline weights for offsets -1, 0, 1, 2 around floor(x), with t = x - floor(x).
    let t2 = t * t;
    let t3 = t2 * t;
    [
        (1.0 - t).powi(3) / 6.0,
        (3.0 * t3 - 6.0 * t2 + 4.0) / 6.0,
        (-3.0 * t3 + 3.0 * t2 + 3.0 * t + 1.0) / 6.0,
        t3 / 6.0,
    ]
}

fn bspline(c: &Array3<f64>, x: [f64; 3], size: [usize; 3]) -> f64 {
    let base = x.map(|v| v.floor());
    let w = [
        cubic_weights(x[0] - base[0]),
        cubic_weights(x[1] - base[1]),
        cubic_weights(x[2] - base[2]),
    ];
    let mut acc = 0.0;
    for (dk, wk) in w[2].iter().enumerate() {
        let k = mirror(base[2] as isize + dk as isize - 1, size[2]);
        for (dj, wj) in w[1].iter().enumerate() {
            let j = mirror(base[1] as isize + dj as isize - 1, size[1]);
            let mut row = 0.0;
            for (di, wi) in w[0].iter().enumerate() {
                let i = mirror(base[0] as isize + di as isize - 1, size[0]);
                row += wi * c[(k, j, i)];
            }
            acc += wk * wj * row;
        }
    }
    acc
}

/// Cubic B-spline interpolation coefficients: the samples filtered along each axis with the
/// causal/anticausal recursion of Unser (1993) (pole `√3 − 2`, mirror boundaries).
pub fn bspline_coefficients<T: Voxel>(image: &Image<T>) -> Array3<f64> {
    let mut c = image.data().mapv(|v| v.to_f64());
    for axis in 0..3 {
        // Lanes along `axis` are independent.
        Zip::from(c.lanes_mut(Axis(axis))).par_for_each(|mut lane| {
            let mut buf: Vec<f64> = lane.iter().copied().collect();
            prefilter_1d(&mut buf);
            for (dst, src) in lane.iter_mut().zip(buf) {
                *dst = src;
            }
        });
    }
    c
}

fn prefilter_1d(c: &mut [f64]) {
    let n = c.len();
    if n < 2 {
        return;
    }
    let z = 3f64.sqrt() - 2.0;
    let lambda = (1.0 - z) * (1.0 - 1.0 / z);
    for v in c.iter_mut() {
        *v *= lambda;
    }
    // Causal initialisation (mirror boundary), truncated where z^k is negligible.
    let horizon = ((f64::EPSILON.ln() / z.abs().ln()).ceil() as usize).min(n);
    let mut sum = c[0];
    let mut zn = z;
    if horizon < n {
        for v in c.iter().take(horizon).skip(1) {
            sum += zn * v;
            zn *= z;
        }
    } else {
        let iz = 1.0 / z;
        let mut z2n = z.powi(n as i32 - 1);
        sum = c[0] + z2n * c[n - 1];
        z2n = z2n * z2n * iz;
        for v in c.iter().take(n - 1).skip(1) {
            sum += (zn + z2n) * v;
            zn *= z;
            z2n *= iz;
        }
        sum /= 1.0 - zn * zn;
    }
    c[0] = sum;
    for k in 1..n {
        c[k] += z * c[k - 1];
    }
    // Anticausal initialisation.
    c[n - 1] = (z / (z * z - 1.0)) * (z * c[n - 2] + c[n - 1]);
    for k in (0..n - 1).rev() {
        c[k] = z * (c[k + 1] - c[k]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::IDENTITY;

    fn ramp() -> Image<f64> {
        let g = Geometry::new([8, 6, 5], [1.0, 2.0, 3.0], [10.0, 20.0, 30.0], IDENTITY).unwrap();
        let mut v = Vec::new();
        for k in 0..5 {
            for j in 0..6 {
                for i in 0..8 {
                    // A smooth but non-linear function.
                    let (x, y, z) = (i as f64, j as f64 * 2.0, k as f64 * 3.0);
                    v.push(x * 1.5 + y * 0.25 - z + (x * 0.3).sin() * 4.0);
                }
            }
        }
        Image::from_vec(g, v).unwrap()
    }

    #[test]
    fn identity_grid_reproduces_samples_for_every_kernel() {
        let img = ramp();
        for interp in [
            Interpolation::Nearest,
            Interpolation::Linear,
            Interpolation::BSpline,
        ] {
            let out = resample(&img, img.geometry(), interp, -1.0);
            for (a, b) in img.data().iter().zip(out.data().iter()) {
                assert!((a - b).abs() < 1e-9, "{interp:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn linear_is_exact_on_a_linear_function_and_bspline_close_to_smooth_one() {
        let g = Geometry::new([8, 6, 5], [1.0, 2.0, 3.0], [10.0, 20.0, 30.0], IDENTITY).unwrap();
        let f = |p: [f64; 3]| 2.0 * p[0] - 0.5 * p[1] + 0.25 * p[2];
        let mut v = Vec::new();
        for k in 0..5 {
            for j in 0..6 {
                for i in 0..8 {
                    v.push(f(g.index_to_physical([i as f64, j as f64, k as f64])));
                }
            }
        }
        let img = Image::from_vec(g, v).unwrap();
        // Half-voxel shifted, finer grid well inside the source.
        let target =
            Geometry::new([10, 8, 6], [0.5, 1.0, 1.5], [11.25, 21.5, 31.75], IDENTITY).unwrap();
        let lin = resample(&img, &target, Interpolation::Linear, f64::NAN);
        for k in 0..6 {
            for j in 0..8 {
                for i in 0..10 {
                    let want = f(target.index_to_physical([i as f64, j as f64, k as f64]));
                    let l = lin.get([i, j, k]).unwrap();
                    assert!((l - want).abs() < 1e-9, "linear {l} vs {want}");
                }
            }
        }
    }

    #[test]
    fn bspline_reproduces_a_cubic_away_from_the_border() {
        // Cubic B-spline interpolation reproduces cubic polynomials exactly; mirror boundaries
        // perturb this only within a few voxels of the edge (the error decays as 0.27^d).
        let g = Geometry::new([30, 30, 30], [1.0, 1.0, 2.0], [0.0; 3], IDENTITY).unwrap();
        let f = |p: [f64; 3]| 0.001 * p[0].powi(3) - 0.02 * p[1] * p[1] + 0.5 * p[2];
        let mut v = Vec::new();
        for k in 0..30 {
            for j in 0..30 {
                for i in 0..30 {
                    v.push(f(g.index_to_physical([i as f64, j as f64, k as f64])));
                }
            }
        }
        let img = Image::from_vec(g, v).unwrap();
        let target =
            Geometry::new([10, 10, 10], [0.7, 0.9, 1.3], [10.3, 10.45, 20.6], IDENTITY).unwrap();
        let out = resample(&img, &target, Interpolation::BSpline, f64::NAN);
        let lin = resample(&img, &target, Interpolation::Linear, f64::NAN);
        let (mut err_b, mut err_l) = (0.0f64, 0.0f64);
        for k in 0..10 {
            for j in 0..10 {
                for i in 0..10 {
                    let want = f(target.index_to_physical([i as f64, j as f64, k as f64]));
                    err_b = err_b.max((out.get([i, j, k]).unwrap() - want).abs());
                    err_l = err_l.max((lin.get([i, j, k]).unwrap() - want).abs());
                }
            }
        }
        assert!(err_b < 1e-4, "bspline max error {err_b}");
        // Linear interpolation cannot follow the curvature: B-spline must do far better.
        assert!(err_l > 100.0 * err_b, "linear {err_l} vs bspline {err_b}");
    }

    #[test]
    fn points_outside_get_default_and_nearest_keeps_labels() {
        let g = Geometry::with_size([4, 4, 4]);
        let labels = Image::from_vec(g, (0..64).map(|v| (v % 3) as u8).collect()).unwrap();
        let shifted = Geometry::new([4, 4, 4], [1.0; 3], [2.0, 0.0, 0.0], IDENTITY).unwrap();
        let out = resample(&labels, &shifted, Interpolation::Nearest, 9.0);
        assert_eq!(out.get([0, 0, 0]), labels.get([2, 0, 0]));
        assert_eq!(out.get([1, 1, 1]), labels.get([3, 1, 1]));
        assert_eq!(out.get([2, 0, 0]), Some(9));
        assert!(out.data().iter().all(|v| *v <= 2 || *v == 9));
    }

    #[test]
    fn mirror_indices() {
        assert_eq!(mirror(-1, 5), 1);
        assert_eq!(mirror(5, 5), 3);
        assert_eq!(mirror(6, 5), 2);
        assert_eq!(mirror(3, 1), 0);
    }
}
