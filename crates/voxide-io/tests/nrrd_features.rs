//! NRRD reading rules on hand-written headers: detached data, encodings, spaces, skips,
//! dimensions.

mod common;

use std::path::Path;

use voxide_core::VoxelType;
use voxide_io::{nrrd, read_image, IoError};

fn i16_le(v: &[i16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn attached(header: &str, data: &[u8]) -> Vec<u8> {
    let mut b = header.as_bytes().to_vec();
    b.extend_from_slice(b"\n");
    b.extend_from_slice(data);
    b
}

const VALUES: [i16; 24] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 32767,
];

fn values_f64() -> Vec<f64> {
    VALUES.iter().map(|&v| v as f64).collect()
}

#[test]
fn detached_header_with_line_and_byte_skip() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = b"junk line one\njunk line two\n".to_vec();
    data.extend_from_slice(&[0xAA; 5]);
    data.extend_from_slice(&i16_le(&VALUES));
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/volume.raw"), &data).unwrap();
    let header = "NRRD0004\ntype: int16\ndimension: 3\nsizes: 4 3 2\nspace: LPS\n\
                  space directions: (1,0,0) (0,1,0) (0,0,1)\nendian: little\nencoding: raw\n\
                  data file: sub/volume.raw\nline skip: 2\nbyte skip: 5\n";
    let nhdr = dir.path().join("volume.nhdr");
    std::fs::write(&nhdr, header).unwrap();
    let img = read_image(&nhdr).unwrap();
    assert_eq!(img.to_f64_vec(), values_f64());
    assert_eq!(img.geometry().size(), [4, 3, 2]);
    // The same header from memory needs the folder of the header.
    let from_memory = nrrd::read_bytes(header.as_bytes(), Some(dir.path())).unwrap();
    assert_eq!(from_memory, img);
    let err = nrrd::read_bytes(header.as_bytes(), None).unwrap_err();
    assert!(matches!(err, IoError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("base"), "{err}");
    // An absolute data file path works from anywhere.
    let abs = header.replace(
        "data file: sub/volume.raw",
        &format!("data file: {}", dir.path().join("sub/volume.raw").display()),
    );
    assert_eq!(nrrd::read_bytes(abs.as_bytes(), None).unwrap(), img);
}

#[test]
fn detached_gzip_skips_bytes_after_decompression() {
    let dir = tempfile::tempdir().unwrap();
    let mut plain = vec![9u8; 7];
    plain.extend_from_slice(&i16_le(&VALUES));
    std::fs::write(dir.path().join("v.raw.gz"), common::gzip(&plain)).unwrap();
    let header = "NRRD0005\ntype: short\ndimension: 3\nsizes: 4 3 2\nencoding: gz\n\
                  endian: little\ndatafile: v.raw.gz\nbyte skip: 7\n";
    std::fs::write(dir.path().join("v.nhdr"), header).unwrap();
    let img = nrrd::read(&dir.path().join("v.nhdr")).unwrap();
    assert_eq!(img.to_f64_vec(), values_f64());
}

#[test]
fn missing_detached_data_file_is_an_io_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let nhdr = dir.path().join("gone.nhdr");
    std::fs::write(
        &nhdr,
        "NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 2\nencoding: raw\ndata file: gone.raw\n",
    )
    .unwrap();
    match read_image(&nhdr).unwrap_err() {
        IoError::Io { path, source } => {
            assert_eq!(path, dir.path().join("gone.raw"));
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected IoError::Io, got {other}"),
    }
}

#[test]
fn multi_file_data_is_refused() {
    for df in ["LIST", "slice%03d.raw 1 10 1"] {
        let h = format!(
            "NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 2\nencoding: raw\ndata file: {df}\na.raw\n"
        );
        let err = nrrd::read_bytes(h.as_bytes(), Some(Path::new("."))).unwrap_err();
        assert!(matches!(err, IoError::Unsupported { .. }), "{df}: {err}");
    }
}

#[test]
fn spaces_convert_to_lps() {
    let header = |space: &str| {
        format!(
            "NRRD0004\ntype: short\ndimension: 3\nspace: {space}\nsizes: 4 3 2\n\
             space directions: (0.5,0,0) (0,0.25,0) (0,0,2)\nspace origin: (10,20,30)\n\
             endian: little\nencoding: raw\n"
        )
    };
    let geo = |space: &str| {
        nrrd::read_bytes(&attached(&header(space), &i16_le(&VALUES)), None)
            .unwrap_or_else(|e| panic!("{space}: {e}"))
            .geometry()
            .clone()
    };
    for lps in ["left-posterior-superior", "LPS", "scanner-xyz"] {
        let g = geo(lps);
        assert_eq!(g.origin(), [10.0, 20.0, 30.0]);
        assert_eq!(g.orientation_code(), "LPS");
        assert_eq!(g.spacing(), [0.5, 0.25, 2.0]);
    }
    for ras in ["right-anterior-superior", "RAS"] {
        let g = geo(ras);
        assert_eq!(g.origin(), [-10.0, -20.0, 30.0]);
        assert_eq!(g.orientation_code(), "RAS");
        assert_eq!(g.spacing(), [0.5, 0.25, 2.0]);
    }
    let g = geo("left-anterior-superior");
    assert_eq!(g.origin(), [10.0, -20.0, 30.0]);
    assert_eq!(g.orientation_code(), "LAS");
    for bad in ["3D-right-handed", "right-anterior-superior-time", "martian"] {
        let err = nrrd::read_bytes(&attached(&header(bad), &i16_le(&VALUES)), None).unwrap_err();
        assert!(matches!(err, IoError::Unsupported { .. }), "{bad}: {err}");
    }
}

#[test]
fn encodings_ascii_hex_and_big_endian() {
    let base = "NRRD0004\ntype: signed short\ndimension: 3\nsizes: 4 3 2\nspacings: 1 2 3\n";
    let ascii: String = VALUES.iter().map(|v| format!("{v}\n")).collect();
    let img = nrrd::read_bytes(
        &attached(&format!("{base}encoding: ascii\n"), ascii.as_bytes()),
        None,
    )
    .unwrap();
    assert_eq!(img.to_f64_vec(), values_f64());
    assert_eq!(img.geometry().spacing(), [1.0, 2.0, 3.0]);

    let be: Vec<u8> = VALUES.iter().flat_map(|v| v.to_be_bytes()).collect();
    let hex: String = be
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    let h = format!("{base}encoding: hex\nendian: big\n");
    assert_eq!(
        nrrd::read_bytes(&attached(&h, hex.as_bytes()), None).unwrap(),
        img
    );

    let h = format!("{base}encoding: raw\nendian: big\n");
    assert_eq!(nrrd::read_bytes(&attached(&h, &be), None).unwrap(), img);

    // Float ASCII, commas allowed.
    let h = "NRRD0004\ntype: double\ndimension: 1\nsizes: 3\nencoding: text\n";
    let img = nrrd::read_bytes(&attached(h, b"1.5, -2e3,\n0.125"), None).unwrap();
    assert_eq!(img.voxel_type(), VoxelType::F64);
    assert_eq!(img.to_f64_vec(), [1.5, -2000.0, 0.125]);
    assert_eq!(img.geometry().size(), [3, 1, 1]);
}

#[test]
fn byte_skip_minus_one_reads_the_end_of_the_file() {
    let mut data = vec![0xEE; 11];
    data.extend_from_slice(&i16_le(&VALUES));
    let h = "NRRD0004\ntype: short\ndimension: 3\nsizes: 4 3 2\nencoding: raw\nendian: little\n\
             byte skip: -1\n";
    let img = nrrd::read_bytes(&attached(h, &data), None).unwrap();
    assert_eq!(img.to_f64_vec(), values_f64());
    // -1 is meaningless with compression.
    let h = h.replace("encoding: raw", "encoding: gzip");
    let err = nrrd::read_bytes(&attached(&h, &common::gzip(&data)), None).unwrap_err();
    assert!(matches!(err, IoError::Malformed { .. }), "{err}");
}

#[test]
fn two_dimensional_images_get_a_normal_third_axis() {
    let h = "NRRD0004\ntype: uchar\ndimension: 2\nspace: RAS\nsizes: 3 2\n\
             space directions: (0,0.5,0) (0,0,-2)\nspace origin: (1,2,3)\nencoding: raw\n";
    let img = nrrd::read_bytes(&attached(h, &[1, 2, 3, 4, 5, 6]), None).unwrap();
    let g = img.geometry();
    assert_eq!(g.size(), [3, 2, 1]);
    assert_eq!(g.spacing(), [0.5, 2.0, 1.0]);
    assert_eq!(g.origin(), [-1.0, -2.0, 3.0]);
    // RAS (0,1,0) → LPS (0,-1,0); RAS (0,0,-1) stays; normal = cross of the two.
    assert_eq!(
        g.direction(),
        [[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]
    );
    assert!(g.is_orthonormal(0.0));

    let h = "NRRD0001\ntype: uchar\ndimension: 2\nsizes: 3 2\nspacings: 0.5 4\nencoding: raw\n";
    let img = nrrd::read_bytes(&attached(h, &[1, 2, 3, 4, 5, 6]), None).unwrap();
    assert_eq!(img.geometry().size(), [3, 2, 1]);
    assert_eq!(img.geometry().spacing(), [0.5, 4.0, 1.0]);
    assert_eq!(img.geometry().direction(), voxide_core::geometry::IDENTITY);
}

#[test]
fn non_spatial_axes_only_when_singleton() {
    let h = "NRRD0004\ntype: short\ndimension: 4\nspace: left-posterior-superior\n\
             sizes: 1 4 3 2\nspace directions: none (1,0,0) (0,1,0) (0,0,1)\n\
             kinds: list domain domain domain\nendian: little\nencoding: raw\n";
    let img = nrrd::read_bytes(&attached(h, &i16_le(&VALUES)), None).unwrap();
    assert_eq!(img.geometry().size(), [4, 3, 2]);
    assert_eq!(img.to_f64_vec(), values_f64());

    let vector = h.replace("sizes: 1 4 3 2", "sizes: 3 4 3 2");
    let data: Vec<u8> = (0..72 * 2).map(|v| v as u8).collect();
    let err = nrrd::read_bytes(&attached(&vector, &data), None).unwrap_err();
    assert!(matches!(err, IoError::Unsupported { .. }), "{err}");

    // Without space information, singleton axes are dropped.
    let h = "NRRD0004\ntype: short\ndimension: 4\nsizes: 4 3 2 1\nendian: little\nencoding: raw\n";
    let img = nrrd::read_bytes(&attached(h, &i16_le(&VALUES)), None).unwrap();
    assert_eq!(img.geometry().size(), [4, 3, 2]);
    let h = "NRRD0004\ntype: short\ndimension: 4\nsizes: 2 3 2 2\nendian: little\nencoding: raw\n";
    let err = nrrd::read_bytes(&attached(h, &i16_le(&VALUES)), None).unwrap_err();
    assert!(matches!(err, IoError::Unsupported { .. }), "{err}");
}

#[test]
fn comments_key_values_crlf_and_field_case() {
    let h = "NRRD0004\r\n# a comment: with colon\r\nmy key:=my: value\r\nType: short\r\n\
             DIMENSION: 3\r\nsizes: 4 3 2\r\nspace directions: (1, 0, 0) (0, 1, 0) (0, 0, 1)\r\n\
             space: left-posterior-superior\r\nmeasurement frame: (1,0,0) (0,1,0) (0,0,1)\r\n\
             Endian: little\r\nencoding: raw\r\ncontent: test\r\n";
    let mut bytes = h.as_bytes().to_vec();
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(&i16_le(&VALUES));
    let img = nrrd::read_bytes(&bytes, None).unwrap();
    assert_eq!(img.to_f64_vec(), values_f64());
}

#[test]
fn type_spellings_map_to_voxel_types() {
    for (name, size, ty) in [
        ("uchar", 1, VoxelType::U8),
        ("int8_t", 1, VoxelType::I16),
        ("unsigned short int", 2, VoxelType::U16),
        ("int32_t", 4, VoxelType::I32),
        ("unsigned int", 4, VoxelType::F64),
        ("float", 4, VoxelType::F32),
        ("longlong", 8, VoxelType::F64),
        ("uint64_t", 8, VoxelType::F64),
        ("double", 8, VoxelType::F64),
    ] {
        let h = format!(
            "NRRD0004\ntype: {name}\ndimension: 1\nsizes: 2\nendian: little\nencoding: raw\n"
        );
        let img = nrrd::read_bytes(&attached(&h, &vec![0u8; 2 * size]), None).unwrap();
        assert_eq!(img.voxel_type(), ty, "{name}");
    }
}
