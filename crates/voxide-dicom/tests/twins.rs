//! Compressed files decode to the same pixels as their uncompressed twins.

mod common;

use voxide_dicom::decode_file;

fn values(rel: &str) -> (Vec<f64>, usize) {
    let px =
        decode_file(&common::data_dir().join("dicom").join(rel)).unwrap_or_else(|e| panic!("{e}"));
    let mut all = Vec::new();
    for f in 0..px.frames {
        all.extend(px.stored_values(f).unwrap());
    }
    (all, px.frames)
}

/// Asserts equality (lossless) or a bounded mean difference (lossy).
fn compare(reference: &str, other: &str, max_mean_abs_diff: f64) {
    let (a, fa) = values(reference);
    let (b, fb) = values(other);
    assert_eq!(fa, fb, "{other}: frame count");
    assert_eq!(a.len(), b.len(), "{other}: sample count");
    let mad = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64;
    if max_mean_abs_diff == 0.0 {
        let first = a.iter().zip(&b).position(|(x, y)| x != y);
        assert!(
            first.is_none(),
            "{other} differs from {reference} at sample {first:?}"
        );
    } else {
        assert!(
            mad <= max_mean_abs_diff,
            "{other}: mean |diff| {mad} > {max_mean_abs_diff}"
        );
    }
}

#[test]
fn lossless_twins_are_bit_identical() {
    let pairs = [
        ("pydicom/MR_small.dcm", "pydicom/MR_small_RLE.dcm"),
        ("pydicom/MR_small.dcm", "pydicom/MR_small_bigendian.dcm"),
        ("pydicom/MR_small.dcm", "pydicom/MR_small_expb.dcm"),
        ("pydicom/MR_small.dcm", "pydicom/MR_small_implicit.dcm"),
        ("pydicom/MR_small.dcm", "pydicom/MR_small_jp2klossless.dcm"),
        (
            "pydicom/MR_small.dcm",
            "pydicom/MR_small_jpeg_ls_lossless.dcm",
        ),
        (
            "pydicom-data/emri_small.dcm",
            "pydicom-data/emri_small_RLE.dcm",
        ),
        (
            "pydicom-data/emri_small.dcm",
            "pydicom-data/emri_small_big_endian.dcm",
        ),
        (
            "pydicom-data/emri_small.dcm",
            "pydicom-data/emri_small_jpeg_2k_lossless.dcm",
        ),
        (
            "pydicom-data/emri_small.dcm",
            "pydicom-data/emri_small_jpeg_ls_lossless.dcm",
        ),
        ("pydicom-data/SC_rgb.dcm", "pydicom-data/SC_rgb_expb.dcm"),
        ("pydicom-data/SC_rgb.dcm", "pydicom/SC_rgb_rle.dcm"),
        (
            "pydicom-data/SC_rgb_2frame.dcm",
            "pydicom/SC_rgb_rle_2frame.dcm",
        ),
        (
            "pydicom-data/SC_rgb_16bit.dcm",
            "pydicom/SC_rgb_rle_16bit.dcm",
        ),
        (
            "pydicom-data/SC_rgb_16bit.dcm",
            "pydicom-data/SC_rgb_expb_16bit.dcm",
        ),
        (
            "pydicom-data/SC_rgb_32bit.dcm",
            "pydicom-data/SC_rgb_expb_32bit.dcm",
        ),
        ("pydicom-data/OBXXXX1A.dcm", "pydicom-data/OBXXXX1A_rle.dcm"),
        (
            "pydicom-data/OBXXXX1A.dcm",
            "pydicom-data/OBXXXX1A_expb.dcm",
        ),
        (
            "pydicom-data/OBXXXX1A_2frame.dcm",
            "pydicom-data/OBXXXX1A_rle_2frame.dcm",
        ),
        ("pydicom-data/693_UNCR.dcm", "pydicom-data/693_J2KR.dcm"),
        ("pydicom-data/MR2_UNCR.dcm", "pydicom-data/MR2_J2KR.dcm"),
        ("pydicom-data/RG3_UNCR.dcm", "pydicom-data/RG3_J2KR.dcm"),
        ("pydicom-data/US1_UNCR.dcm", "pydicom-data/US1_J2KR.dcm"),
        ("pydicom-data/liver.dcm", "pydicom-data/liver_expb.dcm"),
        ("pydicom/rtdose.dcm", "pydicom/rtdose_expb.dcm"),
        // 32 bits allocated RLE: decoded by voxide's own RLE path.
        ("pydicom/rtdose.dcm", "pydicom/rtdose_rle.dcm"),
        ("pydicom/rtdose_1frame.dcm", "pydicom/rtdose_rle_1frame.dcm"),
        (
            "pydicom-data/SC_rgb_32bit.dcm",
            "pydicom/SC_rgb_rle_32bit.dcm",
        ),
        (
            "pydicom-data/SC_rgb_32bit_2frame.dcm",
            "pydicom/SC_rgb_rle_32bit_2frame.dcm",
        ),
        (
            "pydicom-data/gdcm-US-ALOKA-16.dcm",
            "pydicom-data/gdcm-US-ALOKA-16_big.dcm",
        ),
    ];
    for (reference, other) in pairs {
        compare(reference, other, 0.0);
    }
}

#[test]
fn lossy_twins_are_close() {
    // Irreversible JPEG 2000 and JPEG baseline: decoded values stay close to the originals.
    compare("pydicom-data/693_UNCI.dcm", "pydicom/693_J2KI.dcm", 5.0);
    compare(
        "pydicom-data/MR2_UNCI.dcm",
        "pydicom-data/MR2_J2KI.dcm",
        5.0,
    );
    compare(
        "pydicom-data/US1_UNCI.dcm",
        "pydicom-data/US1_J2KI.dcm",
        5.0,
    );
    compare("pydicom-data/JPEG2000_UNC.dcm", "pydicom/JPEG2000.dcm", 5.0);
    // dcmtk JPEG baseline of SC_rgb, decoded by dcmtk (`_dcmd`) and by dicom-rs.
    compare(
        "pydicom-data/SC_rgb_dcmtk_ebcr_dcmd.dcm",
        "pydicom/SC_rgb_dcmtk_+eb+cr.dcm",
        1.0,
    );
}
