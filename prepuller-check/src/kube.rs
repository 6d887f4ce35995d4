//! Kubernetes' conventions the check needs: where a workload keeps its pod spec, what a stored
//! object looks like. The kinds it serves (their
//! resource and scope) are policy-host's (`policy_host::kinds`).

use serde_json::Value;

/// Whether the object is already stored: it has a uid or a creation time (a `kubectl get` dump).
pub fn is_stored(object: &Value) -> bool {
    let m = &object["metadata"];
    m.get("uid").is_some_and(|v| !v.is_null())
        || m.get("creationTimestamp").is_some_and(|v| !v.is_null())
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
