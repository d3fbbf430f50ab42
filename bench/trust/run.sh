#!/usr/bin/env bash
# What the trust features cost: voxide serve with authentication and the audit ledger on vs
# both off, same binary, same run.
# Usage: bash bench/trust/run.sh [--quick]
# Results: target/bench-trust/results.md and results.json; logs and data in
# target/bench-trust/work/ (recreated on every run).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
quick=()
for a in "$@"; do
  case "$a" in
    --quick) quick=(--quick) ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $a (use --quick)" >&2; exit 2 ;;
  esac
done
bash scripts/setup-test.sh
cargo build --release -p voxide
out="$root/target/bench-trust"
work="$out/work"
rm -rf "$work"
mkdir -p "$work"
cp "$root/target/release/voxide" "$work/voxide"
exec "$root/target/pyref/bin/python" "$root/bench/trust/bench.py" "${quick[@]}" \
  --repo "$root" --work "$work" --voxide "$work/voxide"
