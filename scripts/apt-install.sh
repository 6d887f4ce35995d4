#!/usr/bin/env bash
# Installs Debian packages for the build and tests on a fresh machine, as root. An apt or dpkg
# lock held by another process (unattended-upgrades, a second `make`) is waited for, not fatal:
# apt's own DPkg::Lock::Timeout waits a minute for dpkg's lock, and the command is run again
# (every 5 s, for at most 15 minutes in all) while apt says another process holds a lock: "Could
# not get lock" (the package lists' lock `apt-get update` takes, which the timeout does not
# cover) or "is another process using it?" (dpkg's lock, the timeout over). apt prints neither
# for other failures (no permission: "are you root?"; a missing package), which fail at once.
# Usage: scripts/apt-install.sh PACKAGE...   (prints what it does on standard error)
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: scripts/apt-install.sh PACKAGE..." >&2; exit 2; }
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "error: cannot install $* here (needs apt-get, as root): install them and run again" >&2
  exit 1
fi

deadline=$((SECONDS + 900))
# Runs apt-get with its arguments, again while the failure is a lock held elsewhere.
apt_get() {
  local log waited=
  log=$(mktemp)
  while :; do
    if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 "$@" >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log"; return 0
    fi
    if grep -qE 'Could not get lock|is another process using it' "$log" && [ "$SECONDS" -lt "$deadline" ]; then
      [ -n "$waited" ] || echo "apt is locked by another process; waiting for it" >&2
      waited=1
      sleep 5
      continue
    fi
    cat "$log" >&2; rm -f "$log"; return 1
  done
}

echo "installing $* (apt-get)" >&2
apt_get update -qq
apt_get install -y -qq --no-install-recommends "$@"
