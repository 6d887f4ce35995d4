#!/usr/bin/env bash
# Installs Debian packages for the build and tests on a fresh machine, as root. An apt or dpkg
# lock held by another process (unattended-upgrades, a second `make`) is waited for, not fatal:
# apt's own DPkg::Lock::Timeout covers dpkg's lock, and the whole command is retried (every 5 s,
# up to 15 minutes) while apt reports a lock it could not get, such as the package lists' lock
# `apt-get update` takes.
# Usage: scripts/apt-install.sh PACKAGE...   (prints what it does on standard error)
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: scripts/apt-install.sh PACKAGE..." >&2; exit 2; }
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "error: cannot install $* here (needs apt-get, as root): install them and run again" >&2
  exit 1
fi

# Runs apt-get with its arguments, again while the failure is a lock held elsewhere.
apt_get() {
  local tries=0 log
  log=$(mktemp)
  while :; do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@" >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log"; return 0
    fi
    if grep -qE 'Could not get lock|Unable to lock|Unable to acquire the dpkg frontend lock|is another process using it' "$log" \
      && [ "$tries" -lt 180 ]; then
      [ "$tries" = 0 ] && echo "apt is locked by another process; waiting for it" >&2
      tries=$((tries + 1))
      sleep 5
      continue
    fi
    cat "$log" >&2; rm -f "$log"; return 1
  done
}

echo "installing $* (apt-get)" >&2
apt_get update -qq
apt_get install -y -qq --no-install-recommends "$@"
