#!/usr/bin/env bash
# Installs what the packaging tests need on a fresh machine: Debian's docker-registry (the CNCF
# distribution registry the tests start on 127.0.0.1). The htpasswd file is written by the tests
# themselves with the bcrypt crate, so apache2-utils is not needed.
# Usage: scripts/packaging-deps.sh   (as root, or with the package already installed)
set -euo pipefail

registry_bin="${DOCKER_REGISTRY_BIN:-/usr/bin/docker-registry}"
if [ -x "$registry_bin" ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing docker-registry for the packaging tests" >&2
  # The package's service is not wanted: the tests run their own registries. policy-rc.d keeps
  # the maintainer scripts from starting it where an init system is present.
  policy_rc=/usr/sbin/policy-rc.d
  created_policy_rc=
  if [ ! -e "$policy_rc" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy_rc" && chmod +x "$policy_rc" && created_policy_rc=1
  fi
  status=0
  "$(dirname "$0")/apt-install.sh" docker-registry || status=$?
  if [ -n "$created_policy_rc" ]; then rm -f "$policy_rc"; fi
  [ "$status" = 0 ] || exit "$status"
  [ -x "$registry_bin" ] || { echo "error: docker-registry installed, but $registry_bin is missing" >&2; exit 1; }
else
  echo "error: $registry_bin is missing: install Debian's docker-registry package (apt-get install docker-registry)" >&2
  exit 1
fi
