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
pub struct Outcome {
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

/// What the API server does to a Pod before mutating webhooks: v1 decoding fills
/// `serviceAccountName` from the deprecated `serviceAccount`, the plugin defaults it to
/// `default` and, unless the pod spec turns automount off, mounts a projected token in every
/// container and init container. (A ServiceAccount object with automount off would also stop
/// it; the harness assumes the chart's, which leave it on.)
pub fn service_account_plugin(pod: &mut Value) {
    let spec = &mut pod["spec"];
    let name = spec["serviceAccountName"]
        .as_str()
        .filter(|s| !s.is_empty())
        .or_else(|| spec["serviceAccount"].as_str().filter(|s| !s.is_empty()))
        .unwrap_or("default")
        .to_owned();
    spec["serviceAccountName"] = json!(name);
    spec["serviceAccount"] = json!(name);
    if spec["automountServiceAccountToken"] == json!(false) {
        return;
    }
    let volume = json!({"name": INJECTED, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}});
    match spec["volumes"].as_array_mut() {
        Some(volumes) => volumes.push(volume),
        None => spec["volumes"] = json!([volume]),
    }
    for list in ["initContainers", "containers"] {
        if let Some(containers) = spec[list].as_array_mut() {
            for c in containers {
                let mount = json!({"name": INJECTED, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true});
                match c["volumeMounts"].as_array_mut() {
                    Some(mounts) => mounts.push(mount),
                    None => c["volumeMounts"] = json!([mount]),
                }
            }
        }
    }
}

/// Removes the injected volume and its mounts: the one change allowed on a derived Pod.
fn without_injected(pod: &Value) -> Value {
    let mut pod = pod.clone();
    let spec = &mut pod["spec"];
    if let Some(volumes) = spec["volumes"].as_array_mut() {
        volumes.retain(|v| v["name"] != INJECTED);
    }
    for list in ["initContainers", "containers"] {
        if let Some(containers) = spec[list].as_array_mut() {
            for c in containers {
                if let Some(mounts) = c["volumeMounts"].as_array_mut() {
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

/// Admits `root` as an administrator and checks the law down the whole chain.
pub fn run(policy: &Policy, root: &Value, settings: &Value) -> Result<Outcome> {
    run_with_host(policy, &Host::without_context_aware(), root, settings)
}

/// [`run`] with `host` answering the module's lookups (`requireExistingServiceAccounts`).
pub fn run_with_host<K: Kubernetes + 'static>(
    policy: &Policy,
    host: &Host<K>,
    root: &Value,
    settings: &Value,
) -> Result<Outcome> {
    let admin = "kubernetes-admin";
    let (admitted, patched) = admit(policy, host, root, settings, admin)?;
    let Some(admitted) = admitted else {
        return Ok(Outcome {
            root: Root::Rejected,
            derived: 0,
            steps: vec![step(root, admin, "REJECT")],
        });
    };
    let mut steps = vec![step(root, admin, if patched { "MUTATE" } else { "ACCEPT" })];
    let mut derived = 0;
    let mut queue = vec![admitted];
    while let Some(parent) = queue.pop() {
        let parent_kind = kind_of(&parent)?.to_owned();
        for child in children(&parent)? {
            let child_kind = kind_of(&child)?.to_owned();
            let user = controller_user(&parent_kind);
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
            queue.push(admitted);
        }
    }
    Ok(Outcome {
        root: if patched {
            Root::Mutated
        } else {
            Root::Accepted
        },
        derived,
        steps,
    })
}
