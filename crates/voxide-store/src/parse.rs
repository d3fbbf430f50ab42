//! What the store needs from an incoming object, and the checks it must pass.

use sha2::{Digest, Sha256};
use voxide_dicom::{from_bytes, int_of, str_of, tags, ReadDepth};

use crate::StoreError;

/// The attributes the index keeps, read from an incoming object.
#[derive(Debug, Clone, Default)]
pub(crate) struct Parsed {
    pub sop_instance_uid: String,
    pub sop_class_uid: String,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub transfer_syntax: String,
    pub patient_id: String,
    pub patient_name: Option<String>,
    pub patient_birth_date: Option<String>,
    pub patient_sex: Option<String>,
    pub study_date: Option<String>,
    pub study_time: Option<String>,
    pub study_description: Option<String>,
    pub accession_number: Option<String>,
    pub study_id: Option<String>,
    pub referring_physician: Option<String>,
    pub modality: Option<String>,
    pub series_number: Option<i64>,
    pub series_description: Option<String>,
    pub body_part: Option<String>,
    pub instance_number: Option<i64>,
    pub rows: Option<i64>,
    pub columns: Option<i64>,
    pub frames: Option<i64>,
    /// The Part 10 file to store (the received bytes, or a Part 10 encoding of a bare dataset).
    pub file: Vec<u8>,
    /// SHA-256 of `file`, hex: the object's name, so identical re-sends meet the same object.
    pub sha256: String,
    /// Length of `file` (kept when the file moves out to be written).
    pub size: u64,
}

/// Parses and validates an incoming object: a DICOM Part 10 file, or a bare dataset (which is
/// wrapped into a Part 10 file).
pub(crate) fn parse(bytes: Vec<u8>) -> Result<Parsed, StoreError> {
    let obj = from_bytes(&bytes, ReadDepth::Header).map_err(StoreError::Invalid)?;
    let required = |tag, name: &str| -> Result<String, StoreError> {
        let v = str_of(&obj, tag).ok_or_else(|| {
            StoreError::Invalid(format!("missing {name}: every stored object needs it"))
        })?;
        check_uid(&v).map_err(|why| StoreError::Invalid(format!("invalid {name} '{v}': {why}")))?;
        Ok(v)
    };
    let sop_instance_uid = required(tags::SOP_INSTANCE_UID, "SOP Instance UID (0008,0018)")?;
    let sop_class_uid = match str_of(&obj, tags::SOP_CLASS_UID) {
        Some(v) => v,
        None => obj
            .meta()
            .media_storage_sop_class_uid()
            .trim_end_matches('\0')
            .to_string(),
    };
    if sop_class_uid.is_empty() {
        return Err(StoreError::Invalid(
            "missing SOP Class UID (0008,0016)".into(),
        ));
    }
    let study_instance_uid = required(tags::STUDY_INSTANCE_UID, "Study Instance UID (0020,000D)")?;
    let series_instance_uid =
        required(tags::SERIES_INSTANCE_UID, "Series Instance UID (0020,000E)")?;
    let meta_sop = obj
        .meta()
        .media_storage_sop_instance_uid()
        .trim_end_matches('\0');
    let part10 = bytes.len() >= 132 && &bytes[128..132] == b"DICM";
    if part10 && !meta_sop.is_empty() && meta_sop != sop_instance_uid {
        return Err(StoreError::Invalid(format!(
            "the file meta says SOP Instance UID {meta_sop} but the dataset says {sop_instance_uid}"
        )));
    }
    let file = if part10 {
        bytes
    } else {
        // A bare dataset: store it as a Part 10 file, with the meta group it lacks.
        let full = from_bytes(&bytes, ReadDepth::Full).map_err(StoreError::Invalid)?;
        let mut out = Vec::with_capacity(bytes.len() + 256);
        full.write_all(&mut out)
            .map_err(|e| StoreError::Invalid(format!("cannot encode as a Part 10 file: {e}")))?;
        out
    };
    let sha256 = hex::encode(Sha256::digest(&file));
    Ok(Parsed {
        size: file.len() as u64,
        transfer_syntax: obj
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string(),
        patient_id: str_of(&obj, tags::PATIENT_ID).unwrap_or_default(),
        patient_name: str_of(&obj, tags::PATIENT_NAME),
        patient_birth_date: str_of(&obj, tags::PATIENT_BIRTH_DATE),
        patient_sex: str_of(&obj, tags::PATIENT_SEX),
        study_date: str_of(&obj, tags::STUDY_DATE),
        study_time: str_of(&obj, tags::STUDY_TIME),
        study_description: str_of(&obj, tags::STUDY_DESCRIPTION),
        accession_number: str_of(&obj, tags::ACCESSION_NUMBER),
        study_id: str_of(&obj, tags::STUDY_ID),
        referring_physician: str_of(&obj, tags::REFERRING_PHYSICIAN_NAME),
        modality: str_of(&obj, tags::MODALITY),
        series_number: int_of(&obj, tags::SERIES_NUMBER),
        series_description: str_of(&obj, tags::SERIES_DESCRIPTION),
        body_part: str_of(&obj, tags::BODY_PART_EXAMINED),
        instance_number: int_of(&obj, tags::INSTANCE_NUMBER),
        rows: int_of(&obj, tags::ROWS),
        columns: int_of(&obj, tags::COLUMNS),
        frames: int_of(&obj, tags::NUMBER_OF_FRAMES),
        sop_instance_uid,
        sop_class_uid,
        study_instance_uid,
        series_instance_uid,
        file,
        sha256,
    })
}

/// PS3.5 9.1: at most 64 characters, digits and dots, no empty component.
pub fn check_uid(uid: &str) -> Result<(), String> {
    if uid.len() > 64 {
        return Err(format!("{} characters, at most 64 allowed", uid.len()));
    }
    if let Some(c) = uid.chars().find(|c| !c.is_ascii_digit() && *c != '.') {
        return Err(format!(
            "character '{c}' (only digits and dots are allowed)"
        ));
    }
    if uid.split('.').any(str::is_empty) {
        return Err("empty component (two dots in a row, or a dot at an end)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_uid;

    #[test]
    fn uid_syntax() {
        assert!(check_uid("1.2.840.10008.5.1.4.1.1.2").is_ok());
        assert!(check_uid("1.2..3").is_err());
        assert!(check_uid("1.2.3.").is_err());
        assert!(check_uid("1.2.a").is_err());
        assert!(check_uid(&"1.".repeat(40)).is_err());
    }
}
