#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS seconds each (default 60) and fails on any crash, leak,
# timeout or out-of-memory. Installs cargo-fuzz (crates.io) when it is missing. Seeds come from
# test_data/ and fuzz/seeds/; the corpus grows in fuzz/corpus/<target>/ across runs, crashes land
# in fuzz/artifacts/<target>/.
#
# Usage: fuzz/run.sh [TARGET...]          (default: every target)
#        FUZZ_SECONDS=3600 FUZZ_JOBS=2 fuzz/run.sh validate_structured   # a long campaign
#        FUZZ_TOOLCHAIN=stable fuzz/run.sh                                 # another toolchain
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-60}"
jobs="${FUZZ_JOBS:-1}"
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=(validate_bytes validate_settings validate_structured); fi

# Nightly when installed (or FUZZ_TOOLCHAIN); without a sanitizer cargo-fuzz passes rustc no
# unstable flag, so the default (stable) toolchain builds the targets too.
toolchain="${FUZZ_TOOLCHAIN:-}"
if [ -z "$toolchain" ] && cargo +nightly --version >/dev/null 2>&1; then toolchain=nightly; fi
cargo=(cargo ${toolchain:++"$toolchain"})
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz from crates.io" >&2
  timeout 900 cargo install cargo-fuzz --locked >&2
fi

# Seeds: every bundled request under default and reject-mode settings, and settings examples.
mkdir -p corpus/validate_bytes corpus/validate_settings corpus/validate_structured logs
for f in ../test_data/*.json; do
  name=$(basename "$f" .json)
  { printf '{"request":'; cat "$f"; printf ',"settings":{}}'; } >"corpus/validate_bytes/seed-$name"
  { printf '{"request":'; cat "$f"; printf ',"settings":{"mode":"reject"}}'; } >"corpus/validate_bytes/seed-$name-reject"
done
cp seeds/validate_settings/* corpus/validate_settings/
# Inputs that once broke an invariant, kept so every run starts from them.
cp seeds/validate_bytes/* corpus/validate_bytes/
cp seeds/validate_structured/* corpus/validate_structured/

# -s none: the policy is safe Rust, so AddressSanitizer finds nothing libFuzzer's own crash,
# timeout and RSS checks do not, and costs half the executions. -a: debug assertions and
# overflow checks on, so arithmetic overflow is a crash too.
flags=(-s none -a)
"${cargo[@]}" fuzz build "${flags[@]}" >&2

summary=()
status=0
for target in "${targets[@]}"; do
  log="logs/$target.log"
  echo "fuzz: $target for ${seconds}s ($jobs job(s))" >&2
  set +e
  parallel=()
  if [ "$jobs" -gt 1 ]; then parallel=(-jobs="$jobs" -workers="$jobs"); fi
  "${cargo[@]}" fuzz run "${flags[@]}" "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -dict=dict/policy.dict -print_final_stats=1 "${parallel[@]}" >"$log" 2>&1
  rc=$?
  set -e
  if [ "$jobs" -gt 1 ]; then cat fuzz-*.log >>"$log" 2>/dev/null && rm -f fuzz-*.log; fi
  execs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
  crashes=$(find "artifacts/$target" -type f 2>/dev/null | wc -l)
  summary+=("$target: $execs executions in ${seconds}s, exit $rc, $crashes file(s) in artifacts/$target")
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "fuzz: $target FAILED (exit $rc); the end of $log:" >&2
    tail -n 40 "$log" >&2
  fi
done
printf 'fuzz: %s\n' "${summary[@]}"
exit "$status"
