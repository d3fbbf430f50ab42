//! PyRadiomics compatibility of the texture classes (GLCM, GLRLM, GLSZM, GLDM, NGTDM) against
//! PyRadiomics' own baseline tables (`radiomics/pyradiomics/baseline/baseline_<class>.csv` in
//! the shared data: 5 cases × 8 configurations; pyradiomics-bhklab 3.1.4 reproduces every
//! texture cell of them to ≤ 4e-12).
//!
//! The inputs are fixtures in `tests/data/pyradiomics/`: for every baseline column, the
//! discretised ROI exactly as PyRadiomics' feature classes see it (`imageArray` after
//! `_applyBinning`, 0 outside `maskArray`, cropped to the ROI bounding box), dumped with
//! pyradiomics-bhklab 3.1.4 after its loading / resampling / normalisation / resegmentation /
//! cropping steps for that column's `diagnostics_Configuration_Settings`, as gzip NRRD
//! (uint8, spacing = the cropped image's spacing), deduplicated; `manifest.tsv` maps each
//! column to its fixture and texture settings. This tests the texture classes alone; the
//! preprocessing has its own tests.

use std::collections::HashMap;
use std::path::PathBuf;

use ndarray::Array3;
use voxide_radiomics::pyradiomics::texture::{compute, TextureInput, TextureSettings, CLASSES};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/pyradiomics")
}

/// Splits one CSV line (fields may be double-quoted and contain commas).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out
}

/// One baseline column's texture settings and fixture.
struct Column {
    name: String,
    fixture: String,
    settings: TextureSettings,
}

fn manifest() -> Vec<Column> {
    let text = std::fs::read_to_string(fixtures().join("manifest.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 8, "bad manifest row {l}");
            let distances = f[2]
                .trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .map(|d| d.trim().parse().unwrap())
                .collect();
            Column {
                name: f[0].to_string(),
                fixture: f[1].to_string(),
                settings: TextureSettings {
                    distances,
                    force_2d: f[3] == "true",
                    force_2d_dimension: f[4].parse().unwrap(),
                    weighting_norm: (f[5] != "None").then(|| f[5].to_string()),
                    gldm_a: f[6].parse().unwrap(),
                    symmetrical_glcm: f[7] == "true",
                },
            }
        })
        .collect()
}

/// The fixture's levels `(nk, nj, ni)` and spacing `[si, sj, sk]`.
fn load(fixture: &str) -> (Array3<u32>, [f64; 3]) {
    let image = voxide_io::read_image(&fixtures().join(fixture)).unwrap();
    let shape = image.geometry().shape();
    let spacing = image.geometry().spacing();
    let levels: Vec<u32> = image.to_f64_vec().into_iter().map(|v| v as u32).collect();
    (Array3::from_shape_vec(shape, levels).unwrap(), spacing)
}

/// Baseline values of one class: column → [(feature, value)] in the CSV's row order.
fn baseline(class: &str) -> HashMap<String, Vec<(String, f64)>> {
    let path = voxide_testdata::data(&format!(
        "radiomics/pyradiomics/baseline/baseline_{class}.csv"
    ));
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = split_csv(lines.next().unwrap());
    let mut out: HashMap<String, Vec<(String, f64)>> = HashMap::new();
    let prefix = format!("original_{class}_");
    for line in lines {
        let f = split_csv(line);
        let Some(feature) = f[0].strip_prefix(&prefix) else {
            continue;
        };
        for (col, value) in header.iter().zip(&f).skip(1) {
            out.entry(col.clone())
                .or_default()
                .push((feature.to_string(), value.parse().unwrap()));
        }
    }
    out
}

fn close(got: f64, want: f64) -> bool {
    (got.is_nan() && want.is_nan())
        || (got - want).abs() <= 1e-9
        || (got - want).abs() <= 1e-6 * want.abs()
}

#[test]
fn baseline_columns_match() {
    let columns = manifest();
    assert_eq!(columns.len(), 40, "5 cases × 8 configurations");
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for class in CLASSES {
        let table = baseline(class);
        let (mut matched, mut total, mut worst) = (0, 0, 0.0f64);
        let mut per_case: HashMap<&str, (usize, usize)> = HashMap::new();
        for column in &columns {
            let (levels, spacing) = load(&column.fixture);
            let input = TextureInput {
                levels: &levels,
                spacing,
                settings: &column.settings,
            };
            // weightingNorm ("combined") columns exist for GLCM and GLRLM only.
            let Some(want) = table.get(&column.name) else {
                continue;
            };
            let names: Vec<&str> = want.iter().map(|(n, _)| n.as_str()).collect();
            let got: HashMap<&str, f64> = compute(class, &input, &names)
                .unwrap_or_else(|e| panic!("{class} {}: {e}", column.name))
                .into_iter()
                .collect();
            let case = column.name.split('_').next().unwrap();
            let entry = per_case.entry(case).or_default();
            for (name, w) in want {
                total += 1;
                entry.1 += 1;
                match got.get(name.as_str()) {
                    Some(&g) if close(g, *w) => {
                        if g != *w && !w.is_nan() {
                            let rel = (g - w).abs() / w.abs().max(1e-300);
                            if rel > 1e-10 {
                                println!("{class} {} {name}: {g} vs {w} ({rel:.1e})", column.name);
                            }
                            worst = worst.max(rel);
                        }
                        matched += 1;
                        entry.0 += 1;
                    }
                    g => failures.push(format!(
                        "{class} {} {name}: got {g:?}, baseline {w}",
                        column.name
                    )),
                }
            }
        }
        let mut cases: Vec<_> = per_case.into_iter().collect();
        cases.sort();
        report.push(format!(
            "{class}: {matched}/{total} matched, worst relative difference {worst:.1e} ({})",
            cases
                .iter()
                .map(|(c, (m, t))| format!("{c} {m}/{t}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    println!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
