//! Real files from the shared data folder: every NIfTI and NRRD found there loads, and its
//! geometry and voxels equal what an independent hand decoding of the file gives.

mod common;

use std::path::{Path, PathBuf};

use common::{data_dir, data_file, geometry_error, gunzip};
use voxide_core::{AnyImage, Geometry, VoxelType};
use voxide_io::{nifti, read_image, IoError};

fn files_under(dir: &Path, suffixes: &[&str], out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, suffixes, out);
        } else if suffixes
            .iter()
            .any(|s| p.to_string_lossy().to_ascii_lowercase().ends_with(s))
        {
            out.push(p);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// NRRD: pyradiomics test cases.

const PYRADIOMICS: [&str; 12] = [
    "brain1_image",
    "brain1_label",
    "brain2_image",
    "brain2_label",
    "breast1_image",
    "breast1_label",
    "lung1_image",
    "lung1_label",
    "lung2_image",
    "lung2_label",
    "prostate_phantom_subvolume",
    "prostate_phantom_subvolume-label",
];

/// What a NRRD header declares, parsed here independently of the crate.
struct Declared {
    fields: Vec<(String, String)>,
    data_start: usize,
}

impl Declared {
    fn parse(bytes: &[u8]) -> Self {
        let end = bytes
            .windows(2)
            .position(|w| w == b"\n\n")
            .expect("blank line");
        let text = std::str::from_utf8(&bytes[..end]).unwrap();
        let fields = text
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Declared {
            fields,
            data_start: end + 2,
        }
    }
    fn get(&self, key: &str) -> &str {
        &self
            .fields
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no {key}"))
            .1
    }
    /// `(a,b,c) (d,e,f) ...` → vectors.
    fn vectors(&self, key: &str) -> Vec<[f64; 3]> {
        self.get(key)
            .split(')')
            .map(|s| s.trim().trim_start_matches('('))
            .filter(|s| !s.is_empty())
            .map(|s| {
                let v: Vec<f64> = s.split(',').map(|t| t.trim().parse().unwrap()).collect();
                [v[0], v[1], v[2]]
            })
            .collect()
    }
}

#[test]
fn pyradiomics_nrrd_geometry_and_voxels_match_their_headers() {
    for name in PYRADIOMICS {
        let path = data_file(&format!("radiomics/pyradiomics/{name}.nrrd"));
        let bytes = std::fs::read(&path).unwrap();
        let img = read_image(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let d = Declared::parse(&bytes);
        assert_eq!(d.get("space"), "left-posterior-superior", "{name}");
        assert_eq!(d.get("encoding"), "gzip");
        let sizes: Vec<usize> = d
            .get("sizes")
            .split(' ')
            .map(|s| s.parse().unwrap())
            .collect();
        let g = img.geometry();
        assert_eq!(g.size().to_vec(), sizes, "{name}");
        let dirs = d.vectors("space directions");
        let origin = d.vectors("space origin")[0];
        assert_eq!(g.origin(), origin, "{name}: origin");
        let a = g.affine_lps();
        for (c, v) in dirs.iter().enumerate() {
            let len = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
            assert_eq!(g.spacing()[c], len, "{name}: spacing {c}");
            for r in 0..3 {
                assert!(
                    (a[r][c] - v[r]).abs() <= 1e-15 * len,
                    "{name}: direction {c}"
                );
                assert_eq!(g.direction()[r][c], v[r] / len, "{name}: direction {c}");
            }
        }
        // Voxels, decoded here from the gzip payload.
        let raw = gunzip(&bytes[d.data_start..]);
        let (expected, ty): (Vec<f64>, VoxelType) = match d.get("type") {
            "short" => (
                raw.chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]) as f64)
                    .collect(),
                VoxelType::I16,
            ),
            "unsigned short" => (
                raw.chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]) as f64)
                    .collect(),
                VoxelType::U16,
            ),
            "int" => (
                raw.chunks_exact(4)
                    .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f64)
                    .collect(),
                VoxelType::I32,
            ),
            other => panic!("{name}: unexpected type {other}"),
        };
        assert_eq!(img.voxel_type(), ty, "{name}");
        assert_eq!(img.to_f64_vec(), expected, "{name}: voxels");
    }
}

/// A minimal CSV row splitter (quoted fields may hold commas).
fn csv_row(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            _ => out.last_mut().unwrap().push(ch),
        }
    }
    out
}

#[test]
fn pyradiomics_nrrd_agree_with_the_pyradiomics_baseline() {
    // PyRadiomics (SimpleITK reader) recorded size, spacing, min, max and mean of each image
    // and the voxel count of label 1 of each mask.
    let csv = std::fs::read_to_string(data_file(
        "radiomics/pyradiomics/baseline/baseline_firstorder.csv",
    ))
    .unwrap();
    let mut rows = csv.lines().map(csv_row);
    let header = rows.next().unwrap();
    let rows: Vec<Vec<String>> = rows.collect();
    let value = |feature: &str, case: &str| -> String {
        let row = rows
            .iter()
            .find(|r| r[0] == feature)
            .unwrap_or_else(|| panic!("{feature}"));
        header
            .iter()
            .enumerate()
            .filter(|(_, h)| *h == case || h.starts_with(&format!("{case}_")))
            .map(|(i, _)| row[i].clone())
            .find(|v| !v.is_empty())
            .unwrap_or_else(|| panic!("{feature} {case}"))
    };
    let triple = |s: String| -> Vec<f64> {
        s.trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .map(|t| t.trim().parse().unwrap())
            .collect()
    };
    for case in ["brain1", "brain2", "breast1", "lung1", "lung2"] {
        let dir = data_dir().join("radiomics/pyradiomics");
        let img = read_image(&dir.join(format!("{case}_image.nrrd"))).unwrap();
        let label = read_image(&dir.join(format!("{case}_label.nrrd"))).unwrap();
        let g = img.geometry();
        assert!(
            g.matches(label.geometry(), 0.0),
            "{case}: image and label grids differ"
        );
        let size: Vec<f64> = g.size().iter().map(|&s| s as f64).collect();
        assert_eq!(
            size,
            triple(value("diagnostics_Image-original_Size", case)),
            "{case}"
        );
        assert_eq!(
            g.spacing().to_vec(),
            triple(value("diagnostics_Image-original_Spacing", case)),
            "{case}: spacing"
        );
        let v = img.to_f64_vec();
        let (lo, hi) = img.min_max().unwrap();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let num = |f: &str| value(f, case).parse::<f64>().unwrap();
        assert_eq!(
            lo,
            num("diagnostics_Image-original_Minimum"),
            "{case}: minimum"
        );
        assert_eq!(
            hi,
            num("diagnostics_Image-original_Maximum"),
            "{case}: maximum"
        );
        let want = num("diagnostics_Image-original_Mean");
        assert!(
            (mean - want).abs() <= 1e-12 * want.abs(),
            "{case}: mean {mean} vs {want}"
        );
        let count = label.to_f64_vec().iter().filter(|&&l| l == 1.0).count() as f64;
        assert_eq!(
            count,
            num("diagnostics_Mask-original_VoxelNum"),
            "{case}: label voxels"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// NIfTI: every file in the shared data folder, against a hand decoding of its header.

struct Nifti1 {
    dim: [i16; 8],
    datatype: i16,
    pixdim: [f32; 8],
    vox_offset: f32,
    scl: (f32, f32),
    units: u8,
    qform_code: i16,
    sform_code: i16,
    quat: [f32; 6],
    srow: [[f32; 4]; 3],
}

fn nifti1(b: &[u8]) -> Nifti1 {
    assert_eq!(
        i32::from_le_bytes(b[0..4].try_into().unwrap()),
        348,
        "little-endian NIfTI-1"
    );
    assert_eq!(&b[344..348], b"n+1\0");
    let i16_at = |o: usize| i16::from_le_bytes([b[o], b[o + 1]]);
    let f32_at = |o: usize| f32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    Nifti1 {
        dim: std::array::from_fn(|i| i16_at(40 + 2 * i)),
        datatype: i16_at(70),
        pixdim: std::array::from_fn(|i| f32_at(76 + 4 * i)),
        vox_offset: f32_at(108),
        scl: (f32_at(112), f32_at(116)),
        units: b[123],
        qform_code: i16_at(252),
        sform_code: i16_at(254),
        quat: std::array::from_fn(|i| f32_at(256 + 4 * i)),
        srow: std::array::from_fn(|r| std::array::from_fn(|c| f32_at(280 + 16 * r + 4 * c))),
    }
}

/// Hamilton product of quaternions `(w, x, y, z)`.
fn qmul(p: [f64; 4], q: [f64; 4]) -> [f64; 4] {
    [
        p[0] * q[0] - p[1] * q[1] - p[2] * q[2] - p[3] * q[3],
        p[0] * q[1] + p[1] * q[0] + p[2] * q[3] - p[3] * q[2],
        p[0] * q[2] - p[1] * q[3] + p[2] * q[0] + p[3] * q[1],
        p[0] * q[3] + p[1] * q[2] - p[2] * q[1] + p[3] * q[0],
    ]
}

/// The geometry the NIfTI standard assigns to a header (sform, else qform, else pixdim), in
/// LPS, computed without the crate: the qform rotates each basis vector by `q v q*`.
fn expected_geometry(h: &Nifti1) -> Geometry {
    let size = [
        h.dim[1] as usize,
        h.dim[2].max(1) as usize,
        h.dim[3].max(1) as usize,
    ];
    let size = [
        size[0],
        if h.dim[0] >= 2 { size[1] } else { 1 },
        if h.dim[0] >= 3 { size[2] } else { 1 },
    ];
    let mut ras = [[0.0f64; 4]; 3];
    if h.sform_code > 0 {
        ras = h.srow.map(|row| row.map(f64::from));
    } else if h.qform_code > 0 {
        let [b, c, d] = [h.quat[0], h.quat[1], h.quat[2]].map(f64::from);
        let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let n = (a * a + b * b + c * c + d * d).sqrt();
        let q = [a / n, b / n, c / n, d / n];
        let qc = [q[0], -q[1], -q[2], -q[3]];
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        for axis in 0..3 {
            let mut e = [0.0; 4];
            e[axis + 1] = 1.0;
            let v = qmul(qmul(q, e), qc);
            let s = h.pixdim[axis + 1] as f64 * if axis == 2 { qfac } else { 1.0 };
            for (row, component) in ras.iter_mut().zip(&v[1..]) {
                row[axis] = component * s;
            }
        }
        for (row, offset) in ras.iter_mut().zip(&h.quat[3..]) {
            row[3] = f64::from(*offset);
        }
    } else {
        for (r, row) in ras.iter_mut().enumerate() {
            row[r] = f64::from(h.pixdim[r + 1]);
        }
    }
    let unit = match h.units & 7 {
        1 => 1000.0,
        3 => 0.001,
        _ => 1.0,
    };
    let mut lps = [[0.0; 4]; 4];
    for r in 0..3 {
        for c in 0..4 {
            lps[r][c] = ras[r][c] * unit * if r < 2 { -1.0 } else { 1.0 };
        }
    }
    lps[3][3] = 1.0;
    Geometry::from_affine_lps(size, &lps).unwrap()
}

fn expected_voxels(h: &Nifti1, raw: &[u8]) -> Option<(VoxelType, Vec<f64>)> {
    let n: usize = (1..=3).map(|i| h.dim[i].max(1) as usize).product();
    let data = &raw[h.vox_offset as usize..];
    let take = |size: usize| data.chunks_exact(size).take(n);
    let values: (VoxelType, Vec<f64>) = match h.datatype {
        2 => (VoxelType::U8, data[..n].iter().map(|&v| v as f64).collect()),
        4 => (
            VoxelType::I16,
            take(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as f64)
                .collect(),
        ),
        512 => (
            VoxelType::U16,
            take(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as f64)
                .collect(),
        ),
        16 => (
            VoxelType::F32,
            take(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
        ),
        64 => (
            VoxelType::F64,
            take(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        _ => return None,
    };
    assert_eq!(values.1.len(), n);
    Some(values)
}

#[test]
fn every_shared_nifti_matches_its_hand_decoded_header() {
    let mut files = Vec::new();
    files_under(&data_dir(), &[".nii", ".nii.gz"], &mut files);
    assert!(
        files.len() >= 100,
        "expected the ~140 NIfTI files of the shared data"
    );
    let (mut loaded, mut refused, mut via_qform, mut via_sform) = (0, 0, 0, 0);
    for path in &files {
        let label = path.strip_prefix(data_dir()).unwrap().display().to_string();
        let raw = std::fs::read(path).unwrap();
        let raw = if raw.starts_with(&[0x1f, 0x8b]) {
            gunzip(&raw)
        } else {
            raw
        };
        let h = nifti1(&raw);
        assert_eq!(h.scl, (1.0, 0.0), "{label}: test expects unscaled data");
        let result = nifti::read(path);
        if matches!(h.datatype, 128 | 2304) {
            let err = result.expect_err(&label);
            assert!(matches!(err, IoError::Unsupported { .. }), "{label}: {err}");
            assert!(err.to_string().contains("RGB"), "{label}: {err}");
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
            refused += 1;
            continue;
        }
        let img = result.unwrap_or_else(|e| panic!("{label}: {e}"));
        let want = expected_geometry(&h);
        let e = geometry_error(img.geometry(), &want);
        assert!(
            e <= 1e-9,
            "{label}: geometry differs by {e:e}: {:?} vs {want:?}",
            img.geometry()
        );
        let (ty, voxels) = expected_voxels(&h, &raw).unwrap_or_else(|| panic!("{label}"));
        assert_eq!(img.voxel_type(), ty, "{label}");
        assert!(img.to_f64_vec() == voxels, "{label}: voxels differ");
        if h.sform_code > 0 {
            via_sform += 1;
        } else if h.qform_code > 0 {
            via_qform += 1;
        }
        loaded += 1;
    }
    // The shared data hold sform files (dicom2nifti, IBSI 1, MNI), qform-only files (IBSI 2,
    // STS) and RGB files that must be refused.
    assert!(
        via_sform >= 20 && via_qform >= 20 && refused >= 2,
        "{via_sform} {via_qform} {refused}"
    );
    assert_eq!(loaded + refused, files.len());
}

#[test]
fn ibsi_ct_phantom_image_and_mask() {
    let base = "radiomics/ibsi/ibsi_1_ct_radiomics_phantom/nifti";
    let img = read_image(&data_file(&format!("{base}/image/phantom.nii.gz"))).unwrap();
    let mask = read_image(&data_file(&format!("{base}/mask/mask.nii.gz"))).unwrap();
    assert_eq!(img.geometry().size(), [204, 201, 60]);
    assert_eq!(img.geometry(), mask.geometry());
    assert_eq!(img.voxel_type(), VoxelType::F32);
    assert_eq!(mask.voxel_type(), VoxelType::U8);
    // sform: srow_x = (-0.977, 0, 0, 174.3945) in RAS, so +x (L) with origin -174.3945 in LPS.
    let g = img.geometry();
    assert_eq!(g.direction(), voxide_core::geometry::IDENTITY);
    assert_eq!(g.spacing(), [0.977f32 as f64, 0.977f32 as f64, 3.0]);
    assert_eq!(
        g.origin(),
        [
            -(174.3945f32 as f64),
            -(79.6255f32 as f64),
            -100.4f32 as f64
        ]
    );
    assert_eq!(g.orientation_code(), "LPS");
    // The qform of the same file (code 2) describes the same grid.
    let mut raw =
        gunzip(&std::fs::read(data_file(&format!("{base}/image/phantom.nii.gz"))).unwrap());
    raw[254..256].copy_from_slice(&0i16.to_le_bytes());
    let via_qform = nifti::read_bytes(&raw).unwrap();
    assert!(geometry_error(via_qform.geometry(), g) < 1e-9);
    // The mask is binary and not empty.
    let labels = mask.to_f64_vec();
    assert!(labels.iter().all(|&v| v == 0.0 || v == 1.0));
    assert!(labels.iter().filter(|&&v| v == 1.0).count() > 1000);
}

#[test]
fn ibsi_sts_nifti_images_and_masks_share_grids() {
    let root = data_dir().join("multimodal/ibsi-sts-nifti");
    let mut patients: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    patients.sort();
    assert_eq!(
        patients.len(),
        6,
        "six STS patients expected in {}",
        root.display()
    );
    let mut pairs = 0;
    for patient in &patients {
        for modality in ["CT", "PET", "MR_T1"] {
            let image = patient.join(format!("{modality}_image.nii.gz"));
            let mask = patient.join(format!("{modality}_mask.nii.gz"));
            if !image.exists() {
                // The data set README says a few large CT files are absent.
                continue;
            }
            let img = read_image(&image).unwrap_or_else(|e| panic!("{}: {e}", image.display()));
            let m = read_image(&mask).unwrap_or_else(|e| panic!("{}: {e}", mask.display()));
            assert_eq!(img.geometry(), m.geometry(), "{}", image.display());
            assert_eq!(img.voxel_type(), VoxelType::F32);
            assert_eq!(m.voxel_type(), VoxelType::U8);
            let tumour = m.to_f64_vec().iter().filter(|&&v| v == 1.0).count();
            assert!(tumour > 0, "{}: empty mask", mask.display());
            // qform (0, 0, 1): a 180° turn about z in RAS, i.e. the identity in LPS.
            assert_eq!(img.geometry().direction(), voxide_core::geometry::IDENTITY);
            pairs += 1;
        }
    }
    assert!(pairs >= 15, "only {pairs} image/mask pairs found");
}

#[test]
fn dicom2nifti_oblique_and_4d_singleton_files() {
    // Philips enhanced: dim[0] = 4 with dim[4] = 1 reads as a 3D volume.
    let p = data_file("dicom/dicom2nifti/philips_enhanced/anatomical/001_ground_truth.nii.gz");
    let img = read_image(&p).unwrap();
    assert_eq!(img.geometry().size(), [256, 256, 8]);
    // Hitachi: an oblique sform; the direction is orthonormal to f32 precision.
    let p = data_file("dicom/dicom2nifti/hitachi/anatomical/001_ground_truth.nii.gz");
    let img = read_image(&p).unwrap();
    assert_eq!(img.voxel_type(), VoxelType::I16);
    assert!(img.geometry().is_orthonormal(1e-5));
    assert!(!common::is_axis_aligned(img.geometry()));
    // Float64 data.
    let p = data_file("dicom/dicom2nifti/generic/anatomical/002_non_isotropic_ground_truth.nii.gz");
    assert_eq!(read_image(&p).unwrap().voxel_type(), VoxelType::F64);
}

#[test]
fn real_files_survive_a_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for rel in [
        "radiomics/pyradiomics/breast1_image.nrrd",
        "radiomics/pyradiomics/prostate_phantom_subvolume.nrrd",
        "radiomics/ibsi/ibsi_1_ct_radiomics_phantom/nifti/mask/mask.nii.gz",
        "dicom/dicom2nifti/hitachi/anatomical/001_ground_truth.nii.gz",
    ] {
        let img: AnyImage = read_image(&data_file(rel)).unwrap();
        let a = dir.path().join("a.nrrd");
        voxide_io::write_image(&a, &img).unwrap();
        let back = read_image(&a).unwrap();
        assert_eq!(back.to_f64_vec(), img.to_f64_vec(), "{rel}");
        assert!(
            geometry_error(back.geometry(), img.geometry()) <= 1e-12,
            "{rel}"
        );
        let b = dir.path().join("b.nii.gz");
        nifti::write(&b, &img, voxide_io::NiftiVersion::V2).unwrap();
        let back = read_image(&b).unwrap();
        assert_eq!(back.to_f64_vec(), img.to_f64_vec(), "{rel}");
        assert!(
            geometry_error(back.geometry(), img.geometry()) <= 1e-12,
            "{rel}"
        );
        let c = dir.path().join("c.nii");
        voxide_io::write_image(&c, &img).unwrap();
        let back = read_image(&c).unwrap();
        assert_eq!(back.to_f64_vec(), img.to_f64_vec(), "{rel}");
        assert!(
            geometry_error(back.geometry(), img.geometry()) <= 1e-4,
            "{rel}"
        );
    }
}
