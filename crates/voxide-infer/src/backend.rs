//! Inference backends: what runs the network on one batch of patches.
//!
//! [`Backend`] is the seam for other engines (a GPU path later); [`TractBackend`] runs ONNX
//! models on the CPU with `tract`, a pure-Rust engine, so voxide stays one self-contained
//! binary.

use std::path::Path;

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use sha2::{Digest, Sha256};
use tract_onnx::pb;
use tract_onnx::prelude::*;

use crate::InferError;

thread_local! {
    /// Set on threads that run one network each side by side (see [`serial`]).
    static SERIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the engine kept on the calling thread: for workers that each run their own
/// patches, so that the cores are shared out by patch rather than oversubscribed.
pub fn serial<R>(f: impl FnOnce() -> R) -> R {
    let before = SERIAL.replace(true);
    let r = f();
    SERIAL.set(before);
    r
}

/// The ONNX protobuf types, for tools that inspect or write model files.
pub use tract_onnx::pb as tract_pb;

/// Runs a network with a fixed input shape.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// The input shape the network was prepared for (`[N, C, D, H, W]` or `[N, C, H, W]` for a
    /// segmentation network, `[N, C, D, H, W]` for a 3D classifier).
    fn input_shape(&self) -> &[usize];
    /// Runs one batch; the input must have [`Backend::input_shape`]. Returns the selected output.
    fn run(&self, input: ArrayViewD<'_, f32>) -> Result<ArrayD<f32>, InferError>;
}

/// What the ONNX file declares, read before the network is built, so that a wrong package is
/// refused with a clear message before any work starts.
#[derive(Debug, Clone)]
pub struct OnnxSignature {
    /// Graph inputs that are not initialisers: name and declared dimensions (`None` = symbolic).
    pub inputs: Vec<(String, Vec<Option<i64>>)>,
    /// Graph output names.
    pub outputs: Vec<String>,
    /// Operator types used, each once.
    pub operators: Vec<String>,
}

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String, InferError> {
    let bytes = std::fs::read(path).map_err(|e| InferError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// A network prepared by tract for one input shape.
pub struct TractBackend {
    plan: Arc<TypedRunnableModel>,
    shape: Vec<usize>,
    output: usize,
    signature: OnnxSignature,
}

impl std::fmt::Debug for TractBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TractBackend")
            .field("shape", &self.shape)
            .field("output", &self.output)
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

fn model_error(path: &Path, e: impl std::fmt::Display) -> InferError {
    InferError::Model {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

impl TractBackend {
    /// Loads `path`, checks its SHA-256 against `expected_sha256` (hex), its operators against
    /// what tract implements and its input rank against `input_shape`, and optimises it for that
    /// shape. `output` picks an output by name (the first by default).
    pub fn load(
        path: &Path,
        expected_sha256: &str,
        input_shape: &[usize],
        output: Option<&str>,
    ) -> Result<Self, InferError> {
        let bytes = std::fs::read(path).map_err(|e| InferError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if !actual.eq_ignore_ascii_case(expected_sha256) {
            return Err(InferError::HashMismatch {
                path: path.display().to_string(),
                expected: expected_sha256.to_ascii_lowercase(),
                actual,
            });
        }
        // tract is not hardened against malformed graphs (it can panic where it should fail);
        // a package is untrusted input, so a panic in parsing or optimising becomes an error.
        let prepared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Self::prepare(path, &bytes, input_shape, output)
        }));
        let (plan, shape, output_index, signature) = match prepared {
            Ok(result) => result?,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown failure");
                return Err(model_error(
                    path,
                    format!("the inference engine failed on this network: {what}"),
                ));
            }
        };
        Ok(Self {
            plan,
            shape,
            output: output_index,
            signature,
        })
    }

    /// Parses, checks and optimises the network (see [`TractBackend::load`]).
    #[allow(clippy::type_complexity)]
    fn prepare(
        path: &Path,
        bytes: &[u8],
        input_shape: &[usize],
        output: Option<&str>,
    ) -> Result<(Arc<TypedRunnableModel>, Vec<usize>, usize, OnnxSignature), InferError> {
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut &bytes[..])
            .map_err(|e| model_error(path, format!("not a readable ONNX model: {e}")))?;
        let signature = signature(&proto).map_err(|e| model_error(path, e))?;
        let unsupported: Vec<&str> = signature
            .operators
            .iter()
            .filter(|op| !onnx.op_register.0.contains_key(op.as_str()))
            .map(String::as_str)
            .collect();
        if !unsupported.is_empty() {
            return Err(InferError::UnsupportedOperators {
                path: path.display().to_string(),
                operators: unsupported.join(", "),
            });
        }
        let [(input_name, dims)] = signature.inputs.as_slice() else {
            return Err(model_error(
                path,
                format!(
                    "the network must take exactly one input tensor, it takes {}",
                    signature.inputs.len()
                ),
            ));
        };
        if dims.len() != input_shape.len() {
            return Err(InferError::InputRank {
                path: path.display().to_string(),
                input: input_name.clone(),
                declared: describe_dims(dims),
                expected: input_shape.len(),
            });
        }
        for (axis, (d, want)) in dims.iter().zip(input_shape).enumerate() {
            if let Some(d) = d {
                // Batch may be fixed to 1 in the file while the manifest asks for more.
                let fixed_batch_ok = axis == 0 && *d == 1;
                if *d != *want as i64 && !fixed_batch_ok {
                    return Err(model_error(
                        path,
                        format!(
                            "input {input_name:?} is declared {}, which does not fit the manifest's {:?} (batch, channels, patch)",
                            describe_dims(dims),
                            input_shape
                        ),
                    ));
                }
            }
        }
        let output_index = match output {
            None => 0,
            Some(name) => signature
                .outputs
                .iter()
                .position(|o| o == name)
                .ok_or_else(|| {
                    model_error(
                        path,
                        format!(
                            "the manifest's output.name {name:?} is not an output of the network (it has {})",
                            signature.outputs.join(", ")
                        ),
                    )
                })?,
        };
        let mut model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| model_error(path, format!("{e:#}")))?;
        // A fixed batch of 1 in the file: run patches one at a time.
        let shape: Vec<usize> = match dims.first() {
            Some(Some(1)) if input_shape[0] != 1 => {
                let mut s = input_shape.to_vec();
                s[0] = 1;
                s
            }
            _ => input_shape.to_vec(),
        };
        model = model
            .with_input_fact(0, f32::fact(shape.clone()).into())
            .map_err(|e| model_error(path, format!("{e:#}")))?;
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(|e| {
                model_error(
                    path,
                    format!("cannot prepare the network for input {shape:?}: {e:#}"),
                )
            })?;
        Ok((plan, shape, output_index, signature))
    }

    /// What the file declares.
    pub fn signature(&self) -> &OnnxSignature {
        &self.signature
    }
}

impl Backend for TractBackend {
    fn input_shape(&self) -> &[usize] {
        &self.shape
    }

    fn run(&self, input: ArrayViewD<'_, f32>) -> Result<ArrayD<f32>, InferError> {
        if input.shape() != self.shape.as_slice() {
            return Err(InferError::Run(format!(
                "input shape {:?} differs from the prepared {:?}",
                input.shape(),
                self.shape
            )));
        }
        let tensor: Tensor = input.to_owned().into();
        // Called from the main thread, tract spreads its matrix products over rayon's global
        // pool. Called from a rayon worker (patches run concurrently), it must stay on that
        // thread: tract keeps per-thread scratch buffers, and a worker waiting inside tract
        // could otherwise steal another patch's run and re-enter them.
        let executor = if rayon::current_thread_index().is_some() || SERIAL.get() {
            tract_linalg::multithread::Executor::SingleThread
        } else {
            tract_linalg::multithread::Executor::RayonGlobal
        };
        let outputs = tract_linalg::multithread::multithread_tract_scope(executor, || {
            self.plan.run(tvec!(tensor.into_tvalue()))
        })
        .map_err(|e| InferError::Run(format!("{e:#}")))?;
        let out = outputs
            .get(self.output)
            .ok_or_else(|| InferError::Run("the network returned no output".into()))?;
        let view = out
            .to_plain_array_view::<f32>()
            .map_err(|e| InferError::Run(format!("output is not float32: {e:#}")))?;
        view.to_owned()
            .into_shape_with_order(IxDyn(view.shape()))
            .map_err(|e| InferError::Run(e.to_string()))
    }
}

fn describe_dims(dims: &[Option<i64>]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| d.map_or_else(|| "?".to_string(), |v| v.to_string()))
        .collect();
    format!("[{}] (rank {})", parts.join(", "), dims.len())
}

fn signature(proto: &pb::ModelProto) -> Result<OnnxSignature, String> {
    let graph = proto.graph.as_ref().ok_or("the file holds no graph")?;
    let initialisers: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs = graph
        .input
        .iter()
        .filter(|i| !initialisers.contains(i.name.as_str()))
        .map(|i| {
            let dims = match i.r#type.as_ref().and_then(|t| t.value.as_ref()) {
                Some(pb::type_proto::Value::TensorType(t)) => t
                    .shape
                    .as_ref()
                    .map(|s| {
                        s.dim
                            .iter()
                            .map(|d| match d.value {
                                Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) => {
                                    Some(v)
                                }
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            (i.name.clone(), dims)
        })
        .collect();
    let outputs = graph.output.iter().map(|o| o.name.clone()).collect();
    let mut operators: Vec<String> = graph.node.iter().map(|n| n.op_type.clone()).collect();
    operators.sort();
    operators.dedup();
    Ok(OnnxSignature {
        inputs,
        outputs,
        operators,
    })
}
