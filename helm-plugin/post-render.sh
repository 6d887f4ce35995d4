#!/bin/sh
# Helm 4's post-renderer plugin command (plugin.yaml): `prepuller-check post-render` with the
# --post-renderer-args, run from the binary beside this file (a release archive), else from
# PATH (a plugin installed from the repository, with `cargo install --locked --path
# prepuller-check`).
#
# What Helm 4 (4.0 to 4.2) does not do for a post-renderer plugin, made up for here:
# - it reads the plugin's standard error and drops it, even when the plugin fails (Helm then
#   says only `plugin "prepuller-check" exited with error`): the report goes to the terminal
#   Helm runs in, when there is one;
# - it does not tell the plugin the release's namespace (`-n` sets no HELM_NAMESPACE: only CLI
#   plugins get Helm's settings), without which the check would judge the release as if it
#   were in another namespace (other namespace selectors, other ServiceAccounts): it must be
#   one of the arguments, and `prepuller-check post-render` refuses to run without it.
set -eu
if (: >/dev/tty) 2>/dev/null; then
  exec 2>/dev/tty
fi
bin="${HELM_PLUGIN_DIR:-$(dirname "$0")}/prepuller-check"
[ -x "$bin" ] || bin=prepuller-check
exec "$bin" post-render "$@"
