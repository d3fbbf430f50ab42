#!/usr/bin/env python3
"""voxide infer vs onnxruntime (Python, CPU), side by side (run through bench/infer/run.sh).

The onnxruntime side is voxide's own algorithm written out in NumPy, step for step, so that the
two runs compute the same thing and their outputs can be compared voxel by voxel:
  - the NIfTI is read with nibabel and put in the model's axes (D, H, W) = (z, y, x), C order;
  - z-score over the whole volume (mean and std in float64, result float32, std at least 1e-8);
  - sliding window: patch starts per axis by nnU-Net's rule (compute_steps_for_sliding_window,
    rounding half away from zero as Rust's f64::round does), a volume smaller than the patch
    padded with zeros on both sides (centred) and cropped back;
  - Gaussian importance map per patch: per axis exp(-d^2 / (2 sigma^2)), d = i - n // 2,
    sigma = n / 8, zero beyond floor(4 sigma + 0.5), product over the axes as float32, zeros
    raised to the smallest positive weight;
  - logits * weight and weight summed per voxel (float32, patches in D, H, W order), divided;
  - softmax over the channels, argmax for the labels.
One patch per session.run call (batch 1), as the model package asks for batch_size = 1.

Timing. Every measurement is a separate process, ORT and voxide interleaved, median of the
repeats. onnxruntime: from creating the InferenceSession, through reading the NIfTI, to the
label array in memory (Python start-up and imports are not counted; its process wall time is
kept in results.json). voxide: wall time of the whole `voxide infer` process, which also writes
labels.nii.gz (the probabilities are written only by one extra, untimed run used for the
comparison). "inference" is the time from the volume in memory to the probabilities and labels
in memory: z-score, sliding window, blending, softmax, argmax (voxide: `seconds.inference` of its
run.json, which times its `segment` call; ORT: the same steps; the time inside session.run alone
is kept in results.json as network_s). Peak RSS comes from wait4 on each child process.

Usage:
  bench.py make-volume --out VOL.nii.gz [--size X Y Z] [--seed S]
  bench.py ort --model model.onnx --input VOL.nii.gz --threads T [--patch P] [--overlap O]
               [--save PREFIX]                  (prints one JSON line)
  bench.py run --voxide BIN --package DIR --input VOL.nii.gz --work DIR --out DIR
               [--threads 1 2] [--repeats 3] [--patch P] [--overlap O] [--ort-python PY]
"""

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

GAUSSIAN_SIGMA = 0.125  # voxide's default inference.gaussian_sigma (fraction of the patch)


# ---------------------------------------------------------------------------------------------
# Input volume


def make_volume(out, size, seed):
    """A seeded float32 NIfTI of `size` = (x, y, z) voxels at 1 mm: a few dozen smooth Gaussian
    blobs of both signs on a constant background, plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    nx, ny, nz = size
    grids = [np.arange(n, dtype=np.float64) for n in size]
    vol = np.zeros(size, dtype=np.float64)
    for _ in range(24):
        centre = [rng.uniform(0, n) for n in size]
        sigma = [rng.uniform(0.04, 0.18) * n for n in size]
        amp = rng.uniform(-1.0, 1.0) * 300.0
        gx, gy, gz = (np.exp(-((g - c) ** 2) / (2.0 * s * s)) for g, c, s in zip(grids, centre, sigma))
        vol += amp * (gx[:, None, None] * gy[None, :, None] * gz[None, None, :])
    vol += 40.0 + rng.normal(0.0, 15.0, size=size)
    img = nib.Nifti1Image(vol.astype(np.float32), np.eye(4))
    img.set_qform(np.eye(4), code=1)
    img.set_sform(np.eye(4), code=1)
    img.header.set_xyzt_units("mm", "sec")
    nib.save(img, str(out))
    print(f"bench: wrote a {nx}x{ny}x{nz} (x, y, z) float32 volume, seed {seed}", file=sys.stderr)


def read_volume(path):
    """The NIfTI's data in (D, H, W) = (z, y, x) order, float32, C-contiguous."""
    img = nib.load(str(path))
    a = np.asarray(img.dataobj, dtype=np.float32)
    if a.ndim != 3:
        raise SystemExit(f"bench: expected a 3D volume, got shape {a.shape}")
    return np.ascontiguousarray(a.transpose(2, 1, 0))


# ---------------------------------------------------------------------------------------------
# voxide's algorithm in NumPy


def round_half_away(x):
    """Rust's f64::round for x >= 0."""
    f = math.floor(x)
    return int(f) + (1 if x - f >= 0.5 else 0)


def patch_starts(size, patch, overlap):
    if size <= patch:
        return [0]
    target = patch * (1.0 - overlap)
    steps = math.ceil((size - patch) / target) + 1
    actual = (size - patch) / (steps - 1)
    return [round_half_away(actual * i) for i in range(steps)]


def gaussian_weights(patch, sigma_scale=GAUSSIAN_SIGMA):
    axes = []
    for n in patch:
        sigma = n * sigma_scale
        radius = math.floor(4.0 * sigma + 0.5)
        d = np.arange(n, dtype=np.float64) - float(n // 2)
        g = np.exp(-d * d / (2.0 * sigma * sigma))
        g[np.abs(d) > radius] = 0.0
        axes.append(g)
    gd, gh, gw = axes
    w = (gd[:, None, None] * gh[None, :, None] * gw[None, None, :]).astype(np.float32)
    w[w <= 0] = w[w > 0].min()
    return w


def z_score(vol):
    v = vol.astype(np.float64)
    mean = v.mean()
    std = max(math.sqrt(np.mean((v - mean) ** 2)), 1e-8)
    return ((v - mean) / std).astype(np.float32)


def softmax(logits):
    e = np.exp(logits - logits.max(axis=0, keepdims=True))
    e /= e.sum(axis=0, keepdims=True)
    return e


def ort_pipeline(model, path, threads, patch, overlap):
    """Returns (probabilities (C, D, H, W), labels (D, H, W), timings dict)."""
    import onnxruntime as ort

    t = {}
    t0 = time.perf_counter()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(model), sess_options=so, providers=["CPUExecutionProvider"])
    in_name = sess.get_inputs()[0].name
    out_name = sess.get_outputs()[0].name
    t1 = time.perf_counter()
    t["session_s"] = t1 - t0

    vol = read_volume(path)
    t2 = time.perf_counter()
    t["load_s"] = t2 - t1
    x = z_score(vol)
    del vol
    t3 = time.perf_counter()
    t["preprocess_s"] = t3 - t2

    p = [patch] * 3
    size0 = x.shape
    padded = tuple(max(s, q) for s, q in zip(size0, p))
    before = [(a - s) // 2 for a, s in zip(padded, size0)]
    inner = tuple(slice(b, b + s) for b, s in zip(before, size0))
    if padded != size0:
        xp = np.zeros(padded, dtype=np.float32)
        xp[inner] = x
        x = xp
    starts = [patch_starts(padded[a], p[a], overlap) for a in range(3)]
    w = gaussian_weights(p)
    acc = None
    wsum = np.zeros(padded, dtype=np.float32)
    infer_s = 0.0
    n = 0
    for sd in starts[0]:
        for sh in starts[1]:
            for sw in starts[2]:
                region = (slice(sd, sd + p[0]), slice(sh, sh + p[1]), slice(sw, sw + p[2]))
                xin = np.ascontiguousarray(x[region])[None, None]
                ti = time.perf_counter()
                y = sess.run([out_name], {in_name: xin})[0]
                infer_s += time.perf_counter() - ti
                n += 1
                if y.ndim != 5 or y.shape[0] != 1 or tuple(y.shape[2:]) != tuple(p):
                    raise SystemExit(f"bench: network output {y.shape} does not cover the patch {p}")
                if acc is None:
                    acc = np.zeros((y.shape[1],) + padded, dtype=np.float32)
                acc[(slice(None),) + region] += y[0] * w
                wsum[region] += w
    acc /= wsum
    acc = np.ascontiguousarray(acc[(slice(None),) + inner])
    probs = softmax(acc)
    del acc
    labels = np.argmax(probs, axis=0).astype(np.uint8)
    t4 = time.perf_counter()
    t["network_s"] = infer_s
    t["sliding_window_s"] = t4 - t3
    t["inference_s"] = t4 - t2
    t["total_s"] = t4 - t0
    t["patches"] = n
    t["shape_dhw"] = list(size0)
    t["onnxruntime"] = ort.__version__
    return probs, labels, t


def cmd_ort(args):
    probs, labels, t = ort_pipeline(args.model, args.input, args.threads, args.patch, args.overlap)
    t["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if args.save:
        np.save(f"{args.save}_probs.npy", probs)
        np.save(f"{args.save}_labels.npy", labels)
    print(json.dumps(t))


# ---------------------------------------------------------------------------------------------
# Side by side


def run_measured(cmd, env=None):
    """Runs cmd; returns (wall s, peak RSS MiB of that child alone, stdout, stderr)."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        start = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdout=fo, stderr=fe)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out = fo.read().decode(errors="replace")
        err = fe.read().decode(errors="replace")
    if p.returncode != 0:
        raise SystemExit(f"bench: command failed ({p.returncode}): {' '.join(map(str, cmd))}\n"
                         f"{err[-3000:]}")
    return wall, ru.ru_maxrss / 1024.0, out, err


def read_nifti_dhw(path, dtype=None):
    img = nib.load(str(path))
    a = np.asarray(img.dataobj) if dtype is None else np.asarray(img.dataobj, dtype=dtype)
    return np.ascontiguousarray(a.transpose(2, 1, 0))


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def median(xs):
    return statistics.median(xs)


def cmd_run(args):
    work = Path(args.work)
    out = Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    me = str(Path(__file__).resolve())
    py = args.ort_python or sys.executable
    model = Path(args.package) / "model.onnx"
    rows = []
    for threads in args.threads:
        print(f"bench: {threads} thread(s)", file=sys.stderr)
        env = dict(os.environ)
        env["RAYON_NUM_THREADS"] = str(threads)
        env["OMP_NUM_THREADS"] = str(threads)
        save = work / f"ort_t{threads}"
        ort_runs, vx_runs = [], []
        for r in range(args.repeats):
            cmd = [py, me, "ort", "--model", str(model), "--input", args.input,
                   "--threads", str(threads), "--patch", str(args.patch),
                   "--overlap", str(args.overlap)]
            if r == 0:
                cmd += ["--save", str(save)]
            wall, rss, so, _ = run_measured(cmd, env)
            o = json.loads(so.strip().splitlines()[-1])
            o["process_wall_s"] = wall
            o["wait4_maxrss_mib"] = rss
            ort_runs.append(o)
            print(f"bench:   onnxruntime #{r + 1}: {o['total_s']:.2f} s "
                  f"(inference {o['inference_s']:.2f} s, network {o['network_s']:.2f} s, "
                  f"{o['patches']} patches)", file=sys.stderr)

            vdir = work / f"voxide_t{threads}"
            shutil.rmtree(vdir, ignore_errors=True)
            cmd = [args.voxide, "infer", "--model", args.package, "--input", args.input,
                   "--output", str(vdir)]
            wall, rss, _, _ = run_measured(cmd, env)
            rj = json.loads((vdir / "run.json").read_text())
            vx_runs.append({"wall_s": wall, "maxrss_mib": rss, "run_json": rj})
            sec = rj.get("seconds", {})
            print(f"bench:   voxide      #{r + 1}: {wall:.2f} s "
                  f"(inference {sec.get('inference', float('nan')):.2f} s, "
                  f"{rj.get('patches')} patches)", file=sys.stderr)

        # One more voxide run, untimed, with the probabilities, for the comparison.
        cdir = work / f"voxide_t{threads}_probs"
        shutil.rmtree(cdir, ignore_errors=True)
        run_measured([args.voxide, "infer", "--model", args.package, "--input", args.input,
                      "--output", str(cdir), "--probabilities"], env)
        ort_probs = np.load(f"{save}_probs.npy")
        ort_labels = np.load(f"{save}_labels.npy")
        vx_labels = read_nifti_dhw(cdir / "labels.nii.gz")
        if vx_labels.shape != ort_labels.shape:
            raise SystemExit(f"bench: voxide's labels have shape {vx_labels.shape} (D, H, W), "
                             f"onnxruntime's {ort_labels.shape}")
        labels_equal = float(np.mean(vx_labels.astype(np.int64) == ort_labels.astype(np.int64)))
        max_diff = 0.0
        for c in range(ort_probs.shape[0]):
            pc = read_nifti_dhw(cdir / f"probabilities_{c}.nii.gz", np.float32)
            if pc.shape != ort_labels.shape:
                raise SystemExit(f"bench: probabilities_{c} has shape {pc.shape}, expected "
                                 f"{ort_labels.shape}")
            max_diff = max(max_diff, float(np.max(np.abs(pc - ort_probs[c]))))
        del ort_probs
        for f in (f"{save}_probs.npy", f"{save}_labels.npy"):
            os.remove(f)
        shutil.rmtree(cdir, ignore_errors=True)

        o_t = median([o["total_s"] for o in ort_runs])
        o_i = median([o["inference_s"] for o in ort_runs])
        o_n = median([o["network_s"] for o in ort_runs])
        v_t = median([v["wall_s"] for v in vx_runs])
        v_i = median([v["run_json"].get("seconds", {}).get("inference", float("nan"))
                      for v in vx_runs])
        v_self = median([v["run_json"].get("seconds", {}).get("total", float("nan"))
                         for v in vx_runs])
        row = {
            "threads": threads,
            "onnxruntime_total_s": o_t,
            "onnxruntime_inference_s": o_i,
            "onnxruntime_network_s": o_n,
            "voxide_wall_s": v_t,
            "voxide_total_s_run_json": v_self,
            "voxide_inference_s": v_i,
            "ratio": v_t / o_t,
            "labels_equal_fraction": labels_equal,
            "max_prob_diff": max_diff,
            "ort_maxrss_mib": max(o["wait4_maxrss_mib"] for o in ort_runs),
            "voxide_maxrss_mib": max(v["maxrss_mib"] for v in vx_runs),
            "ort_patches": ort_runs[0]["patches"],
            "voxide_patches": vx_runs[0]["run_json"].get("patches"),
            "ort_runs": ort_runs,
            "voxide_runs": vx_runs,
        }
        if row["voxide_patches"] is not None and row["voxide_patches"] != row["ort_patches"]:
            print(f"bench: WARNING voxide ran {row['voxide_patches']} patches, onnxruntime "
                  f"{row['ort_patches']}", file=sys.stderr)
        rows.append(row)

    first = rows[0]["ort_runs"][0]
    d, h, w = first["shape_dhw"]
    lines = [
        f"3D U-Net (crates/voxide-infer/tests/models/unet3d/model.onnx) over a {w}×{h}×{d} "
        f"(x × y × z) float32 volume, patches {args.patch}³, overlap {args.overlap}, "
        f"{first['patches']} patches, z-score, softmax; onnxruntime {first['onnxruntime']} "
        f"(CPUExecutionProvider, ORT_ENABLE_ALL, intra-op threads = threads), NumPy "
        f"{np.__version__}, Python {platform.python_version()}; {cpu_name()}, "
        f"{os.cpu_count()} logical CPUs; median of {args.repeats}.",
        "",
        "| threads | onnxruntime (s) | voxide (s) | voxide / onnxruntime | inference only: "
        "onnxruntime / voxide (s) | labels equal | max prob diff | peak RSS ORT / voxide (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['threads']} | {r['onnxruntime_total_s']:.2f} | {r['voxide_wall_s']:.2f} | "
            f"{r['ratio']:.2f}× | {r['onnxruntime_inference_s']:.2f} / "
            f"{r['voxide_inference_s']:.2f} | {100 * r['labels_equal_fraction']:.4f}% | "
            f"{r['max_prob_diff']:.2e} | {r['ort_maxrss_mib']:.0f} / "
            f"{r['voxide_maxrss_mib']:.0f} |")
    ok = all(r["ratio"] <= 1.5 for r in rows)
    lines += [
        "",
        "onnxruntime (s): session creation + NIfTI read + z-score + sliding window + softmax + "
        "argmax, in one Python process (start-up and imports not counted). voxide (s): wall time "
        "of the `voxide infer` process (labels.nii.gz written; probabilities off). Inference "
        "only: volume in memory to labels in memory (z-score, sliding window, softmax, argmax; "
        "voxide's run.json `seconds.inference`). Labels and probabilities compared against one "
        "extra `--probabilities` run.",
        "",
        f"Issue 6 acceptance (voxide within 1.5× of onnxruntime at every thread count): "
        f"{'yes' if ok else 'NO'}.",
    ]
    md = "\n".join(lines) + "\n"
    print(md)
    (out / "results.md").write_text(md)
    meta = {
        "volume_dhw": first["shape_dhw"],
        "patch": args.patch,
        "overlap": args.overlap,
        "repeats": args.repeats,
        "onnxruntime": first["onnxruntime"],
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpu": cpu_name(),
        "logical_cpus": os.cpu_count(),
        "within_1_5x": ok,
        "rows": rows,
    }
    (out / "results.json").write_text(json.dumps(meta, indent=2) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    a = sub.add_parser("make-volume")
    a.add_argument("--out", required=True)
    a.add_argument("--size", type=int, nargs=3, default=[256, 256, 128], metavar=("X", "Y", "Z"))
    a.add_argument("--seed", type=int, default=20240606)

    a = sub.add_parser("ort")
    a.add_argument("--model", required=True)
    a.add_argument("--input", required=True)
    a.add_argument("--threads", type=int, required=True)
    a.add_argument("--patch", type=int, default=96)
    a.add_argument("--overlap", type=float, default=0.5)
    a.add_argument("--save", help="write PREFIX_probs.npy and PREFIX_labels.npy (D, H, W)")

    a = sub.add_parser("run")
    a.add_argument("--voxide", required=True)
    a.add_argument("--package", required=True)
    a.add_argument("--input", required=True)
    a.add_argument("--work", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    a.add_argument("--repeats", type=int, default=3)
    a.add_argument("--patch", type=int, default=96)
    a.add_argument("--overlap", type=float, default=0.5)
    a.add_argument("--ort-python", help="Python for the onnxruntime processes (default: this one)")

    args = ap.parse_args()
    if args.cmd == "make-volume":
        make_volume(args.out, tuple(args.size), args.seed)
    elif args.cmd == "ort":
        cmd_ort(args)
    else:
        cmd_run(args)


if __name__ == "__main__":
    main()
