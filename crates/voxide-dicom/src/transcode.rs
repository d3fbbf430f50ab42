//! Re-encoding an object with native pixel data in Explicit VR Little Endian: what WADO asks for
//! when a client cannot decode the stored transfer syntax.

use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN;

use crate::object::DicomObject;
use crate::pixels::{decode, PixelFrames};
use crate::DicomError;

/// Explicit VR Little Endian.
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";

/// Converts `obj` to Explicit VR Little Endian with native (decoded) pixel data. Objects without
/// pixel data only change their transfer syntax. `name` names the object in errors.
pub fn to_explicit_le(mut obj: DicomObject, name: &Path) -> Result<DicomObject, DicomError> {
    let stored = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    if stored == EXPLICIT_VR_LE {
        return Ok(obj);
    }
    if obj.get(tags::PIXEL_DATA).is_some() {
        let frames = decode(&obj, name)?;
        put_native_pixel_data(&mut obj, &frames);
    }
    obj.meta_mut()
        .set_transfer_syntax(&EXPLICIT_VR_LITTLE_ENDIAN.erased());
    Ok(obj)
}

/// Replaces the pixel data of `obj` by `frames` as native samples, with the attributes that
/// describe their layout. The caller sets the transfer syntax to a native one.
pub fn put_native_pixel_data(obj: &mut DicomObject, frames: &PixelFrames) {
    let bytes = frames.bytes().to_vec();
    let element = if frames.bits_allocated > 8 {
        let words: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(words.into()))
    } else {
        DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::U8(bytes.into()))
    };
    obj.put(element);
    if frames.samples_per_pixel > 1 {
        obj.put(DataElement::new(
            tags::PLANAR_CONFIGURATION,
            VR::US,
            PrimitiveValue::from(u16::from(frames.planar)),
        ));
    }
    obj.put(DataElement::new(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        PrimitiveValue::from(frames.photometric_interpretation.as_str()),
    ));
    // Decoded data is no longer lossy-compressed in this encoding, but it was: keep
    // Lossy Image Compression as the source says (PS3.3 C.7.6.1.1.5), add nothing else.
}
