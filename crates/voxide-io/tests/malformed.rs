//! Damaged and hostile inputs: each gives the right `IoError` variant, never a panic, and never
//! an allocation beyond the data actually present.

mod common;

use common::{data_file, gunzip, gzip};
use voxide_core::{AnyImage, Geometry, Image};
use voxide_io::{nifti, nrrd, read_image, IoError, NiftiVersion};

const PHANTOM: &str = "radiomics/ibsi/ibsi_1_ct_radiomics_phantom/nifti/image/phantom.nii.gz";
const BRAIN1: &str = "radiomics/pyradiomics/brain1_image.nrrd";

fn small_image() -> AnyImage {
    let g = Geometry::new(
        [4, 3, 2],
        [0.5, 0.5, 2.0],
        [1.0, 2.0, 3.0],
        voxide_core::geometry::IDENTITY,
    )
    .unwrap();
    Image::<i16>::from_vec(g, (0..24).collect()).unwrap().into()
}

#[test]
fn truncated_real_nifti() {
    let path = data_file(PHANTOM);
    let gz = std::fs::read(&path).unwrap();
    let raw = gunzip(&gz);
    let need = 352 + 204 * 201 * 60 * 4;
    assert_eq!(raw.len(), need);

    // Cut after the header.
    match nifti::read_bytes(&raw[..1000]).unwrap_err() {
        IoError::Truncated {
            expected,
            found,
            what,
            ..
        } => {
            assert_eq!((expected, found), (need as u64, 1000));
            assert!(what.contains("204x201x60 float32"), "{what}");
        }
        other => panic!("expected Truncated, got {other}"),
    }
    // Cut inside the header.
    assert!(matches!(
        nifti::read_bytes(&raw[..200]),
        Err(IoError::Truncated { .. })
    ));
    assert!(matches!(
        nifti::read_bytes(&raw[..2]),
        Err(IoError::Truncated { .. })
    ));
    // One voxel byte short.
    assert!(matches!(
        nifti::read_bytes(&raw[..need - 1]),
        Err(IoError::Truncated { .. })
    ));
    // A gzip stream cut in half.
    let err = nifti::read_bytes(&gz[..gz.len() / 2]).unwrap_err();
    assert!(matches!(err, IoError::Truncated { .. }), "{err}");
    // Through a file: the message names the file and says what to do.
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.nii.gz");
    std::fs::write(&cut, &gz[..gz.len() / 3]).unwrap();
    let err = read_image(&cut).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, IoError::Truncated { .. }), "{msg}");
    assert!(msg.contains(&cut.display().to_string()), "{msg}");
    assert!(msg.contains("incomplete"), "{msg}");
}

#[test]
fn truncated_real_nrrd() {
    let bytes = std::fs::read(data_file(BRAIN1)).unwrap();
    let err = nrrd::read_bytes(&bytes[..bytes.len() / 2], None).unwrap_err();
    match &err {
        IoError::Truncated {
            expected, found, ..
        } => {
            assert_eq!(*expected, 256 * 256 * 25 * 2);
            assert!(*found < *expected);
        }
        other => panic!("expected Truncated, got {other}"),
    }
    // Raw attached data one byte short.
    let mut raw =
        b"NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nendian: little\nencoding: raw\n\n"
            .to_vec();
    raw.extend_from_slice(&[0; 47]);
    assert!(matches!(
        nrrd::read_bytes(&raw, None),
        Err(IoError::Truncated {
            expected: 48,
            found: 47,
            ..
        })
    ));
    // ASCII data short of values.
    let txt = b"NRRD0004\ntype: short\ndimension: 1\nsizes: 5\nencoding: ascii\n\n1 2 3\n";
    assert!(matches!(
        nrrd::read_bytes(txt, None),
        Err(IoError::Truncated {
            expected: 5,
            found: 3,
            unit: "values",
            ..
        })
    ));
    // A header that never ends.
    let open = b"NRRD0004\ntype: short\ndimension: 1\nsizes: 5\nencoding: raw\n";
    assert!(matches!(
        nrrd::read_bytes(open, None),
        Err(IoError::Truncated { .. })
    ));
}

#[test]
fn corrupt_gzip() {
    let raw = nifti::to_bytes(&small_image(), NiftiVersion::V1);
    let gz = gzip(&raw);
    // Unknown compression method in the gzip header.
    let mut bad = gz.clone();
    bad[2] = 9;
    let err = nifti::read_bytes(&bad).unwrap_err();
    assert!(matches!(err, IoError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("gzip"), "{err}");
    // Wrong CRC in the trailer.
    let mut bad = gz.clone();
    let n = bad.len();
    bad[n - 8] ^= 0xff;
    let err = nifti::read_bytes(&bad).unwrap_err();
    assert!(matches!(err, IoError::Malformed { .. }), "{err}");
    // The same for NRRD.
    let nrrd_bytes = nrrd::to_bytes(&small_image());
    let mut bad = nrrd_bytes.clone();
    let n = bad.len();
    bad[n - 8] ^= 0xff;
    assert!(matches!(
        nrrd::read_bytes(&bad, None),
        Err(IoError::Malformed { .. })
    ));
    // Not gzip at all although the header says so.
    let h = b"NRRD0004\ntype: short\ndimension: 1\nsizes: 2\nencoding: gzip\n\nplain";
    assert!(matches!(
        nrrd::read_bytes(h, None),
        Err(IoError::Malformed { .. })
    ));
    // Damaged deflate data: some error, never a panic or a wrong image.
    let real = std::fs::read(data_file(PHANTOM)).unwrap();
    let mut bad = real.clone();
    for b in bad.iter_mut().skip(5000).take(64) {
        *b = !*b;
    }
    assert!(nifti::read_bytes(&bad).is_err());
}

#[test]
fn wrong_magic() {
    let mut b = nifti::to_bytes(&small_image(), NiftiVersion::V1);
    b[344..348].copy_from_slice(b"abc\0");
    let err = nifti::read_bytes(&b).unwrap_err();
    assert!(matches!(err, IoError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("magic"), "{err}");
    let err = nifti::read_bytes(b"this is a text file, not an image at all").unwrap_err();
    assert!(matches!(err, IoError::Malformed { .. }), "{err}");
    let mut b2 = nifti::to_bytes(&small_image(), NiftiVersion::V2);
    b2[4..8].copy_from_slice(b"n+1\0");
    assert!(matches!(
        nifti::read_bytes(&b2),
        Err(IoError::Malformed { .. })
    ));

    let err = nrrd::read_bytes(b"P5\n4 3\n255\n", None).unwrap_err();
    assert!(matches!(err, IoError::Malformed { .. }), "{err}");
    let err = nrrd::read_bytes(b"NRRD0009\ntype: short\n\n", None).unwrap_err();
    assert!(matches!(err, IoError::Malformed { .. }), "{err}");
}

/// A NIfTI-2 header with arbitrary dims, followed by `extra` bytes.
fn nifti2_with_dims(dims: [i64; 4], extra: usize) -> Vec<u8> {
    let mut b = nifti::to_bytes(&small_image(), NiftiVersion::V2);
    b.truncate(544);
    for (i, d) in dims.iter().enumerate() {
        b[16 + 8 * i..24 + 8 * i].copy_from_slice(&d.to_le_bytes());
    }
    b.extend(std::iter::repeat_n(0u8, extra));
    b
}

#[test]
fn absurd_and_negative_dims() {
    // 2^40 voxels declared in a file of a few hundred bytes: truncated, nothing allocated.
    let b = nifti2_with_dims([3, 1 << 14, 1 << 14, 1 << 12], 0);
    assert!(b.len() < 600);
    match nifti::read_bytes(&b).unwrap_err() {
        IoError::Truncated { expected, .. } => assert_eq!(expected, 544 + (1u64 << 40) * 2),
        other => panic!("expected Truncated, got {other}"),
    }
    // The same gzipped: decompression stops at the data actually present.
    assert!(matches!(
        nifti::read_bytes(&gzip(&b)),
        Err(IoError::Truncated { .. })
    ));
    // Sizes whose product overflows.
    let b = nifti2_with_dims([3, i64::MAX, i64::MAX, 2], 0);
    assert!(matches!(
        nifti::read_bytes(&b),
        Err(IoError::Malformed { .. })
    ));
    // Negative and zero sizes, bad dim[0].
    for dims in [
        [3, 4, -3, 2],
        [3, 4, 0, 2],
        [0, 4, 3, 2],
        [9, 4, 3, 2],
        [-1, 4, 3, 2],
    ] {
        let b = nifti2_with_dims(dims, 48);
        let err = nifti::read_bytes(&b).unwrap_err();
        assert!(matches!(err, IoError::Malformed { .. }), "{dims:?}: {err}");
    }
    let mut b = nifti::to_bytes(&small_image(), NiftiVersion::V1);
    b[44..46].copy_from_slice(&(-5i16).to_le_bytes());
    let err = nifti::read_bytes(&b).unwrap_err();
    assert!(matches!(err, IoError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("dim[2] is -5"), "{err}");
    // A negative vox_offset.
    let mut b = nifti::to_bytes(&small_image(), NiftiVersion::V1);
    b[108..112].copy_from_slice(&(-352.0f32).to_le_bytes());
    assert!(matches!(
        nifti::read_bytes(&b),
        Err(IoError::Malformed { .. })
    ));

    // NRRD: huge sizes in a tiny file, raw and gzip; overflowing sizes.
    let huge =
        "NRRD0004\ntype: double\ndimension: 3\nsizes: 100000 100000 100000\nendian: little\n";
    let raw = format!("{huge}encoding: raw\n\n0123456789");
    assert!(matches!(
        nrrd::read_bytes(raw.as_bytes(), None),
        Err(IoError::Truncated { .. })
    ));
    let mut gz = format!("{huge}encoding: gzip\n\n").into_bytes();
    gz.extend_from_slice(&gzip(&[0u8; 1000]));
    assert!(matches!(
        nrrd::read_bytes(&gz, None),
        Err(IoError::Truncated { .. })
    ));
    let over =
        "NRRD0004\ntype: short\ndimension: 3\nsizes: 18446744073709551615 2 2\nencoding: raw\n\n";
    assert!(matches!(
        nrrd::read_bytes(over.as_bytes(), None),
        Err(IoError::Malformed { .. })
    ));
    let neg = "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 -3 2\nencoding: raw\n\n";
    assert!(matches!(
        nrrd::read_bytes(neg.as_bytes(), None),
        Err(IoError::Malformed { .. })
    ));
    let zero = "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 0 2\nencoding: raw\n\n";
    assert!(matches!(
        nrrd::read_bytes(zero.as_bytes(), None),
        Err(IoError::Malformed { .. })
    ));
}

#[test]
fn nrrd_missing_required_fields() {
    let full = "NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n";
    for field in ["sizes", "type", "dimension", "encoding"] {
        let h: String = full
            .lines()
            .filter(|l| !l.starts_with(field))
            .map(|l| format!("{l}\n"))
            .collect();
        let mut b = format!("{h}\n").into_bytes();
        b.extend_from_slice(&[0; 16]);
        let err = nrrd::read_bytes(&b, None).unwrap_err();
        assert!(matches!(err, IoError::Malformed { .. }), "{field}: {err}");
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
    // sizes disagreeing with dimension; directions disagreeing with dimension.
    let b = b"NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2\nencoding: raw\n\n\0\0\0\0\0\0\0\0";
    assert!(matches!(
        nrrd::read_bytes(b, None),
        Err(IoError::Malformed { .. })
    ));
    let b = b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 2\nspace: LPS\n\
              space directions: (1,0,0) (0,1,0)\nencoding: raw\n\n\0\0\0\0\0\0\0\0";
    assert!(matches!(
        nrrd::read_bytes(b, None),
        Err(IoError::Malformed { .. })
    ));
    // A garbage header line.
    let b =
        b"NRRD0004\ntype: uchar\nthis is not a field\ndimension: 1\nsizes: 1\nencoding: raw\n\n\0";
    assert!(matches!(
        nrrd::read_bytes(b, None),
        Err(IoError::Malformed { .. })
    ));
    // Parallel axes: a geometry error.
    let b = b"NRRD0004\ntype: uchar\ndimension: 3\nsizes: 1 1 1\nspace: LPS\n\
              space directions: (1,0,0) (2,0,0) (0,0,1)\nencoding: raw\n\n\0";
    assert!(matches!(
        nrrd::read_bytes(b, None),
        Err(IoError::Geometry { .. })
    ));
}

#[test]
fn bzip2_and_other_unsupported_nrrd() {
    let b = b"NRRD0004\ntype: short\ndimension: 1\nsizes: 2\nencoding: bzip2\n\nBZh9";
    let err = nrrd::read_bytes(b, None).unwrap_err();
    assert!(matches!(err, IoError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("bzip2"), "{err}");
    let b =
        b"NRRD0004\ntype: block\nblock size: 4\ndimension: 1\nsizes: 2\nencoding: raw\n\n12345678";
    assert!(matches!(
        nrrd::read_bytes(b, None),
        Err(IoError::Unsupported { .. })
    ));
    let b =
        b"NRRD0004\ntype: short\ndimension: 1\nsizes: 2\nspace dimension: 2\nencoding: raw\n\n1234";
    assert!(matches!(
        nrrd::read_bytes(b, None),
        Err(IoError::Unsupported { .. })
    ));
}

#[test]
fn missing_input_files_are_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["none.nii", "none.nii.gz", "none.nrrd", "none.nhdr"] {
        let p = dir.path().join(name);
        match read_image(&p).unwrap_err() {
            IoError::Io { path, .. } => assert_eq!(path, p),
            other => panic!("{name}: expected Io, got {other}"),
        }
    }
}

/// xorshift64*: deterministic pseudo-random numbers for the mutation loop.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], header_len: usize) -> Vec<u8> {
    let mut b = seed.to_vec();
    match rng.below(4) {
        0 => b.truncate(rng.below(b.len() + 1)),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(header_len.min(b.len()));
                b[i] = rng.next() as u8;
            }
        }
        2 => {
            // Plausible-looking but extreme numbers in the header.
            let i = rng.below(header_len.min(b.len()));
            let junk = [
                "-1",
                "0",
                "9223372036854775807",
                "65535",
                "1e308",
                "nan",
                " ",
                "\n\n",
            ];
            let j = junk[rng.below(junk.len())].as_bytes();
            let end = (i + j.len()).min(b.len());
            b.splice(i..end, j.iter().copied());
        }
        _ => {
            let i = rng.below(b.len());
            let v = rng.next() as u8;
            b[i] ^= v | 1;
        }
    }
    b
}

#[test]
fn mutated_inputs_never_panic() {
    let img = small_image();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let nii1 = nifti::to_bytes(&img, NiftiVersion::V1);
    let nii2 = nifti::to_bytes(&img, NiftiVersion::V2);
    let nii_gz = gzip(&nii1);
    let nrrd_gz = nrrd::to_bytes(&img);
    let nrrd_header_len = nrrd_gz.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    let mut nrrd_raw = nrrd_gz[..nrrd_header_len].to_vec();
    nrrd_raw = String::from_utf8(nrrd_raw)
        .unwrap()
        .replace("gzip", "raw")
        .into_bytes();
    let raw_header_len = nrrd_raw.len();
    let mut voxels = Vec::new();
    for v in 0..24i16 {
        voxels.extend_from_slice(&v.to_le_bytes());
    }
    nrrd_raw.extend_from_slice(&voxels);
    let mut ok = 0;
    for _ in 0..3000 {
        for (seed, header_len) in [(&nii1, 348), (&nii2, 540), (&nii_gz, 30)] {
            let b = mutate(&mut rng, seed, header_len);
            ok += usize::from(nifti::read_bytes(&b).is_ok());
        }
        for (seed, header_len) in [(&nrrd_gz, nrrd_header_len), (&nrrd_raw, raw_header_len)] {
            let b = mutate(&mut rng, seed, header_len);
            ok += usize::from(nrrd::read_bytes(&b, None).is_ok());
        }
    }
    // Many mutations are harmless (comments, descrip, voxel values): they still read.
    assert!(ok > 1000, "{ok}");
}
