//! voxide against SimpleITK (ITK 5.4) and nibabel: resampling kernels, the geometry of the NIfTI
//! and NRRD files voxide writes as ITK and nibabel read them, and DICOM series assembly against
//! GDCM's.
//!
//! The references live in `target/pyref`, installed by `scripts/setup.sh` (which the README's test
//! command runs). Without it these tests fail; they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use voxide_core::{resample, AnyImage, Geometry, Image, Interpolation};

fn root() -> PathBuf {
    voxide_testdata::workspace_root()
}

fn data() -> PathBuf {
    voxide_testdata::data_dir()
}

/// Runs the SimpleITK reference script; its stdout.
fn sitk(args: &[&str]) -> String {
    let python = root().join("target/pyref/bin/python");
    assert!(
        python.exists(),
        "SimpleITK reference environment missing at {}: run `bash scripts/setup.sh`",
        python.display()
    );
    let out = Command::new(&python)
        .arg(root().join("scripts/ref/sitk_ref.py"))
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "sitk_ref.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn numbers(json: &str, key: &str) -> Vec<f64> {
    let start = json.find(&format!("\"{key}\"")).expect(key);
    let open = start + json[start..].find('[').unwrap();
    let close = open + json[open..].find(']').unwrap();
    json[open + 1..close]
        .split(',')
        .map(|v| v.trim().parse().unwrap())
        .collect()
}

fn assert_itk_geometry(path: &Path, g: &Geometry, tol: f64) {
    assert_reader_geometry("info", path, g, tol)
}

/// `reader` is `info` (SimpleITK) or `nibabel_info`.
fn assert_reader_geometry(reader: &str, path: &Path, g: &Geometry, tol: f64) {
    let json = sitk(&[reader, path.to_str().unwrap()]);
    let size: Vec<usize> = numbers(&json, "size").iter().map(|v| *v as usize).collect();
    assert_eq!(size, g.size().to_vec(), "{}", path.display());
    let close = |a: &[f64], b: &[f64], what: &str| {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= tol,
                "{} {what}: ITK {a:?} vs voxide {b:?}",
                path.display()
            );
        }
    };
    close(&numbers(&json, "spacing"), &g.spacing(), "spacing");
    close(&numbers(&json, "origin"), &g.origin(), "origin");
    let d = g.direction();
    let flat: Vec<f64> = d.iter().flatten().copied().collect();
    close(&numbers(&json, "direction"), &flat, "direction");
}

#[test]
fn resampling_matches_simpleitk_for_every_kernel() {
    let tmp = tempfile::tempdir().unwrap();
    let src_path = data().join("radiomics/pyradiomics/brain1_image.nrrd");
    let image: Image<f64> = voxide_io::read_image(&src_path).unwrap().cast();
    // An oblique target grid, partly outside the source, with other spacing and size.
    let (a, b) = (0.2f64, 0.1f64);
    let rz = [
        [a.cos(), -a.sin(), 0.0],
        [a.sin(), a.cos(), 0.0],
        [0.0, 0.0, 1.0],
    ];
    let rx = [
        [1.0, 0.0, 0.0],
        [0.0, b.cos(), -b.sin()],
        [0.0, b.sin(), b.cos()],
    ];
    let mut dir = [[0.0; 3]; 3];
    for r in 0..3 {
        for c in 0..3 {
            dir[r][c] = (0..3).map(|k| rz[r][k] * rx[k][c]).sum();
        }
    }
    let target =
        Geometry::new([110, 120, 30], [1.7, 1.5, 4.1], [-95.0, -80.0, -70.0], dir).unwrap();
    let json = format!(
        "{{\"size\": {:?}, \"spacing\": {:?}, \"origin\": {:?}, \"direction\": {:?}, \"default\": -7.0}}",
        target.size(),
        target.spacing(),
        target.origin(),
        target.direction()
    );
    let geometry_path = tmp.path().join("geometry.json");
    std::fs::write(&geometry_path, json).unwrap();
    let input = tmp.path().join("in.nrrd");
    voxide_io::write_image(&input, &AnyImage::F64(image.clone())).unwrap();
    sitk(&[
        "resample",
        input.to_str().unwrap(),
        geometry_path.to_str().unwrap(),
        tmp.path().to_str().unwrap(),
    ]);
    for (name, kernel, tol) in [
        ("nearest", Interpolation::Nearest, 1e-9),
        ("linear", Interpolation::Linear, 1e-6),
        ("bspline", Interpolation::BSpline, 1e-4),
    ] {
        let ours = resample(&image, &target, kernel, -7.0);
        let theirs: Image<f64> = voxide_io::read_image(&tmp.path().join(format!("{name}.nrrd")))
            .unwrap()
            .cast();
        assert!(theirs.geometry().matches(&target, 1e-9));
        let (mut worst, mut outside_disagree, mut inside) = (0.0f64, 0, 0);
        for (x, y) in ours.data().iter().zip(theirs.data().iter()) {
            // At the exact edge of the source extent the two may disagree on inside/outside.
            if (*x == -7.0) != (*y == -7.0) {
                outside_disagree += 1;
                continue;
            }
            inside += usize::from(*x != -7.0);
            worst = worst.max((x - y).abs());
        }
        let range = 1.0f64.max(image.min_max().unwrap().1);
        eprintln!("{name}: max |voxide - ITK| = {worst:.3e} over {inside} voxels inside (range {range}); {outside_disagree} edge voxels disagree on inside/outside");
        assert!(
            inside > 100_000,
            "{name}: the grid barely overlaps the image"
        );
        assert!(worst <= tol * range, "{name}: max difference {worst}");
        assert!(
            outside_disagree <= 10,
            "{name}: {outside_disagree} voxels differ on the extent"
        );
    }
}

#[test]
fn itk_reads_the_geometry_voxide_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let a = 0.4f64;
    // Oblique and left-handed: the case where qform/sform or RAS/LPS mistakes show.
    let dir = [
        [a.cos(), 0.0, -a.sin()],
        [0.0, -1.0, 0.0],
        [a.sin(), 0.0, a.cos()],
    ];
    let g = Geometry::new([6, 5, 4], [0.8, 1.2, 2.5], [12.5, -40.25, 7.75], dir).unwrap();
    let image = AnyImage::I16(Image::from_vec(g.clone(), (0..120).collect()).unwrap());
    for name in ["a.nii", "b.nii.gz", "c.nrrd"] {
        let path = tmp.path().join(name);
        voxide_io::write_image(&path, &image).unwrap();
        // NIfTI-1 holds f32.
        assert_itk_geometry(&path, &g, 1e-5);
    }
    // ITK 5.4 cannot read NIfTI-2: nibabel checks it (and NIfTI-1 once more).
    let v2 = tmp.path().join("d.nii");
    voxide_io::nifti::write(&v2, &image, voxide_io::NiftiVersion::V2).unwrap();
    assert_reader_geometry("nibabel_info", &v2, &g, 1e-9);
    assert_reader_geometry("nibabel_info", &tmp.path().join("b.nii.gz"), &g, 1e-5);
}

#[test]
fn dicom_series_match_gdcm_assembly() {
    let tmp = tempfile::tempdir().unwrap();
    for rel in [
        "multimodal/ibsi-sts/STS_003/CT/image",
        "multimodal/ibsi-sts/STS_003/PET/image",
        "multimodal/ibsi-sts/STS_003/MR_T1/image",
        "dicom/dicom2nifti/siemens/anatomical/001",
        "dicom/dicom2nifti/generic/compressed_jpegls/001",
    ] {
        let dir = data().join(rel);
        let vol = voxide_dicom::read_series(&dir, &Default::default()).unwrap();
        let out = tmp.path().join("gdcm.nrrd");
        sitk(&["series", dir.to_str().unwrap(), out.to_str().unwrap()]);
        let theirs = voxide_io::read_image(&out).unwrap();
        assert!(
            vol.image.geometry().matches(theirs.geometry(), 1e-4),
            "{rel}: grids differ\n voxide {:?}\n GDCM   {:?}",
            vol.image.geometry(),
            theirs.geometry()
        );
        let (a, b) = (vol.image.to_f64_vec(), theirs.to_f64_vec());
        let worst = a
            .iter()
            .zip(&b)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        // GDCM applies the rescale in float32 for PET.
        assert!(
            worst <= 1e-4 * a.iter().fold(1.0f64, |m, v| m.max(v.abs())),
            "{rel}: values differ by {worst}"
        );
    }
}
