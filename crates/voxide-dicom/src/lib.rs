//! # voxide-dicom
//!
//! DICOM imaging for voxide, on top of the dicom-rs crates:
//!
//! - [`open`] a DICOM file, with or without preamble and file meta group;
//! - [`decode_file`] its pixel data in every transfer syntax dicom-rs supports here (native
//!   little/big endian, deflate, RLE, JPEG baseline/extended/lossless, JPEG-LS through CharLS,
//!   JPEG 2000 through OpenJPEG);
//! - [`scan`] a folder into series and [`assemble`] a series into a volume: slices sorted by
//!   position along the normal, modality rescale applied, enhanced multi-frame objects split into
//!   frames, and the stack checked (dimensions, orientation, duplicates, missing slices,
//!   non-uniform spacing, gantry tilt) so that a wrong volume is never returned silently;
//! - [`read_rtstruct`] and [`rasterise`] RT Structure Set contours onto an image grid;
//! - [`read_seg`] a DICOM Segmentation (binary, fractional or label map) and place its segments
//!   on an image grid with [`rasterise_segment`] or [`segments_to_labels`].
//!
//! Reading files is this crate's IO; geometry and voxel types come from `voxide-core`.

mod dates;
mod object;
mod pixels;
mod rtstruct;
mod seg;
mod seg_writer;
mod series;
mod sr_writer;
mod transcode;

use std::path::PathBuf;

pub use dates::{civil_from_days, days_from_civil, now_rfc3339};
pub use dicom_core::Tag;
pub use dicom_dictionary_std::tags;
pub use object::{
    first_item, float_of, floats_of, from_bytes, int_of, items_of, open, str_of,
    transfer_syntax_name, DicomObject, ReadDepth,
};
pub use pixels::{decode, decode_file, decode_with_limit, PixelFrames};
pub use rtstruct::{rasterise, read_rtstruct, Contour, Rasterised, Roi, StructureSet};
pub use seg::{
    rasterise_segment, read_seg, seg_from_object, seg_from_object_with_limit, segments_to_labels,
    Code, SegFrame, Segment, Segmentation, SegmentationType, LABEL_MAP_SEGMENTATION_STORAGE,
    POSITION_TOLERANCE, SEGMENTATION_STORAGE,
};
pub use seg_writer::{encode_segmentation, new_uid, SegOptions, SegmentDescription, WrittenSeg};
pub use series::{
    assemble, describe_series, list_files, read_series, scan, sop_class_name, AssemblyOptions,
    DicomVolume, Progress, Scan, SeriesEntry, SliceHeader,
};
pub use sr_writer::{
    encode_classification_report, encode_segmentation_report, ClassProbability, Measurement,
    SegmentReport, SrOptions, WrittenSr, COMPREHENSIVE_SR_STORAGE,
};
pub use transcode::{put_native_pixel_data, to_explicit_le, EXPLICIT_VR_LE};

/// Errors of DICOM reading, decoding and assembly. Each names the file or series concerned.
#[derive(Debug, thiserror::Error)]
pub enum DicomError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not DICOM, or is corrupt or truncated before its pixel data.
    #[error("{}: cannot read as DICOM: {reason}", path.display())]
    Parse { path: PathBuf, reason: String },
    #[error("{}: the object has no pixel data (not an image)", path.display())]
    NoPixelData { path: PathBuf },
    /// Pixel data exists but cannot be decoded.
    #[error("{}: cannot decode pixel data ({transfer_syntax}): {reason}", path.display())]
    PixelDecode {
        path: PathBuf,
        transfer_syntax: String,
        reason: String,
    },
    /// A series cannot be assembled into a trustworthy volume.
    #[error("series {series}: {reason}")]
    Series { series: String, reason: String },
    #[error("{}: no DICOM image found ({unreadable} unreadable files, {non_image} DICOM objects without pixel data)", path.display())]
    NoImages {
        path: PathBuf,
        unreadable: usize,
        non_image: usize,
    },
    #[error("{}: holds {} image series; choose one with --series UID:\n  {}", path.display(), series.len(), series.join("\n  "))]
    MultipleSeries { path: PathBuf, series: Vec<String> },
    #[error("{}: {reason}", path.display())]
    RtStruct { path: PathBuf, reason: String },
    /// A contour cannot be placed on the reference grid.
    #[error("ROI '{roi}': {reason}")]
    Contour { roi: String, reason: String },
    #[error("{}: no ROI named '{name}'; the structure set has: {}", path.display(), available.join(", "))]
    RoiNotFound {
        path: PathBuf,
        name: String,
        available: Vec<String>,
    },
    /// A DICOM Segmentation that cannot be read, or whose frames cannot be placed on the
    /// reference grid.
    #[error("{}: {reason}", path.display())]
    Seg { path: PathBuf, reason: String },
    #[error("{}: no segment {number}; the segmentation has: {}", path.display(), available.join(", "))]
    SegmentNotFound {
        path: PathBuf,
        number: u16,
        available: Vec<String>,
    },
    #[error(transparent)]
    Geometry(#[from] voxide_core::CoreError),
    #[error("internal error: {0}")]
    Internal(String),
}
