#!/usr/bin/env bash
# Installs what xtask links on a fresh machine: OpenSSL's headers and pkg-config, for
# the sigstore crate (its signing; its TLS backends all link a C crypto library). Nothing else
# in the workspace needs them (artifact/tests/user_binary.rs keeps prepuller-check free of them).
# Usage: scripts/build-deps.sh   (as root, or with the packages already installed)
set -euo pipefail

if pkg-config --exists openssl 2>/dev/null; then
  exit 0
fi
exec "$(dirname "$0")/apt-install.sh" libssl-dev pkg-config
