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


def write(name, req, expected=None):
    OUT[name] = req
    if expected is not None:
        EXPECTED[name] = expected


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

    # The continuous DaemonSet of chart 4.0.0: no serviceAccountName in the template.
    ds = copy.deepcopy(cont_ds)
    del ds["spec"]["template"]["spec"]["serviceAccountName"]
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
    exp = copy.deepcopy(ds)
    pod_spec(exp)["serviceAccountName"] = "hook-image-puller"
    write("hook-daemonset-labels-on-controller-only-create", request(ds), exp)
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

    os.makedirs(os.path.join(HERE, "expected"), exist_ok=True)
    for name, req in OUT.items():
        with open(os.path.join(HERE, name + ".json"), "w") as f:
            json.dump(req, f, indent=2, ensure_ascii=False)
            f.write("\n")
    for name, obj in EXPECTED.items():
        with open(os.path.join(HERE, "expected", name + ".json"), "w") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False)
            f.write("\n")
    print(f"{len(OUT)} requests, {len(EXPECTED)} expected objects")


if __name__ == "__main__":
    main()
