//! The controller-chain harness: the coherence law of README "Decisions", checked on the
//! compiled module (the e2e suite; `run-examples` prints one chain). A controller is admitted as
//! the API server asks (CREATE, a user named), the patch applied as policy-server answers it;
//! then its children are derived exactly as Kubernetes' controllers derive them (the pod
//! template copied with its labels, plus the labels each controller adds, the controlling
//! ownerReference, and on Pods the ServiceAccount admission plugin's work), each child admitted
//! by its controller's user, and so on down to the Pods. For every admitted controller, every
//! derived object must be admitted too, a Deployment's ReplicaSet unchanged, and a Pod changed
//! at most by removing the injected token.

use serde_json::{Value, json};

use crate::Policy;
use crate::error::{Error, Result};
use crate::host::{Host, Kubernetes};
pub use crate::request::gvr;
use crate::request::{AdmissionRequest, Operation};

/// How the root controller was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// Admitted unchanged.
    Accepted,
    /// Admitted with a patch, which its children inherit.
    Mutated,
    /// Refused: nothing is derived, so the law holds trivially.
    Rejected,
}

/// What a chain did: the root's answer, how many derived objects were admitted, and one line
/// per admission (`Kind name: ACCEPT|MUTATE|REJECT by user`) for `run-examples`.
#[derive(Debug)]
pub struct ChainOutcome {
    /// How the root controller was answered.
    pub root: Root,
    /// Derived objects admitted: zero for a rejected root, so a test can tell the law was
    /// exercised.
    pub derived: usize,
    /// One line per admission, in order.
    pub steps: Vec<String>,
}

fn step(object: &Value, user: &str, answer: &str) -> String {
    let name = object["metadata"]["name"]
        .as_str()
        .or_else(|| object["metadata"]["generateName"].as_str())
        .unwrap_or("");
    format!(
        "{} {name}: {answer} (as {user})",
        object["kind"].as_str().unwrap_or("?")
    )
}

/// The user a controller acts as when it creates its children.
pub fn controller_user(parent: &str) -> String {
    let name = match parent {
        "Deployment" => "deployment-controller",
        "ReplicaSet" => "replicaset-controller",
        "ReplicationController" => "replication-controller",
        "DaemonSet" => "daemon-set-controller",
        "StatefulSet" => "statefulset-controller",
        "Job" => "job-controller",
        "CronJob" => "cronjob-controller",
        _ => "kube-controller-manager",
    };
    format!("system:serviceaccount:kube-system:{name}")
}

fn kind_of(object: &Value) -> Result<&str> {
    object["kind"]
        .as_str()
        .ok_or_else(|| Error::Chain("object without kind".into()))
}

/// One admission through the module: `Some(object as stored)` when allowed, `None` when not.
fn admit<K: Kubernetes + 'static>(
    policy: &Policy,
    host: &Host<K>,
    object: &Value,
    settings: &Value,
    user: &str,
) -> Result<(Option<Value>, bool)> {
    gvr(kind_of(object)?)?;
    let request = AdmissionRequest::builder(Operation::Create, object)?
        .user(user, &[])
        .to_value()?;
    let response = policy.run_with_host(&request, settings, host)?;
    let admitted = response.admitted(object)?;
    let patched = admitted.is_some() && response.patch.is_some();
    Ok((admitted, patched))
}

fn labels_with(template: &Value, extra: &[(&str, &str)]) -> Value {
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    for (k, v) in extra {
        labels[*k] = json!(v);
    }
    labels
}

fn owner(parent: &Value) -> Value {
    json!([{
        "apiVersion": parent["apiVersion"],
        "kind": parent["kind"],
        "name": parent["metadata"]["name"],
        "uid": "0a0b0c0d-0000-4000-8000-00000000000a",
        "controller": true,
        "blockOwnerDeletion": true,
    }])
}

/// A Pod made from a pod template, as its controller creates it, after the ServiceAccount
/// admission plugin (which runs before any webhook).
fn pod_from(parent: &Value, template: &Value, extra: &[(&str, &str)]) -> Value {
    let mut metadata = json!({
        "generateName": format!("{}-", parent["metadata"]["name"].as_str().unwrap_or("pod")),
        "namespace": parent["metadata"]["namespace"],
        "labels": labels_with(template, extra),
        "ownerReferences": owner(parent),
    });
    if let Some(annotations) = template["metadata"].get("annotations") {
        metadata["annotations"] = annotations.clone();
    }
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"].clone()});
    service_account_plugin(&mut pod);
    pod
}

/// The volume the ServiceAccount admission plugin injects.
pub const INJECTED: &str = "kube-api-access-c7x2q";

/// The ServiceAccount a pod spec runs as: `serviceAccountName`, else the deprecated
/// `serviceAccount` (v1 decoding copies it), else `default`.
pub fn runs_as(spec: &Value) -> &str {
    spec["serviceAccountName"]
        .as_str()
        .filter(|s| !s.is_empty())
        .or_else(|| spec["serviceAccount"].as_str().filter(|s| !s.is_empty()))
        .unwrap_or("default")
}

/// What the API server does to a Pod before mutating webhooks: v1 decoding fills
/// `serviceAccountName` from the deprecated `serviceAccount`, the plugin defaults it to
/// `default` and, unless the pod spec turns automount off, mounts a projected token in every
/// container and init container. (A ServiceAccount object with automount off would also stop
/// it; the harness assumes the chart's, which leave it on.) A Pod whose spec, containers or
/// volumes are not of the right types is left as written, for the module to reject, and no list
/// the Pod does not have is added.
pub fn service_account_plugin(pod: &mut Value) {
    if !pod_spec_is_well_formed(pod) {
        return;
    }
    let name = json!(runs_as(&pod["spec"]));
    let Some(spec) = pod["spec"].as_object_mut() else {
        return;
    };
    spec.insert("serviceAccountName".into(), name.clone());
    spec.insert("serviceAccount".into(), name);
    if spec.get("automountServiceAccountToken") == Some(&json!(false)) {
        return;
    }
    let volume = json!({"name": INJECTED, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}});
    push(spec, "volumes", volume);
    for list in ["initContainers", "containers"] {
        let containers = spec.get_mut(list).and_then(Value::as_array_mut);
        for c in containers
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            let mount = json!({"name": INJECTED, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true});
            push(c, "volumeMounts", mount);
        }
    }
}

/// Appends `item` to the list at `key`, making the list when there is none.
fn push(object: &mut serde_json::Map<String, Value>, key: &str, item: Value) {
    match object.get_mut(key).and_then(Value::as_array_mut) {
        Some(items) => items.push(item),
        None => {
            object.insert(key.into(), json!([item]));
        }
    }
}

/// Whether the plugin's work can be done on this Pod: its spec an object, its volumes and
/// containers lists of objects (or absent), each container's mounts a list (or absent).
fn pod_spec_is_well_formed(pod: &Value) -> bool {
    let spec = &pod["spec"];
    let list_of_objects = |v: &Value| {
        v.is_null()
            || v.as_array()
                .is_some_and(|items| items.iter().all(Value::is_object))
    };
    spec.is_object()
        && list_of_objects(&spec["volumes"])
        && ["containers", "initContainers"].iter().all(|list| {
            list_of_objects(&spec[*list])
                && spec[*list].as_array().is_none_or(|containers| {
                    containers
                        .iter()
                        .all(|c| c["volumeMounts"].is_null() || c["volumeMounts"].is_array())
                })
        })
}

/// Removes the injected volume and its mounts: the one change allowed on a derived Pod.
fn without_injected(pod: &Value) -> Value {
    let mut pod = pod.clone();
    let spec = &mut pod["spec"];
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        volumes.retain(|v| v["name"] != INJECTED);
    }
    for list in ["initContainers", "containers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in containers {
                if let Some(mounts) = c.get_mut("volumeMounts").and_then(Value::as_array_mut) {
                    mounts.retain(|m| m["name"] != INJECTED);
                }
            }
        }
    }
    pod
}

/// The objects a controller creates from `object`, as its controller does.
pub fn children(object: &Value) -> Result<Vec<Value>> {
    let kind = kind_of(object)?;
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or("x")
        .to_owned();
    let template = &object["spec"]["template"];
    Ok(match kind {
        "Pod" => vec![],
        "Deployment" => {
            let hash = "7c9d5b8f6";
            let mut t = template.clone();
            t["metadata"]["labels"] = labels_with(template, &[("pod-template-hash", hash)]);
            let mut selector = object["spec"]["selector"].clone();
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            vec![json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": format!("{name}-{hash}"), "namespace": object["metadata"]["namespace"],
                    "labels": labels_with(template, &[("pod-template-hash", hash)]),
                    "annotations": {"deployment.kubernetes.io/revision": "1"},
                    "ownerReferences": owner(object)},
                "spec": {"replicas": object["spec"]["replicas"].clone(), "selector": selector, "template": t},
            })]
        }
        "ReplicaSet" | "ReplicationController" => vec![pod_from(object, template, &[])],
        "DaemonSet" => vec![pod_from(
            object,
            template,
            &[
                ("controller-revision-hash", "6b8f9d7c5"),
                ("pod-template-generation", "1"),
            ],
        )],
        "StatefulSet" => {
            let pod_name = format!("{name}-0");
            let mut pod = pod_from(
                object,
                template,
                &[
                    ("controller-revision-hash", "6b8f9d7c5"),
                    ("statefulset.kubernetes.io/pod-name", &pod_name),
                    ("apps.kubernetes.io/pod-index", "0"),
                ],
            );
            pod["metadata"]["name"] = json!(pod_name);
            vec![pod]
        }
        // The Job's registry adds these labels after admission; its Pods carry them.
        "Job" => vec![pod_from(
            object,
            template,
            &[
                ("batch.kubernetes.io/job-name", &name),
                ("job-name", &name),
                (
                    "batch.kubernetes.io/controller-uid",
                    "9e8d7c6b-0000-4000-8000-000000000009",
                ),
                ("controller-uid", "9e8d7c6b-0000-4000-8000-000000000009"),
            ],
        )],
        "CronJob" => {
            let job_template = &object["spec"]["jobTemplate"];
            let mut metadata = json!({
                "name": format!("{name}-29410560"), "namespace": object["metadata"]["namespace"],
                "ownerReferences": owner(object),
            });
            for key in ["labels", "annotations"] {
                if let Some(v) = job_template["metadata"].get(key) {
                    metadata[key] = v.clone();
                }
            }
            vec![
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
                "spec": job_template["spec"].clone()}),
            ]
        }
        other => return Err(Error::Chain(format!("no children for kind {other}"))),
    })
}

/// What the controllers derive from an admitted `root`, down to the Pods: each workload's
/// [`children`], made as its controller makes them, handed to `admit` with their parent and
/// their controller's user ([`controller_user`]). What `admit` returns, the child as stored, is
/// derived from in turn; `None` (refused, or a Pod) stops there. Other kinds derive nothing.
/// The one loop both the e2e harness and prepuller-check walk.
pub fn derive<E: From<Error>>(
    root: Value,
    mut admit: impl FnMut(&Value, Value, String) -> std::result::Result<Option<Value>, E>,
) -> std::result::Result<(), E> {
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        let Some(kind) = parent["kind"].as_str() else {
            continue;
        };
        if gvr(kind).is_err() {
            continue;
        }
        let user = controller_user(kind);
        for child in children(&parent)? {
            if let Some(stored) = admit(&parent, child, user.clone())? {
                queue.push(stored);
            }
        }
    }
    Ok(())
}

/// Admits `root` as an administrator and checks the law down the whole chain.
pub fn run(policy: &Policy, root: &Value, settings: &Value) -> Result<ChainOutcome> {
    run_with_host(policy, &Host::without_context_aware(), root, settings)
}

/// [`run`] with `host` answering the module's lookups (`requireExistingServiceAccounts`).
pub fn run_with_host<K: Kubernetes + 'static>(
    policy: &Policy,
    host: &Host<K>,
    root: &Value,
    settings: &Value,
) -> Result<ChainOutcome> {
    let admin = "kubernetes-admin";
    let (admitted, patched) = admit(policy, host, root, settings, admin)?;
    let Some(admitted) = admitted else {
        return Ok(ChainOutcome {
            root: Root::Rejected,
            derived: 0,
            steps: vec![step(root, admin, "REJECT")],
        });
    };
    let mut steps = vec![step(root, admin, if patched { "MUTATE" } else { "ACCEPT" })];
    let mut derived = 0;
    derive(admitted, |parent, child, user| {
        let parent_kind = kind_of(parent)?;
        let child_kind = kind_of(&child)?;
        let (admitted, child_patched) = admit(policy, host, &child, settings, &user)?;
        let Some(admitted) = admitted else {
            return Err(Error::Chain(format!(
                "{parent_kind} {} was admitted, but the {child_kind} it derives is refused: {child}",
                parent["metadata"]["name"],
            )));
        };
        if child_patched && !(child_kind == "Pod" && admitted == without_injected(&child)) {
            return Err(Error::Chain(format!(
                "the {child_kind} derived from {parent_kind} {} was changed beyond removing the injected token: {admitted}",
                parent["metadata"]["name"],
            )));
        }
        derived += 1;
        steps.push(step(
            &child,
            &user,
            if child_patched {
                "MUTATE (injected token removed)"
            } else {
                "ACCEPT"
            },
        ));
        Ok(Some(admitted))
    })?;
    Ok(ChainOutcome {
        root: if patched {
            Root::Mutated
        } else {
            Root::Accepted
        },
        derived,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugin_sets_the_account_and_mounts_the_token_adding_no_other_list() {
        let mut pod = json!({"kind": "Pod", "spec": {"serviceAccount": "legacy",
            "containers": [{"name": "a"}]}});
        service_account_plugin(&mut pod);
        let mount = json!({"name": INJECTED, "readOnly": true,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"});
        assert_eq!(pod["spec"]["serviceAccountName"], "legacy");
        assert_eq!(pod["spec"]["serviceAccount"], "legacy");
        assert_eq!(pod["spec"]["containers"][0]["volumeMounts"], json!([mount]));
        assert_eq!(pod["spec"]["volumes"][0]["name"], INJECTED);
        assert!(pod["spec"].get("initContainers").is_none());
        assert_eq!(
            without_injected(&pod)["spec"],
            json!({"serviceAccountName": "legacy", "serviceAccount": "legacy",
                "containers": [{"name": "a", "volumeMounts": []}], "volumes": []})
        );

        // Automount off: only the account; a malformed Pod is left as written.
        let mut off = json!({"spec": {"automountServiceAccountToken": false, "containers": []}});
        service_account_plugin(&mut off);
        assert_eq!(
            off["spec"],
            json!({"automountServiceAccountToken": false, "containers": [],
                "serviceAccountName": "default", "serviceAccount": "default"})
        );
        for malformed in [
            json!({"spec": "x"}),
            json!({"spec": {"volumes": {}}}),
            json!({"spec": {"containers": [1]}}),
            json!({"spec": {"initContainers": [{"volumeMounts": "m"}]}}),
        ] {
            let mut pod = malformed.clone();
            service_account_plugin(&mut pod);
            assert_eq!(pod, malformed);
        }
    }

    #[test]
    fn derive_walks_each_controller_down_to_the_pods_with_its_user() {
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "jhub"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}}});
        let mut seen = Vec::new();
        derive::<Error>(deployment.clone(), |parent, child, user| {
            seen.push((parent["kind"].clone(), child["kind"].clone(), user));
            Ok(Some(child))
        })
        .unwrap();
        let user = |c: &str| format!("system:serviceaccount:kube-system:{c}");
        assert_eq!(
            seen,
            [
                (
                    json!("Deployment"),
                    json!("ReplicaSet"),
                    user("deployment-controller")
                ),
                (
                    json!("ReplicaSet"),
                    json!("Pod"),
                    user("replicaset-controller")
                ),
            ]
        );
        // A refused child stops the walk; a kind no controller derives from derives nothing.
        let mut count = 0;
        derive::<Error>(deployment, |_, _, _| {
            count += 1;
            Ok(None)
        })
        .unwrap();
        assert_eq!(count, 1);
        derive::<Error>(json!({"kind": "ConfigMap"}), |_, _, _| panic!("derived")).unwrap();
    }
}
