//! `voxide radiomics extract` and `voxide radiomics batch` end to end.

use std::path::Path;
use std::process::Command;

fn voxide() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voxide"))
}

fn phantom(file: &str) -> String {
    voxide_testdata::data(&format!(
        "radiomics/ibsi/ibsi_1_digital_phantom/nifti/{file}"
    ))
    .display()
    .to_string()
}

fn read_table(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn extract_writes_one_row_with_ibsi_values() {
    let out = voxide()
        .args(["radiomics", "extract", "--image"])
        .arg(phantom("image/phantom.nii.gz"))
        .arg("--mask")
        .arg(phantom("mask/mask.nii.gz"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // IBSI digital phantom: mean 2.15, 74 voxels.
    let mean = json["stat_mean"].as_f64().unwrap();
    assert!((mean - 159.0 / 74.0).abs() < 1e-12, "{mean}");
}

#[test]
fn extract_reports_bad_inputs_clearly() {
    let out = voxide()
        .args(["radiomics", "extract", "--image"])
        .arg(phantom("image/phantom.nii.gz"))
        .args(["--mask", "/nonexistent/mask.nii.gz"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("reading mask") && err.contains("no such file"),
        "{err}"
    );

    // Label 2 does not exist in the phantom's mask.
    let out = voxide()
        .args(["radiomics", "extract", "--image"])
        .arg(phantom("image/phantom.nii.gz"))
        .arg("--mask")
        .arg(phantom("mask/mask.nii.gz"))
        .args(["--label", "2"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("region of interest is empty"), "{err}");
}

#[test]
fn batch_records_failures_and_resumes_without_recomputing() {
    let tmp = tempfile::tempdir().unwrap();
    let cohort = tmp.path().join("cohort.csv");
    // P3 is a copy of P1 under another (relative) name: a distinct case with equal features.
    std::fs::copy(
        phantom("image/phantom.nii.gz"),
        tmp.path().join("copy.nii.gz"),
    )
    .unwrap();
    std::fs::write(
        &cohort,
        format!(
            "Image,Mask,Label,Patient\n{img},{mask},1,P1\n{img},missing.nii.gz,1,P2\ncopy.nii.gz,{mask},1,P3\n",
            img = phantom("image/phantom.nii.gz"),
            mask = phantom("mask/mask.nii.gz")
        ),
    )
    .unwrap();
    let output = tmp.path().join("features.csv");
    let run = |extra: &[&str]| {
        let out = voxide()
            .args(["radiomics", "batch"])
            .arg(&cohort)
            .arg("-o")
            .arg(&output)
            .args(["--jobs", "2"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let log = run(&[]);
    assert!(log.contains("0 done earlier, 3 to compute"), "{log}");
    let table = read_table(&output);
    assert_eq!(table.len(), 4, "header + 3 cases");
    let col = |name: &str| table[0].iter().position(|h| h == name).unwrap();
    assert_eq!(table[1][col("Patient")], "P1");
    assert_eq!(table[1][col("status")], "ok");
    assert_eq!(table[2][col("status")], "failed");
    assert!(
        table[2][col("error")].contains("no such file"),
        "{:?}",
        table[2]
    );
    assert_eq!(table[3][col("status")], "ok");
    assert_eq!(table[1][col("stat_mean")], table[3][col("stat_mean")]);

    // A second run computes nothing and writes the same table.
    let log = run(&[]);
    assert!(log.contains("3 done earlier, 0 to compute"), "{log}");
    assert_eq!(read_table(&output), table);

    // A line cut short by a kill is ignored and its case computed again.
    let state = tmp.path().join("features.csv.cases.jsonl");
    let text = std::fs::read_to_string(&state).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let last = lines.pop().unwrap();
    let cut = &last[..last.len() / 2];
    std::fs::write(&state, format!("{}\n{cut}", lines.join("\n"))).unwrap();
    let log = run(&[]);
    assert!(log.contains("2 done earlier, 1 to compute"), "{log}");

    // --retry-failed computes the failed case again.
    let log = run(&["--retry-failed"]);
    assert!(log.contains("2 done earlier, 1 to compute"), "{log}");

    // Other settings refuse to mix with these results.
    let out = voxide()
        .args(["radiomics", "batch"])
        .arg(&cohort)
        .arg("-o")
        .arg(&output)
        .args(["--ibsi-config", "C"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("other settings"));
}

#[test]
fn extract_reads_a_dicom_series_with_a_seg_mask() {
    // The three evenly spaced slices of pydicom's CT2 series (its fourth lies 200 mm away).
    let tmp = tempfile::tempdir().unwrap();
    let series = tmp.path().join("CT2");
    std::fs::create_dir(&series).unwrap();
    for name in ["17136", "17166", "17196"] {
        std::fs::copy(
            voxide_testdata::data(&format!("dicom/pydicom/dicomdirtests/77654033/CT2/{name}")),
            series.join(name),
        )
        .unwrap();
    }
    let seg = voxide_testdata::data("dicom/highdicom/seg_image_ct_binary.dcm");
    let out = voxide()
        .args(["radiomics", "extract", "--image"])
        .arg(&series)
        .arg("--mask")
        .arg(&seg)
        .args(["--label", "1", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["stat_mean"].as_f64().unwrap().is_finite());
    // Segment 2 does not exist in this SEG: the error names the segments it has.
    let out = voxide()
        .args(["radiomics", "extract", "--image"])
        .arg(&series)
        .arg("--mask")
        .arg(&seg)
        .args(["--label", "2"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("segment"));
}

/// `voxide radiomics extract` of `image` and `mask` with a PyRadiomics parameter file.
fn extract_with_params(image: &Path, mask: &Path, params: &Path) -> Command {
    let mut command = voxide();
    command
        .args(["radiomics", "extract", "--image"])
        .arg(image)
        .arg("--mask")
        .arg(mask)
        .arg("--params")
        .arg(params);
    command
}

/// The JSON row of a successful `extract --format json`.
fn json_row(command: &mut Command) -> serde_json::Value {
    let out = command.args(["--format", "json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn params_mode_gives_pyradiomics_names_values_and_clear_filter_errors() {
    let data = |f: &str| voxide_testdata::data(&format!("radiomics/pyradiomics/{f}"));
    let tmp = tempfile::tempdir().unwrap();
    let params = tmp.path().join("params.yaml");
    std::fs::write(
        &params,
        "imageType:\n  Original: {}\nsetting:\n  binWidth: 25\n  label: 1\nfeatureClass:\n  firstorder:\n  glcm: [Contrast]\n",
    )
    .unwrap();
    let json = json_row(&mut extract_with_params(
        &data("brain1_image.nrrd"),
        &data("brain1_label.nrrd"),
        &params,
    ));
    // PyRadiomics' own baseline (baseline_firstorder.csv, column brain1).
    let mean = json["original_firstorder_Mean"].as_f64().unwrap();
    assert!((mean / 825.2354363065023 - 1.0).abs() < 1e-9, "{mean}");
    assert!(json["original_glcm_Contrast"].as_f64().is_some());
    assert!(
        json.get("original_glcm_Idmn").is_none(),
        "only the enabled GLCM feature"
    );
    assert_eq!(json["diagnostics_Mask-original_VoxelNum"], 4137);
    // The whole-volume hashes are PyRadiomics' (baseline CSV). brain1's image is small enough
    // to be read whole; lung2's (32 MB) is streamed slab by slab, as is every mask.
    assert_eq!(
        json["diagnostics_Image-original_Hash"],
        "5c9ce3ca174f0f8324aa4d277e0fef82dc5ac566"
    );
    assert_eq!(
        json["diagnostics_Mask-original_Hash"],
        "9dc2c3137b31fd872997d92c9a92d5178126d9d3"
    );
    let json = json_row(
        extract_with_params(
            &data("lung2_image.nrrd"),
            &data("lung2_label.nrrd"),
            &params,
        )
        .env("RAYON_NUM_THREADS", "1"),
    );
    assert_eq!(
        json["diagnostics_Image-original_Hash"],
        "14f57fd04838eb8c9cca2a0dd871d29971585975"
    );
    assert_eq!(
        json["diagnostics_Mask-original_Hash"],
        "295d315a562eb6b4ce7d5f592b6cd3558f1d5cf6"
    );
    assert_eq!(json["diagnostics_Mask-original_VoxelNum"], 24644);
    let mean = json["original_firstorder_Mean"].as_f64().unwrap();
    assert!((mean / 7.602093815938971 - 1.0).abs() < 1e-9, "{mean}");

    // A truncated image file: an error naming the file, not a panic or partial output.
    let bytes = std::fs::read(data("brain1_image.nrrd")).unwrap();
    let cut = tmp.path().join("cut.nrrd");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = extract_with_params(&cut, &data("brain1_label.nrrd"), &params)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cut.nrrd") && !err.contains("panicked"),
        "{err}"
    );

    // A parameter file asking for filtered images names what is not available.
    let wavelet = voxide_testdata::data("radiomics/pyradiomics/params/exampleCT.yaml");
    let out = extract_with_params(
        &data("brain1_image.nrrd"),
        &data("brain1_label.nrrd"),
        &wavelet,
    )
    .output()
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("exampleCT.yaml") && (err.contains("LoG") || err.contains("Wavelet")),
        "{err}"
    );
}
