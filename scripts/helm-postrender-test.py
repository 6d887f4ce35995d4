#!/usr/bin/env python3
"""Runs the Helm 4 post-renderer plugin (helm-plugin/) through Helm's own install code.

Helm v4 here is PyPI `helm-python-sdk` (pinned in the Makefile's `helm-tests`), the Python side
of github.com/shivamkumar99/helm-c-sdk, a C library over Helm's Go SDK (helm.sh/helm/v4). Its
`helm_install` runs Helm's action.Install: a client-side dry run (`dry_run: client`, no cluster:
Helm swaps in its printing kube client and memory storage) renders the chart, runs the
post-renderer plugin it finds by name in HELM_PLUGINS (`post_renderer`, `post_renderer_args`),
splits the result into the release's manifest and its hooks, and returns the release. 0.2.2's
`Config.install` does not pass those two options, so the test calls `helm_install` with them.

The plugin is installed as `helm plugin install ./helm-plugin` installs it: a copy of helm-plugin/
in a temporary HELM_PLUGINS directory, with the binary beside post-render.sh. That binary is a
recorder which runs the built prepuller-check with the same arguments and keeps what Helm gave
it (standard input), what it printed, its standard error and its exit code: the library returns
a release's manifest but not its hooks (helm-c-sdk pkg/wrapper/release.go, releaseSummary), and
Helm drops a plugin's standard error (internal/plugin/runtime_subprocess.go), so the hooks
Helm keeps and the reason a plugin failed are read from the recording. The test checks that the
recording is what Helm used: the documents it printed that are not hooks are the manifest Helm
returned. Helm re-serializes every document a post-renderer prints (kyaml: other indentation, no
blank lines, other quoting), so objects are compared parsed, never as text.

Cases (release jhub in namespace jhub, values test_data/releases/z2jh-VERSION-default.values.yaml,
the charts render-releases.py --package writes to test_data/charts/):
- chart 4.4.0: installs, the release (manifest and hooks) is the one Helm makes without the plugin;
- chart 4.0.0: the plugin exits 1 (its pullers' ServiceAccounts do not exist) and Helm's install
  fails;
- chart 4.0.0 with --add-serviceaccounts: installs; both pullers run as their own ServiceAccounts,
  added to the release (the hook one as a hook that comes before the hook DaemonSet), and nothing
  else changes;
- without --namespace: the plugin exits 2 and Helm's install fails.

    scripts/helm-postrender-test.py --binary target/debug/prepuller-check --module policy.wasm

Exits 1 and says what differs when a case fails.
"""

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
RELEASE = "jhub"
NAMESPACE = "jhub"
PLUGIN = "prepuller-check"
HOOK = "helm.sh/hook"
# Helm's annotation naming each document's template while a post-renderer runs; Helm removes it
# from what the post-renderer prints (pkg/action/action.go, splitAndDeannotate).
FILENAME = "postrenderer.helm.sh/postrender-filename"

# Stands where `cargo install` or a release archive puts prepuller-check (post-render.sh runs the
# binary beside it); the pipeline's status is the real binary's.
RECORDER = """#!/bin/sh
rec={record}
tee "$rec/in.yaml" | {binary} "$@" >"$rec/out.yaml" 2>"$rec/err.txt"
echo $? >"$rec/rc"
cat "$rec/out.yaml"
exit "$(cat "$rec/rc")"
"""


class Failure(Exception):
    pass


def quote(path):
    return "'" + path.replace("'", "'\\''") + "'"


def install_plugin(plugins, binary, record):
    """helm-plugin/ in HELM_PLUGINS as Helm installs it, with the recorder beside post-render.sh."""
    directory = os.path.join(plugins, PLUGIN)
    shutil.copytree(os.path.join(ROOT, "helm-plugin"), directory)
    recorder = os.path.join(directory, "prepuller-check")
    with open(recorder, "w") as f:
        f.write(RECORDER.format(record=quote(record), binary=quote(binary)))
    os.chmod(recorder, 0o755)


def objects(text):
    """The parsed documents of a stream, each without Helm's filename annotation."""
    out = []
    for obj in yaml.safe_load_all(text):
        if not obj:
            continue
        metadata = obj.get("metadata", {})
        if "annotations" in metadata:
            (metadata["annotations"] or {}).pop(FILENAME, None)
            # kyaml drops the map it empties; the chart's templates leave some `annotations:`
            # null (the same to Kubernetes as none): both read as none.
            if not metadata["annotations"]:
                del metadata["annotations"]
        out.append(obj)
    return out


def is_hook(obj):
    return HOOK in (obj.get("metadata", {}).get("annotations") or {})


def by_name(objs, what):
    """kind/name -> object; a name twice is a failure (Helm would refuse the release)."""
    out = {}
    for obj in objs:
        key = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        if key in out:
            raise Failure(f"{what}: {key} twice")
        out[key] = obj
    return out


def differences(expected, got, path=""):
    """Where two parsed objects differ, one line each."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out = []
        for key in sorted(set(expected) | set(got), key=str):
            if key not in got:
                out.append(f"{path}/{key}: missing")
            elif key not in expected:
                out.append(f"{path}/{key}: unexpected {json.dumps(got[key])[:200]}")
            else:
                out += differences(expected[key], got[key], f"{path}/{key}")
        return out
    if expected != got:
        return [f"{path}: expected {json.dumps(expected)[:200]}, got {json.dumps(got)[:200]}"]
    return []


def expect_same(what, expected, got):
    lines = differences(expected, got)
    if lines:
        raise Failure(f"{what} differ:\n    " + "\n    ".join(lines[:20]))


class Helm:
    """Helm's install through the library, with the plugin's recording of each run."""

    def __init__(self, values_dir, record):
        # Imported here: the library reads HELM_PLUGINS when it is loaded.
        from helm_python import Config, _native

        self.native = _native
        self.config = Config(namespace=NAMESPACE, storage_driver="memory")
        self.values_dir = values_dir
        self.record = record

    def install(self, chart, version, plugin_args=None):
        """The release summary of a client-side dry-run install; raises the library's error."""
        with open(os.path.join(self.values_dir, f"z2jh-{version}-default.values.yaml")) as f:
            values = yaml.safe_load(f)
        options = {"namespace": NAMESPACE, "dry_run": "client"}
        if plugin_args is not None:
            options.update(post_renderer=PLUGIN, post_renderer_args=plugin_args)
        for name in ["in.yaml", "out.yaml", "err.txt", "rc"]:
            path = os.path.join(self.record, name)
            if os.path.exists(path):
                os.remove(path)
        none = self.native.HANDLE(0)
        payload = self.native.call_string(
            "helm_install", self.config._raw(), none, none, chart, RELEASE,
            json.dumps(values), json.dumps(options),
        )
        return json.loads(payload)

    def recording(self):
        """What the last plugin run was given and did: in, out, err, rc."""
        out = {}
        for name in ["in.yaml", "out.yaml", "err.txt", "rc"]:
            path = os.path.join(self.record, name)
            if not os.path.exists(path):
                raise Failure(f"the plugin did not run (no {name} recorded)")
            with open(path) as f:
                out[name.split(".")[0]] = f.read()
        out["rc"] = int(out["rc"])
        return out


def manifest_objects(release):
    objs = objects(release.get("manifest", ""))
    hooks = [o for o in objs if is_hook(o)]
    if hooks:
        raise Failure(f"hooks in the release's manifest: {[o['kind'] for o in hooks]}")
    return objs


def split(text):
    """A post-renderer stream's documents: (not hooks, hooks), as Helm sorts them."""
    objs = objects(text)
    return [o for o in objs if not is_hook(o)], [o for o in objs if is_hook(o)]


def installed(helm, chart, version, plugin_args):
    """A successful install with the plugin: (Helm's manifest, the plugin's hooks, recording)."""
    release = helm.install(chart, version, plugin_args)
    rec = helm.recording()
    if rec["rc"] != 0:
        raise Failure(f"Helm's install succeeded but the plugin exited {rec['rc']}")
    manifest = manifest_objects(release)
    printed, hooks = split(rec["out"])
    # The recording is what Helm used: what the plugin printed, hooks aside, is the manifest.
    expect_same("the plugin's output (hooks aside) and Helm's manifest",
                by_name(printed, "plugin output"), by_name(manifest, "manifest"))
    return manifest, hooks, rec


def failed(helm, chart, version, plugin_args):
    """An install that must fail: (Helm's message, recording)."""
    try:
        helm.install(chart, version, plugin_args)
    except Exception as e:  # the library's HelmError subclasses
        message = str(e)
    else:
        raise Failure("Helm's install succeeded")
    if f'plugin "{PLUGIN}" exited with error' not in message:
        raise Failure(f"Helm failed for another reason: {message}")
    return message, helm.recording()


def case_unchanged(helm, charts, module):
    """4.4.0: the post-renderer leaves the release as Helm makes it."""
    chart = os.path.join(charts, "jupyterhub-4.4.0.tgz")
    plain = manifest_objects(helm.install(chart, "4.4.0"))
    args = [f"--namespace={NAMESPACE}", f"--module={module}"]
    manifest, hooks, rec = installed(helm, chart, "4.4.0", args)
    given, given_hooks = split(rec["in"])
    expect_same("Helm's render given to the plugin (hooks aside) and the manifest without it",
                by_name(given, "input"), by_name(plain, "manifest"))
    expect_same("the manifests with and without the plugin",
                by_name(plain, "manifest"), by_name(manifest, "manifest"))
    expect_same("the hooks with and without the plugin",
                by_name(given_hooks, "input"), by_name(hooks, "output"))
    if not any(o["kind"] == "DaemonSet" for o in hooks):
        raise Failure("no hook DaemonSet in the release: the check proves nothing")
    if rec["out"] != rec["in"]:
        raise Failure("the plugin changed the text of a release it accepts")


def case_refused(helm, charts, module):
    """4.0.0: the pullers' ServiceAccounts do not exist, the plugin exits 1, Helm stops."""
    chart = os.path.join(charts, "jupyterhub-4.0.0.tgz")
    _, rec = failed(helm, chart, "4.0.0", [f"--namespace={NAMESPACE}", f"--module={module}"])
    if rec["rc"] != 1:
        raise Failure(f"the plugin exited {rec['rc']}, not 1")
    for name in ["hook-image-puller", "continuous-image-puller"]:
        for needed in [f"DaemonSet {NAMESPACE}/{name}:", f'create ServiceAccount "{name}"']:
            if needed not in rec["err"]:
                raise Failure(f"the plugin's report does not say {needed!r}:\n{rec['err']}")


def case_add_serviceaccounts(helm, charts, module):
    """4.0.0 with --add-serviceaccounts: the pullers run as their own ServiceAccounts, which the
    release creates (the hook's before the hook DaemonSet), and nothing else changes."""
    chart = os.path.join(charts, "jupyterhub-4.0.0.tgz")
    plain = manifest_objects(helm.install(chart, "4.0.0"))
    args = [f"--namespace={NAMESPACE}", f"--module={module}", "--add-serviceaccounts"]
    manifest, hooks, rec = installed(helm, chart, "4.0.0", args)
    given, given_hooks = split(rec["in"])
    expect_same("Helm's render given to the plugin (hooks aside) and the manifest without it",
                by_name(given, "input"), by_name(plain, "manifest"))

    for role, objs, plain_objs in [
        ("continuous-image-puller", by_name(manifest, "manifest"), by_name(plain, "manifest")),
        ("hook-image-puller", by_name(hooks, "hooks"), by_name(given_hooks, "input hooks")),
    ]:
        daemonset = objs.pop(f"DaemonSet/{role}", None)
        account = objs.pop(f"ServiceAccount/{role}", None)
        if daemonset is None or account is None:
            raise Failure(f"DaemonSet and ServiceAccount {role}: not both in the release")
        expected = copy.deepcopy(plain_objs.pop(f"DaemonSet/{role}"))
        expected["spec"]["template"]["spec"]["serviceAccountName"] = role
        expect_same(f"DaemonSet {role}", expected, daemonset)
        # Every other object is Helm's own.
        expect_same(f"the objects besides {role}'s", plain_objs, objs)
        wanted = {"apiVersion": "v1", "kind": "ServiceAccount", "name": role,
                  "automountServiceAccountToken": False}
        got = {"apiVersion": account.get("apiVersion"), "kind": account.get("kind"),
               "name": account["metadata"].get("name"),
               "automountServiceAccountToken": account.get("automountServiceAccountToken")}
        expect_same(f"ServiceAccount {role}", wanted, got)
        ds_notes = daemonset["metadata"].get("annotations") or {}
        sa_notes = account["metadata"].get("annotations") or {}
        if HOOK in ds_notes:
            for key in [HOOK, "helm.sh/hook-delete-policy"]:
                if sa_notes.get(key) != ds_notes.get(key):
                    raise Failure(f"ServiceAccount {role}: {key} {sa_notes.get(key)!r}, "
                                  f"the DaemonSet's is {ds_notes.get(key)!r}")
            weight = int(sa_notes.get("helm.sh/hook-weight", "0"))
            if weight >= int(ds_notes.get("helm.sh/hook-weight", "0")):
                raise Failure(f"ServiceAccount {role}: hook weight {weight} does not come "
                              f"before the DaemonSet's {ds_notes.get('helm.sh/hook-weight')}")
        else:
            order = [f"{o['kind']}/{o['metadata']['name']}" for o in manifest]
            if order.index(f"ServiceAccount/{role}") > order.index(f"DaemonSet/{role}"):
                raise Failure(f"Helm installs ServiceAccount {role} after its DaemonSet")


def case_no_namespace(helm, charts, module):
    """Without the release's namespace (Helm passes none), the plugin exits 2, Helm stops."""
    chart = os.path.join(charts, "jupyterhub-4.4.0.tgz")
    _, rec = failed(helm, chart, "4.4.0", [f"--module={module}"])
    if rec["rc"] != 2:
        raise Failure(f"the plugin exited {rec['rc']}, not 2")
    if "the release's namespace is needed" not in rec["err"]:
        raise Failure(f"the plugin's message does not say why:\n{rec['err']}")


CASES = {
    "4.4.0 unchanged": case_unchanged,
    "4.0.0 refused": case_refused,
    "4.0.0 --add-serviceaccounts": case_add_serviceaccounts,
    "no --namespace refused": case_no_namespace,
}


def run_cases(args):
    helm = Helm(os.path.join(ROOT, "test_data", "releases"), args.record)
    failures = 0
    for name, case in CASES.items():
        try:
            case(helm, args.charts, args.module)
        except Failure as e:
            failures += 1
            print(f"FAIL {name}: {e}", file=sys.stderr)
        except Exception as e:  # the library's errors: Helm refused an install that should pass
            failures += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", file=sys.stderr)
        else:
            print(f"ok   {name}", file=sys.stderr)
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/debug/prepuller-check"))
    parser.add_argument("--module", default=os.path.join(ROOT, "policy.wasm"))
    parser.add_argument("--charts", default=os.path.join(ROOT, "test_data", "charts"))
    parser.add_argument("--record", help=argparse.SUPPRESS)  # set for the run with HELM_PLUGINS
    args = parser.parse_args()
    args.module, args.charts = os.path.abspath(args.module), os.path.abspath(args.charts)
    if args.record:
        return run_cases(args)
    for path in [args.binary, args.module]:
        if not os.path.isfile(path):
            sys.exit(f"{path}: not found (make policy.wasm; cargo build -p prepuller-check)")
    with tempfile.TemporaryDirectory() as tmp:
        record = os.path.join(tmp, "record")
        os.mkdir(record)
        plugins = os.path.join(tmp, "plugins")
        install_plugin(plugins, os.path.abspath(args.binary), record)
        # The library's Go runtime reads the environment the process started with: a new one.
        env = dict(os.environ, HELM_PLUGINS=plugins)
        for name in ["HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"]:
            env[name] = os.path.join(tmp, name.lower())
        child = [sys.executable, os.path.abspath(__file__), "--binary", args.binary,
                 "--module", args.module, "--charts", args.charts, "--record", record]
        return subprocess.run(child, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
