//! The `diagnostics_*` entries of PyRadiomics (`generalinfo.py`), in its order and text forms.
//!
//! The `Versions_*` entries (PyRadiomics, Numpy, SimpleITK, PyWavelet, Python) all report
//! voxide's own version, `voxide <version>`: none of those programs is involved.
//!
//! Tuples of floats print their elements plainly (`(186.98549673676578, ...)`) as PyRadiomics
//! did with NumPy 1 (and as the reference baselines show); PyRadiomics 3.1.4 under NumPy 2
//! would wrap the `CenterOfMassIndex` elements in `np.float64(...)`.

use voxide_core::Geometry;

use super::itk;
use super::pipeline::{min_max, pairwise_sum, WorkImage, WorkMask};
use super::settings::PyRadiomicsParams;
use super::value::{py_float_tuple, py_int_tuple, py_str, PyValue};
use crate::pyradiomics::itk::VoxelSource;

/// What the `Versions_*` entries report.
pub const VERSION: &str = concat!("voxide ", env!("CARGO_PKG_VERSION"));

const PREFIX: &str = "diagnostics_";

fn push(out: &mut Vec<(String, PyValue)>, key: &str, value: PyValue) {
    out.push((format!("{PREFIX}{key}"), value));
}

/// Versions, `Configuration_Settings` (with the label actually used) and
/// `Configuration_EnabledImageTypes`.
pub(crate) fn header(out: &mut Vec<(String, PyValue)>, params: &PyRadiomicsParams, label: u32) {
    for key in ["PyRadiomics", "Numpy", "SimpleITK", "PyWavelet", "Python"] {
        push(
            out,
            &format!("Versions_{key}"),
            PyValue::Text(VERSION.into()),
        );
    }
    let settings: Vec<String> = params
        .settings()
        .iter()
        .map(|(k, v)| {
            let v = if k == "label" {
                label.to_string()
            } else {
                v.python_repr()
            };
            format!("{}: {}", py_str(k), v)
        })
        .collect();
    push(
        out,
        "Configuration_Settings",
        PyValue::Text(format!("{{{}}}", settings.join(", "))),
    );
    let types: Vec<String> = params
        .image_types()
        .iter()
        .map(|(t, custom)| {
            let c: Vec<String> = custom
                .iter()
                .map(|(k, v)| format!("{}: {}", py_str(k), v.python_repr()))
                .collect();
            format!("{}: {{{}}}", py_str(t), c.join(", "))
        })
        .collect();
    push(
        out,
        "Configuration_EnabledImageTypes",
        PyValue::Text(format!("{{{}}}", types.join(", "))),
    );
}

/// `Image-original_*`: hash, dimensionality, spacing, size, mean, minimum, maximum.
pub(crate) fn image_original(
    out: &mut Vec<(String, PyValue)>,
    g: &Geometry,
    hash: String,
    (mean, min, max): (f64, f64, f64),
) {
    push(out, "Image-original_Hash", PyValue::Text(hash));
    push(
        out,
        "Image-original_Dimensionality",
        PyValue::Text("3D".into()),
    );
    push(
        out,
        "Image-original_Spacing",
        PyValue::Text(py_float_tuple(&g.spacing())),
    );
    push(
        out,
        "Image-original_Size",
        PyValue::Text(py_int_tuple(g.size().map(|v| v as i64))),
    );
    push(out, "Image-original_Mean", PyValue::Float(mean));
    push(out, "Image-original_Minimum", PyValue::Float(min));
    push(out, "Image-original_Maximum", PyValue::Float(max));
}

/// `Image-interpolated_*`: spacing, size, mean, minimum, maximum of the resampled image.
pub(crate) fn image_interpolated(out: &mut Vec<(String, PyValue)>, image: &WorkImage) {
    let g = &image.grid;
    let (mean, min, max) = image.stats();
    push(
        out,
        "Image-interpolated_Spacing",
        PyValue::Text(py_float_tuple(&g.spacing())),
    );
    push(
        out,
        "Image-interpolated_Size",
        PyValue::Text(py_int_tuple(g.size().map(|v| v as i64))),
    );
    push(out, "Image-interpolated_Mean", PyValue::Float(mean));
    push(out, "Image-interpolated_Minimum", PyValue::Float(min));
    push(out, "Image-interpolated_Maximum", PyValue::Float(max));
}

/// `Mask-<prefix>_*`: (hash,) spacing, size, bounding box, voxel and volume counts, centre of
/// mass, and with an image the mean, minimum and maximum inside the ROI.
pub(crate) fn mask(
    out: &mut Vec<(String, PyValue)>,
    prefix: &str,
    mask: &WorkMask,
    image: Option<&WorkImage>,
    hash: Option<String>,
) {
    let key = |k: &str| format!("Mask-{prefix}_{k}");
    if let Some(h) = hash {
        push(out, &key("Hash"), PyValue::Text(h));
    }
    let g = &mask.grid;
    push(
        out,
        &key("Spacing"),
        PyValue::Text(py_float_tuple(&g.spacing())),
    );
    push(
        out,
        &key("Size"),
        PyValue::Text(py_int_tuple(g.size().map(|v| v as i64))),
    );
    let Some(bb) = mask.bbox() else {
        return;
    };
    let size = bb.size();
    push(
        out,
        &key("BoundingBox"),
        PyValue::Text(py_int_tuple(
            bb.lo.iter().chain(size.iter()).map(|&v| v as i64),
        )),
    );
    push(out, &key("VoxelNum"), PyValue::Int(bb.count as i64));
    let roi = mask.window(bb.lo, size);
    push(
        out,
        &key("VolumeNum"),
        PyValue::Int(itk::count_components(&roi) as i64),
    );
    let mut sums = [0.0f64; 3];
    for ((k, j, i), &m) in roi.indexed_iter() {
        if m {
            sums[0] += (bb.lo[0] + i) as f64;
            sums[1] += (bb.lo[1] + j) as f64;
            sums[2] += (bb.lo[2] + k) as f64;
        }
    }
    let com = sums.map(|s| s / bb.count as f64);
    push(
        out,
        &key("CenterOfMassIndex"),
        PyValue::Text(py_float_tuple(&com)),
    );
    push(
        out,
        &key("CenterOfMass"),
        PyValue::Text(py_float_tuple(&itk::to_physical(g, com))),
    );
    if let Some(image) = image {
        let values = image.region(bb.lo, size);
        let inside: Vec<f64> = values
            .iter()
            .zip(roi.iter())
            .filter_map(|(&v, &m)| m.then_some(v))
            .collect();
        let (min, max) = min_max(&inside);
        push(
            out,
            &key("Mean"),
            PyValue::Float(pairwise_sum(&inside) / inside.len() as f64),
        );
        push(out, &key("Minimum"), PyValue::Float(min));
        push(out, &key("Maximum"), PyValue::Float(max));
    }
}
