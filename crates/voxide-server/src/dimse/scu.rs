//! DICOM service class user: C-ECHO and C-STORE to a remote node (`voxide echo`, `voxide send`,
//! and the C-MOVE sub-operations).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use dicom_dictionary_std::tags;
use dicom_ul::association::client::AsyncClientAssociation;
use dicom_ul::pdu::PresentationContextResultReason;
use dicom_ul::ClientAssociationOptions;
use tokio::net::TcpStream;

use super::message::{self, command, receive_message, send_message, u16_of, Event};
use crate::ServerError;

const VERIFICATION: &str = "1.2.840.10008.1.1";
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

/// A remote DICOM node: `AE@host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub ae_title: String,
    pub host: String,
    pub port: u16,
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || {
            format!("'{s}' is not a DICOM node: write AE@host:port, e.g. ORTHANC@127.0.0.1:4242")
        };
        let (ae, rest) = s.split_once('@').ok_or_else(usage)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(usage)?;
        let port: u16 = port.parse().map_err(|_| usage())?;
        if ae.is_empty() || ae.len() > 16 || host.is_empty() {
            return Err(usage());
        }
        Ok(Self {
            ae_title: ae.to_string(),
            host: host.trim_matches(['[', ']']).to_string(),
            port,
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}", self.ae_title, self.host, self.port)
    }
}

/// One object to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub transfer_syntax: String,
    /// The Part 10 file.
    pub file: bytes::Bytes,
}

impl Outgoing {
    /// Reads the identifiers of a Part 10 file (or bare dataset, which is wrapped).
    pub fn from_file(file: bytes::Bytes) -> Result<Self, String> {
        let obj = voxide_dicom::from_bytes(&file, voxide_dicom::ReadDepth::Header)?;
        let meta = obj.meta();
        let sop_class_uid = voxide_dicom::str_of(&obj, tags::SOP_CLASS_UID).unwrap_or_else(|| {
            meta.media_storage_sop_class_uid()
                .trim_end_matches('\0')
                .to_string()
        });
        let sop_instance_uid =
            voxide_dicom::str_of(&obj, tags::SOP_INSTANCE_UID).ok_or("no SOP Instance UID")?;
        let transfer_syntax = meta.transfer_syntax().trim_end_matches('\0').to_string();
        let file = if message::dataset_of_part10(&file).is_some() {
            file
        } else {
            let full = voxide_dicom::from_bytes(&file, voxide_dicom::ReadDepth::Full)?;
            let mut out = Vec::new();
            full.write_all(&mut out).map_err(|e| e.to_string())?;
            bytes::Bytes::from(out)
        };
        Ok(Self {
            sop_class_uid,
            sop_instance_uid,
            transfer_syntax,
            file,
        })
    }
}

/// The outcome of one C-STORE.
#[derive(Debug, Clone)]
pub struct StoreResult {
    pub sop_instance_uid: String,
    /// DIMSE status: 0x0000 success, 0xBxxx warning, others failure.
    pub status: u16,
    pub comment: Option<String>,
}

impl StoreResult {
    pub fn is_success(&self) -> bool {
        self.status == 0 || (self.status & 0xF000) == 0xB000
    }
}

/// An open association for C-STORE.
#[derive(Debug)]
pub struct Sender {
    assoc: AsyncClientAssociation<TcpStream>,
    next_id: u16,
}

fn timeout() -> Duration {
    Duration::from_secs(60)
}

async fn connect(
    calling: &str,
    target: &Target,
    contexts: &[(String, Vec<String>)],
) -> Result<AsyncClientAssociation<TcpStream>, ServerError> {
    let mut options = ClientAssociationOptions::new()
        .calling_ae_title(calling.to_string())
        .called_ae_title(target.ae_title.clone())
        .max_pdu_length(65_536)
        .read_timeout(timeout())
        .write_timeout(timeout())
        .connection_timeout(Duration::from_secs(10));
    for (abstract_syntax, syntaxes) in contexts {
        options = options.with_presentation_context(abstract_syntax.clone(), syntaxes.clone());
    }
    let mut assoc = options
        .establish_async((target.host.as_str(), target.port))
        .await
        .map_err(|e| ServerError::Association(format!("{target}: {e}")))?;
    // dicom-ul leaves Nagle on; DIMSE request/response pairs would wait for delayed ACKs.
    let _ = assoc.inner_stream().set_nodelay(true);
    Ok(assoc)
}

/// C-ECHO: opens an association, verifies, releases; returns the round-trip time.
pub async fn echo(calling: &str, target: &Target) -> Result<Duration, ServerError> {
    let start = Instant::now();
    let mut assoc = connect(
        calling,
        target,
        &[(VERIFICATION.to_string(), vec![IMPLICIT_LE.to_string()])],
    )
    .await?;
    let pc = assoc
        .presentation_contexts()
        .first()
        .map(|p| p.id)
        .ok_or_else(|| ServerError::Association(format!("{target} refused Verification")))?;
    let rq = message::command_set(vec![
        message::ui(tags::AFFECTED_SOP_CLASS_UID, VERIFICATION),
        message::us(tags::COMMAND_FIELD, command::C_ECHO_RQ),
        message::us(tags::MESSAGE_ID, 1),
        message::us(tags::COMMAND_DATA_SET_TYPE, message::NO_DATA_SET),
    ]);
    send_message(&mut assoc, pc, &rq, None).await?;
    let status = match receive_message(&mut assoc).await? {
        Event::Message(m) if m.field() == command::C_ECHO_RSP => {
            u16_of(&m.command, tags::STATUS).unwrap_or(0xFFFF)
        }
        Event::Message(m) => {
            return Err(ServerError::Dimse(format!(
                "{target} answered C-ECHO with command 0x{:04X}",
                m.field()
            )))
        }
        Event::Release | Event::Gone(_) => {
            return Err(ServerError::Dimse(format!(
                "{target} closed the association during C-ECHO"
            )))
        }
    };
    let _ = assoc.release().await;
    if status != 0 {
        return Err(ServerError::Dimse(format!(
            "{target} answered C-ECHO with status 0x{status:04X}"
        )));
    }
    Ok(start.elapsed())
}

impl Sender {
    /// Opens an association proposing each SOP class of `objects` with its stored transfer
    /// syntax and the uncompressed ones.
    pub async fn open(
        calling: &str,
        target: &Target,
        objects: &[&Outgoing],
    ) -> Result<Self, ServerError> {
        let classes = objects
            .iter()
            .map(|o| (o.sop_class_uid.clone(), o.transfer_syntax.clone()))
            .collect();
        Self::open_for(calling, target, classes).await
    }

    /// Opens an association for objects of these (SOP class, stored transfer syntax) pairs,
    /// without holding the objects themselves.
    pub async fn open_for(
        calling: &str,
        target: &Target,
        classes: BTreeSet<(String, String)>,
    ) -> Result<Self, ServerError> {
        let mut contexts: Vec<(String, Vec<String>)> = Vec::new();
        for (class, ts) in classes {
            // One context per (class, stored syntax), so that the peer can accept it as is.
            let mut syntaxes = vec![ts.clone()];
            for s in [EXPLICIT_LE, IMPLICIT_LE] {
                if s != ts {
                    syntaxes.push(s.to_string());
                }
            }
            contexts.push((class, syntaxes));
        }
        if contexts.len() > 127 {
            return Err(ServerError::Association(
                "more than 127 SOP class and transfer syntax combinations in one association"
                    .into(),
            ));
        }
        let assoc = connect(calling, target, &contexts).await?;
        Ok(Self { assoc, next_id: 1 })
    }

    /// C-STORE of one object; converts to an accepted uncompressed syntax when the stored one
    /// was not accepted.
    pub async fn store(&mut self, object: &Outgoing) -> Result<StoreResult, ServerError> {
        let accepted: Vec<_> = self
            .assoc
            .presentation_contexts()
            .iter()
            .filter(|p| {
                p.reason == PresentationContextResultReason::Acceptance
                    && p.abstract_syntax == object.sop_class_uid
            })
            .cloned()
            .collect();
        let Some(pc) = accepted
            .iter()
            .find(|p| p.transfer_syntax.trim_end_matches('\0') == object.transfer_syntax)
            .or_else(|| accepted.first())
            .cloned()
        else {
            return Ok(StoreResult {
                sop_instance_uid: object.sop_instance_uid.clone(),
                status: 0x0122,
                comment: Some(format!(
                    "the peer does not accept SOP class {}",
                    object.sop_class_uid
                )),
            });
        };
        let ts = pc.transfer_syntax.trim_end_matches('\0').to_string();
        let data = if ts == object.transfer_syntax {
            message::dataset_of_part10(&object.file)
                .ok_or_else(|| ServerError::Dimse("not a Part 10 file".into()))?
                .to_vec()
        } else {
            match convert(&object.file, &ts) {
                Ok(d) => d,
                Err(e) => {
                    return Ok(StoreResult {
                        sop_instance_uid: object.sop_instance_uid.clone(),
                        status: 0xA900,
                        comment: Some(format!("cannot convert to {ts}: {e}")),
                    })
                }
            }
        };
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let rq = message::command_set(vec![
            message::ui(tags::AFFECTED_SOP_CLASS_UID, &object.sop_class_uid),
            message::us(tags::COMMAND_FIELD, command::C_STORE_RQ),
            message::us(tags::MESSAGE_ID, id),
            message::us(tags::PRIORITY, 0),
            message::us(tags::COMMAND_DATA_SET_TYPE, 0x0000),
            message::ui(tags::AFFECTED_SOP_INSTANCE_UID, &object.sop_instance_uid),
        ]);
        send_message(&mut self.assoc, pc.id, &rq, Some(&data)).await?;
        match receive_message(&mut self.assoc).await? {
            Event::Message(m) if m.field() == command::C_STORE_RSP => Ok(StoreResult {
                sop_instance_uid: object.sop_instance_uid.clone(),
                status: u16_of(&m.command, tags::STATUS).unwrap_or(0xFFFF),
                comment: m.text(tags::ERROR_COMMENT),
            }),
            Event::Message(m) => Err(ServerError::Dimse(format!(
                "expected C-STORE-RSP, got command 0x{:04X}",
                m.field()
            ))),
            Event::Release | Event::Gone(_) => Err(ServerError::Dimse(
                "the peer closed the association during C-STORE".into(),
            )),
        }
    }

    /// Releases the association.
    pub async fn release(self) -> Result<(), ServerError> {
        self.assoc
            .release()
            .await
            .map_err(|e| ServerError::Association(format!("release: {e}")))
    }
}

/// Re-encodes a Part 10 file's data set in an uncompressed transfer syntax.
pub(crate) fn convert(file: &[u8], ts: &str) -> Result<Vec<u8>, String> {
    use dicom_encoding::TransferSyntaxIndex;
    let obj = voxide_dicom::from_bytes(file, voxide_dicom::ReadDepth::Full)?;
    let obj = voxide_dicom::to_explicit_le(obj, std::path::Path::new("outgoing"))
        .map_err(|e| e.to_string())?;
    let syntax = dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(ts)
        .ok_or_else(|| format!("unknown transfer syntax {ts}"))?;
    if syntax.is_encapsulated_pixel_data() {
        return Err(format!("cannot compress to {ts}"));
    }
    let mut out = Vec::new();
    obj.write_dataset_with_ts(&mut out, syntax)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_bad_ones_say_how_to_write_them() {
        let t: Target = "ORTHANC@127.0.0.1:4242".parse().unwrap();
        assert_eq!(
            (t.ae_title.as_str(), t.host.as_str(), t.port),
            ("ORTHANC", "127.0.0.1", 4242)
        );
        let e = "127.0.0.1:4242".parse::<Target>().unwrap_err();
        assert!(e.contains("AE@host:port"), "{e}");
        assert!("A@h:99999".parse::<Target>().is_err());
        assert!("WAY_TOO_LONG_AE_TITLE@h:1".parse::<Target>().is_err());
    }
}
