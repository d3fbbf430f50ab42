"""Reference masks of DICOM Segmentations, computed with highdicom, for voxide's SEG tests.

    python seg_ref.py [DATA_DIR] > crates/voxide-dicom/tests/data/seg_reference.tsv

DATA_DIR is the shared test data folder (default: ../shared/data beside the repository root).
Needs highdicom (>= 0.22) and pydicom, e.g. `python3 -m venv /tmp/hd && /tmp/hd/bin/pip install
highdicom`. The output was generated with highdicom 0.28.2, pydicom 3.0.2, numpy 2.4.6.

This is deliberately a different route from voxide's: voxide places each SEG frame on the
reference grid by its Image Position (Patient); here highdicom places frames by the source
instance they were derived from (Derivation Image Sequence), and the reference slices are ordered
by their own positions read with pydicom. Fractional segments are thresholded at 0.5 of the
maximum fractional value (highdicom rescales them to 0..1).

Output, one line per mask: case, segment (or label, or stored value), voxel count, and the set voxels as runs
`start+length` of linear indices in file order (i fastest, then j, then k), comma-separated.
"""
import os
import sys

import highdicom as hd
import numpy as np
import pydicom

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared", "data")
HD = os.path.join(DATA, "dicom", "highdicom")
CT2 = os.path.join(DATA, "dicom", "pydicom", "dicomdirtests", "77654033", "CT2")


def runs(flat):
    """`start+length` runs of the non-zero entries of a flat array."""
    idx = np.flatnonzero(flat)
    out = []
    start = prev = None
    for v in idx:
        v = int(v)
        if start is None:
            start = prev = v
        elif v == prev + 1:
            prev = v
        else:
            out.append(f"{start}+{prev - start + 1}")
            start = prev = v
    if start is not None:
        out.append(f"{start}+{prev - start + 1}")
    return ",".join(out)


def emit(case, segment, volume):
    """volume: (k, j, i) boolean array."""
    flat = np.ascontiguousarray(volume).reshape(-1)
    print(f"{case}\t{segment}\t{int(flat.sum())}\t{runs(flat)}")


def sorted_slices(paths):
    """(SOP Instance UID, position along the normal) of single-frame images, sorted by position."""
    out = []
    for p in paths:
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        o = np.array(ds.ImageOrientationPatient, dtype=float)
        normal = np.cross(o[:3], o[3:])
        out.append((ds.SOPInstanceUID, float(np.dot(normal, np.array(ds.ImagePositionPatient, dtype=float)))))
    return sorted(out, key=lambda t: t[1])


def segment_masks(seg, uids):
    """{segment number: (len(uids), rows, cols) bool}, frames placed by source instance."""
    numbers = list(seg.get_segment_numbers())
    # One call per segment: combine_segments=False returns a stack along the last axis.
    pixels = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=uids,
        segment_numbers=numbers,
        combine_segments=False,
        rescale_fractional=True,
    )
    masks = {}
    for s, n in enumerate(numbers):
        values = pixels[..., s].astype(float)
        masks[n] = values >= 0.5
    return masks


def on_slices(masks, slice_of_source, depth):
    """Puts per-source masks on a grid of `depth` slices: source t goes to slice slice_of_source[t]."""
    out = {}
    for n, m in masks.items():
        vol = np.zeros((depth,) + m.shape[1:], dtype=bool)
        for t, k in enumerate(slice_of_source):
            vol[k] |= m[t]
        out[n] = vol
    return out


def emit_case(case, masks):
    for n in sorted(masks):
        emit(case, n, masks[n])
    # One label map, label n for segment n, the higher segment number winning on overlaps.
    labels = np.zeros(next(iter(masks.values())).shape, dtype=np.int32)
    for n in sorted(masks):
        labels[masks[n]] = n
    for n in sorted(masks):
        emit(case + ":labels", n, labels == n)


def main():
    ct2 = sorted_slices([os.path.join(CT2, f) for f in sorted(os.listdir(CT2))])
    # Grid "ct2_regular": the three regularly spaced CT2 slices (103.02, 104.27, 105.52 mm).
    regular = [t for t in ct2 if t[1] > 0]
    assert len(regular) == 3, regular
    # Grid "ct2_full": a regular grid at the CT2 slice spacing (1.25 mm) from its lowest slice
    # (-99.48 mm) to its highest (105.52 mm): 165 slices, the 4 CT2 slices at 0, 162, 163, 164.
    z0, dz = ct2[0][1], 1.25
    full_k = [int(round((z - z0) / dz)) for _, z in ct2]
    assert full_k == [0, 162, 163, 164], full_k

    for name in [
        "seg_image_ct_binary.dcm",
        "seg_image_ct_binary_overlap.dcm",
        "seg_image_ct_binary_fractional.dcm",
        "seg_image_ct_true_fractional.dcm",
    ]:
        seg = hd.seg.segread(os.path.join(HD, name))
        referenced = {uid for _, _, uid in seg.get_source_image_uids()}
        uids = [u for u, _ in regular if u in referenced]
        emit_case(f"{name}@ct2_regular", segment_masks(seg, uids))
        if name == "seg_image_ct_binary_overlap.dcm":
            uids = [u for u, _ in ct2]
            emit_case(f"{name}@ct2_full", on_slices(segment_masks(seg, uids), full_k, 165))

    # The single-frame SEG of ct_image.dcm (128 x 128, one slice).
    seg = hd.seg.segread(os.path.join(HD, "seg_image_ct_binary_single_frame.dcm"))
    ct = pydicom.dcmread(os.path.join(HD, "ct_image.dcm"), stop_before_pixels=True)
    emit_case("seg_image_ct_binary_single_frame.dcm@ct_image", segment_masks(seg, [ct.SOPInstanceUID]))

    # Stored frame values as pydicom unpacks them (frame after frame, one "slice" per frame),
    # per distinct value: 0/1 for BINARY, 0..max for FRACTIONAL, labels for LABELMAP. The
    # slide-microscopy label-map SEG has no patient positions, so this is all there is to check.
    for name in [
        "seg_image_ct_binary.dcm",
        "seg_image_ct_binary_overlap.dcm",
        "seg_image_ct_binary_fractional.dcm",
        "seg_image_ct_true_fractional.dcm",
        "seg_image_ct_binary_single_frame.dcm",
        "seg_image_sm_control_labelmap.dcm",
        # Binary 10 x 10 frames: 100 bits, so frames start in the middle of a byte.
        "seg_image_sm_control.dcm",
        "seg_image_sm_dots.dcm",
        "seg_image_sm_dots_tiled_full.dcm",
        # 512 x 512 x 3 binary SEGs, little and big endian (1-bit data in OW words).
        "../pydicom-data/liver.dcm",
        "../pydicom-data/liver_expb.dcm",
    ]:
        ds = pydicom.dcmread(os.path.join(HD, name))
        frames = ds.pixel_array.reshape((int(ds.NumberOfFrames), ds.Rows, ds.Columns))
        for value in sorted(int(v) for v in np.unique(frames)):
            emit(f"{name}@stored", value, frames == value)


if __name__ == "__main__":
    main()
