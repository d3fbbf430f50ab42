"""voxide radiomics vs PyRadiomics, side by side (run through bench/radiomics/run.sh).

Every measurement is a separate process timed with /usr/bin/time (wall seconds, peak RSS).
Single-threaded voxide runs set RAYON_NUM_THREADS=1. Both tools read the same files and the same
PyRadiomics parameter file; the outputs are compared column by column, so a speed-up never hides
a different computation.
"""

import argparse
import csv
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

PARAMS_DEFAULT = """# PyRadiomics defaults: original image, every feature class, bin width 25.
imageType:
  Original: {}
setting:
  binWidth: 25
  label: 1
"""


def sh_time(cmd, env=None, cwd=None):
    """Runs cmd under /usr/bin/time; returns (wall s, peak RSS MiB, stdout, stderr)."""
    full = ["/usr/bin/time", "-f", "TIME %e %M"] + cmd
    # Wall time from the clock here (/usr/bin/time rounds to 10 ms, too coarse for voxide).
    start = time.perf_counter()
    p = subprocess.run(full, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-3000:]}")
    line = [l for l in p.stderr.splitlines() if l.startswith("TIME ")][-1]
    _, _, rss = line.split()
    return wall, int(rss) / 1024.0, p.stdout, p.stderr


def make_large_ct(root, work):
    """A 512x512x200 CT (lung2's slices repeated along z) with a ~100,000-voxel ellipsoid ROI
    centred on lung2's tumour."""
    data = root.parent / "shared" / "data" / "radiomics" / "pyradiomics"
    img = sitk.ReadImage(str(data / "lung2_image.nrrd"))
    lab = sitk.ReadImage(str(data / "lung2_label.nrrd"))
    a = sitk.GetArrayFromImage(img)  # (z, y, x)
    m = sitk.GetArrayFromImage(lab)
    nz = 200
    big = a[np.arange(nz) % a.shape[0]]
    zc, yc, xc = [float(c.mean()) for c in np.nonzero(m)]
    zc = nz / 2
    sp = img.GetSpacing()  # (x, y, z)
    # Ellipsoid radii (in voxels) chosen so the ROI holds about 100,000 voxels.
    r = (100_000 * 3 / (4 * np.pi)) ** (1 / 3)
    rz = r * 0.6
    rxy = (100_000 * 3 / (4 * np.pi) / rz) ** 0.5
    z, y, x = np.ogrid[:nz, : a.shape[1], : a.shape[2]]
    ell = ((z - zc) / rz) ** 2 + ((y - yc) / rxy) ** 2 + ((x - xc) / rxy) ** 2 <= 1.0
    big_img = sitk.GetImageFromArray(big)
    big_img.SetSpacing(sp)
    big_img.SetOrigin(img.GetOrigin())
    big_img.SetDirection(img.GetDirection())
    big_lab = sitk.GetImageFromArray(ell.astype(np.uint8))
    big_lab.CopyInformation(big_img)
    # Gzip-compressed (as the PyRadiomics test cases are) and uncompressed (as many converted
    # volumes are): decompression is a large share of voxide's time on such a volume.
    sitk.WriteImage(big_img, str(work / "ct512x200_image.nrrd"), True)
    sitk.WriteImage(big_lab, str(work / "ct512x200_label.nrrd"), True)
    sitk.WriteImage(big_img, str(work / "ct512x200_raw_image.nrrd"), False)
    sitk.WriteImage(big_lab, str(work / "ct512x200_raw_label.nrrd"), False)
    return int(ell.sum())


def read_row(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return dict(zip(rows[0], rows[1]))


def compare(py_csv, vx_csv):
    """Max relative difference over the feature columns both tools wrote."""
    py, vx = read_row(py_csv), read_row(vx_csv)
    worst, n = 0.0, 0
    worst_name = ""
    for k, v in py.items():
        if not k.startswith("original_") or k not in vx:
            continue
        try:
            a, b = float(v), float(vx[k])
        except ValueError:
            continue
        n += 1
        if np.isnan(a) and np.isnan(b):
            continue
        d = abs(a - b) / max(abs(a), 1e-9)
        if d > worst:
            worst, worst_name = d, k
    missing = [k for k in py if k.startswith("original_") and k not in vx]
    return n, worst, worst_name, missing


def gzip_payload(path):
    """The gzip stream of an attached-data gzip NRRD, or None when the data are not gzip."""
    raw = Path(path).read_bytes()
    end = raw.index(b"\n\n") + 2
    header = raw[:end].decode("latin-1")
    if "encoding: gzip" not in header and "encoding: gz" not in header:
        return None
    return raw[end:]


def best_of(reps, f):
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best


def required_work(img, lab, py_csv, reps):
    """What PyRadiomics' output requires of every voxel, timed on one thread with the fastest
    libraries available (libdeflate through `deflate`, OpenSSL's SHA-1 through hashlib):
    inflating both files, and the SHA-1 of the image and of the mask cast to UInt32 that the
    `diagnostics_*_Hash` columns hold. The hashes are checked against PyRadiomics' own output,
    so the bytes timed are the bytes its output covers."""
    import deflate

    image = sitk.GetArrayFromImage(sitk.ReadImage(str(img)))
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(lab))).astype(np.uint32)
    py = read_row(py_csv)
    image_bytes, mask_bytes = image.tobytes(), mask.tobytes()
    if hashlib.sha1(image_bytes).hexdigest() != py["diagnostics_Image-original_Hash"]:
        raise SystemExit(f"{img}: the image hash is not the SHA-1 of its voxels")
    if hashlib.sha1(mask_bytes).hexdigest() != py["diagnostics_Mask-original_Hash"]:
        raise SystemExit(f"{lab}: the mask hash is not the SHA-1 of its voxels as UInt32")
    sha1_s = best_of(reps, lambda: (hashlib.sha1(image_bytes).digest(),
                                     hashlib.sha1(mask_bytes).digest()))
    inflate_s = 0.0
    for path in (img, lab):
        gz = gzip_payload(path)
        if gz is not None:
            inflate_s += best_of(reps, lambda: deflate.gzip_decompress(gz))
    return {"hashed_mb": (len(image_bytes) + len(mask_bytes)) / 1e6,
            "sha1_s": sha1_s, "inflate_s": inflate_s}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--voxide", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    reps = 1 if args.quick else 3
    n_batch = 10 if args.quick else 50
    work = args.work
    data = args.root.parent / "shared" / "data" / "radiomics" / "pyradiomics"
    params = work / "params.yaml"
    params.write_text(PARAMS_DEFAULT)
    pyrad = str(Path(sys.executable).parent / "pyradiomics")
    roi_voxels = make_large_ct(args.root, work)
    cases = {
        "brain1 (default features)": (data / "brain1_image.nrrd", data / "brain1_label.nrrd"),
        "lung2 (512x512x61 CT)": (data / "lung2_image.nrrd", data / "lung2_label.nrrd"),
        f"512x512x200 CT, {roi_voxels:,}-voxel ROI, gzip NRRD": (
            work / "ct512x200_image.nrrd",
            work / "ct512x200_label.nrrd",
        ),
        f"512x512x200 CT, {roi_voxels:,}-voxel ROI, uncompressed NRRD": (
            work / "ct512x200_raw_image.nrrd",
            work / "ct512x200_raw_label.nrrd",
        ),
    }
    one = dict(os.environ, RAYON_NUM_THREADS="1")
    results = {"machine": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    rows = []
    for index, (name, (img, lab)) in enumerate(cases.items()):
        # PyRadiomics' CLI appends to an existing output file: a fresh name per case and run.
        py_out, vx_out = work / f"py_{index}.csv", work / f"vx_{index}.csv"
        py_t, py_m, vx_t, vx_m, vxp_t = [], [], [], [], []
        for _ in range(reps):
            for f in (py_out, vx_out):
                f.unlink(missing_ok=True)
            t, m, _, _ = sh_time([pyrad, str(img), str(lab), "--param", str(params),
                                  "-o", str(py_out), "-f", "csv"])
            py_t.append(t)
            py_m.append(m)
            t, m, _, _ = sh_time([args.voxide, "radiomics", "extract", "--image", str(img),
                                  "--mask", str(lab), "--params", str(params),
                                  "-o", str(vx_out)], env=one)
            vx_t.append(t)
            vx_m.append(m)
            t, _, _, _ = sh_time([args.voxide, "radiomics", "extract", "--image", str(img),
                                  "--mask", str(lab), "--params", str(params),
                                  "-o", str(work / "vxp.csv")])
            vxp_t.append(t)
        n, worst, worst_name, missing = compare(py_out, vx_out)
        r = {
            "case": name,
            "pyradiomics_s": statistics.median(py_t),
            "pyradiomics_rss_mib": max(py_m),
            "voxide_1thread_s": statistics.median(vx_t),
            "voxide_rss_mib": max(vx_m),
            "voxide_all_cores_s": statistics.median(vxp_t),
            "features_compared": n,
            "max_rel_diff": worst,
            "max_rel_diff_feature": worst_name,
            "missing_in_voxide": missing,
        }
        r["required"] = required_work(img, lab, py_out, max(reps, 3))
        rows.append(r)
        print(json.dumps(r), flush=True)
    results["single_case"] = rows

    # Batch: n_batch cases cycling through the five PyRadiomics test cases (distinct paths).
    bdir = work / "batch"
    bdir.mkdir()
    names = ["brain1", "brain2", "breast1", "lung1", "lung2"]
    with open(bdir / "cohort.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Image", "Mask"])
        for i in range(n_batch):
            c = names[i % len(names)]
            for kind in ("image", "label"):
                link = bdir / f"case{i:03d}_{kind}.nrrd"
                link.symlink_to(data / f"{c}_{kind}.nrrd")
            w.writerow([str(bdir / f"case{i:03d}_image.nrrd"), str(bdir / f"case{i:03d}_label.nrrd")])
    batch = []
    cores = os.cpu_count() or 1
    for jobs in sorted({1, cores}):
        t_py, m_py, _, _ = sh_time([pyrad, str(bdir / "cohort.csv"), "--param", str(params),
                                    "-o", str(bdir / f"py_{jobs}.csv"), "-f", "csv",
                                    "--jobs", str(jobs)])
        t_vx, m_vx, _, _ = sh_time([args.voxide, "radiomics", "batch", str(bdir / "cohort.csv"),
                                    "--params", str(params), "-o", str(bdir / f"vx_{jobs}.csv"),
                                    "--jobs", str(jobs)], env=dict(os.environ, RAYON_NUM_THREADS=str(jobs)))
        b = {"cases": n_batch, "jobs": jobs, "pyradiomics_s": t_py, "pyradiomics_rss_mib": m_py,
             "voxide_s": t_vx, "voxide_rss_mib": m_vx}
        batch.append(b)
        print(json.dumps(b), flush=True)
    results["batch"] = batch
    results["finished"] = time.strftime("%Y-%m-%d %H:%M")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    md = ["| case | PyRadiomics (s) | voxide 1 thread (s) | ratio | voxide all cores (s) | peak RSS PyRadiomics / voxide (MiB) | features compared, max rel. diff |",
          "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        md.append(f"| {r['case']} | {r['pyradiomics_s']:.2f} | {r['voxide_1thread_s']:.3f} | "
                  f"{r['pyradiomics_s'] / r['voxide_1thread_s']:.1f}× | {r['voxide_all_cores_s']:.3f} | "
                  f"{r['pyradiomics_rss_mib']:.0f} / {r['voxide_rss_mib']:.0f} | "
                  f"{r['features_compared']}, {r['max_rel_diff']:.1e} |")
    md.append("")
    md.append("What PyRadiomics' output requires of every voxel, on one thread with the fastest "
              "libraries at hand (libdeflate, OpenSSL SHA-1), against a 20× budget:")
    md.append("")
    md.append("| case | inflate (libdeflate, s) | SHA-1 of image + mask as UInt32 (MB, s) | sum (s) | PyRadiomics / 20 (s) | sum / budget |")
    md.append("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        q = r["required"]
        total = q["inflate_s"] + q["sha1_s"]
        budget = r["pyradiomics_s"] / 20
        md.append(f"| {r['case']} | {q['inflate_s']:.3f} | {q['hashed_mb']:.0f}, {q['sha1_s']:.3f} | "
                  f"{total:.3f} | {budget:.3f} | {100 * total / budget:.0f} % |")
    md.append("")
    md.append("| batch | jobs | PyRadiomics (s) | voxide (s) | ratio | peak RSS PyRadiomics / voxide (MiB) |")
    md.append("|---|---:|---:|---:|---:|---:|")
    for b in batch:
        md.append(f"| {b['cases']} cases | {b['jobs']} | {b['pyradiomics_s']:.1f} | {b['voxide_s']:.2f} | "
                  f"{b['pyradiomics_s'] / b['voxide_s']:.1f}× | {b['pyradiomics_rss_mib']:.0f} / {b['voxide_rss_mib']:.0f} |")
    (args.out / "results.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
