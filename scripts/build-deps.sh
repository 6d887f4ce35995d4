#!/usr/bin/env bash
# Installs what the host tools link on a fresh machine: OpenSSL's headers and pkg-config, for
# the sigstore crate (xtask's signing; its TLS backends all link a C crypto library).
# Usage: scripts/build-deps.sh   (as root, or with the packages already installed)
set -euo pipefail

if pkg-config --exists openssl 2>/dev/null; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing libssl-dev and pkg-config for the host tools" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libssl-dev pkg-config >&2
else
  echo "error: OpenSSL development files are missing: install libssl-dev and pkg-config" >&2
  exit 1
fi
