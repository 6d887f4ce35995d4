#!/usr/bin/env bash
# Makes the virtualenv `make helm-tests` runs scripts/helm-postrender-test.py in: PyPI's
# helm-python-sdk (Helm v4's Go SDK as a C library, pinned) and PyYAML, under target/tools/.
# On a fresh Debian machine, python3 and its venv module are installed first (apt, as root).
# Usage: scripts/helm-venv.sh VENV SDK_VERSION   (the venv is made again when either changes)
set -euo pipefail
[ "$#" = 2 ] || { echo "usage: scripts/helm-venv.sh VENV SDK_VERSION" >&2; exit 2; }
venv=$1 version=$2
pyyaml=6.0.4
stamp="$venv/.installed-helm-python-sdk-$version-pyyaml-$pyyaml"
[ -e "$stamp" ] && exit 0

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  "$(dirname "$0")/apt-install.sh" python3 python3-venv
fi
echo "installing helm-python-sdk $version and PyYAML $pyyaml into $venv" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  "helm-python-sdk==$version" "pyyaml==$pyyaml"
touch "$stamp"
