//! `voxide infer` and `voxide model` end to end: a segmentation run on a CT series of the
//! ibsi-sts data writes a DICOM SEG that highdicom (Python, installed by scripts/setup-test.sh)
//! reads and maps back onto the source CT exactly; bad models and inputs are refused before work.
//!
//! The network is built here as an ONNX file whose output is known: two channels (x + 0.5,
//! 2x − 1), so with the manifest's normalisation (HU − 0.5) / 100 the softmax picks channel 1
//! exactly where HU > 150.5 (bone). Every voxel of the result can then be checked against the
//! CT itself.

use std::path::{Path, PathBuf};
use std::process::Command;

use prost::Message;
use voxide_infer::backend::tract_pb as pb;

fn voxide() -> Command {
    Command::new(env!("CARGO_BIN_EXE_voxide"))
}

fn ct_series() -> PathBuf {
    let p = voxide_testdata::data("multimodal/ibsi-sts/STS_001/CT/image");
    assert!(p.is_dir(), "test data missing: {}", p.display());
    p
}

fn python() -> PathBuf {
    let p = voxide_testdata::workspace_root().join("target/pyref/bin/python");
    assert!(
        p.exists(),
        "reference environment missing at {}: run `bash scripts/setup-test.sh`",
        p.display()
    );
    p
}

/// `y = concat(x + 0.5, 2x − 1)` along the channel axis, for input `[N, 1, D, H, W]`.
fn two_class_onnx() -> Vec<u8> {
    let scalar = |name: &str, v: f32| pb::TensorProto {
        name: name.into(),
        data_type: 1,
        float_data: vec![v],
        ..Default::default()
    };
    let value = |name: &str, channels: i64| pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1,
                shape: Some(pb::TensorShapeProto {
                    dim: ["N", "C", "D", "H", "W"]
                        .iter()
                        .map(|d| pb::tensor_shape_proto::Dimension {
                            value: Some(if *d == "C" {
                                pb::tensor_shape_proto::dimension::Value::DimValue(channels)
                            } else {
                                pb::tensor_shape_proto::dimension::Value::DimParam(d.to_string())
                            }),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let node = |op: &str, inputs: &[&str], output: &str| pb::NodeProto {
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: output.into(),
        ..Default::default()
    };
    let mut concat = node("Concat", &["c0", "c1"], "y");
    concat.attribute = vec![pb::AttributeProto {
        name: "axis".into(),
        r#type: 2, // INT
        i: 1,
        ..Default::default()
    }];
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(pb::GraphProto {
            name: "two_class".into(),
            node: vec![
                node("Add", &["x", "half"], "c0"),
                node("Mul", &["x", "two"], "twice"),
                node("Sub", &["twice", "one"], "c1"),
                concat,
            ],
            initializer: vec![scalar("half", 0.5), scalar("two", 2.0), scalar("one", 1.0)],
            input: vec![value("x", 1)],
            output: vec![value("y", 2)],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn package(dir: &Path, modality: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let onnx = two_class_onnx();
    std::fs::write(dir.join("model.onnx"), &onnx).unwrap();
    let sha = voxide_infer::backend::sha256_file(&dir.join("model.onnx")).unwrap();
    std::fs::write(
        dir.join("voxide-model.toml"),
        format!(
            r#"
name = "bone"
version = "1.0"
task = "segmentation"
weights_sha256 = "{sha}"
[input]
modality = "{modality}"
[preprocessing]
method = "fixed"
mean = 0.5
std = 100.0
[inference]
patch_size = [16, 96, 96]
overlap = 0.25
batch_size = 2
[output]
activation = "softmax"
[[labels]]
value = 1
name = "bone"
category = {{ code = "91723000", meaning = "Anatomical Structure" }}
property = {{ code = "272673000", meaning = "Bone structure" }}
"#
        ),
    )
    .unwrap();
    dir.to_path_buf()
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn segmentation_of_a_ct_series_gives_a_seg_highdicom_maps_back_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = package(&tmp.path().join("pkg"), "CT");
    let out = tmp.path().join("out");
    run_ok(
        voxide()
            .args(["infer", "--model"])
            .arg(&pkg)
            .arg("--input")
            .arg(ct_series())
            .arg("--output")
            .arg(&out),
    );
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["model"]["name"], "bone");
    assert!(run["patches"].as_u64().unwrap() > 1);

    // The label map is exactly the CT thresholded, on the CT's grid.
    let scan = voxide_dicom::scan(&ct_series(), None).unwrap();
    let volume = voxide_dicom::assemble(&scan.series[0], &Default::default(), None).unwrap();
    let ct = volume.image.cast::<f32>();
    let labels = voxide_io::read_image(&out.join("labels.nii.gz"))
        .unwrap()
        .cast::<u8>();
    assert!(labels
        .geometry()
        .matches(ct.geometry(), voxide_core::GRID_TOLERANCE));
    let mut bone = 0;
    for (l, &hu) in labels.data().iter().zip(ct.data().iter()) {
        assert_eq!(*l, u8::from(hu > 150.5));
        bone += usize::from(*l);
    }
    assert!(bone > 10_000, "{bone} bone voxels");
    assert_eq!(run["segments"][0]["voxels"], bone);

    // voxide's own SEG reader places it back on the CT grid.
    let seg_path = out.join("seg.dcm");
    let seg = voxide_dicom::read_seg(&seg_path).unwrap();
    let back = voxide_dicom::rasterise_segment(&seg, 1, ct.geometry()).unwrap();
    assert_eq!(
        back.mask.labels().data(),
        labels.data(),
        "the SEG read back equals the label map"
    );

    // dcmtk-independent, voxide-independent: highdicom reads it and maps every frame onto the
    // source instances; the label map it rebuilds equals the CT thresholded by pydicom.
    let check = Command::new(python())
        .arg(voxide_testdata::workspace_root().join("scripts/ref/check_seg.py"))
        .arg(&seg_path)
        .arg(ct_series())
        .arg("150.5")
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "check_seg.py: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["equal"], true, "{report}");
    assert_eq!(report["labelled"], bone);
    assert_eq!(report["frame_of_reference_matches"], true);
    assert_eq!(report["study_matches"], true);
    assert!(
        report["position_error_mm"].as_f64().unwrap() < 1e-3,
        "{report}"
    );
    assert!(
        report["orientation_error"].as_f64().unwrap() < 1e-6,
        "{report}"
    );
    assert_eq!(report["segments"][0]["property"], "Bone structure");

    // The TID 1500 report: highdicom finds one volumetric group referencing the SEG's segment,
    // with the bone's volume and its HU statistics as computed here from the CT.
    let check = Command::new(python())
        .arg(voxide_testdata::workspace_root().join("scripts/ref/check_sr.py"))
        .arg(out.join("sr.dcm"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "check_sr.py: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let sr: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(sr["template"], "1500", "{sr}");
    let group = &sr["groups"][0];
    assert_eq!(sr["groups"].as_array().unwrap().len(), 1, "{sr}");
    assert_eq!(group["tracking_identifier"], "bone");
    assert_eq!(group["finding"], "Bone structure");
    assert_eq!(group["segment_number"], 1);
    assert_eq!(
        group["seg_sop_instance_uid"],
        run["dicom_seg"]["sop_instance_uid"]
    );
    let spacing = ct.geometry().spacing();
    let volume = bone as f64 * spacing[0] * spacing[1] * spacing[2];
    let hu: Vec<f64> = ct
        .data()
        .iter()
        .filter(|&&v| v > 150.5)
        .map(|&v| f64::from(v))
        .collect();
    let mean = hu.iter().sum::<f64>() / hu.len() as f64;
    let m = &group["measurements"];
    let close = |got: &serde_json::Value, want: f64| {
        let g = got.as_f64().unwrap();
        assert!(
            (g - want).abs() <= 1e-6 * want.abs().max(1.0),
            "{g} vs {want}"
        );
    };
    close(&m["Volume"]["value"], volume);
    assert_eq!(m["Volume"]["unit"], "mm3");
    close(&m["Mean"]["value"], mean);
    assert_eq!(m["Mean"]["unit"], "[hnsf'U]");
    close(
        &m["Minimum"]["value"],
        hu.iter().copied().fold(f64::INFINITY, f64::min),
    );
    close(
        &m["Maximum"]["value"],
        hu.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
}

#[test]
fn bad_models_and_inputs_are_refused_before_work() {
    let tmp = tempfile::tempdir().unwrap();
    let mr_model = package(&tmp.path().join("mr"), "MR");
    let out = tmp.path().join("out");
    let e = run_err(
        voxide()
            .args(["infer", "--model"])
            .arg(&mr_model)
            .arg("--input")
            .arg(ct_series())
            .arg("--output")
            .arg(&out),
    );
    assert!(e.contains("for MR images; this series is CT"), "{e}");
    assert!(!out.exists(), "nothing written before the checks pass");

    let e = run_err(
        voxide()
            .args(["infer", "--model", "nonexistent", "--data-dir"])
            .arg(tmp.path().join("data"))
            .arg("--input")
            .arg(ct_series())
            .arg("--output")
            .arg(&out),
    );
    assert!(e.contains("no model named \"nonexistent\""), "{e}");

    // Weights replaced after the manifest was written.
    let pkg = package(&tmp.path().join("tampered"), "CT");
    let mut bytes = std::fs::read(pkg.join("model.onnx")).unwrap();
    bytes.push(0);
    std::fs::write(pkg.join("model.onnx"), bytes).unwrap();
    let e = run_err(
        voxide()
            .args(["infer", "--model"])
            .arg(&pkg)
            .arg("--input")
            .arg(ct_series())
            .arg("--output")
            .arg(&out),
    );
    assert!(e.contains("SHA-256"), "{e}");
}

#[test]
fn model_registry_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let pkg = package(&tmp.path().join("pkg"), "CT");
    let reg = |args: &[&str]| {
        let mut c = voxide();
        c.arg("model").args(args).arg("--data-dir").arg(&data);
        c
    };
    let listed = run_ok(&mut reg(&["list"]));
    assert!(listed.contains("no model registered"), "{listed}");
    let added = run_ok(reg(&["add"]).arg(&pkg));
    assert!(added.contains("added bone 1.0"), "{added}");
    let e = run_err(reg(&["add"]).arg(&pkg));
    assert!(e.contains("already registered"), "{e}");
    let listed = run_ok(&mut reg(&["list"]));
    assert!(
        listed.starts_with("bone\t1.0\tSegmentation\tCT"),
        "{listed}"
    );
    let shown = run_ok(&mut reg(&["show", "bone"]));
    assert!(shown.contains("272673000"), "{shown}");
    run_ok(&mut reg(&["remove", "bone"]));
    let listed = run_ok(&mut reg(&["list"]));
    assert!(listed.contains("no model registered"), "{listed}");
}
