#!/usr/bin/env python3
"""Reads a DICOM SEG with highdicom and checks it against its source CT series, independently of
voxide: the label map highdicom rebuilds per source instance must equal the CT thresholded at
HU > THRESHOLD (as read by pydicom), and every frame's position and orientation must be those of
the CT slice it references.

Usage: check_seg.py SEG_FILE CT_FOLDER THRESHOLD
Prints one JSON object: {"equal": bool, "labelled": n, "frames": n, "segments": [...], ...}.
"""
import json
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom


def main():
    seg_path, ct_dir, threshold = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    seg = hd.seg.segread(seg_path)
    cts = [pydicom.dcmread(p) for p in sorted(ct_dir.iterdir()) if p.is_file()]
    normal = np.cross(*np.array(cts[0].ImageOrientationPatient, dtype=float).reshape(2, 3))
    cts.sort(key=lambda d: float(np.dot(normal, np.array(d.ImagePositionPatient, dtype=float))))
    uids = [d.SOPInstanceUID for d in cts]
    numbers = [int(s.SegmentNumber) for s in seg.SegmentSequence]
    # (instances, rows, columns): the segment number per pixel (segments do not overlap).
    got = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=uids,
        segment_numbers=numbers,
        combine_segments=True,
        relabel=False,
    )
    hu = np.stack([d.pixel_array * float(getattr(d, "RescaleSlope", 1)) + float(getattr(d, "RescaleIntercept", 0)) for d in cts])
    want = (hu > threshold).astype(got.dtype) * numbers[0]
    by_uid = {d.SOPInstanceUID: d for d in cts}
    orientation = np.array(seg.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient, dtype=float)
    worst_position = 0.0
    for frame in seg.PerFrameFunctionalGroupsSequence:
        src = frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        pos = np.array(frame.PlanePositionSequence[0].ImagePositionPatient, dtype=float)
        worst_position = max(worst_position, float(np.abs(pos - np.array(by_uid[src].ImagePositionPatient, dtype=float)).max()))
    print(json.dumps({
        "equal": bool(np.array_equal(got, want)),
        "mismatched": int((got != want).sum()),
        "labelled": int((got != 0).sum()),
        "expected_labelled": int((want != 0).sum()),
        "frames": int(seg.NumberOfFrames),
        "segments": [{"number": int(s.SegmentNumber), "label": str(s.SegmentLabel),
                      "property": str(s.SegmentedPropertyTypeCodeSequence[0].CodeMeaning)} for s in seg.SegmentSequence],
        "frame_of_reference_matches": seg.FrameOfReferenceUID == cts[0].FrameOfReferenceUID,
        "study_matches": seg.StudyInstanceUID == cts[0].StudyInstanceUID,
        "orientation_error": float(np.abs(orientation - np.array(cts[0].ImageOrientationPatient, dtype=float)).max()),
        "position_error_mm": worst_position,
    }))


if __name__ == "__main__":
    main()
