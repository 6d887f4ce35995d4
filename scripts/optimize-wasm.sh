#!/usr/bin/env bash
# Optimises a module built by rustc with Binaryen's wasm-opt, installing Debian's binaryen on a
# fresh machine. rustc's wasm output keeps code that a whole-module optimiser can still drop or
# shrink (about 12% of this policy, at no cost in speed: docs/performance.md; -Oz and -O3 ran
# alike, and -Oz is 2 KB smaller). The features are the ones rustc enables for wasm32-wasip1, so
# the output needs nothing more from the runtime.
# Usage: scripts/optimize-wasm.sh INPUT OUTPUT
set -euo pipefail
input="${1:?usage: scripts/optimize-wasm.sh INPUT OUTPUT}"
output="${2:?usage: scripts/optimize-wasm.sh INPUT OUTPUT}"
level="${WASM_OPT_LEVEL:--Oz}"

if ! command -v wasm-opt >/dev/null 2>&1; then
  "$(dirname "$0")/apt-install.sh" binaryen
fi

wasm-opt "$level" \
  --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
  --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types \
  --strip-debug --strip-producers \
  "$input" -o "$output"
