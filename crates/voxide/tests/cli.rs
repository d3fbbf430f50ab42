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

/// Relative paths of every file under `dir`, sorted.
fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut files: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    files
}

#[test]
fn deid_writes_a_reproducible_copy_and_holds_back_burned_in_screens() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("site.key");
    let input = data().join("dicom/deid-data");
    let out1 = tmp.path().join("out1");
    let masks = tmp.path().join("masks.toml");
    // The two ultrasound screens of deid-data are 768 x 1024: blank their top banner.
    std::fs::write(
        &masks,
        "[[mask]]\nmodality = \"US\"\nrows = 768\ncolumns = 1024\nrects = [[0, 0, 1024, 90]]\n",
    )
    .unwrap();
    let args = |out: &std::path::Path| {
        vec![
            "deid".to_string(),
            input.to_string_lossy().into_owned(),
            out.to_string_lossy().into_owned(),
            "--key-file".into(),
            key.to_string_lossy().into_owned(),
            "--masks".into(),
            masks.to_string_lossy().into_owned(),
        ]
    };
    let run = |v: Vec<String>| voxide(&v.iter().map(String::as_str).collect::<Vec<_>>());
    let o = run(args(&out1));
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("created a new de-identification key"),
        "{stderr}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // 7 cookie screens and 2 CT screen captures (secondary capture) are held back; the 2 masked
    // ultrasound images are written; the licence is not DICOM.
    assert!(
        stdout.contains("de-identified 2 file(s)")
            && stdout.contains(
                "0 identical to another input's copy, 9 flagged for burned-in text and skipped, \
                 1 not DICOM, 0 failed"
            ),
        "{stdout}"
    );
    assert!(stderr.contains("secondary capture image"), "{stderr}");
    let files1 = tree(&out1);
    assert_eq!(files1.len(), 2, "{files1:?}");
    assert!(files1
        .iter()
        .all(|f| f.starts_with("2.25.") && f.ends_with(".dcm")));
    let dump = Command::new("dcmdump")
        .arg(out1.join(&files1[0]))
        .output()
        .expect("dcmdump (dcmtk) is installed");
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains("(0028,0301) CS [NO]"), "{dump}");
    assert!(dump.contains("(0012,0062) CS [YES]"), "{dump}");
    assert!(dump.contains("Clean Pixel Data Option"), "{dump}");

    // Same key, same input: the same files, byte for byte.
    let out2 = tmp.path().join("out2");
    let o = run(args(&out2));
    assert!(o.status.success(), "{}", text(&o).1);
    assert_eq!(tree(&out2), files1);
    for f in &files1 {
        assert_eq!(
            std::fs::read(out1.join(f)).unwrap(),
            std::fs::read(out2.join(f)).unwrap()
        );
    }

    // Writing flagged screens on request. deid-data's two CT screen captures share one SOP
    // Instance UID and differ only in identifying attributes: de-identified, they are one and
    // the same instance, written once.
    let out3 = tmp.path().join("out3");
    let mut write_all = args(&out3);
    write_all.extend(["--burned-in".into(), "write".into()]);
    let o = run(write_all);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stdout.contains("de-identified 10 file(s)")
            && stdout.contains("1 identical to another input's copy")
            && stdout.contains("0 failed"),
        "{stdout}"
    );
    assert_eq!(tree(&out3).len(), 10);
    // Two inputs with one SOP Instance UID and different pixels: the second is refused, never
    // written over the first.
    let twins = tmp.path().join("twins");
    std::fs::create_dir_all(&twins).unwrap();
    let ct = std::fs::read(data().join("dicom/pydicom/CT_small.dcm")).unwrap();
    let mut changed = ct.clone();
    let pixel_data = ct
        .windows(4)
        .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00])
        .expect("CT_small has pixel data");
    changed[pixel_data + 500] ^= 0x55; // one pixel
    std::fs::write(twins.join("a.dcm"), &ct).unwrap();
    std::fs::write(twins.join("b.dcm"), &changed).unwrap();
    let out5 = tmp.path().join("out5");
    let o = voxide(&[
        "deid",
        twins.to_str().unwrap(),
        out5.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert!(!o.status.success());
    assert!(
        stdout.contains("1 failed") && stderr.contains("same SOP Instance UID"),
        "{stdout}{stderr}"
    );
    assert_eq!(tree(&out5).len(), 1);
    // A bad option is refused with the list of options.
    let mut bad = args(&tmp.path().join("out4"));
    bad.extend(["--profile".into(), "basic,keep-names".into()]);
    let o = run(bad);
    let (_, stderr) = text(&o);
    assert!(!o.status.success());
    assert!(
        stderr.contains("keep-names") && stderr.contains("retain-long-modified-dates"),
        "{stderr}"
    );
}

/// Runs Python's sqlite3 on the index of `data_dir` (the tampering an attacker with file access
/// could do).
fn tamper(data_dir: &std::path::Path, sql: &str) {
    let script = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()";
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(data_dir.join("index.sqlite"))
        .arg(sql)
        .status()
        .expect("python3 runs");
    assert!(status.success());
}

#[test]
fn ledger_verify_accepts_the_import_log_and_names_each_kind_of_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let series = data().join("dicom/dicom2nifti/anatomical/001");
    let o = voxide(&[
        "import",
        series.to_str().unwrap(),
        "--data-dir",
        store.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    let verify = |extra: &[&str]| {
        let mut args = vec!["ledger", "verify", "--data-dir", store.to_str().unwrap()];
        args.extend_from_slice(extra);
        voxide(&args)
    };
    let o = verify(&[]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("verified: 4 entries, 1 signed checkpoints; entries 0..4"),
        "{stdout}"
    );
    // The entries name the instances, never the patient in clear.
    let pub_key = std::fs::read_to_string(store.join("keys/ledger-verifier.pub")).unwrap();
    let o = verify(&["--key", pub_key.trim()]);
    assert!(o.status.success(), "{}", text(&o).1);
    let o = verify(&[
        "--key",
        "other+00000000+AcTOTReBkV3Y/lXWCIvlvEaC0khudJiJeaDNzOlKrNYf",
    ]);
    assert!(!o.status.success());

    // Back up the index, then tamper four ways; each is caught.
    let files = ["index.sqlite", "index.sqlite-wal", "index.sqlite-shm"].map(|f| store.join(f));
    let pristine: Vec<Option<Vec<u8>>> = files.iter().map(|f| std::fs::read(f).ok()).collect();
    let cases = [
        (
            "UPDATE ledger_entries SET entry = replace(entry, 'instance_stored', 'query') WHERE idx = 2",
            "does not verify",
        ),
        ("DELETE FROM ledger_entries WHERE idx = 1", "entry 1 is missing"),
        (
            "UPDATE ledger_entries SET idx = idx + 10 WHERE idx IN (1, 2); \
             UPDATE ledger_entries SET idx = 2 WHERE idx = 11; UPDATE ledger_entries SET idx = 1 WHERE idx = 12",
            "does not verify",
        ),
        (
            "UPDATE ledger_entries SET idx = idx + 1 WHERE idx >= 3; \
             INSERT INTO ledger_entries (idx, entry) SELECT 3, entry FROM ledger_entries WHERE idx = 0",
            "does not verify",
        ),
    ];
    for (sql, expected) in cases {
        for (file, bytes) in files.iter().zip(&pristine) {
            match bytes {
                Some(b) => std::fs::write(file, b).unwrap(),
                None => {
                    let _ = std::fs::remove_file(file);
                }
            }
        }
        tamper(&store, sql);
        let o = verify(&[]);
        let (stdout, stderr) = text(&o);
        assert!(!o.status.success(), "{sql}: {stdout}");
        assert!(stderr.contains(expected), "{sql}: {stderr}");
    }
}
