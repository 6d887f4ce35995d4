//! What the API server keeps of a `pods/ephemeralcontainers` UPDATE, which is what the policy
//! judges of it.
//!
//! The subresource's strategy (`podEphemeralContainersStrategy.PrepareForUpdate`, in
//! Kubernetes' `pkg/registry/core/pod/strategy.go`) runs after the mutating webhooks and replaces
//! the request's Pod by `dropNonEphemeralContainerUpdates(new, old)`: a copy of the stored Pod
//! with only `spec.ephemeralContainers` (and the name, namespace, uid and resourceVersion, which
//! must agree anyway) taken from the request's body. Labels, volumes, containers and everything
//! else in the body are dropped. Judging the body as sent would let a body that relabels the
//! Pod, or leaves out a volume a debug container mounts, decide for a Pod that is never stored.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::json::{self, CowStr};

/// The Pod the API server will store: `old` (the request's `oldObject`, the stored Pod) with
/// the `spec.ephemeralContainers` of `new` (the request's body), as JSON text. Every byte of
/// `old` but that one member's value is copied through, so an UPDATE that adds no ephemeral
/// container yields `old` itself. A body without ephemeral containers gives `null` there (the
/// API server refuses to remove them; the policy judges what is left).
pub(crate) fn stored_pod(old: &str, new: &str) -> Result<String, String> {
    let cannot = |what: &str, e: serde_json::Error| format!("cannot decode the {what}: {e}");
    let containers = json::find(new, &["spec", "ephemeralContainers"])
        .map_err(|e| cannot("Pod of the ephemeralcontainers UPDATE", e))?
        .map_or("null", RawValue::get);
    let spec = json::find(old, &["spec"])
        .map_err(|e| cannot("stored Pod (oldObject)", e))?
        .ok_or("the stored Pod (oldObject) of the ephemeralcontainers UPDATE has no spec")?;
    let members: BTreeMap<CowStr<'_>, &RawValue> =
        serde_json::from_str(spec.get()).map_err(|e| cannot("stored Pod's spec", e))?;
    // Both values are slices of `old`: their offsets say where to splice.
    let at = |part: &str| {
        (part.as_ptr() as usize)
            .checked_sub(old.as_ptr() as usize)
            .filter(|start| start + part.len() <= old.len())
            .ok_or("cannot decode the stored Pod (oldObject): a value is not part of its text")
    };
    let (start, end, with) = match members.get("ephemeralContainers") {
        Some(value) => {
            let start = at(value.get())?;
            (start, start + value.get().len(), containers.to_owned())
        }
        None if containers == "null" => return Ok(old.to_owned()),
        None => {
            let after_brace = at(spec.get())? + 1;
            let comma = if members.is_empty() { "" } else { "," };
            let member = format!("\"ephemeralContainers\":{containers}{comma}");
            (after_brace, after_brace, member)
        }
    };
    let (before, after) = (old.get(..start), old.get(end..));
    match (before, after) {
        (Some(before), Some(after)) => Ok(format!("{before}{with}{after}")),
        _ => {
            Err("cannot decode the stored Pod (oldObject): a value is not part of its text".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const OLD: &str = r#"{"metadata":{"labels":{"component":"hook-image-puller"},"name":"p"},"spec":{"containers":[{"name":"c"}],"volumes":[{"name":"v"}]}}"#;

    fn value(text: &str) -> Value {
        serde_json::from_str(text).expect("JSON")
    }

    #[test]
    fn only_the_ephemeral_containers_of_the_body_are_kept() {
        // The body relabels the Pod and drops its volume: neither reaches the stored Pod.
        let new = r#"{"metadata":{"labels":{"app":"debug"},"name":"p"},"spec":{"containers":[],"ephemeralContainers":[{"name":"debugger","volumeMounts":[{"name":"v","mountPath":"/d"}]}]}}"#;
        let stored = stored_pod(OLD, new).expect("merges");
        assert_eq!(
            value(&stored),
            json!({"metadata":{"labels":{"component":"hook-image-puller"},"name":"p"},
                "spec":{"ephemeralContainers":[{"name":"debugger","volumeMounts":[{"name":"v","mountPath":"/d"}]}],
                    "containers":[{"name":"c"}],"volumes":[{"name":"v"}]}})
        );
        // A second debug container replaces the stored list, the rest copied byte for byte.
        let again = r#"{"spec":{"ephemeralContainers":[{"name":"a"},{"name":"b"}]}}"#;
        assert_eq!(
            stored_pod(&stored, again).expect("merges"),
            OLD.replace(
                r#""spec":{"#,
                r#""spec":{"ephemeralContainers":[{"name":"a"},{"name":"b"}],"#
            )
        );
    }

    #[test]
    fn nothing_to_add_is_the_stored_pod_itself() {
        assert_eq!(stored_pod(OLD, r#"{"spec":{}}"#).as_deref(), Ok(OLD));
        assert_eq!(stored_pod(OLD, "{}").as_deref(), Ok(OLD));
        let empty = r#"{"spec":{}}"#;
        assert_eq!(
            stored_pod(empty, r#"{"spec":{"ephemeralContainers":[]}}"#).as_deref(),
            Ok(r#"{"spec":{"ephemeralContainers":[]}}"#)
        );
        let with = r#"{"spec":{"ephemeralContainers":[{"name":"e"}]}}"#;
        assert_eq!(
            stored_pod(with, "{}").as_deref(),
            Ok(r#"{"spec":{"ephemeralContainers":null}}"#)
        );
    }

    #[test]
    fn unreadable_objects_are_errors() {
        assert!(stored_pod("{}", OLD).unwrap_err().contains("has no spec"));
        assert!(stored_pod(r#"{"spec":[]}"#, OLD).is_err());
        assert!(stored_pod(OLD, r#"{"spec":7}"#).is_err());
        assert!(stored_pod("not json", OLD).is_err());
    }
}
