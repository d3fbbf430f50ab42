//! Times voxide-eval on a large synthetic case: a 512×512×300 CT-like grid (0.8 × 0.8 × 1.5 mm)
//! with a ~1M-voxel ellipsoid as reference and a shifted, reshaped ellipsoid as prediction.
//! Writes both masks as NIfTI to the folder given as first argument (for `bench/eval/bench.py`,
//! which times MedPy and surface-distance on them) and prints voxide's timings as JSON.
//!
//! `cargo run --release -p voxide-eval --example seg_bench -- OUT_DIR [REPEATS]`

use std::time::Instant;

use ndarray::Array3;
use voxide_core::{geometry::IDENTITY, AnyImage, Geometry, Image};
use voxide_eval::{evaluate, Convention, Options};

fn ellipsoid(g: &Geometry, centre: [f64; 3], axes: [f64; 3]) -> Image<u8> {
    let data = Array3::from_shape_fn(g.shape(), |(k, j, i)| {
        let d = [
            (k as f64 - centre[0]) / axes[0],
            (j as f64 - centre[1]) / axes[1],
            (i as f64 - centre[2]) / axes[2],
        ];
        u8::from(d[0] * d[0] + d[1] * d[1] + d[2] * d[2] <= 1.0)
    });
    Image::new(g.clone(), data).expect("shape")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().ok_or("usage: seg_bench OUT_DIR [REPEATS]")?);
    let repeats: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(5);
    let g = Geometry::new([512, 512, 300], [0.8, 0.8, 1.5], [0.0; 3], IDENTITY)?;
    // Centres and semi-axes in voxels (k, j, i); bench.py builds the same masks.
    let reference = ellipsoid(&g, [150.0, 256.0, 256.0], [40.0, 77.0, 77.0]);
    let prediction = ellipsoid(&g, [151.0, 258.0, 253.0], [42.0, 75.0, 80.0]);
    std::fs::create_dir_all(&out)?;
    voxide_io::write_image(
        &out.join("reference.nii"),
        &AnyImage::from(reference.clone()),
    )?;
    voxide_io::write_image(
        &out.join("prediction.nii"),
        &AnyImage::from(prediction.clone()),
    )?;
    let voxels = reference.data().iter().filter(|&&v| v != 0).count();
    let mut rows = Vec::new();
    for (name, c) in [
        ("MetricsReloaded", Convention::MetricsReloaded),
        ("MedPy", Convention::MedPy),
        ("SurfaceDistance", Convention::SurfaceDistance),
    ] {
        let o = Options::with_convention(c);
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..repeats {
            let t = Instant::now();
            last = Some(evaluate(&reference, &prediction, &o)?);
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let m = last.ok_or("no repeat")?;
        rows.push(format!(
            "\"{name}\": {{\"median_s\": {}, \"min_s\": {}, \"dice\": {}, \"hd\": {}, \"hd95\": {}, \"assd\": {}}}",
            times[times.len() / 2],
            times[0],
            m.dice(),
            m.hausdorff(),
            m.hausdorff_percentile(),
            m.assd()
        ));
    }
    println!(
        "{{\"reference_voxels\": {voxels}, \"threads\": {}, {}}}",
        rayon::current_num_threads(),
        rows.join(", ")
    );
    Ok(())
}
