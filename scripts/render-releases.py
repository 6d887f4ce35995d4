#!/usr/bin/env python3
"""Renders Zero to JupyterHub releases into test_data/releases/, as `helm template` prints them.

The chart is not vendored: pass its git repository (jupyterhub/zero-to-jupyterhub-k8s, a clone
or a bare mirror) and this script takes each tag's `jupyterhub/` directory with `git archive`,
does what the chart's release tooling (chartpress) does before publishing (Chart.yaml's version,
the project's image tags, values.schema.json from values.schema.yaml), and renders it offline with
Helm's own Go SDK (PyPI `helm-python-sdk`, Helm v4: `Chart.load(dir).render(...)`), which also
validates the values against the schema. Output is one multi-document YAML file per release, as
`helm template jhub jupyterhub/jupyterhub --version V -f values.yaml -n jhub` prints it: every
manifest under a `# Source:` comment in Helm's install order (by kind), then the hooks.

    python3 -m venv /tmp/helm && /tmp/helm/bin/pip install helm-python-sdk pyyaml
    /tmp/helm/bin/python scripts/render-releases.py /path/to/zero-to-jupyterhub-k8s

Secrets the chart would generate at random (the proxy token, the cookie secret, the crypt keys)
are fixed in the values, so a render is reproducible byte for byte.

With `--package`, it renders nothing and instead writes the prepared charts of PACKAGED as
`helm package` archives (Helm's own packaging, .helmignore applied, as chartpress publishes them)
into test_data/charts/ (jupyterhub-4.0.0.tgz, ...): the charts scripts/helm-postrender-test.py
installs offline. Every file keeps the tag's commit time, so an archive is reproducible too.

    /tmp/helm/bin/python scripts/render-releases.py --package /path/to/zero-to-jupyterhub-k8s
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile

import yaml
from helm_python import Chart
from helm_python import package as helm_package

# The shapes rendered for each chart version: every shape for the last chart before the puller
# ServiceAccounts (4.0.0) and a recent one (4.4.0); fewer for the others, which keeps the renders
# near 2 MB (most of a render is the hub's ConfigMap and Secret). 3.0.3 (the last 3.0), 4.2.0
# and 4.3.5 are rendered for `prepuller-check scaffold`'s tests, which read every release here.
EVERY = ["default", "fullnameoverride", "custom-sa", "no-continuous", "autohttps"]
RENDERS = {
    "3.0.3": ["default"],
    "3.3.8": ["default"],
    "4.0.0": EVERY + ["release-prefix"],
    "4.1.0": ["default", "custom-sa", "fullnameoverride"],
    "4.2.0": ["custom-sa"],
    "4.3.5": ["custom-hook-sa"],
    "4.4.0": EVERY + ["release-prefix"],
}
VERSIONS = list(RENDERS)
# The charts packaged with --package: the last chart without the puller ServiceAccounts and a
# recent one, as for the renders.
PACKAGED = ["4.0.0", "4.4.0"]
RELEASE = "jhub"
NAMESPACE = "jhub"
# Shapes installed under another release name, in another namespace: (release, namespace).
ELSEWHERE = {"release-prefix": ("hub-prod", "research")}

# Test-only secrets: fixed so that renders do not change between runs.
FIXED = {
    "hub": {
        "config": {
            "ConfigurableHTTPProxy": {"auth_token": "0" * 64},
            "JupyterHub": {"cookie_secret": "1" * 64},
            "CryptKeeper": {"keys": ["2" * 64]},
        }
    }
}


def shapes(version):
    """The release shapes rendered for a chart version: name -> values."""
    custom = {"prePuller": {"hook": {"serviceAccount": {"name": "jhub-awaiter"}}}}
    if version >= "4.1.0":  # the puller ServiceAccounts exist since 4.1.0
        custom["prePuller"]["hook"]["serviceAccountImagePuller"] = {"name": "jhub-hook-puller"}
        custom_hook = json.loads(json.dumps(custom))
        custom["prePuller"]["continuous"] = {"serviceAccount": {"name": "jhub-continuous-puller"}}
    every = {
        "default": {},
        "fullnameoverride": {"fullnameOverride": "myhub"},
        "custom-sa": custom,
        "no-continuous": {"prePuller": {"continuous": {"enabled": False}}},
        "autohttps": {
            "proxy": {
                "https": {
                    "enabled": True,
                    "hosts": ["hub.example.org"],
                    "letsencrypt": {"contactEmail": "admin@example.org"},
                }
            }
        },
        # null, not "": the chart then prefixes every name with "RELEASE-jupyterhub-".
        "release-prefix": {"fullnameOverride": None},
    }
    if version >= "4.1.0":
        # Custom names for the hook puller and the awaiter only: the continuous puller's
        # ServiceAccount keeps the name the chart gives its object.
        every["custom-hook-sa"] = custom_hook
    return {name: every[name] for name in RENDERS[version]}


# Helm's InstallOrder (pkg/release/util/kind_sorter.go); other kinds come after, by name.
INSTALL_ORDER = """PriorityClass Namespace NetworkPolicy ResourceQuota LimitRange PodSecurityPolicy
PodDisruptionBudget ServiceAccount Secret SecretList ConfigMap StorageClass PersistentVolume
PersistentVolumeClaim CustomResourceDefinition ClusterRole ClusterRoleList ClusterRoleBinding
ClusterRoleBindingList Role RoleList RoleBinding RoleBindingList Service DaemonSet Pod
ReplicationController ReplicaSet Deployment HorizontalPodAutoscaler StatefulSet Job CronJob
IngressClass Ingress APIService MutatingWebhookConfiguration ValidatingWebhookConfiguration""".split()


def kind_key(kind):
    if kind in INSTALL_ORDER:
        return (INSTALL_ORDER.index(kind), "")
    return (len(INSTALL_ORDER), kind)


def merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def extract(repo, version, into):
    """`git archive VERSION jupyterhub`, then what chartpress does before publishing."""
    archive = subprocess.run(
        ["git", "-C", repo, "archive", version, "jupyterhub"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    chart = os.path.join(into, "jupyterhub")
    for name in ["Chart.yaml", "values.yaml"]:
        path = os.path.join(chart, name)
        mtime = os.stat(path).st_mtime  # the tag's commit time (git archive): kept, for --package
        with open(path) as f:
            text = f.read()
        text = text.replace("0.0.1-set.by.chartpress", version)
        text = text.replace('"set-by-chartpress"', f'"{version}"')
        with open(path, "w") as f:
            f.write(text)
        os.utime(path, (mtime, mtime))
    # tools/generate-json-schema.py: values.schema.yaml without descriptions, as JSON.
    with open(os.path.join(chart, "values.schema.yaml")) as f:
        schema = yaml.safe_load(f)

    def clean(d):
        d.pop("description", None)
        for v in d.get("properties", {}).values():
            if isinstance(v, dict):
                clean(v)

    clean(schema)
    schema_json = os.path.join(chart, "values.schema.json")
    with open(schema_json, "w") as f:
        json.dump(schema, f)
    os.utime(schema_json, (mtime, mtime))
    return chart


def documents(path, text):
    """Splits a rendered template into its non-empty documents, each with its parsed head."""
    out = []
    for doc in text.split("\n---"):
        doc = doc.strip("\n")
        if doc.startswith("---"):
            doc = doc[3:].lstrip("\n")
        parsed = yaml.safe_load(doc) if doc.strip() else None
        if not parsed:
            continue
        out.append((path, doc, parsed))
    return out


def render(chart_dir, values, release, namespace):
    with Chart.load(chart_dir) as chart:
        chart.validate_schema(values)
        rendered = chart.render(values, name=release, namespace=namespace, is_install=True)
    manifests, hooks = [], []
    for path in sorted(rendered):
        if not path.endswith((".yaml", ".yml")) or "/tests/" in path:
            continue
        for item in documents(path, rendered[path]):
            annotations = (item[2].get("metadata") or {}).get("annotations") or {}
            (hooks if "helm.sh/hook" in annotations else manifests).append(item)
    out = []
    for path, doc, parsed in sorted(manifests, key=lambda m: kind_key(m[2].get("kind", ""))):
        out.append(f"---\n# Source: {path}\n{doc}\n")
    for path, doc, parsed in sorted(hooks, key=lambda m: kind_key(m[2].get("kind", ""))):
        out.append(f"---\n# Source: {path}\n{doc}\n")
    return "".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repo", help="git repository of jupyterhub/zero-to-jupyterhub-k8s")
    parser.add_argument("--out", help="default test_data/releases (--package: test_data/charts)")
    parser.add_argument("--package", action="store_true", help="package the charts of PACKAGED")
    args = parser.parse_args()
    test_data = os.path.join(os.path.dirname(__file__), "..", "test_data")
    if args.package:
        out = args.out or os.path.join(test_data, "charts")
        os.makedirs(out, exist_ok=True)
        for version in PACKAGED:
            with tempfile.TemporaryDirectory() as tmp:
                archive = helm_package(extract(args.repo, version, tmp), destination=out)
            print(f"{os.path.basename(archive)}: {os.path.getsize(archive)} bytes", file=sys.stderr)
        return
    args.out = args.out or os.path.join(test_data, "releases")
    os.makedirs(args.out, exist_ok=True)
    for version in VERSIONS:
        with tempfile.TemporaryDirectory() as tmp:
            chart = extract(args.repo, version, tmp)
            for shape, values in shapes(version).items():
                values = merge(FIXED, values)
                release, namespace = ELSEWHERE.get(shape, (RELEASE, NAMESPACE))
                name = f"z2jh-{version}-{shape}"
                with open(os.path.join(args.out, f"{name}.values.yaml"), "w") as f:
                    f.write(f"# {name}: helm template {release} jupyterhub/jupyterhub "
                            f"--version {version} -f {name}.values.yaml -n {namespace}\n")
                    yaml.safe_dump(values, f, sort_keys=True)
                text = render(chart, values, release, namespace)
                with open(os.path.join(args.out, f"{name}.yaml"), "w") as f:
                    f.write(text)
                print(f"{name}.yaml: {text.count(chr(10) + '# Source: ')} documents", file=sys.stderr)


if __name__ == "__main__":
    main()
