#!/usr/bin/env python3
"""Reference segmentation metrics for voxide-eval's agreement tests.

Usage: seg_metrics_ref.py REFERENCE.nii[.gz] PREDICTION.nii[.gz]
           [--percentile P] [--tolerance MM] [--boundary MM] [--spacing SI SJ SK]

Prints one JSON object with the values of
  - "medpy": MedPy's medpy.metric.binary (dc, jc, precision, recall, specificity, ravd, hd,
    hd95, the percentile P of the pooled surface distances as hd95 computes it, assd, asd both
    ways); a function that raises is reported as "raised";
  - "surface_distance": DeepMind's surface-distance (compute_surface_distances, then
    compute_dice_coefficient, compute_robust_hausdorff at 100 and P,
    compute_average_surface_distance, compute_surface_dice_at_tolerance), plus the area-weighted
    pooled mean of its distances;
  - "metricsreloaded": MetricsReloaded's formulas (BinaryPairwiseMeasures: border_distance,
    measured_distance, normalised_surface_distance, boundary_iou, com_dist) evaluated with SciPy
    on MedPy's surface, which is MetricsReloaded's (binary_erosion with the default cross).
Non-finite numbers are written as the strings "nan", "inf", "-inf" (JSON has no such numbers).

Arrays are taken in (k, j, i) order with spacing (sk, sj, si), as SimpleITK's GetArrayFromImage
gives them; an image of one slice is evaluated as a 2D (j, i) image.
"""

import argparse
import json
import math
import warnings

import nibabel as nib
import numpy as np

# surface-distance 0.1 still spells NumPy 1's aliases, removed in NumPy 2; it uses them only
# for empty masks. Restore them so that it runs unchanged.
if not hasattr(np, "Inf"):
    np.Inf = np.inf
if not hasattr(np, "NaN"):
    np.NaN = np.nan

from medpy.metric import binary as medpy_binary  # noqa: E402
from scipy import ndimage  # noqa: E402
import surface_distance as sd  # noqa: E402

warnings.simplefilter("ignore")


def load(path):
    img = nib.load(path)
    a = np.asarray(img.dataobj) != 0
    while a.ndim < 3:
        a = a[..., np.newaxis]
    zooms = [float(z) for z in img.header.get_zooms()[:3]]
    while len(zooms) < 3:
        zooms.append(1.0)
    return np.ascontiguousarray(np.transpose(a[:, :, :], (2, 1, 0))), zooms


def num(v):
    if v is None:
        return None
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def guarded(f):
    try:
        return num(f())
    except Exception:  # MedPy raises RuntimeError on empty masks
        return "raised"


def medpy_values(ref, pred, spacing, p):
    b = medpy_binary
    surface_distances = getattr(b, "__surface_distances")

    def pooled_percentile():
        d1 = surface_distances(pred, ref, spacing, 1)
        d2 = surface_distances(ref, pred, spacing, 1)
        return np.percentile(np.hstack((d1, d2)), p)

    return {
        "dc": guarded(lambda: b.dc(pred, ref)),
        "jc": guarded(lambda: b.jc(pred, ref)),
        "precision": guarded(lambda: b.precision(pred, ref)),
        "recall": guarded(lambda: b.recall(pred, ref)),
        "specificity": guarded(lambda: b.specificity(pred, ref)),
        "ravd": guarded(lambda: b.ravd(pred, ref)),
        "hd": guarded(lambda: b.hd(pred, ref, spacing)),
        "hd95": guarded(lambda: b.hd95(pred, ref, spacing)),
        "hd_percentile": guarded(pooled_percentile),
        "assd": guarded(lambda: b.assd(pred, ref, spacing)),
        "asd_pred_to_ref": guarded(lambda: b.asd(pred, ref, spacing)),
        "asd_ref_to_pred": guarded(lambda: b.asd(ref, pred, spacing)),
    }


def surface_distance_values(ref, pred, spacing, p, tol):
    m = sd.compute_surface_distances(ref, pred, spacing)
    a_gt, a_pred = sd.compute_average_surface_distance(m)
    areas = np.concatenate([m["surfel_areas_gt"], m["surfel_areas_pred"]])
    dists = np.concatenate([m["distances_gt_to_pred"], m["distances_pred_to_gt"]])
    with np.errstate(all="ignore"):
        pooled = np.sum(dists * areas) / np.sum(areas)
        nsd = sd.compute_surface_dice_at_tolerance(m, tol)
    return {
        "dice": num(sd.compute_dice_coefficient(ref, pred)),
        "hd": num(sd.compute_robust_hausdorff(m, 100)),
        "hd_percentile": num(sd.compute_robust_hausdorff(m, p)),
        "asd_ref_to_pred": num(a_gt),
        "asd_pred_to_ref": num(a_pred),
        "assd": num(pooled),
        "nsd": num(nsd),
        "surfels_ref": len(m["surfel_areas_gt"]),
        "surfels_pred": len(m["surfel_areas_pred"]),
    }


def metricsreloaded_values(ref, pred, spacing, p, tol, band):
    """MetricsReloaded's formulas for two non-empty masks, on SciPy."""
    if not ref.any() or not pred.any():
        return None
    border_ref = ref ^ ndimage.binary_erosion(ref)
    border_pred = pred ^ ndimage.binary_erosion(pred)
    dist_to_ref = ndimage.distance_transform_edt(~border_ref, sampling=spacing)
    dist_to_pred = ndimage.distance_transform_edt(~border_pred, sampling=spacing)
    d_rp = dist_to_pred[border_ref]
    d_pr = dist_to_ref[border_pred]
    band_ref = ref & (dist_to_ref < band)
    band_pred = pred & (dist_to_pred < band)
    com_ref = np.array(ndimage.center_of_mass(ref))
    com_pred = np.array(ndimage.center_of_mass(pred))
    return {
        "hd": num(max(d_rp.max(), d_pr.max())),
        "hd_percentile": num(max(np.percentile(d_rp, p), np.percentile(d_pr, p))),
        "assd": num((d_rp.sum() + d_pr.sum()) / (len(d_rp) + len(d_pr))),
        "masd": num(0.5 * (d_rp.mean() + d_pr.mean())),
        "nsd": num(((d_rp <= tol).sum() + (d_pr <= tol).sum()) / (len(d_rp) + len(d_pr))),
        "boundary_iou": num((band_ref & band_pred).sum() / (band_ref | band_pred).sum()),
        "com_distance": num(
            np.sqrt(np.dot(np.square(com_ref - com_pred), np.square(np.array(spacing))))
        ),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reference")
    ap.add_argument("prediction")
    ap.add_argument("--percentile", type=float, default=95.0)
    ap.add_argument("--tolerance", type=float, default=1.0)
    ap.add_argument("--boundary", type=float, default=1.0)
    ap.add_argument("--spacing", type=float, nargs=3, metavar=("SI", "SJ", "SK"))
    args = ap.parse_args()

    ref, zooms = load(args.reference)
    pred, _ = load(args.prediction)
    si, sj, sk = args.spacing if args.spacing else zooms
    spacing = [sk, sj, si]
    if ref.shape[0] == 1:
        ref, pred, spacing = ref[0], pred[0], [sj, si]
    p, tol = args.percentile, args.tolerance
    out = {
        "shape": list(ref.shape),
        "spacing": spacing,
        "medpy": medpy_values(ref, pred, spacing, p),
        "surface_distance": surface_distance_values(ref, pred, spacing, p, tol),
        "metricsreloaded": metricsreloaded_values(ref, pred, spacing, p, tol, args.boundary),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
