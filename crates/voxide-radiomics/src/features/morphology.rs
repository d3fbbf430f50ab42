//! IBSI morphological features (chapter 1, section "Morphological features", HCUG).
//!
//! Three representations of the ROI are used, as IBSI prescribes:
//! * the surface mesh of the morphological mask ([`mesh()`]: marching cubes at isovalue 0.5 on
//!   the mask padded with background) for volume, area and everything derived from them, the
//!   convex hull and the bounding box;
//! * the voxel centres of the morphological mask for PCA and the geometric centre of mass;
//! * the voxel centres and intensities of the intensity mask for the intensity-weighted centre
//!   of mass, integrated intensity, Moran's I and Geary's C.
//!
//! Every feature is computed in 3D and in mm. The features without IBSI reference values
//! (oriented minimum bounding box, minimum volume enclosing ellipsoid) are not computed.

mod autocorrelation;
mod hull;
mod mesh;

pub use mesh::{mesh, Mesh};

use crate::{Feature, Roi};
use ndarray::Array3;
use std::f64::consts::PI;

/// The convex hull of a [`Mesh`]: its extreme vertices and triangles, in the same physical
/// coordinates as the mesh.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConvexHull {
    /// Hull vertex positions `[x, y, z]` in mm (a subset of the mesh vertices).
    pub vertices: Vec<[f64; 3]>,
    /// Hull triangles as indices into `vertices`, counter-clockwise seen from outside.
    /// Flat hull facets are split into several triangles.
    pub triangles: Vec<[u32; 3]>,
}

impl ConvexHull {
    /// The hull volume in mm³.
    pub fn volume(&self) -> f64 {
        mesh::signed_volume(&self.vertices, &self.triangles).abs()
    }

    /// The hull surface area in mm².
    pub fn area(&self) -> f64 {
        mesh::area(&self.vertices, &self.triangles)
    }

    /// The largest distance between two hull vertices in mm, which is the largest distance
    /// between any two mesh vertices (IBSI L0JK); `NaN` for an empty hull.
    pub fn max_diameter(&self) -> f64 {
        let v = &self.vertices;
        let mut best = 0.0f64;
        for a in 0..v.len() {
            for b in a + 1..v.len() {
                let d = mesh::sub(v[a], v[b]);
                best = best.max(mesh::dot(d, d));
            }
        }
        if v.is_empty() {
            f64::NAN
        } else {
            best.sqrt()
        }
    }
}

impl Mesh {
    /// The convex hull of the mesh vertices, computed exactly on their half-voxel lattice.
    /// Empty when the mesh is empty.
    pub fn convex_hull(&self) -> ConvexHull {
        let Some(faces) = hull::convex_hull(&self.lattice) else {
            return ConvexHull::default();
        };
        // Renumber the hull vertices compactly.
        let mut map = vec![u32::MAX; self.vertices.len()];
        let mut out = ConvexHull::default();
        for f in &faces {
            let mut t = [0u32; 3];
            for (slot, &v) in t.iter_mut().zip(f) {
                if map[v] == u32::MAX {
                    map[v] = out.vertices.len() as u32;
                    out.vertices.push(self.vertices[v]);
                }
                *slot = map[v];
            }
            out.triangles.push(t);
        }
        out
    }
}

/// All IBSI morphological features of `roi` (25 features, IBSI codes in each [`Feature`]).
///
/// Never panics: undefined features are `NaN` (an empty morphological mask gives zero volumes
/// and `NaN` elsewhere; an empty intensity mask, or intensity and mask arrays of different
/// shapes, gives `NaN` for the intensity-based features).
pub fn features(roi: &Roi) -> Vec<Feature> {
    let spacing = roi.spacing;
    let m = mesh(&roi.morphological_mask, spacing);
    let volume = m.volume();
    let area = m.area();
    let voxel_volume = spacing[0] * spacing[1] * spacing[2];
    let n_morph = roi.morphological_mask.iter().filter(|&&b| b).count();
    let approx_volume = n_morph as f64 * voxel_volume;
    let hull = m.convex_hull();

    let comp2 = 36.0 * PI * volume * volume / area.powi(3);
    let pca = pca_eigenvalues(&roi.morphological_mask, spacing);
    let [l_major, l_minor, l_least] = pca.unwrap_or([f64::NAN; 3]);
    // Semi-axes of the approximate enclosing ellipsoid (IBSI: 2 sqrt(lambda)).
    let (a, b, c) = (
        2.0 * l_major.sqrt(),
        2.0 * l_minor.sqrt(),
        2.0 * l_least.sqrt(),
    );

    let (aabb_volume, aabb_area) = aabb(&m.vertices);
    let shapes_match = roi.intensity.shape() == roi.intensity_mask.shape()
        && roi.intensity_mask.shape() == roi.morphological_mask.shape();
    let (com_shift, mean_intensity, (moran, geary)) = if shapes_match {
        (
            centre_of_mass_shift(roi),
            mean_in_mask(&roi.intensity, &roi.intensity_mask),
            autocorrelation::moran_geary(&roi.intensity, &roi.intensity_mask, spacing),
        )
    } else {
        (f64::NAN, f64::NAN, (f64::NAN, f64::NAN))
    };

    let f = |name, ibsi_code, value| Feature {
        name,
        ibsi_code,
        aggregation: None,
        value,
    };
    vec![
        f("morph_volume", "RNU0", volume),
        f("morph_approx_volume", "YEKZ", approx_volume),
        f("morph_area", "C0JK", area),
        f("morph_surface_volume_ratio", "2PR5", area / volume),
        f(
            "morph_comp_1",
            "SKGS",
            volume / (PI.sqrt() * area.powf(1.5)),
        ),
        f("morph_comp_2", "BQWJ", comp2),
        f(
            "morph_sph_dispr",
            "KRCK",
            area / (36.0 * PI * volume * volume).cbrt(),
        ),
        f(
            "morph_sphericity",
            "QCFX",
            (36.0 * PI * volume * volume).cbrt() / area,
        ),
        f(
            "morph_asphericity",
            "25C7",
            (area.powi(3) / (36.0 * PI * volume * volume)).cbrt() - 1.0,
        ),
        f("morph_centre_of_mass_shift", "KLMA", com_shift),
        f("morph_max_3d_diam", "L0JK", hull.max_diameter()),
        f("morph_pca_major", "TDIC", 4.0 * l_major.sqrt()),
        f("morph_pca_minor", "P9VJ", 4.0 * l_minor.sqrt()),
        f("morph_pca_least", "7J51", 4.0 * l_least.sqrt()),
        f("morph_pca_elongation", "Q3CK", (l_minor / l_major).sqrt()),
        f("morph_pca_flatness", "N17B", (l_least / l_major).sqrt()),
        f("morph_vol_dens_aabb", "PBX1", volume / aabb_volume),
        // "aab" (sic) is the IBSI label of this feature.
        f("morph_area_dens_aab", "R59B", area / aabb_area),
        f(
            "morph_vol_dens_aee",
            "6BDE",
            3.0 * volume / (4.0 * PI * a * b * c),
        ),
        f(
            "morph_area_dens_aee",
            "RDD2",
            area / ellipsoid_area(a, b, c),
        ),
        f("morph_vol_dens_conv_hull", "R3ER", volume / hull.volume()),
        f("morph_area_dens_conv_hull", "7T7F", area / hull.area()),
        f(
            "morph_integrated_intensity",
            "99N0",
            volume * mean_intensity,
        ),
        f("morph_moran_i", "N365", moran),
        f("morph_geary_c", "NPT7", geary),
    ]
}

/// Volume and surface area of the axis-aligned bounding box of the points (`NaN` if none).
fn aabb(points: &[[f64; 3]]) -> (f64, f64) {
    if points.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in points {
        for d in 0..3 {
            lo[d] = lo[d].min(p[d]);
            hi[d] = hi[d].max(p[d]);
        }
    }
    let e = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
    (
        e[0] * e[1] * e[2],
        2.0 * (e[0] * e[1] + e[1] * e[2] + e[0] * e[2]),
    )
}

/// Mean intensity in the mask (`NaN` for an empty mask).
fn mean_in_mask(intensity: &Array3<f64>, mask: &Array3<bool>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for (&v, &m) in intensity.iter().zip(mask) {
        if m {
            s += v;
            n += 1;
        }
    }
    s / n as f64
}

/// Physical position `[x, y, z]` of a voxel centre.
fn position(k: usize, j: usize, i: usize, spacing: [f64; 3]) -> [f64; 3] {
    [
        i as f64 * spacing[0],
        j as f64 * spacing[1],
        k as f64 * spacing[2],
    ]
}

/// Distance between the geometric centre of the morphological mask and the intensity-weighted
/// centre of the intensity mask (KLMA).
fn centre_of_mass_shift(roi: &Roi) -> f64 {
    let mut geom = [0.0; 3];
    let mut n = 0usize;
    let mut weighted = [0.0; 3];
    let mut total = 0.0;
    for (((k, j, i), &m), (&g, &v)) in roi
        .morphological_mask
        .indexed_iter()
        .zip(roi.intensity_mask.iter().zip(roi.intensity.iter()))
    {
        let p = position(k, j, i, roi.spacing);
        if m {
            n += 1;
            for d in 0..3 {
                geom[d] += p[d];
            }
        }
        if g {
            total += v;
            for d in 0..3 {
                weighted[d] += v * p[d];
            }
        }
    }
    let d: Vec<f64> = (0..3)
        .map(|a| geom[a] / n as f64 - weighted[a] / total)
        .collect();
    (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
}

/// Eigenvalues (descending) of the covariance matrix of the voxel centres of `mask`, in mm²;
/// `None` for an empty mask. Sample covariance (divided by N − 1, like `numpy.cov`): the IBSI
/// reference values use it (digital phantom major axis 11.40 vs 11.33 with N).
fn pca_eigenvalues(mask: &Array3<bool>, spacing: [f64; 3]) -> Option<[f64; 3]> {
    let mut n = 0usize;
    let mut s = [0.0; 3];
    let mut pts = Vec::new();
    for ((k, j, i), &m) in mask.indexed_iter() {
        if m {
            let p = position(k, j, i, spacing);
            n += 1;
            for d in 0..3 {
                s[d] += p[d];
            }
            pts.push(p);
        }
    }
    if n == 0 {
        return None;
    }
    let mean = s.map(|v| v / n as f64);
    let mut cov = [[0.0; 3]; 3];
    for p in &pts {
        let d = mesh::sub(*p, mean);
        for r in 0..3 {
            for c in 0..3 {
                cov[r][c] += d[r] * d[c];
            }
        }
    }
    for row in &mut cov {
        for v in row.iter_mut() {
            *v /= (n as f64 - 1.0).max(1.0);
        }
    }
    let mut e = symmetric_eigenvalues(cov);
    e.sort_by(|a, b| b.total_cmp(a));
    // Rounding can make a zero eigenvalue slightly negative; lengths need sqrt.
    Some(e.map(|v| v.max(0.0)))
}

/// Eigenvalues of a symmetric 3×3 matrix by cyclic Jacobi rotations (robust for any input,
/// including repeated eigenvalues).
fn symmetric_eigenvalues(mut a: [[f64; 3]; 3]) -> [f64; 3] {
    for _sweep in 0..64 {
        let off = a[0][1].powi(2) + a[0][2].powi(2) + a[1][2].powi(2);
        let diag = a[0][0].powi(2) + a[1][1].powi(2) + a[2][2].powi(2);
        if off <= 1e-30 * diag || !off.is_finite() {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q] == 0.0 {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let t = if theta == 0.0 { 1.0 } else { t };
            let c = 1.0 / (t * t + 1.0).sqrt();
            let s = t * c;
            // A' = Jᵀ A J with the rotation J in the (p, q) plane.
            for k in 0..3 {
                let (akp, akq) = (a[k][p], a[k][q]);
                a[k][p] = c * akp - s * akq;
                a[k][q] = s * akp + c * akq;
            }
            for k in 0..3 {
                let (apk, aqk) = (a[p][k], a[q][k]);
                a[p][k] = c * apk - s * aqk;
                a[q][k] = s * apk + c * aqk;
            }
        }
    }
    [a[0][0], a[1][1], a[2][2]]
}

/// The IBSI approximate-ellipsoid surface (RDD2) for semi-axes `a >= b >= c`, exactly as the
/// manual writes it: `4π a b Σ_ν (αβ)^ν / (1 − 4ν²) P_ν((α² + β²) / 2αβ)` for ν = 0..=20, with
/// `α = sqrt(1 − b²/a²)` and `β = sqrt(1 − c²/a²)`.
///
/// Note: this is not the true ellipsoid area unless the ellipsoid is a sphere. The Legendre
/// series for the area takes eccentricities relative to the smallest axis,
/// `α = sqrt(1 − c²/a²)`, `β = sqrt(1 − c²/b²)`; the manual's version overestimates the area of
/// a prolate spheroid by ~10 %. The IBSI reference values (digital phantom 1.36 ± 0.01; the
/// true area would give 1.30) were computed with the formula as written, so we keep it to stay
/// comparable.
fn ellipsoid_area(a: f64, b: f64, c: f64) -> f64 {
    let alpha = (1.0 - (b * b) / (a * a)).max(0.0).sqrt();
    let beta = (1.0 - (c * c) / (a * a)).max(0.0).sqrt();
    // q_ν = (αβ)^ν P_ν(x) with x = (α² + β²)/(2αβ), by the Legendre recurrence multiplied
    // through by (αβ)^(ν+1): finite even for a sphere (α = β = 0, where x is infinite).
    let s = (alpha * alpha + beta * beta) / 2.0;
    let ab2 = (alpha * beta).powi(2);
    let (mut q_prev, mut q) = (1.0, s);
    let mut sum = 1.0 + q / (1.0 - 4.0);
    for nu in 1..20 {
        let nu_f = nu as f64;
        let next = ((2.0 * nu_f + 1.0) * s * q - nu_f * ab2 * q_prev) / (nu_f + 1.0);
        q_prev = q;
        q = next;
        let k = nu_f + 1.0;
        sum += q / (1.0 - 4.0 * k * k);
    }
    4.0 * PI * a * b * sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipsoid_series_as_ibsi_writes_it() {
        let r = 3.0;
        assert!((ellipsoid_area(r, r, r) - 4.0 * PI * r * r).abs() < 1e-9);
        // Direct evaluation of the IBSI series with Legendre polynomials P_ν(x).
        let (a, b, c) = (5.0f64, 4.0f64, 3.0f64);
        let alpha = (1.0 - b * b / (a * a)).sqrt();
        let beta = (1.0 - c * c / (a * a)).sqrt();
        let x = (alpha * alpha + beta * beta) / (2.0 * alpha * beta);
        let (mut p0, mut p1) = (1.0, x);
        let mut sum = 1.0 + alpha * beta * x / (1.0 - 4.0);
        for nu in 1..20 {
            let nu_f = nu as f64;
            let p2 = ((2.0 * nu_f + 1.0) * x * p1 - nu_f * p0) / (nu_f + 1.0);
            p0 = p1;
            p1 = p2;
            let k = nu_f + 1.0;
            sum += (alpha * beta).powf(k) * p1 / (1.0 - 4.0 * k * k);
        }
        let direct = 4.0 * PI * a * b * sum;
        assert!((ellipsoid_area(a, b, c) - direct).abs() / direct < 1e-12);
    }

    #[test]
    fn jacobi_eigenvalues() {
        let e = symmetric_eigenvalues([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 5.0]]);
        let mut e = e.to_vec();
        e.sort_by(f64::total_cmp);
        for (x, y) in e.iter().zip([1.0, 3.0, 5.0]) {
            assert!((x - y).abs() < 1e-12);
        }
    }
}
