//! DICOM Segmentation reading and rasterisation, against highdicom and pydicom.
//!
//! `tests/data/seg_reference.tsv` was computed once with `scripts/ref/seg_ref.py` (highdicom
//! 0.28.2, pydicom 3.0.2; see the script for how to regenerate it). highdicom places each SEG
//! frame by the source instance it was derived from, voxide by its Image Position (Patient), so
//! the two agree only when both routes are right. Stored frame values are compared with
//! pydicom's own unpacking (`@stored` cases), including 10 x 10 binary frames that start in the
//! middle of a byte.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use voxide_core::{Geometry, LabelMap};
use voxide_dicom::{
    open, rasterise_segment, read_seg, read_series, seg_from_object, segments_to_labels,
    AssemblyOptions, DicomError, DicomObject, ReadDepth, Segmentation, SegmentationType,
};

fn hd(name: &str) -> PathBuf {
    common::data_dir().join("dicom/highdicom").join(name)
}

fn ct2() -> PathBuf {
    common::data_dir().join("dicom/pydicom/dicomdirtests/77654033/CT2")
}

/// The reference: (case, segment or value) → (count, linear voxel indices).
fn reference() -> HashMap<(String, u16), (usize, Vec<usize>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/seg_reference.tsv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let mut indices = Vec::new();
        for run in f[3].split(',').filter(|r| !r.is_empty()) {
            let (start, len) = run.split_once('+').unwrap();
            let (start, len): (usize, usize) = (start.parse().unwrap(), len.parse().unwrap());
            indices.extend(start..start + len);
        }
        let count: usize = f[2].parse().unwrap();
        assert_eq!(count, indices.len(), "{line}");
        out.insert((f[0].to_string(), f[1].parse().unwrap()), (count, indices));
    }
    out
}

/// Linear indices (i fastest, then j, then k) of the voxels carrying `label`.
fn indices(mask: &LabelMap, label: u8) -> Vec<usize> {
    mask.labels()
        .data()
        .iter()
        .enumerate()
        .filter(|(_, &v)| v == label)
        .map(|(i, _)| i)
        .collect()
}

fn expect<'a>(
    reference: &'a HashMap<(String, u16), (usize, Vec<usize>)>,
    case: &str,
    n: u16,
) -> &'a [usize] {
    &reference
        .get(&(case.to_string(), n))
        .unwrap_or_else(|| panic!("no reference for {case} / {n}"))
        .1
}

/// The three regularly spaced slices of the CT2 series (103.02, 104.27, 105.52 mm), assembled
/// by voxide from a copy of their files (once: the tests run in parallel).
fn ct2_regular() -> Geometry {
    static GRID: OnceLock<Geometry> = OnceLock::new();
    GRID.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("seg-ct2-regular");
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["17136", "17166", "17196"] {
            std::fs::copy(ct2().join(f), dir.join(f)).unwrap();
        }
        let volume = read_series(&dir, &AssemblyOptions::default()).unwrap();
        let g = volume.image.geometry().clone();
        assert_eq!(g.size(), [16, 16, 3]);
        g
    })
    .clone()
}

/// A regular grid at the CT2 spacing from its lowest slice (-99.48 mm) to its highest
/// (105.52 mm): 165 slices, the four CT2 slices at k = 0, 162, 163, 164.
fn ct2_full() -> Geometry {
    let g = ct2_regular();
    let o = g.origin();
    Geometry::new(
        [16, 16, 165],
        g.spacing(),
        [o[0], o[1], -99.480003],
        g.direction(),
    )
    .unwrap()
}

fn ct_image() -> Geometry {
    let v = read_series(&hd("ct_image.dcm"), &AssemblyOptions::default()).unwrap();
    v.image.geometry().clone()
}

#[test]
fn reads_the_segments_and_frames_of_a_binary_ct_seg() {
    let seg = read_seg(&hd("seg_image_ct_binary.dcm")).unwrap();
    assert_eq!(seg.segmentation_type, SegmentationType::Binary);
    assert_eq!(seg.bits_allocated(), 1);
    assert_eq!((seg.rows, seg.columns, seg.frames.len()), (16, 16, 3));
    assert_eq!(seg.sop_class_uid, voxide_dicom::SEGMENTATION_STORAGE);
    assert_eq!(
        seg.referenced_series_uid.as_deref(),
        Some("1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.2")
    );
    assert_eq!(
        seg.frame_of_reference_uid.as_deref(),
        Some("1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.4")
    );
    assert_eq!(seg.segments_overlap.as_deref(), Some("NO"));
    assert_eq!(seg.segments.len(), 1);
    let s = seg.segment(1).unwrap();
    assert_eq!(s.label, "first segment");
    assert_eq!(s.algorithm_type, "AUTOMATIC");
    assert_eq!(s.algorithm_name.as_deref(), Some("test"));
    let cat = s.category.as_ref().unwrap();
    assert_eq!(
        (
            cat.value.as_str(),
            cat.scheme.as_str(),
            cat.meaning.as_str()
        ),
        ("85756007", "SCT", "Tissue")
    );
    let ty = s.property_type.as_ref().unwrap();
    assert_eq!(
        (ty.value.as_str(), ty.meaning.as_str()),
        ("272673000", "Bone")
    );
    for (f, z) in seg.frames.iter().zip([103.019997, 104.269997, 105.519997]) {
        assert_eq!(f.segment_number, Some(1));
        assert_eq!(f.position, Some([-125.0, -128.100006, z]));
        // Orientation and pixel measures come from the shared functional groups.
        assert_eq!(f.orientation, Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]));
        assert_eq!(f.pixel_spacing, Some([0.488281, 0.488281]));
        assert_eq!(f.slice_thickness, Some(1.25));
    }
    let sources: Vec<_> = seg
        .frames
        .iter()
        .map(|f| f.source_sop_instance_uid.clone().unwrap())
        .collect();
    assert_eq!(
        sources,
        ["94", "95", "96"].map(|n| format!("1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.{n}"))
    );
    match seg.segment(7) {
        Err(e @ DicomError::SegmentNotFound { .. }) => {
            assert!(e.to_string().contains("1 'first segment'"), "{e}")
        }
        other => panic!("{other:?}"),
    }

    let fractional = read_seg(&hd("seg_image_ct_true_fractional.dcm")).unwrap();
    assert_eq!(
        fractional.segmentation_type,
        SegmentationType::Fractional { maximum: 255 }
    );
    assert_eq!(fractional.fractional_type.as_deref(), Some("PROBABILITY"));
}

#[test]
fn stored_frame_values_match_pydicom() {
    let reference = reference();
    let mut checked = 0;
    for name in [
        "seg_image_ct_binary.dcm",
        "seg_image_ct_binary_overlap.dcm",
        "seg_image_ct_binary_fractional.dcm",
        "seg_image_ct_true_fractional.dcm",
        "seg_image_ct_binary_single_frame.dcm",
        "seg_image_sm_control_labelmap.dcm",
        "seg_image_sm_control.dcm",
        "seg_image_sm_dots.dcm",
        "seg_image_sm_dots_tiled_full.dcm",
        "../pydicom-data/liver.dcm",
        // Explicit VR big endian: 1-bit data in OW words.
        "../pydicom-data/liver_expb.dcm",
    ] {
        let seg = read_seg(&hd(name)).unwrap_or_else(|e| panic!("{e}"));
        let mut all = Vec::new();
        for f in 0..seg.frames.len() {
            all.extend(seg.frame_values(f).unwrap());
        }
        let case = format!("{name}@stored");
        let mut values: Vec<u16> = all.clone();
        values.sort_unstable();
        values.dedup();
        let expected: Vec<u16> = {
            let mut v: Vec<u16> = reference
                .keys()
                .filter(|(c, _)| *c == case)
                .map(|(_, n)| *n)
                .collect();
            v.sort_unstable();
            v
        };
        assert_eq!(values, expected, "{name}: distinct stored values");
        for v in values {
            let ours: Vec<usize> = (0..all.len()).filter(|&p| all[p] == v).collect();
            assert!(
                ours == expect(&reference, &case, v),
                "{name}: pixels with stored value {v} differ from pydicom ({} vs {})",
                ours.len(),
                expect(&reference, &case, v).len()
            );
            checked += 1;
        }
    }
    // The general decoder agrees for 1-bit data (it used to expand and truncate it).
    for name in ["seg_image_sm_control.dcm", "seg_image_ct_binary.dcm"] {
        let px = voxide_dicom::decode_file(&hd(name)).unwrap();
        let seg = read_seg(&hd(name)).unwrap();
        for f in 0..px.frames {
            let ours: Vec<f64> = seg
                .frame_values(f)
                .unwrap()
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            assert_eq!(px.stored_values(f).unwrap(), ours, "{name} frame {f}");
        }
    }
    // 2 values in each binary or binary-valued file, 3 in the true fractional one, 20 labels.
    assert_eq!(checked, 41);

    // TILED_FULL: no per-frame groups; 5 x 5 tiles for each of the 50 segments in turn.
    let tiled = read_seg(&hd("seg_image_sm_dots_tiled_full.dcm")).unwrap();
    let numbers: Vec<u16> = tiled
        .frames
        .iter()
        .map(|f| f.segment_number.unwrap())
        .collect();
    assert_eq!(numbers.len(), 1250);
    assert!(numbers
        .iter()
        .enumerate()
        .all(|(f, &n)| usize::from(n) == f / 25 + 1));
    assert!(tiled.frames.iter().all(|f| f.position.is_none()));
    // Pixels per segment, as highdicom 0.28.2 counts them in its total pixel matrix:
    // [int(seg.get_total_pixel_matrix(segment_numbers=[n]).sum()) for n in range(1, 51)].
    let highdicom = [
        0, 4, 4, 4, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
        8, 4, 4, 4, 8, 4, 4, 4, 4, 4, 8, 4, 8, 4, 4, 4, 4, 4, 4, 8,
    ];
    for (n, expected) in (1..=50u16).zip(highdicom) {
        let ours: usize = (0..tiled.frames.len())
            .filter(|&f| tiled.frames[f].segment_number == Some(n))
            .map(|f| {
                tiled
                    .frame_values(f)
                    .unwrap()
                    .iter()
                    .filter(|&&v| v != 0)
                    .count()
            })
            .sum();
        assert_eq!(ours, expected, "segment {n}");
    }
}

#[test]
fn every_seg_in_the_shared_data_reads() {
    let manifest = std::fs::read_to_string(common::data_dir().join("MANIFEST.tsv")).unwrap();
    let (mut read, mut refused) = (0, 0);
    for line in manifest.lines() {
        let mut cols = line.split('\t');
        let (Some(path), Some(description)) = (cols.next(), cols.nth(2)) else {
            continue;
        };
        if !description.starts_with("DICOM SEG ") {
            continue;
        }
        let result = read_seg(&common::data_dir().join(path));
        if path.ends_with("_1frame.dcm") {
            // pydicom's one-frame cuts of liver.dcm keep the three per-frame items of the
            // original and drop Number of Frames.
            let msg = message(result);
            assert!(
                msg.contains("Number of Frames is 1 but the Per-Frame Functional Groups Sequence has 3 items"),
                "{msg}"
            );
            refused += 1;
            continue;
        }
        let seg = result.unwrap_or_else(|e| panic!("{e}"));
        for f in 0..seg.frames.len() {
            seg.frame_values(f).unwrap();
        }
        read += 1;
    }
    assert_eq!((read, refused), (14, 2));
}

/// Rasterises every segment and the label map, and compares them with highdicom.
fn compare_with_highdicom(name: &str, grid: &str, geometry: &Geometry) -> Vec<String> {
    let reference = reference();
    let seg = read_seg(&hd(name)).unwrap();
    let case = format!("{name}@{grid}");
    let mut warnings = Vec::new();
    for s in &seg.segments {
        let r = rasterise_segment(&seg, s.number, geometry).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.mask.geometry(), geometry);
        let ours = indices(&r.mask, 1);
        let theirs = expect(&reference, &case, s.number);
        assert!(
            ours == theirs,
            "{case} segment {}: {} voxels, highdicom {}",
            s.number,
            ours.len(),
            theirs.len()
        );
        assert!(!ours.is_empty(), "{case}: segment {} is empty", s.number);
        warnings.extend(r.warnings);
    }
    let labels = segments_to_labels(&seg, geometry).unwrap();
    for s in &seg.segments {
        let ours = indices(&labels.mask, s.number as u8);
        assert!(
            ours == expect(&reference, &format!("{case}:labels"), s.number),
            "{case}: label {} of the label map",
            s.number
        );
    }
    warnings.extend(labels.warnings);
    warnings
}

#[test]
fn binary_and_fractional_segs_rasterise_as_highdicom_places_them() {
    let g = ct2_regular();
    for name in [
        "seg_image_ct_binary.dcm",
        "seg_image_ct_binary_fractional.dcm",
        // Stored values 0, 64 and 128 of 255: 128 is in, 64 out.
        "seg_image_ct_true_fractional.dcm",
    ] {
        let warnings = compare_with_highdicom(name, "ct2_regular", &g);
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
    }
    let single = compare_with_highdicom(
        "seg_image_ct_binary_single_frame.dcm",
        "ct_image",
        &ct_image(),
    );
    assert!(single.is_empty(), "{single:?}");
}

#[test]
fn frames_beyond_the_grid_are_reported_not_dropped_silently() {
    // The overlap SEG also has frames at -99.48 mm, below the three-slice grid: segment 1 has
    // 16 pixels there and segment 2 has 4 (highdicom's ct2_full reference, slice 0).
    let warnings = compare_with_highdicom(
        "seg_image_ct_binary_overlap.dcm",
        "ct2_regular",
        &ct2_regular(),
    );
    let joined = warnings.join("\n");
    for expected in [
        "segment 1 'first segment': 1 frame(s) lie on the grid's plane but beyond its 3 slices (at slice(s) -162), holding 16 segment pixel(s)",
        "segment 2 'second segment': 1 frame(s) lie on the grid's plane but beyond its 3 slices (at slice(s) -162), holding 4 segment pixel(s)",
        // 48 + 12 voxels of segments 1 and 2, 36 + 12 in the label map: 12 overlap.
        "12 voxel(s) belong to more than one segment; each holds the highest segment number",
    ] {
        assert!(joined.contains(expected), "missing '{expected}' in:\n{joined}");
    }
}

#[test]
fn overlapping_segments_on_a_grid_holding_all_frames() {
    let warnings =
        compare_with_highdicom("seg_image_ct_binary_overlap.dcm", "ct2_full", &ct2_full());
    // 64 + 16 voxels, 48 + 16 in the label map.
    assert_eq!(
        warnings,
        ["16 voxel(s) belong to more than one segment; each holds the highest segment number"]
    );
}

fn message(r: Result<impl std::fmt::Debug, DicomError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_seg_drawn_on_another_grid_is_refused_with_the_reason() {
    let seg = read_seg(&hd("seg_image_ct_binary.dcm")).unwrap();
    let g = ct2_regular();
    let msg = message(rasterise_segment(&seg, 1, &ct_image()));
    assert!(
        msg.contains("16 rows x 16 columns but the reference grid's slices are 128 x 128"),
        "{msg}"
    );

    // Slices 1 mm apart from the first frame: the next frames fall 1.25 and 2.5 slices further.
    let one_mm = Geometry::new(
        [16, 16, 3],
        [0.488281, 0.488281, 1.0],
        g.origin(),
        g.direction(),
    )
    .unwrap();
    let msg = message(rasterise_segment(&seg, 1, &one_mm));
    assert!(
        msg.contains("frame 2 (segment 1): position [-125.0, -128.100006, 104.269997] lies between slices 1 and 2 of the reference grid (at 1.250)"),
        "{msg}"
    );

    let shifted = Geometry::new(
        g.size(),
        g.spacing(),
        [g.origin()[0] + 0.2, g.origin()[1], g.origin()[2]],
        g.direction(),
    )
    .unwrap();
    let msg = message(segments_to_labels(&seg, &shifted));
    assert!(
        msg.contains("shifted in-plane by (-0.410, 0.000) voxels"),
        "{msg}"
    );

    let finer = Geometry::new(g.size(), [0.45, 0.488281, 1.25], g.origin(), g.direction()).unwrap();
    let msg = message(rasterise_segment(&seg, 1, &finer));
    assert!(
        msg.contains("pixel spacing [0.488281, 0.488281] (rows, columns) differs"),
        "{msg}"
    );

    // Rows running right to left.
    let flipped = Geometry::new(
        g.size(),
        g.spacing(),
        g.origin(),
        [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    )
    .unwrap();
    let msg = message(rasterise_segment(&seg, 1, &flipped));
    assert!(
        msg.contains("orientation [1.0, 0.0, 0.0, 0.0, 1.0, 0.0] differs"),
        "{msg}"
    );

    let msg = message(rasterise_segment(&seg, 2, &g));
    assert!(
        msg.contains("no segment 2; the segmentation has: 1 'first segment'"),
        "{msg}"
    );
}

#[test]
fn a_slide_microscopy_label_map_reads_but_cannot_be_placed_on_a_volume() {
    let seg = read_seg(&hd("seg_image_sm_control_labelmap.dcm")).unwrap();
    assert_eq!(seg.segmentation_type, SegmentationType::Labelmap);
    assert_eq!(
        seg.sop_class_uid,
        voxide_dicom::LABEL_MAP_SEGMENTATION_STORAGE
    );
    assert_eq!(seg.segments.len(), 21);
    assert_eq!(seg.segments[0].number, 0);
    assert_eq!(seg.segments[0].label, "Background");
    assert!(seg
        .frames
        .iter()
        .all(|f| f.segment_number.is_none() && f.position.is_none()));
    let g = Geometry::with_size([10, 10, 20]);
    let msg = message(rasterise_segment(&seg, 3, &g));
    assert!(
        msg.contains("frame 1: no Image Position (Patient)"),
        "{msg}"
    );
}

// ---- Modified and synthetic objects -------------------------------------------------------

fn load(name: &str) -> DicomObject {
    open(&hd(name), ReadDepth::Full).unwrap()
}

fn put(obj: &mut DicomObject, tag: dicom_core::Tag, vr: VR, value: PrimitiveValue) {
    obj.put(DataElement::new(tag, vr, value));
}

fn parse(obj: &DicomObject) -> Result<Segmentation, DicomError> {
    seg_from_object(obj, Path::new("test.dcm"))
}

/// Applies `f` to every item of the Per-Frame Functional Groups Sequence.
fn per_frame(obj: &mut DicomObject, f: impl Fn(usize, &mut dicom_object::InMemDicomObject)) {
    obj.update_value(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, |v| {
        for (i, item) in v.items_mut().unwrap().iter_mut().enumerate() {
            f(i, item);
        }
    });
}

/// Packs 0/1 values LSB first, back to back, as BINARY SEG pixel data is.
fn pack(bits: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    for (b, &v) in bits.iter().enumerate() {
        out[b / 8] |= v << (b % 8);
    }
    out
}

/// The binary CT SEG made into 5 x 5 frames (25 bits: frames 2 and 3 start inside a byte) on a
/// 5 x 5 x 3 grid at the CT2 positions; frame f has pixel p set when (p + f) % 3 == 0.
#[test]
fn binary_frames_that_start_inside_a_byte_are_placed_bit_exact() {
    let mut obj = load("seg_image_ct_binary.dcm");
    put(&mut obj, tags::ROWS, VR::US, PrimitiveValue::from(5u16));
    put(&mut obj, tags::COLUMNS, VR::US, PrimitiveValue::from(5u16));
    let bits: Vec<u8> = (0..3)
        .flat_map(|f| (0..25).map(move |p| u8::from((p + f) % 3 == 0)))
        .collect();
    put(
        &mut obj,
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::from(pack(&bits)),
    );
    let seg = parse(&obj).unwrap();
    let g = ct2_regular();
    let g = Geometry::new([5, 5, 3], g.spacing(), g.origin(), g.direction()).unwrap();
    let r = rasterise_segment(&seg, 1, &g).unwrap();
    let expected: Vec<usize> = (0..75).filter(|&i| bits[i] == 1).collect();
    assert_eq!(indices(&r.mask, 1), expected);
    assert!(r.warnings.is_empty());

    // The same data, but with each frame padded to a whole byte: 12 bytes, not 10.
    let padded: Vec<u8> = (0..3)
        .flat_map(|f| pack(&bits[f * 25..(f + 1) * 25]))
        .collect();
    put(
        &mut obj,
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::from(padded),
    );
    let msg = message(parse(&obj));
    assert!(
        msg.contains("Pixel Data holds 12 bytes but 5 x 5 pixels x 3 frames packed at 1 bit need 10 bytes (75 bits, frames back to back, not padded per frame)"),
        "{msg}"
    );
}

/// The fractional CT SEG made into a label map with two segments on the CT2 grid.
fn labelmap(bits: u16, values: &[u16]) -> DicomObject {
    let mut obj = load("seg_image_ct_binary_fractional.dcm");
    put(
        &mut obj,
        tags::SOP_CLASS_UID,
        VR::UI,
        PrimitiveValue::from(voxide_dicom::LABEL_MAP_SEGMENTATION_STORAGE),
    );
    put(
        &mut obj,
        tags::SEGMENTATION_TYPE,
        VR::CS,
        PrimitiveValue::from("LABELMAP"),
    );
    put(
        &mut obj,
        tags::BITS_ALLOCATED,
        VR::US,
        PrimitiveValue::from(bits),
    );
    obj.remove_element(tags::MAXIMUM_FRACTIONAL_VALUE);
    per_frame(&mut obj, |_, item| {
        item.remove_element(tags::SEGMENT_IDENTIFICATION_SEQUENCE);
    });
    obj.update_value(tags::SEGMENT_SEQUENCE, |v| {
        let items = v.items_mut().unwrap();
        let mut second = items[0].clone();
        second.put(DataElement::new(
            tags::SEGMENT_NUMBER,
            VR::US,
            PrimitiveValue::from(2u16),
        ));
        second.put(DataElement::new(
            tags::SEGMENT_LABEL,
            VR::LO,
            PrimitiveValue::from("second"),
        ));
        items.push(second);
    });
    let data: Vec<u8> = if bits == 8 {
        values.iter().map(|&v| v as u8).collect()
    } else {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    };
    put(
        &mut obj,
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::from(data),
    );
    obj
}

#[test]
fn a_label_map_seg_on_a_volume() {
    // Voxel p of the 16 x 16 x 3 grid holds p % 3 (0, 1, 2, 0, ...).
    let values: Vec<u16> = (0..768).map(|p| (p % 3) as u16).collect();
    let g = ct2_regular();
    for bits in [8, 16] {
        let seg = parse(&labelmap(bits, &values)).unwrap();
        assert_eq!(seg.segmentation_type, SegmentationType::Labelmap);
        assert_eq!(seg.bits_allocated(), bits);
        let two = rasterise_segment(&seg, 2, &g).unwrap();
        let expected: Vec<usize> = (0..768).filter(|p| p % 3 == 2).collect();
        assert_eq!(indices(&two.mask, 1), expected);
        let all = segments_to_labels(&seg, &g).unwrap();
        assert!(all.warnings.is_empty(), "{:?}", all.warnings);
        let got: Vec<u16> = all
            .mask
            .labels()
            .data()
            .iter()
            .map(|&v| u16::from(v))
            .collect();
        assert_eq!(got, values);
    }
    // 16-bit label values beyond 255 do not fit a label map; one segment at a time they do.
    let mut big = values.clone();
    big[5] = 300;
    let seg = parse(&labelmap(16, &big)).unwrap();
    let msg = message(segments_to_labels(&seg, &g));
    assert!(
        msg.contains("segment 300 does not fit an 8-bit label map"),
        "{msg}"
    );
    // An undeclared label is kept and reported.
    let mut odd = values.clone();
    odd[7] = 9;
    let seg = parse(&labelmap(8, &odd)).unwrap();
    let all = segments_to_labels(&seg, &g).unwrap();
    assert_eq!(all.mask.count(9), 1);
    assert!(
        all.warnings[0].contains("label value(s) [9]"),
        "{:?}",
        all.warnings
    );
}

#[test]
fn broken_segs_get_clear_errors() {
    let case = |edit: &dyn Fn(&mut DicomObject), expected: &str| {
        let mut obj = load("seg_image_ct_binary.dcm");
        edit(&mut obj);
        let msg = message(parse(&obj));
        assert!(msg.contains(expected), "expected '{expected}' in: {msg}");
    };
    // Truncated pixel data: 96 bytes needed, 50 present.
    case(
        &|o| {
            put(
                o,
                tags::PIXEL_DATA,
                VR::OB,
                PrimitiveValue::from(vec![0u8; 50]),
            )
        },
        "Pixel Data holds 50 bytes but 16 x 16 pixels x 3 frames packed at 1 bit need 96 bytes",
    );
    case(
        &|o| put(o, tags::NUMBER_OF_FRAMES, VR::IS, PrimitiveValue::from("4")),
        "Number of Frames is 4 but the Per-Frame Functional Groups Sequence has 3 items",
    );
    case(
        &|o| {
            o.remove_element(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE);
        },
        "the Per-Frame Functional Groups Sequence (5200,9230) is missing",
    );
    case(
        &|o| {
            o.remove_element(tags::PIXEL_DATA);
        },
        "the object has no pixel data",
    );
    case(
        &|o| {
            per_frame(o, |_, item| {
                item.remove_element(tags::SEGMENT_IDENTIFICATION_SEQUENCE);
            })
        },
        "frame 1 has no Referenced Segment Number",
    );
    case(
        &|o| {
            per_frame(o, |i, item| {
                if i == 2 {
                    item.update_value(tags::SEGMENT_IDENTIFICATION_SEQUENCE, |v| {
                        v.items_mut().unwrap()[0].put(DataElement::new(
                            tags::REFERENCED_SEGMENT_NUMBER,
                            VR::US,
                            PrimitiveValue::from(4u16),
                        ));
                    });
                }
            })
        },
        "frame 3 refers to segment 4, which the Segment Sequence does not declare (it declares 1)",
    );
    case(
        &|o| put(o, tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(8u16)),
        "a BINARY segmentation cannot have Bits Allocated 8",
    );
    case(
        &|o| {
            o.remove_element(tags::SEGMENTATION_TYPE);
        },
        "Segmentation Type (0062,0001) is missing",
    );
    case(
        &|o| {
            o.remove_element(tags::SEGMENT_SEQUENCE);
        },
        "the Segment Sequence (0062,0002) is missing or empty",
    );
    case(
        &|o| {
            put(
                o,
                tags::SOP_CLASS_UID,
                VR::UI,
                PrimitiveValue::from("1.2.840.10008.5.1.4.1.1.2"),
            );
            put(o, tags::MODALITY, VR::CS, PrimitiveValue::from("CT"));
        },
        "not a DICOM Segmentation",
    );
    // A FRACTIONAL SEG without its maximum.
    let mut obj = load("seg_image_ct_true_fractional.dcm");
    obj.remove_element(tags::MAXIMUM_FRACTIONAL_VALUE);
    let msg = message(parse(&obj));
    assert!(
        msg.contains("without a valid Maximum Fractional Value"),
        "{msg}"
    );

    // Frames without positions read, but cannot be placed.
    let mut obj = load("seg_image_ct_binary.dcm");
    per_frame(&mut obj, |_, item| {
        item.remove_element(tags::PLANE_POSITION_SEQUENCE);
    });
    let seg = parse(&obj).unwrap();
    let msg = message(rasterise_segment(&seg, 1, &ct2_regular()));
    assert!(
        msg.contains("frame 1 (segment 1): no Image Position (Patient)"),
        "{msg}"
    );

    // Pixel data of the wrong VR kind (a sequence) is not pixel data.
    let mut obj = load("seg_image_ct_binary.dcm");
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::SQ,
        Value::from(dicom_core::value::DataSetSequence::from(Vec::<
            dicom_object::InMemDicomObject,
        >::new())),
    ));
    assert!(parse(&obj).is_err());
}
