//! RT Structure Set → label masks on a reference image grid.
//!
//! Each closed planar contour is mapped into the continuous index space of the reference grid and
//! filled on its slice; a voxel belongs to the ROI when its centre lies inside the polygon (the
//! IBSI convention). Several contours of one ROI on one slice combine by the even-odd rule, so a
//! contour inside another is a hole, as the DICOM standard intends for nested contours.

use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use voxide_core::{Geometry, Image, LabelMap};

use crate::object::{first_item, floats_of, int_of, items_of, open, str_of, ReadDepth};
use crate::DicomError;

const RT_STRUCTURE_SET: &str = "1.2.840.10008.5.1.4.1.1.481.3";

/// A contour of an ROI.
#[derive(Debug, Clone)]
pub struct Contour {
    /// `CLOSED_PLANAR`, `OPEN_PLANAR`, `POINT`, ...
    pub geometric_type: String,
    /// Points in LPS mm.
    pub points: Vec<[f64; 3]>,
}

/// A region of interest with its contours.
#[derive(Debug, Clone)]
pub struct Roi {
    pub number: i64,
    pub name: String,
    pub contours: Vec<Contour>,
}

/// The content of an RT Structure Set that rasterisation needs.
#[derive(Debug, Clone)]
pub struct StructureSet {
    pub path: PathBuf,
    pub frame_of_reference_uid: Option<String>,
    /// The image series the contours were drawn on, when the file says.
    pub referenced_series_uid: Option<String>,
    pub rois: Vec<Roi>,
}

impl StructureSet {
    /// The ROI called `name` (case-insensitive).
    pub fn roi(&self, name: &str) -> Result<&Roi, DicomError> {
        self.rois
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| DicomError::RoiNotFound {
                path: self.path.clone(),
                name: name.to_string(),
                available: self.rois.iter().map(|r| r.name.clone()).collect(),
            })
    }
}

/// Reads an RT Structure Set file.
pub fn read_rtstruct(path: &Path) -> Result<StructureSet, DicomError> {
    let obj = open(path, ReadDepth::Full)?;
    let fail = |reason: String| DicomError::RtStruct {
        path: path.to_path_buf(),
        reason,
    };
    let class = str_of(&obj, tags::SOP_CLASS_UID).unwrap_or_default();
    if class != RT_STRUCTURE_SET && str_of(&obj, tags::MODALITY).as_deref() != Some("RTSTRUCT") {
        return Err(fail(format!(
            "not an RT Structure Set (SOP Class {class}); give the RTSTRUCT file of the series"
        )));
    }
    let names: Vec<(i64, String)> = items_of(&obj, tags::STRUCTURE_SET_ROI_SEQUENCE)
        .iter()
        .filter_map(|item| {
            let n = int_of(item, tags::ROI_NUMBER)?;
            Some((
                n,
                str_of(item, tags::ROI_NAME).unwrap_or_else(|| format!("ROI {n}")),
            ))
        })
        .collect();
    let frame_of_reference_uid = first_item(&obj, tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE)
        .and_then(|f| str_of(f, tags::FRAME_OF_REFERENCE_UID))
        .or_else(|| {
            items_of(&obj, tags::STRUCTURE_SET_ROI_SEQUENCE)
                .first()
                .and_then(|i| str_of(i, tags::REFERENCED_FRAME_OF_REFERENCE_UID))
        });
    let referenced_series_uid = first_item(&obj, tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE)
        .and_then(|f| first_item(f, tags::RT_REFERENCED_STUDY_SEQUENCE))
        .and_then(|s| first_item(s, tags::RT_REFERENCED_SERIES_SEQUENCE))
        .and_then(|s| str_of(s, tags::SERIES_INSTANCE_UID));
    let mut rois = Vec::new();
    for item in items_of(&obj, tags::ROI_CONTOUR_SEQUENCE) {
        let Some(number) = int_of(item, tags::REFERENCED_ROI_NUMBER) else {
            continue;
        };
        let name = names
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| format!("ROI {number}"));
        let mut contours = Vec::new();
        for c in items_of(item, tags::CONTOUR_SEQUENCE) {
            let data = floats_of(c, tags::CONTOUR_DATA).unwrap_or_default();
            if !data.len().is_multiple_of(3) {
                return Err(fail(format!(
                    "ROI '{name}': Contour Data holds {} numbers, not a multiple of 3",
                    data.len()
                )));
            }
            contours.push(Contour {
                geometric_type: str_of(c, tags::CONTOUR_GEOMETRIC_TYPE)
                    .unwrap_or_else(|| "CLOSED_PLANAR".into()),
                points: data.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect(),
            });
        }
        rois.push(Roi {
            number,
            name,
            contours,
        });
    }
    // ROIs declared without contours still exist (empty masks).
    for (n, name) in &names {
        if !rois.iter().any(|r| r.number == *n) {
            rois.push(Roi {
                number: *n,
                name: name.clone(),
                contours: Vec::new(),
            });
        }
    }
    Ok(StructureSet {
        path: path.to_path_buf(),
        frame_of_reference_uid,
        referenced_series_uid,
        rois,
    })
}

/// Outcome of rasterising an ROI or a segment: the mask and what could not be placed.
#[derive(Debug, Clone)]
pub struct Rasterised {
    pub mask: LabelMap,
    pub warnings: Vec<String>,
}

/// Rasterises one ROI onto `geometry` as a binary mask (label 1).
pub fn rasterise(roi: &Roi, geometry: &Geometry) -> Result<Rasterised, DicomError> {
    let [ni, nj, nk] = geometry.size();
    let mut labels = Image::<u8>::filled(geometry.clone(), 0);
    let mut warnings = Vec::new();
    let mut per_slice: Vec<Vec<Vec<[f64; 2]>>> = vec![Vec::new(); nk];
    let (mut outside, mut skipped_types) = (0usize, 0usize);
    for contour in &roi.contours {
        if contour.geometric_type != "CLOSED_PLANAR" {
            skipped_types += 1;
            continue;
        }
        if contour.points.len() < 3 {
            continue;
        }
        let idx: Vec<[f64; 3]> = contour
            .points
            .iter()
            .map(|p| geometry.physical_to_index(*p))
            .collect();
        let (kmin, kmax) = idx.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p[2]), hi.max(p[2]))
        });
        if kmax - kmin > 0.5 {
            return Err(DicomError::Contour {
                roi: roi.name.clone(),
                reason: format!(
                    "a contour spans {:.2} slices; contours must lie in the slice planes of the reference series (is this the series the structure set was drawn on?)",
                    kmax - kmin
                ),
            });
        }
        let k = ((kmin + kmax) / 2.0).round();
        if k < 0.0 || k >= nk as f64 {
            outside += 1;
            continue;
        }
        per_slice[k as usize].push(idx.iter().map(|p| [p[0], p[1]]).collect());
    }
    if outside > 0 {
        warnings.push(format!(
            "ROI '{}': {outside} contour(s) lie outside the reference volume and were ignored",
            roi.name
        ));
    }
    if skipped_types > 0 {
        warnings.push(format!(
            "ROI '{}': {skipped_types} contour(s) are not CLOSED_PLANAR (points or open lines) and were ignored",
            roi.name
        ));
    }
    let data = labels.data_mut();
    let mut crossings = Vec::new();
    for (k, polygons) in per_slice.iter().enumerate() {
        if polygons.is_empty() {
            continue;
        }
        for j in 0..nj {
            let y = j as f64;
            crossings.clear();
            for poly in polygons {
                for e in 0..poly.len() {
                    let a = poly[e];
                    let b = poly[(e + 1) % poly.len()];
                    // Half-open rule: an edge counts when it crosses the scan line y, with
                    // vertices exactly on the line taken as above it.
                    if (a[1] > y) != (b[1] > y) {
                        crossings.push(a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]));
                    }
                }
            }
            crossings.sort_by(f64::total_cmp);
            for pair in crossings.chunks_exact(2) {
                // Voxel centres i with x0 < i < x1 (within a hair, so that centres exactly on
                // the boundary count as inside for both neighbours' sake).
                let start = (pair[0] - 1e-9).ceil().max(0.0);
                let end = (pair[1] + 1e-9).floor().min(ni as f64 - 1.0);
                if end < start {
                    continue;
                }
                for i in start as usize..=end as usize {
                    // XOR: a region covered twice (a hole in a contour) is outside.
                    data[(k, j, i)] ^= 1;
                }
            }
        }
    }
    Ok(Rasterised {
        mask: LabelMap::new(labels),
        warnings,
    })
}
