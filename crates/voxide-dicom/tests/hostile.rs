//! Hostile inputs: tiny files that declare huge values get a clear error, without the huge
//! allocation a naive parser would make.

use voxide_dicom::{decode, from_bytes, ReadDepth};

/// An explicit VR little endian element with a 2-byte length.
fn short(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(group.to_le_bytes());
    v.extend(element.to_le_bytes());
    v.extend(vr);
    v.extend((value.len() as u16).to_le_bytes());
    v.extend(value);
    v
}

/// An explicit VR little endian element with a 4-byte length (OB, OW, SQ, UN, ...).
fn long(group: u16, element: u16, vr: &[u8; 2], declared: u32, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(group.to_le_bytes());
    v.extend(element.to_le_bytes());
    v.extend(vr);
    v.extend([0, 0]);
    v.extend(declared.to_le_bytes());
    v.extend(value);
    v
}

fn file(dataset: &[u8]) -> Vec<u8> {
    let mut meta = Vec::new();
    meta.extend(long(0x0002, 0x0001, b"OB", 2, &[0, 1]));
    meta.extend(short(0x0002, 0x0002, b"UI", b"1.2.840.10008.5.1.4.1.1.7\0"));
    meta.extend(short(0x0002, 0x0003, b"UI", b"1.2.3.4\0"));
    meta.extend(short(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0"));
    let mut out = vec![0u8; 128];
    out.extend(b"DICM");
    out.extend(short(
        0x0002,
        0x0000,
        b"UL",
        &(meta.len() as u32).to_le_bytes(),
    ));
    out.extend(meta);
    out.extend(dataset);
    out
}

#[test]
fn a_huge_declared_length_is_refused_before_allocation() {
    let mut ds = short(0x0010, 0x0010, b"PN", b"Doe^John");
    ds.extend(long(0x7FE0, 0x0010, b"OB", 0xF000_0000, &[1, 2, 3, 4]));
    let err = from_bytes(&file(&ds), ReadDepth::Full).unwrap_err();
    assert!(err.contains("declares 4026531840 bytes"), "{err}");
}

#[test]
fn a_huge_length_inside_a_sequence_is_refused() {
    // A defined-length sequence whose item holds an element declaring 2 GB.
    let inner = long(0x0008, 0x1150, b"UN", 0x8000_0000, &[0; 8]);
    let mut item = Vec::new();
    item.extend(0xFFFEu16.to_le_bytes());
    item.extend(0xE000u16.to_le_bytes());
    item.extend((inner.len() as u32).to_le_bytes());
    item.extend(&inner);
    let ds = long(0x0008, 0x1115, b"SQ", item.len() as u32, &item);
    let err = from_bytes(&file(&ds), ReadDepth::Full).unwrap_err();
    assert!(err.contains("declares 2147483648 bytes"), "{err}");
}

#[test]
fn absurd_image_dimensions_are_refused_before_decoding() {
    let mut ds = Vec::new();
    ds.extend(short(0x0028, 0x0002, b"US", &1u16.to_le_bytes()));
    ds.extend(short(0x0028, 0x0004, b"CS", b"MONOCHROME2 "));
    ds.extend(short(0x0028, 0x0008, b"IS", b"60000 "));
    ds.extend(short(0x0028, 0x0010, b"US", &65535u16.to_le_bytes()));
    ds.extend(short(0x0028, 0x0011, b"US", &65535u16.to_le_bytes()));
    ds.extend(short(0x0028, 0x0100, b"US", &16u16.to_le_bytes()));
    ds.extend(short(0x0028, 0x0101, b"US", &16u16.to_le_bytes()));
    ds.extend(short(0x0028, 0x0102, b"US", &15u16.to_le_bytes()));
    ds.extend(short(0x0028, 0x0103, b"US", &0u16.to_le_bytes()));
    ds.extend(long(0x7FE0, 0x0010, b"OW", 8, &[0; 8]));
    let obj = from_bytes(&file(&ds), ReadDepth::Full).unwrap();
    let err = decode(&obj, std::path::Path::new("hostile.dcm"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("refusing to allocate"), "{err}");
    assert!(err.contains("hostile.dcm"), "{err}");
}

#[test]
fn truncated_real_files_give_errors_at_every_cut() {
    // Cut a real compressed file at many points: each prefix parses or fails, never panics.
    let path = voxide_testdata::data("dicom/pydicom/MR_small_RLE.dcm");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut errors = 0;
    for cut in (0..bytes.len()).step_by(97) {
        match from_bytes(&bytes[..cut], ReadDepth::Full) {
            Ok(obj) => {
                if decode(&obj, &path).is_err() {
                    errors += 1;
                }
            }
            Err(_) => errors += 1,
        }
    }
    assert!(errors > 0);
}

#[test]
fn binary_values_of_a_partial_length_are_refused() {
    // Found by fuzzing: dicom-rs reads whole 4-byte units of a 42-byte UL value and loses its
    // place, then reads a garbage length and allocates 4 GB. The walk refuses the value first.
    let mut ds = short(0x0010, 0x0010, b"PN", b"Doe^John");
    ds.extend(short(0x0018, 0x1020, b"UL", &[0; 42]));
    let err = from_bytes(&file(&ds), ReadDepth::Full).unwrap_err();
    assert!(
        err.contains("42 bytes, not a multiple of its 4-byte values"),
        "{err}"
    );
}

#[test]
fn an_item_declaring_more_than_the_file_is_refused() {
    // Found by fuzzing: an undefined-length sequence whose item declares ~4 GB.
    let mut ds = Vec::new();
    ds.extend(long(0x0008, 0x1115, b"SQ", 0xFFFF_FFFF, &[]));
    ds.extend(0xFFFEu16.to_le_bytes());
    ds.extend(0xE000u16.to_le_bytes());
    ds.extend(0xFFFF_FF9Fu32.to_le_bytes());
    ds.extend(short(0x0008, 0x1150, b"UI", b"1.2.3\0"));
    let err = from_bytes(&file(&ds), ReadDepth::Full).unwrap_err();
    assert!(err.contains("declares 4294967199 bytes"), "{err}");
}

#[test]
fn fuzzer_findings_stay_fixed() {
    // Inputs on which libFuzzer once found an out-of-memory or a slow run (mutations of the
    // pydicom test files, MIT): each must now fail fast with an error naming the cause.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let err = from_bytes(&bytes, ReadDepth::Full).unwrap_err();
        assert!(
            err.contains("declares") || err.contains("not a multiple"),
            "{}: {err}",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 2);
}
