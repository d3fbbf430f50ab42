//! Timings of the five PyRadiomics texture classes on ~100 000-voxel ROIs:
//! `cargo bench -p voxide-radiomics --bench pyradiomics_texture`.
//! The classes are single-threaded.
//!
//! `tests/data/pyradiomics/time_pyradiomics.py` builds the same two ROIs (integer formulas, so
//! both sides get identical arrays) and times pyradiomics-bhklab 3.1.4's classes on them.

use std::time::Instant;

use ndarray::Array3;
use voxide_radiomics::pyradiomics::texture::{compute, TextureInput, TextureSettings, CLASSES};

/// A full 40 × 50 × 50 box of pseudo-random levels `1..=64` (a 64-bit LCG): the worst case for
/// zones and runs (almost every zone and run has one voxel).
pub fn random_box() -> Array3<u32> {
    let mut state: u64 = 12345;
    Array3::from_shape_simple_fn((40, 50, 50), || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % 64) as u32 + 1
    })
}

/// An ellipsoid inscribed in a 48 × 64 × 64 box (~103 000 voxels) with smoothly varying levels
/// `1..=32` plus a little LCG noise: closer to a real tumour.
pub fn ellipsoid() -> Array3<u32> {
    let (nk, nj, ni) = (48i64, 64i64, 64i64);
    let mut state: u64 = 777;
    Array3::from_shape_fn((nk as usize, nj as usize, ni as usize), |(k, j, i)| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let (k, j, i) = (k as i64, j as i64, i as i64);
        let dz = (2 * k + 1 - nk) * nj * ni;
        let dy = (2 * j + 1 - nj) * nk * ni;
        let dx = (2 * i + 1 - ni) * nk * nj;
        let r = nk * nj * ni;
        if dz * dz + dy * dy + dx * dx > r * r {
            0
        } else {
            (((k * k + 3 * j + 5 * i) / 37 + ((state >> 33) % 4) as i64) % 32) as u32 + 1
        }
    })
}

/// Best (smallest) wall time of `runs` calls of `f`, in ms: on a shared machine the minimum
/// is the run least disturbed by other processes.
fn best_of(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    best
}

fn five_classes_on_100k_voxels() {
    let settings = TextureSettings::default();
    for (name, levels) in [("random box", random_box()), ("ellipsoid", ellipsoid())] {
        let n = levels.iter().filter(|&&l| l > 0).count();
        let input = TextureInput {
            levels: &levels,
            spacing: [1.0, 1.0, 1.0],
            settings: &settings,
        };
        let total = best_of(30, || {
            for class in CLASSES {
                assert!(!compute(class, &input, &[]).unwrap().is_empty());
            }
        });
        let per_class: Vec<String> = CLASSES
            .iter()
            .map(|class| {
                let t = best_of(30, || {
                    compute(class, &input, &[]).unwrap();
                });
                format!("{class} {t:.2}")
            })
            .collect();
        println!(
            "{name} ({n} voxels): all five classes {total:.2} ms ({} ms)",
            per_class.join(", ")
        );
    }
}

fn main() {
    five_classes_on_100k_voxels();
}
