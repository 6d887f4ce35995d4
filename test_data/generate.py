#!/usr/bin/env python3
"""Builds the admission requests in test_data/ from the Zero to JupyterHub manifests in z2jh/.

Each request is what an admission webhook receives (an AdmissionRequest). Where a case mutates,
the object expected after the patch is written to expected/ by applying the intended change here,
independently of the policy, so the e2e suite compares the policy's patch against it.
Run `python3 test_data/generate.py` after editing; the output is committed.
"""
import copy
import json
import os
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"

GVR = {
    "Pod": ("", "v1", "pods"),
    "DaemonSet": ("apps", "v1", "daemonsets"),
    "Deployment": ("apps", "v1", "deployments"),
    "StatefulSet": ("apps", "v1", "statefulsets"),
    "ReplicaSet": ("apps", "v1", "replicasets"),
    "ReplicationController": ("", "v1", "replicationcontrollers"),
    "Job": ("batch", "v1", "jobs"),
    "CronJob": ("batch", "v1", "cronjobs"),
    "ServiceAccount": ("", "v1", "serviceaccounts"),
    "ConfigMap": ("", "v1", "configmaps"),
}


def load(name):
    with open(os.path.join(HERE, "z2jh", name + ".yaml")) as f:
        return yaml.safe_load(f)


def from_release(release, kind, name):
    """An object of a rendered release in releases/ (`helm template` output), in namespace jhub
    (Helm creates it in the release namespace; the render leaves metadata.namespace out)."""
    with open(os.path.join(HERE, "releases", release + ".yaml")) as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc["kind"] == kind and doc["metadata"]["name"] == name:
                doc["metadata"]["namespace"] = "jhub"
                return doc
    raise KeyError((release, kind, name))


def request(obj, operation="CREATE", old=None, uid=None, sub_resource=None, kind=None):
    kind = kind or obj["kind"]
    group, version, resource = GVR[kind]
    meta = (obj or old or {}).get("metadata", {})
    req = {
        "uid": uid or "1299d386-525b-4032-98ae-1949f69f9cfc",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", "jhub"),
        "operation": operation,
        "userInfo": {"username": "system:serviceaccount:kube-system:daemon-set-controller"
                     if kind == "Pod" else "kubernetes-admin",
                     "groups": ["system:authenticated"]},
        "object": obj,
        "oldObject": old,
        "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions" if operation == "CREATE" else
                    "UpdateOptions" if operation == "UPDATE" else "DeleteOptions"},
    }
    if sub_resource:
        req["subResource"] = sub_resource
    return req


def audit_request(obj):
    """What Kubewarden's audit scanner sends for a stored object (its newAdmissionRequest):
    built from the object alone, `resource.resource` is the Kind itself, no requestResource,
    oldObject, dryRun or options, and an empty userInfo (Go's admission/v1 type always writes
    `"userInfo": {}`; kwctl and policy-server refuse a request without one)."""
    kind = obj["kind"]
    group, version, _ = GVR[kind]
    meta = obj["metadata"]
    return {
        "uid": meta.get("uid", "6f1f4b8e-2c57-4a39-9d3e-0c6a9d1b7e21"),
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": kind},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", "jhub"),
        "operation": "CREATE",
        "userInfo": {},
        "object": obj,
    }


def stored(obj, name=None):
    """The object as the API server stores it: a name, a uid, a resourceVersion."""
    obj = copy.deepcopy(obj)
    meta = obj["metadata"]
    if name:
        meta["name"] = name
        meta.pop("generateName", None)
    meta["uid"] = "0b6c5d1e-7f2a-4e8b-9c3d-5a4f6e7d8c9b"
    meta["resourceVersion"] = "48213"
    meta["creationTimestamp"] = "2026-11-20T08:00:00Z"
    return obj


DEPLOYMENT_OWNER = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hook-image-puller",
                    "uid": "3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a", "controller": True,
                    "blockOwnerDeletion": True}


def injected_volume(suffix="x9k2m"):
    return {
        "name": "kube-api-access-" + suffix,
        "projected": {"defaultMode": 420, "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                        "path": "namespace"}]}},
        ]},
    }


def inject_token(pod, suffix="x9k2m"):
    """What the ServiceAccount admission plugin does when automount is not off."""
    spec = pod["spec"]
    spec.setdefault("volumes", []).append(injected_volume(suffix))
    for lst in ("initContainers", "containers"):
        for c in spec.get(lst, []):
            c.setdefault("volumeMounts", []).append(
                {"name": "kube-api-access-" + suffix, "mountPath": TOKEN_PATH, "readOnly": True})


def remove_token(pod, suffix="x9k2m"):
    spec = pod["spec"]
    name = "kube-api-access-" + suffix
    spec["volumes"] = [v for v in spec.get("volumes", []) if v["name"] != name]
    for lst in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(lst, []):
            if "volumeMounts" in c:
                c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != name]


def pod_spec(obj):
    kind = obj["kind"]
    if kind == "Pod":
        return obj["spec"]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def as_kind(ds, kind, api_version):
    """The hook DaemonSet's pod template, carried by another controller kind."""
    obj = {"apiVersion": api_version, "kind": kind,
           "metadata": copy.deepcopy(ds["metadata"]),
           "spec": {"selector": copy.deepcopy(ds["spec"]["selector"]),
                    "template": copy.deepcopy(ds["spec"]["template"])}}
    if kind == "ReplicationController":
        obj["spec"]["selector"] = dict(ds["spec"]["selector"]["matchLabels"])
    if kind == "StatefulSet":
        obj["spec"]["serviceName"] = obj["metadata"]["name"]
    if kind == "Job":
        del obj["spec"]["selector"]
        obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    if kind == "CronJob":
        template = obj["spec"].pop("template")
        template["spec"]["restartPolicy"] = "Never"
        del obj["spec"]["selector"]
        obj["spec"] = {"schedule": "*/30 * * * *",
                       "jobTemplate": {"metadata": {"labels": dict(template["metadata"]["labels"])},
                                       "spec": {"template": template}}}
    return obj


OUT = {}
EXPECTED = {}
# Byte-level rewrites of a written request (JSON escapes, duplicate keys): what a JSON library
# cannot produce. The e2e suite feeds these files to the module as they are, without re-encoding.
RAW = {}


def write(name, req, expected=None, raw=None):
    OUT[name] = req
    if expected is not None:
        EXPECTED[name] = expected
    if raw is not None:
        RAW[name] = raw


def main():
    hook_pod, cont_pod, await_pod = load("hook-pod"), load("continuous-pod"), load("awaiter-pod")
    hook_ds, cont_ds, await_job = load("hook-daemonset"), load("continuous-daemonset"), load("awaiter-job")
    hook_legacy, cont_legacy = load("hook-pod-legacy"), load("continuous-pod-legacy")
    hook_sa, cont_sa, await_sa = (load("hook-serviceaccount"), load("continuous-serviceaccount"),
                                  load("awaiter-serviceaccount"))

    # Chart 4.4.0, as installed: all compliant.
    for name, obj in [("hook-pod", hook_pod), ("continuous-pod", cont_pod), ("awaiter-pod", await_pod),
                      ("hook-daemonset", hook_ds), ("continuous-daemonset", cont_ds),
                      ("awaiter-job", await_job), ("hook-serviceaccount", hook_sa),
                      ("continuous-serviceaccount", cont_sa), ("awaiter-serviceaccount", await_sa)]:
        write(name + "-create", request(obj))

    # Chart 4.0.0 pods: run as default, automount off.
    for name, obj, sa in [("hook-pod-legacy", hook_legacy, "hook-image-puller"),
                          ("continuous-pod-legacy", cont_legacy, "continuous-image-puller")]:
        exp = copy.deepcopy(obj)
        exp["spec"]["serviceAccountName"] = sa
        exp["spec"]["serviceAccount"] = sa
        write(name + "-create", request(obj), exp)

    # A hook pod whose template lost automount and serviceAccountName: the plugin injected a token.
    pod = copy.deepcopy(hook_legacy)
    del pod["spec"]["automountServiceAccountToken"]
    inject_token(pod)
    exp = copy.deepcopy(pod)
    exp["spec"]["serviceAccountName"] = "hook-image-puller"
    exp["spec"]["serviceAccount"] = "hook-image-puller"
    exp["spec"]["automountServiceAccountToken"] = False
    remove_token(exp)
    write("hook-pod-token-injected-create", request(pod), exp)

    # The continuous DaemonSet of chart 4.0.0, as rendered: no serviceAccountName in the
    # template, the chart's version in its labels.
    ds = from_release("z2jh-4.0.0-default", "DaemonSet", "continuous-image-puller")
    exp = copy.deepcopy(ds)
    exp["spec"]["template"]["spec"]["serviceAccountName"] = "continuous-image-puller"
    write("continuous-daemonset-legacy-create", request(ds), exp)

    # Hook DaemonSet with automount dropped, as a string, as null.
    for suffix, value in [("automount-unset", None), ("automount-string", "false"), ("automount-null", "null")]:
        ds = copy.deepcopy(hook_ds)
        spec = ds["spec"]["template"]["spec"]
        if value is None:
            del spec["automountServiceAccountToken"]
        elif value == "null":
            spec["automountServiceAccountToken"] = None
        else:
            spec["automountServiceAccountToken"] = value
        exp = copy.deepcopy(ds)
        exp["spec"]["template"]["spec"]["automountServiceAccountToken"] = False
        write("hook-daemonset-" + suffix + "-create", request(ds), exp)

    # Every controller kind carrying a hook-puller template that runs as default.
    for kind, api in [("Deployment", "apps/v1"), ("StatefulSet", "apps/v1"), ("ReplicaSet", "apps/v1"),
                      ("ReplicationController", "v1"), ("Job", "batch/v1"), ("CronJob", "batch/v1"),
                      ("DaemonSet", "apps/v1")]:
        obj = as_kind(hook_ds, kind, api)
        spec = pod_spec(obj)
        spec["serviceAccountName"] = "default"
        exp = copy.deepcopy(obj)
        pod_spec(exp)["serviceAccountName"] = "hook-image-puller"
        write("hook-" + kind.lower() + "-default-sa-create", request(obj), exp)
        # The same kind, compliant.
        write("hook-" + kind.lower() + "-create", request(as_kind(hook_ds, kind, api)))

    # A CronJob whose nested template mounts a user-declared token: not fixable.
    cj = as_kind(hook_ds, "CronJob", "batch/v1")
    spec = pod_spec(cj)
    spec["volumes"] = [{"name": "api-token", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 600}}]}}]
    spec["containers"][0]["volumeMounts"] = [{"name": "api-token", "mountPath": "/token"}]
    write("hook-cronjob-token-volume-create", request(cj))

    # Pods with user-declared token volumes, mounted only in an init or an ephemeral container.
    pod = copy.deepcopy(hook_pod)
    pod["spec"]["volumes"] = [{"name": "sneaky", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token"}}]}}]
    pod["spec"]["initContainers"][0]["volumeMounts"] = [{"name": "sneaky", "mountPath": "/creds"}]
    write("hook-pod-token-volume-init-container-create", request(pod))
    pod = copy.deepcopy(cont_pod)
    pod["spec"]["volumes"] = [{"name": "legacy-token", "secret": {"secretName": "continuous-image-puller-token-abcde"}}]
    pod["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "busybox",
                                           "volumeMounts": [{"name": "legacy-token", "mountPath": TOKEN_PATH}]}]
    write("continuous-pod-token-mount-ephemeral-create", request(pod))
    # The injected volume with an extra mount elsewhere is no longer the plugin's: not fixable.
    pod = copy.deepcopy(hook_legacy)
    del pod["spec"]["automountServiceAccountToken"]
    inject_token(pod)
    pod["spec"]["containers"][0]["volumeMounts"].append({"name": "kube-api-access-x9k2m", "mountPath": "/elsewhere"})
    write("hook-pod-token-remounted-create", request(pod))

    # Deprecated serviceAccount disagreeing with serviceAccountName.
    pod = copy.deepcopy(hook_pod)
    pod["spec"]["serviceAccount"] = "default"
    exp = copy.deepcopy(pod)
    exp["spec"]["serviceAccount"] = "hook-image-puller"
    write("hook-pod-deprecated-sa-mismatch-create", request(pod), exp)

    # Workloads of no role borrowing a puller's ServiceAccount.
    dep = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "image-cache-warmer", "namespace": "jhub", "labels": {"app": "warmer"}},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "warmer"}},
                    "template": {"metadata": {"labels": {"app": "warmer"}},
                                 "spec": {"serviceAccountName": "continuous-image-puller",
                                          "containers": [{"name": "warm", "image": "busybox"}]}}}}
    write("deployment-borrows-continuous-sa-create", request(dep))
    sts = as_kind(hook_ds, "StatefulSet", "apps/v1")
    sts["metadata"]["labels"] = {"app": "other"}
    sts["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    sts["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    pod_spec(sts)["serviceAccountName"] = "hook-image-awaiter"
    write("statefulset-borrows-awaiter-sa-create", request(sts))

    # Selector labels only on the controller, and only on the template.
    ds = copy.deepcopy(hook_ds)
    ds["spec"]["template"]["metadata"]["labels"] = {"app": "jupyterhub", "release": "jupyterhub"}
    ds["spec"]["selector"] = {"matchLabels": {"app": "jupyterhub", "release": "jupyterhub"}}
    pod_spec(ds)["serviceAccountName"] = "default"
    # No role (its Pods will not carry the labels), so nothing to fix: accepted with a warning.
    write("hook-daemonset-labels-on-controller-only-create", request(ds))
    ds = copy.deepcopy(hook_ds)
    ds["metadata"]["labels"] = {"app": "jupyterhub"}
    del pod_spec(ds)["automountServiceAccountToken"]
    exp = copy.deepcopy(ds)
    pod_spec(exp)["automountServiceAccountToken"] = False
    write("hook-daemonset-labels-on-template-only-create", request(ds), exp)

    # Labels matching two roles.
    ds = copy.deepcopy(hook_ds)
    ds["spec"]["template"]["metadata"]["labels"]["component"] = "continuous-image-puller"
    write("daemonset-two-roles-create", request(ds))

    # Awaiter Job under another ServiceAccount: fixable on CREATE, never mutated on UPDATE.
    job = copy.deepcopy(await_job)
    job["spec"]["template"]["spec"]["serviceAccountName"] = "default"
    exp = copy.deepcopy(job)
    exp["spec"]["template"]["spec"]["serviceAccountName"] = "hook-image-awaiter"
    write("awaiter-job-default-sa-create", request(job), exp)
    write("awaiter-job-default-sa-update-unchanged", request(job, "UPDATE", old=copy.deepcopy(job)))
    job_labels = copy.deepcopy(job)
    job_labels["metadata"]["labels"]["hub.jupyter.org/deletable"] = "false"
    write("awaiter-job-default-sa-update-labels", request(job_labels, "UPDATE", old=copy.deepcopy(job)))

    # Unrelated pods: the hub and the proxy run as default with a token, which is their business.
    proxy = {"apiVersion": "v1", "kind": "Pod",
             "metadata": {"generateName": "proxy-7d9c8b6f5-", "namespace": "jhub",
                          "labels": {"component": "proxy", "app": "jupyterhub", "release": "jupyterhub"}},
             "spec": {"serviceAccountName": "default", "serviceAccount": "default",
                      "containers": [{"name": "chp", "image": "quay.io/jupyterhub/configurable-http-proxy:4.6.3"}]}}
    inject_token(proxy, "p4q7z")
    write("proxy-pod-create", request(proxy))

    # UPDATEs.
    old = copy.deepcopy(hook_ds)
    new = copy.deepcopy(hook_ds)
    del pod_spec(new)["automountServiceAccountToken"]
    pod_spec(new)["serviceAccountName"] = "default"
    exp = copy.deepcopy(new)
    pod_spec(exp)["automountServiceAccountToken"] = False
    pod_spec(exp)["serviceAccountName"] = "hook-image-puller"
    write("hook-daemonset-update-flips-noncompliant", request(new, "UPDATE", old=old), exp)
    # A Pod update (labels only) on a legacy pod that was already non-compliant: carried over.
    old = copy.deepcopy(hook_legacy)
    old["metadata"]["name"] = "hook-image-puller-abcde"
    new = copy.deepcopy(old)
    new["metadata"]["labels"]["extra"] = "yes"
    write("hook-pod-legacy-update-labels", request(new, "UPDATE", old=old))
    # A Pod that becomes a puller through a label change on UPDATE.
    old = copy.deepcopy(proxy)
    old["metadata"]["name"] = "proxy-7d9c8b6f5-abcde"
    new = copy.deepcopy(old)
    new["metadata"]["labels"]["component"] = "continuous-image-puller"
    write("pod-update-relabelled-as-puller", request(new, "UPDATE", old=old))

    # DELETE, terminating objects, subresources, other kinds.
    write("hook-pod-legacy-delete", request(None, "DELETE", old=copy.deepcopy(hook_legacy), kind="Pod"))
    term = copy.deepcopy(hook_legacy)
    term["metadata"]["name"] = "hook-image-puller-abcde"
    term["metadata"]["deletionTimestamp"] = "2026-11-26T10:00:00Z"
    term["metadata"]["finalizers"] = []
    write("hook-pod-legacy-terminating-update", request(term, "UPDATE", old=copy.deepcopy(term)))
    ds = copy.deepcopy(hook_ds)
    pod_spec(ds)["serviceAccountName"] = "default"
    ds["metadata"]["deletionTimestamp"] = "2026-11-26T10:00:00Z"
    write("hook-daemonset-terminating-update", request(ds, "UPDATE", old=copy.deepcopy(ds)))
    ds = copy.deepcopy(hook_ds)
    pod_spec(ds)["serviceAccountName"] = "default"
    ds["status"] = {"numberReady": 3}
    write("hook-daemonset-status-update", request(ds, "UPDATE", old=copy.deepcopy(ds), sub_resource="status"))
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hub", "namespace": "jhub",
          "labels": {"component": "hook-image-puller"}}, "data": {"a": "b"}}
    write("configmap-create", request(cm))

    # fullnameOverride: myhub.
    pod = copy.deepcopy(hook_pod)
    pod["spec"]["serviceAccountName"] = "myhub-hook-image-puller"
    pod["spec"]["serviceAccount"] = "myhub-hook-image-puller"
    write("hook-pod-fullnameoverride-create", request(pod))

    # Fields k8s-openapi does not know survive a mutation.
    pod = copy.deepcopy(hook_legacy)
    pod["spec"]["x-future-field"] = {"nested": [1, 2.5, "three", None, True]}
    pod["spec"]["containers"][0]["x-container-extension"] = {"bigNumber": 123456789012345678901234567890}
    pod["metadata"]["annotations"] = {"example.com/note": "unicode é ✓"}
    exp = copy.deepcopy(pod)
    exp["spec"]["serviceAccountName"] = "hook-image-puller"
    exp["spec"]["serviceAccount"] = "hook-image-puller"
    write("hook-pod-legacy-unknown-fields-create", request(pod), exp)

    # Bad objects.
    pod = copy.deepcopy(hook_pod)
    del pod["spec"]
    write("hook-pod-no-spec-create", request(pod))
    ds = copy.deepcopy(hook_ds)
    del ds["spec"]["template"]
    write("hook-daemonset-no-template-create", request(ds))
    pod = copy.deepcopy(hook_pod)
    pod["spec"]["volumes"] = {"name": "not-a-list"}
    write("hook-pod-volumes-wrong-type-create", request(pod))
    req = request(copy.deepcopy(hook_ds))
    req["kind"] = {"group": "", "version": "v1", "kind": "Pod"}
    write("daemonset-sent-as-pod-create", req)

    # ServiceAccount objects.
    exp = copy.deepcopy(hook_sa)
    exp["automountServiceAccountToken"] = False
    EXPECTED["hook-serviceaccount-create"] = exp
    sa = copy.deepcopy(cont_sa)
    sa["automountServiceAccountToken"] = False
    write("continuous-serviceaccount-automount-off-create", request(sa))

    chart_labels(hook_legacy)

    bypass_catalogue(hook_pod, hook_legacy, hook_ds, cont_pod)
    coherence(hook_pod, hook_legacy, hook_ds, cont_ds)

    os.makedirs(os.path.join(HERE, "expected"), exist_ok=True)
    for name, req in OUT.items():
        text = json.dumps(req, indent=2, ensure_ascii=False) + "\n"
        for old, new in RAW.get(name, []):
            assert text.count(old) == 1, (name, old)
            text = text.replace(old, new)
        with open(os.path.join(HERE, name + ".json"), "w") as f:
            f.write(text)
    for name, obj in EXPECTED.items():
        with open(os.path.join(HERE, "expected", name + ".json"), "w") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False)
            f.write("\n")
    print(f"{len(OUT)} requests, {len(EXPECTED)} expected objects")


def chart_labels(hook_legacy):
    """Chart 4.0.0 as rendered (issue 22): app.kubernetes.io/component on the objects, not on
    their pod templates; the chart version in the objects' labels."""
    ds = from_release("z2jh-4.0.0-default", "DaemonSet", "hook-image-puller")
    exp = copy.deepcopy(ds)
    exp["spec"]["template"]["spec"]["serviceAccountName"] = "hook-image-puller"
    write("hook-daemonset-chart-4.0.0-create", request(ds), exp)
    write("audit-hook-daemonset-chart-4.0.0", audit_request(stored(ds)))
    job = from_release("z2jh-4.0.0-default", "Job", "hook-image-awaiter")
    write("awaiter-job-chart-4.0.0-create", request(job))


def bypass_catalogue(hook_pod, hook_legacy, hook_ds, cont_pod):
    """Attempts to get a non-compliant puller past the policy (docs/security.md)."""
    legacy_fixed = copy.deepcopy(hook_legacy)
    legacy_fixed["spec"]["serviceAccountName"] = "hook-image-puller"
    legacy_fixed["spec"]["serviceAccount"] = "hook-image-puller"

    # A CREATE carrying a forged deletionTimestamp: mutating webhooks see it before the API
    # server clears it, so it must not count as terminating.
    pod = copy.deepcopy(hook_legacy)
    pod["metadata"]["deletionTimestamp"] = "2026-11-26T10:00:00Z"
    exp = copy.deepcopy(legacy_fixed)
    exp["metadata"]["deletionTimestamp"] = "2026-11-26T10:00:00Z"
    write("hook-pod-legacy-forged-deletion-create", request(pod), exp)

    # serviceAccountName "" runs as default (the alias is absent).
    pod = copy.deepcopy(hook_pod)
    pod["spec"]["serviceAccountName"] = ""
    del pod["spec"]["serviceAccount"]
    exp = copy.deepcopy(pod)
    exp["spec"]["serviceAccountName"] = "hook-image-puller"
    write("hook-pod-empty-sa-name-create", request(pod), exp)

    # A user-declared projected token volume under another name, mounted in the main container;
    # and one mounted only by an ephemeral container.
    token_volume = {"name": "api-credentials", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}}
    pod = copy.deepcopy(hook_pod)
    pod["spec"]["volumes"] = [copy.deepcopy(token_volume)]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "api-credentials", "mountPath": "/creds"}]
    write("hook-pod-token-volume-other-name-create", request(pod))
    pod = copy.deepcopy(hook_pod)
    pod["spec"]["volumes"] = [copy.deepcopy(token_volume)]
    pod["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "busybox",
                                           "volumeMounts": [{"name": "api-credentials", "mountPath": "/creds"}]}]
    write("hook-pod-token-volume-ephemeral-container-create", request(pod))

    # Something else mounted over the token path, spelled the ways the runtime resolves it.
    for suffix, paths in [("parent", ["/var/run/secrets"]),
                          ("trailing-slash", [TOKEN_PATH + "/"]),
                          ("uncleaned", ["//var/run/secrets/kubernetes.io/serviceaccount",
                                         "/var/run/./secrets/kubernetes.io/serviceaccount",
                                         "/var/run/secrets/kubernetes.io/x/../serviceaccount"]),
                          ("run-symlink", ["/run/secrets/kubernetes.io/serviceaccount"])]:
        pod = copy.deepcopy(hook_pod)
        pod["spec"]["volumes"] = [{"name": "legacy-token",
                                   "secret": {"secretName": "hook-image-puller-token-abcde"}}]
        pod["spec"]["containers"] = [
            {"name": "pause" if i == 0 else "pause-" + str(i), "image": "registry.k8s.io/pause:3.10.1",
             "volumeMounts": [{"name": "legacy-token", "mountPath": path, "readOnly": True}]}
            for i, path in enumerate(paths)]
        write("hook-pod-token-path-" + suffix + "-create", request(pod))

    # subPath: the injected volume's token file alone, at the token path (not the plugin's mount).
    pod = copy.deepcopy(hook_legacy)
    del pod["spec"]["automountServiceAccountToken"]
    inject_token(pod)
    pod["spec"]["containers"][0]["volumeMounts"][0]["subPath"] = "token"
    write("hook-pod-token-injected-subpath-create", request(pod))

    # A second kube-api-access-* volume, identical to the injected one, mounted elsewhere.
    pod = copy.deepcopy(hook_legacy)
    del pod["spec"]["automountServiceAccountToken"]
    inject_token(pod)
    second = injected_volume("zzzzz")
    pod["spec"]["volumes"].append(second)
    pod["spec"]["containers"][0]["volumeMounts"].append({"name": second["name"], "mountPath": "/extra"})
    write("hook-pod-second-kube-api-access-create", request(pod))

    # A group-less request kind (hand-written kwctl requests): judged by kind alone.
    ds = copy.deepcopy(hook_ds)
    pod_spec(ds)["serviceAccountName"] = "default"
    req = request(ds)
    req["kind"] = {"kind": "DaemonSet"}
    exp = copy.deepcopy(ds)
    pod_spec(exp)["serviceAccountName"] = "hook-image-puller"
    write("hook-daemonset-default-sa-groupless-create", req, exp)
    # A kind of another API group is another resource: not judged.
    req = request(copy.deepcopy(ds))
    req["kind"] = {"group": "extensions", "version": "v1beta1", "kind": "DaemonSet"}
    write("hook-daemonset-default-sa-extensions-group-create", req)

    # An operation Kubernetes never sends is judged as a CREATE.
    req = request(copy.deepcopy(hook_legacy))
    req["operation"] = "create"
    write("hook-pod-legacy-lowercase-operation-create", req, copy.deepcopy(legacy_fixed))

    # The role label only on a CronJob's job template.
    cj = as_kind(hook_ds, "CronJob", "batch/v1")
    cj["metadata"]["labels"] = {"app": "jupyterhub"}
    cj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"] = {"app": "jupyterhub"}
    cj["spec"]["jobTemplate"]["metadata"]["labels"] = {"component": "hook-image-puller"}
    pod_spec(cj)["serviceAccountName"] = "default"
    # Job template labels go to the Jobs, not their Pods: no role, accepted with a warning.
    write("hook-cronjob-labels-on-job-template-only-create", request(cj))

    # Borrowing a reserved ServiceAccount through the deprecated serviceAccount alone.
    dep = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "warmer", "namespace": "jhub", "labels": {"app": "warmer"}},
           "spec": {"selector": {"matchLabels": {"app": "warmer"}},
                    "template": {"metadata": {"labels": {"app": "warmer"}},
                                 "spec": {"serviceAccountName": "warmer", "serviceAccount": "hook-image-puller",
                                          "containers": [{"name": "warm", "image": "busybox"}]}}}}
    write("deployment-borrows-hook-sa-via-alias-create", request(dep))

    # A pod that labels itself as the awaiter to run as its ServiceAccount, with a token: the
    # labels are the identity (by design; docs/security.md).
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "impostor", "namespace": "jhub", "labels": {"component": "image-puller"}},
           "spec": {"serviceAccountName": "hook-image-awaiter", "serviceAccount": "hook-image-awaiter",
                    "containers": [{"name": "shell", "image": "busybox"}]}}
    inject_token(pod, "i7m3p")
    write("awaiter-impostor-pod-create", request(pod))

    # pods/ephemeralcontainers: a debug container that mounts a pod volume over the token path.
    old = copy.deepcopy(hook_pod)
    old["metadata"]["name"] = "hook-image-puller-abcde"
    old["spec"]["volumes"] = [{"name": "legacy-token",
                               "secret": {"secretName": "hook-image-puller-token-abcde"}}]
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "busybox",
                                           "volumeMounts": [{"name": "legacy-token", "mountPath": TOKEN_PATH}]}]
    write("hook-pod-ephemeralcontainers-token-update", request(new, "UPDATE", old=old,
                                                                sub_resource="ephemeralcontainers"))
    # The API server keeps only spec.ephemeralContainers of such a body (issue 22): the policy
    # judges the stored Pod with them. A body that relabels the Pod out of every role: judged as
    # the stored hook puller, the debug container's mount is what this UPDATE introduces.
    relabelled = copy.deepcopy(new)
    relabelled["metadata"]["labels"] = {"app": "debug"}
    write("hook-pod-ephemeralcontainers-relabelled-update",
          request(relabelled, "UPDATE", old=old, sub_resource="ephemeralcontainers"))
    # A body that leaves out the stored Pod's token volume (and its mounts), while the debug
    # container mounts it: read as sent, nothing new mounts a token.
    old = stored(hook_legacy, "hook-image-puller-x7k2p")
    del old["spec"]["automountServiceAccountToken"]
    inject_token(old)
    new = copy.deepcopy(old)
    remove_token(new)
    del new["spec"]["volumes"]
    new["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "busybox",
                                           "volumeMounts": [{"name": "kube-api-access-x9k2m",
                                                             "mountPath": "/debug"}]}]
    write("hook-pod-ephemeralcontainers-volume-omitted-update",
          request(new, "UPDATE", old=old, sub_resource="ephemeralcontainers"))
    # A debug container that mounts nothing, added to a compliant hook puller.
    old = stored(hook_pod, "hook-image-puller-abcde")
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "busybox"}]
    write("hook-pod-ephemeralcontainers-update", request(new, "UPDATE", old=old,
                                                         sub_resource="ephemeralcontainers"))

    # A pod spec written as an array: serde's derived structs would read it by position as a
    # compliant spec (serviceAccountName, serviceAccount, automount). Found by fuzzing.
    pod = copy.deepcopy(hook_legacy)
    pod["spec"] = ["hook-image-puller", "hook-image-puller", False]
    write("hook-pod-positional-spec-create", request(pod))
    ds = copy.deepcopy(hook_ds)
    ds["spec"]["template"]["spec"] = []
    write("hook-daemonset-empty-array-spec-create", request(ds))

    # Byte-level tricks (fed to the module as written, see RAW).
    # JSON escapes in a label key and value: the same labels once decoded.
    write("hook-pod-legacy-escaped-labels-create", request(copy.deepcopy(hook_legacy)),
          copy.deepcopy(legacy_fixed),
          raw=[('"component": "hook-image-puller"', '"\\u0063omponent": "hook\\u002dimage-puller"')])
    # An escaped key in a projected source: still a token volume.
    pod = copy.deepcopy(hook_pod)
    pod["spec"]["volumes"] = [copy.deepcopy(token_volume)]
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "api-credentials", "mountPath": "/creds"}]
    write("hook-pod-token-volume-escaped-key-create", request(pod),
          raw=[('"serviceAccountToken"', '"service\\u0041ccountToken"')])
    # Duplicate keys: automount false, then true (Go's decoder keeps the last one).
    ds = copy.deepcopy(hook_ds)
    write("hook-daemonset-duplicate-automount-create", request(ds),
          raw=[('"automountServiceAccountToken": false',
                '"automountServiceAccountToken": false,\n          "automountServiceAccountToken": true')])
    # Duplicate label keys: the last one makes it a hook puller.
    write("hook-pod-legacy-duplicate-label-create", request(copy.deepcopy(hook_legacy)),
          copy.deepcopy(legacy_fixed),
          raw=[('"component": "hook-image-puller"', '"component": "hub",\n        "component": "hook-image-puller"')])


def coherence(hook_pod, hook_legacy, hook_ds, cont_ds):
    """What controllers, the garbage collector and the audit scanner send (issue 8)."""
    # A ReplicaSet its Deployment controls, carrying a template that runs as default.
    rs = as_kind(hook_ds, "ReplicaSet", "apps/v1")
    rs["metadata"]["name"] = "hook-image-puller-5d8f7c9b4"
    rs["metadata"]["ownerReferences"] = [copy.deepcopy(DEPLOYMENT_OWNER)]
    rs["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
    for labels in (rs["metadata"]["labels"], rs["spec"]["template"]["metadata"]["labels"],
                   rs["spec"]["selector"]["matchLabels"]):
        labels["pod-template-hash"] = "5d8f7c9b4"
    rs["spec"]["replicas"] = 1
    pod_spec(rs)["serviceAccountName"] = "default"
    write("hook-replicaset-of-deployment-default-sa-create", request(rs))
    old = stored(rs)
    # The Deployment controller scales it with a full UPDATE.
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    write("hook-replicaset-of-deployment-default-sa-scale-update", request(new, "UPDATE", old=old))
    # A new revision annotation.
    new = copy.deepcopy(old)
    new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "2"
    write("hook-replicaset-of-deployment-default-sa-revision-update", request(new, "UPDATE", old=old))
    # The garbage collector removes the ownerReference (the Deployment was deleted, orphaning):
    # no longer controlled, but the UPDATE leaves the template alone.
    new = copy.deepcopy(old)
    del new["metadata"]["ownerReferences"]
    write("hook-replicaset-default-sa-orphaned-update", request(new, "UPDATE", old=old))
    # A scale of a ReplicaSet of no Deployment.
    orphan = copy.deepcopy(old)
    del orphan["metadata"]["ownerReferences"]
    new = copy.deepcopy(orphan)
    new["spec"]["replicas"] = 2
    write("hook-replicaset-default-sa-scale-update", request(new, "UPDATE", old=orphan))

    # `kubectl rollout restart` of a Deployment whose template runs as default: only the
    # template's annotations change, yet the Deployment rolls new Pods from it.
    dep = stored(as_kind(hook_ds, "Deployment", "apps/v1"))
    pod_spec(dep)["serviceAccountName"] = "default"
    new = copy.deepcopy(dep)
    new["spec"]["template"]["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/restartedAt": "2026-12-02T03:00:00Z"}
    exp = copy.deepcopy(new)
    pod_spec(exp)["serviceAccountName"] = "hook-image-puller"
    write("hook-deployment-legacy-restart-update", request(new, "UPDATE", old=dep), exp)

    # A DaemonSet adopts a stored chart 4.0.0 hook pod (an ownerReference added by UPDATE).
    old = stored(hook_legacy, "hook-image-puller-x7k2p")
    new = copy.deepcopy(old)
    new["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                           "name": "hook-image-puller", "uid": "a1b2c3d4-0000-4000-8000-000000000001",
                                           "controller": True, "blockOwnerDeletion": True}]
    write("hook-pod-legacy-adopted-update", request(new, "UPDATE", old=old))

    # The audit scanner's requests for a chart 4.0.0 release and a 4.4.0 one.
    legacy_ds = from_release("z2jh-4.0.0-default", "DaemonSet", "continuous-image-puller")
    write("audit-continuous-daemonset-legacy", audit_request(stored(legacy_ds)))
    write("audit-hook-pod-legacy", audit_request(stored(hook_legacy, "hook-image-puller-x7k2p")))
    write("audit-continuous-daemonset", audit_request(stored(cont_ds)))
    write("audit-hook-pod", audit_request(stored(hook_pod, "hook-image-puller-x7k2p")))
    write("audit-hook-replicaset-of-deployment-default-sa", audit_request(stored(rs)))

    # A projected API-client pod certificate (KEP-4317) in a hook puller.
    pod = copy.deepcopy(hook_pod)
    pod["spec"]["volumes"] = [{"name": "api-client-cert", "projected": {"sources": [
        {"podCertificate": {"signerName": "kubernetes.io/kube-apiserver-client-pod", "keyType": "ED25519",
                            "credentialBundlePath": "credentialbundle.pem"}}]}}]
    write("hook-pod-pod-certificate-create", request(pod))
    pod = copy.deepcopy(pod)
    pod["spec"]["volumes"][0]["projected"]["sources"][0]["podCertificate"]["signerName"] = "example.com/mesh-mtls"
    write("hook-pod-pod-certificate-other-signer-create", request(pod))


if __name__ == "__main__":
    main()
