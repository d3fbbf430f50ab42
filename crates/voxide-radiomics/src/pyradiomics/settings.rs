//! PyRadiomics parameter files: parsing, validation (as PyRadiomics' `paramSchema.yaml` and its
//! checker functions), defaults, and the typed view the pipeline uses.
//!
//! A parameter file is a YAML (or JSON, a subset of YAML) mapping with the keys `setting`,
//! `voxelSetting`, `imageType` and `featureClass`. [`PyRadiomicsParams::from_yaml`] checks
//! everything PyRadiomics' schema checks: unknown keys, value types and ranges, feature class
//! and feature names, image type names. voxide computes the `Original` image type only; a file
//! asking for a filtered image type (LoG, Wavelet, ...) is refused with an error naming it.
//!
//! YAML is read with the YAML 1.2 core schema (`yes`/`no` are strings, `true`/`false` booleans).

use yaml_rust2::{Yaml, YamlLoader};

use super::value::{py_float, py_str};
use crate::RadiomicsError;

/// A setting value as Python holds it after loading the parameter file: ints and floats stay
/// distinct (`binWidth: 25` and `binWidth: 25.0` discretise differently on integer images,
/// following NumPy's type rules), an empty value is `None`.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingValue {
    /// Python `None` (an empty value in YAML, `null` in JSON).
    None,
    /// A bool.
    Bool(bool),
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A list.
    List(Vec<SettingValue>),
}

impl SettingValue {
    /// Python's `repr()` of the value, as it appears in `diagnostics_Configuration_Settings`.
    pub fn python_repr(&self) -> String {
        match self {
            SettingValue::None => "None".into(),
            SettingValue::Bool(true) => "True".into(),
            SettingValue::Bool(false) => "False".into(),
            SettingValue::Int(v) => v.to_string(),
            SettingValue::Float(v) => py_float(*v),
            SettingValue::Str(s) => py_str(s),
            SettingValue::List(items) => {
                let parts: Vec<String> = items.iter().map(|v| v.python_repr()).collect();
                format!("[{}]", parts.join(", "))
            }
        }
    }

    fn number(&self) -> Option<Number> {
        match self {
            SettingValue::Int(v) => Some(Number::Int(*v)),
            SettingValue::Float(v) => Some(Number::Float(*v)),
            _ => None,
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            SettingValue::None => "None",
            SettingValue::Bool(_) => "bool",
            SettingValue::Int(_) => "int",
            SettingValue::Float(_) => "float",
            SettingValue::Str(_) => "str",
            SettingValue::List(_) => "list",
        }
    }
}

/// A number that remembers whether Python held it as an int or a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A Python int.
    Int(i64),
    /// A Python float.
    Float(f64),
}

impl Number {
    /// The value as a double.
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(v) => v as f64,
            Number::Float(v) => v,
        }
    }
}

/// The feature classes of PyRadiomics, in the order PyRadiomics enumerates them.
pub const FEATURE_CLASSES: [&str; 8] = [
    "firstorder",
    "glcm",
    "gldm",
    "glrlm",
    "glszm",
    "ngtdm",
    "shape",
    "shape2D",
];

/// The image types PyRadiomics knows (`get<Type>Image` functions).
pub const IMAGE_TYPES: [&str; 10] = [
    "Exponential",
    "Gradient",
    "LBP2D",
    "LBP3D",
    "LoG",
    "Logarithm",
    "Original",
    "Square",
    "SquareRoot",
    "Wavelet",
];

/// The interpolator names PyRadiomics' schema accepts.
pub const INTERPOLATORS: [&str; 10] = [
    "sitkNearestNeighbor",
    "sitkLinear",
    "sitkBSpline",
    "sitkGaussian",
    "sitkLabelGaussian",
    "sitkHammingWindowedSinc",
    "sitkCosineWindowedSinc",
    "sitkWelchWindowedSinc",
    "sitkLanczosWindowedSinc",
    "sitkBlackmanWindowedSinc",
];

/// The features of a class with their deprecation flag, in PyRadiomics' order (sorted by the
/// name of the `get<Name>FeatureValue` method, so `MeanAbsoluteDeviation` precedes `Mean`).
pub fn class_features(class: &str) -> Option<&'static [(&'static str, bool)]> {
    // The texture classes keep their lists next to their formulas.
    if let Some(features) = super::texture::feature_names(class) {
        return Some(features);
    }
    Some(match class {
        "firstorder" => &[
            ("10Percentile", false),
            ("90Percentile", false),
            ("Energy", false),
            ("Entropy", false),
            ("InterquartileRange", false),
            ("Kurtosis", false),
            ("Maximum", false),
            ("MeanAbsoluteDeviation", false),
            ("Mean", false),
            ("Median", false),
            ("Minimum", false),
            ("Range", false),
            ("RobustMeanAbsoluteDeviation", false),
            ("RootMeanSquared", false),
            ("Skewness", false),
            ("StandardDeviation", true),
            ("TotalEnergy", false),
            ("Uniformity", false),
            ("Variance", false),
        ],
        "shape" => &[
            ("Compactness1", true),
            ("Compactness2", true),
            ("Elongation", false),
            ("Flatness", false),
            ("LeastAxisLength", false),
            ("MajorAxisLength", false),
            ("Maximum2DDiameterColumn", false),
            ("Maximum2DDiameterRow", false),
            ("Maximum2DDiameterSlice", false),
            ("Maximum3DDiameter", false),
            ("MeshVolume", false),
            ("MinorAxisLength", false),
            ("SphericalDisproportion", true),
            ("Sphericity", false),
            ("SurfaceArea", false),
            ("SurfaceVolumeRatio", false),
            ("VoxelVolume", false),
        ],
        "shape2D" => &[
            ("Elongation", false),
            ("MajorAxisLength", false),
            ("MaximumDiameter", false),
            ("MeshSurface", false),
            ("MinorAxisLength", false),
            ("Perimeter", false),
            ("PerimeterSurfaceRatio", false),
            ("PixelSurface", false),
            ("SphericalDisproportion", true),
            ("Sphericity", false),
        ],
        _ => return None,
    })
}

/// The type and range rule of one setting, from PyRadiomics' `paramSchema.yaml`.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Bool,
    /// int with optional minimum (`exclusive` flag) and inclusive maximum.
    Int {
        min: Option<(i64, bool)>,
        max: Option<i64>,
    },
    /// float (ints accepted) with optional minimum (`exclusive` flag).
    Float {
        min: Option<(f64, bool)>,
    },
    /// one string of a list.
    Enum(&'static [&'static str]),
    /// any string.
    Str,
    /// a list of floats (ints accepted) with optional minimum.
    FloatSeq {
        min: Option<(f64, bool)>,
    },
    /// a list of ints with optional minimum.
    IntSeq {
        min: Option<(i64, bool)>,
    },
    /// an interpolator name, or an int 1..=10.
    Interpolator,
    /// a GLCM/GLRLM weighting norm name.
    Weighting,
}

const SETTING_RULES: &[(&str, Rule)] = &[
    (
        "minimumROIDimensions",
        Rule::Int {
            min: Some((1, false)),
            max: Some(3),
        },
    ),
    (
        "minimumROISize",
        Rule::Int {
            min: Some((0, true)),
            max: None,
        },
    ),
    (
        "geometryTolerance",
        Rule::Float {
            min: Some((0.0, true)),
        },
    ),
    ("correctMask", Rule::Bool),
    ("additionalInfo", Rule::Bool),
    (
        "label",
        Rule::Int {
            min: Some((0, true)),
            max: None,
        },
    ),
    (
        "label_channel",
        Rule::Int {
            min: Some((0, false)),
            max: None,
        },
    ),
    (
        "binWidth",
        Rule::Float {
            min: Some((0.0, true)),
        },
    ),
    (
        "binCount",
        Rule::Int {
            min: Some((0, true)),
            max: None,
        },
    ),
    ("normalize", Rule::Bool),
    (
        "normalizeScale",
        Rule::Float {
            min: Some((0.0, true)),
        },
    ),
    (
        "removeOutliers",
        Rule::Float {
            min: Some((0.0, true)),
        },
    ),
    (
        "resampledPixelSpacing",
        Rule::FloatSeq {
            min: Some((0.0, false)),
        },
    ),
    ("interpolator", Rule::Interpolator),
    (
        "padDistance",
        Rule::Int {
            min: Some((0, false)),
            max: None,
        },
    ),
    (
        "distances",
        Rule::IntSeq {
            min: Some((0, true)),
        },
    ),
    ("force2D", Rule::Bool),
    (
        "force2Ddimension",
        Rule::Int {
            min: Some((0, false)),
            max: Some(2),
        },
    ),
    ("resegmentRange", Rule::FloatSeq { min: None }),
    (
        "resegmentMode",
        Rule::Enum(&["absolute", "relative", "sigma"]),
    ),
    ("resegmentShape", Rule::Bool),
    ("preCrop", Rule::Bool),
    (
        "sigma",
        Rule::FloatSeq {
            min: Some((0.0, true)),
        },
    ),
    (
        "start_level",
        Rule::Int {
            min: Some((0, false)),
            max: None,
        },
    ),
    (
        "level",
        Rule::Int {
            min: Some((0, true)),
            max: None,
        },
    ),
    ("wavelet", Rule::Str),
    ("gradientUseSpacing", Rule::Bool),
    (
        "lbp2DRadius",
        Rule::Float {
            min: Some((0.0, true)),
        },
    ),
    (
        "lbp2DSamples",
        Rule::Int {
            min: Some((1, false)),
            max: None,
        },
    ),
    (
        "lbp2DMethod",
        Rule::Enum(&["default", "ror", "uniform", "var"]),
    ),
    (
        "lbp3DLevels",
        Rule::Int {
            min: Some((1, false)),
            max: None,
        },
    ),
    (
        "lbp3DIcosphereRadius",
        Rule::Float {
            min: Some((0.0, true)),
        },
    ),
    (
        "lbp3DIcosphereSubdivision",
        Rule::Int {
            min: Some((0, false)),
            max: None,
        },
    ),
    (
        "voxelArrayShift",
        Rule::Int {
            min: None,
            max: None,
        },
    ),
    ("symmetricalGLCM", Rule::Bool),
    ("weightingNorm", Rule::Weighting),
    (
        "gldm_a",
        Rule::Int {
            min: Some((0, false)),
            max: None,
        },
    ),
];

const VOXEL_SETTING_RULES: &[(&str, Rule)] = &[
    (
        "kernelRadius",
        Rule::Int {
            min: Some((0, true)),
            max: None,
        },
    ),
    ("maskedKernel", Rule::Bool),
    ("initValue", Rule::Float { min: None }),
    (
        "voxelBatch",
        Rule::Int {
            min: Some((0, true)),
            max: None,
        },
    ),
];

fn invalid(msg: impl Into<String>) -> RadiomicsError {
    RadiomicsError::InvalidSetting(msg.into())
}

/// Checks a float-typed value: a float, an int, or (as pykwalify allows) a string Python's
/// `float()` reads; a string is converted to the float.
fn check_float(
    key: &str,
    v: &SettingValue,
    min: Option<(f64, bool)>,
) -> Result<SettingValue, String> {
    let value = match v {
        SettingValue::Int(_) | SettingValue::Float(_) => v.clone(),
        SettingValue::Str(s) => match s.trim().parse::<f64>() {
            Ok(f) => SettingValue::Float(f),
            Err(_) => {
                return Err(format!(
                    "'{key}' must be a float, got the string {}",
                    py_str(s)
                ))
            }
        },
        other => {
            return Err(format!(
                "'{key}' must be a float, got {} {}",
                other.type_name(),
                other.python_repr()
            ))
        }
    };
    let x = value.number().map(Number::as_f64).unwrap_or(f64::NAN);
    if let Some((m, exclusive)) = min {
        if (exclusive && x <= m) || (!exclusive && x < m) {
            let op = if exclusive { ">" } else { ">=" };
            return Err(format!(
                "'{key}' must be {op} {m}, got {}",
                value.python_repr()
            ));
        }
    }
    Ok(value)
}

fn check_int(
    key: &str,
    v: &SettingValue,
    min: Option<(i64, bool)>,
    max: Option<i64>,
) -> Result<(), String> {
    let SettingValue::Int(x) = v else {
        return Err(format!(
            "'{key}' must be an int, got {} {}",
            v.type_name(),
            v.python_repr()
        ));
    };
    if let Some((m, exclusive)) = min {
        if (exclusive && *x <= m) || (!exclusive && *x < m) {
            let op = if exclusive { ">" } else { ">=" };
            return Err(format!("'{key}' must be {op} {m}, got {x}"));
        }
    }
    if let Some(m) = max {
        if *x > m {
            return Err(format!("'{key}' must be <= {m}, got {x}"));
        }
    }
    Ok(())
}

/// Validates one setting against its rule; returns the value to store (float-typed strings
/// become floats). `None` passes every rule, as in PyRadiomics' schema.
fn check_setting(
    key: &str,
    value: &SettingValue,
    rules: &[(&str, Rule)],
) -> Result<SettingValue, String> {
    let Some(rule) = rules.iter().find(|(k, _)| *k == key).map(|(_, r)| *r) else {
        let known: Vec<&str> = rules.iter().map(|(k, _)| *k).collect();
        return Err(format!(
            "unknown setting '{key}'; PyRadiomics settings are: {}",
            known.join(", ")
        ));
    };
    if *value == SettingValue::None {
        return Ok(SettingValue::None);
    }
    match rule {
        Rule::Bool => match value {
            SettingValue::Bool(_) => Ok(value.clone()),
            other => Err(format!(
                "'{key}' must be a bool (true/false), got {} {}",
                other.type_name(),
                other.python_repr()
            )),
        },
        Rule::Int { min, max } => check_int(key, value, min, max).map(|_| value.clone()),
        Rule::Float { min } => check_float(key, value, min),
        Rule::Enum(options) => match value {
            SettingValue::Str(s) if options.contains(&s.as_str()) => Ok(value.clone()),
            other => Err(format!(
                "'{key}' must be one of {}, got {}",
                options.join(", "),
                other.python_repr()
            )),
        },
        Rule::Str => match value {
            SettingValue::Str(_) => Ok(value.clone()),
            other => Err(format!("'{key}' must be a string, got {}", other.python_repr())),
        },
        Rule::FloatSeq { min } => {
            let SettingValue::List(items) = value else {
                return Err(format!(
                    "'{key}' must be a list of numbers, got {}",
                    value.python_repr()
                ));
            };
            let items = items
                .iter()
                .map(|v| check_float(key, v, min))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(SettingValue::List(items))
        }
        Rule::IntSeq { min } => {
            let SettingValue::List(items) = value else {
                return Err(format!(
                    "'{key}' must be a list of ints, got {}",
                    value.python_repr()
                ));
            };
            for v in items {
                check_int(key, v, min, None)?;
            }
            Ok(value.clone())
        }
        Rule::Interpolator => match value {
            SettingValue::Str(s) if INTERPOLATORS.contains(&s.as_str()) => Ok(value.clone()),
            SettingValue::Str(s) => Err(format!(
                "interpolator {} is not valid; possible values: {}",
                py_str(s),
                INTERPOLATORS.join(", ")
            )),
            SettingValue::Int(i) if (1..=10).contains(i) => Ok(value.clone()),
            SettingValue::Int(i) => Err(format!("interpolator {i} must be in the range 1..=10")),
            other => Err(format!(
                "interpolator must be a string or an int, got {}",
                other.python_repr()
            )),
        },
        Rule::Weighting => match value {
            SettingValue::Str(s)
                if ["euclidean", "manhattan", "infinity", "no_weighting"].contains(&s.as_str()) =>
            {
                Ok(value.clone())
            }
            other => Err(format!(
                "weightingNorm must be one of euclidean, manhattan, infinity, no_weighting or empty, got {}",
                other.python_repr()
            )),
        },
    }
}

/// An ordered Python dict of settings (insertion order is kept, as in Python 3.7+).
pub type SettingsDict = Vec<(String, SettingValue)>;

/// Enabled feature classes in order, each with its explicit feature list (`None`: all
/// non-deprecated features of the class).
pub type FeatureClasses = Vec<(String, Option<Vec<String>>)>;

fn dict_set(dict: &mut SettingsDict, key: &str, value: SettingValue) {
    if let Some(slot) = dict.iter_mut().find(|(k, _)| k == key) {
        slot.1 = value;
    } else {
        dict.push((key.to_string(), value));
    }
}

fn dict_get<'a>(dict: &'a SettingsDict, key: &str) -> Option<&'a SettingValue> {
    dict.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// The settings dict of `RadiomicsFeatureExtractor._getDefaultSettings()`, in its order.
pub fn default_settings() -> SettingsDict {
    use SettingValue as V;
    vec![
        ("minimumROIDimensions".into(), V::Int(2)),
        ("minimumROISize".into(), V::None),
        ("normalize".into(), V::Bool(false)),
        ("normalizeScale".into(), V::Int(1)),
        ("removeOutliers".into(), V::None),
        ("resampledPixelSpacing".into(), V::None),
        ("interpolator".into(), V::Str("sitkBSpline".into())),
        ("preCrop".into(), V::Bool(false)),
        ("padDistance".into(), V::Int(5)),
        ("distances".into(), V::List(vec![V::Int(1)])),
        ("force2D".into(), V::Bool(false)),
        ("force2Ddimension".into(), V::Int(0)),
        ("resegmentRange".into(), V::None),
        ("label".into(), V::Int(1)),
        ("additionalInfo".into(), V::Bool(true)),
    ]
}

/// A PyRadiomics extraction configuration: what `RadiomicsFeatureExtractor` holds after reading
/// a parameter file (or its defaults) and applying setting overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct PyRadiomicsParams {
    /// The settings dict (defaults first, then keys added by the file in file order).
    settings: SettingsDict,
    /// Enabled image types with their custom settings (only `Original` is supported).
    image_types: Vec<(String, SettingsDict)>,
    /// Enabled feature classes in order; `None` enables every non-deprecated feature.
    feature_classes: FeatureClasses,
}

impl Default for PyRadiomicsParams {
    /// PyRadiomics' defaults without a parameter file: default settings, the `Original` image,
    /// every feature class except `shape2D` with all non-deprecated features.
    fn default() -> Self {
        PyRadiomicsParams {
            settings: default_settings(),
            image_types: vec![("Original".into(), Vec::new())],
            feature_classes: FEATURE_CLASSES
                .iter()
                .filter(|c| **c != "shape2D")
                .map(|c| (c.to_string(), None))
                .collect(),
        }
    }
}

fn yaml_to_value(y: &Yaml, path: &str) -> Result<SettingValue, RadiomicsError> {
    Ok(match y {
        Yaml::Null => SettingValue::None,
        Yaml::Boolean(b) => SettingValue::Bool(*b),
        Yaml::Integer(i) => SettingValue::Int(*i),
        Yaml::Real(s) => SettingValue::Float(
            y.as_f64()
                .ok_or_else(|| invalid(format!("{path}: cannot read {s} as a float")))?,
        ),
        Yaml::String(s) => SettingValue::Str(s.clone()),
        Yaml::Array(items) => SettingValue::List(
            items
                .iter()
                .map(|v| yaml_to_value(v, path))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(_) => {
            return Err(invalid(format!(
                "{path}: a setting value cannot be a mapping"
            )))
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err(invalid(format!("{path}: unreadable value")));
        }
    })
}

fn yaml_key(k: &Yaml, path: &str) -> Result<String, RadiomicsError> {
    match k {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Integer(i) => Ok(i.to_string()),
        Yaml::Boolean(b) => Ok(b.to_string()),
        Yaml::Real(r) => Ok(r.clone()),
        _ => Err(invalid(format!("{path}: keys must be strings"))),
    }
}

/// Reads a mapping of settings (`setting:`, `voxelSetting:` or an image type's custom settings).
fn read_settings(
    y: &Yaml,
    path: &str,
    rules: &[(&str, Rule)],
) -> Result<SettingsDict, RadiomicsError> {
    match y {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Hash(map) => {
            let mut out = Vec::new();
            for (k, v) in map {
                let key = yaml_key(k, path)?;
                let value = yaml_to_value(v, &format!("{path}.{key}"))?;
                let value = check_setting(&key, &value, rules)
                    .map_err(|e| invalid(format!("{path}: {e}")))?;
                dict_set(&mut out, &key, value);
            }
            Ok(out)
        }
        _ => Err(invalid(format!(
            "{path} must be a mapping of setting names to values"
        ))),
    }
}

impl PyRadiomicsParams {
    /// Reads a parameter file's text, YAML or JSON.
    pub fn from_yaml(text: &str) -> Result<Self, RadiomicsError> {
        let docs = YamlLoader::load_from_str(text)
            .map_err(|e| invalid(format!("the parameter file is not valid YAML/JSON: {e}")))?;
        let doc = match docs.as_slice() {
            [] | [Yaml::Null] => {
                return Err(invalid("the parameter file is empty: expected a mapping with keys setting, imageType and/or featureClass"))
            }
            [doc] => doc,
            _ => return Err(invalid("the parameter file holds several YAML documents; expected one")),
        };
        let Yaml::Hash(top) = doc else {
            return Err(invalid(
                "the parameter file must be a mapping with keys setting, voxelSetting, imageType and/or featureClass",
            ));
        };
        let mut settings_in = Vec::new();
        let mut voxel_in = Vec::new();
        let mut image_types: Option<Vec<(String, SettingsDict)>> = None;
        let mut feature_classes: Option<FeatureClasses> = None;
        for (k, v) in top {
            let key = yaml_key(k, "parameter file")?;
            match key.as_str() {
                "setting" => settings_in = read_settings(v, "setting", SETTING_RULES)?,
                "voxelSetting" => voxel_in = read_settings(v, "voxelSetting", VOXEL_SETTING_RULES)?,
                "imageType" => image_types = Some(read_image_types(v)?),
                "featureClass" => feature_classes = Some(read_feature_classes(v)?),
                other => {
                    return Err(invalid(format!(
                        "unknown key '{other}' in the parameter file; allowed keys: setting, voxelSetting, imageType, featureClass"
                    )))
                }
            }
        }
        let image_types = match image_types {
            Some(t) if !t.is_empty() => t,
            _ => vec![("Original".into(), Vec::new())],
        };
        let filters: Vec<&str> = image_types
            .iter()
            .map(|(t, _)| t.as_str())
            .filter(|t| *t != "Original")
            .collect();
        if !filters.is_empty() {
            return Err(invalid(format!(
                "image type{} {} requested, but voxide's PyRadiomics mode computes the Original image type only; filtered image types (LoG, Wavelet, Square, SquareRoot, Logarithm, Exponential, Gradient, LBP2D, LBP3D) come later",
                if filters.len() > 1 { "s" } else { "" },
                filters.join(", ")
            )));
        }
        let feature_classes = match feature_classes {
            Some(f) if !f.is_empty() => f,
            _ => FEATURE_CLASSES
                .iter()
                .map(|c| (c.to_string(), None))
                .collect(),
        };
        let mut settings = default_settings();
        for (k, v) in settings_in.into_iter().chain(voxel_in) {
            dict_set(&mut settings, &k, v);
        }
        let params = PyRadiomicsParams {
            settings,
            image_types,
            feature_classes,
        };
        params.resolve(None)?;
        Ok(params)
    }

    /// Reads a JSON parameter text (JSON is read as YAML, of which it is a subset).
    pub fn from_json(text: &str) -> Result<Self, RadiomicsError> {
        Self::from_yaml(text)
    }

    /// Overrides one setting, as `RadiomicsFeatureExtractor(**kwargs)` or the command line's
    /// `--setting NAME:VALUE` do (validated against the schema).
    pub fn set(&mut self, key: &str, value: SettingValue) -> Result<(), RadiomicsError> {
        let rules = if VOXEL_SETTING_RULES.iter().any(|(k, _)| *k == key) {
            VOXEL_SETTING_RULES
        } else {
            SETTING_RULES
        };
        let value = check_setting(key, &value, rules).map_err(invalid)?;
        let mut next = self.settings.clone();
        dict_set(&mut next, key, value);
        let candidate = PyRadiomicsParams {
            settings: next,
            ..self.clone()
        };
        candidate.resolve(None)?;
        *self = candidate;
        Ok(())
    }

    /// The settings dict in its order (what `diagnostics_Configuration_Settings` prints).
    pub fn settings(&self) -> &[(String, SettingValue)] {
        &self.settings
    }

    /// The enabled image types with their custom settings.
    pub fn image_types(&self) -> &[(String, SettingsDict)] {
        &self.image_types
    }

    /// The enabled feature classes in order, each with its explicit feature list (`None`: all
    /// non-deprecated features).
    pub fn feature_classes(&self) -> &[(String, Option<Vec<String>>)] {
        &self.feature_classes
    }

    /// Enables exactly these feature classes (`None` for all features of a class), in order,
    /// as the parameter file's `featureClass` does.
    pub fn set_feature_classes(&mut self, classes: FeatureClasses) -> Result<(), RadiomicsError> {
        for (class, features) in &classes {
            check_class(class, features.as_deref())?;
        }
        self.feature_classes = classes;
        Ok(())
    }

    /// The features of `class` in the order PyRadiomics computes them, or `None` when the
    /// class is not enabled. Duplicates in an explicit list count once (first position).
    pub fn enabled_features(&self, class: &str) -> Option<Vec<&'static str>> {
        let (_, list) = self.feature_classes.iter().find(|(c, _)| c == class)?;
        let all = class_features(class)?;
        Some(match list {
            None => all
                .iter()
                .filter(|(_, dep)| !dep)
                .map(|(n, _)| *n)
                .collect(),
            Some(names) if names.is_empty() => all
                .iter()
                .filter(|(_, dep)| !dep)
                .map(|(n, _)| *n)
                .collect(),
            Some(names) => {
                let mut out: Vec<&'static str> = Vec::new();
                for n in names {
                    if let Some((name, _)) = all.iter().find(|(f, _)| f == n) {
                        if !out.contains(name) {
                            out.push(name);
                        }
                    }
                }
                out
            }
        })
    }

    /// The typed settings, with `label` replaced by `label_override` when given (as
    /// `execute(label=...)` does).
    pub(crate) fn resolve(&self, label_override: Option<u32>) -> Result<Resolved, RadiomicsError> {
        let mut dict = self.settings.clone();
        if let Some(l) = label_override {
            if l == 0 {
                return Err(invalid("label must be > 0"));
            }
            dict_set(&mut dict, "label", SettingValue::Int(l as i64));
        }
        let class_dict = {
            let mut d = dict.clone();
            if let Some((_, custom)) = self.image_types.iter().find(|(t, _)| t == "Original") {
                for (k, v) in custom {
                    dict_set(&mut d, k, v.clone());
                }
            }
            d
        };
        Ok(Resolved {
            minimum_roi_dimensions: req_int(&dict, "minimumROIDimensions", 2)?,
            minimum_roi_size: opt_int(&dict, "minimumROISize"),
            normalize: flag(&dict, "normalize", false),
            normalize_scale: req_num(&dict, "normalizeScale", Number::Int(1))?.as_f64(),
            remove_outliers: opt_num(&dict, "removeOutliers").map(Number::as_f64),
            resampled_pixel_spacing: match dict_get(&dict, "resampledPixelSpacing") {
                Some(SettingValue::List(items)) => Some(
                    items
                        .iter()
                        .map(|v| v.number().map(Number::as_f64).unwrap_or(f64::NAN))
                        .collect(),
                ),
                _ => None,
            },
            interpolator: match dict_get(&dict, "interpolator") {
                None => Some(Interpolator::BSpline),
                Some(SettingValue::None) => None,
                Some(v) => Some(Interpolator::from_setting(v)),
            },
            pre_crop: flag(&dict, "preCrop", false),
            pad_distance: req_int(&dict, "padDistance", 5)?,
            label: {
                let l = req_int(&dict, "label", 1)?;
                u32::try_from(l)
                    .ok()
                    .filter(|l| *l > 0)
                    .ok_or_else(|| invalid(format!("label must be in 1..=4294967295, got {l}")))?
            },
            label_channel: req_int(&dict, "label_channel", 0)?,
            additional_info: flag(&dict, "additionalInfo", false),
            resegment_range: match dict_get(&dict, "resegmentRange") {
                Some(SettingValue::List(items)) => {
                    Some(items.iter().filter_map(SettingValue::number).collect())
                }
                _ => None,
            },
            resegment_mode: match dict_get(&dict, "resegmentMode") {
                None => "absolute".to_string(),
                Some(SettingValue::Str(s)) => s.clone(),
                Some(other) => other.python_repr(),
            },
            resegment_shape: flag(&dict, "resegmentShape", false),
            correct_mask: flag(&dict, "correctMask", false),
            geometry_tolerance: opt_num(&dict, "geometryTolerance").map(Number::as_f64),
            classes: ClassSettings::from_dict(&class_dict)?,
            shape_force_2d: flag(&dict, "force2D", false),
            shape_force_2d_dimension: req_int(&dict, "force2Ddimension", 0)?,
        })
    }
}

fn check_class(class: &str, features: Option<&[String]>) -> Result<(), RadiomicsError> {
    let Some(all) = class_features(class) else {
        return Err(invalid(format!(
            "feature class '{class}' is not recognized; available feature classes are {}",
            FEATURE_CLASSES.join(", ")
        )));
    };
    if let Some(list) = features {
        let unknown: Vec<&str> = list
            .iter()
            .filter(|f| !all.iter().any(|(n, _)| n == f))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(invalid(format!(
                "feature class '{class}' contains unrecognized features: {}; its features are {}",
                unknown.join(", "),
                all.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(())
}

fn read_image_types(y: &Yaml) -> Result<Vec<(String, SettingsDict)>, RadiomicsError> {
    let Yaml::Hash(map) = y else {
        return Err(invalid(
            "imageType must be a mapping of image types to custom settings, e.g. 'Original: {}'",
        ));
    };
    let mut out = Vec::new();
    for (k, v) in map {
        let name = yaml_key(k, "imageType")?;
        if !IMAGE_TYPES.contains(&name.as_str()) {
            return Err(invalid(format!(
                "image type '{name}' is not recognized; available image types are {}",
                IMAGE_TYPES.join(", ")
            )));
        }
        if matches!(v, Yaml::Null) {
            return Err(invalid(format!(
                "imageType {name}: custom settings must be a mapping ('{name}: {{}}' for none), not empty"
            )));
        }
        let custom = read_settings(v, &format!("imageType.{name}"), SETTING_RULES)?;
        out.push((name, custom));
    }
    Ok(out)
}

fn read_feature_classes(y: &Yaml) -> Result<FeatureClasses, RadiomicsError> {
    let Yaml::Hash(map) = y else {
        return Err(invalid(
            "featureClass must be a mapping of feature classes to feature lists (or empty)",
        ));
    };
    let mut out: FeatureClasses = Vec::new();
    for (k, v) in map {
        let class = yaml_key(k, "featureClass")?;
        let features = match v {
            Yaml::Null => None,
            Yaml::Array(items) => Some(
                items
                    .iter()
                    .map(|f| match f {
                        Yaml::String(s) => Ok(s.clone()),
                        other => Err(invalid(format!(
                            "featureClass {class}: feature names must be strings, got {other:?}"
                        ))),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            _ => {
                return Err(invalid(format!(
                    "featureClass {class}: value must be a list of feature names or empty"
                )))
            }
        };
        check_class(&class, features.as_deref())?;
        if let Some(slot) = out.iter_mut().find(|(c, _)| *c == class) {
            slot.1 = features;
        } else {
            out.push((class, features));
        }
    }
    Ok(out)
}

fn flag(dict: &SettingsDict, key: &str, default: bool) -> bool {
    match dict_get(dict, key) {
        None => default,
        Some(SettingValue::Bool(b)) => *b,
        Some(SettingValue::None) => false,
        Some(SettingValue::Int(i)) => *i != 0,
        Some(SettingValue::Float(f)) => *f != 0.0,
        Some(SettingValue::Str(s)) => !s.is_empty(),
        Some(SettingValue::List(l)) => !l.is_empty(),
    }
}

fn req_int(dict: &SettingsDict, key: &str, default: i64) -> Result<i64, RadiomicsError> {
    match dict_get(dict, key) {
        None => Ok(default),
        Some(SettingValue::Int(i)) => Ok(*i),
        Some(other) => Err(invalid(format!(
            "setting '{key}' needs an int value, got {}",
            other.python_repr()
        ))),
    }
}

fn req_num(dict: &SettingsDict, key: &str, default: Number) -> Result<Number, RadiomicsError> {
    match dict_get(dict, key) {
        None => Ok(default),
        Some(v) => v.number().ok_or_else(|| {
            invalid(format!(
                "setting '{key}' needs a number, got {}",
                v.python_repr()
            ))
        }),
    }
}

fn opt_int(dict: &SettingsDict, key: &str) -> Option<i64> {
    match dict_get(dict, key) {
        Some(SettingValue::Int(i)) => Some(*i),
        _ => None,
    }
}

fn opt_num(dict: &SettingsDict, key: &str) -> Option<Number> {
    dict_get(dict, key).and_then(SettingValue::number)
}

/// An image interpolator of SimpleITK, as named by the `interpolator` setting.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Interpolator {
    /// `sitkNearestNeighbor` (1).
    Nearest,
    /// `sitkLinear` (2).
    Linear,
    /// `sitkBSpline` (cubic).
    BSpline,
    /// A SimpleITK interpolator voxide does not implement (name or number).
    Unsupported(String),
}

impl Interpolator {
    fn from_setting(v: &SettingValue) -> Interpolator {
        match v {
            SettingValue::Str(s) => match s.as_str() {
                "sitkNearestNeighbor" => Interpolator::Nearest,
                "sitkLinear" => Interpolator::Linear,
                "sitkBSpline" => Interpolator::BSpline,
                other => Interpolator::Unsupported(other.to_string()),
            },
            SettingValue::Int(1) => Interpolator::Nearest,
            SettingValue::Int(2) => Interpolator::Linear,
            other => Interpolator::Unsupported(other.python_repr()),
        }
    }
}

/// Settings read by the feature classes (after the image type's custom settings are merged).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClassSettings {
    pub bin_width: Number,
    pub bin_count: Option<i64>,
    pub voxel_array_shift: f64,
    pub distances: Vec<usize>,
    pub force_2d: bool,
    pub force_2d_dimension: usize,
    pub symmetrical_glcm: bool,
    pub weighting_norm: Option<String>,
    pub gldm_a: f64,
}

impl ClassSettings {
    fn from_dict(dict: &SettingsDict) -> Result<Self, RadiomicsError> {
        let bin_count = opt_int(dict, "binCount");
        let bin_width = if bin_count.is_some() {
            opt_num(dict, "binWidth").unwrap_or(Number::Int(25))
        } else {
            req_num(dict, "binWidth", Number::Int(25))?
        };
        let distances = match dict_get(dict, "distances") {
            None => vec![1],
            Some(SettingValue::List(items)) if !items.is_empty() => items
                .iter()
                .map(|v| match v {
                    SettingValue::Int(i) if *i >= 1 => Ok(*i as usize),
                    other => Err(invalid(format!(
                        "distances must be ints >= 1, got {}",
                        other.python_repr()
                    ))),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(invalid(format!(
                    "distances must be a non-empty list of ints, got {}",
                    other.python_repr()
                )))
            }
        };
        let force_2d_dimension = req_int(dict, "force2Ddimension", 0)?;
        if !(0..=2).contains(&force_2d_dimension) {
            return Err(invalid("force2Ddimension must be 0, 1 or 2"));
        }
        Ok(ClassSettings {
            bin_width,
            bin_count,
            voxel_array_shift: req_num(dict, "voxelArrayShift", Number::Int(0))?.as_f64(),
            distances,
            force_2d: flag(dict, "force2D", false),
            force_2d_dimension: force_2d_dimension as usize,
            symmetrical_glcm: flag(dict, "symmetricalGLCM", true),
            weighting_norm: match dict_get(dict, "weightingNorm") {
                Some(SettingValue::Str(s)) => Some(s.clone()),
                _ => None,
            },
            gldm_a: req_num(dict, "gldm_a", Number::Int(0))?.as_f64(),
        })
    }
}

/// The typed settings the pipeline reads, with PyRadiomics' defaults for absent keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    pub minimum_roi_dimensions: i64,
    pub minimum_roi_size: Option<i64>,
    pub normalize: bool,
    pub normalize_scale: f64,
    pub remove_outliers: Option<f64>,
    pub resampled_pixel_spacing: Option<Vec<f64>>,
    pub interpolator: Option<Interpolator>,
    pub pre_crop: bool,
    pub pad_distance: i64,
    pub label: u32,
    pub label_channel: i64,
    pub additional_info: bool,
    pub resegment_range: Option<Vec<Number>>,
    pub resegment_mode: String,
    pub resegment_shape: bool,
    pub correct_mask: bool,
    pub geometry_tolerance: Option<f64>,
    /// Settings of firstorder and the texture classes (image type settings merged).
    pub classes: ClassSettings,
    /// `force2D` / `force2Ddimension` as the shape classes see them (no image type merge).
    pub shape_force_2d: bool,
    pub shape_force_2d_dimension: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_pyradiomics() {
        let p = PyRadiomicsParams::default();
        let r = p.resolve(None).unwrap();
        assert_eq!(r.label, 1);
        assert_eq!(r.minimum_roi_dimensions, 2);
        assert_eq!(r.pad_distance, 5);
        assert_eq!(r.classes.bin_width, Number::Int(25));
        assert_eq!(r.classes.distances, vec![1]);
        assert!(r.classes.symmetrical_glcm);
        assert_eq!(r.interpolator, Some(Interpolator::BSpline));
        assert!(r.additional_info);
        assert!(p.enabled_features("shape2D").is_none());
        let fo = p.enabled_features("firstorder").unwrap();
        assert_eq!(fo.len(), 18);
        assert_eq!(fo[7], "MeanAbsoluteDeviation");
        assert_eq!(p.enabled_features("glcm").unwrap().len(), 24);
        assert_eq!(p.enabled_features("shape").unwrap().len(), 14);
    }

    #[test]
    fn file_settings_update_the_defaults_in_order() {
        let p = PyRadiomicsParams::from_yaml(
            "setting:\n  binWidth: 25.0\n  label: 2\n  resampledPixelSpacing:\nfeatureClass:\n  firstorder: [Mean, StandardDeviation, Mean]\n  shape:\n",
        )
        .unwrap();
        let keys: Vec<&str> = p.settings().iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys.last(), Some(&"binWidth"));
        assert_eq!(keys[13], "label");
        let r = p.resolve(None).unwrap();
        assert_eq!(r.classes.bin_width, Number::Float(25.0));
        assert_eq!(r.label, 2);
        assert_eq!(
            p.enabled_features("firstorder").unwrap(),
            vec!["Mean", "StandardDeviation"]
        );
        assert_eq!(p.feature_classes()[1].0, "shape");
        assert!(p.enabled_features("glcm").is_none());
    }

    #[test]
    fn json_reads_like_yaml() {
        let p = PyRadiomicsParams::from_json(
            r#"{"setting": {"binCount": 32, "normalize": true}, "featureClass": {"shape": null}}"#,
        )
        .unwrap();
        let r = p.resolve(None).unwrap();
        assert_eq!(r.classes.bin_count, Some(32));
        assert!(r.normalize);
    }

    #[test]
    fn schema_errors_are_clear() {
        let cases = [
            ("setting:\n  binwidth: 25\n", "unknown setting 'binwidth'"),
            ("setting:\n  label: 1.5\n", "'label' must be an int"),
            ("setting:\n  binWidth: 0\n", "'binWidth' must be > 0"),
            ("setting:\n  normalize: 1\n", "'normalize' must be a bool"),
            (
                "setting:\n  interpolator: cubic\n",
                "interpolator 'cubic' is not valid",
            ),
            (
                "setting:\n  resegmentMode: fancy\n",
                "'resegmentMode' must be one of",
            ),
            ("setting:\n  force2Ddimension: 3\n", "must be <= 2"),
            (
                "featureClass:\n  glcmm:\n",
                "feature class 'glcmm' is not recognized",
            ),
            (
                "featureClass:\n  glcm: [Contrast, Foo]\n",
                "unrecognized features: Foo",
            ),
            (
                "imageType:\n  Sobel: {}\n",
                "image type 'Sobel' is not recognized",
            ),
            (
                "imageType:\n  Original: {}\n  LoG: {sigma: [1.0]}\n",
                "image type LoG requested",
            ),
            ("settings:\n  binWidth: 25\n", "unknown key 'settings'"),
            ("", "empty"),
            ("setting: [1, 2\n", "not valid YAML"),
        ];
        for (text, want) in cases {
            let err = PyRadiomicsParams::from_yaml(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn settings_dict_prints_like_python() {
        let p = PyRadiomicsParams::default();
        let parts: Vec<String> = p
            .settings()
            .iter()
            .map(|(k, v)| format!("{}: {}", py_str(k), v.python_repr()))
            .collect();
        assert_eq!(
            format!("{{{}}}", parts.join(", ")),
            "{'minimumROIDimensions': 2, 'minimumROISize': None, 'normalize': False, 'normalizeScale': 1, 'removeOutliers': None, 'resampledPixelSpacing': None, 'interpolator': 'sitkBSpline', 'preCrop': False, 'padDistance': 5, 'distances': [1], 'force2D': False, 'force2Ddimension': 0, 'resegmentRange': None, 'label': 1, 'additionalInfo': True}"
        );
    }
}
