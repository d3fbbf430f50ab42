#!/usr/bin/env bash
# Side-by-side benchmark of `voxide infer` against onnxruntime (Python, CPU, same thread count)
# on the test 3D U-Net (crates/voxide-infer/tests/models/unet3d/model.onnx) over a seeded
# 256×256×128 volume with 96³ patches (issue 6). Usage: bash bench/infer/run.sh [REPEATS]
#   REPEATS   runs per tool and thread count, median reported (default 3)
# Environment overrides (for quick checks): BENCH_SIZE="X Y Z" (default "256 256 128"),
# BENCH_PATCH (default 96), BENCH_THREADS (default "1 <nproc>").
# Results: target/bench-infer/results.md and results.json; the venv is target/bench-infer/venv.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

case "${1:-}" in
  -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
esac
repeats="${1:-3}"
[[ "$repeats" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: REPEATS must be a positive integer" >&2; exit 2; }
size="${BENCH_SIZE:-256 256 128}"
patch="${BENCH_PATCH:-96}"
n="$(nproc)"
threads="${BENCH_THREADS:-1 $n}"
[ "$threads" = "1 1" ] && threads="1"

# onnxruntime, NumPy and nibabel in their own virtual environment, idempotently.
out="$root/target/bench-infer"
venv="$out/venv"
if ! "$venv/bin/python" -c 'import numpy, onnxruntime, nibabel' >/dev/null 2>&1; then
  echo "bench: installing numpy, onnxruntime and nibabel into $venv" >&2
  mkdir -p "$out"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet numpy onnxruntime nibabel
fi

echo "bench: building voxide (release)" >&2
cargo build --release -p voxide

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$root/target/release/voxide" "$work/voxide"

# The model package: the test U-Net and a manifest with its SHA-256.
pkg="$work/package"
mkdir -p "$pkg"
cp "$root/crates/voxide-infer/tests/models/unet3d/model.onnx" "$pkg/model.onnx"
sha="$(sha256sum "$pkg/model.onnx" | cut -d' ' -f1)"
cat > "$pkg/voxide-model.toml" <<EOF
name = "bench-unet"
version = "1"
task = "segmentation"
weights_sha256 = "$sha"

[preprocessing]
method = "z_score"

[inference]
patch_size = [$patch, $patch, $patch]
overlap = 0.5
batch_size = 1

[output]
activation = "softmax"
EOF

# The input: NIfTI array order x, y, z (voxide's D, H, W = z, y, x), 1 mm, seeded.
# shellcheck disable=SC2086
"$venv/bin/python" "$root/bench/infer/bench.py" make-volume --out "$work/volume.nii.gz" \
  --size $size

# shellcheck disable=SC2086
"$venv/bin/python" "$root/bench/infer/bench.py" run --voxide "$work/voxide" \
  --package "$pkg" --input "$work/volume.nii.gz" --work "$work/runs" --out "$out" \
  --threads $threads --repeats "$repeats" --patch "$patch" --overlap 0.5
