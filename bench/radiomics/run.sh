#!/usr/bin/env bash
# Side-by-side benchmark of `voxide radiomics` against PyRadiomics (pyradiomics-bhklab 3.1.4, the
# maintained build; the plain `pyradiomics` package no longer builds), same machine, same run,
# same inputs and the same parameter file. Usage: bash bench/radiomics/run.sh [--quick]
#   --quick   one repetition per measurement and a 10-case batch (full: 3 repetitions, 50 cases).
# Results: target/bench-radiomics/results.md and results.json; inputs and outputs in
# target/bench-radiomics/work/ (recreated on every run).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

args=()
for a in "$@"; do
  case "$a" in
    --quick) args=(--quick) ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $a (use --quick)" >&2; exit 2 ;;
  esac
done

# The project's build and test setup (cmake, the reference venv target/pyref).
bash scripts/setup-test.sh

# PyRadiomics in its own virtual environment, idempotently.
venv="$root/target/bench-radiomics/venv"
# `deflate` (libdeflate) times the inflating PyRadiomics' output requires, as a floor.
if ! "$venv/bin/python" -c 'import radiomics, SimpleITK, deflate' >/dev/null 2>&1; then
  echo "bench: installing pyradiomics-bhklab==3.1.4 into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet "pyradiomics-bhklab==3.1.4" "deflate==0.9.0"
fi
command -v /usr/bin/time >/dev/null 2>&1 || {
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get install -y --no-install-recommends time >/dev/null \
    || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends time >/dev/null; }
}

echo "bench: building voxide (release)" >&2
cargo build --release -p voxide
out="$root/target/bench-radiomics"
work="$out/work"
rm -rf "$work"
mkdir -p "$work"
cp "$root/target/release/voxide" "$work/voxide"

exec "$venv/bin/python" "$root/bench/radiomics/bench.py" --root "$root" --work "$work" \
  --voxide "$work/voxide" --out "$out" "${args[@]}"
