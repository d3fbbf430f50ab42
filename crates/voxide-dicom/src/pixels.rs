//! Pixel data decoding through dicom-rs, and extraction of stored values.

use std::panic::AssertUnwindSafe;
use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_pixeldata::{DecodedPixelData, PixelDecoder};

use crate::object::{error_chain, open, transfer_syntax_name, DicomObject, ReadDepth};
use crate::DicomError;

/// Decoded pixel data of one object: native samples for all frames.
#[derive(Debug, Clone)]
pub struct PixelFrames {
    pub rows: usize,
    pub columns: usize,
    pub frames: usize,
    pub samples_per_pixel: usize,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub signed: bool,
    /// Planar configuration 1: all samples of one colour plane, then the next.
    pub planar: bool,
    pub photometric_interpretation: String,
    pub transfer_syntax: String,
    /// Native little-endian samples, frame after frame.
    data: Vec<u8>,
}

impl PixelFrames {
    /// Samples (not pixels) in one frame.
    pub fn samples_per_frame(&self) -> usize {
        self.rows * self.columns * self.samples_per_pixel
    }

    /// Raw bytes of all frames.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// Raw bytes of all frames, to edit in place (masking).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// Stored values (before any rescale) of one frame as `f64`, with Bits Stored applied
    /// (masking, and sign extension for signed data). Colour frames are interleaved
    /// (R, G, B, R, ...) whatever the planar configuration.
    pub fn stored_values(&self, frame: usize) -> Result<Vec<f64>, String> {
        let n = self.samples_per_frame();
        if frame >= self.frames {
            return Err(format!(
                "frame {frame} requested, object has {}",
                self.frames
            ));
        }
        let bits = self.bits_allocated as usize;
        let values: Vec<f64> = if bits == 1 {
            // Bit-packed (binary segmentations): frames are packed back to back in bits.
            let start = frame * n;
            (start..start + n)
                .map(|b| {
                    self.data
                        .get(b / 8)
                        .map(|byte| f64::from((byte >> (b % 8)) & 1))
                        .ok_or_else(|| "pixel data shorter than its header says".to_string())
                })
                .collect::<Result<_, _>>()?
        } else {
            let bytes = bits / 8;
            if !(bits == 8 || bits == 16 || bits == 32) {
                return Err(format!(
                    "Bits Allocated {bits} is not supported (1, 8, 16 or 32)"
                ));
            }
            let start = frame * n * bytes;
            let chunk = self
                .data
                .get(start..start + n * bytes)
                .ok_or_else(|| "pixel data shorter than its header says".to_string())?;
            let stored = u32::from(self.bits_stored.clamp(1, self.bits_allocated));
            let shift = 32 - stored;
            chunk
                .chunks_exact(bytes)
                .map(|c| {
                    let raw: u32 = match bytes {
                        1 => u32::from(c[0]),
                        2 => u32::from(u16::from_le_bytes([c[0], c[1]])),
                        _ => u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                    };
                    if self.signed {
                        f64::from(((raw << shift) as i32) >> shift)
                    } else {
                        f64::from((raw << shift) >> shift)
                    }
                })
                .collect()
        };
        if self.planar && self.samples_per_pixel > 1 {
            let spp = self.samples_per_pixel;
            let plane = self.rows * self.columns;
            let mut out = vec![0.0; n];
            for s in 0..spp {
                for p in 0..plane {
                    out[p * spp + s] = values[s * plane + p];
                }
            }
            return Ok(out);
        }
        Ok(values)
    }
}

/// Decodes the pixel data of a file.
pub fn decode_file(path: &Path) -> Result<PixelFrames, DicomError> {
    let obj = open(path, ReadDepth::Full)?;
    decode(&obj, path)
}

/// Decodes the pixel data of an object read from `path` (used in error messages).
///
/// Headers declaring more decoded bytes than max(1 GiB, 256 × the stored pixel bytes) are
/// refused before any allocation; see [`decode_with_limit`] for another floor.
pub fn decode(obj: &DicomObject, path: &Path) -> Result<PixelFrames, DicomError> {
    decode_with_limit(obj, path, DECODED_SIZE_FLOOR)
}

/// [`decode`] with another floor for the decoded size (the fuzz targets use a small one).
pub fn decode_with_limit(
    obj: &DicomObject,
    path: &Path,
    decoded_size_floor: u64,
) -> Result<PixelFrames, DicomError> {
    let ts_uid = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let transfer_syntax = transfer_syntax_name(&ts_uid);
    if obj.get(tags::PIXEL_DATA).is_none()
        && obj.get(tags::FLOAT_PIXEL_DATA).is_none()
        && obj.get(tags::DOUBLE_FLOAT_PIXEL_DATA).is_none()
    {
        return Err(DicomError::NoPixelData {
            path: path.to_path_buf(),
        });
    }
    let fail = |reason: String| DicomError::PixelDecode {
        path: path.to_path_buf(),
        transfer_syntax: transfer_syntax.clone(),
        reason,
    };
    check_decoded_size(obj, decoded_size_floor).map_err(&fail)?;
    // A codec panicking on hostile input must not take the process down: contain it and report
    // it as a decoding failure of this file.
    let bits = crate::object::int_of(obj, tags::BITS_ALLOCATED).unwrap_or(0);
    let mut decoded = if ts_uid == RLE_LOSSLESS && bits == 32 {
        // dicom-rs 0.10 decodes RLE only for 8 and 16 bits allocated (RT Dose uses 32).
        rle::decode_object(obj, &transfer_syntax).map_err(fail)?
    } else {
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            obj.decode_pixel_data()
                .map(|d| to_frames(&d, &transfer_syntax, ts_uid == EXPLICIT_VR_BIG_ENDIAN))
        }))
        .map_err(|_| {
            fail("the decoder crashed on this pixel data (corrupt or unsupported stream)".into())
        })?
        .map_err(|e| fail(error_chain(&e)))?
        .map_err(fail)?
    };
    if decoded.bits_allocated == 1 {
        // dicom-pixeldata 0.10 expands native 1-bit data to one 0/255 byte per pixel and, for
        // frames whose size is not a whole number of bytes (binary SEG frames are packed back to
        // back), drops bits. Keep the stored bits as they are: `stored_values` unpacks them.
        if let Some(dicom_core::value::Value::Primitive(p)) =
            obj.get(tags::PIXEL_DATA).map(|e| e.value())
        {
            decoded.data = p.to_bytes().into_owned();
        }
    }
    let needed = if decoded.bits_allocated == 1 {
        (decoded.frames * decoded.samples_per_frame()).div_ceil(8)
    } else {
        decoded.frames * decoded.samples_per_frame() * usize::from(decoded.bits_allocated / 8)
    };
    if decoded.data.len() < needed {
        return Err(fail(format!(
            "decoded {} bytes but {} rows x {} columns x {} frames x {} samples at {} bits need {needed}; the pixel data is truncated",
            decoded.data.len(),
            decoded.rows,
            decoded.columns,
            decoded.frames,
            decoded.samples_per_pixel,
            decoded.bits_allocated
        )));
    }
    Ok(decoded)
}

/// Decoded pixel data may always reach this size.
const DECODED_SIZE_FLOOR: u64 = 1 << 30;
/// Beyond the floor, decoded data may be at most this many times the stored pixel data.
const MAX_EXPANSION: u64 = 256;

/// Refuses headers that would make the decoder allocate far more than the file could hold:
/// codecs allocate the decoded size the header declares before decoding a byte.
fn check_decoded_size(obj: &DicomObject, floor: u64) -> Result<(), String> {
    let int = |tag| crate::object::int_of(obj, tag).unwrap_or(1).max(0) as u64;
    let bits = crate::object::int_of(obj, tags::BITS_ALLOCATED)
        .unwrap_or(8)
        .clamp(1, 64) as u64;
    let declared = int(tags::ROWS)
        .saturating_mul(int(tags::COLUMNS))
        .saturating_mul(int(tags::NUMBER_OF_FRAMES))
        .saturating_mul(int(tags::SAMPLES_PER_PIXEL))
        .saturating_mul(bits)
        / 8;
    let stored = obj
        .get(tags::PIXEL_DATA)
        .map(|e| match e.value() {
            dicom_core::value::Value::PixelSequence(seq) => {
                seq.fragments().iter().map(|f| f.len() as u64).sum()
            }
            other => dicom_core::header::HasLength::length(other)
                .get()
                .map_or(0, u64::from),
        })
        .unwrap_or(0);
    let limit = floor.max(stored.saturating_mul(MAX_EXPANSION));
    if declared > limit {
        return Err(format!(
            "the header declares {declared} bytes of decoded pixels from {stored} stored bytes; refusing to allocate more than {limit} (corrupt Rows/Columns/Number of Frames?)"
        ));
    }
    Ok(())
}

const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";
const EXPLICIT_VR_BIG_ENDIAN: &str = "1.2.840.10008.1.2.2";

fn to_frames(d: &DecodedPixelData<'_>, ts: &str, big_endian: bool) -> Result<PixelFrames, String> {
    let bits_allocated = d.bits_allocated();
    if bits_allocated == 0 || bits_allocated > 32 {
        return Err(format!("Bits Allocated {bits_allocated} is not supported"));
    }
    let mut data = d.data().to_vec();
    if big_endian && bits_allocated == 32 {
        // Pixel Data is OW: dicom-rs 0.10 swaps each 16-bit word to native order, which leaves
        // the two words of a 32-bit sample in big-endian order. Put them back.
        for sample in data.chunks_exact_mut(4) {
            sample.rotate_left(2);
        }
    }
    Ok(PixelFrames {
        rows: d.rows() as usize,
        columns: d.columns() as usize,
        frames: d.number_of_frames() as usize,
        samples_per_pixel: usize::from(d.samples_per_pixel()),
        bits_allocated,
        bits_stored: d.bits_stored(),
        signed: matches!(
            d.pixel_representation(),
            dicom_pixeldata::PixelRepresentation::Signed
        ),
        planar: matches!(
            d.planar_configuration(),
            dicom_pixeldata::PlanarConfiguration::PixelFirst
        ),
        photometric_interpretation: d.photometric_interpretation().to_string(),
        transfer_syntax: ts.to_string(),
        data,
    })
}

/// RLE Lossless (PS3.5 Annex G) for what dicom-rs does not decode.
mod rle {
    use dicom_dictionary_std::tags;

    use super::PixelFrames;
    use crate::object::{int_of, str_of, DicomObject};

    pub(super) fn decode_object(obj: &DicomObject, ts: &str) -> Result<PixelFrames, String> {
        let need = |tag, name: &str| {
            int_of(obj, tag)
                .filter(|v| *v > 0)
                .ok_or_else(|| format!("missing or invalid {name}"))
        };
        let rows = need(tags::ROWS, "Rows")? as usize;
        let columns = need(tags::COLUMNS, "Columns")? as usize;
        let frames = int_of(obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as usize;
        let spp = int_of(obj, tags::SAMPLES_PER_PIXEL)
            .unwrap_or(1)
            .clamp(1, 4) as usize;
        let bits_allocated = need(tags::BITS_ALLOCATED, "Bits Allocated")? as u16;
        let bytes = usize::from(bits_allocated / 8);
        let fragments = match obj.get(tags::PIXEL_DATA).map(|e| e.value()) {
            Some(dicom_core::value::Value::PixelSequence(seq)) => seq.fragments(),
            _ => return Err("RLE pixel data is not encapsulated".into()),
        };
        if fragments.len() < frames {
            return Err(format!(
                "{} RLE fragments for {frames} frames (one fragment per frame expected)",
                fragments.len()
            ));
        }
        let pixels = rows * columns;
        let mut data = vec![0u8; frames * pixels * spp * bytes];
        for (f, fragment) in fragments.iter().take(frames).enumerate() {
            let out = &mut data[f * pixels * spp * bytes..(f + 1) * pixels * spp * bytes];
            decode_frame(fragment, pixels, spp, bytes, out)
                .map_err(|e| format!("frame {f}: {e}"))?;
        }
        Ok(PixelFrames {
            rows,
            columns,
            frames,
            samples_per_pixel: spp,
            bits_allocated,
            bits_stored: int_of(obj, tags::BITS_STORED)
                .unwrap_or(i64::from(bits_allocated))
                .clamp(1, 32) as u16,
            signed: int_of(obj, tags::PIXEL_REPRESENTATION) == Some(1),
            planar: false,
            photometric_interpretation: str_of(obj, tags::PHOTOMETRIC_INTERPRETATION)
                .unwrap_or_default(),
            transfer_syntax: ts.to_string(),
            data,
        })
    }

    /// Decodes one frame into interleaved little-endian samples. Segment `s * bytes + b` holds
    /// byte `b` (most significant first) of sample `s` of every pixel.
    pub(super) fn decode_frame(
        fragment: &[u8],
        pixels: usize,
        spp: usize,
        bytes: usize,
        out: &mut [u8],
    ) -> Result<(), String> {
        if fragment.len() < 64 {
            return Err("RLE header shorter than 64 bytes".into());
        }
        let word = |i: usize| {
            u32::from_le_bytes([
                fragment[4 * i],
                fragment[4 * i + 1],
                fragment[4 * i + 2],
                fragment[4 * i + 3],
            ]) as usize
        };
        let segments = word(0);
        if segments != spp * bytes {
            return Err(format!("{segments} RLE segments, expected {}", spp * bytes));
        }
        let mut segment = vec![0u8; pixels];
        for n in 0..segments {
            let start = word(n + 1);
            let end = if n + 1 < segments {
                word(n + 2)
            } else {
                fragment.len()
            };
            if start < 64 || start > end || end > fragment.len() {
                return Err(format!(
                    "RLE segment {n} has invalid offsets {start}..{end}"
                ));
            }
            unpack_bits(&fragment[start..end], &mut segment)?;
            let (sample, byte) = (n / bytes, n % bytes);
            let le_byte = bytes - 1 - byte;
            for (p, v) in segment.iter().enumerate() {
                out[(p * spp + sample) * bytes + le_byte] = *v;
            }
        }
        Ok(())
    }

    /// PackBits: a header n in 0..=127 copies n + 1 bytes; -127..=-1 repeats the next byte
    /// 1 - n times; -128 does nothing. The output must be filled exactly (padding may follow).
    fn unpack_bits(input: &[u8], out: &mut [u8]) -> Result<(), String> {
        let (mut i, mut o) = (0, 0);
        while o < out.len() {
            let Some(&h) = input.get(i) else {
                return Err(format!("RLE segment ends after {o} of {} bytes", out.len()));
            };
            i += 1;
            let h = h as i8;
            if h >= 0 {
                let n = h as usize + 1;
                let src = input
                    .get(i..i + n)
                    .ok_or("RLE literal run past the segment end")?;
                let dst = out
                    .get_mut(o..o + n)
                    .ok_or("RLE literal run past the frame end")?;
                dst.copy_from_slice(src);
                i += n;
                o += n;
            } else if h != -128 {
                let n = 1 - h as isize;
                let v = *input
                    .get(i)
                    .ok_or("RLE replicate run past the segment end")?;
                let dst = out
                    .get_mut(o..o + n as usize)
                    .ok_or("RLE replicate run past the frame end")?;
                dst.fill(v);
                i += 1;
                o += n as usize;
            }
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn packbits() {
            let mut out = [0u8; 7];
            // literal of 3, replicate 4 times.
            super::unpack_bits(&[2, 1, 2, 3, (-3i8) as u8, 9], &mut out).unwrap();
            assert_eq!(out, [1, 2, 3, 9, 9, 9, 9]);
            assert!(super::unpack_bits(&[5, 1], &mut out).is_err());
        }
    }
}
