#!/usr/bin/env bash
# Builds a wasm32-wasip1 release module of one package, setting the target up on a fresh machine:
#   1. the rustup target when it is installed, or added now (with a time limit);
#   2. else Debian's rustc-web + rust-web-src + wasi-libc, building std from source;
#   3. else one line saying what to install.
# Then Binaryen's wasm-opt (scripts/optimize-wasm.sh) writes the optimised module to OUTPUT.
# Usage: scripts/build-wasm.sh PACKAGE OUTPUT
set -euo pipefail
cd "$(dirname "$0")/.."
package="${1:?usage: scripts/build-wasm.sh PACKAGE OUTPUT}"
output="${2:?usage: scripts/build-wasm.sh PACKAGE OUTPUT}"
target=wasm32-wasip1
# The modules are built for size (the release profile's opt-level 3 stays for the host tools,
# which embed wasmtime): 28 KB smaller for a few percent of an evaluation (docs/performance.md,
# "Module size").
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${CARGO_PROFILE_RELEASE_OPT_LEVEL:-s}"
artifact="${CARGO_TARGET_DIR:-${CARGO_BUILD_TARGET_DIR:-target}}/$target/release/${package//-/_}.wasm"

have_rustup_target() {
  command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx "$target"
}

if have_rustup_target || { command -v rustup >/dev/null 2>&1 && timeout 180 rustup target add "$target" >&2; }; then
  cargo build --locked --release --target "$target" -p "$package"
  exec scripts/optimize-wasm.sh "$artifact" "$output"
fi

echo "rustup could not add $target; falling back to Debian's rustc-web with -Zbuild-std" >&2
if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/wasm32-wasi ]; then
  scripts/apt-install.sh rustc-web rust-web-src wasi-libc || {
    echo "error: install the $target target (rustup target add $target) or Debian's rustc-web, rust-web-src and wasi-libc" >&2
    exit 1
  }
fi
sysroot=$(/usr/bin/rustc --print sysroot)
# RUSTFLAGS replaces .cargo/config.toml's target rustflags, so they are repeated here.
RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
  RUSTFLAGS="-Clinker=$sysroot/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld -L/usr/lib/wasm32-wasi -Clink-arg=--initial-memory=1310720" \
  cargo build --locked --release --target "$target" -p "$package" -Zbuild-std=std,panic_abort
exec scripts/optimize-wasm.sh "$artifact" "$output"
