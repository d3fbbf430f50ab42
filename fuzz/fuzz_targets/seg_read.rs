//! Parses arbitrary bytes as a DICOM Segmentation and places its segments on a grid made from
//! its own first frame (so that hostile positions, orientations and spacings reach the placement
//! code, not only the reader).
//!
//! Panics of the dicom-rs codecs are contained by `voxide_dicom::decode` (see `dicom_read`), so
//! the default panic hook is put back: any panic that escapes voxide's code still aborts.
#![no_main]

use std::path::Path;
use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use voxide_core::geometry::cross;
use voxide_core::Geometry;

static HOOK: Once = Once::new();

/// Largest grid the target rasterises onto, in voxels.
const MAX_VOXELS: usize = 1 << 22;

fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        let _ = std::panic::take_hook();
        std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    });
    let Ok(obj) = voxide_dicom::from_bytes(data, voxide_dicom::ReadDepth::Full) else {
        return;
    };
    let Ok(seg) = voxide_dicom::seg_from_object_with_limit(&obj, Path::new("fuzz-input"), 16 << 20)
    else {
        return;
    };
    for f in 0..seg.frames.len().min(4) {
        let _ = seg.frame_values(f);
    }
    let Some(first) = seg.frames.first() else {
        return;
    };
    let (Some(p), Some(o), Some(ps)) = (first.position, first.orientation, first.pixel_spacing)
    else {
        return;
    };
    let (r, c) = ([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
    let n = cross(r, c);
    let nk = seg.frames.len().min(64);
    if seg.rows * seg.columns * nk > MAX_VOXELS {
        return;
    }
    let Ok(grid) = Geometry::new(
        [seg.columns, seg.rows, nk],
        [ps[1], ps[0], first.slice_thickness.unwrap_or(1.0)],
        p,
        [[r[0], c[0], n[0]], [r[1], c[1], n[1]], [r[2], c[2], n[2]]],
    ) else {
        return;
    };
    if let Some(segment) = seg.segments.first() {
        let _ = voxide_dicom::rasterise_segment(&seg, segment.number, &grid);
    }
    let _ = voxide_dicom::segments_to_labels(&seg, &grid);
});
