#!/usr/bin/env bash
# Builds the static prepuller-check release binary for one musl target and packages it as the
# release assets: prepuller-check-TAG-TARGET.tar.gz (the binary, README.md, LICENSE,
# docs/check.md, and Helm 4's plugin files) and its .sha256. The release workflow runs it on a
# native runner of each architecture; `make check-binary` runs it here (docs/release.md).
#   scripts/build-check-binary.sh TARGET TAG OUTDIR
# TARGET is x86_64-unknown-linux-musl or aarch64-unknown-linux-musl, the runner's own
# architecture (ring's C code is compiled with Debian's musl-gcc, installed when missing).
# The binary must be statically linked (no libssl, no glibc version): checked before packaging.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/build-check-binary.sh TARGET TAG OUTDIR}"
tag="${2:?usage: scripts/build-check-binary.sh TARGET TAG OUTDIR}"
outdir="${3:?usage: scripts/build-check-binary.sh TARGET TAG OUTDIR}"
case "$target" in
  "$(uname -m)-unknown-linux-musl") ;;
  *) echo "error: $target is not this machine's musl target ($(uname -m)-unknown-linux-musl)" >&2; exit 2 ;;
esac

if ! command -v musl-gcc >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo scripts/apt-install.sh musl-tools
fi
rustup target list --installed | grep -qx "$target" || rustup target add "$target"

# cc-rs would look for TARGET-gcc first; Debian's musl wrapper is musl-gcc.
env_target=$(echo "$target" | tr '-' '_')
export "CC_${env_target}=musl-gcc"
cargo build --locked --release -p prepuller-check --target "$target"
binary="target/$target/release/prepuller-check"

# Static: no interpreter, no needed shared libraries. readelf's output is read whole (no
# `grep -q`, which would stop reading and, under pipefail, turn a match into a failed pipeline).
headers=$(readelf --program-headers --dynamic "$binary")
dynamic=$(grep -E 'Requesting program interpreter|\(NEEDED\)' <<<"$headers" || true)
if [ -n "$dynamic" ]; then
  printf 'error: %s is dynamically linked:\n%s\n' "$binary" "$dynamic" >&2
  exit 1
fi
"$binary" --version

name="prepuller-check-$tag-$target"
rm -rf "${outdir:?}/$name"
mkdir -p "$outdir/$name"
# The archive is also Helm 4's post-renderer plugin (`helm plugin install` of its directory).
cp "$binary" README.md LICENSE docs/check.md helm-plugin/plugin.yaml helm-plugin/post-render.sh "$outdir/$name/"
tar -C "$outdir" -czf "$outdir/$name.tar.gz" "$name"
(cd "$outdir" && sha256sum "$name.tar.gz" > "$name.tar.gz.sha256")
echo "$outdir/$name.tar.gz"
