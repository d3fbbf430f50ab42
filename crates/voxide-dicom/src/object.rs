//! Opening DICOM files (with or without preamble and file meta group) and reading attributes.

use std::path::Path;

use dicom_core::dictionary::DataDictionary;
use dicom_core::value::Value;
use dicom_core::Tag;
use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_dictionary_std::StandardDataDictionary;
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::{DefaultDicomObject, FileMetaTableBuilder, InMemDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use crate::DicomError;

/// A parsed DICOM object, as dicom-rs holds it.
pub type DicomObject = DefaultDicomObject;

/// How much of a file to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadDepth {
    /// Everything, pixel data included.
    Full,
    /// Stop before Pixel Data (7FE0,0010): enough for indexing and geometry, and much faster.
    Header,
}

/// Opens a DICOM file.
///
/// Files with the 128-byte preamble and `DICM` magic are read as the standard says. Files without
/// a file meta group (older "raw" datasets, such as ACR-NEMA style files) are read by guessing the
/// encoding from the first element: implicit or explicit VR, little or big endian.
pub fn open(path: &Path, depth: ReadDepth) -> Result<DicomObject, DicomError> {
    let bytes = std::fs::read(path).map_err(|source| DicomError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    from_bytes(&bytes, depth).map_err(|reason| DicomError::Parse {
        path: path.to_path_buf(),
        reason,
    })
}

/// Parses a DICOM object from memory (see [`open`]); the error is a human-readable reason.
pub fn from_bytes(bytes: &[u8], depth: ReadDepth) -> Result<DicomObject, String> {
    let has_magic = bytes.len() >= 132 && &bytes[128..132] == b"DICM";
    let unprefixed = bytes.len() >= 4 && &bytes[0..4] == b"DICM";
    if has_magic || unprefixed {
        let body = if has_magic { &bytes[128..] } else { bytes };
        check_declared_lengths(&body[4..], None)?;
        let opts = OpenFileOptions::new().read_preamble(dicom_object::file::ReadPreamble::Never);
        let opts = match depth {
            ReadDepth::Full => opts,
            ReadDepth::Header => opts.read_until(tags::PIXEL_DATA),
        };
        return opts.from_reader(body).map_err(|e| error_chain(&e));
    }
    read_without_meta(bytes, depth)
}

fn read_without_meta(bytes: &[u8], depth: ReadDepth) -> Result<DicomObject, String> {
    if bytes.len() < 8 {
        return Err("file is too short to be DICOM (no preamble, no DICM magic)".into());
    }
    // The first element of a dataset is a group 0x0008 (or 0x0002..0x0010) tag; its byte order
    // and whether two upper-case letters (a VR) follow tell the encoding.
    let group_le = u16::from_le_bytes([bytes[0], bytes[1]]);
    let group_be = u16::from_be_bytes([bytes[0], bytes[1]]);
    let vr_like = bytes[4].is_ascii_uppercase() && bytes[5].is_ascii_uppercase();
    let uid = if (1..=0x0010).contains(&group_le) && group_le.is_multiple_of(2) {
        if vr_like {
            "1.2.840.10008.1.2.1"
        } else {
            "1.2.840.10008.1.2"
        }
    } else if (1..=0x0010).contains(&group_be) && group_be.is_multiple_of(2) && vr_like {
        "1.2.840.10008.1.2.2"
    } else {
        return Err(
            "not a DICOM file: no 'DICM' magic at byte 128 and the data does not start with a DICOM element"
                .into(),
        );
    };
    check_declared_lengths(bytes, Some(uid))?;
    let ts = TransferSyntaxRegistry
        .get(uid)
        .ok_or_else(|| format!("transfer syntax {uid} is not registered"))?;
    let dataset = InMemDicomObject::read_dataset_with_ts(bytes, ts).map_err(|e| error_chain(&e))?;
    let _ = depth; // Raw datasets are small legacy files: read whole.
    let sop_class =
        str_of(&dataset, tags::SOP_CLASS_UID).unwrap_or_else(|| "1.2.840.10008.5.1.4.1.1.7".into());
    let sop_instance = str_of(&dataset, tags::SOP_INSTANCE_UID).unwrap_or_else(|| "2.25.0".into());
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(uid)
        .media_storage_sop_class_uid(sop_class)
        .media_storage_sop_instance_uid(sop_instance)
        .build()
        .map_err(|e| error_chain(&e))?;
    Ok(dataset.with_exact_meta(meta))
}

const UNDEFINED: u32 = 0xFFFF_FFFF;

/// Walks the element headers of a file (meta group, then the dataset) and checks that no element
/// declares more bytes than remain.
///
/// dicom-rs allocates (and zero-fills) a value's declared length before reading it, so a 100-byte
/// file declaring a 4 GB element would cost 4 GB of memory before failing. This walk costs a pass
/// over the headers and turns such files into a clear error. `meta_ts` is the transfer syntax of
/// a file without meta group; otherwise the walk starts in the meta group (explicit VR little
/// endian) and takes the transfer syntax from it. Deflated datasets are inflated (bounded) first.
fn check_declared_lengths(bytes: &[u8], meta_ts: Option<&str>) -> Result<(), String> {
    let mut pos = 0usize;
    let ts = match meta_ts {
        Some(ts) => ts.to_string(),
        None => {
            // The meta group, read as dicom-rs reads it: explicit VR little endian, starting with
            // its group length (0002,0000), then elements until that many bytes are consumed.
            if bytes.len() < 12 || bytes[0..8] != [0x02, 0x00, 0x00, 0x00, b'U', b'L', 0x04, 0x00] {
                return Ok(()); // the parser refuses it with its own message
            }
            let group_length = u64::from(read_u32(bytes, 8, true));
            pos = 12;
            let mut consumed = 0u64;
            let mut ts = String::new();
            while consumed < group_length {
                if pos + 8 > bytes.len() {
                    return Err(format!(
                        "file meta group cut short at byte {pos}; the file is truncated"
                    ));
                }
                let (header, len, _) = element_header(bytes, pos, true, true)?;
                if len == UNDEFINED {
                    return Ok(()); // refused by the parser
                }
                let end = value_end(bytes, pos, header, len)?;
                if bytes[pos..pos + 4] == [0x02, 0x00, 0x10, 0x00] {
                    ts = String::from_utf8_lossy(&bytes[pos + header..end])
                        .trim_end_matches(['\0', ' '])
                        .to_string();
                }
                consumed += (end - pos) as u64;
                pos = end;
            }
            ts
        }
    };
    let (explicit, little) = match ts.as_str() {
        // No transfer syntax: the parser refuses the meta group with a clearer message.
        "" => return Ok(()),
        "1.2.840.10008.1.2" => (false, true),
        "1.2.840.10008.1.2.2" => (true, false),
        "1.2.840.10008.1.2.1.99" => return check_deflated(&bytes[pos..]),
        _ => (true, true),
    };
    // Undefined-length values open a context that their sequence delimiter closes: a sequence
    // (elements inside), or encapsulated pixel data (opaque fragments inside). dicom-rs 0.10 keeps
    // reading explicit VR inside an undefined-length UN, and so does this walk.
    let mut stack: Vec<bool> = Vec::new();
    // Defined-length sequences and items end at their declared end, whatever they hold: the
    // parser resumes there, and so does this walk.
    let mut ends: Vec<usize> = Vec::new();
    loop {
        while let Some(&end) = ends.last() {
            if pos + 8 > end {
                pos = pos.max(end);
                ends.pop();
            } else {
                break;
            }
        }
        if pos + 8 > bytes.len() {
            break;
        }
        let in_fragments = stack.last().copied().unwrap_or(false);
        let (header, len, is_sequence) = element_header(bytes, pos, explicit, little)?;
        let group = read_u16(bytes, pos, little);
        let element = read_u16(bytes, pos + 2, little);
        if group == 0xFFFE {
            match element {
                // An item: step into it, unless it is a fragment of encapsulated pixel data.
                0xE000 if len == UNDEFINED => pos += header,
                0xE000 if !in_fragments => {
                    // A defined-length item holds elements; it must fit in the file all the same.
                    ends.push(value_end(bytes, pos, header, len)?);
                    pos += header;
                }
                0xE000 => pos = value_end(bytes, pos, header, len)?,
                0xE0DD => {
                    stack.pop();
                    pos += header;
                }
                0xE00D => pos += header,
                // Not an item nor a delimiter: the parser reads its value like any other.
                _ => pos = value_end(bytes, pos, header, len)?,
            }
            continue;
        }
        if len == UNDEFINED {
            stack.push(!is_sequence && group == 0x7FE0);
            pos += header;
        } else if is_sequence {
            ends.push(value_end(bytes, pos, header, len)?);
            pos += header;
        } else {
            pos = value_end(bytes, pos, header, len)?;
        }
    }
    Ok(())
}

/// Deflated datasets may inflate to at most this, or 1000 times their size if larger.
const INFLATED_SIZE_FLOOR: u64 = 64 << 20;

/// Inflates a deflated dataset (bounded, against deflate bombs) and walks it.
fn check_deflated(deflated: &[u8]) -> Result<(), String> {
    use std::io::Read;
    let limit = INFLATED_SIZE_FLOOR.max(deflated.len() as u64 * 1000);
    let mut inflated = Vec::new();
    flate2::read::DeflateDecoder::new(deflated)
        .take(limit + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| format!("deflated dataset is corrupt: {e}"))?;
    if inflated.len() as u64 > limit {
        return Err(format!(
            "deflated dataset of {} bytes inflates beyond {limit} bytes; refusing it",
            deflated.len()
        ));
    }
    check_declared_lengths(&inflated, Some("1.2.840.10008.1.2.1"))
}

fn read_u16(b: &[u8], at: usize, little: bool) -> u16 {
    let v = [b[at], b[at + 1]];
    if little {
        u16::from_le_bytes(v)
    } else {
        u16::from_be_bytes(v)
    }
}

fn read_u32(b: &[u8], at: usize, little: bool) -> u32 {
    let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if little {
        u32::from_le_bytes(v)
    } else {
        u32::from_be_bytes(v)
    }
}

/// Header size, declared length, and what the value holds, as dicom-rs' decoders read them.
/// The caller guarantees 8 bytes at `pos`.
fn element_header(
    b: &[u8],
    pos: usize,
    explicit: bool,
    little: bool,
) -> Result<(usize, u32, bool), String> {
    let group = read_u16(b, pos, little);
    let element = read_u16(b, pos + 2, little);
    let (header, len, vr) = if group == 0xFFFE {
        (8, read_u32(b, pos + 4, little), None)
    } else if !explicit {
        let vr = StandardDataDictionary
            .by_tag(Tag(group, element))
            .map(|e| e.vr.relaxed());
        (8, read_u32(b, pos + 4, little), vr)
    } else {
        // As dicom-rs: these VRs have a 2-byte length; every other one, unknown VRs included
        // (read as UN), has 2 reserved bytes and a 4-byte length.
        let vr_bytes = [b[pos + 4], b[pos + 5]];
        let vr = VR::from_binary(vr_bytes);
        match &vr_bytes {
            b"AE" | b"AS" | b"AT" | b"CS" | b"DA" | b"DS" | b"DT" | b"FL" | b"FD" | b"IS"
            | b"LO" | b"LT" | b"PN" | b"SH" | b"SL" | b"SS" | b"ST" | b"TM" | b"UI" | b"UL"
            | b"US" => (8, u32::from(read_u16(b, pos + 6, little)), vr),
            _ => {
                if pos + 12 > b.len() {
                    return Err(format!(
                        "element ({group:04X},{element:04X}) at byte {pos}: header cut short; the file is truncated"
                    ));
                }
                (12, read_u32(b, pos + 8, little), vr)
            }
        }
    };
    // Binary numbers come in whole units; dicom-rs reads whole units and would lose its place in
    // the stream on a remainder, so such a value is an error here.
    let unit = match vr {
        Some(VR::US | VR::SS | VR::OW) => 2,
        Some(VR::UL | VR::SL | VR::FL | VR::AT | VR::OF | VR::OL) => 4,
        Some(VR::FD | VR::OD | VR::SV | VR::UV | VR::OV) => 8,
        _ => 1,
    };
    if len != UNDEFINED && len % unit != 0 {
        return Err(format!(
            "element ({group:04X},{element:04X}) at byte {pos} has {len} bytes, not a multiple of its {unit}-byte values; the file is corrupt"
        ));
    }
    Ok((header, len, vr == Some(VR::SQ)))
}

fn value_end(b: &[u8], pos: usize, header: usize, len: u32) -> Result<usize, String> {
    let end = pos + header + len as usize;
    if end > b.len() {
        return Err(format!(
            "element ({:04X},{:04X}) at byte {pos} declares {len} bytes but only {} remain; the file is truncated or corrupt",
            u16::from_le_bytes([b[pos], b[pos + 1]]),
            u16::from_le_bytes([b[pos + 2], b[pos + 3]]),
            b.len().saturating_sub(pos + header)
        ));
    }
    Ok(end)
}

/// The error and its sources, joined, so that the user sees the innermost reason.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        let msg = inner.to_string();
        if !s.contains(&msg) {
            s.push_str(": ");
            s.push_str(&msg);
        }
        cur = inner.source();
    }
    s
}

/// Trimmed string value of an attribute, `None` when absent or empty.
pub fn str_of(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let e = obj.get(tag)?;
    let s = e.to_str().ok()?;
    let t = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!t.is_empty()).then(|| t.to_string())
}

/// Numeric values (DS, IS, FL, FD, US, ...) of an attribute.
pub fn floats_of(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    let v = obj.get(tag)?.to_multi_float64().ok()?;
    (!v.is_empty() && v.iter().all(|x| x.is_finite())).then_some(v)
}

/// First numeric value of an attribute.
pub fn float_of(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    floats_of(obj, tag).and_then(|v| v.first().copied())
}

/// Integer value of an attribute.
pub fn int_of(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.get(tag)?.to_int::<i64>().ok()
}

/// Items of a sequence attribute (empty when absent or not a sequence).
pub fn items_of(obj: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    match obj.get(tag).map(|e| e.value()) {
        Some(Value::Sequence(seq)) => seq.items(),
        _ => &[],
    }
}

/// First item of a sequence attribute.
pub fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    items_of(obj, tag).first()
}

/// Name of a transfer syntax UID, or the UID itself when unknown.
pub fn transfer_syntax_name(uid: &str) -> String {
    let uid = uid.trim_end_matches('\0').trim();
    TransferSyntaxRegistry
        .get(uid)
        .map(|ts| ts.name().to_string())
        .unwrap_or_else(|| uid.to_string())
}
