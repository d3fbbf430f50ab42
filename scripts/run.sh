#!/usr/bin/env bash
# Sets up, builds and runs voxide's main job: the imaging server on embedded storage (SQLite
# index + files in ./voxide-data), DICOMweb on http://127.0.0.1:8042/dicom-web and DICOM on port
# 11112 (AE title VOXIDE). Extra arguments go to `voxide serve` (e.g. --config voxide.toml,
# --http 0.0.0.0:8042, --dicom-port 104, --data-dir /srv/voxide). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked -p voxide
exec target/release/voxide serve "$@"
