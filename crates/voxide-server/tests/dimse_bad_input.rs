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
        // Bad input, not access control, is under test here (tests/auth.rs covers that).
        auth: voxide_server::AuthConfig {
            enabled: false,
            ..Default::default()
        },
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
        audit: true,
    })
    .await
    .unwrap();
    assert_eq!(store.stats().await.unwrap().instances, 1);
}

/// Encodes a command set (Implicit VR Little Endian, as DIMSE requires).
fn command(elements: Vec<dicom_object::mem::InMemElement>) -> Vec<u8> {
    let obj = dicom_object::InMemDicomObject::command_from_element_iter(elements);
    let mut out = Vec::new();
    obj.write_dataset_with_ts(
        &mut out,
        &dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN.erased(),
    )
    .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_cancel_stops_a_c_find() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_ul::pdu::{PDataValue, PDataValueType};
    use dicom_ul::Pdu;

    let tmp = tempfile::tempdir().unwrap();
    let (http, dicom) = (free_port(), free_port());
    let config = ServerConfig {
        data_dir: tmp.path().join("store"),
        http: ([127, 0, 0, 1], http).into(),
        dicom: ([127, 0, 0, 1], dicom).into(),
        // Bad input, not access control, is under test here (tests/auth.rs covers that).
        auth: voxide_server::AuthConfig {
            enabled: false,
            ..Default::default()
        },
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
    for _ in 0..100 {
        if voxide_server::scu::echo("TEST", &target).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // 59 CT slices of one series.
    let files = std::fs::read_dir(voxide_testdata::data(
        "multimodal/ibsi-sts/STS_001/CT/image",
    ))
    .unwrap();
    let objects: Vec<Outgoing> = files
        .map(|f| Outgoing::from_file(std::fs::read(f.unwrap().path()).unwrap().into()).unwrap())
        .collect();
    assert_eq!(objects.len(), 59);
    let study = {
        let obj =
            voxide_dicom::from_bytes(&objects[0].file, voxide_dicom::ReadDepth::Header).unwrap();
        voxide_dicom::str_of(&obj, tags::STUDY_INSTANCE_UID).unwrap()
    };
    let refs: Vec<&Outgoing> = objects.iter().collect();
    let mut sender = Sender::open("TEST", &target, &refs).await.unwrap();
    for o in &objects {
        assert!(sender.store(o).await.unwrap().is_success());
    }
    sender.release().await.unwrap();

    // C-FIND at IMAGE level, then C-CANCEL at once, before reading any response.
    let find = "1.2.840.10008.5.1.4.1.2.2.1";
    let mut assoc = dicom_ul::ClientAssociationOptions::new()
        .calling_ae_title("TEST")
        .called_ae_title("VOXIDE")
        .with_presentation_context(find, vec!["1.2.840.10008.1.2"])
        .read_timeout(Duration::from_secs(30))
        .establish_async(("127.0.0.1", dicom))
        .await
        .unwrap();
    let pc = assoc.presentation_contexts()[0].id;
    let identifier = dicom_object::InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::QUERY_RETRIEVE_LEVEL,
            VR::CS,
            PrimitiveValue::from("IMAGE"),
        ),
        DataElement::new(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(study.as_str()),
        ),
        DataElement::new(tags::SOP_INSTANCE_UID, VR::UI, PrimitiveValue::Empty),
    ]);
    let mut data = Vec::new();
    identifier
        .write_dataset_with_ts(
            &mut data,
            &dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN.erased(),
        )
        .unwrap();
    let rq = command(vec![
        DataElement::new(
            tags::AFFECTED_SOP_CLASS_UID,
            VR::UI,
            PrimitiveValue::from(find),
        ),
        DataElement::new(tags::COMMAND_FIELD, VR::US, PrimitiveValue::from(0x0020u16)),
        DataElement::new(tags::MESSAGE_ID, VR::US, PrimitiveValue::from(7u16)),
        DataElement::new(tags::PRIORITY, VR::US, PrimitiveValue::from(0u16)),
        DataElement::new(
            tags::COMMAND_DATA_SET_TYPE,
            VR::US,
            PrimitiveValue::from(0u16),
        ),
    ]);
    let cancel = command(vec![
        DataElement::new(tags::COMMAND_FIELD, VR::US, PrimitiveValue::from(0x0FFFu16)),
        DataElement::new(
            tags::MESSAGE_ID_BEING_RESPONDED_TO,
            VR::US,
            PrimitiveValue::from(7u16),
        ),
        DataElement::new(
            tags::COMMAND_DATA_SET_TYPE,
            VR::US,
            PrimitiveValue::from(0x0101u16),
        ),
    ]);
    let pdv = |value_type, data| PDataValue {
        presentation_context_id: pc,
        value_type,
        is_last: true,
        data,
    };
    // Both PDUs go out in one write, so the cancel is already in the server's read buffer
    // when it sends its first result: the outcome does not depend on thread scheduling.
    let mut wire = Vec::new();
    dicom_ul::pdu::write_pdu(
        &mut wire,
        &Pdu::PData {
            data: vec![
                pdv(PDataValueType::Command, rq),
                pdv(PDataValueType::Data, data),
            ],
        },
    )
    .unwrap();
    dicom_ul::pdu::write_pdu(
        &mut wire,
        &Pdu::PData {
            data: vec![pdv(PDataValueType::Command, cancel)],
        },
    )
    .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let stream = assoc.inner_stream();
        stream.write_all(&wire).await.unwrap();
        stream.flush().await.unwrap();
    }
    // Read responses until the final one.
    let mut pending = 0;
    let final_status = loop {
        let Pdu::PData { data } = assoc.receive().await.unwrap() else {
            panic!("expected P-DATA")
        };
        let mut done = None;
        for v in data {
            if v.value_type == PDataValueType::Command {
                let cmd = dicom_object::InMemDicomObject::read_dataset_with_ts(
                    v.data.as_slice(),
                    &dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN.erased(),
                )
                .unwrap();
                let status: u16 = cmd.element(tags::STATUS).unwrap().to_int().unwrap();
                if status == 0xFF00 {
                    pending += 1;
                } else {
                    done = Some(status);
                }
            }
        }
        if let Some(s) = done {
            break s;
        }
    };
    assert_eq!(final_status, 0xFE00, "the C-FIND must end as cancelled");
    assert!(pending < 59, "{pending} results sent after the cancel");
    let _ = assoc.release().await;
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
