#!/usr/bin/env python3
"""Reads a TID 1500 measurement report with highdicom and prints what it finds, as JSON:
per volumetric measurement group its tracking identifier, finding, referenced segment (SEG
SOP Instance UID and segment number) and measurements by concept meaning, with units.

Usage: check_sr.py SR_FILE
"""
import json
import sys

import highdicom as hd


def main():
    sr = hd.sr.srread(sys.argv[1])
    report = sr.content
    groups = []
    for g in report.get_volumetric_roi_measurement_groups():
        seg = g.referenced_segment
        groups.append({
            "tracking_identifier": g.tracking_identifier,
            "finding": g.finding_type.meaning if g.finding_type is not None else None,
            "segment_number": int(seg.referenced_segment_numbers[0]) if seg is not None else None,
            "seg_sop_instance_uid": seg.referenced_sop_instance_uid if seg is not None else None,
            "measurements": {
                m.name.meaning: {"value": float(m.value), "unit": m.unit.value}
                for m in g.get_measurements()
            },
        })
    print(json.dumps({
        "template": str(sr.ContentTemplateSequence[0].TemplateIdentifier),
        "title": report[0].ConceptNameCodeSequence[0].CodeMeaning if len(report) else None,
        "groups": groups,
        "observer": [str(i.TextValue) for i in sr.ContentSequence if getattr(i, "TextValue", None) is not None],
    }))


if __name__ == "__main__":
    main()
