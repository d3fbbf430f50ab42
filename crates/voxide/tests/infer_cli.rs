//! `voxide infer` and `voxide model` end to end: a segmentation run on a CT series of the
//! ibsi-sts data writes a DICOM SEG that highdicom (Python, installed by scripts/setup-test.sh)
//! reads and maps back onto the source CT exactly; bad models and inputs are refused before work.
//!
//! The network is built here as an ONNX file whose output is known: two channels (x + 0.5,
//! 2x − 1), so with the manifest's normalisation (HU − 0.5) / 100 the softmax picks channel 1
//! exactly where HU > 150.5 (bone). Every voxel of the result can then be checked against the
//! CT itself.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Server;

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
    package_named(dir, "bone", modality)
}

fn package_named(dir: &Path, name: &str, modality: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let onnx = two_class_onnx();
    std::fs::write(dir.join("model.onnx"), &onnx).unwrap();
    let sha = voxide_infer::backend::sha256_file(&dir.join("model.onnx")).unwrap();
    std::fs::write(
        dir.join("voxide-model.toml"),
        format!(
            r#"
name = "{name}"
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

/// Runs `scripts/ref/<script>` (highdicom, in the reference environment) on `args`; its JSON
/// report.
fn reference_check(script: &str, args: &[&Path]) -> serde_json::Value {
    let check = Command::new(python())
        .arg(
            voxide_testdata::workspace_root()
                .join("scripts/ref")
                .join(script),
        )
        .args(args)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    serde_json::from_slice(&check.stdout).unwrap()
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
    let report = reference_check(
        "check_seg.py",
        &[seg_path.as_path(), &ct_series(), Path::new("150.5")],
    );
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
    let sr = reference_check("check_sr.py", &[out.join("sr.dcm").as_path()]);
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

/// Waits until job `id` has ended; returns it.
fn wait_for_job(server: &Server, id: i64) -> serde_json::Value {
    let start = Instant::now();
    loop {
        let (status, job) = server.get_json(&format!("/api/jobs/{id}"));
        assert_eq!(status, 200, "{job}");
        if ["succeeded", "failed", "canceled"].contains(&job["state"].as_str().unwrap()) {
            return job;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "job {id} did not end: {job}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Fetches a stored instance as a DICOM file (WADO-URI).
fn fetch_instance(server: &Server, stored: &serde_json::Value, to: &Path) {
    let (status, body) = server.request(
        "GET",
        &format!(
            "/wado?requestType=WADO&studyUID={}&seriesUID={}&objectUID={}&contentType=application/dicom",
            stored["study_instance_uid"].as_str().unwrap(),
            stored["series_instance_uid"].as_str().unwrap(),
            stored["sop_instance_uid"].as_str().unwrap()
        ),
        "",
        &[],
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    std::fs::write(to, body).unwrap();
}

#[test]
fn the_server_runs_models_on_arrival_and_on_request_and_stores_seg_and_sr() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for (name, modality) in [("bone", "CT"), ("bone-mr", "MR")] {
        let pkg = package_named(&tmp.path().join(name), name, modality);
        run_ok(
            voxide()
                .args(["model", "add"])
                .arg(&pkg)
                .arg("--data-dir")
                .arg(&data),
        );
    }
    let config = "[inference]\nmax_concurrent_runs = 1\nstable_age_seconds = 1\n\
                  [[inference.rules]]\nname = \"bone-on-ct\"\nmodel = \"bone\"\nmodality = \"CT\"\n\
                  [[inference.rules]]\nname = \"never\"\nmodel = \"bone\"\nseries_description = \"*no such series*\"\n";
    let server = Server::start(&data, config);
    let (status, models) = server.get_json("/api/models");
    assert_eq!(status, 200);
    assert_eq!(models.as_array().unwrap().len(), 2, "{models}");
    assert_eq!(models[0]["name"], "bone");
    assert_eq!(models[0]["labels"][0]["property"]["code"], "272673000");
    let (status, rules) = server.get_json("/api/rules");
    assert_eq!(
        (status, rules["rules"][0]["name"].as_str()),
        (200, Some("bone-on-ct"))
    );

    // The CT series arrives over DICOM; once no instance has come for a second, the rule
    // queues a run of `bone` on it (and only that rule: the other's description does not match).
    run_ok(
        voxide()
            .arg("send")
            .arg(ct_series())
            .arg("--to")
            .arg(format!("VOXIDE@127.0.0.1:{}", server.dicom)),
    );
    let start = Instant::now();
    let triggered = loop {
        let (_, jobs) = server.get_json("/api/jobs");
        if let Some(job) = jobs.as_array().unwrap().first() {
            break job.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no run was queued"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(triggered["trigger"], "rule:bone-on-ct");
    let series_uid = triggered["params"]["series_instance_uid"]
        .as_str()
        .unwrap()
        .to_string();
    let by_rule = wait_for_job(&server, triggered["id"].as_i64().unwrap());
    assert_eq!(by_rule["state"], "succeeded", "{by_rule}");
    assert_eq!(by_rule["progress"], 1.0);
    let log = by_rule["log"].as_array().unwrap();
    assert!(
        log.iter()
            .any(|l| l.as_str().unwrap().contains("stored SEG")),
        "{by_rule}"
    );

    // The same through the API, on request.
    let (status, job) = server.post_json(
        "/api/models/bone/runs",
        &format!("{{\"series_instance_uid\": \"{series_uid}\"}}"),
    );
    assert_eq!(status, 202, "{job}");
    assert_eq!(
        (job["state"].as_str(), job["trigger"].as_str()),
        (Some("queued"), Some("api"))
    );
    let by_api = wait_for_job(&server, job["id"].as_i64().unwrap());
    assert_eq!(by_api["state"], "succeeded", "{by_api}");

    // Both runs found the same bone as the command line does on the same series.
    let out = tmp.path().join("cli");
    run_ok(
        voxide()
            .args(["infer", "--model"])
            .arg(tmp.path().join("bone"))
            .arg("--input")
            .arg(ct_series())
            .arg("--output")
            .arg(&out),
    );
    let cli: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    for run in [&by_rule, &by_api] {
        let result = &run["result"];
        assert_eq!(result["segments"], cli["segments"], "{run}");
        assert_eq!(result["input"]["series_instance_uid"], series_uid.as_str());
        assert_eq!(result["dicom_seg"]["stored"], true);
        assert_eq!(result["dicom_sr"]["stored"], true);
    }
    // The results are in the store: two SEG and two SR series in the CT's study; the SEGs did
    // not trigger runs of their own.
    let study = by_api["result"]["input"]["study_instance_uid"]
        .as_str()
        .unwrap();
    let (status, body) = server.get(&format!("/dicom-web/studies/{study}/series?Modality=SEG"));
    assert_eq!(status, 200);
    let segs: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(segs.as_array().unwrap().len(), 2, "{segs}");
    std::thread::sleep(Duration::from_millis(2500));
    let (_, jobs) = server.get_json("/api/jobs");
    assert_eq!(jobs.as_array().unwrap().len(), 2, "{jobs}");

    // The stored SEG, fetched back, maps onto the source CT exactly (highdicom).
    let seg_path = tmp.path().join("stored-seg.dcm");
    fetch_instance(&server, &by_api["result"]["dicom_seg"], &seg_path);
    let report = reference_check(
        "check_seg.py",
        &[seg_path.as_path(), &ct_series(), Path::new("150.5")],
    );
    assert_eq!(report["equal"], true, "{report}");
    assert_eq!(report["labelled"], cli["segments"][0]["voxels"]);
    let sr_path = tmp.path().join("stored-sr.dcm");
    fetch_instance(&server, &by_api["result"]["dicom_sr"], &sr_path);
    let sr = reference_check("check_sr.py", &[sr_path.as_path()]);
    assert_eq!(
        sr["groups"][0]["seg_sop_instance_uid"],
        by_api["result"]["dicom_seg"]["sop_instance_uid"]
    );

    // Refused before anything is queued, with what to fix.
    let (status, e) = server.post_json(
        "/api/models/bone-mr/runs",
        &format!("{{\"series_instance_uid\": \"{series_uid}\"}}"),
    );
    assert_eq!(status, 422, "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("for MR images; this series is CT"),
        "{e}"
    );
    let (status, e) = server.post_json(
        "/api/models/lungs/runs",
        &format!("{{\"series_instance_uid\": \"{series_uid}\"}}"),
    );
    assert_eq!(status, 404, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("voxide model add"),
        "{e}"
    );
    let (status, e) = server.post_json(
        "/api/models/bone/runs",
        "{\"series_instance_uid\": \"1.2.3\"}",
    );
    assert_eq!(status, 404, "{e}");
    let (status, e) = server.post_json("/api/models/bone/runs", "{\"series\": \"1.2.3\"}");
    assert_eq!(status, 400, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("series_instance_uid"),
        "{e}"
    );
    let (status, _) = server.get_json("/api/jobs?state=done");
    assert_eq!(status, 400);
    let (status, e) = server.post_json(&format!("/api/jobs/{}/cancel", by_api["id"]), "");
    assert_eq!(status, 409, "{e}");
    let (_, jobs) = server.get_json("/api/jobs");
    assert_eq!(
        jobs.as_array().unwrap().len(),
        2,
        "nothing queued by refused requests"
    );
}

/// `voxide model add PKG --data-dir DATA`.
fn add_model(pkg: &Path, data: &Path) {
    run_ok(
        voxide()
            .args(["model", "add"])
            .arg(pkg)
            .arg("--data-dir")
            .arg(data),
    );
}

/// Sends the STS_001 CT series to `server` over DICOM; its Series Instance UID.
fn send_ct(server: &Server) -> String {
    run_ok(
        voxide()
            .arg("send")
            .arg(ct_series())
            .arg("--to")
            .arg(format!("VOXIDE@127.0.0.1:{}", server.dicom)),
    );
    let (_, series) = server.get_json("/dicom-web/series?Modality=CT");
    series[0]["0020000E"]["Value"][0]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn queued_runs_survive_a_killed_server_and_run_after_the_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let pkg = package(&tmp.path().join("bone"), "CT");
    add_model(&pkg, &data);
    // Runs paused: what is queued stays queued.
    let mut server = Server::start(&data, "[inference]\nmax_concurrent_runs = 0\n");
    let series_uid = send_ct(&server);
    let body = format!("{{\"series_instance_uid\": \"{series_uid}\"}}");
    let (status, first) = server.post_json("/api/models/bone/runs", &body);
    assert_eq!(status, 202, "{first}");
    let (_, second) = server.post_json("/api/models/bone/runs", &body);
    let (_, third) = server.post_json("/api/models/bone/runs", &body);
    let (status, canceled) = server.post_json(&format!("/api/jobs/{}/cancel", third["id"]), "");
    assert_eq!(
        (status, canceled["state"].as_str()),
        (200, Some("canceled"))
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        server.get_json(&format!("/api/jobs/{}", first["id"])).1["state"],
        "queued"
    );
    server.kill();

    let server = Server::start(&data, "[inference]\nmax_concurrent_runs = 2\n");
    for job in [&first, &second] {
        let done = wait_for_job(&server, job["id"].as_i64().unwrap());
        assert_eq!(done["state"], "succeeded", "{done}");
        assert_eq!(done["attempts"], 1);
    }
    assert_eq!(
        server.get_json(&format!("/api/jobs/{}", third["id"])).1["state"],
        "canceled"
    );
    let (_, segs) = server.get_json("/dicom-web/series?Modality=SEG");
    assert_eq!(segs.as_array().unwrap().len(), 2, "{segs}");
}

/// A running model run is canceled through the API: the job ends `canceled` at once, its
/// network stops (the one runner is free for the next run long before the canceled run could
/// have finished) and nothing of it is stored.
#[test]
fn a_running_model_run_can_be_canceled() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // The test 3D U-Net on 16×32×32 patches at 75% overlap: about 44,600 patches over the
    // 512×512×59 CT, minutes of work, far more than this test waits.
    let slow = tmp.path().join("slow");
    std::fs::create_dir_all(&slow).unwrap();
    let unet = voxide_testdata::workspace_root()
        .join("crates/voxide-infer/tests/models/unet3d/model.onnx");
    std::fs::copy(&unet, slow.join("model.onnx")).unwrap();
    let sha = voxide_infer::backend::sha256_file(&slow.join("model.onnx")).unwrap();
    std::fs::write(
        slow.join("voxide-model.toml"),
        format!(
            r#"
name = "slow"
version = "1.0"
task = "segmentation"
weights_sha256 = "{sha}"
[input]
modality = "CT"
[preprocessing]
method = "z_score"
[inference]
patch_size = [16, 32, 32]
overlap = 0.75
batch_size = 1
[output]
activation = "softmax"
[[labels]]
value = 1
name = "one"
[[labels]]
value = 2
name = "two"
"#
        ),
    )
    .unwrap();
    let bone = package(&tmp.path().join("bone"), "CT");
    add_model(&slow, &data);
    add_model(&bone, &data);
    let server = Server::start(&data, "[inference]\nmax_concurrent_runs = 1\n");
    let series_uid = send_ct(&server);
    let body = format!("{{\"series_instance_uid\": \"{series_uid}\"}}");
    let (status, long) = server.post_json("/api/models/slow/runs", &body);
    assert_eq!(status, 202, "{long}");
    let (status, next) = server.post_json("/api/models/bone/runs", &body);
    assert_eq!(status, 202, "{next}");
    let long_id = long["id"].as_i64().unwrap();

    // Wait until the network runs, let it work a little, then cancel.
    let start = Instant::now();
    loop {
        let (_, job) = server.get_json(&format!("/api/jobs/{long_id}"));
        if job["step"] == "inferring" {
            break;
        }
        assert_eq!(job["state"], "running", "{job}");
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the run never got to its network: {job}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let inferring_since = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let (status, canceled) = server.post_json(&format!("/api/jobs/{long_id}/cancel"), "");
    let canceled_at = Instant::now();
    assert_eq!(
        (status, canceled["state"].as_str()),
        (200, Some("canceled")),
        "{canceled}"
    );
    let log = canceled["log"].as_array().unwrap();
    assert!(
        log.iter()
            .any(|l| l.as_str().unwrap().contains("canceled while running")),
        "{canceled}"
    );
    // How long the run would still have taken, from its progress (0.1 + 0.8 × batches done).
    let progress_at_cancel = canceled["progress"].as_f64().unwrap();
    let fraction = (progress_at_cancel - 0.1) / 0.8;
    assert!(fraction > 0.0 && fraction < 0.5, "{canceled}");
    let remaining = inferring_since.elapsed().as_secs_f64() * (1.0 - fraction) / fraction;

    // The single runner goes on to the next run well before the canceled one could have ended.
    let next_id = next["id"].as_i64().unwrap();
    loop {
        let (_, job) = server.get_json(&format!("/api/jobs/{next_id}"));
        if job["state"] != "queued" {
            break;
        }
        assert!(
            canceled_at.elapsed().as_secs_f64() < (remaining / 2.0).min(60.0),
            "the next run has not started {:.1} s after the cancel (the canceled run needed about {remaining:.0} s more)",
            canceled_at.elapsed().as_secs_f64()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let done = wait_for_job(&server, next_id);
    assert_eq!(done["state"], "succeeded", "{done}");
    let (_, after) = server.get_json(&format!("/api/jobs/{long_id}"));
    assert_eq!(after["state"], "canceled", "{after}");
    assert!(after["result"].is_null(), "{after}");
    assert_eq!(after["progress"], progress_at_cancel, "{after}");
    // Only the second run's SEG (and SR) were stored.
    let (_, segs) = server.get_json("/dicom-web/series?Modality=SEG");
    assert_eq!(segs.as_array().unwrap().len(), 1, "{segs}");
}
