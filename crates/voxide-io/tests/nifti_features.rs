//! NIfTI reading rules on hand-built headers: byte order, scaling, data types, dimensions,
//! units, geometry precedence, NIfTI-2 big endian.

mod common;

use common::geometry_error;
use voxide_core::{AnyImage, Geometry, Image, VoxelType};
use voxide_io::{nifti, IoError, NiftiVersion};

/// A NIfTI-1 header built field by field (defaults: 2x2x2 int16, no geometry codes).
#[derive(Clone)]
struct H1 {
    big: bool,
    dim: [i16; 8],
    datatype: i16,
    bitpix: i16,
    pixdim: [f32; 8],
    vox_offset: f32,
    slope: f32,
    inter: f32,
    units: u8,
    qform_code: i16,
    sform_code: i16,
    quat: [f32; 6],
    srow: [[f32; 4]; 3],
    magic: [u8; 4],
}

impl Default for H1 {
    fn default() -> Self {
        H1 {
            big: false,
            dim: [3, 2, 2, 2, 1, 1, 1, 1],
            datatype: 4,
            bitpix: 16,
            pixdim: [1.0; 8],
            vox_offset: 352.0,
            slope: 0.0,
            inter: 0.0,
            units: 2,
            qform_code: 0,
            sform_code: 0,
            quat: [0.0; 6],
            srow: [[0.0; 4]; 3],
            magic: *b"n+1\0",
        }
    }
}

impl H1 {
    fn put(&self, b: &mut [u8], at: usize, le: &[u8]) {
        let mut v = le.to_vec();
        if self.big {
            v.reverse();
        }
        b[at..at + v.len()].copy_from_slice(&v);
    }

    /// Header (+ extension bytes up to `vox_offset`) followed by `data` (already in the
    /// header's byte order).
    fn file(&self, data: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; (self.vox_offset as usize).max(348)];
        self.put(&mut b, 0, &348i32.to_le_bytes());
        for (i, d) in self.dim.iter().enumerate() {
            self.put(&mut b, 40 + 2 * i, &d.to_le_bytes());
        }
        self.put(&mut b, 70, &self.datatype.to_le_bytes());
        self.put(&mut b, 72, &self.bitpix.to_le_bytes());
        for (i, p) in self.pixdim.iter().enumerate() {
            self.put(&mut b, 76 + 4 * i, &p.to_le_bytes());
        }
        self.put(&mut b, 108, &self.vox_offset.to_le_bytes());
        self.put(&mut b, 112, &self.slope.to_le_bytes());
        self.put(&mut b, 116, &self.inter.to_le_bytes());
        b[123] = self.units;
        self.put(&mut b, 252, &self.qform_code.to_le_bytes());
        self.put(&mut b, 254, &self.sform_code.to_le_bytes());
        for (i, q) in self.quat.iter().enumerate() {
            self.put(&mut b, 256 + 4 * i, &q.to_le_bytes());
        }
        for r in 0..3 {
            for c in 0..4 {
                self.put(&mut b, 280 + 16 * r + 4 * c, &self.srow[r][c].to_le_bytes());
            }
        }
        b[344..348].copy_from_slice(&self.magic);
        b.extend_from_slice(data);
        b
    }
}

fn le16(v: &[i16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn big_endian_equals_little_endian() {
    let values: Vec<i16> = vec![-300, 2, 3, 4, 5, 6, 7, 32000];
    let mut h = H1 {
        sform_code: 1,
        srow: [
            [-0.5, 0.0, 0.0, 10.0],
            [0.0, 0.75, 0.0, -20.0],
            [0.0, 0.0, 2.0, 5.5],
        ],
        ..H1::default()
    };
    let le = nifti::read_bytes(&h.file(&le16(&values))).unwrap();
    h.big = true;
    let be_data: Vec<u8> = values.iter().flat_map(|x| x.to_be_bytes()).collect();
    let be = nifti::read_bytes(&h.file(&be_data)).unwrap();
    assert_eq!(le, be);
    assert_eq!(
        le.to_f64_vec(),
        values.iter().map(|&v| v as f64).collect::<Vec<_>>()
    );
    // RAS (-0.5, 0.75, 2) → LPS axes +x, -y, +z.
    let g = le.geometry();
    assert_eq!(g.spacing(), [0.5, 0.75, 2.0]);
    assert_eq!(g.origin(), [-10.0, 20.0, 5.5]);
    assert_eq!(g.orientation_code(), "LAS");
}

#[test]
fn scl_slope_scales_to_float() {
    let values = [0i16, 1, 2, 3, -4, 5, 6, 7];
    let h = H1 {
        slope: 2.0,
        inter: -1.0,
        ..H1::default()
    };
    let img = nifti::read_bytes(&h.file(&le16(&values))).unwrap();
    assert_eq!(img.voxel_type(), VoxelType::F32);
    let want: Vec<f64> = values.iter().map(|&v| v as f64 * 2.0 - 1.0).collect();
    assert_eq!(img.to_f64_vec(), want);

    // int32 and float64 sources keep f64 precision.
    let h32 = H1 {
        datatype: 8,
        bitpix: 32,
        slope: 0.5,
        inter: 0.25,
        ..H1::default()
    };
    let data: Vec<u8> = (0..8)
        .flat_map(|v: i32| (v * 1_000_001).to_le_bytes())
        .collect();
    let img = nifti::read_bytes(&h32.file(&data)).unwrap();
    assert_eq!(img.voxel_type(), VoxelType::F64);
    assert_eq!(img.to_f64_vec()[7], 7_000_007.0 * 0.5 + 0.25);

    // Slope 0, NaN, or (1, 0): no scaling, the type is kept.
    for (slope, inter) in [(0.0, 5.0), (f32::NAN, 0.0), (1.0, 0.0)] {
        let h = H1 {
            slope,
            inter,
            ..H1::default()
        };
        let img = nifti::read_bytes(&h.file(&le16(&values))).unwrap();
        assert_eq!(img.voxel_type(), VoxelType::I16, "slope {slope}");
    }
    // Slope 1 with an intercept does scale.
    let h = H1 {
        slope: 1.0,
        inter: 1024.0,
        ..H1::default()
    };
    let img = nifti::read_bytes(&h.file(&le16(&values))).unwrap();
    assert_eq!(img.to_f64_vec()[0], 1024.0);
}

#[test]
fn datatypes_without_a_voxide_type_widen() {
    let int8 = H1 {
        datatype: 256,
        bitpix: 8,
        ..H1::default()
    };
    let img = nifti::read_bytes(&int8.file(&[0x80, 0xff, 0, 1, 2, 3, 4, 0x7f])).unwrap();
    assert_eq!(img.voxel_type(), VoxelType::I16);
    assert_eq!(
        img.to_f64_vec(),
        [-128.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 127.0]
    );

    let u32s: Vec<u8> = [0u32, 1, u32::MAX, 4, 5, 6, 7, 8]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let uint32 = H1 {
        datatype: 768,
        bitpix: 32,
        ..H1::default()
    };
    let img = nifti::read_bytes(&uint32.file(&u32s)).unwrap();
    assert_eq!(img.voxel_type(), VoxelType::F64);
    assert_eq!(img.to_f64_vec()[2], u32::MAX as f64);

    let i64s: Vec<u8> = (0..8i64)
        .flat_map(|v| (v - 1_000_000_000_000).to_le_bytes())
        .collect();
    let int64 = H1 {
        datatype: 1024,
        bitpix: 64,
        ..H1::default()
    };
    let img = nifti::read_bytes(&int64.file(&i64s)).unwrap();
    assert_eq!(img.to_f64_vec()[0], -1e12);

    let u64s: Vec<u8> = (0..8u64).flat_map(|v| (v << 40).to_le_bytes()).collect();
    let uint64 = H1 {
        datatype: 1280,
        bitpix: 64,
        ..H1::default()
    };
    let img = nifti::read_bytes(&uint64.file(&u64s)).unwrap();
    assert_eq!(img.to_f64_vec()[1], (1u64 << 40) as f64);
}

#[test]
fn unsupported_datatypes_are_named() {
    for (code, name) in [
        (32, "complex64"),
        (128, "RGB24"),
        (2304, "RGBA32"),
        (1792, "complex128"),
    ] {
        let h = H1 {
            datatype: code,
            ..H1::default()
        };
        let err = nifti::read_bytes(&h.file(&[0; 256])).unwrap_err();
        assert!(matches!(err, IoError::Unsupported { .. }), "{code}: {err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    let h = H1 {
        datatype: 99,
        ..H1::default()
    };
    assert!(matches!(
        nifti::read_bytes(&h.file(&[0; 64])),
        Err(IoError::Malformed { .. })
    ));
}

#[test]
fn two_and_one_dimensional_images_get_one_slice() {
    let h = H1 {
        dim: [2, 4, 3, 0, 0, 0, 0, 0],
        datatype: 2,
        bitpix: 8,
        ..H1::default()
    };
    let img = nifti::read_bytes(&h.file(&[7; 12])).unwrap();
    assert_eq!(img.geometry().size(), [4, 3, 1]);
    let h = H1 {
        dim: [1, 5, -1, -1, 0, 0, 0, 0],
        datatype: 2,
        bitpix: 8,
        ..H1::default()
    };
    let img = nifti::read_bytes(&h.file(&[7; 5])).unwrap();
    assert_eq!(img.geometry().size(), [5, 1, 1]);
}

#[test]
fn higher_dimensions_only_when_singleton() {
    let h = H1 {
        dim: [5, 2, 2, 2, 1, 1, 1, 1],
        ..H1::default()
    };
    assert_eq!(
        nifti::read_bytes(&h.file(&[0; 16]))
            .unwrap()
            .geometry()
            .size(),
        [2, 2, 2]
    );
    let h = H1 {
        dim: [4, 2, 2, 2, 5, 1, 1, 1],
        ..H1::default()
    };
    let err = nifti::read_bytes(&h.file(&[0; 80])).unwrap_err();
    assert!(matches!(err, IoError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("4D NIfTI"), "{err}");
    assert!(err.to_string().contains("not supported yet"), "{err}");
}

#[test]
fn spatial_units_scale_to_millimetres() {
    // Metres: pixdim 0.001 m = 1 mm; the sform is scaled too.
    let h = H1 {
        units: 1 | 8, // metres, seconds
        pixdim: [1.0, 0.001, 0.002, 0.003, 1.0, 1.0, 1.0, 1.0],
        sform_code: 1,
        srow: [
            [0.001, 0.0, 0.0, 0.1],
            [0.0, 0.002, 0.0, 0.0],
            [0.0, 0.0, 0.003, -0.2],
        ],
        ..H1::default()
    };
    let g = nifti::read_bytes(&h.file(&[0; 16]))
        .unwrap()
        .geometry()
        .clone();
    let want = Geometry::new(
        [2, 2, 2],
        [1.0, 2.0, 3.0],
        [-100.0, 0.0, -200.0],
        [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
    )
    .unwrap();
    assert!(geometry_error(&g, &want) < 1e-5, "{g:?}"); // f32 fields
                                                        // Microns, pixdim only.
    let h = H1 {
        units: 3,
        pixdim: [1.0, 500.0, 250.0, 1000.0, 1.0, 1.0, 1.0, 1.0],
        ..H1::default()
    };
    let g = nifti::read_bytes(&h.file(&[0; 16]))
        .unwrap()
        .geometry()
        .clone();
    assert_eq!(g.spacing(), [0.5, 0.25, 1.0]);
    // Unknown units are millimetres.
    let h = H1 {
        units: 0,
        pixdim: [1.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0],
        ..H1::default()
    };
    let g = nifti::read_bytes(&h.file(&[0; 16]))
        .unwrap()
        .geometry()
        .clone();
    assert_eq!(g.spacing(), [0.5; 3]);
}

#[test]
fn geometry_precedence_sform_qform_pixdim() {
    let sform = [
        [2.0, 0.0, 0.0, 1.0],
        [0.0, 2.0, 0.0, 2.0],
        [0.0, 0.0, 2.0, 3.0],
    ];
    // qform: identity rotation (b = c = d = 0), offset (10, 20, 30), qfac -1.
    let base = H1 {
        pixdim: [-1.0, 0.5, 0.75, 1.5, 1.0, 1.0, 1.0, 1.0],
        quat: [0.0, 0.0, 0.0, 10.0, 20.0, 30.0],
        srow: sform,
        ..H1::default()
    };
    let geo = |h: &H1| {
        nifti::read_bytes(&h.file(&[0; 16]))
            .unwrap()
            .geometry()
            .clone()
    };

    let both = geo(&H1 {
        sform_code: 2,
        qform_code: 1,
        ..base.clone()
    });
    assert_eq!(both.spacing(), [2.0; 3]);
    assert_eq!(both.origin(), [-1.0, -2.0, 3.0]);

    let q = geo(&H1 {
        sform_code: 0,
        qform_code: 1,
        ..base.clone()
    });
    assert_eq!(q.spacing(), [0.5, 0.75, 1.5]);
    assert_eq!(q.origin(), [-10.0, -20.0, 30.0]);
    assert_eq!(
        q.direction(),
        [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]]
    );

    // pixdim[0] = 0 counts as qfac = 1.
    let mut pix0 = base.clone();
    pix0.pixdim[0] = 0.0;
    let q0 = geo(&H1 {
        qform_code: 1,
        ..pix0
    });
    assert_eq!(
        q0.direction(),
        [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]]
    );

    let p = geo(&base);
    assert_eq!(p.spacing(), [0.5, 0.75, 1.5]);
    assert_eq!(p.origin(), [0.0; 3]);
    assert_eq!(p.orientation_code(), "RAS");

    // A zero sform with a non-zero code falls back to the qform.
    let zero = geo(&H1 {
        sform_code: 1,
        qform_code: 1,
        srow: [[0.0; 4]; 3],
        ..base.clone()
    });
    assert_eq!(zero, q);
}

#[test]
fn vox_offset_is_honoured_and_header_pairs_refused() {
    let values = [1i16, 2, 3, 4, 5, 6, 7, 8];
    let h = H1 {
        vox_offset: 416.0,
        ..H1::default()
    };
    let img = nifti::read_bytes(&h.file(&le16(&values))).unwrap();
    assert_eq!(img.to_f64_vec()[0], 1.0);
    // vox_offset 0 in a single file means "right after the header".
    let h0 = H1 {
        vox_offset: 0.0,
        ..H1::default()
    };
    let mut bytes = h0.file(&[]);
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&le16(&values));
    assert_eq!(nifti::read_bytes(&bytes).unwrap().to_f64_vec()[7], 8.0);

    let pair = H1 {
        magic: *b"ni1\0",
        ..H1::default()
    };
    let err = nifti::read_bytes(&pair.file(&le16(&values))).unwrap_err();
    assert!(matches!(err, IoError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains(".hdr"), "{err}");
}

/// Converts a little-endian NIfTI-2 file written by the crate to big endian.
fn nifti2_to_big_endian(mut b: Vec<u8>, voxel_size: usize) -> Vec<u8> {
    // (offset, count, size) of every numeric NIfTI-2 field.
    let fields = [
        (0, 1, 4),
        (12, 2, 2),
        (16, 8, 8),
        (80, 3, 8),
        (104, 8, 8),
        (168, 1, 8),
        (176, 8, 8),
        (240 + 80 + 24, 2, 4),
        (352, 6, 8),
        (400, 12, 8),
        (496, 3, 4),
    ];
    for (at, count, size) in fields {
        for i in 0..count {
            b[at + i * size..at + (i + 1) * size].reverse();
        }
    }
    for v in b[544..].chunks_exact_mut(voxel_size) {
        v.reverse();
    }
    b
}

#[test]
fn nifti2_big_endian() {
    let (_, g) = common::geometries([4, 3, 2]).remove(3);
    for img in common::images(&g) {
        let le = nifti::to_bytes(&img, NiftiVersion::V2);
        let be = nifti2_to_big_endian(le, img.voxel_type().size());
        assert_eq!(i32::from_be_bytes(be[0..4].try_into().unwrap()), 540);
        let back = nifti::read_bytes(&be).unwrap();
        assert_eq!(back.to_f64_vec(), img.to_f64_vec());
        assert!(geometry_error(back.geometry(), &g) <= 1e-12);
    }
}

#[test]
fn gzip_is_detected_by_content_not_name() {
    let img: AnyImage =
        Image::<i16>::from_vec(Geometry::with_size([3, 2, 1]), vec![1, 2, 3, 4, 5, 6])
            .unwrap()
            .into();
    let raw = nifti::to_bytes(&img, NiftiVersion::V1);
    assert_eq!(nifti::read_bytes(&common::gzip(&raw)).unwrap(), img);
    let dir = tempfile::tempdir().unwrap();
    // A gzipped file named .nii and a raw one named .nii.gz both read.
    let a = dir.path().join("gz-inside.nii");
    std::fs::write(&a, common::gzip(&raw)).unwrap();
    assert_eq!(nifti::read(&a).unwrap(), img);
    let b = dir.path().join("raw-inside.nii.gz");
    std::fs::write(&b, &raw).unwrap();
    assert_eq!(voxide_io::read_image(&b).unwrap(), img);
}
