#!/usr/bin/env bash
# Segmentation metrics: voxide-eval vs MedPy and surface-distance on a 512×512×300 grid with a
# ~1M-voxel object. Needs the reference environment (scripts/setup-test.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup-test.sh
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cargo run --release --locked -q -p voxide-eval --example seg_bench -- "$out" "${1:-5}" > "$out/voxide.json"
target/pyref/bin/python bench/eval/bench.py "$out" "$out/voxide.json" "${2:-1}"
