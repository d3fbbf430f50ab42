#!/usr/bin/env bash
# Side-by-side benchmark of `voxide serve` against Orthanc (+ DICOMweb plugin), same machine,
# same run, fresh storage each. Usage: bash bench/server/run.sh [--quick]
#   --quick   smoke test: 200 instances per ingest set, QIDO at 1,000 and 5,000 instances
#             (full: 2,000 per set, QIDO at 10,000 and 100,000; the 100,000 tier takes long,
#             most of it Orthanc's own ingest of the query data set).
# Results: target/bench-server/results.md and results.json; logs and data in
# target/bench-server/work/ (deleted and recreated on every run).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

quick=()
for a in "$@"; do
  case "$a" in
    --quick) quick=(--quick) ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $a (use --quick)" >&2; exit 2 ;;
  esac
done

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

# The project's build and test setup: cmake, dcmtk, the reference venv target/pyref.
bash scripts/setup-test.sh

# Orthanc, its DICOMweb plugin and dcmtk (Debian packages), idempotently.
need=()
for p in orthanc orthanc-dicomweb dcmtk; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}" >&2
  $SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null \
    || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
fi
# We run our own Orthanc process with our own configuration: the Debian service must not hold
# its default ports or the CPU while we measure.
if command -v service >/dev/null 2>&1 && service orthanc status >/dev/null 2>&1; then
  echo "bench: stopping the Debian orthanc service" >&2
  $SUDO service orthanc stop >/dev/null 2>&1 || true
fi
orthanc_bin="$(command -v Orthanc || echo /usr/sbin/Orthanc)"
plugin="$(dpkg -L orthanc-dicomweb | grep -E 'libOrthancDicomWeb\.so$' | head -1)"
[ -n "$plugin" ] || plugin="$(dpkg -L orthanc-dicomweb | grep -E '\.so(\.[0-9.]+)?$' | head -1)"
[ -x "$orthanc_bin" ] && [ -f "$plugin" ] || { echo "bench: Orthanc ($orthanc_bin) or its DICOMweb plugin ($plugin) is missing" >&2; exit 1; }

echo "bench: building voxide (release)" >&2
cargo build --release -p voxide
out="$root/target/bench-server"
work="$out/work"
rm -rf "$work"
mkdir -p "$work"
# The binary under test is copied, so that a rebuild during the run cannot swap it.
cp "$root/target/release/voxide" "$work/voxide"
voxide="$work/voxide"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

exec "$root/target/pyref/bin/python" "$root/bench/server/bench.py" "${quick[@]}" \
  --repo "$root" --work "$work" --out "$out" \
  --voxide "$voxide" --orthanc "$orthanc_bin" --orthanc-plugin "$plugin"
