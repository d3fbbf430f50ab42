//! Runs imaging AI models (ONNX) over volumes.
//!
//! voxide does not ship models: it runs the ones hospitals and researchers bring, trained with
//! MONAI, nnU-Net or plain PyTorch and exported to ONNX, packaged as a folder with `model.onnx`
//! and a [`manifest`] (`voxide-model.toml`) that says what the network expects: modality,
//! orientation and spacing, intensity preprocessing, patch size and overlap, test-time mirroring,
//! the output activation and the labels with their SNOMED CT codes.
//!
//! A segmentation run ([`Model::segment`]):
//!
//! 1. resamples every input channel onto the model's grid (its orientation and spacing, same
//!    physical extent; no interpolation when the grid is already right), see [`orientation`];
//! 2. normalises intensities ([`preprocess`]);
//! 3. runs the network patch by patch with Gaussian-weighted blending and optional mirroring
//!    ([`sliding`], nnU-Net's scheme), on the backend ([`backend::TractBackend`]: tract, pure
//!    Rust, CPU, its matrix products on rayon's pool);
//! 4. turns the blended logits into probabilities (softmax or sigmoid), resamples them back onto
//!    the input grid (linear) and takes the label per voxel there.
//!
//! A classification run ([`Model::classify`]) resamples the volume onto one patch (the model's
//! input), runs it (and its mirrored copies), divides the logits by the calibration temperature
//! and returns the class probabilities.
//!
//! The package is checked before any work: manifest fields, the SHA-256 of the weights, the
//! operators (against what tract implements), the input rank and shape; the input is checked
//! for its channel count, grid and minimum size. Everything here is computation on images
//! already in memory, except reading the package itself; the CLI and server do the rest of the
//! IO.

pub mod backend;
pub mod manifest;
pub mod orientation;
pub mod preprocess;
pub mod registry;
pub mod sliding;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use ndarray::{Array3, Array4, Axis, Zip};
use voxide_core::{Geometry, Image, Interpolation};

use crate::backend::{Backend, TractBackend};
use crate::manifest::{Activation, Manifest, Task, MODEL_FILE};
use crate::sliding::SlidingWindow;

/// Errors of model packages and runs; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("model manifest {path}: {reason}")]
    Manifest { path: String, reason: String },
    #[error("{path}: SHA-256 is {actual} but the manifest's weights_sha256 is {expected}; the weights are not the ones the manifest describes (re-export them, or update weights_sha256 if the new file is intended)")]
    HashMismatch {
        path: String,
        expected: String,
        actual: String,
    },
    #[error("{path}: the network uses operators the inference engine (tract) does not implement: {operators}; export it with standard ONNX operators (opset 9-18)")]
    UnsupportedOperators { path: String, operators: String },
    #[error("{path}: input {input:?} is declared {declared}, but the manifest's patch needs rank {expected} ([N, C, D, H, W] for a 3D patch)")]
    InputRank {
        path: String,
        input: String,
        declared: String,
        expected: usize,
    },
    #[error("model {path}: {reason}")]
    Model { path: String, reason: String },
    #[error("input: {0}")]
    Input(String),
    #[error("inference: {0}")]
    Run(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("model registry: {0}")]
    Registry(String),
    /// The caller's progress callback asked the run to stop.
    #[error("inference canceled")]
    Canceled,
}

/// A loaded, checked model package.
#[derive(Debug)]
pub struct Model {
    manifest: Manifest,
    dir: PathBuf,
    backend: Box<dyn Backend>,
}

/// The result of a segmentation run, on the input's grid.
#[derive(Debug)]
pub struct Segmentation {
    /// Label value per voxel (0 = background).
    pub labels: Image<u8>,
    /// Per output channel, its probability per voxel (softmax: channel `c` is label `c`).
    pub probabilities: Vec<Image<f32>>,
    /// Number of network patches run (without mirrored copies).
    pub patches: usize,
}

/// The result of a classification run.
#[derive(Debug, Clone)]
pub struct Classification {
    /// Probability per class (softmax) or per independent finding (sigmoid).
    pub probabilities: Vec<f64>,
    /// The most probable class (softmax), or the first finding at or above the threshold
    /// (sigmoid; `None` if none is).
    pub predicted: Option<usize>,
}

impl Model {
    /// Loads the package in `dir`: reads and checks the manifest, verifies the weights' SHA-256
    /// and prepares the network for the manifest's patch.
    pub fn load(dir: &Path) -> Result<Self, InferError> {
        let manifest = Manifest::read(dir)?;
        if manifest.task == Task::Detection {
            return Err(InferError::Unsupported(format!(
                "model {}: detection models are recognised in manifests but cannot be run yet; run segmentation or classification models",
                manifest.name
            )));
        }
        let path = dir.join(MODEL_FILE);
        if !path.is_file() {
            return Err(InferError::Model {
                path: path.display().to_string(),
                reason: format!("the package has no {MODEL_FILE}"),
            });
        }
        let shape = input_shape(&manifest);
        let backend = TractBackend::load(
            &path,
            &manifest.weights_sha256,
            &shape,
            manifest.output.name.as_deref(),
        )?;
        Ok(Self {
            manifest,
            dir: dir.to_path_buf(),
            backend: Box::new(backend),
        })
    }

    /// A model on another backend (its input shape must be the manifest's).
    pub fn with_backend(
        manifest: Manifest,
        dir: PathBuf,
        backend: Box<dyn Backend>,
    ) -> Result<Self, InferError> {
        let want = input_shape(&manifest);
        let got = backend.input_shape();
        if got[1..] != want[1..] {
            return Err(InferError::Model {
                path: dir.display().to_string(),
                reason: format!("backend prepared for {got:?}, the manifest needs {want:?}"),
            });
        }
        Ok(Self {
            manifest,
            dir,
            backend,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The package folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checks an input before any work: channel count, identical grids, the model's grid and
    /// its minimum size. Returns the model's grid (`None`: the input's own grid).
    pub fn check_input(&self, channels: &[&Image<f32>]) -> Result<Option<Geometry>, InferError> {
        let m = &self.manifest;
        if channels.len() != m.input.channels {
            return Err(InferError::Input(format!(
                "model {} takes {} channel(s), {} given",
                m.name,
                m.input.channels,
                channels.len()
            )));
        }
        let Some(first) = channels.first() else {
            return Err(InferError::Input("no input image".into()));
        };
        let g = first.geometry();
        if g.is_empty() {
            return Err(InferError::Input("the input image has no voxel".into()));
        }
        for (c, other) in channels.iter().enumerate().skip(1) {
            if !other.geometry().matches(g, voxide_core::GRID_TOLERANCE) {
                return Err(InferError::Input(format!(
                    "channel {c} is not on channel 0's grid; resample it first"
                )));
            }
        }
        let grid = orientation::model_grid(g, m.input.orientation.as_deref(), m.input.spacing)
            .map_err(InferError::Input)?;
        if m.task == Task::Segmentation {
            if let Some(min) = m.input.min_size {
                let size = grid.as_ref().unwrap_or(g).size();
                let dhw = [size[2], size[1], size[0]];
                if dhw.iter().zip(min).any(|(s, m)| *s < m) {
                    return Err(InferError::Input(format!(
                        "the volume is {dhw:?} voxels (D, H, W) on the model's grid, smaller than the model's minimum {min:?}"
                    )));
                }
            }
        }
        Ok(grid)
    }

    /// Segments `channels` (one image per model input channel, on one grid).
    /// `progress(done, total)` counts network batches; returning `Break` from it cancels the
    /// run ([`InferError::Canceled`]).
    pub fn segment(
        &self,
        channels: &[&Image<f32>],
        progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
    ) -> Result<Segmentation, InferError> {
        let m = &self.manifest;
        if m.task != Task::Segmentation {
            return Err(InferError::Input(format!(
                "model {} is a {:?} model, not a segmentation model",
                m.name, m.task
            )));
        }
        let grid = self.check_input(channels)?;
        let source = channels[0].geometry().clone();
        let input = on_grid(channels, grid.as_ref(), &m.preprocessing);
        let window = SlidingWindow {
            patch: m.inference.patch_size,
            overlap: m.inference.overlap,
            gaussian_sigma: m.inference.gaussian_sigma,
            mirror_axes: m.inference.mirror_axes.clone(),
        };
        let (_, d, h, w) = input.dim();
        let patches = [d, h, w]
            .iter()
            .zip(window.patch)
            .map(|(&n, p)| sliding::patch_starts(n.max(p), p, window.overlap).len())
            .product();
        let mut logits = sliding::predict(input.view(), self.backend.as_ref(), &window, progress)?;
        let classes = logits.len_of(Axis(0));
        if m.output.activation == Activation::Softmax && classes > 256 {
            return Err(InferError::Run(format!(
                "{classes} output channels do not fit 8-bit labels"
            )));
        }
        activate(&mut logits, m.output.activation, 1.0);
        let model_grid = grid.clone().unwrap_or_else(|| source.clone());
        let probabilities: Vec<Image<f32>> = logits
            .outer_iter()
            .map(|p| {
                let on_model = Image::new(model_grid.clone(), p.to_owned())
                    .map_err(|e| InferError::Run(e.to_string()))?;
                Ok(match &grid {
                    Some(_) => {
                        voxide_core::resample(&on_model, &source, Interpolation::Linear, 0.0)
                    }
                    None => on_model,
                })
            })
            .collect::<Result<_, InferError>>()?;
        let labels = self.label_map(&probabilities, &source)?;
        Ok(Segmentation {
            labels,
            probabilities,
            patches,
        })
    }

    fn label_map(&self, p: &[Image<f32>], grid: &Geometry) -> Result<Image<u8>, InferError> {
        let m = &self.manifest;
        let mut labels = Array3::<u8>::zeros(grid.shape());
        match m.output.activation {
            Activation::Softmax | Activation::None => {
                let mut best = Array3::<f32>::from_elem(grid.shape(), f32::NEG_INFINITY);
                for (c, prob) in p.iter().enumerate() {
                    Zip::from(&mut labels)
                        .and(&mut best)
                        .and(prob.data())
                        .for_each(|l, b, &v| {
                            if v > *b {
                                *b = v;
                                *l = c as u8;
                            }
                        });
                }
            }
            Activation::Sigmoid => {
                let t = m.output.threshold as f32;
                for (c, prob) in p.iter().enumerate() {
                    let value = m.labels.get(c).map_or((c + 1).min(255) as u8, |l| l.value);
                    Zip::from(&mut labels).and(prob.data()).for_each(|l, &v| {
                        if v >= t {
                            *l = value;
                        }
                    });
                }
            }
        }
        Image::new(grid.clone(), labels).map_err(|e| InferError::Run(e.to_string()))
    }

    /// Classifies `channels`: the volume is resampled onto one patch (the model's orientation;
    /// its spacing when the manifest gives one, centred, else stretched to fit the patch).
    pub fn classify(&self, channels: &[&Image<f32>]) -> Result<Classification, InferError> {
        let m = &self.manifest;
        if m.task != Task::Classification {
            return Err(InferError::Input(format!(
                "model {} is a {:?} model, not a classification model",
                m.name, m.task
            )));
        }
        self.check_input(channels)?;
        let grid = classification_grid(channels[0].geometry(), m)?;
        let input = on_grid(channels, Some(&grid), &m.preprocessing);
        let shape = self.backend.input_shape().to_vec();
        let batch = shape[0];
        let mut flips_done = 0;
        let mut sum: Option<Vec<f64>> = None;
        let mut axes_sets: Vec<Vec<usize>> = vec![vec![]];
        for a in &m.inference.mirror_axes {
            let more: Vec<Vec<usize>> = axes_sets
                .iter()
                .map(|s| {
                    let mut s = s.clone();
                    s.push(*a);
                    s
                })
                .collect();
            axes_sets.extend(more);
        }
        for axes in &axes_sets {
            let mut x = input.clone();
            for &a in axes {
                x.invert_axis(Axis(a + 1));
            }
            let x = x.as_standard_layout().into_owned();
            let mut batched =
                ndarray::Array5::<f32>::zeros((batch, shape[1], shape[2], shape[3], shape[4]));
            for mut item in batched.outer_iter_mut() {
                item.assign(&x);
            }
            let y = self.backend.run(batched.view().into_dyn())?;
            let logits: Vec<f64> = y
                .index_axis(Axis(0), 0)
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            match &mut sum {
                None => sum = Some(logits),
                Some(s) => s.iter_mut().zip(&logits).for_each(|(a, b)| *a += b),
            }
            flips_done += 1;
        }
        let mut logits = sum.unwrap_or_default();
        logits.iter_mut().for_each(|v| *v /= flips_done as f64);
        let t = m.output.temperature;
        let probabilities: Vec<f64> = match m.output.activation {
            Activation::Softmax => {
                let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = logits.iter().map(|v| ((v - max) / t).exp()).collect();
                let s: f64 = e.iter().sum();
                e.iter().map(|v| v / s).collect()
            }
            Activation::Sigmoid => logits
                .iter()
                .map(|v| 1.0 / (1.0 + (-v / t).exp()))
                .collect(),
            Activation::None => logits,
        };
        let predicted = match m.output.activation {
            Activation::Sigmoid => probabilities.iter().position(|&p| p >= m.output.threshold),
            _ => probabilities
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i),
        };
        Ok(Classification {
            probabilities,
            predicted,
        })
    }
}

/// `[batch, channels, D, H, W]` of the manifest.
fn input_shape(m: &Manifest) -> Vec<usize> {
    let p = m.inference.patch_size;
    vec![m.inference.batch_size, m.input.channels, p[0], p[1], p[2]]
}

/// The channels resampled onto `grid` (if any) and normalised: channels × D × H × W.
fn on_grid(
    channels: &[&Image<f32>],
    grid: Option<&Geometry>,
    method: &manifest::Preprocessing,
) -> Array4<f32> {
    let shape = grid.unwrap_or(channels[0].geometry()).shape();
    let mut out = Array4::<f32>::zeros((channels.len(), shape.0, shape.1, shape.2));
    for (mut dst, image) in out.outer_iter_mut().zip(channels) {
        match grid {
            Some(g) => {
                // Points of the new grid just outside the old extent take the lowest value
                // (air in CT, background elsewhere).
                let low = image
                    .data()
                    .iter()
                    .copied()
                    .filter(|v| v.is_finite())
                    .fold(f32::INFINITY, f32::min);
                let low = if low.is_finite() { f64::from(low) } else { 0.0 };
                let r = voxide_core::resample(image, g, Interpolation::Linear, low);
                dst.assign(r.data());
            }
            None => dst.assign(image.data()),
        }
        // Non-finite voxels (NaN in some NIfTI exports) would spread through every patch.
        dst.mapv_inplace(|v| if v.is_finite() { v } else { 0.0 });
        preprocess::normalise(dst, method);
    }
    out
}

/// Softmax or sigmoid over the class axis, in place.
fn activate(logits: &mut Array4<f32>, activation: Activation, temperature: f32) {
    match activation {
        Activation::None => {}
        Activation::Sigmoid => logits.mapv_inplace(|v| 1.0 / (1.0 + (-v / temperature).exp())),
        Activation::Softmax => {
            let classes = logits.len_of(Axis(0));
            let (_, d, h, w) = logits.dim();
            let mut max = Array3::<f32>::from_elem((d, h, w), f32::NEG_INFINITY);
            for c in logits.outer_iter() {
                Zip::from(&mut max).and(&c).for_each(|m, &v| *m = m.max(v));
            }
            let mut sum = Array3::<f32>::zeros((d, h, w));
            for mut c in logits.outer_iter_mut() {
                Zip::from(&mut c)
                    .and(&max)
                    .and(&mut sum)
                    .for_each(|v, &m, s| {
                        *v = ((*v - m) / temperature).exp();
                        *s += *v;
                    });
            }
            if classes > 0 {
                for mut c in logits.outer_iter_mut() {
                    Zip::from(&mut c).and(&sum).for_each(|v, &s| *v /= s);
                }
            }
        }
    }
}

/// One patch covering the input's extent, for classification.
fn classification_grid(source: &Geometry, m: &Manifest) -> Result<Geometry, InferError> {
    let [pd, ph, pw] = m.inference.patch_size;
    let patch = [pw, ph, pd];
    let dir = match &m.input.orientation {
        Some(code) => orientation::direction_from_code(code).map_err(InferError::Input)?,
        None => source.direction(),
    };
    let size = source.size();
    let centre = source.index_to_physical([0, 1, 2].map(|a| (size[a] as f64 - 1.0) / 2.0));
    let spacing = match m.input.spacing {
        Some([d, h, w]) => [w, h, d],
        None => {
            // Stretch: the source's extent along each new axis over the patch.
            let (lo, hi) = orientation::extent_along(source, &dir);
            [0, 1, 2].map(|c| (hi[c] - lo[c]) / patch[c] as f64)
        }
    };
    let mut origin = centre;
    for (r, o) in origin.iter_mut().enumerate() {
        for c in 0..3 {
            *o -= dir[r][c] * spacing[c] * (patch[c] as f64 - 1.0) / 2.0;
        }
    }
    Geometry::new(patch, spacing, origin, dir).map_err(|e| InferError::Input(e.to_string()))
}
