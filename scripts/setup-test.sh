#!/usr/bin/env bash
# Installs what the tests need on top of scripts/setup.sh, idempotently.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
# dcmtk: the real DICOM clients the conformance tests drive (storescu, findscu, movescu, ...).
if ! command -v storescu >/dev/null 2>&1; then
  echo "setup: installing dcmtk" >&2
  $SUDO apt-get install -y --no-install-recommends dcmtk >/dev/null || {
    $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends dcmtk >/dev/null
  }
fi

# Reference tools for the tests that compare voxide with the field's implementations
# (SimpleITK, nibabel; MedPy and DeepMind's surface-distance for the segmentation metrics of
# voxide-eval, with the SciPy they run on; scikit-learn for its classification metrics; highdicom to read voxide's DICOM SEG), in a
# virtual environment under target/.
venv="$root/target/pyref"
if ! "$venv/bin/python" -c "import SimpleITK, nibabel, numpy, dicomweb_client, pydicom, scipy, medpy.metric, surface_distance, sklearn, highdicom" >/dev/null 2>&1; then
  echo "setup: creating $venv with SimpleITK, nibabel, pydicom, dicomweb-client, SciPy, MedPy, surface-distance, scikit-learn and highdicom" >&2
  python3 -m venv "$venv" 2>/dev/null || {
    # Debian's own python3 needs its venv module from a package.
    $SUDO apt-get install -y --no-install-recommends python3-venv >/dev/null
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install -q --disable-pip-version-check "SimpleITK==2.5.7" "nibabel==5.*" "numpy<3" "pydicom==3.*" "dicomweb-client==0.61.*" \
    "scipy==1.*" "medpy==0.5.2" "surface-distance==0.1" "scikit-learn==1.*" "highdicom==0.28.*"
fi
