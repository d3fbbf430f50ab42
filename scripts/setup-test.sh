#!/usr/bin/env bash
# Installs what the tests need on top of scripts/setup.sh, idempotently.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"

# Reference tools for the tests that compare voxide with the field's implementations
# (SimpleITK, nibabel), in a virtual environment under target/.
venv="$root/target/pyref"
if ! "$venv/bin/python" -c "import SimpleITK, nibabel, numpy" >/dev/null 2>&1; then
  echo "setup: creating $venv with SimpleITK and nibabel" >&2
  python3 -m venv "$venv" 2>/dev/null || {
    # Debian's own python3 needs its venv module from a package.
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y --no-install-recommends python3-venv >/dev/null
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install -q --disable-pip-version-check "SimpleITK==2.5.7" "nibabel==5.*" "numpy<3"
fi
