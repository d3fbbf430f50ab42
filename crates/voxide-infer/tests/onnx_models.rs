//! voxide's inference against onnxruntime, on real (tiny) networks.
//!
//! The networks and the expected outputs in `tests/models` were made by
//! `scripts/ref/make_models.py` with torch 2.15, onnx 1.23 and onnxruntime 1.32 (fixed seeds;
//! every file's provenance is in its `reference.json`): a 3-level 3D U-Net (Conv3d,
//! InstanceNorm3d, LeakyReLU, ConvTranspose3d, concatenated skips, optionally Softmax), a 3D
//! classifier, and two networks whose output is known analytically, to check the sliding window.
//! The expected tensors are onnxruntime's outputs on the stored inputs.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use ndarray::{Array3, Array4, ArrayD, Axis, IxDyn};
use voxide_core::{geometry::IDENTITY, Geometry, Image};
use voxide_infer::backend::{Backend, TractBackend};
use voxide_infer::sliding::{self, SlidingWindow};
use voxide_infer::{InferError, Model};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/models")
}

fn reference(model: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(models().join(model).join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn tensor(model: &str, entry: &serde_json::Value) -> ArrayD<f32> {
    let bytes = std::fs::read(models().join(model).join(entry["file"].as_str().unwrap())).unwrap();
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let shape: Vec<usize> = entry["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), values).unwrap()
}

fn max_abs_diff(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn backend(model: &str, shape: &[usize]) -> TractBackend {
    let r = reference(model);
    TractBackend::load(
        &models().join(model).join("model.onnx"),
        r["sha256"].as_str().unwrap(),
        shape,
        None,
    )
    .unwrap()
}

/// Every stored case of `model`: tract's output against onnxruntime's.
fn agrees_with_onnxruntime(model: &str) -> f32 {
    let r = reference(model);
    let mut worst = 0.0f32;
    for case in r["cases"].as_array().unwrap() {
        let (_, input) = case["inputs"].as_object().unwrap().iter().next().unwrap();
        let (_, output) = case["outputs"].as_object().unwrap().iter().next().unwrap();
        let x = tensor(model, input);
        let want = tensor(model, output);
        let b = backend(model, x.shape());
        let got = b.run(x.view()).unwrap();
        let d = max_abs_diff(&got, &want);
        assert!(
            d <= 1e-4,
            "{model} {}: max |tract - onnxruntime| = {d}",
            case["name"]
        );
        worst = worst.max(d);
    }
    worst
}

#[test]
fn unet_logits_equal_onnxruntime() {
    let d = agrees_with_onnxruntime("unet3d");
    eprintln!("unet3d: max |diff| {d:e}");
    let d = agrees_with_onnxruntime("unet3d_softmax");
    eprintln!("unet3d_softmax: max |diff| {d:e}");
}

#[test]
fn classifier_logits_equal_onnxruntime() {
    let d = agrees_with_onnxruntime("classifier3d");
    eprintln!("classifier3d: max |diff| {d:e}");
}

fn odd_input(model: &str) -> Array4<f32> {
    let r = reference(model);
    let x = tensor(model, &r["cases"][0]["inputs"]["input"]);
    x.index_axis(Axis(0), 0)
        .to_owned()
        .into_dimensionality()
        .unwrap()
}

/// The identity network outputs (x + 0.5, 2x − 1) at every voxel whatever the tiling, so any
/// stitching error (patch offsets, weight normalisation, padding, batching, mirroring) shows.
#[test]
fn sliding_window_reassembles_an_identity_network_exactly() {
    let x = odd_input("blend_identity"); // 1 × 19 × 23 × 29
    for (patch, overlap, batch, mirror) in [
        ([8, 10, 12], 0.5, 2, vec![]),
        ([8, 10, 12], 0.25, 3, vec![0, 1, 2]),
        ([19, 23, 29], 0.5, 1, vec![2]),
        // Larger than the volume along D and W: padded and cropped back.
        ([24, 8, 32], 0.5, 1, vec![]),
    ] {
        let b = backend("blend_identity", &[batch, 1, patch[0], patch[1], patch[2]]);
        let window = SlidingWindow {
            patch,
            overlap,
            gaussian_sigma: 0.125,
            mirror_axes: mirror.clone(),
        };
        let mut calls = Vec::new();
        let out = sliding::predict(x.view(), &b, &window, &mut |done, total| {
            calls.push((done, total));
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(out.shape(), &[2, 19, 23, 29]);
        let mut worst = 0.0f32;
        for ((c, k, j, i), &v) in out.indexed_iter() {
            let xv = x[[0, k, j, i]];
            let want = if c == 0 { xv + 0.5 } else { 2.0 * xv - 1.0 };
            worst = worst.max((v - want).abs());
        }
        assert!(
            worst <= 2e-6,
            "patch {patch:?} overlap {overlap} mirror {mirror:?}: max error {worst}"
        );
        let (last, total) = *calls.last().unwrap();
        assert_eq!(last, total, "progress reaches its total");
    }
}

/// A run whose progress callback says stop ends with `Canceled` at that batch, on one worker
/// and on several (where batches already running finish, but nothing more is reported).
#[test]
fn a_run_stops_when_its_progress_callback_says_so() {
    let x = odd_input("blend_identity"); // 1 × 19 × 23 × 29
    let b = backend("blend_identity", &[1, 1, 8, 10, 12]);
    let window = SlidingWindow {
        patch: [8, 10, 12],
        overlap: 0.5,
        gaussian_sigma: 0.125,
        mirror_axes: vec![],
    };
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut calls = Vec::new();
        let result = pool.install(|| {
            sliding::predict(x.view(), &b, &window, &mut |done, total| {
                calls.push((done, total));
                if done == 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
        });
        assert!(
            matches!(result, Err(InferError::Canceled)),
            "{threads} thread(s): {result:?}"
        );
        let total = calls[0].1;
        assert!(total > 4, "enough batches to stop in the middle: {total}");
        assert_eq!(
            calls,
            (0..=3).map(|d| (d, total)).collect::<Vec<_>>(),
            "{threads} thread(s)"
        );
        // Stopped before the first batch: no network run reported at all.
        let result = pool.install(|| {
            sliding::predict(x.view(), &b, &window, &mut |_, _| ControlFlow::Break(()))
        });
        assert!(matches!(result, Err(InferError::Canceled)));
    }
}

/// The 3×3×3 mean network: the whole-volume run equals onnxruntime's; patch-wise, each voxel
/// that is at least one voxel inside every patch covering it (or on the volume's edge) must get
/// exactly the whole-volume value, which pins down where every patch went.
#[test]
fn sliding_window_places_patches_where_they_belong() {
    let x = odd_input("blend_mean");
    let r = reference("blend_mean");
    let want = tensor("blend_mean", &r["cases"][0]["outputs"]["output"]);
    let want: Array3<f32> = want
        .index_axis(Axis(0), 0)
        .index_axis(Axis(0), 0)
        .to_owned()
        .into_dimensionality()
        .unwrap();
    let shape = [19, 23, 29];
    // Whole volume in one patch.
    let whole = backend("blend_mean", &[1, 1, 19, 23, 29]);
    let window = SlidingWindow {
        patch: shape,
        overlap: 0.5,
        gaussian_sigma: 0.125,
        mirror_axes: vec![],
    };
    let out = sliding::predict(x.view(), &whole, &window, &mut |_, _| {
        ControlFlow::Continue(())
    })
    .unwrap();
    let d = out
        .index_axis(Axis(0), 0)
        .iter()
        .zip(want.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(d <= 1e-5, "whole volume: {d}");

    let patch = [9, 11, 13];
    let b = backend("blend_mean", &[1, 1, 9, 11, 13]);
    let window = SlidingWindow { patch, ..window };
    let out =
        sliding::predict(x.view(), &b, &window, &mut |_, _| ControlFlow::Continue(())).unwrap();
    let starts: Vec<Vec<usize>> = (0..3)
        .map(|a| sliding::patch_starts(shape[a], patch[a], 0.5))
        .collect();
    // Interior along an axis: not on a patch border, unless that border is the volume's.
    let clean = |a: usize, v: usize| {
        starts[a]
            .iter()
            .filter(|&&s| v >= s && v < s + patch[a])
            .all(|&s| (v > s || s == 0) && (v + 1 < s + patch[a] || s + patch[a] == shape[a]))
    };
    let mut checked = 0;
    for ((k, j, i), &w) in want.indexed_iter() {
        if clean(0, k) && clean(1, j) && clean(2, i) {
            let v = out[[0, k, j, i]];
            assert!((v - w).abs() <= 1e-5, "({k},{j},{i}): {v} vs {w}");
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} voxels checked");
}

fn write_package(dir: &Path, model: &str, manifest: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(
        models().join(model).join("model.onnx"),
        dir.join("model.onnx"),
    )
    .unwrap();
    std::fs::write(dir.join("voxide-model.toml"), manifest).unwrap();
}

fn sha(model: &str) -> String {
    reference(model)["sha256"].as_str().unwrap().to_string()
}

/// The whole segmentation pipeline on the identity network read as two classes: channel 1
/// (2x − 1) beats channel 0 (x + 0.5) exactly where x > 1.5, so the label map is known.
#[test]
fn segmentation_pipeline_gives_the_known_label_map() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    write_package(
        &pkg,
        "blend_identity",
        &format!(
            r#"
name = "identity"
version = "1"
task = "segmentation"
weights_sha256 = "{}"
[preprocessing]
method = "fixed"
mean = 100.0
std = 10.0
[inference]
patch_size = [8, 16, 16]
overlap = 0.5
batch_size = 2
mirror_axes = [1]
[output]
activation = "softmax"
[[labels]]
value = 1
name = "bright"
"#,
            sha("blend_identity")
        ),
    );
    let model = Model::load(&pkg).unwrap();
    let g = Geometry::new([30, 20, 12], [0.8, 0.9, 2.5], [5.0, -7.0, 11.0], IDENTITY).unwrap();
    // Values 60..140 HU-like, normalised to -4..4: label 1 where (v - 100) / 10 > 1.5.
    let data = Array3::from_shape_fn(g.shape(), |(k, j, i)| {
        60.0 + ((i * 7 + j * 13 + k * 29) % 81) as f32
    });
    let image = Image::new(g.clone(), data.clone()).unwrap();
    let mut calls = 0;
    let seg = model
        .segment(&[&image], &mut |_, _| {
            calls += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(calls > 0);
    assert_eq!(seg.labels.geometry(), &g);
    assert_eq!(seg.probabilities.len(), 2);
    let mut ones = 0;
    for (idx, &l) in seg.labels.data().indexed_iter() {
        let z = (data[idx] - 100.0) / 10.0;
        assert_eq!(l, u8::from(z > 1.5), "{idx:?}: {z}");
        ones += usize::from(l);
        let p1 = seg.probabilities[1].data()[idx];
        let want = 1.0 / (1.0 + (-(z - 1.5)).exp());
        assert!((p1 - want).abs() < 1e-5, "softmax: {p1} vs {want}");
    }
    assert!(ones > 100);

    // On a model grid (reoriented and resampled) the labels come back on the input's grid.
    let resampled = tmp.path().join("resampled");
    let manifest = std::fs::read_to_string(pkg.join("voxide-model.toml"))
        .unwrap()
        .replace(
            "[preprocessing]",
            "[input]\norientation = \"RAS\"\nspacing = [2.0, 1.0, 1.0]\n[preprocessing]",
        );
    write_package(&resampled, "blend_identity", &manifest);
    let model = Model::load(&resampled).unwrap();
    let seg = model
        .segment(&[&image], &mut |_, _| ControlFlow::Continue(()))
        .unwrap();
    assert_eq!(seg.labels.geometry(), &g);
    let agree = seg
        .labels
        .data()
        .indexed_iter()
        .filter(|(idx, &l)| l == u8::from((data[*idx] - 100.0) / 10.0 > 1.5))
        .count();
    // Interpolation blurs the pattern, so most voxels, not all.
    assert!(
        agree as f64 > 0.6 * g.len() as f64,
        "{agree} of {} agree",
        g.len()
    );
}

#[test]
fn classification_gives_calibrated_probabilities() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("cls");
    let manifest = |t: f64| {
        format!(
            r#"
name = "cls"
version = "1"
task = "classification"
weights_sha256 = "{}"
[inference]
patch_size = [24, 32, 40]
mirror_axes = [2]
[output]
activation = "softmax"
temperature = {t}
"#,
            sha("classifier3d")
        )
    };
    write_package(&pkg, "classifier3d", &manifest(1.0));
    let model = Model::load(&pkg).unwrap();
    let g = Geometry::new([50, 40, 30], [1.0, 1.0, 1.0], [0.0; 3], IDENTITY).unwrap();
    let image = Image::new(
        g,
        Array3::from_shape_fn((30, 40, 50), |(k, j, i)| {
            ((i + 2 * j + 3 * k) % 17) as f32 / 17.0
        }),
    )
    .unwrap();
    let c = model.classify(&[&image]).unwrap();
    assert_eq!(c.probabilities.len(), 2);
    assert!((c.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // A higher temperature pulls the probabilities towards 1/2 without changing the class.
    write_package(&pkg, "classifier3d", &manifest(4.0));
    let hot = Model::load(&pkg).unwrap().classify(&[&image]).unwrap();
    assert_eq!(hot.predicted, c.predicted);
    assert!((hot.probabilities[0] - 0.5).abs() < (c.probabilities[0] - 0.5).abs());
}

#[test]
fn bad_packages_are_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let good = |patch: &str, sha: &str| {
        format!(
            "name = \"m\"\nversion = \"1\"\ntask = \"segmentation\"\nweights_sha256 = \"{sha}\"\n[inference]\npatch_size = {patch}\n"
        )
    };
    let expect = |dir: &Path, needle: &str| {
        let e = Model::load(dir).unwrap_err().to_string();
        assert!(e.contains(needle), "{needle:?} not in: {e}");
        e
    };
    // Weights changed after the manifest was written.
    let p = tmp.path().join("hash");
    write_package(&p, "unet3d", &good("[32, 32, 32]", &sha("blend_mean")));
    expect(&p, "SHA-256");
    // A missing manifest field; no manifest at all; no network.
    let p = tmp.path().join("field");
    write_package(
        &p,
        "unet3d",
        &good("[32, 32, 32]", &sha("unet3d")).replace("task = \"segmentation\"\n", ""),
    );
    expect(&p, "missing field `task`");
    let p = tmp.path().join("nothing");
    std::fs::create_dir_all(&p).unwrap();
    expect(&p, "voxide-model.toml");
    let p = tmp.path().join("no-onnx");
    write_package(&p, "unet3d", &good("[32, 32, 32]", &sha("unet3d")));
    std::fs::remove_file(p.join("model.onnx")).unwrap();
    expect(&p, "no model.onnx");
    // A patch the U-Net cannot take (its sizes must be multiples of 4).
    let p = tmp.path().join("patch");
    write_package(&p, "unet3d", &good("[30, 32, 32]", &sha("unet3d")));
    expect(
        &p,
        "cannot prepare the network for input [1, 1, 30, 32, 32]",
    );
    // Detection is recognised but not run.
    let p = tmp.path().join("det");
    write_package(
        &p,
        "unet3d",
        &good("[32, 32, 32]", &sha("unet3d")).replace("segmentation", "detection"),
    );
    expect(&p, "detection models");
    // Hand-made ONNX files: an operator tract lacks, and a 2D (rank-4) input.
    for (name, op, rank, needle) in [
        ("op", "FancyBlur", 5, "does not implement: FancyBlur"),
        ("rank", "Relu", 4, "rank 4"),
    ] {
        let p = tmp.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        let bytes = tiny_onnx(op, rank);
        std::fs::write(p.join("model.onnx"), &bytes).unwrap();
        let hash = voxide_infer::backend::sha256_file(&p.join("model.onnx")).unwrap();
        std::fs::write(p.join("voxide-model.toml"), good("[8, 8, 8]", &hash)).unwrap();
        expect(&p, needle);
    }
}

/// An ONNX model with one node `op` from input `x` (rank `rank`, dynamic sizes) to `y`.
fn tiny_onnx(op: &str, rank: usize) -> Vec<u8> {
    use prost::Message;
    use voxide_infer::backend::tract_pb as pb;
    let value = |name: &str| pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: 1, // FLOAT
                shape: Some(pb::TensorShapeProto {
                    dim: (0..rank)
                        .map(|d| pb::tensor_shape_proto::Dimension {
                            value: Some(pb::tensor_shape_proto::dimension::Value::DimParam(
                                format!("d{d}"),
                            )),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let model = pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: 17,
        }],
        graph: Some(pb::GraphProto {
            name: "g".into(),
            node: vec![pb::NodeProto {
                op_type: op.into(),
                input: vec!["x".into()],
                output: vec!["y".into()],
                name: "n".into(),
                ..Default::default()
            }],
            input: vec![value("x")],
            output: vec![value("y")],
            ..Default::default()
        }),
        ..Default::default()
    };
    model.encode_to_vec()
}

#[test]
fn bad_inputs_are_refused_before_any_work() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    write_package(
        &pkg,
        "blend_identity",
        &format!(
            "name = \"m\"\nversion = \"1\"\ntask = \"segmentation\"\nweights_sha256 = \"{}\"\n[input]\nspacing = [2.0, 1.0, 1.0]\nmin_size = [16, 32, 32]\n[inference]\npatch_size = [8, 8, 8]\n",
            sha("blend_identity")
        ),
    );
    let model = Model::load(&pkg).unwrap();
    let g = Geometry::new([20, 20, 10], [1.0; 3], [0.0; 3], IDENTITY).unwrap();
    let image = Image::new(g, Array3::zeros((10, 20, 20))).unwrap();
    let e = model
        .segment(&[&image], &mut |_, _| ControlFlow::Continue(()))
        .unwrap_err();
    assert!(
        matches!(e, InferError::Input(_))
            && e.to_string().contains("smaller than the model's minimum"),
        "{e}"
    );
    let e = model
        .segment(&[&image, &image], &mut |_, _| ControlFlow::Continue(()))
        .unwrap_err();
    assert!(e.to_string().contains("takes 1 channel(s), 2 given"), "{e}");
    let e = model.classify(&[&image]).unwrap_err();
    assert!(e.to_string().contains("not a classification model"), "{e}");
}

#[test]
fn registry_adds_lists_and_removes_checked_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    write_package(
        &pkg,
        "unet3d",
        &format!(
            "name = \"tiny-unet\"\nversion = \"0.1\"\ntask = \"segmentation\"\nweights_sha256 = \"{}\"\n[inference]\npatch_size = [32, 32, 32]\n",
            sha("unet3d")
        ),
    );
    let reg = voxide_infer::registry::Registry::new(tmp.path().join("registry"));
    assert!(reg.list().unwrap().is_empty());
    let m = reg.add(&pkg, false).unwrap();
    assert_eq!(m.name, "tiny-unet");
    let e = reg.add(&pkg, false).unwrap_err().to_string();
    assert!(e.contains("already registered"), "{e}");
    reg.add(&pkg, true).unwrap();
    assert_eq!(reg.list().unwrap().len(), 1);
    reg.load("tiny-unet").unwrap();
    let e = reg.load("other").unwrap_err().to_string();
    assert!(e.contains("tiny-unet"), "lists what exists: {e}");
    reg.remove("tiny-unet").unwrap();
    assert!(reg.list().unwrap().is_empty());
    // A package that fails its checks is not added.
    std::fs::write(pkg.join("model.onnx"), b"not onnx").unwrap();
    assert!(reg.add(&pkg, false).is_err());
    assert!(reg.list().unwrap().is_empty());
}
