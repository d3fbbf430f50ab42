//! Shared helpers of the radiomics tests: the IBSI digital phantom and the IBSI reference table.
#![allow(dead_code)]

use ndarray::Array3;
use voxide_radiomics::Roi;

/// The IBSI 1 digital phantom (5 × 4 × 4 voxels of 2 mm) as a ROI: no processing needed,
/// intensity and morphological masks are the same.
pub fn digital_phantom() -> Roi {
    let dir = voxide_testdata::data("radiomics/ibsi/ibsi_1_digital_phantom/nifti");
    let image = voxide_io::read_image(&dir.join("image/phantom.nii.gz")).unwrap();
    let mask = voxide_io::read_image(&dir.join("mask/mask.nii.gz")).unwrap();
    let spacing = image.geometry().spacing();
    let shape = image.geometry().shape();
    let intensity = Array3::from_shape_vec(shape, image.to_f64_vec()).unwrap();
    let m: Vec<bool> = mask.to_f64_vec().into_iter().map(|v| v > 0.5).collect();
    let mask = Array3::from_shape_vec(shape, m).unwrap();
    Roi {
        intensity,
        intensity_mask: mask.clone(),
        morphological_mask: mask,
        spacing,
    }
}

/// The phantom's grey levels as discretised levels (it needs no discretisation: levels are
/// its intensities 1..=6), 0 outside the mask.
pub fn digital_phantom_levels() -> (Array3<u32>, usize) {
    let roi = digital_phantom();
    let levels = ndarray::Zip::from(&roi.intensity)
        .and(&roi.intensity_mask)
        .map_collect(|&v, &m| if m { v.round() as u32 } else { 0 });
    (levels, 6)
}

/// One row of the IBSI reference table.
#[derive(Debug, Clone)]
pub struct Reference {
    pub family: String,
    pub label: String,
    pub name: String,
    pub code: String,
    pub data_set: String,
    pub aggregation: String,
    pub value: f64,
    pub tolerance: f64,
}

/// All rows of `radiomics/ibsi/ibsi1_reference_values.csv` (rows without a value are skipped
/// with their count returned as well, so a test can report them).
pub fn references() -> Vec<Reference> {
    let text = std::fs::read_to_string(voxide_testdata::data(
        "radiomics/ibsi/ibsi1_reference_values.csv",
    ))
    .unwrap();
    let mut rows = Vec::new();
    for line in text.lines().skip(1) {
        let f = split_csv(line);
        assert_eq!(f.len(), 9, "bad reference row: {line}");
        // The manual prints no code for GLSZM small zone emphasis, so the table filed its rows
        // under the GLRLM label with the GLSZM section code 9SAK; IBSI's code for it is 5QRC.
        let misfiled = f[3] == "9SAK";
        rows.push(Reference {
            family: if misfiled {
                "glszm".into()
            } else {
                f[0].clone()
            },
            label: f[1].clone(),
            name: f[2].clone(),
            code: if misfiled {
                "5QRC".into()
            } else {
                f[3].clone()
            },
            data_set: f[4].clone(),
            aggregation: f[5].clone(),
            value: f[6].parse().unwrap_or(f64::NAN),
            tolerance: f[7].parse().unwrap_or(0.0),
        });
    }
    rows
}

/// The IBSI table's name of an aggregation, e.g. `3D, averaged`.
pub fn table_aggregation(a: voxide_radiomics::Aggregation) -> &'static str {
    use voxide_radiomics::Aggregation::*;
    match a {
        Slice2DAveraged => "2D, averaged",
        Slice2DMerged => "2D, slice-merged",
        Volume25DDirectionMerged => "2.5D, direction-merged",
        Volume25DMerged => "2.5D, merged",
        Volume3DAveraged => "3D, averaged",
        Volume3DMerged => "3D, merged",
        Slice2D => "2D",
        Volume25D => "2.5D",
        Volume3D => "3D",
    }
}

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

/// Compares computed features with the reference rows of one data set; returns
/// `(matched, failures)` where failures describe each mismatch or missing feature.
///
/// Rows are matched by IBSI code and aggregation. Where the table repeats a code for one data
/// set (V10 and V90 share BC2M; the manual prints 1PR8 for both the histogram minimum and
/// P10), the n-th such row is matched with the n-th computed feature carrying that code.
pub fn compare(
    data_set: &str,
    family: &str,
    computed: &[voxide_radiomics::Feature],
) -> (usize, Vec<String>) {
    let mut matched = 0;
    let mut failures = Vec::new();
    let mut seen: std::collections::HashMap<(String, String), usize> = Default::default();
    for r in references()
        .iter()
        .filter(|r| r.data_set == data_set && r.family == family)
    {
        let nth = seen
            .entry((r.code.clone(), r.aggregation.clone()))
            .or_insert(0);
        let found = computed
            .iter()
            .filter(|f| {
                f.ibsi_code == r.code
                    && f.aggregation.map(table_aggregation).unwrap_or("") == r.aggregation
            })
            .nth(*nth);
        *nth += 1;
        match found {
            None => failures.push(format!(
                "{} {} [{}] {}: not computed",
                r.code, r.label, r.aggregation, r.name
            )),
            // The manual prints "—" (no reference value) for one row: config. C compactness 1.
            Some(f) if r.value.is_nan() && r.tolerance == 0.0 && !f.value.is_nan() => {
                println!(
                    "  no reference value for {} {} [{}] ({data_set}); computed {}",
                    r.code, r.label, r.aggregation, f.value
                );
            }
            Some(f) => {
                let ok = (f.value.is_nan() && r.value.is_nan())
                    || (f.value - r.value).abs() <= r.tolerance + 1e-12 * r.value.abs().max(1.0)
                    || printed_precision_match(f.value, r.value, r.tolerance);
                if ok {
                    matched += 1;
                } else {
                    failures.push(format!(
                        "{} {} [{}]: computed {} reference {} ± {}",
                        r.code, r.label, r.aggregation, f.value, r.value, r.tolerance
                    ));
                }
            }
        }
    }
    (matched, failures)
}

/// With zero tolerance, a value matches when it rounds to the reference's 3 significant digits
/// (the precision the IBSI tables print).
fn printed_precision_match(value: f64, reference: f64, tolerance: f64) -> bool {
    if tolerance > 0.0 || reference == 0.0 {
        return tolerance == 0.0 && value.abs() < 5e-4 && reference == 0.0;
    }
    let digits = 3 - 1 - reference.abs().log10().floor() as i32;
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale == (reference * scale).round() / scale
}

/// The IBSI 1 lung cancer CT phantom (NIfTI) as image and mask: intensities converted to
/// float and rounded to the nearest integer, as the IBSI manual asks for NIfTI input.
pub fn ct_phantom() -> (voxide_core::Image<f64>, voxide_core::Image<u8>) {
    let dir = voxide_testdata::data("radiomics/ibsi/ibsi_1_ct_radiomics_phantom/nifti");
    let image = voxide_io::read_image(&dir.join("image/phantom.nii.gz")).unwrap();
    let mask = voxide_io::read_image(&dir.join("mask/mask.nii.gz")).unwrap();
    let geometry = image.geometry().clone();
    let image = voxide_core::Image::from_vec(
        geometry.clone(),
        image.to_f64_vec().into_iter().map(f64::round).collect(),
    )
    .unwrap();
    let mask = voxide_core::Image::from_vec(
        geometry,
        mask.to_f64_vec()
            .into_iter()
            .map(|v| u8::from(v.round() > 0.0))
            .collect(),
    )
    .unwrap();
    (image, mask)
}
