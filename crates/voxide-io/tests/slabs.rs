//! `SlabReader` streams exactly what `read_image` reads: the same voxels in the same order and
//! slab geometries that tile the volume, for real files of every kind in the shared data
//! folder and for written files of every voxel type; damaged files are errors, not panics.

mod common;

use std::path::Path;

use common::{data_dir, geometries, images};
use voxide_core::geometry::IDENTITY;
use voxide_core::{Geometry, Image};
use voxide_io::{read_image, write_image, IoError, SlabReader};

/// Streams `path` in slabs of about `voxels` voxels; checks each slab's geometry against the
/// whole image's and returns the concatenated values.
fn stream(path: &Path, voxels: usize) -> Result<(Geometry, Vec<f64>, usize), IoError> {
    let mut reader = SlabReader::open(path)?;
    let whole = reader.geometry().clone();
    let mut values = Vec::new();
    let mut z = 0usize;
    let mut slabs = 0;
    while let Some(slab) = reader.next_slab(voxels)? {
        assert_eq!(slab.voxel_type(), reader.voxel_type());
        let g = slab.geometry();
        let [nx, ny, n] = g.size();
        assert_eq!([nx, ny], [whole.size()[0], whole.size()[1]]);
        let want_origin = whole.index_to_physical([0.0, 0.0, z as f64]);
        for d in 0..3 {
            assert!(
                (g.origin()[d] - want_origin[d]).abs() < 1e-9,
                "{}: slab origin",
                path.display()
            );
        }
        assert_eq!(g.spacing(), whole.spacing());
        values.extend(slab.to_f64_vec());
        z += n;
        slabs += 1;
    }
    assert_eq!(z, whole.size()[2]);
    Ok((whole, values, slabs))
}

fn same_as_read(path: &Path, voxels: usize) {
    let image = read_image(path).unwrap();
    let (g, values, _) = stream(path, voxels).unwrap();
    assert_eq!(&g, image.geometry(), "{}", path.display());
    let want = image.to_f64_vec();
    assert_eq!(values.len(), want.len());
    assert!(
        values
            .iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "{}: streamed voxels differ from read_image",
        path.display()
    );
    let reader = SlabReader::open(path).unwrap();
    assert_eq!(reader.voxel_type(), image.voxel_type());
}

#[test]
fn real_nrrd_and_nifti_stream_like_read_image() {
    let data = data_dir();
    let files = [
        data.join("radiomics/pyradiomics/brain1_image.nrrd"),
        data.join("radiomics/pyradiomics/brain1_label.nrrd"),
        data.join("radiomics/pyradiomics/lung2_label.nrrd"),
        data.join("multimodal/ibsi-sts-nifti/STS_001/CT_image.nii.gz"),
        data.join("multimodal/ibsi-sts-nifti/STS_001/PET_image.nii.gz"),
    ];
    for f in &files {
        // A few slices per slab, and one slice at a time.
        same_as_read(f, 100_000);
        same_as_read(f, 1);
    }
}

#[test]
fn written_files_of_every_type_stream_like_read_image() {
    let dir = tempfile::tempdir().unwrap();
    for (name, g) in geometries([5, 4, 7]) {
        for (i, image) in images(&g).iter().enumerate() {
            for ext in ["nrrd", "nii", "nii.gz"] {
                let path = dir.path().join(format!("{name}-{i}.{ext}"));
                write_image(&path, image).unwrap();
                same_as_read(&path, 20);
                same_as_read(&path, 1_000_000);
            }
        }
    }
}

#[test]
fn damaged_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let src = data_dir().join("radiomics/pyradiomics/brain1_image.nrrd");
    let bytes = std::fs::read(&src).unwrap();
    // Cut inside the compressed data: a truncation error once the stream runs out.
    let cut = dir.path().join("cut.nrrd");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let err = stream(&cut, 50_000).unwrap_err();
    assert!(
        matches!(err, IoError::Truncated { .. } | IoError::Malformed { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("cut.nrrd"), "{err}");
    // Flipped bytes in the compressed data: never a panic. (A flip can make the stream decode
    // to more bytes than the header needs, which neither reader checks past.)
    let mut bad = bytes.clone();
    let start = bad.len() / 2;
    for b in &mut bad[start..start + 64] {
        *b ^= 0xa5;
    }
    let flipped = dir.path().join("flipped.nrrd");
    std::fs::write(&flipped, &bad).unwrap();
    let _ = stream(&flipped, 50_000);
    // A wrong CRC: both readers check it at the end of the stream.
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 8] ^= 0xff;
    let crc = dir.path().join("crc.nrrd");
    std::fs::write(&crc, &bad).unwrap();
    let whole = read_image(&crc);
    let streamed = stream(&crc, 50_000);
    assert!(
        matches!(whole, Err(IoError::Malformed { .. }))
            && matches!(streamed, Err(IoError::Malformed { .. })),
        "read_image: {:?}, streamed: {:?}",
        whole.err(),
        streamed.err()
    );
    // A raw NIfTI cut short.
    let nii = dir.path().join("short.nii");
    let g = Geometry::new([8, 8, 8], [1.0; 3], [0.0; 3], IDENTITY).unwrap();
    write_image(&nii, &Image::<i16>::filled(g, 7).into()).unwrap();
    let whole = std::fs::read(&nii).unwrap();
    std::fs::write(&nii, &whole[..whole.len() - 100]).unwrap();
    // The error counts the voxel bytes the file does hold (1024 declared, 100 cut), read
    // across several slabs.
    match stream(&nii, 64).unwrap_err() {
        IoError::Truncated {
            expected, found, ..
        } => assert_eq!((expected, found), (1024, 924)),
        e => panic!("{e}"),
    }
}
