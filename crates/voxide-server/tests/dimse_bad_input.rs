//! DIMSE under bad input: a C-STORE whose data set is garbage, or lacks its UIDs, gets a failure
//! status with an Error Comment saying why; nothing is stored and the association goes on.

use std::time::Duration;

use dicom_object::FileMetaTableBuilder;
use voxide_server::scu::{Outgoing, Sender, Target};
use voxide_server::ServerConfig;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Part 10 file: a valid meta group followed by `dataset` as is.
fn part10(sop: &str, dataset: &[u8]) -> Vec<u8> {
    let meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.2")
        .media_storage_sop_instance_uid(sop)
        .transfer_syntax("1.2.840.10008.1.2.1")
        .build()
        .unwrap();
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    meta.write(&mut out).unwrap();
    out.extend_from_slice(dataset);
    out
}

fn outgoing(sop: &str, file: Vec<u8>) -> Outgoing {
    Outgoing {
        sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
        sop_instance_uid: sop.into(),
        transfer_syntax: "1.2.840.10008.1.2.1".into(),
        file: file.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_c_store_data_sets_get_failure_statuses_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let (http, dicom) = (free_port(), free_port());
    let config = ServerConfig {
        data_dir: tmp.path().join("store"),
        http: ([127, 0, 0, 1], http).into(),
        dicom: ([127, 0, 0, 1], dicom).into(),
        ..ServerConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(voxide_server::run(config, async {
        let _ = stopped.await;
    }));
    let target = Target {
        ae_title: "VOXIDE".into(),
        host: "127.0.0.1".into(),
        port: dicom,
    };
    let mut echo = Err(voxide_server::ServerError::Dimse("not tried".into()));
    for _ in 0..100 {
        echo = voxide_server::scu::echo("TEST", &target).await;
        if echo.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    echo.expect("C-ECHO");

    // Garbage after a valid meta group; then an element stream without any UID; then a good one.
    let garbage = outgoing(
        "1.2.3.4.1",
        part10("1.2.3.4.1", b"\xff\xfe this is not a data set at all"),
    );
    // (0010,0010) PN "DOE^JOHN" only: parses, but has no UIDs.
    let no_uids = outgoing(
        "1.2.3.4.2",
        part10("1.2.3.4.2", b"\x10\x00\x10\x00PN\x08\x00DOE^JOHN"),
    );
    let good_file = std::fs::read(voxide_testdata::data("dicom/pydicom/CT_small.dcm")).unwrap();
    let good = Outgoing::from_file(good_file.into()).unwrap();
    let objects = [&garbage, &no_uids, &good];
    let mut sender = Sender::open("TEST", &target, &objects).await.unwrap();
    let r = sender.store(&garbage).await.unwrap();
    assert!(!r.is_success(), "{r:?}");
    assert_eq!(r.status & 0xF000, 0xC000, "{r:?}");
    assert!(r.comment.as_deref().is_some_and(|c| c.len() > 10), "{r:?}");
    let r = sender.store(&no_uids).await.unwrap();
    assert_eq!(r.status, 0xC000, "{r:?}");
    assert!(
        r.comment
            .as_deref()
            .unwrap_or("")
            .contains("missing SOP Instance UID"),
        "{r:?}"
    );
    // The association is still usable.
    let r = sender.store(&good).await.unwrap();
    assert!(r.is_success(), "{r:?}");
    sender.release().await.unwrap();

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("graceful shutdown")
        .unwrap()
        .unwrap();
    // Only the good instance is stored.
    let store = voxide_store::Store::open(voxide_store::StoreConfig {
        data_dir: tmp.path().join("store"),
        on_conflict: Default::default(),
        durability: Default::default(),
    })
    .await
    .unwrap();
    assert_eq!(store.stats().await.unwrap().instances, 1);
}
