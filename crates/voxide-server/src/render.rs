//! Rendered images (PS3.18 8.3.5): one frame to 8-bit grey or RGB with the modality rescale and
//! a window (from the request, else the header's first window, else the frame's value range),
//! MONOCHROME1 inverted, optionally scaled down, encoded as JPEG or PNG.

use std::io::Cursor;

use image::{DynamicImage, GrayImage, RgbImage};
use voxide_dicom::{float_of, floats_of, str_of, tags, DicomObject};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
}

impl ImageFormat {
    pub fn media_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Window centre and width, in rescaled (modality) units.
    pub window: Option<(f64, f64)>,
    /// Longest side, in pixels, for thumbnails and viewports.
    pub max_size: Option<u32>,
    /// JPEG quality, 1 to 100.
    pub quality: u8,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            window: None,
            max_size: None,
            quality: 90,
        }
    }
}

/// Renders frame `frame` (from 0) of `obj`; the error says why the object cannot be shown.
pub fn render(
    obj: &DicomObject,
    name: &str,
    frame: usize,
    options: &RenderOptions,
    format: ImageFormat,
) -> Result<Vec<u8>, String> {
    let decoded =
        voxide_dicom::decode(obj, std::path::Path::new(name)).map_err(|e| e.to_string())?;
    let values = decoded.stored_values(frame)?;
    let (w, h) = (decoded.columns as u32, decoded.rows as u32);
    let image = match decoded.samples_per_pixel {
        1 => {
            let slope = float_of(obj, tags::RESCALE_SLOPE).unwrap_or(1.0);
            let intercept = float_of(obj, tags::RESCALE_INTERCEPT).unwrap_or(0.0);
            let (centre, width) = match options.window {
                Some(w) => w,
                None => match (
                    floats_of(obj, tags::WINDOW_CENTER).and_then(|v| v.first().copied()),
                    floats_of(obj, tags::WINDOW_WIDTH).and_then(|v| v.first().copied()),
                ) {
                    (Some(c), Some(w)) if w > 0.0 => (c, w),
                    _ => {
                        let (lo, hi) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| {
                            let m = v * slope + intercept;
                            (lo.min(m), hi.max(m))
                        });
                        ((lo + hi) / 2.0, (hi - lo).max(1.0))
                    }
                },
            };
            let invert = decoded.photometric_interpretation.trim() == "MONOCHROME1";
            // PS3.3 C.11.2.1.2.1 linear window.
            let lo = centre - 0.5 - (width - 1.0) / 2.0;
            let span = (width - 1.0).max(1.0);
            let pixels: Vec<u8> = values
                .iter()
                .map(|v| {
                    let m = v * slope + intercept;
                    let g = (((m - lo) / span) * 255.0).clamp(0.0, 255.0).round() as u8;
                    if invert {
                        255 - g
                    } else {
                        g
                    }
                })
                .collect();
            DynamicImage::ImageLuma8(
                GrayImage::from_raw(w, h, pixels)
                    .ok_or("frame size does not match rows x columns")?,
            )
        }
        3 => {
            let max = values.iter().cloned().fold(0.0, f64::max);
            let scale = if max > 255.0 { 255.0 / max } else { 1.0 };
            let photometric = decoded.photometric_interpretation.trim().to_string();
            let mut pixels: Vec<u8> = values
                .iter()
                .map(|v| (v * scale).clamp(0.0, 255.0) as u8)
                .collect();
            if photometric.starts_with("YBR") {
                for p in pixels.chunks_exact_mut(3) {
                    let (y, cb, cr) = (
                        f64::from(p[0]),
                        f64::from(p[1]) - 128.0,
                        f64::from(p[2]) - 128.0,
                    );
                    p[0] = (y + 1.402 * cr).clamp(0.0, 255.0) as u8;
                    p[1] = (y - 0.344_136 * cb - 0.714_136 * cr).clamp(0.0, 255.0) as u8;
                    p[2] = (y + 1.772 * cb).clamp(0.0, 255.0) as u8;
                }
            }
            DynamicImage::ImageRgb8(
                RgbImage::from_raw(w, h, pixels)
                    .ok_or("frame size does not match rows x columns")?,
            )
        }
        n => {
            return Err(format!(
                "{} with {n} samples per pixel cannot be rendered",
                str_of(obj, tags::PHOTOMETRIC_INTERPRETATION).unwrap_or_default()
            ))
        }
    };
    let image = match options.max_size {
        Some(max) if w.max(h) > max => image.thumbnail(max, max),
        _ => image,
    };
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Png => image
            .write_to(&mut out, image::ImageFormat::Png)
            .map_err(|e| e.to_string())?,
        ImageFormat::Jpeg => {
            let encoder =
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, options.quality);
            image
                .write_with_encoder(encoder)
                .map_err(|e| e.to_string())?
        }
    }
    Ok(out.into_inner())
}
