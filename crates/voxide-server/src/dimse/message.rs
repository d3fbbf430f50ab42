//! DIMSE messages (PS3.7) over `dicom-ul` associations: command sets, fragmentation into P-DATA
//! PDUs within the peer's maximum PDU length, and reassembly of commands and data sets.
//!
//! dicom-ul 0.10 is the association layer only; command sets are built here with dicom-object.

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN;
use dicom_ul::association::{Association, AsyncAssociation};
use dicom_ul::pdu::{PDataValue, PDataValueType, PDV_HEADER_SIZE};
use dicom_ul::Pdu;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::ServerError;

/// Command Field values (PS3.7 E.1).
pub mod command {
    pub const C_STORE_RQ: u16 = 0x0001;
    pub const C_STORE_RSP: u16 = 0x8001;
    pub const C_GET_RQ: u16 = 0x0010;
    pub const C_GET_RSP: u16 = 0x8010;
    pub const C_FIND_RQ: u16 = 0x0020;
    pub const C_FIND_RSP: u16 = 0x8020;
    pub const C_MOVE_RQ: u16 = 0x0021;
    pub const C_MOVE_RSP: u16 = 0x8021;
    pub const C_ECHO_RQ: u16 = 0x0030;
    pub const C_ECHO_RSP: u16 = 0x8030;
    pub const C_CANCEL_RQ: u16 = 0x0FFF;
}

/// Command Data Set Type: no data set follows.
pub const NO_DATA_SET: u16 = 0x0101;

/// A received DIMSE message.
#[derive(Debug)]
pub struct Message {
    pub presentation_context_id: u8,
    pub command: InMemDicomObject,
    /// The data set's bytes, in the presentation context's transfer syntax.
    pub data: Option<Vec<u8>>,
}

impl Message {
    pub fn field(&self) -> u16 {
        u16_of(&self.command, tags::COMMAND_FIELD).unwrap_or(0)
    }
    pub fn message_id(&self) -> u16 {
        u16_of(&self.command, tags::MESSAGE_ID).unwrap_or(0)
    }
    pub fn text(&self, tag: dicom_core::Tag) -> Option<String> {
        voxide_dicom::str_of(&self.command, tag)
    }
}

/// What the peer did next.
#[derive(Debug)]
pub enum Event {
    Message(Message),
    /// A-RELEASE-RQ: answer with A-RELEASE-RP.
    Release,
    /// A-ABORT, or the connection closed.
    Gone(String),
}

pub fn u16_of(obj: &InMemDicomObject, tag: dicom_core::Tag) -> Option<u16> {
    obj.get(tag)?.to_int::<u16>().ok()
}

/// Builds a command set (the group length is computed by dicom-object).
pub fn command_set(elements: Vec<DataElement<InMemDicomObject>>) -> InMemDicomObject {
    InMemDicomObject::command_from_element_iter(elements)
}

pub fn us(tag: dicom_core::Tag, v: u16) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::US, PrimitiveValue::from(v))
}

pub fn ui(tag: dicom_core::Tag, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::UI, PrimitiveValue::from(v))
}

pub fn lo(tag: dicom_core::Tag, v: &str) -> DataElement<InMemDicomObject> {
    // Error Comment is at most 64 characters.
    let v: String = v.chars().take(64).collect();
    DataElement::new(tag, VR::LO, PrimitiveValue::from(v))
}

fn encode_command(cmd: &InMemDicomObject) -> Result<Vec<u8>, ServerError> {
    let mut out = Vec::new();
    cmd.write_dataset_with_ts(&mut out, &IMPLICIT_VR_LITTLE_ENDIAN.erased())
        .map_err(|e| ServerError::Dimse(format!("cannot encode a command: {e}")))?;
    Ok(out)
}

pub(crate) fn decode_command(bytes: &[u8]) -> Result<InMemDicomObject, ServerError> {
    InMemDicomObject::read_dataset_with_ts(bytes, &IMPLICIT_VR_LITTLE_ENDIAN.erased())
        .map_err(|e| ServerError::Dimse(format!("malformed command set: {e}")))
}

/// Sends one PDV stream (command or data) in P-DATA PDUs no larger than the peer accepts.
async fn send_fragmented<A, S>(
    assoc: &mut A,
    pc: u8,
    kind: PDataValueType,
    bytes: &[u8],
) -> Result<(), ServerError>
where
    A: AsyncAssociation<S> + Association + Send,
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let max = ((assoc.peer_max_pdu_length() as usize).saturating_sub(PDV_HEADER_SIZE as usize)
        & !1)
        .max(2);
    let chunks: Vec<&[u8]> = if bytes.is_empty() {
        vec![&[][..]]
    } else {
        bytes.chunks(max).collect()
    };
    let n = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        let pdu = Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: pc,
                value_type: kind.clone(),
                is_last: i + 1 == n,
                data: chunk.to_vec(),
            }],
        };
        AsyncAssociation::send(assoc, &pdu)
            .await
            .map_err(|e| ServerError::Association(format!("send: {e}")))?;
    }
    Ok(())
}

/// Sends a command and, when given, its data set.
pub async fn send_message<A, S>(
    assoc: &mut A,
    pc: u8,
    command: &InMemDicomObject,
    data: Option<&[u8]>,
) -> Result<(), ServerError>
where
    A: AsyncAssociation<S> + Association + Send,
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let cmd = encode_command(command)?;
    // Small messages go in one PDU (command and data as two PDVs): one write, no Nagle stall.
    if let Some(d) = data {
        if cmd.len() + d.len() + 2 * (PDV_HEADER_SIZE as usize)
            <= assoc.peer_max_pdu_length() as usize
        {
            let pdu = Pdu::PData {
                data: vec![
                    PDataValue {
                        presentation_context_id: pc,
                        value_type: PDataValueType::Command,
                        is_last: true,
                        data: cmd,
                    },
                    PDataValue {
                        presentation_context_id: pc,
                        value_type: PDataValueType::Data,
                        is_last: true,
                        data: d.to_vec(),
                    },
                ],
            };
            return AsyncAssociation::send(assoc, &pdu)
                .await
                .map_err(|e| ServerError::Association(format!("send: {e}")));
        }
    }
    send_fragmented(assoc, pc, PDataValueType::Command, &cmd).await?;
    if let Some(d) = data {
        send_fragmented(assoc, pc, PDataValueType::Data, d).await?;
    }
    Ok(())
}

/// Receives PDUs until a whole message (command, and its data set when it announces one)
/// has arrived, or the peer releases or aborts.
pub async fn receive_message<A, S>(assoc: &mut A) -> Result<Event, ServerError>
where
    A: AsyncAssociation<S> + Association + Send,
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut command_bytes = Vec::new();
    let mut command: Option<(u8, InMemDicomObject, bool)> = None;
    let mut data = Vec::new();
    loop {
        let pdu = match AsyncAssociation::receive(assoc).await {
            Ok(p) => p,
            Err(e) => return Ok(Event::Gone(e.to_string())),
        };
        match pdu {
            Pdu::PData { data: pdvs } => {
                for pdv in pdvs {
                    match pdv.value_type {
                        PDataValueType::Command => {
                            if command.is_some() {
                                return Err(ServerError::Dimse(
                                    "a new command arrived before the data set of the previous one"
                                        .into(),
                                ));
                            }
                            command_bytes.extend_from_slice(&pdv.data);
                            if pdv.is_last {
                                let cmd = decode_command(&command_bytes)?;
                                let has_data = u16_of(&cmd, tags::COMMAND_DATA_SET_TYPE)
                                    .is_some_and(|t| t != NO_DATA_SET);
                                if !has_data {
                                    return Ok(Event::Message(Message {
                                        presentation_context_id: pdv.presentation_context_id,
                                        command: cmd,
                                        data: None,
                                    }));
                                }
                                command = Some((pdv.presentation_context_id, cmd, true));
                            }
                        }
                        PDataValueType::Data => {
                            data.extend_from_slice(&pdv.data);
                            if pdv.is_last {
                                let Some((pc, cmd, _)) = command.take() else {
                                    return Err(ServerError::Dimse(
                                        "a data set arrived without its command".into(),
                                    ));
                                };
                                return Ok(Event::Message(Message {
                                    presentation_context_id: pc,
                                    command: cmd,
                                    data: Some(std::mem::take(&mut data)),
                                }));
                            }
                        }
                    }
                }
            }
            Pdu::ReleaseRQ => return Ok(Event::Release),
            Pdu::AbortRQ { source } => {
                return Ok(Event::Gone(format!("aborted by the peer ({source:?})")))
            }
            other => {
                return Err(ServerError::Dimse(format!(
                    "unexpected {} during a DIMSE exchange",
                    other.short_description()
                )))
            }
        }
    }
}

/// The data set of a Part 10 file: the bytes after the file meta group (walked element by
/// element, explicit VR little endian, so a missing group length does not matter).
pub fn dataset_of_part10(file: &[u8]) -> Option<&[u8]> {
    if file.get(128..132)? != b"DICM" {
        return None;
    }
    let mut pos = 132;
    loop {
        let group = u16::from_le_bytes(file.get(pos..pos + 2)?.try_into().ok()?);
        if group != 0x0002 {
            return file.get(pos..);
        }
        let vr = file.get(pos + 4..pos + 6)?;
        let (header, length) = if matches!(
            vr,
            b"OB" | b"OW" | b"OF" | b"SQ" | b"UT" | b"UN" | b"UC" | b"UR" | b"OD" | b"OL" | b"OV"
        ) {
            (
                12,
                u32::from_le_bytes(file.get(pos + 8..pos + 12)?.try_into().ok()?) as usize,
            )
        } else {
            (
                8,
                usize::from(u16::from_le_bytes(
                    file.get(pos + 6..pos + 8)?.try_into().ok()?,
                )),
            )
        };
        pos = pos.checked_add(header)?.checked_add(length)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dataset_starts_after_the_meta_group() {
        let file = std::fs::read(voxide_testdata::data("dicom/pydicom/CT_small.dcm")).unwrap();
        let ds = dataset_of_part10(&file).unwrap();
        // The first dataset element of this file is (0008,0005) Specific Character Set.
        assert_eq!(&ds[..4], &[0x08, 0x00, 0x05, 0x00]);
        assert!(dataset_of_part10(&file[..130]).is_none());
        assert!(dataset_of_part10(b"not dicom").is_none());
    }
}
