//! The ingest path on real studies: storing, de-duplicating, conflicts, hierarchy checks,
//! bad input, and the index/file consistency check.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use voxide_store::{ConflictPolicy, IngestOutcome, Store, StoreConfig, StoreError};

async fn open(dir: &Path, on_conflict: ConflictPolicy) -> Store {
    Store::open(StoreConfig {
        data_dir: dir.to_path_buf(),
        on_conflict,
        durability: Default::default(),
        audit: true,
    })
    .await
    .unwrap()
}

fn sts_files() -> Vec<PathBuf> {
    voxide_dicom::list_files(&voxide_testdata::data("multimodal/ibsi-sts"))
        .unwrap()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect()
}

fn object_files(dir: &Path) -> usize {
    walk(&dir.join("objects")).len()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p))
            } else {
                out.push(p)
            }
        }
    }
    out
}

/// An edited copy of a real file (re-encoded by dicom-rs).
fn edited(path: &Path, edit: impl FnOnce(&mut voxide_dicom::DicomObject)) -> Vec<u8> {
    let mut obj = voxide_dicom::open(path, voxide_dicom::ReadDepth::Full).unwrap();
    edit(&mut obj);
    // Keep the file meta in step with the dataset, as a real sender would.
    if let Some(sop) = voxide_dicom::str_of(&obj, tags::SOP_INSTANCE_UID)
        .filter(|s| voxide_store::check_uid(s).is_ok())
    {
        obj.update_meta(|m| m.media_storage_sop_instance_uid = sop);
    }
    let mut out = Vec::new();
    obj.write_all(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_studies_are_stored_once_and_re_sends_are_no_ops() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), ConflictPolicy::Reject).await;
    let files = sts_files();
    let (mut studies, mut series, mut patients) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut bytes = 0u64;
    for f in &files {
        let obj = voxide_dicom::open(f, voxide_dicom::ReadDepth::Header).unwrap();
        studies.insert(voxide_dicom::str_of(&obj, tags::STUDY_INSTANCE_UID).unwrap());
        series.insert(voxide_dicom::str_of(&obj, tags::SERIES_INSTANCE_UID).unwrap());
        patients.insert(voxide_dicom::str_of(&obj, tags::PATIENT_ID).unwrap());
        let data = std::fs::read(f).unwrap();
        bytes += data.len() as u64;
        let r = store
            .ingest(data)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(r.outcome, IngestOutcome::Stored, "{}", f.display());
    }
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.instances, files.len() as u64);
    assert_eq!(stats.series, series.len() as u64);
    assert_eq!(stats.studies, studies.len() as u64);
    assert_eq!(stats.patients, patients.len() as u64);
    assert_eq!(stats.bytes, bytes);
    assert_eq!(patients.len(), 6);
    assert_eq!(object_files(tmp.path()), files.len());

    // Every file comes back byte for byte.
    for f in files.iter().step_by(37) {
        let obj = voxide_dicom::open(f, voxide_dicom::ReadDepth::Header).unwrap();
        let sop = voxide_dicom::str_of(&obj, tags::SOP_INSTANCE_UID).unwrap();
        assert_eq!(
            store.read_instance(&sop).await.unwrap().unwrap(),
            std::fs::read(f).unwrap()
        );
    }

    // Re-sending everything changes nothing.
    for f in &files {
        let r = store.ingest(std::fs::read(f).unwrap()).await.unwrap();
        assert_eq!(r.outcome, IngestOutcome::Duplicate);
    }
    assert_eq!(store.stats().await.unwrap(), stats);
    assert_eq!(object_files(tmp.path()), files.len());
    let report = store.check(true, false).await.unwrap();
    assert!(report.is_consistent(), "{report:?}");
    assert_eq!(report.instances, files.len() as u64);

    // Reopening finds the same store.
    drop(store);
    let store = open(tmp.path(), ConflictPolicy::Reject).await;
    assert_eq!(store.stats().await.unwrap(), stats);
}

#[tokio::test]
async fn a_changed_re_send_is_refused_or_replaces_as_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let file = voxide_testdata::data("dicom/pydicom/CT_small.dcm");
    let original = std::fs::read(&file).unwrap();
    let changed = edited(&file, |o| {
        o.put(DataElement::new(
            tags::PATIENT_NAME,
            VR::PN,
            PrimitiveValue::from("Changed^Name"),
        ));
    });
    let store = open(tmp.path(), ConflictPolicy::Reject).await;
    store.ingest(original.clone()).await.unwrap();
    let sop = {
        let obj = voxide_dicom::open(&file, voxide_dicom::ReadDepth::Header).unwrap();
        voxide_dicom::str_of(&obj, tags::SOP_INSTANCE_UID).unwrap()
    };
    match store.ingest(changed.clone()).await {
        Err(StoreError::Conflict(uid)) => assert_eq!(uid, sop),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.read_instance(&sop).await.unwrap().unwrap(), original);
    assert_eq!(
        object_files(tmp.path()),
        1,
        "the refused file must not stay behind"
    );
    drop(store);

    let store = open(tmp.path(), ConflictPolicy::Overwrite).await;
    let r = store.ingest(changed.clone()).await.unwrap();
    assert_eq!(r.outcome, IngestOutcome::Replaced);
    assert_eq!(store.read_instance(&sop).await.unwrap().unwrap(), changed);
    assert_eq!(store.stats().await.unwrap().instances, 1);
    assert_eq!(
        object_files(tmp.path()),
        1,
        "the replaced file must be removed"
    );
    assert!(store.check(true, false).await.unwrap().is_consistent());
}

#[tokio::test]
async fn hierarchy_contradictions_and_bad_input_store_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), ConflictPolicy::Reject).await;
    let file = voxide_testdata::data("dicom/pydicom/CT_small.dcm");
    store.ingest(std::fs::read(&file).unwrap()).await.unwrap();
    // Another instance of the same series claiming another study.
    let moved = edited(&file, |o| {
        o.put(DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3.4.5.6"),
        ));
        o.put(DataElement::new(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.3.4.5.7"),
        ));
    });
    match store.ingest(moved).await {
        Err(StoreError::Hierarchy(why)) => assert!(why.contains("belongs to study"), "{why}"),
        other => panic!("expected a hierarchy error, got {other:?}"),
    }
    // Malformed UID, missing UID, not DICOM, truncated.
    let bad_uid = edited(&file, |o| {
        o.put(DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.abc"),
        ));
    });
    let no_series = edited(&file, |o| {
        o.remove_element(tags::SERIES_INSTANCE_UID);
    });
    let original = std::fs::read(&file).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (bad_uid, "invalid SOP Instance UID"),
        (no_series, "missing Series Instance UID"),
        (
            b"not a dicom file at all, just text".to_vec(),
            "not a DICOM file",
        ),
        (original[..original.len() / 2].to_vec(), "truncated"),
    ];
    for (bytes, needle) in cases {
        match store.ingest(bytes).await {
            Err(StoreError::Invalid(why)) => {
                assert!(why.contains(needle), "expected '{needle}' in: {why}")
            }
            other => panic!("expected invalid input ({needle}), got {other:?}"),
        }
    }
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.studies, stats.series, stats.instances), (1, 1, 1));
    assert_eq!(object_files(tmp.path()), 1);
    assert!(store.check(false, false).await.unwrap().is_consistent());
}

#[tokio::test]
async fn check_finds_missing_and_orphan_files_and_repairs_orphans() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), ConflictPolicy::Reject).await;
    for name in ["CT_small.dcm", "MR_small.dcm"] {
        store
            .ingest(std::fs::read(voxide_testdata::data(&format!("dicom/pydicom/{name}"))).unwrap())
            .await
            .unwrap();
    }
    let files = walk(&tmp.path().join("objects"));
    assert_eq!(files.len(), 2);
    std::fs::remove_file(&files[0]).unwrap();
    let stray = tmp.path().join(
        "objects/instances/00/0000000000000000000000000000000000000000000000000000000000000000.dcm",
    );
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, b"stray").unwrap();
    let report = store.check(false, false).await.unwrap();
    assert_eq!(report.missing.len(), 1);
    assert_eq!(report.orphans.len(), 1);
    assert!(!report.is_consistent());
    // A corrupted file is caught by size, and by content when deep.
    std::fs::write(&files[1], b"garbage").unwrap();
    let report = store.check(true, true).await.unwrap();
    assert_eq!(report.corrupt.len(), 1);
    assert_eq!(report.removed, 1);
    assert!(!stray.exists());
}

#[tokio::test]
async fn the_data_folder_has_one_owner_and_staged_leftovers_are_removed_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), ConflictPolicy::Reject).await;
    store
        .ingest(std::fs::read(voxide_testdata::data("dicom/pydicom/CT_small.dcm")).unwrap())
        .await
        .unwrap();
    let second = Store::open(StoreConfig {
        data_dir: tmp.path().to_path_buf(),
        on_conflict: ConflictPolicy::Reject,
        durability: Default::default(),
        audit: true,
    })
    .await;
    match second {
        Err(e @ StoreError::Busy { .. }) => {
            assert!(e.to_string().contains("in use by another voxide process"))
        }
        other => panic!("expected the folder to be busy, got {other:?}"),
    }
    // What a write killed between creating its staged file and renaming it leaves behind.
    let stored = walk(&tmp.path().join("objects"));
    assert_eq!(stored.len(), 1);
    let staged = std::path::PathBuf::from(format!("{}#17", stored[0].display()));
    std::fs::write(&staged, b"half a file").unwrap();
    drop(store);

    let store = open(tmp.path(), ConflictPolicy::Reject).await;
    assert_eq!(store.partial_writes_removed(), 1);
    assert!(!staged.exists());
    assert_eq!(object_files(tmp.path()), 1);
    assert!(store.check(true, false).await.unwrap().is_consistent());
}

#[tokio::test]
async fn jobs_run_in_order_and_survive_a_restart() {
    use voxide_store::{JobState, NewJob};
    let dir = tempfile::tempdir().unwrap();
    let job = |n: u32| NewJob {
        kind: "model-run".into(),
        params: format!("{{\"n\":{n}}}"),
        trigger: "api".into(),
    };
    {
        let store = open(dir.path(), ConflictPolicy::Reject).await;
        let a = store.enqueue_job(&job(1)).await.unwrap();
        let b = store.enqueue_job(&job(2)).await.unwrap();
        let c = store.enqueue_job(&job(3)).await.unwrap();
        assert_eq!(a.state, JobState::Queued);
        assert!(a.log.contains("queued by api"), "{}", a.log);
        assert!(store.claim_job(&["other"]).await.unwrap().is_none());
        let first = store.claim_job(&["model-run"]).await.unwrap().unwrap();
        assert_eq!(
            (first.id, first.state, first.attempts),
            (a.id, JobState::Running, 1)
        );
        store.job_progress(a.id, 0.5, "inferring").await.unwrap();
        store.job_log(a.id, "two\nlines").await.unwrap();
        let now = store.job(a.id).await.unwrap().unwrap();
        assert_eq!(
            (now.progress, now.step.as_deref()),
            (0.5, Some("inferring"))
        );
        assert!(now.log.contains(" two | lines\n"), "{}", now.log);
        store.finish_job(a.id, Ok("{\"ok\":true}")).await.unwrap();
        let done = store.job(a.id).await.unwrap().unwrap();
        assert_eq!((done.state, done.progress), (JobState::Succeeded, 1.0));
        assert_eq!(done.result.as_deref(), Some("{\"ok\":true}"));
        assert!(done.finished_at.is_some());
        // A queued job can be canceled, and a running one (its runner sees the state and
        // stops; its end is then not recorded over the cancel); a finished one is left alone.
        let canceled = store.cancel_job(c.id).await.unwrap().unwrap();
        assert_eq!(canceled.state, JobState::Canceled);
        assert!(canceled.log.ends_with(" canceled\n"), "{}", canceled.log);
        assert_eq!(
            store.cancel_job(a.id).await.unwrap().unwrap().state,
            JobState::Succeeded
        );
        let second = store.claim_job(&["model-run"]).await.unwrap().unwrap();
        assert_eq!(second.id, b.id);
        let d = store.enqueue_job(&job(4)).await.unwrap();
        assert_eq!(
            store.claim_job(&["model-run"]).await.unwrap().unwrap().id,
            d.id
        );
        store.job_progress(d.id, 0.25, "inferring").await.unwrap();
        let canceled = store.cancel_job(d.id).await.unwrap().unwrap();
        assert_eq!(canceled.state, JobState::Canceled);
        assert!(
            canceled
                .log
                .contains("canceled while running (at 25%, step: inferring)"),
            "{}",
            canceled.log
        );
        store.finish_job(d.id, Ok("{}")).await.unwrap();
        let d = store.job(d.id).await.unwrap().unwrap();
        assert_eq!((d.state, d.result), (JobState::Canceled, None));
        assert!(store.claim_job(&["model-run"]).await.unwrap().is_none());
        assert!(store.cancel_job(999).await.unwrap().is_none());
        // The store is dropped with job b running: a crash, as far as the index can tell.
    }
    let store = open(dir.path(), ConflictPolicy::Reject).await;
    assert_eq!(store.requeue_interrupted_jobs(3).await.unwrap(), (1, 0));
    let b = store.job(2).await.unwrap().unwrap();
    assert_eq!((b.state, b.progress), (JobState::Queued, 0.0));
    assert!(b.log.contains("queued again"), "{}", b.log);
    let again = store.claim_job(&["model-run"]).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (2, 2));
    // Interrupted as often as allowed: it fails instead of running forever.
    assert_eq!(store.requeue_interrupted_jobs(2).await.unwrap(), (0, 1));
    let b = store.job(2).await.unwrap().unwrap();
    assert_eq!(b.state, JobState::Failed);
    assert!(b.error.unwrap().contains("interrupted 2 times"));
    store.finish_job(2, Err("late")).await.unwrap();
    assert_eq!(store.job(2).await.unwrap().unwrap().state, JobState::Failed);
    let listed = store.jobs(None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|j| j.id).collect::<Vec<_>>(),
        [4, 3, 2, 1]
    );
    let failed = store.jobs(Some(JobState::Failed), 10).await.unwrap();
    assert_eq!(failed.len(), 1);
}

#[tokio::test]
async fn a_series_is_stable_once_instances_stop_arriving_and_is_taken_once() {
    use voxide_store::NewJob;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), ConflictPolicy::Reject).await;
    let ct: Vec<PathBuf> = sts_files()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("STS_001/CT/"))
        .take(3)
        .collect();
    assert_eq!(ct.len(), 3);
    let mut series = String::new();
    for p in &ct[..2] {
        series = store
            .ingest(std::fs::read(p).unwrap())
            .await
            .unwrap()
            .series_instance_uid;
    }
    let long = std::time::Duration::from_secs(3600);
    assert!(store.stable_series(long, 10).await.unwrap().is_empty());
    let stable = store
        .stable_series(std::time::Duration::ZERO, 10)
        .await
        .unwrap();
    assert_eq!(stable.len(), 1);
    let arrival = &stable[0];
    assert_eq!(arrival.series.series_instance_uid, series);
    assert_eq!(
        (arrival.series.modality.as_deref(), arrival.series.instances),
        (Some("CT"), 2)
    );
    // Another instance arrives after the listing: the series is not stable after all.
    store.ingest(std::fs::read(&ct[2]).unwrap()).await.unwrap();
    let job = NewJob {
        kind: "model-run".into(),
        params: "{}".into(),
        trigger: "rule:r".into(),
    };
    assert!(store
        .take_arrival(arrival, std::slice::from_ref(&job))
        .await
        .unwrap()
        .is_empty());
    assert!(store.jobs(None, 10).await.unwrap().is_empty());
    let stable = store
        .stable_series(std::time::Duration::ZERO, 10)
        .await
        .unwrap();
    assert_eq!(stable[0].series.instances, 3);
    let queued = store.take_arrival(&stable[0], &[job]).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].trigger, "rule:r");
    assert!(store
        .stable_series(std::time::Duration::ZERO, 10)
        .await
        .unwrap()
        .is_empty());
    // A re-sent (duplicate) instance is not an arrival.
    store.ingest(std::fs::read(&ct[0]).unwrap()).await.unwrap();
    assert!(store
        .stable_series(std::time::Duration::ZERO, 10)
        .await
        .unwrap()
        .is_empty());
    let summary = store.series_summary(&series).await.unwrap().unwrap();
    assert_eq!(summary.instances, 3);
    assert_eq!(store.series_instances(&series).await.unwrap().len(), 3);
    assert!(store.series_summary("1.2.3").await.unwrap().is_none());
}

/// A patient's study count counts only the studies the asker may see: a researcher granted one
/// of a patient's two studies learns of one, not two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patients_study_count_is_limited_to_the_askers_scope() {
    use voxide_store::{Level, Query, Scope, Value};
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path(), ConflictPolicy::Reject).await;
    let file = voxide_testdata::data("dicom/pydicom/CT_small.dcm");
    let first = store.ingest(std::fs::read(&file).unwrap()).await.unwrap();
    // The same patient's second study.
    let second = edited(&file, |o| {
        for (tag, uid) in [
            (tags::SOP_INSTANCE_UID, "1.2.3.4.5.6"),
            (tags::SERIES_INSTANCE_UID, "1.2.3.4.5.8"),
            (tags::STUDY_INSTANCE_UID, "1.2.3.4.5.7"),
        ] {
            o.put(DataElement::new(tag, VR::UI, PrimitiveValue::from(uid)));
        }
    });
    store.ingest(second).await.unwrap();
    store.create_collection("one", "").await.unwrap();
    store
        .add_to_collection("one", &first.study_instance_uid)
        .await
        .unwrap();
    let count = |scope: Scope| {
        let store = &store;
        async move {
            let records = store
                .query(&Query {
                    level: Level::Patient,
                    keys: vec![(0x0020_1200, String::new())],
                    limit: None,
                    offset: 0,
                    scope,
                })
                .await
                .unwrap();
            assert_eq!(records.len(), 1);
            records[0]
                .attributes
                .iter()
                .find(|a| a.tag == 0x0020_1200)
                .and_then(|a| a.value.clone())
        }
    };
    assert_eq!(count(Scope::All).await, Some(Value::Int(2)));
    let researcher = Scope::Studies {
        collections: vec!["one".into()],
        all_collections: false,
        deidentified_only: false,
    };
    assert_eq!(count(researcher).await, Some(Value::Int(1)));
    // With a patient-level match key: its argument is bound after the count's (a mix-up would
    // match nothing or count nothing).
    let obj = voxide_dicom::open(&file, voxide_dicom::ReadDepth::Full).unwrap();
    let patient_id = voxide_dicom::str_of(&obj, tags::PATIENT_ID).unwrap();
    let records = store
        .query(&Query {
            level: Level::Patient,
            keys: vec![(0x0010_0020, patient_id), (0x0020_1200, String::new())],
            limit: None,
            offset: 0,
            scope: Scope::Studies {
                collections: vec!["one".into()],
                all_collections: false,
                deidentified_only: false,
            },
        })
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    let count = records[0].attributes.iter().find(|a| a.tag == 0x0020_1200);
    assert_eq!(count.and_then(|a| a.value.clone()), Some(Value::Int(1)));
}
