#!/usr/bin/env bash
# Sets up and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test.sh
cargo test --workspace --locked "$@"
