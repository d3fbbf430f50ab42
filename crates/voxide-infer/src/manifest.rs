//! The model package manifest, `voxide-model.toml`.
//!
//! A model package is a folder with `model.onnx` and this manifest. Spatial quantities follow
//! the model's tensor axes `(D, H, W)`: slices, rows, columns, which are voxide's array axes
//! `(k, j, i)` of the image after it has been put in the model's orientation. An example:
//!
//! ```toml
//! name = "liver-ct"
//! version = "1.2.0"
//! task = "segmentation"
//! weights_sha256 = "a52613818b09f5963ad8cd465e5fa07ea4ada8e9d3d73610dd0157366e738634"
//!
//! [input]
//! modality = "CT"
//! series_description = "*portal*"   # optional, case-insensitive glob
//! orientation = "LPS"               # optional: the directions of the i, j, k axes
//! spacing = [3.0, 0.8, 0.8]         # optional, mm along D, H, W
//! min_size = [16, 64, 64]           # optional, voxels along D, H, W after resampling
//!
//! [preprocessing]
//! method = "ct_window"              # clip to the window, then (x - mean) / std
//! window = [-100.0, 240.0]
//! mean = 99.4
//! std = 39.4
//!
//! [inference]
//! patch_size = [96, 96, 96]         # D, H, W
//! overlap = 0.5                     # fraction of the patch shared by neighbours
//! batch_size = 1
//! mirror_axes = [0, 1, 2]           # test-time flips along D, H, W (all combinations)
//!
//! [output]
//! activation = "softmax"            # softmax | sigmoid | none
//!
//! [[labels]]
//! value = 1
//! name = "liver"
//! category = { code = "123037004", meaning = "Anatomical Structure" }
//! property = { code = "10200004", meaning = "Liver" }
//! ```

use serde::Deserialize;

use crate::InferError;

/// File name of the manifest inside a model package.
pub const MANIFEST_FILE: &str = "voxide-model.toml";
/// File name of the network inside a model package.
pub const MODEL_FILE: &str = "model.onnx";

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A class per voxel (or overlapping channels with a sigmoid).
    Segmentation,
    /// A class per volume.
    Classification,
    /// Boxes or points per volume (recognised in manifests; not run yet).
    Detection,
}

/// A parsed and checked `voxide-model.toml`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Registry name: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// The model's own version string.
    pub version: String,
    pub task: Task,
    #[serde(default)]
    pub description: Option<String>,
    /// Lower-case hex SHA-256 of `model.onnx`; a package whose file differs does not run.
    pub weights_sha256: String,
    #[serde(default)]
    pub input: InputSpec,
    #[serde(default)]
    pub preprocessing: Preprocessing,
    pub inference: InferenceSpec,
    #[serde(default)]
    pub output: OutputSpec,
    /// Output classes (segmentation: label values; classification: class indices).
    #[serde(default)]
    pub labels: Vec<LabelSpec>,
}

/// Which inputs the model accepts and the grid it expects.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// DICOM Modality the model is for (`CT`, `MR`, `PT`, ...); DICOM inputs of another
    /// modality are refused.
    pub modality: Option<String>,
    /// DICOM Body Part Examined to match (case-insensitive glob), for arrival rules.
    pub body_part: Option<String>,
    /// DICOM Series Description to match (case-insensitive glob), for arrival rules.
    pub series_description: Option<String>,
    /// Three letters giving the directions of the image axes i, j, k (`LPS`, `RAS`, ...); the
    /// image is resampled into this orientation first.
    pub orientation: Option<String>,
    /// Voxel spacing in mm along D, H, W the model was trained at.
    pub spacing: Option<[f64; 3]>,
    /// Smallest volume accepted, in voxels along D, H, W on the model's grid.
    pub min_size: Option<[usize; 3]>,
    /// Number of input channels (one image per channel); 1 unless the model says otherwise.
    #[serde(default = "one")]
    pub channels: usize,
}

fn one() -> usize {
    1
}

impl Default for InputSpec {
    fn default() -> Self {
        Self {
            modality: None,
            body_part: None,
            series_description: None,
            orientation: None,
            spacing: None,
            min_size: None,
            channels: 1,
        }
    }
}

/// Intensity preprocessing, applied on the model's grid.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Preprocessing {
    /// Values as they are.
    #[default]
    None,
    /// nnU-Net's CT normalisation: clip to `window`, then `(x - mean) / std`.
    CtWindow {
        window: [f64; 2],
        mean: f64,
        std: f64,
    },
    /// Clip to the `lower` and `upper` percentiles of the volume, then scale to [0, 1].
    Percentile { lower: f64, upper: f64 },
    /// `(x - mean) / std` with fixed values.
    Fixed { mean: f64, std: f64 },
    /// `(x - mean) / std` with the volume's own mean and standard deviation (nnU-Net's MR
    /// normalisation).
    ZScore,
}

/// Sliding-window settings.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct InferenceSpec {
    /// Patch size along D, H, W (the model's input is fixed to it).
    pub patch_size: [usize; 3],
    /// Fraction of a patch that overlaps its neighbour, in `[0, 1)`.
    #[serde(default = "half")]
    pub overlap: f64,
    /// Patches per model call.
    #[serde(default = "one")]
    pub batch_size: usize,
    /// Spatial axes (0 = D, 1 = H, 2 = W) to mirror at test time; every combination is run
    /// and the outputs averaged.
    #[serde(default)]
    pub mirror_axes: Vec<usize>,
    /// Standard deviation of the Gaussian blending weights, as a fraction of the patch size.
    #[serde(default = "eighth")]
    pub gaussian_sigma: f64,
}

fn half() -> f64 {
    0.5
}

fn eighth() -> f64 {
    0.125
}

/// How network outputs become probabilities and labels.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    #[serde(default)]
    pub activation: Activation,
    /// Sigmoid outputs: a voxel (or class) is positive at or above this probability.
    #[serde(default = "half")]
    pub threshold: f64,
    /// Classification: logits are divided by this temperature before the activation
    /// (temperature scaling, Guo et al. 2017), so that probabilities are calibrated.
    #[serde(default = "unit")]
    pub temperature: f64,
    /// Name of the ONNX output to use; the first one by default.
    pub name: Option<String>,
}

fn unit() -> f64 {
    1.0
}

impl Default for OutputSpec {
    fn default() -> Self {
        Self {
            activation: Activation::default(),
            threshold: 0.5,
            temperature: 1.0,
            name: None,
        }
    }
}

/// The activation on the class axis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Mutually exclusive classes; channel `c` is label value `c` (channel 0 background).
    #[default]
    Softmax,
    /// Independent channels; channel `c` is the `c`-th entry of `labels`.
    Sigmoid,
    /// Outputs are already probabilities.
    None,
}

/// A coded concept (SNOMED CT by default), as DICOM SEG and SR need.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Code {
    pub code: String,
    pub meaning: String,
    /// Coding scheme designator; `SCT` (SNOMED CT) by default.
    #[serde(default = "sct")]
    pub scheme: String,
}

fn sct() -> String {
    "SCT".to_string()
}

/// One output class.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    /// Label value in the label map (segmentation) or class index (classification).
    pub value: u8,
    pub name: String,
    /// Segmented property category (e.g. 123037004 "Anatomical Structure", 49755003
    /// "Morphologically Altered Structure").
    pub category: Option<Code>,
    /// Segmented property type (e.g. 10200004 "Liver", 108369006 "Neoplasm").
    pub property: Option<Code>,
}

impl Manifest {
    /// Parses and checks a manifest; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, InferError> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| InferError::Manifest {
            path: source.to_string(),
            reason: e.to_string(),
        })?;
        manifest.check().map_err(|reason| InferError::Manifest {
            path: source.to_string(),
            reason,
        })?;
        Ok(manifest)
    }

    /// Reads `voxide-model.toml` from a package folder.
    pub fn read(package: &std::path::Path) -> Result<Self, InferError> {
        let path = package.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| InferError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    fn check(&self) -> Result<(), String> {
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || self.name.starts_with('.')
        {
            return Err(format!(
                "name {:?} must be non-empty letters, digits, '-', '_' or '.' (not starting with '.')",
                self.name
            ));
        }
        let hash = &self.weights_sha256;
        if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "weights_sha256 must be the 64 hex digits of model.onnx's SHA-256 (`sha256sum model.onnx`), got {hash:?}"
            ));
        }
        let inf = &self.inference;
        if inf.patch_size.contains(&0) {
            return Err(format!(
                "inference.patch_size {:?} must be positive along D, H, W",
                inf.patch_size
            ));
        }
        if !(0.0..1.0).contains(&inf.overlap) {
            return Err(format!(
                "inference.overlap {} must be in [0, 1)",
                inf.overlap
            ));
        }
        if inf.batch_size == 0 {
            return Err("inference.batch_size must be at least 1".into());
        }
        if let Some(a) = inf.mirror_axes.iter().find(|&&a| a > 2) {
            return Err(format!(
                "inference.mirror_axes: {a} is not a spatial axis (0 = D, 1 = H, 2 = W)"
            ));
        }
        if !(inf.gaussian_sigma.is_finite() && inf.gaussian_sigma > 0.0) {
            return Err("inference.gaussian_sigma must be > 0".into());
        }
        if let Some(s) = self.input.spacing {
            if !s.iter().all(|v| v.is_finite() && *v > 0.0) {
                return Err(format!("input.spacing {s:?} must be positive mm"));
            }
        }
        if let Some(o) = &self.input.orientation {
            crate::orientation::direction_from_code(o)?;
        }
        if self.input.channels == 0 {
            return Err("input.channels must be at least 1".into());
        }
        match &self.preprocessing {
            Preprocessing::CtWindow { window, std, .. } => {
                if window[0].partial_cmp(&window[1]) != Some(std::cmp::Ordering::Less) {
                    return Err(format!(
                        "preprocessing.window {window:?} must be [lower, upper] with lower < upper"
                    ));
                }
                if std.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
                    return Err("preprocessing.std must be > 0".into());
                }
            }
            Preprocessing::Fixed { std, .. }
                if std.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) =>
            {
                return Err("preprocessing.std must be > 0".into());
            }
            Preprocessing::Percentile { lower, upper }
                if !(0.0 <= *lower && lower < upper && *upper <= 100.0) =>
            {
                return Err(format!(
                    "preprocessing percentiles {lower}, {upper} must satisfy 0 <= lower < upper <= 100"
                ));
            }
            _ => {}
        }
        let out = &self.output;
        if !(out.threshold > 0.0 && out.threshold < 1.0) {
            return Err(format!(
                "output.threshold {} must be in (0, 1)",
                out.threshold
            ));
        }
        if !(out.temperature.is_finite() && out.temperature > 0.0) {
            return Err("output.temperature must be > 0".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for l in &self.labels {
            if !seen.insert(l.value) {
                return Err(format!("labels: value {} appears twice", l.value));
            }
            if self.task == Task::Segmentation
                && l.value == 0
                && out.activation != Activation::Sigmoid
            {
                return Err(format!(
                    "labels: value 0 ({:?}) is the background of a segmentation; number classes from 1",
                    l.name
                ));
            }
        }
        Ok(())
    }

    /// The label entry with `value`, if declared.
    pub fn label(&self, value: u8) -> Option<&LabelSpec> {
        self.labels.iter().find(|l| l.value == value)
    }
}

/// Case-insensitive glob match with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Iterative matcher with one backtrack point (the last `*`).
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "tiny"
version = "1"
task = "segmentation"
weights_sha256 = "a52613818b09f5963ad8cd465e5fa07ea4ada8e9d3d73610dd0157366e738634"
[inference]
patch_size = [32, 32, 32]
"#;

    #[test]
    fn minimal_manifest_gets_defaults() {
        let m = Manifest::parse(MINIMAL, "m.toml").unwrap();
        assert_eq!(m.inference.overlap, 0.5);
        assert_eq!(m.inference.batch_size, 1);
        assert_eq!(m.output.activation, Activation::Softmax);
        assert_eq!(m.preprocessing, Preprocessing::None);
        assert_eq!(m.input.channels, 1);
    }

    #[test]
    fn errors_name_the_field() {
        let missing = MINIMAL.replace("task = \"segmentation\"\n", "");
        let e = Manifest::parse(&missing, "m.toml").unwrap_err().to_string();
        assert!(e.contains("m.toml") && e.contains("task"), "{e}");
        let unknown = MINIMAL.replace("[inference]", "[inference]\npatchsize = 3");
        let e = Manifest::parse(&unknown, "m.toml").unwrap_err().to_string();
        assert!(e.contains("patchsize"), "{e}");
        let bad_hash = MINIMAL.replace("a5261381", "zz");
        let e = Manifest::parse(&bad_hash, "m.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("weights_sha256"), "{e}");
        let overlap = MINIMAL.replace("[inference]", "[inference]\noverlap = 1.0");
        let e = Manifest::parse(&overlap, "m.toml").unwrap_err().to_string();
        assert!(e.contains("overlap"), "{e}");
        let mirror = MINIMAL.replace("[inference]", "[inference]\nmirror_axes = [3]");
        let e = Manifest::parse(&mirror, "m.toml").unwrap_err().to_string();
        assert!(e.contains("mirror_axes"), "{e}");
        let orient = format!("{MINIMAL}\n[input]\norientation = \"LPX\"");
        let e = Manifest::parse(&orient, "m.toml").unwrap_err().to_string();
        assert!(e.contains("LPX"), "{e}");
        let window = format!(
            "{MINIMAL}\n[preprocessing]\nmethod = \"ct_window\"\nwindow = [200.0, -100.0]\nmean = 0.0\nstd = 1.0"
        );
        let e = Manifest::parse(&window, "m.toml").unwrap_err().to_string();
        assert!(e.contains("window"), "{e}");
        let method = format!("{MINIMAL}\n[preprocessing]\nmethod = \"histogram\"");
        let e = Manifest::parse(&method, "m.toml").unwrap_err().to_string();
        assert!(e.contains("histogram"), "{e}");
    }

    #[test]
    fn globs() {
        assert!(glob_match("*portal*", "CT Portal Venous 3mm"));
        assert!(glob_match("T?W", "t1w"));
        assert!(!glob_match("T?W", "t12w"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("abd*", "chest abdomen"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
    }
}
