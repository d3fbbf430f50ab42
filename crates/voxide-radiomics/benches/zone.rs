//! Timing of the zone and neighbourhood families on ROIs of about 100 000 voxels:
//! `cargo bench -p voxide-radiomics --bench zone`. With `ZONE_PERF_FAMILY` set it instead
//! runs one family repeatedly (for `perf`).

use std::time::Instant;

use ndarray::Array3;
use voxide_radiomics::features::{gldzm, glszm, ngldm, ngtdm};
use voxide_radiomics::Aggregation;

const ALL: [Aggregation; 3] = [
    Aggregation::Slice2D,
    Aggregation::Volume25D,
    Aggregation::Volume3D,
];

/// Deterministic pseudo-random levels `1..=n_levels` (xorshift), no dependency needed.
fn noise(shape: (usize, usize, usize), n_levels: u32, seed: u64) -> Array3<u32> {
    let mut s = seed;
    Array3::from_shape_simple_fn(shape, || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % u64::from(n_levels)) as u32 + 1
    })
}

/// Smooth levels (a slowly varying field, so zones are large) inside a ball-shaped ROI.
fn smooth_ball(n: usize, n_levels: u32) -> Array3<u32> {
    let c = n as f64 / 2.0;
    Array3::from_shape_fn((n, n, n), |(k, j, i)| {
        let (z, y, x) = (k as f64 - c, j as f64 - c, i as f64 - c);
        if (x * x + y * y + z * z).sqrt() > c - 1.0 {
            return 0;
        }
        let f = (x / 9.0).sin() + (y / 7.0).cos() + (z / 11.0).sin();
        (((f + 3.0) / 6.0 * f64::from(n_levels)) as u32).clamp(1, n_levels)
    })
}

/// Best of 40 runs: on a shared machine the minimum is the run least disturbed by other
/// processes competing for the cores.
fn time<T>(label: &str, f: impl Fn() -> T) -> T {
    let mut out = f(); // warm-up (page faults, rayon pool start)
    let mut best = f64::INFINITY;
    for _ in 0..40 {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("{label:<36} {best:7.2} ms");
    out
}

fn bench(name: &str, levels: &Array3<u32>, n_levels: usize) {
    let voxels = levels.iter().filter(|&&l| l > 0).count();
    println!(
        "{name}: {:?}, {voxels} ROI voxels, {n_levels} levels",
        levels.dim()
    );
    let mask = levels.mapv(|l| l > 0);
    for (label, aggregations) in [("2D+2.5D+3D", &ALL[..]), ("3D only", &ALL[2..])] {
        time(&format!("  glszm {label}"), || {
            glszm::features(levels, n_levels, aggregations)
        });
        time(&format!("  gldzm {label}"), || {
            gldzm::features(levels, &mask, n_levels, aggregations)
        });
        time(&format!("  ngtdm {label}"), || {
            ngtdm::features(levels, n_levels, aggregations)
        });
        time(&format!("  ngldm {label}"), || {
            ngldm::features(levels, n_levels, aggregations)
        });
    }
    time("  3D matrices only: glszm", || {
        glszm::matrix(levels, n_levels)
    });
    time("  3D matrices only: gldzm", || {
        gldzm::matrix(levels, &mask, n_levels)
    });
    time("  3D matrices only: ngtdm", || ngtdm::matrix(levels));
    time("  3D matrices only: ngldm", || {
        ngldm::matrix(levels, n_levels, 0)
    });
}

fn zone_family_timings() {
    println!("rayon threads: {}", rayon::current_num_threads());
    bench(
        "noise 50x50x40",
        &noise((40, 50, 50), 32, 0x9E37_79B9_7F4A_7C15),
        32,
    );
    bench(
        "noise 50x50x40",
        &noise((40, 50, 50), 64, 0x1234_5678_9ABC_DEF1),
        64,
    );
    bench("smooth ball d=58", &smooth_ball(58, 32), 32);
}

/// One family, `ZONE_PERF_REPS` times, for CPU-time measurement from outside, e.g.
/// `perf stat -e task-clock` on the test binary with `ZONE_PERF_FAMILY=glszm` and
/// `RAYON_NUM_THREADS=1`, minus a run with `ZONE_PERF_FAMILY=none`. CPU time, unlike wall time,
/// is barely disturbed by other processes on a loaded machine.
fn zone_family_cpu_helper() {
    let family = std::env::var("ZONE_PERF_FAMILY").unwrap_or_default();
    let reps: usize = std::env::var("ZONE_PERF_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let aggregations: &[Aggregation] = match std::env::var("ZONE_PERF_AGG").as_deref() {
        Ok("all") => &ALL,
        _ => &ALL[2..],
    };
    let levels = noise((40, 50, 50), 32, 0x9E37_79B9_7F4A_7C15);
    let mask = levels.mapv(|l| l > 0);
    let mut n = 0;
    for _ in 0..reps {
        n += match family.as_str() {
            "glszm" => glszm::features(&levels, 32, aggregations).len(),
            "gldzm" => gldzm::features(&levels, &mask, 32, aggregations).len(),
            "ngtdm" => ngtdm::features(&levels, 32, aggregations).len(),
            "ngldm" => ngldm::features(&levels, 32, aggregations).len(),
            _ => 0,
        };
    }
    println!("{family}: {n} features");
}

fn main() {
    if std::env::var_os("ZONE_PERF_FAMILY").is_some() {
        zone_family_cpu_helper();
    } else {
        zone_family_timings();
    }
}
