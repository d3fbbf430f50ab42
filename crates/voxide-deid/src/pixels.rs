//! Blanking rectangles of burned-in annotation.

use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use voxide_dicom::DicomObject;

use voxide_dicom::str_of;

use crate::{DeidError, MaskRule};

/// The first rule that fits the image: same size, and modality and manufacturer when the rule
/// names them.
pub fn matching_rule<'a>(ds: &InMemDicomObject, rules: &'a [MaskRule]) -> Option<&'a MaskRule> {
    let num = |tag| str_of(ds, tag).and_then(|s| s.parse::<u16>().ok());
    let (rows, columns) = (num(tags::ROWS)?, num(tags::COLUMNS)?);
    let modality = str_of(ds, tags::MODALITY).unwrap_or_default();
    let manufacturer = str_of(ds, tags::MANUFACTURER)
        .unwrap_or_default()
        .to_lowercase();
    rules.iter().find(|r| {
        r.rows == rows
            && r.columns == columns
            && r.modality
                .as_ref()
                .is_none_or(|m| m.eq_ignore_ascii_case(&modality))
            && r.manufacturer
                .as_ref()
                .is_none_or(|m| manufacturer.contains(&m.to_lowercase()))
    })
}

/// Decodes the pixel data to native samples, sets every sample inside the rule's rectangles to
/// zero in every frame, and stores the result in Explicit VR Little Endian.
pub fn mask(mut obj: DicomObject, rule: &MaskRule) -> Result<DicomObject, DeidError> {
    let mut frames = voxide_dicom::decode(&obj, Path::new("<masked image>"))?;
    let (rows, columns, spp) = (frames.rows, frames.columns, frames.samples_per_pixel);
    let bytes_per_sample = usize::from(frames.bits_allocated.div_ceil(8));
    if bytes_per_sample == 0 || frames.bits_allocated % 8 != 0 {
        return Err(DeidError::Mask(format!(
            "{} bits allocated per sample are not supported",
            frames.bits_allocated
        )));
    }
    let frame_bytes = rows * columns * spp * bytes_per_sample;
    let planar = frames.planar;
    let count = frames.frames;
    let data = frames.bytes_mut();
    if data.len() < frame_bytes * count {
        return Err(DeidError::Mask(format!(
            "pixel data holds {} bytes, {} frames of {rows}x{columns} need {}",
            data.len(),
            count,
            frame_bytes * count
        )));
    }
    for frame in data.chunks_exact_mut(frame_bytes).take(count) {
        for &[x, y, w, h] in &rule.rects {
            let (x0, y0) = (x as usize, y as usize);
            let x1 = (x0 + w as usize).min(columns);
            let y1 = (y0 + h as usize).min(rows);
            for row in y0.min(rows)..y1 {
                for col in x0.min(columns)..x1 {
                    for s in 0..spp {
                        let sample = if planar {
                            s * rows * columns + row * columns + col
                        } else {
                            (row * columns + col) * spp + s
                        };
                        let at = sample * bytes_per_sample;
                        frame[at..at + bytes_per_sample].fill(0);
                    }
                }
            }
        }
    }
    voxide_dicom::put_native_pixel_data(&mut obj, &frames);
    obj.meta_mut().set_transfer_syntax(
        &dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN.erased(),
    );
    obj.put(dicom_core::DataElement::new(
        tags::BURNED_IN_ANNOTATION,
        dicom_core::VR::CS,
        dicom_core::PrimitiveValue::from("NO"),
    ));
    Ok(obj)
}
