//! The `voxide` command line, run as a user would.

use std::path::PathBuf;
use std::process::{Command, Output};

fn data() -> PathBuf {
    voxide_testdata::data_dir()
}

fn voxide(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_voxide"))
        .args(args)
        .output()
        .expect("run voxide")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn info_describes_a_series_folder() {
    let dir = data().join("multimodal/ibsi-sts/STS_001/CT/image");
    let o = voxide(&["info", dir.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("modality:    CT"), "{out}");
    assert!(out.contains("198 x 202 x 59 voxels (i16)"), "{out}");
    assert!(out.contains("0.9766 0.9766 3.2700 mm"), "{out}");
    assert!(out.contains("(LPS)"), "{out}");
    assert!(out.contains("values:      -1000 .. 1397"), "{out}");
}

#[test]
fn info_describes_nrrd_and_nifti_files() {
    let o = voxide(&[
        "info",
        data()
            .join("radiomics/pyradiomics/brain1_image.nrrd")
            .to_str()
            .unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("256 x 256 x 25 voxels (i16)"), "{out}");
    assert!(out.contains("0.7812 0.7812 6.5000 mm"), "{out}");
    // The second space direction points towards -y (anterior).
    assert!(out.contains("(LAS)"), "{out}");
}

#[test]
fn convert_series_and_rtstruct_then_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let sts = data().join("multimodal/ibsi-sts/STS_002/PET");
    let img = tmp.path().join("pet.nii.gz");
    let mask = tmp.path().join("pet_mask.nrrd");
    let o = voxide(&[
        "convert",
        sts.join("image").to_str().unwrap(),
        img.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let o = voxide(&[
        "convert",
        sts.join("mask/RS.dcm").to_str().unwrap(),
        mask.to_str().unwrap(),
    ]);
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("label 1:"), "{err}");
    let image = voxide_io::read_image(&img).unwrap();
    let labels = voxide_io::read_image(&mask).unwrap();
    // NIfTI-1 stores geometry as f32: grids agree to f32 precision.
    assert!(image.geometry().matches(labels.geometry(), 1e-4));
    // PET in SUV: a non-integer rescale gives float voxels.
    assert_eq!(image.voxel_type(), voxide_core::VoxelType::F32);
    let foreground = labels.to_f64_vec().iter().filter(|v| **v != 0.0).count();
    assert!(foreground > 0);
    // NRRD → NIfTI → NRRD keeps values and geometry.
    let back = tmp.path().join("back.nii");
    let back2 = tmp.path().join("back2.nrrd");
    assert!(
        voxide(&["convert", mask.to_str().unwrap(), back.to_str().unwrap()])
            .status
            .success()
    );
    assert!(
        voxide(&["convert", back.to_str().unwrap(), back2.to_str().unwrap()])
            .status
            .success()
    );
    let again = voxide_io::read_image(&back2).unwrap();
    assert_eq!(again.to_f64_vec(), labels.to_f64_vec());
    assert!(again.geometry().matches(labels.geometry(), 1e-4));
}

#[test]
fn failures_exit_non_zero_and_say_why() {
    let never = std::env::temp_dir().join("voxide-never-written.nii");
    let never = never.to_str().unwrap().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["info".into(), "/nonexistent/scan".into()],
            "no such file or folder",
        ),
        (
            vec![
                "info".into(),
                data()
                    .join("dicom/pydicom/MR_truncated.dcm")
                    .display()
                    .to_string(),
            ],
            "truncated",
        ),
        (
            vec![
                "convert".into(),
                data()
                    .join("dicom/dicom2nifti/failing/gantrytilting/001")
                    .display()
                    .to_string(),
                never.clone(),
            ],
            "gantry tilt",
        ),
        (
            vec![
                "convert".into(),
                data()
                    .join("multimodal/ibsi-sts/STS_001")
                    .display()
                    .to_string(),
                never.clone(),
            ],
            "choose one with --series",
        ),
        (
            vec![
                "convert".into(),
                data()
                    .join("radiomics/pyradiomics/brain1_image.nrrd")
                    .display()
                    .to_string(),
                "out.png".into(),
            ],
            "unknown output format",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = voxide(&args);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected '{needle}' in: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!std::path::Path::new(&never).exists());
    // Usage errors come from clap, with exit code 2.
    assert_eq!(voxide(&["convert"]).status.code(), Some(2));
}

#[test]
fn import_killed_midway_then_re_sent_stores_everything_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let sts = data().join("multimodal/ibsi-sts");
    let objects = store.join("objects");
    let count_files = |dir: &std::path::Path| -> usize {
        fn walk(d: &std::path::Path) -> usize {
            std::fs::read_dir(d).map_or(0, |rd| {
                rd.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
        }
        walk(dir)
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_voxide"))
        .args([
            "import",
            sts.to_str().unwrap(),
            "--data-dir",
            store.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill (SIGKILL) once the import is well under way.
    let start = std::time::Instant::now();
    while count_files(&objects) < 100 && start.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the import finished before it could be killed"
    );
    let partial = count_files(&objects);
    assert!((100..905).contains(&partial), "{partial} files when killed");

    // Re-send everything, then verify index and files agree, with nothing orphaned.
    let o = voxide(&[
        "import",
        sts.to_str().unwrap(),
        "--data-dir",
        store.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("905 instances"), "{out}");
    let o = voxide(&["check", "--data-dir", store.to_str().unwrap(), "--deep"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(
        out.contains("905 indexed, 0 missing files, 0 corrupt files, 0 orphan files"),
        "{out}"
    );
    assert_eq!(count_files(&objects), 905);
}
