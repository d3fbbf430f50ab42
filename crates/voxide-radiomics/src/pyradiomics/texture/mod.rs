//! PyRadiomics 3.1.4 texture classes: GLCM, GLRLM, GLSZM, GLDM and NGTDM, reproducing
//! `pyradiomics-bhklab==3.1.4` (its C matrix builders in `cmatrices.c` and the numpy feature
//! code of `glcm.py`, `glrlm.py`, `glszm.py`, `gldm.py`, `ngtdm.py`) rather than IBSI.
//!
//! What differs from the IBSI families in [`crate::features`]:
//! - the neighbour offsets ("angles") come from PyRadiomics' `build_angles`: they depend on the
//!   size of the cropped array (an axis one voxel thick gets no offsets), on `force2D` (no
//!   offsets along `force2Ddimension`) and on `distances` (GLCM, GLDM, NGTDM; every offset of
//!   Chebyshev length in `distances`, not only the 13/26 unit directions);
//! - GLCM and GLRLM features are computed per angle and averaged with `nanmean` over the
//!   non-empty angles, unless `weightingNorm` merges the angles into one weighted matrix;
//! - grey-level vectors in the formulas are the discretised levels present in the ROI, and
//!   `Ng` (GLCM `Idmn`, `Idn`) is the largest level present;
//! - entropies use `log2(p + eps)`, `eps = 2.2e-16`, and several features have fixed values
//!   for flat regions (GLCM `Correlation = 1`, `MCC = 1`, NGTDM `Coarseness = 1e6`, ...);
//! - NGTDM counts every ROI voxel, also those without any ROI neighbour (`s` adds 0 for them);
//! - the GLRLM has `max(shape)` run-length columns, and an angle whose lines never hold two ROI
//!   voxels is emptied (and then dropped).
//!
//! Neighbours are only looked up inside the cropped array and inside the ROI, as the C code does.
//!
//! Agreement: `tests/pyradiomics_texture.rs` runs every texture column of PyRadiomics' baseline
//! tables (5 cases × 8 configurations, from the discretised ROIs PyRadiomics 3.1.4 feeds its
//! classes) and 22 small arrays under the settings the baselines leave out; all values agree
//! to ≤ 1.1e-12 relative. The only approximation is `MCC`'s eigenproblem (see
//! `glcm::mcc`): ~1e-12.
//!
//! Every class is single-threaded; matrices are indexed by the levels present (never by the
//! level values), and work row by row on flat C-order buffers.

mod angles;
mod columns;
mod eigen;
mod glcm;
mod gldm;
mod glrlm;
mod glszm;
mod ngtdm;

use std::borrow::Cow;

use ndarray::Array3;

use crate::RadiomicsError;

pub use angles::angles;

/// `numpy.spacing(1)`: the `eps` PyRadiomics adds inside logarithms and denominators.
pub(crate) const EPS: f64 = f64::EPSILON;

/// Largest number of cells a dense per-angle matrix may have (GLCM `Ngp²`, GLRLM
/// `Ngp × max(shape)`, GLDM `Ngp × (2 Na + 1)`): beyond it, [`compute`] refuses the input
/// instead of allocating gigabytes (PyRadiomics would allocate `Ng² × Na` doubles and fail).
pub(crate) const MAX_CELLS: usize = 1 << 24; // 128 MiB of f64

/// The input of a PyRadiomics texture class.
#[derive(Debug, Clone, Copy)]
pub struct TextureInput<'a> {
    /// Discretised bin indices as PyRadiomics' np.digitize gives them (1-based), 0 outside the
    /// (resegmented) mask, already cropped to the ROI bounding box as PyRadiomics crops.
    /// Shape (nk, nj, ni): axis 0 = slice (z), axis 2 = x (fastest).
    pub levels: &'a Array3<u32>,
    /// Voxel spacing [si, sj, sk] in mm (used by weightingNorm).
    pub spacing: [f64; 3],
    /// The PyRadiomics settings the texture classes read.
    pub settings: &'a TextureSettings,
}

/// The PyRadiomics settings read by the texture classes.
#[derive(Debug, Clone, PartialEq)]
pub struct TextureSettings {
    /// `distances` (default `[1]`): Chebyshev lengths of the neighbour offsets of GLCM, GLDM and
    /// NGTDM (GLRLM and GLSZM always use 1). A distance below 1 is an error for those classes.
    pub distances: Vec<usize>,
    /// `force2D` (default false): no offsets along `force_2d_dimension`.
    pub force_2d: bool,
    /// `force2Ddimension` (default 0): array axis excluded by `force_2d` (0 = z, 1 = y, 2 = x;
    /// larger values exclude nothing, as in PyRadiomics).
    pub force_2d_dimension: usize,
    /// `weightingNorm` (default none): `infinity`, `euclidean`, `manhattan` or `no_weighting`
    /// merge the GLCM / GLRLM angles into one matrix weighted by the offset's length in mm;
    /// any other name weights every angle by 1 (PyRadiomics logs a warning).
    pub weighting_norm: Option<String>,
    /// `symmetricalGLCM` (default true): add each angle's GLCM to its transpose.
    pub symmetrical_glcm: bool,
    /// `gldm_a` (default 0): a neighbour is dependent when its level differs by at most this.
    /// Must be an integer (PyRadiomics passes it to C as `int` and raises otherwise).
    pub gldm_a: f64,
}

impl Default for TextureSettings {
    /// PyRadiomics' defaults: `distances [1]`, no `force2D` (dimension 0), no `weightingNorm`,
    /// symmetrical GLCM, `gldm_a 0`.
    fn default() -> Self {
        TextureSettings {
            distances: vec![1],
            force_2d: false,
            force_2d_dimension: 0,
            weighting_norm: None,
            symmetrical_glcm: true,
            gldm_a: 0.0,
        }
    }
}

/// The texture classes [`compute`] knows, in PyRadiomics' default class order.
pub const CLASSES: [&str; 5] = ["glcm", "gldm", "glrlm", "glszm", "ngtdm"];

/// The feature names of a class as PyRadiomics' `getFeatureNames()` lists them (sorted by the
/// getter method's name), each with whether it is deprecated; `None` for an unknown class.
pub fn feature_names(class: &str) -> Option<&'static [(&'static str, bool)]> {
    match class {
        "glcm" => Some(glcm::FEATURES),
        "glrlm" => Some(glrlm::FEATURES),
        "glszm" => Some(glszm::FEATURES),
        "gldm" => Some(gldm::FEATURES),
        "ngtdm" => Some(ngtdm::FEATURES),
        _ => None,
    }
}

/// `class` is one of glcm, glrlm, glszm, gldm, ngtdm; `enabled` the PyRadiomics feature names to
/// return (e.g. ["Contrast", "Idmn"]); empty = the class's default-enabled features. Returns
/// (PyRadiomics feature name, value) in PyRadiomics' order.
///
/// PyRadiomics' order is the order of `enabled` (a repeated name counts once, at its first
/// place), or for an empty `enabled` the alphabetical order of the getter methods (so `MCC`
/// comes before `MaximumProbability`). Deprecated features (GLCM `Dissimilarity`,
/// `Homogeneity1`, `Homogeneity2`, `SumVariance`; GLDM `GrayLevelNonUniformityNormalized`,
/// `DependencePercentage`) are accepted by name but, as in PyRadiomics (whose getters raise
/// `DeprecationWarning`), yield no value: they are left out of the result.
///
/// Values are `NaN` where PyRadiomics gives NaN (e.g. every angle of a GLCM or GLRLM empty).
///
/// # Errors
/// [`RadiomicsError::InvalidSetting`] for an unknown class or feature name, a distance below 1
/// (GLCM, GLDM, NGTDM), no neighbour offset at all (PyRadiomics: "Error getting angle count"),
/// a non-integer `gldm_a`, or a dense matrix beyond 2²⁴ cells (e.g. a GLCM of more than 4096
/// grey levels: PyRadiomics would allocate `Ng² × Na` doubles);
/// [`RadiomicsError::EmptyRoi`] when no voxel has a level above 0.
pub fn compute(
    class: &str,
    input: &TextureInput,
    enabled: &[&str],
) -> Result<Vec<(&'static str, f64)>, RadiomicsError> {
    let table = feature_names(class).ok_or_else(|| {
        RadiomicsError::InvalidSetting(format!(
            "unknown PyRadiomics texture class `{class}` (expected one of {})",
            CLASSES.join(", ")
        ))
    })?;
    let selected = select(class, table, enabled)?;
    let lattice = Lattice::new(input.levels)?;
    let mut wanted = vec![false; table.len()];
    for &i in &selected {
        wanted[i] = true;
    }
    let values = match class {
        "glcm" => glcm::values(&lattice, input, &wanted)?,
        "glrlm" => glrlm::values(&lattice, input)?,
        "glszm" => glszm::values(&lattice, input)?,
        "gldm" => gldm::values(&lattice, input.settings)?,
        _ => ngtdm::values(&lattice, input.settings)?,
    };
    Ok(selected.iter().map(|&i| (table[i].0, values[i])).collect())
}

/// Indices into `table` of the features to return, in output order (deprecated ones dropped).
fn select(
    class: &str,
    table: &[(&'static str, bool)],
    enabled: &[&str],
) -> Result<Vec<usize>, RadiomicsError> {
    if enabled.is_empty() {
        return Ok((0..table.len()).filter(|&i| !table[i].1).collect());
    }
    let mut out: Vec<usize> = Vec::new();
    for name in enabled {
        let i = table.iter().position(|(n, _)| n == name).ok_or_else(|| {
            RadiomicsError::InvalidSetting(format!(
                "PyRadiomics class `{class}` has no feature `{name}`"
            ))
        })?;
        if !table[i].1 && !out.contains(&i) {
            out.push(i);
        }
    }
    Ok(out)
}

/// The discretised ROI prepared for the matrix builders: flat C-order data and each voxel's
/// slot among the grey levels present.
#[derive(Debug)]
pub(crate) struct Lattice<'a> {
    /// The levels in C order (0 outside the ROI).
    pub data: Cow<'a, [u32]>,
    /// `(nk, nj, ni)`.
    pub shape: [usize; 3],
    /// Per voxel: 0 outside the ROI, else 1 + the index of its level in `levels` (the data
    /// itself, borrowed, when the levels present are exactly `1..=Ng`, the usual case).
    pub slot: Cow<'a, [u32]>,
    /// The grey levels present in the ROI, ascending (PyRadiomics' `grayLevels`).
    pub levels: Vec<u32>,
    /// `levels` as f64 (PyRadiomics' `ivector`).
    pub ivector: Vec<f64>,
    /// Per row `r = z · nj + y`: the x range `x0..x1` from its first to its last ROI voxel
    /// (`0..0` for a row without any).
    pub extents: Vec<(usize, usize)>,
}

impl<'a> Lattice<'a> {
    fn new(levels: &'a Array3<u32>) -> Result<Lattice<'a>, RadiomicsError> {
        let (nk, nj, ni) = levels.dim();
        let data: Cow<'a, [u32]> = match levels.as_slice() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(levels.iter().copied().collect()),
        };
        let max = data.iter().copied().max().unwrap_or(0);
        if max == 0 {
            return Err(RadiomicsError::EmptyRoi(
                " (no voxel has a discretised level above 0)".into(),
            ));
        }
        let (present, slot): (Vec<u32>, Cow<'a, [u32]>) = if (max as usize) <= 4 * data.len() + 4096
        {
            // Dense lookup table: cheap for any real discretisation.
            let mut table = vec![0u32; max as usize + 1];
            for &l in data.iter() {
                table[l as usize] = 1;
            }
            table[0] = 0;
            let mut present = Vec::new();
            for (l, t) in table.iter_mut().enumerate() {
                if *t != 0 {
                    present.push(l as u32);
                    *t = present.len() as u32;
                }
            }
            let slot = if present.len() == max as usize {
                // Levels 1..=max all present: slots are the levels.
                match &data {
                    Cow::Borrowed(d) => Cow::Borrowed(*d),
                    Cow::Owned(d) => Cow::Owned(d.clone()),
                }
            } else {
                Cow::Owned(data.iter().map(|&l| table[l as usize]).collect())
            };
            (present, slot)
        } else {
            // Sparse huge levels (garbage in): sort and binary-search instead.
            let mut present: Vec<u32> = data.iter().copied().filter(|&l| l > 0).collect();
            present.sort_unstable();
            present.dedup();
            let slot = data
                .iter()
                .map(|&l| {
                    if l == 0 {
                        0
                    } else {
                        present.binary_search(&l).map_or(0, |i| i as u32 + 1)
                    }
                })
                .collect();
            (present, Cow::Owned(slot))
        };
        let ivector = present.iter().map(|&l| f64::from(l)).collect();
        let extents = if ni == 0 {
            Vec::new()
        } else {
            data.chunks_exact(ni)
                .map(|row| match row.iter().position(|&l| l != 0) {
                    Some(first) => {
                        let last = row.iter().rposition(|&l| l != 0).unwrap_or(first);
                        (first, last + 1)
                    }
                    None => (0, 0),
                })
                .collect()
        };
        Ok(Lattice {
            data,
            shape: [nk, nj, ni],
            slot,
            levels: present,
            ivector,
            extents,
        })
    }

    /// Number of grey levels present (`Ngp`).
    pub fn n_present(&self) -> usize {
        self.levels.len()
    }

    /// The largest level present (PyRadiomics' `Ng`).
    pub fn max_level(&self) -> u32 {
        self.levels.last().copied().unwrap_or(0)
    }

    /// Flat C-order strides.
    pub fn strides(&self) -> [usize; 3] {
        [self.shape[1] * self.shape[2], self.shape[2], 1]
    }

    /// For row `r = z · nj + y` and offset `a`: the part `lo..hi` of the row's ROI extent whose
    /// neighbours `x + a` lie inside the box, with the flat index of the neighbour of `lo`;
    /// `None` when there is none.
    pub fn row_neighbours(&self, r: usize, a: [isize; 3]) -> Option<(usize, usize, usize)> {
        let [nk, nj, ni] = self.shape;
        let (x0, x1) = *self.extents.get(r)?;
        let shift = |p: usize, d: isize, n: usize| {
            let q = p.checked_add_signed(d)?;
            (q < n).then_some(q)
        };
        let zn = shift(r / nj, a[0], nk)?;
        let yn = shift(r % nj, a[1], nj)?;
        let (lo, hi) = overlap(ni, a[2]);
        let (lo, hi) = (lo.max(x0), hi.min(x1));
        if lo >= hi {
            return None;
        }
        Some((lo, hi, (zn * nj + yn) * ni + lo.wrapping_add_signed(a[2])))
    }

    /// Calls `f(v, w, len)` for every row segment of voxel pairs `(v + t, w + t)`, `t < len`,
    /// where `w = v + offset` and both lie inside the lattice (flat C-order indices).
    pub fn for_each_pair_row(&self, offset: [isize; 3], mut f: impl FnMut(usize, usize, usize)) {
        let ranges: Vec<(usize, usize)> =
            (0..3).map(|d| overlap(self.shape[d], offset[d])).collect();
        let [sk, sj, _] = self.strides();
        let (x0, x1) = ranges[2];
        if x1 <= x0 {
            return;
        }
        let len = x1 - x0;
        for z in ranges[0].0..ranges[0].1 {
            let zn = z.wrapping_add_signed(offset[0]);
            for y in ranges[1].0..ranges[1].1 {
                let yn = y.wrapping_add_signed(offset[1]);
                let v = z * sk + y * sj + x0;
                let w = zn * sk + yn * sj + x0.wrapping_add_signed(offset[2]);
                f(v, w, len);
            }
        }
    }
}

/// The indices `p` in `0..n` with `p + d` also in `0..n`, as a half-open range (empty as
/// `(0, 0)`).
fn overlap(n: usize, d: isize) -> (usize, usize) {
    let a = d.unsigned_abs();
    if a >= n {
        return (0, 0);
    }
    if d >= 0 {
        (0, n - a)
    } else {
        (a, n)
    }
}

/// The angle set of `settings`'s `force2D` option as the C code receives it.
pub(crate) fn force_2d_axis(settings: &TextureSettings) -> Option<usize> {
    settings.force_2d.then_some(settings.force_2d_dimension)
}

/// `numpy.nanmean`: the mean of the non-NaN values; NaN when there is none.
pub(crate) fn nanmean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values {
        if !v.is_nan() {
            sum += v;
            n += 1;
        }
    }
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

/// The offset's per-axis lengths in mm, `|a| * spacing` in array order `(z, y, x)`.
pub(crate) fn offset_mm(angle: [isize; 3], spacing: [f64; 3]) -> [f64; 3] {
    // spacing is [si, sj, sk] (x, y, z); PyRadiomics uses GetSpacing()[::-1] = (z, y, x).
    [
        angle[0].unsigned_abs() as f64 * spacing[2],
        angle[1].unsigned_abs() as f64 * spacing[1],
        angle[2].unsigned_abs() as f64 * spacing[0],
    ]
}

/// Checks a dense matrix size against [`MAX_CELLS`].
pub(crate) fn check_cells(what: &str, rows: usize, columns: usize) -> Result<(), RadiomicsError> {
    match rows.checked_mul(columns) {
        Some(c) if c <= MAX_CELLS => Ok(()),
        _ => Err(RadiomicsError::InvalidSetting(format!(
            "the {what} would need {rows} × {columns} cells (more than {MAX_CELLS}): too many grey levels or neighbour offsets"
        ))),
    }
}

#[cfg(test)]
mod tests;
