"""Reference computations with SimpleITK (ITK), for voxide's tests.

  sitk_ref.py resample IN.nrrd GEOMETRY.json OUTDIR   -> OUTDIR/{nearest,linear,bspline}.nrrd (float64)
  sitk_ref.py info FILE                                 -> JSON: size, spacing, origin, direction
  sitk_ref.py series DICOMDIR OUT.nrrd                  -> the series as SimpleITK (GDCM) assembles it
  sitk_ref.py nibabel_info FILE                         -> like info, read by nibabel (ITK cannot read NIfTI-2)
"""
import json
import os
import sys

import SimpleITK as sitk


def resample(src, geometry_json, outdir):
    img = sitk.Cast(sitk.ReadImage(src), sitk.sitkFloat64)
    with open(geometry_json) as f:
        g = json.load(f)
    ref = sitk.Image(g["size"], sitk.sitkFloat64)
    ref.SetSpacing(g["spacing"])
    ref.SetOrigin(g["origin"])
    # voxide's direction is row-major with axes as columns: the same layout ITK flattens.
    ref.SetDirection([v for row in g["direction"] for v in row])
    kernels = {"nearest": sitk.sitkNearestNeighbor, "linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline}
    os.makedirs(outdir, exist_ok=True)
    for name, kernel in kernels.items():
        out = sitk.Resample(img, ref, sitk.Transform(), kernel, g["default"], sitk.sitkFloat64)
        sitk.WriteImage(out, os.path.join(outdir, name + ".nrrd"))


def info(path):
    img = sitk.ReadImage(path)
    print(json.dumps({
        "size": list(img.GetSize()),
        "spacing": list(img.GetSpacing()),
        "origin": list(img.GetOrigin()),
        "direction": list(img.GetDirection()),
    }))


def nibabel_info(path):
    import nibabel
    import numpy as np

    img = nibabel.load(path)
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ img.affine
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    direction = lps[:3, :3] / spacing
    print(json.dumps({
        "size": [int(v) for v in img.shape[:3]],
        "spacing": spacing.tolist(),
        "origin": lps[:3, 3].tolist(),
        "direction": direction.flatten().tolist(),
    }))


def series(directory, out):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(directory))
    sitk.WriteImage(reader.Execute(), out)


if __name__ == "__main__":
    cmd = sys.argv[1]
    {"resample": resample, "info": info, "series": series, "nibabel_info": nibabel_info}[cmd](*sys.argv[2:])
