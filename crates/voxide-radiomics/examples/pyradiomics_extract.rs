//! Runs the PyRadiomics compatibility mode on one image and mask and prints `name<TAB>value`
//! lines in PyRadiomics' order (values as Python's `str()` prints them).
//!
//! ```text
//! cargo run --release -p voxide-radiomics --example pyradiomics_extract -- \
//!     IMAGE MASK [PARAMS.yaml] [--label N] [--repeat N]
//! ```
//! `--repeat N` runs the extraction N times and reports the fastest time on stderr.

use std::time::Instant;

use voxide_radiomics::pyradiomics::{extract, PyRadiomicsParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut take = |flag: &str| -> Option<String> {
        let i = args.iter().position(|a| a == flag)?;
        args.remove(i);
        (i < args.len()).then(|| args.remove(i))
    };
    let label = take("--label").map(|v| v.parse::<u32>()).transpose()?;
    let repeat = take("--repeat")
        .map(|v| v.parse::<usize>())
        .transpose()?
        .unwrap_or(1);
    if args.len() < 2 {
        return Err(
            "usage: pyradiomics_extract IMAGE MASK [PARAMS] [--label N] [--repeat N]".into(),
        );
    }
    let image = voxide_io::read_image(args[0].as_ref())?;
    let mask = voxide_io::read_image(args[1].as_ref())?;
    let params = match args.get(2) {
        Some(p) => PyRadiomicsParams::from_yaml(&std::fs::read_to_string(p)?)?,
        None => PyRadiomicsParams::default(),
    };
    let mut best = f64::INFINITY;
    let mut out = Vec::new();
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        out = extract(&image, &mask, label, &params)?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    for (name, value) in &out {
        println!("{name}\t{value}");
    }
    eprintln!("extract: {:.4} s (best of {repeat})", best);
    Ok(())
}
