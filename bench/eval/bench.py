#!/usr/bin/env python3
"""Times MedPy 0.5.2 and surface-distance 0.1 on the masks `seg_bench` wrote, and prints a
Markdown table next to voxide's timings (the JSON `seg_bench` printed).

Usage: bench.py MASK_DIR VOXIDE_JSON [REPEATS]

What is timed, per tool, is what a user of that tool runs to get Dice, HD, HD95 and ASSD:
  - MedPy: dc, hd, hd95 and assd, each a separate call (each recomputes its own surfaces and
    full-volume distance transforms, as MedPy has no way to share them);
  - surface-distance: compute_surface_distances once (it crops to the masks' bounding box), then
    compute_dice_coefficient, compute_robust_hausdorff (100 and 95),
    compute_average_surface_distance;
  - voxide: one `evaluate` call, which computes every metric of the crate.
Arrays are loaded once, outside the timing, in (k, j, i) order with spacing (sk, sj, si).
"""

import json
import sys
import time

import nibabel as nib
import numpy as np

if not hasattr(np, "Inf"):
    np.Inf = np.inf
if not hasattr(np, "NaN"):
    np.NaN = np.nan

from medpy.metric import binary as mp  # noqa: E402
import surface_distance as sd  # noqa: E402


def load(path):
    img = nib.load(path)
    a = np.ascontiguousarray(np.transpose(np.asarray(img.dataobj) != 0, (2, 1, 0)))
    si, sj, sk = (float(z) for z in img.header.get_zooms()[:3])
    return a, [sk, sj, si]


def timed(f, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2], out


def main():
    mask_dir, voxide_json = sys.argv[1], sys.argv[2]
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    ref, spacing = load(f"{mask_dir}/reference.nii")
    pred, _ = load(f"{mask_dir}/prediction.nii")
    with open(voxide_json) as f:
        vx = json.load(f)

    def medpy():
        return (
            mp.dc(pred, ref),
            mp.hd(pred, ref, spacing),
            mp.hd95(pred, ref, spacing),
            mp.assd(pred, ref, spacing),
        )

    def surface_distance():
        m = sd.compute_surface_distances(ref, pred, spacing)
        sd.compute_average_surface_distance(m)
        # ASSD as voxide's SurfaceDistance convention defines it: area-weighted, pooled.
        areas = np.concatenate([m["surfel_areas_gt"], m["surfel_areas_pred"]])
        dists = np.concatenate([m["distances_gt_to_pred"], m["distances_pred_to_gt"]])
        return (
            sd.compute_dice_coefficient(ref, pred),
            sd.compute_robust_hausdorff(m, 100),
            sd.compute_robust_hausdorff(m, 95),
            np.sum(dists * areas) / np.sum(areas),
        )

    t_sd, v_sd = timed(surface_distance, repeats)
    t_mp, v_mp = timed(medpy, repeats)
    print(f"grid {list(ref.shape)} (k, j, i), spacing {spacing} mm, "
          f"reference {int(ref.sum())} voxels, voxide threads {vx['threads']}")
    print()
    print("| tool | convention | time (s) | Dice | HD (mm) | HD95 (mm) | ASSD (mm) | peer / voxide |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    rows = [
        ("MedPy 0.5.2 (dc, hd, hd95, assd)", "MedPy", t_mp, v_mp),
        ("surface-distance 0.1", "SurfaceDistance", t_sd, v_sd),
    ]
    for name, conv, t, v in rows:
        x = vx[conv]
        print(f"| {name} | {conv} | {t:.3f} | {v[0]:.6f} | {v[1]:.4f} | {v[2]:.4f} | "
              f"{v[3]:.4f} | {t / x['median_s']:.1f}× |")
        print(f"| voxide `evaluate` (all metrics) | {conv} | {x['median_s']:.3f} | "
              f"{x['dice']:.6f} | {x['hd']:.4f} | {x['hd95']:.4f} | {x['assd']:.4f} | |")
    x = vx["MetricsReloaded"]
    print(f"| voxide `evaluate` (all metrics) | MetricsReloaded | {x['median_s']:.3f} | "
          f"{x['dice']:.6f} | {x['hd']:.4f} | {x['hd95']:.4f} | {x['assd']:.4f} | |")


if __name__ == "__main__":
    main()
