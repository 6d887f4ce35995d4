#!/usr/bin/env bash
# prepuller-check's throughput (docs/performance.md, "prepuller-check"): the 13 rendered
# releases of test_data/releases/ cycled into 50 releases in one multi-document file, checked in
# one run (the module compiled once), three times. Prints the objects per second of each run.
# Usage: scripts/bench-check.sh [RELEASES]   (after `make policy.wasm`)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-50}
input=target/bench-check-$count-releases.yaml
mapfile -t files < <(ls test_data/releases/z2jh-*.yaml | grep -v '\.values\.yaml$')
: > "$input"
for ((i = 0; i < count; i++)); do
  cat "${files[i % ${#files[@]}]}" >> "$input"
done
echo "input: $count releases, $(grep -c '^# Source: ' "$input") objects, $(wc -c < "$input") bytes" >&2
# The host side optimised as for `make bench`; the module is policy.wasm.
cargo="cargo --config profile.dev.package.policy-host.opt-level=3 --config profile.dev.package.prepuller-check.opt-level=3"
$cargo build --locked -q -p prepuller-check
for run in 1 2 3; do
  status=0
  $cargo run --locked -q -p prepuller-check -- --module policy.wasm -n jhub --stats \
    --output json "$input" > /dev/null || status=$?
  [ "$status" -le 1 ] || exit "$status"
done
