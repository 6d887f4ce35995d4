#!/usr/bin/env python3
"""Writes the host capabilities sessions of this folder (kwctl's recorded-interactions format).

Each file is what `kwctl run --allow-context-aware --record-host-capabilities-interactions FILE`
records when the policy, with `requireExistingServiceAccounts: true`, judges one puller workload
of a Zero to JupyterHub release (release `jupyterhub`, namespace `jhub`, default values), and what
`--replay-host-capabilities-interactions FILE` answers from. The ServiceAccount objects are the
chart's (see /work/shared/reference/z2jh/*serviceaccount*.yaml) as the API server returns them:
with uid, resourceVersion, creationTimestamp and Helm's managedFields. Error messages are
policy-evaluator's: its kubernetes client's not-found text, and kube-rs's API error text.

Run from anywhere: python3 test_data/context/generate.py
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
NAMESPACE = "jhub"
CREATED = "2026-03-02T09:14:05Z"


def labels(chart, hook):
    out = {
        "app": "jupyterhub",
        "app.kubernetes.io/component": "image-puller",
        "app.kubernetes.io/instance": "jupyterhub",
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/name": "jupyterhub",
        "chart": f"jupyterhub-{chart}",
        "component": "image-puller",
        "helm.sh/chart": f"jupyterhub-{chart}",
        "heritage": "Helm",
        "release": "jupyterhub",
    }
    if hook:
        out["hub.jupyter.org/deletable"] = "true"
    # The API server's maps come back sorted by key (Go's encoding/json).
    return dict(sorted(out.items()))


def service_account(name, uid, resource_version, annotations, hook, chart="4.4.0"):
    """A ServiceAccount as `kubectl get -o json` (and policy-evaluator's get_resource) shows it."""
    label_map = labels(chart, hook)
    fields = {
        "f:metadata": {
            "f:annotations": {".": {}, **{f"f:{k}": {} for k in sorted(annotations)}},
            "f:labels": {".": {}, **{f"f:{k}": {} for k in sorted(label_map)}},
        }
    }
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "annotations": dict(sorted(annotations.items())),
            "creationTimestamp": CREATED,
            "labels": label_map,
            "managedFields": [
                {
                    "apiVersion": "v1",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": fields,
                    "manager": "helm",
                    "operation": "Update",
                    "time": CREATED,
                }
            ],
            "name": name,
            "namespace": NAMESPACE,
            "resourceVersion": resource_version,
            "uid": uid,
        },
    }


HOOK_ANNOTATIONS = {
    "helm.sh/hook": "pre-install,pre-upgrade",
    "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
}
HOOK_SA = service_account(
    "hook-image-puller",
    "5b0d7c3e-2f41-4a8e-9c16-0e7f3d9a4b21",
    "1043877",
    {**HOOK_ANNOTATIONS, "helm.sh/hook-weight": "-10"},
    hook=True,
)
CONTINUOUS_SA = service_account(
    "continuous-image-puller",
    "c2f6a9d4-8b7e-4f15-a3c0-6d1e2b5f7a90",
    "1039954",
    {"meta.helm.sh/release-name": "jupyterhub", "meta.helm.sh/release-namespace": NAMESPACE},
    hook=False,
)
AWAITER_SA = service_account(
    "hook-image-awaiter",
    "9e4b1f70-3c2d-4e8a-b5f6-17a0c8d2e3b4",
    "1043902",
    {**HOOK_ANNOTATIONS, "helm.sh/hook-weight": "0"},
    hook=True,
)

# kube 3.1's `Error::Api` for the API server's 403 (`ApiError: {message}: {reason} ({status:?})`,
# kube-client/src/error.rs, kube-core's Status), as kwctl records it: the error's to_string().
FORBIDDEN_MESSAGE = (
    'serviceaccounts \\"{name}\\" is forbidden: User \\"system:serviceaccount:kubewarden:policy-server-default\\" '
    'cannot get resource \\"serviceaccounts\\" in API group \\"\\" in the namespace \\"jhub\\"'
)
FORBIDDEN = (
    'ApiError: serviceaccounts "{name}" is forbidden: User '
    '"system:serviceaccount:kubewarden:policy-server-default" cannot get resource "serviceaccounts" '
    'in API group "" in the namespace "jhub": Forbidden (Status {{ status: Some(Failure), code: 403, '
    'message: "' + FORBIDDEN_MESSAGE + '", metadata: Some(ListMeta {{ continue_: None, '
    'remaining_item_count: None, resource_version: None, self_link: None }}), reason: "Forbidden", '
    'details: Some(StatusDetails {{ name: "{name}", group: "", kind: "serviceaccounts", uid: "", '
    'causes: [], retry_after_seconds: 0 }}) }})'
)
# kube's error when the API server cannot be reached (hyper-util's client error, through tower).
UNREACHABLE = "ServiceError: client error (Connect)"


def request(name, disable_cache):
    return (
        "!KubernetesGetResource\n"
        "api_version: v1\n"
        "kind: ServiceAccount\n"
        f"name: {name}\n"
        f"namespace: {NAMESPACE}\n"
        f"disable_cache: {'true' if disable_cache else 'false'}\n"
    )


def quoted(text):
    """A YAML single-quoted scalar (the form kwctl's serde_yaml writes JSON payloads in)."""
    return "'" + text.replace("'", "''") + "'"


def found(obj):
    return ("Success", json.dumps(obj, separators=(",", ":")))


def not_found(name):
    return ("Error", f"Cannot find v1/ServiceAccount named '{name}' inside of namespace 'Some(\"{NAMESPACE}\")'")


def exchange(name, disable_cache, response):
    kind, text = response
    field = "payload" if kind == "Success" else "message"
    lines = ["- type: Exchange", "  request: |"]
    lines += ["    " + line for line in request(name, disable_cache).splitlines()]
    lines += ["  response:", f"    type: {kind}", f"    {field}: {quoted(text)}"]
    return "\n".join(lines) + "\n"


SESSIONS = {
    "z2jh-4.4.0-hook-sa.yaml": (
        "Chart 4.4.0: the hook DaemonSet runs as hook-image-puller, which Helm created just before it\n"
        "and policy-server's cache has seen: one cached lookup, found.",
        [exchange("hook-image-puller", False, found(HOOK_SA))],
    ),
    "z2jh-4.0.0-no-hook-sa.yaml": (
        "Chart 4.0.0 (before dedicated puller ServiceAccounts, chart 4.1.0): the hook DaemonSet, mutated to\n"
        "run as hook-image-puller, names a ServiceAccount that does not exist: the cached lookup fails,\n"
        "the uncached one fails too.",
        [
            exchange("hook-image-puller", False, not_found("hook-image-puller")),
            exchange("hook-image-puller", True, not_found("hook-image-puller")),
        ],
    ),
    "z2jh-4.4.0-hook-sa-uncached-only.yaml": (
        "Chart 4.4.0, Helm's race: the hook ServiceAccount was created a moment before the hook\n"
        "DaemonSet and policy-server's cache has not seen it yet: the cached lookup fails, the\n"
        "uncached one finds it.",
        [
            exchange("hook-image-puller", False, not_found("hook-image-puller")),
            exchange("hook-image-puller", True, found(HOOK_SA)),
        ],
    ),
    "z2jh-4.4.0-hook-sa-forbidden.yaml": (
        "Chart 4.4.0, but policy-server's ServiceAccount may not `get` ServiceAccounts (its RBAC was not\n"
        "extended): both lookups fail with the API server's 403.",
        [
            exchange("hook-image-puller", False, ("Error", FORBIDDEN.format(name="hook-image-puller"))),
            exchange("hook-image-puller", True, ("Error", FORBIDDEN.format(name="hook-image-puller"))),
        ],
    ),
    "z2jh-4.4.0-hook-sa-unreachable.yaml": (
        "Chart 4.4.0, but policy-server cannot reach the API server: both lookups fail with kube's\n"
        "connection error.",
        [
            exchange("hook-image-puller", False, ("Error", UNREACHABLE)),
            exchange("hook-image-puller", True, ("Error", UNREACHABLE)),
        ],
    ),
    "z2jh-4.4.0-hook-sa-not-granted.yaml": (
        "Chart 4.4.0, but the policy is not granted ServiceAccount lookups: kwctl run without\n"
        "--allow-context-aware, an AdmissionPolicy (Kubewarden grants it no contextAwareResources), or a\n"
        "ClusterAdmissionPolicy that does not list them. policy-evaluator refuses the lookup before it\n"
        "reaches the recorder (`Policy has not been granted access to Kubernetes v1/ServiceAccount\n"
        "resources. The violation has been reported.`), so the session holds no exchange.",
        [],
    ),
    "z2jh-4.4.0-continuous-sa.yaml": (
        "Chart 4.4.0: the continuous DaemonSet runs as continuous-image-puller, a regular release\n"
        "resource: one cached lookup, found.",
        [exchange("continuous-image-puller", False, found(CONTINUOUS_SA))],
    ),
    "z2jh-4.0.0-no-continuous-sa.yaml": (
        "Chart 4.0.0: the continuous DaemonSet, mutated to run as continuous-image-puller, names a\n"
        "ServiceAccount that does not exist: the cached lookup fails, the uncached one fails too.",
        [
            exchange("continuous-image-puller", False, not_found("continuous-image-puller")),
            exchange("continuous-image-puller", True, not_found("continuous-image-puller")),
        ],
    ),
    "z2jh-4.4.0-awaiter-sa.yaml": (
        "Chart 4.4.0: the hook-image-awaiter Job runs as hook-image-awaiter (a hook, weight 0):\n"
        "one cached lookup, found.",
        [exchange("hook-image-awaiter", False, found(AWAITER_SA))],
    ),
}

for name, (comment, exchanges) in SESSIONS.items():
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    header += "# Namespace jhub, release jupyterhub. Generated by generate.py in this folder.\n"
    with open(os.path.join(HERE, name), "w") as f:
        f.write(header + ("".join(exchanges) if exchanges else "[]\n"))
