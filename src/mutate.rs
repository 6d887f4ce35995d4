//! Applying remedies to the raw JSON object. Working on `serde_json::Value` rather than typed
//! k8s-openapi objects keeps every field the policy does not own, including ones newer than the
//! compiled API version; the host diffs the result against the original into a JSON patch.

use serde_json::{Map, Value};

use crate::checks::Remedy;
use crate::request::ResourceKind;

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// Returns the object with the remedies applied. Called only after the object decoded, so a
/// missing pod spec here means the JSON is not what the decoder saw: an error, not a panic.
pub fn apply(kind: ResourceKind, raw: &str, remedies: &[&Remedy]) -> Result<Value, String> {
    let mut object: Value = serde_json::from_str(raw)
        .map_err(|e| format!("cannot decode the object to mutate it: {e}"))?;
    let mut target = &mut object;
    for segment in kind.pod_spec_path() {
        target = target
            .get_mut(*segment)
            .ok_or_else(|| format!("the object has no {segment} to mutate"))?;
    }
    let target = target
        .as_object_mut()
        .ok_or_else(|| "the pod spec to mutate is not an object".to_owned())?;
    for remedy in remedies {
        match remedy {
            Remedy::SetServiceAccountName(sa) => {
                target.insert("serviceAccountName".into(), Value::String(sa.clone()));
            }
            Remedy::SetDeprecatedServiceAccount(sa) => {
                target.insert("serviceAccount".into(), Value::String(sa.clone()));
            }
            Remedy::SetAutomountFalse => {
                target.insert("automountServiceAccountToken".into(), Value::Bool(false));
            }
            Remedy::RemoveInjectedVolume(name) => remove_volume(target, name),
        }
    }
    Ok(object)
}

fn named(item: &Value, name: &str) -> bool {
    item.get("name").and_then(Value::as_str) == Some(name)
}

/// Removes the volume and exactly its mounts; the lists themselves stay, even when emptied, so
/// the patch touches nothing else.
fn remove_volume(spec: &mut Map<String, Value>, name: &str) {
    if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
        volumes.retain(|v| !named(v, name));
    }
    for list in CONTAINER_LISTS {
        let Some(Value::Array(containers)) = spec.get_mut(list) else {
            continue;
        };
        for container in containers {
            if let Some(Value::Array(mounts)) = container.get_mut("volumeMounts") {
                mounts.retain(|m| !named(m, name));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sets_fields_at_the_kinds_pod_spec() {
        let raw = r#"{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"x-unknown":{"keep":[1,2.5e300]},"serviceAccount":"a"}}}}}}"#;
        let out = apply(
            ResourceKind::CronJob,
            raw,
            &[
                &Remedy::SetServiceAccountName("sa".into()),
                &Remedy::SetDeprecatedServiceAccount("sa".into()),
                &Remedy::SetAutomountFalse,
            ],
        )
        .expect("mutates");
        assert_eq!(
            out,
            json!({"spec":{"jobTemplate":{"spec":{"template":{"spec":{
                "x-unknown":{"keep":[1,2.5e300]},"serviceAccount":"sa","serviceAccountName":"sa",
                "automountServiceAccountToken":false}}}}}})
        );
    }

    #[test]
    fn removes_exactly_the_volume_and_its_mounts() {
        let raw = r#"{"spec":{"volumes":[{"name":"data"},{"name":"kube-api-access-1"}],
            "containers":[{"name":"c","volumeMounts":[{"name":"data","mountPath":"/d"},{"name":"kube-api-access-1","mountPath":"/t"}]}],
            "initContainers":[{"name":"i","volumeMounts":[{"name":"kube-api-access-1","mountPath":"/t"}]}],
            "ephemeralContainers":[{"name":"e"}]}}"#;
        let out = apply(
            ResourceKind::Pod,
            raw,
            &[&Remedy::RemoveInjectedVolume("kube-api-access-1".into())],
        )
        .expect("mutates");
        assert_eq!(
            out,
            json!({"spec":{"volumes":[{"name":"data"}],
                "containers":[{"name":"c","volumeMounts":[{"name":"data","mountPath":"/d"}]}],
                "initContainers":[{"name":"i","volumeMounts":[]}],
                "ephemeralContainers":[{"name":"e"}]}})
        );
    }

    #[test]
    fn missing_spec_is_an_error() {
        assert!(apply(ResourceKind::Pod, "{}", &[&Remedy::SetAutomountFalse]).is_err());
        assert!(
            apply(
                ResourceKind::Pod,
                r#"{"spec":[]}"#,
                &[&Remedy::SetAutomountFalse]
            )
            .is_err()
        );
    }

    #[test]
    fn service_account_objects_are_mutated_at_the_top() {
        let out = apply(
            ResourceKind::ServiceAccount,
            r#"{"metadata":{"name":"x"}}"#,
            &[&Remedy::SetAutomountFalse],
        )
        .expect("mutates");
        assert_eq!(
            out,
            json!({"metadata":{"name":"x"},"automountServiceAccountToken":false})
        );
    }
}
