//! `--write-fixed`'s documents: the input with the policy's changes and nothing else.

use policy_host::chain::INJECTED;
use serde_json::Value;

/// The input document with the policy's changes and nothing else: `admitted` without what the
/// API server added before the webhook (`sent`): the namespace of a document that had none,
/// and on a Pod the ServiceAccount plugin's defaults and token volume. A manifest written with
/// `-n jhub` baked in would be refused by `kubectl apply -n other` and pinned to that namespace
/// by GitOps tools.
pub(crate) fn as_written(original: &Value, sent: &Value, admitted: &Value) -> Value {
    let mut out = admitted.clone();
    if original["metadata"].get("namespace").is_none()
        && let Some(metadata) = out["metadata"].as_object_mut()
    {
        metadata.remove("namespace");
    }
    if out["kind"] != "Pod" {
        return out;
    }
    let Some(spec) = out["spec"].as_object_mut() else {
        return out;
    };
    if original["spec"].get("serviceAccountName").is_none()
        && spec.get("serviceAccountName") == sent["spec"].get("serviceAccountName")
    {
        spec.remove("serviceAccountName");
    }
    // The deprecated field, which the API server fills in from serviceAccountName.
    if original["spec"].get("serviceAccount").is_none()
        && (spec.get("serviceAccount") == sent["spec"].get("serviceAccount")
            || spec.get("serviceAccount") == spec.get("serviceAccountName"))
    {
        spec.remove("serviceAccount");
    }
    let injected = |v: &Value| v["name"] == INJECTED;
    let had_injected = original["spec"]["volumes"]
        .as_array()
        .is_some_and(|v| v.iter().any(injected));
    if had_injected {
        return out;
    }
    if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
        volumes.retain(|v| !injected(v));
        if volumes.is_empty() && original["spec"].get("volumes").is_none() {
            spec.remove("volumes");
        }
    }
    for list in ["initContainers", "containers"] {
        let Some(Value::Array(containers)) = spec.get_mut(list) else {
            continue;
        };
        for (i, container) in containers.iter_mut().enumerate() {
            let Some(container) = container.as_object_mut() else {
                continue;
            };
            if let Some(Value::Array(mounts)) = container.get_mut("volumeMounts") {
                mounts.retain(|m| !injected(m));
                if mounts.is_empty() && original["spec"][list][i].get("volumeMounts").is_none() {
                    container.remove("volumeMounts");
                }
            }
        }
    }
    out
}
