//! Timings of the directional texture families on ROIs of the size the engine targets:
//! `cargo bench -p voxide-radiomics --bench texture`, with `RAYON_NUM_THREADS=1` for the
//! single-threaded figures.

use std::time::Instant;

use ndarray::Array3;
use voxide_radiomics::features::{glcm, glrlm};
use voxide_radiomics::Aggregation;

const ALL: [Aggregation; 6] = [
    Aggregation::Slice2DAveraged,
    Aggregation::Slice2DMerged,
    Aggregation::Volume25DDirectionMerged,
    Aggregation::Volume25DMerged,
    Aggregation::Volume3DAveraged,
    Aggregation::Volume3DMerged,
];

/// Deterministic pseudo-random levels in `1..=n_levels` (a 64-bit LCG; no extra dependency).
fn random_levels(shape: (usize, usize, usize), n_levels: u32, seed: u64) -> Array3<u32> {
    let mut state = seed;
    Array3::from_shape_simple_fn(shape, || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % u64::from(n_levels)) as u32 + 1
    })
}

/// A smooth ellipsoidal ROI: levels follow a slow gradient (long runs, sparse GLCMs), 0
/// outside the ellipsoid.
fn ellipsoid_levels(shape: (usize, usize, usize), n_levels: u32) -> Array3<u32> {
    let (nk, nj, ni) = shape;
    Array3::from_shape_fn(shape, |(k, j, i)| {
        let z = (k as f64 + 0.5) / nk as f64 * 2.0 - 1.0;
        let y = (j as f64 + 0.5) / nj as f64 * 2.0 - 1.0;
        let x = (i as f64 + 0.5) / ni as f64 * 2.0 - 1.0;
        let r2 = x * x + y * y + z * z;
        if r2 > 1.0 {
            0
        } else {
            ((1.0 - r2) * f64::from(n_levels - 1) + 0.5 * (x * 7.0).sin())
                .clamp(0.0, f64::from(n_levels - 1)) as u32
                + 1
        }
    })
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = f();
    for _ in 0..runs {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    (best, out)
}

fn texture_timings() {
    let threads = rayon::current_num_threads();
    let cases = [
        (
            "random 50x50x40, 32 levels",
            random_levels((40, 50, 50), 32, 1),
            32usize,
        ),
        (
            "random 50x50x40, 64 levels",
            random_levels((40, 50, 50), 64, 2),
            64,
        ),
        (
            "ellipsoid 60x60x50 (~94k voxels), 64 levels",
            ellipsoid_levels((50, 60, 60), 64),
            64,
        ),
    ];
    for (label, levels, n_levels) in &cases {
        let voxels = levels.iter().filter(|&&v| v != 0).count();
        let (t_cm, f_cm) = best_of(10, || glcm::features(levels, *n_levels, &ALL));
        let (t_rlm, f_rlm) = best_of(10, || glrlm::features(levels, *n_levels, &ALL));
        let (t_cm3, _) = best_of(10, || {
            glcm::features(
                levels,
                *n_levels,
                &[Aggregation::Volume3DAveraged, Aggregation::Volume3DMerged],
            )
        });
        let (t_vol, _) = best_of(10, || glcm::volume_matrices(levels, *n_levels, 1).unwrap());
        assert_eq!(f_cm.len(), 150);
        assert_eq!(f_rlm.len(), 96);
        assert!(f_cm.iter().chain(&f_rlm).all(|f| f.value.is_finite()));
        println!(
            "{label} ({voxels} ROI voxels, {threads} threads): GLCM all 6 aggregations {t_cm:.2} ms, \
             GLCM 3D only {t_cm3:.2} ms, 13 GLCM volume matrices {t_vol:.2} ms, GLRLM all 6 {t_rlm:.2} ms"
        );
    }
}

fn main() {
    texture_timings();
}
