//! Kubernetes' tables and conventions the check needs: which kinds are cluster-scoped, the
//! resource of a kind, where a workload keeps its pod spec, what a stored object looks like.

use policy_host::chain::gvr;
use serde_json::Value;

/// Kinds without a namespace: their requests carry none.
pub(crate) const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "CustomResourceDefinition",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ClusterAdmissionPolicy",
    "ClusterAdmissionPolicyGroup",
    "PolicyServer",
    "RuntimeClass",
    "CSIDriver",
    "VolumeAttachment",
];

/// The group, version and resource of an object: the workload kinds as the API server names
/// them, any other kind by Kubernetes' plural convention (only compared with the rules).
pub fn resource_of(object: &Value) -> (String, String, String) {
    let kind = object["kind"].as_str().unwrap_or_default();
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let resource = match gvr(kind) {
        Ok((_, _, resource)) => resource.to_owned(),
        Err(_) => {
            let lower = kind.to_ascii_lowercase();
            if lower == "serviceaccount" {
                "serviceaccounts".into()
            } else if let Some(stem) = lower.strip_suffix('y') {
                format!("{stem}ies")
            } else if lower.ends_with('s') || lower.ends_with("ch") {
                format!("{lower}es")
            } else {
                format!("{lower}s")
            }
        }
    };
    (group.to_owned(), version.to_owned(), resource)
}

/// Whether the object is already stored: it has a uid or a creation time (a `kubectl get` dump).
pub fn is_stored(object: &Value) -> bool {
    let m = &object["metadata"];
    m.get("uid").is_some_and(|v| !v.is_null())
        || m.get("creationTimestamp").is_some_and(|v| !v.is_null())
}

/// The ServiceAccount a pod spec runs as: `serviceAccountName`, else the deprecated
/// `serviceAccount` (v1 decoding copies it), else `default`.
pub fn runs_as(spec: &Value) -> &str {
    spec["serviceAccountName"]
        .as_str()
        .filter(|s| !s.is_empty())
        .or_else(|| spec["serviceAccount"].as_str().filter(|s| !s.is_empty()))
        .unwrap_or("default")
}

/// The pod spec of a Pod or of a workload's pod template (`Null` when there is none).
pub fn pod_spec(object: &Value) -> &Value {
    match object["kind"].as_str().unwrap_or_default() {
        "Pod" => &object["spec"],
        "CronJob" => &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        _ => &object["spec"]["template"]["spec"],
    }
}

/// Where a workload kind keeps its pod template (a JSON pointer); `None` for other kinds.
pub(crate) fn pod_template(kind: &str) -> Option<&'static str> {
    match kind {
        "CronJob" => Some("/spec/jobTemplate/spec/template"),
        "DaemonSet"
        | "Deployment"
        | "StatefulSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => Some("/spec/template"),
        _ => None,
    }
}

/// `metadata.name`, else `metadata.generateName`.
pub(crate) fn name_of(object: &Value) -> &str {
    object["metadata"]["name"]
        .as_str()
        .or_else(|| object["metadata"]["generateName"].as_str())
        .unwrap_or_default()
}
