#!/usr/bin/env bash
# Installs what building voxide needs beyond the Rust toolchain, idempotently:
# cmake and a C++ compiler (CharLS, the JPEG-LS codec, is built from source by charls-sys).
set -euo pipefail

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v cc >/dev/null 2>&1 || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
    || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends "${need[@]}"; }
fi

# The shared test data sits beside the repository; tests fail (never skip) without it.
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -f "$root/../shared/data/MANIFEST.tsv" ]; then
  echo "setup: warning: ../shared/data is missing; the tests need it" >&2
fi

