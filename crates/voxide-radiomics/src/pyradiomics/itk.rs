//! The few ITK/SimpleITK operations PyRadiomics relies on, reproduced to the bit where it
//! matters: index/physical transforms, the "same physical space" check, `ResampleImageFilter`
//! with nearest-neighbour, linear and cubic B-spline interpolation, and 26-connected component
//! counting.
//!
//! Only voxels of the requested output grid are computed; the B-spline coefficients are
//! computed on the part of the input the output needs plus a margin of [`BSPLINE_MARGIN`]
//! voxels, which changes nothing measurable: the recursive prefilter forgets a value after `d`
//! voxels by the factor `0.268^d` (`≈ 1e-23` here), far below the `1e-10` horizon ITK itself
//! truncates at.

use ndarray::{Array3, Axis};
use voxide_core::{Geometry, VoxelType};

/// Input voxels kept around the needed region when computing B-spline coefficients.
pub(crate) const BSPLINE_MARGIN: usize = 40;

/// `Direction · diag(spacing)`: ITK's index-to-physical matrix.
fn index_matrix(g: &Geometry) -> [[f64; 3]; 3] {
    let d = g.direction();
    let s = g.spacing();
    let mut m = [[0.0; 3]; 3];
    for r in 0..3 {
        for c in 0..3 {
            m[r][c] = d[r][c] * s[c];
        }
    }
    m
}

/// `TransformContinuousIndexToPhysicalPoint`, in ITK's summation order.
pub(crate) fn to_physical(g: &Geometry, ci: [f64; 3]) -> [f64; 3] {
    let m = index_matrix(g);
    let o = g.origin();
    let mut p = [0.0; 3];
    for r in 0..3 {
        let mut sum = 0.0;
        for c in 0..3 {
            sum += m[r][c] * ci[c];
        }
        p[r] = sum + o[r];
    }
    p
}

/// Physical point → continuous index: `diag(1/spacing) · Directionᵀ · (p − origin)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ToIndex {
    m: [[f64; 3]; 3],
    origin: [f64; 3],
}

impl ToIndex {
    pub(crate) fn new(g: &Geometry) -> ToIndex {
        let d = g.direction();
        let s = g.spacing();
        let mut m = [[0.0; 3]; 3];
        for r in 0..3 {
            for c in 0..3 {
                m[r][c] = (1.0 / s[r]) * d[c][r];
            }
        }
        ToIndex {
            m,
            origin: g.origin(),
        }
    }

    #[inline]
    pub(crate) fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        let d = [
            p[0] - self.origin[0],
            p[1] - self.origin[1],
            p[2] - self.origin[2],
        ];
        let mut ci = [0.0; 3];
        for r in 0..3 {
            let mut sum = 0.0;
            for c in 0..3 {
                sum += self.m[r][c] * d[c];
            }
            ci[r] = sum;
        }
        ci
    }
}

/// `TransformPhysicalPointToContinuousIndex`.
pub(crate) fn to_continuous_index(g: &Geometry, p: [f64; 3]) -> [f64; 3] {
    ToIndex::new(g).apply(p)
}

/// ITK's `ImageToImageFilter::VerifyInputInformation`: origins and spacings equal within
/// `coordinate_tolerance · spacing₀` of the first image, directions within
/// `direction_tolerance`.
pub(crate) fn same_physical_space(
    first: &Geometry,
    other: &Geometry,
    coordinate_tolerance: f64,
    direction_tolerance: f64,
) -> bool {
    let tol = (coordinate_tolerance * first.spacing()[0]).abs();
    let close = |a: &[f64], b: &[f64], t: f64| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= t);
    close(&first.origin(), &other.origin(), tol)
        && close(&first.spacing(), &other.spacing(), tol)
        && (0..3).all(|r| {
            close(
                &first.direction()[r],
                &other.direction()[r],
                direction_tolerance,
            )
        })
}

/// A sub-grid of `g` starting at index `lo` with `size` voxels (ITK `CropImageFilter` as
/// SimpleITK returns it: origin moved to the first kept voxel).
pub(crate) fn sub_grid(g: &Geometry, lo: [usize; 3], size: [usize; 3]) -> Geometry {
    let origin = to_physical(g, lo.map(|v| v as f64));
    // Spacing and direction come from a valid geometry, so this cannot fail.
    Geometry::new(size, g.spacing(), origin, g.direction())
        .unwrap_or_else(|_| Geometry::with_size(size))
}

/// Random access to the voxels of an image, as doubles, by regions.
pub(crate) trait VoxelSource {
    /// The grid of the image.
    fn grid(&self) -> &Geometry;
    /// The voxels of the box `[lo, lo + size)` (index order `(k, j, i)` of the array).
    fn region(&self, lo: [usize; 3], size: [usize; 3]) -> Array3<f64>;
}

/// SimpleITK interpolators voxide implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    Nearest,
    Linear,
    BSpline,
}

/// `TransformIndexToPhysicalPoint` for an integer index (origin first, then the matrix terms).
fn index_to_physical(m: &[[f64; 3]; 3], origin: &[f64; 3], idx: [f64; 3]) -> [f64; 3] {
    let mut p = *origin;
    for r in 0..3 {
        for c in 0..3 {
            p[r] += m[r][c] * idx[c];
        }
    }
    p
}

/// Continuous indices in `src` of the voxels of `target`, computed as ITK's
/// `ResampleImageFilter` does for linear transforms: for each scan line (fixed `j`, `k`) the
/// indices of its first voxel and of one past its last are mapped, and voxel `i` lies at
/// `start + (i / ni) · (end − start)`. Reproducing this exactly matters: interpolated integer
/// images are truncated, and nearest-neighbour ties are frequent.
pub(crate) struct ScanLines {
    to_index: ToIndex,
    m: [[f64; 3]; 3],
    origin: [f64; 3],
    ni: usize,
}

impl ScanLines {
    pub(crate) fn new(src: &Geometry, target: &Geometry) -> ScanLines {
        ScanLines {
            to_index: ToIndex::new(src),
            m: index_matrix(target),
            origin: target.origin(),
            ni: target.size()[0],
        }
    }

    /// `(start, end − start)` of scan line `(j, k)`.
    pub(crate) fn line(&self, j: usize, k: usize) -> ([f64; 3], [f64; 3]) {
        let start = self.to_index.apply(index_to_physical(
            &self.m,
            &self.origin,
            [0.0, j as f64, k as f64],
        ));
        let end = self.to_index.apply(index_to_physical(
            &self.m,
            &self.origin,
            [self.ni as f64, j as f64, k as f64],
        ));
        (
            start,
            [end[0] - start[0], end[1] - start[1], end[2] - start[2]],
        )
    }

    /// The continuous index of voxel `i` on a scan line.
    #[inline]
    pub(crate) fn at(&self, (start, v): &([f64; 3], [f64; 3]), i: usize) -> [f64; 3] {
        let alpha = i as f64 / self.ni as f64;
        [
            start[0] + alpha * v[0],
            start[1] + alpha * v[1],
            start[2] + alpha * v[2],
        ]
    }
}

/// Continuous indices in `src` of every voxel of `target`, in array order `(k, j, i)`.
fn target_indices(src: &Geometry, target: &Geometry) -> Vec<[f64; 3]> {
    let lines = ScanLines::new(src, target);
    let [ni, nj, nk] = target.size();
    let mut out = Vec::with_capacity(ni * nj * nk);
    for k in 0..nk {
        for j in 0..nj {
            let line = lines.line(j, k);
            for i in 0..ni {
                out.push(lines.at(&line, i));
            }
        }
    }
    out
}

/// Nearest-neighbour index of `ci` along an axis of `n` voxels (ITK RoundHalfIntegerUp: exact
/// half-voxel ties, frequent when spacings are binary fractions, round up), or `None` outside
/// the buffer. `ci` must be computed as [`ToIndex`] does for ties to fall as in SimpleITK.
#[inline]
fn nearest_index(ci: f64, n: usize) -> Option<usize> {
    let r = (ci + 0.5).floor();
    (r >= 0.0 && r < n as f64).then_some(r as usize)
}

/// `sitk.Resample` of a label mask onto `target` with nearest-neighbour interpolation, computed
/// for the target box `[lo, lo + size)` only; `is_roi(i, j, k)` tells whether an input voxel
/// belongs to the ROI. Voxels outside the input are outside the ROI.
pub(crate) fn resample_mask(
    src: &Geometry,
    is_roi: impl Fn(usize, usize, usize) -> bool,
    target: &Geometry,
    lo: [usize; 3],
    size: [usize; 3],
) -> Array3<bool> {
    let lines = ScanLines::new(src, target);
    let n = src.size();
    let mut out = Array3::from_elem((size[2], size[1], size[0]), false);
    for k in 0..size[2] {
        for j in 0..size[1] {
            let line = lines.line(lo[1] + j, lo[2] + k);
            for i in 0..size[0] {
                let ci = lines.at(&line, lo[0] + i);
                if let (Some(a), Some(b), Some(c)) = (
                    nearest_index(ci[0], n[0]),
                    nearest_index(ci[1], n[1]),
                    nearest_index(ci[2], n[2]),
                ) {
                    out[(k, j, i)] = is_roi(a, b, c);
                }
            }
        }
    }
    out
}

/// `sitk.Resample` of an image onto `target` (identity transform, default value 0), with the
/// output cast to `dtype` as ITK casts (clamp to the type's range, then truncate toward zero).
pub(crate) fn resample_image(
    src: &dyn VoxelSource,
    target: &Geometry,
    kernel: Kernel,
    dtype: VoxelType,
) -> Array3<f64> {
    let grid = src.grid().clone();
    let n = grid.size();
    let cis = target_indices(&grid, target);
    let [ti, tj, tk] = target.size();
    let mut out = Array3::<f64>::zeros((tk, tj, ti));
    let inside = |ci: &[f64; 3]| (0..3).all(|d| ci[d] >= -0.5 && ci[d] < n[d] as f64 - 0.5);
    // The input box the kernels read.
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    let mut any = false;
    for ci in cis.iter().filter(|ci| inside(ci)) {
        any = true;
        for d in 0..3 {
            let f = ci[d].floor();
            let (a, b) = match kernel {
                Kernel::Nearest => (f - 1.0, f + 1.0),
                Kernel::Linear => (f - 1.0, f + 2.0),
                Kernel::BSpline => (f - 2.0, f + 3.0),
            };
            lo[d] = lo[d].min(a.clamp(0.0, (n[d] - 1) as f64) as usize);
            hi[d] = hi[d].max(b.clamp(0.0, (n[d] - 1) as f64) as usize);
        }
    }
    if !any {
        return out;
    }
    if kernel == Kernel::BSpline {
        for d in 0..3 {
            lo[d] = lo[d].saturating_sub(BSPLINE_MARGIN);
            hi[d] = (hi[d] + BSPLINE_MARGIN).min(n[d] - 1);
        }
    }
    let size = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
    let mut data = src.region(lo, size);
    if kernel == Kernel::BSpline {
        bspline_coefficients(&mut data);
    }
    for (v, ci) in out.iter_mut().zip(&cis) {
        if !inside(ci) {
            continue;
        }
        let value = match kernel {
            Kernel::Nearest => {
                let idx: [usize; 3] = std::array::from_fn(|d| {
                    (((ci[d] + 0.5).floor().max(0.0) as usize).min(n[d] - 1)) - lo[d]
                });
                data[(idx[2], idx[1], idx[0])]
            }
            Kernel::Linear => linear(&data, ci, lo, n),
            Kernel::BSpline => bspline(&data, ci, lo, n),
        };
        *v = cast_to(value, dtype);
    }
    out
}

/// ITK's cast of a resampled double into the output pixel type: clamp into the type's range,
/// then `static_cast` (truncation toward zero for integers, rounding for `f32`).
pub(crate) fn cast_to(v: f64, dtype: VoxelType) -> f64 {
    let int = |lo: f64, hi: f64| {
        if v.is_nan() {
            0.0
        } else {
            v.clamp(lo, hi).trunc()
        }
    };
    match dtype {
        VoxelType::U8 => int(0.0, 255.0),
        VoxelType::I16 => int(-32768.0, 32767.0),
        VoxelType::U16 => int(0.0, 65535.0),
        VoxelType::I32 => int(-2147483648.0, 2147483647.0),
        VoxelType::F32 => v as f32 as f64,
        VoxelType::F64 => v,
    }
}

/// ITK `LinearInterpolateImageFunction` (3D optimised path): bases clamped to the buffer,
/// neighbours beyond the last voxel dropped, lerps along i, then j, then k.
fn linear(data: &Array3<f64>, ci: &[f64; 3], lo: [usize; 3], n: [usize; 3]) -> f64 {
    let mut base = [0usize; 3];
    let mut dist = [0.0f64; 3];
    let mut has_next = [false; 3];
    for d in 0..3 {
        let f = ci[d].floor();
        let b = if f < 0.0 { 0.0 } else { f };
        base[d] = b as usize;
        dist[d] = ci[d] - b;
        has_next[d] = dist[d] > 0.0 && base[d] + 1 < n[d];
    }
    let at = |i: usize, j: usize, k: usize| data[(k - lo[2], j - lo[1], i - lo[0])];
    let lerp_i = |j: usize, k: usize| {
        let v0 = at(base[0], j, k);
        if has_next[0] {
            v0 + (at(base[0] + 1, j, k) - v0) * dist[0]
        } else {
            v0
        }
    };
    let lerp_j = |k: usize| {
        let v0 = lerp_i(base[1], k);
        if has_next[1] {
            v0 + (lerp_i(base[1] + 1, k) - v0) * dist[1]
        } else {
            v0
        }
    };
    let v0 = lerp_j(base[2]);
    if has_next[2] {
        v0 + (lerp_j(base[2] + 1) - v0) * dist[2]
    } else {
        v0
    }
}

/// Mirror-boundary index of ITK's B-spline interpolator for an axis of `n` voxels.
#[inline]
fn mirror(k: i64, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let last = n as i64 - 1;
    let m = if k < 0 {
        -k
    } else if k > last {
        last - (k - last)
    } else {
        k
    };
    m.clamp(0, last) as usize
}

/// ITK `BSplineInterpolateImageFunction` (order 3) at continuous index `ci`.
fn bspline(coef: &Array3<f64>, ci: &[f64; 3], lo: [usize; 3], n: [usize; 3]) -> f64 {
    let mut w = [[0.0f64; 4]; 3];
    let mut idx = [[0usize; 4]; 3];
    for d in 0..3 {
        let f = ci[d].floor();
        let t = ci[d] - f;
        let w3 = (1.0 / 6.0) * t * t * t;
        let w0 = (1.0 / 6.0) + 0.5 * t * (t - 1.0) - w3;
        let w2 = t + w0 - 2.0 * w3;
        let w1 = 1.0 - w0 - w2 - w3;
        w[d] = [w0, w1, w2, w3];
        for (m, slot) in idx[d].iter_mut().enumerate() {
            *slot = mirror(f as i64 - 1 + m as i64, n[d]) - lo[d];
        }
    }
    // ITK sums over the 4×4×4 support with i (axis 0) fastest.
    let mut value = 0.0;
    for c in 0..4 {
        for b in 0..4 {
            for a in 0..4 {
                value += w[0][a] * w[1][b] * w[2][c] * coef[(idx[2][c], idx[1][b], idx[0][a])];
            }
        }
    }
    value
}

/// ITK `BSplineDecompositionImageFilter` (order 3) in place, along i, then j, then k.
pub(crate) fn bspline_coefficients(data: &mut Array3<f64>) {
    let mut buf = Vec::new();
    for axis in [2usize, 1, 0] {
        for mut lane in data.lanes_mut(Axis(axis)) {
            buf.clear();
            buf.extend(lane.iter().copied());
            decompose_line(&mut buf);
            for (dst, src) in lane.iter_mut().zip(&buf) {
                *dst = *src;
            }
        }
    }
}

fn decompose_line(c: &mut [f64]) {
    let n = c.len();
    if n < 2 {
        return;
    }
    let z = 3f64.sqrt() - 2.0;
    let gain = (1.0 - z) * (1.0 - 1.0 / z);
    for v in c.iter_mut() {
        *v *= gain;
    }
    // Causal initialisation (ITK: tolerance 1e-10).
    let horizon = ((1e-10f64).ln() / z.abs().ln()).ceil() as usize;
    let mut zn = z;
    if horizon < n {
        let mut sum = c[0];
        for v in c.iter().take(horizon).skip(1) {
            sum += zn * v;
            zn *= z;
        }
        c[0] = sum;
    } else {
        let iz = 1.0 / z;
        let mut z2n = z.powi(n as i32 - 1);
        let mut sum = c[0] + z2n * c[n - 1];
        z2n = z2n * (z2n * iz);
        for v in c.iter().take(n - 1).skip(1) {
            sum += (zn + z2n) * v;
            zn *= z;
            z2n *= iz;
        }
        c[0] = sum / (1.0 - zn * zn);
    }
    for k in 1..n {
        c[k] += z * c[k - 1];
    }
    c[n - 1] = (z / (z * z - 1.0)) * (z * c[n - 2] + c[n - 1]);
    for k in (0..n - 1).rev() {
        c[k] = z * (c[k + 1] - c[k]);
    }
}

/// Number of 26-connected components of `true` voxels (`ConnectedComponentImageFilter` with
/// `FullyConnectedOn`).
pub(crate) fn count_components(mask: &Array3<bool>) -> usize {
    let (nk, nj, ni) = mask.dim();
    // Zero-bordered copy, so neighbours never leave the buffer.
    let (pk, pj, pi) = (nk + 2, nj + 2, ni + 2);
    let mut grid = vec![false; pk * pj * pi];
    for ((k, j, i), &m) in mask.indexed_iter() {
        grid[((k + 1) * pj + j + 1) * pi + i + 1] = m;
    }
    let mut offsets = Vec::with_capacity(26);
    for dk in -1i64..=1 {
        for dj in -1i64..=1 {
            for di in -1i64..=1 {
                if (dk, dj, di) != (0, 0, 0) {
                    offsets.push((dk * (pj * pi) as i64 + dj * pi as i64 + di) as isize);
                }
            }
        }
    }
    let mut count = 0;
    let mut stack = Vec::new();
    for start in 0..grid.len() {
        if !grid[start] {
            continue;
        }
        count += 1;
        grid[start] = false;
        stack.push(start);
        while let Some(p) = stack.pop() {
            for &o in &offsets {
                let q = p.wrapping_add_signed(o);
                if grid[q] {
                    grid[q] = false;
                    stack.push(q);
                }
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Owned(Geometry, Array3<f64>);
    impl VoxelSource for Owned {
        fn grid(&self) -> &Geometry {
            &self.0
        }
        fn region(&self, lo: [usize; 3], size: [usize; 3]) -> Array3<f64> {
            self.1
                .slice_each_axis(|ax| {
                    let d = 2 - ax.axis.index();
                    ndarray::Slice::from(lo[d]..lo[d] + size[d])
                })
                .to_owned()
        }
    }

    #[test]
    fn bspline_interpolates_samples_and_linear_functions() {
        let g = Geometry::new(
            [7, 6, 5],
            [1.0, 2.0, 3.0],
            [0.0; 3],
            voxide_core::geometry::IDENTITY,
        )
        .unwrap();
        let data = Array3::from_shape_fn((5, 6, 7), |(k, j, i)| {
            (i as f64) * 2.0 - (j as f64) + 0.5 * (k as f64) + ((i * j + k) % 3) as f64
        });
        let src = Owned(g.clone(), data.clone());
        let out = resample_image(&src, &g, Kernel::BSpline, VoxelType::F64);
        for (a, b) in out.iter().zip(data.iter()) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        let lin = resample_image(&src, &g, Kernel::Linear, VoxelType::F64);
        assert_eq!(lin, data);
    }

    #[test]
    fn nearest_neighbour_ties_round_up() {
        let g = Geometry::with_size([4, 1, 1]);
        // Target voxels at source indices 0.5 and 1.5: ties go to the upper voxel.
        let t = Geometry::new(
            [2, 1, 1],
            [1.0; 3],
            [0.5, 0.0, 0.0],
            voxide_core::geometry::IDENTITY,
        )
        .unwrap();
        let out = resample_mask(&g, |i, _, _| i == 1 || i == 2, &t, [0; 3], [2, 1, 1]);
        assert_eq!(out.iter().copied().collect::<Vec<_>>(), vec![true, true]);
        let out = resample_mask(&g, |i, _, _| i == 1, &t, [0; 3], [2, 1, 1]);
        assert_eq!(out.iter().copied().collect::<Vec<_>>(), vec![true, false]);
    }

    #[test]
    fn casts_truncate_and_clamp() {
        assert_eq!(cast_to(-3.7, VoxelType::I16), -3.0);
        assert_eq!(cast_to(3.99, VoxelType::I16), 3.0);
        assert_eq!(cast_to(40000.0, VoxelType::I16), 32767.0);
        assert_eq!(cast_to(-1.0, VoxelType::U8), 0.0);
    }

    #[test]
    fn components_are_26_connected() {
        let mut m = Array3::from_elem((4, 4, 4), false);
        m[(0, 0, 0)] = true;
        m[(1, 1, 1)] = true;
        m[(3, 3, 3)] = true;
        assert_eq!(count_components(&m), 2);
    }
}
