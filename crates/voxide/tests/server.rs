//! `voxide serve` driven by real DICOM clients over loopback: dcmtk (echoscu, storescu, findscu,
//! movescu, getscu, storescp) and the Python `dicomweb-client` package, plus a kill -9 in the
//! middle of an ingest. The clients are installed by `scripts/setup-test.sh`.

mod common;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{data, free_port, run, text, Server};

fn python(server: &Server, args: &[&str]) -> String {
    python_with(server.token.as_deref(), args)
}

fn python_with(token: Option<&str>, args: &[&str]) -> String {
    let root = voxide_testdata::workspace_root();
    let o = Command::new(root.join("target/pyref/bin/python"))
        .env("VOXIDE_TOKEN", token.unwrap_or_default())
        .arg(root.join("scripts/ref/dicomweb_conformance.py"))
        .args(args)
        .output()
        .expect("the reference venv (scripts/setup-test.sh) must exist");
    assert!(
        o.status.success(),
        "dicomweb_conformance.py {args:?}:\n{}",
        text(&o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn count_files(dir: &Path) -> usize {
    walkdir(dir).len()
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walkdir(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn pending_responses(o: &Output) -> usize {
    text(o).matches("(Pending)").count()
}

#[test]
fn dcmtk_clients_store_find_move_and_get() {
    let tmp = tempfile::tempdir().unwrap();
    let dest_port = free_port();
    let server = Server::start(
        &tmp.path().join("store"),
        &format!("[remote_aes.DEST]\nhost = \"127.0.0.1\"\nport = {dest_port}\n"),
    );
    let port = server.dicom.to_string();
    let sts = data().join("multimodal/ibsi-sts");

    let o = run("echoscu", &["-aec", "VOXIDE", "127.0.0.1", &port]);
    assert!(o.status.success(), "echoscu: {}", text(&o));

    // C-STORE every file of the six patients (CT, PET, MR, RTSTRUCT).
    let o = run(
        "storescu",
        &[
            "-aec",
            "VOXIDE",
            "-R",
            "+sd",
            "+r",
            "+sp",
            "*.dcm",
            "127.0.0.1",
            &port,
            sts.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "storescu: {}", text(&o));
    let (_, metrics) = server.get("/metrics");
    assert!(metrics.contains("voxide_instances_stored 905"), "{metrics}");
    assert!(
        metrics.contains("voxide_instances_received_total{via=\"c-store\",outcome=\"stored\"} 905"),
        "{metrics}"
    );

    // C-FIND, Study Root and Patient Root, at every level.
    let o = run(
        "findscu",
        &[
            "-aec",
            "VOXIDE",
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "StudyInstanceUID",
            "-k",
            "PatientName",
            "-k",
            "ModalitiesInStudy",
            "-k",
            "NumberOfStudyRelatedInstances",
            "127.0.0.1",
            &port,
        ],
    );
    assert_eq!(pending_responses(&o), 6, "{}", text(&o));
    assert!(text(&o).contains("CT\\MR\\PT\\RTSTRUCT"), "{}", text(&o));
    let o = run(
        "findscu",
        &[
            "-aec",
            "VOXIDE",
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "PatientName=sts_00?",
            "-k",
            "StudyInstanceUID",
            "127.0.0.1",
            &port,
        ],
    );
    assert_eq!(
        pending_responses(&o),
        4,
        "wildcards, case-insensitive names: {}",
        text(&o)
    );
    let o = run(
        "findscu",
        &[
            "-aec",
            "VOXIDE",
            "-P",
            "-k",
            "QueryRetrieveLevel=PATIENT",
            "-k",
            "PatientID",
            "-k",
            "NumberOfPatientRelatedStudies",
            "127.0.0.1",
            &port,
        ],
    );
    assert_eq!(pending_responses(&o), 6, "{}", text(&o));
    let studies = server.get("/dicom-web/studies?PatientID=STS_001").1;
    let study = studies
        .split("\"0020000D\":{\"vr\":\"UI\",\"Value\":[\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the study of STS_001")
        .to_string();
    let o = run(
        "findscu",
        &[
            "-aec",
            "VOXIDE",
            "-S",
            "-k",
            "QueryRetrieveLevel=SERIES",
            "-k",
            &format!("StudyInstanceUID={study}"),
            "-k",
            "SeriesInstanceUID",
            "-k",
            "Modality",
            "-k",
            "NumberOfSeriesRelatedInstances",
            "127.0.0.1",
            &port,
        ],
    );
    // CT, PET, MR and their RTSTRUCTs.
    assert_eq!(pending_responses(&o), 6, "{}", text(&o));
    let o = run(
        "findscu",
        &[
            "-aec",
            "VOXIDE",
            "-S",
            "-k",
            "QueryRetrieveLevel=IMAGE",
            "-k",
            &format!("StudyInstanceUID={study}"),
            "-k",
            "SeriesInstanceUID",
            "-k",
            "SOPInstanceUID",
            "-k",
            "Modality=CT",
            "127.0.0.1",
            &port,
        ],
    );
    // STS_001's CT has 59 slices (an image-level match on a series attribute).
    assert_eq!(pending_responses(&o), 59, "{}", text(&o));

    // C-MOVE a study to dcmtk's storescp, C-GET it back on the same association.
    let moved = tmp.path().join("moved");
    std::fs::create_dir_all(&moved).unwrap();
    let mut storescp = Command::new("storescp")
        .args([
            "-aet",
            "DEST",
            "-od",
            moved.to_str().unwrap(),
            &dest_port.to_string(),
        ])
        .env("TCP_NODELAY", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("storescp");
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", dest_port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "storescp did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = run(
        "movescu",
        &[
            "-aec",
            "VOXIDE",
            "-aem",
            "DEST",
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            &format!("StudyInstanceUID={study}"),
            "127.0.0.1",
            &port,
        ],
    );
    let _ = storescp.kill();
    let _ = storescp.wait();
    assert!(o.status.success(), "movescu: {}", text(&o));
    assert_eq!(count_files(&moved), 180, "movescu: {}", text(&o));
    let o = run(
        "movescu",
        &[
            "-aec",
            "VOXIDE",
            "-aem",
            "NOWHERE",
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            &format!("StudyInstanceUID={study}"),
            "127.0.0.1",
            &port,
        ],
    );
    assert!(text(&o).contains("MoveDestinationUnknown"), "{}", text(&o));

    let got = tmp.path().join("got");
    std::fs::create_dir_all(&got).unwrap();
    let o = run(
        "getscu",
        &[
            "-aec",
            "VOXIDE",
            "-S",
            "-od",
            got.to_str().unwrap(),
            "-k",
            "QueryRetrieveLevel=SERIES",
            "-k",
            &format!("StudyInstanceUID={study}"),
            "-k",
            "SeriesInstanceUID=*",
            "127.0.0.1",
            &port,
        ],
    );
    assert!(o.status.success(), "getscu: {}", text(&o));
    assert_eq!(count_files(&got), 180, "getscu: {}", text(&o));

    // Everything stored over C-STORE comes back over WADO-RS (transfer-syntax=*) with the same
    // elements and pixel bytes.
    let out = python(
        &server,
        &["compare-datasets", &server.url(), sts.to_str().unwrap()],
    );
    assert!(out.contains("\"identical_datasets\": 905"), "{out}");

    // And voxide check agrees with the files.
    drop(server);
    let o = Command::new(env!("CARGO_BIN_EXE_voxide"))
        .args([
            "check",
            "--deep",
            "--data-dir",
            tmp.path().join("store").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        text(&o).contains("905 indexed, 0 missing files, 0 corrupt files, 0 orphan files"),
        "{}",
        text(&o)
    );
}

#[test]
fn dicomweb_client_stores_searches_and_retrieves() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("store"), "");
    let sts = data().join("multimodal/ibsi-sts");
    // STOW-RS every file as sent, then WADO-RS each back byte for byte.
    let out = python(&server, &["stow-all", &server.url(), sts.to_str().unwrap()]);
    assert!(
        out.contains("\"files\": 905, \"stored\": 905, \"identical\": 905"),
        "{out}"
    );
    // dicomweb-client's own calls: store, search, metadata, frames, rendered, WADO-URI.
    let out = python(
        &server,
        &[
            "client",
            &server.url(),
            sts.join("STS_003").to_str().unwrap(),
        ],
    );
    assert!(out.contains("series_instances"), "{out}");
}

#[test]
fn killed_during_a_2000_instance_ingest_then_restarted_and_re_sent_stores_each_once() {
    let tmp = tempfile::tempdir().unwrap();
    let generated = tmp.path().join("generated");
    let sts_ct = data().join("multimodal/ibsi-sts/STS_002/CT");
    let out = python_with(
        None,
        &[
            "generate",
            sts_ct.to_str().unwrap(),
            generated.to_str().unwrap(),
            "2000",
        ],
    );
    assert!(out.contains("\"generated\": 2000"), "{out}");
    let store = tmp.path().join("store");
    let mut server = Server::start(&store, "");
    let (http, dicom) = (server.http, server.dicom);
    let port = dicom.to_string();
    let mut sender = Command::new("storescu")
        .args([
            "-aec",
            "VOXIDE",
            "-R",
            "+sd",
            "127.0.0.1",
            &port,
            generated.to_str().unwrap(),
        ])
        .env("TCP_NODELAY", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // kill -9 once a few hundred instances are in.
    let objects = store.join("objects");
    let start = Instant::now();
    while count_files(&objects) < 300 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "ingest too slow to test"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill();
    let _ = sender.wait();
    let partial = count_files(&objects);
    assert!(
        partial < 2000,
        "the ingest finished before the kill ({partial})"
    );

    // Restart on the same folder, re-send everything.
    let server = Server::start_on(&store, "", http, dicom);
    let o = run(
        "storescu",
        &[
            "-aec",
            "VOXIDE",
            "-R",
            "+sd",
            "127.0.0.1",
            &port,
            generated.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "storescu: {}", text(&o));
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains("voxide_instances_stored 2000"),
        "{metrics}"
    );
    drop(server);
    let o = Command::new(env!("CARGO_BIN_EXE_voxide"))
        .args(["check", "--deep", "--data-dir", store.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("2000 indexed, 0 missing files, 0 corrupt files, 0 orphan files"),
        "{}",
        text(&o)
    );
    assert_eq!(count_files(&objects), 2000);
}

#[test]
fn sigterm_stops_the_server_gracefully_and_a_second_server_on_the_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(&tmp.path().join("store"), "");
    // The data folder has one owner.
    let o = Command::new(env!("CARGO_BIN_EXE_voxide"))
        .args([
            "serve",
            "--data-dir",
            tmp.path().join("store").to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
            "--dicom-port",
            "0",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        text(&o).contains("in use by another voxide process"),
        "{}",
        text(&o)
    );
    let (status, body) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("voxide_instances_stored 0"), "{body}");
    let o = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .output()
        .unwrap();
    assert!(o.status.success());
    let start = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn c_store_keeps_the_data_set_bytes_as_sent() {
    // dcmtk's storescu re-encodes data sets as it sends them (see above), so byte identity over
    // C-STORE is checked with a sender that sends each file's data set unchanged: voxide send.
    // C-STORE carries no file meta group; the data set after it must come back byte for byte.
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("store"), "");
    let sts = data().join("multimodal/ibsi-sts");
    let o = Command::new(env!("CARGO_BIN_EXE_voxide"))
        .args([
            "send",
            sts.to_str().unwrap(),
            "--to",
            &format!("VOXIDE@127.0.0.1:{}", server.dicom),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("sent 905 instances"), "{}", text(&o));
    let out = python(
        &server,
        &[
            "retrieve-identical",
            &server.url(),
            sts.to_str().unwrap(),
            "--dataset-only",
        ],
    );
    assert!(out.contains("\"files\": 905, \"identical\": 905"), "{out}");
    let o = Command::new(env!("CARGO_BIN_EXE_voxide"))
        .args(["echo", &format!("VOXIDE@127.0.0.1:{}", server.dicom)])
        .output()
        .unwrap();
    assert!(
        o.status.success() && text(&o).contains("success"),
        "{}",
        text(&o)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_voxide"))
        .args(["echo", &format!("VOXIDE@127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "echo to a closed port must fail: {}",
        text(&o)
    );
}

/// All ledger entries the server has committed, through its paged API.
fn ledger_entries(server: &Server) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    loop {
        let (status, page) = server.get_json(&format!("/api/ledger/entries?start={}", all.len()));
        assert_eq!(status, 200, "{page}");
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

#[test]
fn the_ledger_records_dicom_and_dicomweb_access_and_proves_it() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let server = Server::start(&store, "[ledger]\ncheckpoint_interval_seconds = 3600\n");
    let port = server.dicom.to_string();
    let series = data().join("dicom/dicom2nifti/anatomical/001");
    let o = run(
        "storescu",
        &[
            "-aec",
            "VOXIDE",
            "-aet",
            "MODALITY1",
            "+sd",
            "127.0.0.1",
            &port,
            series.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "storescu: {}", text(&o));
    let o = run(
        "findscu",
        &[
            "-aec",
            "VOXIDE",
            "-S",
            "-k",
            "QueryRetrieveLevel=STUDY",
            "-k",
            "StudyInstanceUID",
            "127.0.0.1",
            &port,
        ],
    );
    assert_eq!(pending_responses(&o), 1, "{}", text(&o));
    let (status, studies) = server.get_json("/dicom-web/studies?PatientName=*");
    assert_eq!(status, 200);
    let study = studies[0]["0020000D"]["Value"][0]
        .as_str()
        .unwrap()
        .to_string();
    let patient_name = studies[0]["00100010"]["Value"][0]["Alphabetic"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, _) = server.get(&format!("/dicom-web/studies/{study}/metadata"));
    assert_eq!(status, 200);
    let (status, _) = server.get("/dicom-web/studies/1.2.3.4.5/metadata");
    assert_eq!(status, 404);

    let (status, checkpoint) = server.get("/api/ledger/checkpoint");
    assert_eq!(status, 200);
    let entries = ledger_entries(&server);
    let count = |action: &str| {
        entries
            .iter()
            .filter(|e| e["entry"]["action"] == action)
            .count()
    };
    assert_eq!(count("instance_stored"), 4, "{entries:#?}");
    assert_eq!(count("query"), 2, "C-FIND and QIDO-RS: {entries:#?}");
    assert_eq!(count("retrieve"), 2, "{entries:#?}");
    let stored = entries
        .iter()
        .find(|e| e["entry"]["action"] == "instance_stored")
        .unwrap();
    assert!(stored["entry"]["actor"]
        .as_str()
        .unwrap()
        .starts_with("dicom:MODALITY1@127.0.0.1"));
    assert_eq!(
        stored["entry"]["content_sha256"].as_str().unwrap().len(),
        64
    );
    assert!(stored["entry"]["patient"]
        .as_str()
        .unwrap()
        .starts_with("hmac-sha256:"));
    let failed = entries
        .iter()
        .find(|e| e["entry"]["outcome"] == "failure")
        .unwrap();
    assert_eq!(failed["entry"]["study_instance_uid"], "1.2.3.4.5");
    // No patient identifier in clear, anywhere in the ledger.
    let everything = serde_json::to_string(&entries).unwrap();
    assert!(!patient_name.is_empty() && !everything.contains(&patient_name));
    let first = patient_name.split('^').next().unwrap();
    assert!(first.len() < 3 || !everything.contains(first), "{first}");

    // The checkpoint is a signed note over all entries; each entry's inclusion proof verifies
    // against its root, and a later checkpoint is consistent with it.
    let (_, info) = server.get_json("/api/ledger");
    let verifier =
        voxide_ledger::VerifierKey::parse(info["verifier_key"].as_str().unwrap()).unwrap();
    let origin = info["origin"].as_str().unwrap();
    let cp = voxide_ledger::Checkpoint::open(&checkpoint, origin, std::slice::from_ref(&verifier))
        .unwrap();
    assert_eq!(cp.size, entries.len() as u64);
    let hashes = |v: &serde_json::Value| -> Vec<[u8; 32]> {
        v["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| b64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
            .collect()
    };
    for e in &entries {
        let index = e["index"].as_u64().unwrap();
        let (status, proof) = server.get_json(&format!(
            "/api/ledger/proof/inclusion?index={index}&size={}",
            cp.size
        ));
        assert_eq!(status, 200, "{proof}");
        let leaf: [u8; 32] = b64
            .decode(e["leaf_hash"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        voxide_ledger::verify_inclusion(&leaf, index, cp.size, &hashes(&proof), &cp.root).unwrap();
    }
    let (status, _) = server.get(&format!("/dicom-web/studies/{study}/series"));
    assert_eq!(status, 200);
    let (_, later) = server.get("/api/ledger/checkpoint");
    let later =
        voxide_ledger::Checkpoint::open(&later, origin, std::slice::from_ref(&verifier)).unwrap();
    assert!(later.size > cp.size);
    let (_, proof) = server.get_json(&format!(
        "/api/ledger/proof/consistency?from={}&to={}",
        cp.size, later.size
    ));
    voxide_ledger::verify_consistency(cp.size, later.size, &hashes(&proof), &cp.root, &later.root)
        .unwrap();

    // SIEM exports, and the offline verification while the server runs.
    let (status, bundle) = server.get_json("/api/ledger/export?format=fhir");
    assert_eq!(status, 200);
    assert_eq!(bundle["resourceType"], "Bundle");
    // The first entries are the tests' admin account and token (permission changes).
    let events = bundle["entry"].as_array().unwrap();
    assert!(events
        .iter()
        .all(|e| e["resource"]["resourceType"] == "AuditEvent"));
    assert!(events
        .iter()
        .any(|e| e["resource"]["type"]["code"] == "110104"));
    let (status, messages) = server.get_json("/api/ledger/export?format=dicom");
    assert_eq!(status, 200);
    assert!(messages
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["AuditMessage"]["EventIdentification"]["EventID"]["csd-code"] == "110104"));
    let o = run(
        env!("CARGO_BIN_EXE_voxide"),
        &["ledger", "verify", "--data-dir", store.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", text(&o));
    // One by `voxide token create` (the tests' admin), one at the request above.
    assert!(text(&o).contains("3 signed checkpoints"), "{}", text(&o));

    // A de-identified copy of the study, stored as a new study; exporting again adds nothing.
    let (status, copy) = server.post_json(
        &format!("/api/studies/{study}/deidentify"),
        r#"{"profile": "basic,retain-long-modified-dates"}"#,
    );
    assert_eq!(status, 200, "{copy}");
    assert_eq!(
        (copy["copied"].as_u64(), copy["already_copied"].as_u64()),
        (Some(4), Some(0)),
        "{copy}"
    );
    let new_study = copy["study_instance_uids"][0].as_str().unwrap().to_string();
    assert!(new_study.starts_with("2.25.") && new_study != study);
    let (_, found) = server.get_json(&format!(
        "/dicom-web/studies?StudyInstanceUID={new_study}&includefield=00100010"
    ));
    let name = found[0]["00100010"]["Value"][0]["Alphabetic"]
        .as_str()
        .unwrap();
    assert!(
        name.starts_with("VX") && !name.contains(&patient_name),
        "{name}"
    );
    let (_, again) = server.post_json(
        &format!("/api/studies/{study}/deidentify"),
        r#"{"profile": "basic,retain-long-modified-dates"}"#,
    );
    assert_eq!(again["already_copied"].as_u64(), Some(4), "{again}");
    assert_eq!(again["study_instance_uids"][0], new_study.as_str());
    let (status, bad) = server.post_json(
        &format!("/api/studies/{study}/deidentify"),
        r#"{"profile": "basic,keep-everything"}"#,
    );
    assert_eq!(status, 400, "{bad}");
    let entries = ledger_entries(&server);
    let export = entries
        .iter()
        .filter(|e| e["entry"]["action"] == "deidentify")
        .count();
    assert_eq!(export, 3, "two exports and the refused one on the ledger");
}
