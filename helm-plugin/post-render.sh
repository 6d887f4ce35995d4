#!/bin/sh
# The binary beside this file (a release archive), else prepuller-check from PATH (a plugin
# installed from the repository, with `cargo install --locked --path prepuller-check`).
bin="${HELM_PLUGIN_DIR:-$(dirname "$0")}/prepuller-check"
[ -x "$bin" ] || bin=prepuller-check
exec "$bin" post-render "$@"
