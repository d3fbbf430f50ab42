#!/usr/bin/env bash
# Sets up, builds and runs voxide's main job. Until the server lands (issue: imaging store),
# this converts a shared CT series and its RTSTRUCT to NIfTI and describes the results.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked -p voxide
voxide=target/release/voxide
series=../shared/data/multimodal/ibsi-sts/STS_001/CT
out=target/demo
mkdir -p "$out"
"$voxide" info "$series/image"
"$voxide" convert "$series/image" "$out/STS_001_CT.nii.gz"
"$voxide" convert "$series/mask/RS.dcm" "$out/STS_001_CT_mask.nii.gz"
"$voxide" info "$out/STS_001_CT_mask.nii.gz"
echo "outputs in $out/"
