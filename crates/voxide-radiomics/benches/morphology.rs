//! Timing of the morphology and local intensity features on a large synthetic ROI:
//! `cargo bench -p voxide-radiomics --bench morphology`.

use ndarray::Array3;
use std::time::Instant;
use voxide_radiomics::features::{local_intensity, morphology};
use voxide_radiomics::Roi;

/// A ball of about `n` voxels (1 mm) with a 10-voxel margin and textured intensities.
fn ball(n: usize, spacing: [f64; 3]) -> Roi {
    let r = (3.0 * n as f64 / (4.0 * std::f64::consts::PI)).cbrt();
    let half = r.ceil() as usize + 10;
    let size = 2 * half + 1;
    let c = half as f64;
    let mask = Array3::from_shape_fn((size, size, size), |(k, j, i)| {
        let d2 = (k as f64 - c).powi(2) + (j as f64 - c).powi(2) + (i as f64 - c).powi(2);
        d2 <= r * r
    });
    let intensity = Array3::from_shape_fn((size, size, size), |(k, j, i)| {
        ((k * 7 + j * 13 + i * 29) % 97) as f64 + 0.01 * (k * j) as f64 - 1000.0
    });
    Roi {
        intensity,
        intensity_mask: mask.clone(),
        morphological_mask: mask,
        spacing,
    }
}

fn timing_100k_voxels() {
    for n in [100_000usize, 1_000_000] {
        let roi = ball(n, [1.0, 1.0, 1.0]);
        let voxels = roi.morphological_mask.iter().filter(|&&b| b).count();
        let t = Instant::now();
        let mesh = morphology::mesh(&roi.morphological_mask, roi.spacing);
        let t_mesh = t.elapsed();
        let t = Instant::now();
        let hull = mesh.convex_hull();
        let t_hull = t.elapsed();
        let t = Instant::now();
        let d = hull.max_diameter();
        let t_diam = t.elapsed();
        let t = Instant::now();
        let f = morphology::features(&roi);
        let t_all = t.elapsed();
        let t = Instant::now();
        let l = local_intensity::features(&roi);
        let t_local = t.elapsed();
        println!(
            "{voxels} voxels: mesh {} vertices {} triangles {:?}; hull {} vertices {:?}; \
             diameter {d:.2} {:?}; all morphology {:?}; local intensity {:?}",
            mesh.vertices.len(),
            mesh.triangles.len(),
            t_mesh,
            hull.vertices.len(),
            t_hull,
            t_diam,
            t_all,
            t_local
        );
        assert!(f.iter().all(|f| f.value.is_finite()));
        assert!(l.iter().all(|f| f.value.is_finite()));
    }
}

/// An organ-sized ellipsoid (2.8·10⁶ voxels, box 200 × 180 × 150): Moran's I / Geary's C no
/// longer fit one FFT grid in memory and go through slabs.
fn timing_organ_sized() {
    let (a, b, c) = (75.0f64, 90.0f64, 100.0f64);
    let shape = (151, 181, 201);
    let mask = Array3::from_shape_fn(shape, |(k, j, i)| {
        let (z, y, x) = (k as f64 - a, j as f64 - b, i as f64 - c);
        (z / a).powi(2) + (y / b).powi(2) + (x / c).powi(2) <= 1.0
    });
    let intensity =
        Array3::from_shape_fn(shape, |(k, j, i)| ((k * 7 + j * 13 + i * 29) % 97) as f64);
    let roi = Roi {
        intensity,
        intensity_mask: mask.clone(),
        morphological_mask: mask,
        spacing: [1.0; 3],
    };
    let voxels = roi.morphological_mask.iter().filter(|&&b| b).count();
    let t = Instant::now();
    let f = morphology::features(&roi);
    println!("{voxels} voxels: all morphology {:?}", t.elapsed());
    assert!(f.iter().all(|f| f.value.is_finite()));
}

fn main() {
    timing_100k_voxels();
    timing_organ_sized();
}
