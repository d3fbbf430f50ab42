//! Write → read round trips: every voxel type, NIfTI-1, NIfTI-2, `.nii`, `.nii.gz`, `.nrrd`,
//! axis-aligned, flipped, permuted left-handed and oblique (right- and left-handed) geometries.

mod common;

use std::path::Path;

use common::{geometries, geometry_error, images, is_axis_aligned};
use voxide_core::{AnyImage, Geometry, Image};
use voxide_io::{nifti, nrrd, read_image, write_image, NiftiVersion};

/// Exact for f64 formats: values always; geometry bit-exact when axis-aligned, else to 1e-12.
fn assert_same_f64(label: &str, back: &AnyImage, img: &AnyImage) {
    assert_eq!(back.voxel_type(), img.voxel_type(), "{label}");
    assert_eq!(
        back.to_f64_vec(),
        img.to_f64_vec(),
        "{label}: voxel values differ"
    );
    let (gb, gi) = (back.geometry(), img.geometry());
    if is_axis_aligned(gi) {
        assert_eq!(gb, gi, "{label}: geometry must round-trip exactly");
        assert_eq!(back, img, "{label}");
    } else {
        let e = geometry_error(gb, gi);
        assert!(e <= 1e-12, "{label}: geometry error {e:e}\n{gb:?}\n{gi:?}");
    }
}

/// NIfTI-1 stores geometry as f32: exact for f32-representable axis-aligned geometries, else
/// within 1e-4.
fn assert_same_f32_geometry(label: &str, back: &AnyImage, img: &AnyImage) {
    assert_eq!(back.voxel_type(), img.voxel_type(), "{label}");
    assert_eq!(
        back.to_f64_vec(),
        img.to_f64_vec(),
        "{label}: voxel values differ"
    );
    let (gb, gi) = (back.geometry(), img.geometry());
    if is_axis_aligned(gi) {
        assert_eq!(
            gb, gi,
            "{label}: f32-exact geometry must round-trip exactly"
        );
        assert_eq!(back, img, "{label}");
    } else {
        let e = geometry_error(gb, gi);
        assert!(e <= 1e-4, "{label}: geometry error {e:e}");
    }
}

fn cases() -> Vec<(String, AnyImage)> {
    let mut out = Vec::new();
    for size in [[5, 4, 3], [7, 6, 1]] {
        for (name, g) in geometries(size) {
            for img in images(&g) {
                out.push((format!("{name} {size:?} {}", img.voxel_type()), img));
            }
        }
    }
    out
}

#[test]
fn nrrd_in_memory_every_type_and_geometry() {
    for (label, img) in cases() {
        let bytes = nrrd::to_bytes(&img);
        let back = nrrd::read_bytes(&bytes, None).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_same_f64(&format!("nrrd {label}"), &back, &img);
    }
}

#[test]
fn nifti2_in_memory_every_type_and_geometry() {
    for (label, img) in cases() {
        let bytes = nifti::to_bytes(&img, NiftiVersion::V2);
        assert_eq!(&bytes[4..12], b"n+2\0\r\n\x1a\n");
        let back = nifti::read_bytes(&bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_same_f64(&format!("nifti-2 {label}"), &back, &img);
    }
}

#[test]
fn nifti1_in_memory_every_type_and_geometry() {
    for (label, img) in cases() {
        let bytes = nifti::to_bytes(&img, NiftiVersion::V1);
        assert_eq!(&bytes[344..348], b"n+1\0");
        let back = nifti::read_bytes(&bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_same_f32_geometry(&format!("nifti-1 {label}"), &back, &img);
    }
}

#[test]
fn oblique_geometry_is_exact_where_the_products_are() {
    // Spacing a power of two and a rotation whose column norms round to exactly 1: every
    // product and quotient is exact, so even an oblique geometry round-trips bit for bit.
    let c = std::f64::consts::FRAC_1_SQRT_2;
    let dir = [[c, -c, 0.0], [c, c, 0.0], [0.0, 0.0, 1.0]];
    let g = Geometry::new(
        [3, 2, 2],
        [0.5, 2.0, 4.0],
        [-1.2345678901234, 98.7654321, 0.1],
        dir,
    )
    .unwrap();
    let img: AnyImage = Image::<i16>::from_vec(g, (0..12).collect()).unwrap().into();
    assert_eq!(nrrd::read_bytes(&nrrd::to_bytes(&img), None).unwrap(), img);
    assert_eq!(
        nifti::read_bytes(&nifti::to_bytes(&img, NiftiVersion::V2)).unwrap(),
        img
    );
}

#[test]
fn files_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    for (label, img) in cases().into_iter().step_by(5) {
        for name in ["a.nii", "a.nii.gz", "a.NII.GZ", "a.nrrd"] {
            let path = dir.path().join(name);
            write_image(&path, &img).unwrap_or_else(|e| panic!("{label} {name}: {e}"));
            let bytes = std::fs::read(&path).unwrap();
            let gz = bytes.starts_with(&[0x1f, 0x8b]);
            assert_eq!(gz, name.to_ascii_lowercase().ends_with(".gz"), "{name}");
            let back = read_image(&path).unwrap_or_else(|e| panic!("{label} {name}: {e}"));
            if name.ends_with(".nrrd") {
                let end = bytes.windows(2).position(|w| w == b"\n\n").unwrap();
                let header = String::from_utf8_lossy(&bytes[..end]);
                assert!(header.contains("\nencoding: gzip\n"), "{header}");
                assert_same_f64(&format!("{name} {label}"), &back, &img);
            } else {
                assert_same_f32_geometry(&format!("{name} {label}"), &back, &img);
            }
        }
        // NIfTI-2 files, raw and gzipped.
        for name in ["b.nii", "b.nii.gz"] {
            let path = dir.path().join(name);
            nifti::write(&path, &img, NiftiVersion::V2).unwrap();
            let back = nifti::read(&path).unwrap();
            assert_same_f64(&format!("{name} v2 {label}"), &back, &img);
        }
    }
    // No temporary files are left behind.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["a.NII.GZ", "a.nii", "a.nii.gz", "a.nrrd", "b.nii", "b.nii.gz"]
    );
}

fn le_i16(b: &[u8], at: usize) -> i16 {
    i16::from_le_bytes([b[at], b[at + 1]])
}
fn le_f32(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

#[test]
fn nifti1_header_fields_as_specified() {
    let (_, g) = geometries([5, 4, 3]).remove(4); // oblique left-handed
    for img in images(&g) {
        let b = nifti::to_bytes(&img, NiftiVersion::V1);
        let n = g.len() * img.voxel_type().size();
        assert_eq!(b.len(), 352 + n);
        assert_eq!(i32::from_le_bytes(b[0..4].try_into().unwrap()), 348);
        assert_eq!(&b[348..352], &[0, 0, 0, 0], "extension bytes");
        let dims: Vec<i16> = (0..8).map(|i| le_i16(&b, 40 + 2 * i)).collect();
        assert_eq!(dims, [3, 5, 4, 3, 1, 1, 1, 1]);
        let (code, bitpix) = match img {
            AnyImage::U8(_) => (2, 8),
            AnyImage::I16(_) => (4, 16),
            AnyImage::U16(_) => (512, 16),
            AnyImage::I32(_) => (8, 32),
            AnyImage::F32(_) => (16, 32),
            AnyImage::F64(_) => (64, 64),
        };
        assert_eq!((le_i16(&b, 70), le_i16(&b, 72)), (code, bitpix));
        assert_eq!(le_f32(&b, 76), -1.0, "qfac of a left-handed geometry");
        for i in 0..3 {
            assert_eq!(le_f32(&b, 80 + 4 * i), g.spacing()[i] as f32, "pixdim");
        }
        assert_eq!(le_f32(&b, 108), 352.0);
        assert_eq!((le_f32(&b, 112), le_f32(&b, 116)), (1.0, 0.0));
        assert_eq!(b[123], 2, "xyzt_units mm");
        assert_eq!(
            (le_i16(&b, 252), le_i16(&b, 254)),
            (1, 1),
            "qform/sform codes"
        );
        // srow is the RAS affine: x and y rows of the LPS affine negated.
        let a = g.affine_lps();
        for (r, row) in a.iter().take(3).enumerate() {
            let sign = if r < 2 { -1.0 } else { 1.0 };
            for (c, v) in row.iter().enumerate() {
                assert_eq!(le_f32(&b, 280 + 16 * r + 4 * c), (sign * v) as f32);
            }
        }
        assert_eq!(&b[344..348], b"n+1\0");
    }
}

/// Zeroes the sform code so that the reader must use the qform.
fn qform_only(mut bytes: Vec<u8>, version: NiftiVersion) -> Vec<u8> {
    match version {
        NiftiVersion::V1 => bytes[254..256].copy_from_slice(&0i16.to_le_bytes()),
        NiftiVersion::V2 => bytes[348..352].copy_from_slice(&0i32.to_le_bytes()),
    }
    bytes
}

#[test]
fn written_qform_matches_the_geometry() {
    for size in [[5, 4, 3], [3, 3, 1]] {
        for (name, g) in geometries(size) {
            let img: AnyImage = Image::<u8>::filled(g.clone(), 3).into();
            for (version, tol) in [(NiftiVersion::V1, 1e-5), (NiftiVersion::V2, 1e-12)] {
                let bytes = qform_only(nifti::to_bytes(&img, version), version);
                let back = nifti::read_bytes(&bytes).unwrap();
                let e = geometry_error(back.geometry(), &g);
                assert!(e <= tol, "{name} {version:?}: qform geometry error {e:e}");
            }
        }
    }
}

#[test]
fn large_sizes_switch_to_nifti2() {
    let g = Geometry::with_size([40_000, 1, 2]);
    let img: AnyImage = Image::<u8>::filled(g, 7).into();
    let b = nifti::to_bytes(&img, NiftiVersion::V1);
    assert_eq!(i32::from_le_bytes(b[0..4].try_into().unwrap()), 540);
    assert_eq!(nifti::read_bytes(&b).unwrap(), img);
}

#[test]
fn writing_into_a_missing_folder_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let img: AnyImage = Image::<u8>::filled(Geometry::with_size([2, 2, 2]), 1).into();
    for name in ["x.nii", "x.nii.gz", "x.nrrd"] {
        let path = dir.path().join("no/such/folder").join(name);
        let err = write_image(&path, &img).unwrap_err();
        match &err {
            voxide_io::IoError::Io { path: p, source } => {
                assert_eq!(p, &path);
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected IoError::Io, got {other:?}"),
        }
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
    // A failed rename (the target is a folder) leaves neither the target nor a temporary file.
    let target = dir.path().join("taken.nii");
    std::fs::create_dir(&target).unwrap();
    assert!(matches!(
        write_image(&target, &img),
        Err(voxide_io::IoError::Io { .. })
    ));
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(entries.len(), 1, "temporary file left behind: {entries:?}");
    assert!(target.is_dir());
}

#[test]
fn unknown_extensions_and_nhdr_writing_are_refused() {
    let img: AnyImage = Image::<u8>::filled(Geometry::with_size([2, 2, 2]), 1).into();
    let dir = tempfile::tempdir().unwrap();
    for name in ["x.mha", "x.nhdr", "x.img"] {
        let err = write_image(&dir.path().join(name), &img).unwrap_err();
        assert!(
            matches!(err, voxide_io::IoError::Unsupported { .. }),
            "{name}: {err}"
        );
    }
    assert!(matches!(
        read_image(Path::new("whatever.mha")),
        Err(voxide_io::IoError::Unsupported { .. })
    ));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
