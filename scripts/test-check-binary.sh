#!/usr/bin/env bash
# The static prepuller-check release archive, tested as a user gets it: built and packaged by
# scripts/build-check-binary.sh exactly as the release workflow does (for this machine's
# architecture), its checksum verified, unpacked, and the unpacked binary run as Helm's
# post-renderer on the chart 4.4.0 render:
# the manifests written back byte for byte, exit 0. A binary that is not static is refused by
# the build script itself.
#   scripts/test-check-binary.sh          (make binary-tests; policy.wasm must exist)
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(uname -m)-unknown-linux-musl"
out=target/dist
archive=$(scripts/build-check-binary.sh "$target" dev "$out" | tail -n 1)
(cd "$out" && sha256sum --check --quiet "$(basename "$archive").sha256")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xzf "$archive"
plugin="$work/prepuller-check-dev-$target"
render=test_data/releases/z2jh-4.4.0-default.yaml
status=0
"$plugin/prepuller-check" post-render --namespace=jhub --module=policy.wasm <"$render" >"$work/out.yaml" 2>"$work/report.txt" || status=$?
if [ "$status" -ne 0 ] || ! cmp -s "$render" "$work/out.yaml"; then
  echo "FAIL: the unpacked static binary as Helm's post-renderer (exit $status):" >&2
  cat "$work/report.txt" >&2
  exit 1
fi
grep -q '(the cluster would admit everything)' "$work/report.txt"
echo "ok: $archive: static, checksum verified, post-render of the 4.4.0 render byte for byte, exit 0"
