//! Applying remedies to the request's object.
//!
//! The object is parsed into a `serde_json::Value`, the remedies change its pod spec, and the
//! result is written back. Under the input contract (`src/request.rs`) the object is what
//! serde_json wrote from the host's own `Value`, so the round trip keeps every other field,
//! unknown ones included, with its numbers and strings as the host holds them. The host diffs
//! the result against its original into a JSON patch of the changed fields only.

use serde_json::{Map, Value};

use crate::checks::Remedy;
use crate::kinds::ResourceKind;
use crate::workload::CONTAINER_LISTS;

/// The object `raw` with `remedies` applied at the kind's pod spec (a ServiceAccount's own
/// fields for a ServiceAccount).
pub fn apply(kind: ResourceKind, raw: &str, remedies: &[&Remedy]) -> Result<String, String> {
    let mut object: Value = serde_json::from_str(raw)
        .map_err(|e| format!("cannot open the object to mutate it: {e}"))?;
    let path = kind.pod_spec_path();
    let spec = path
        .iter()
        .try_fold(&mut object, |v, key| v.get_mut(*key))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("the object has no {} to mutate", path.join(".")))?;
    for remedy in remedies {
        let (key, value) = match remedy {
            Remedy::SetServiceAccountName(sa) => ("serviceAccountName", Value::from(sa.as_str())),
            Remedy::SetDeprecatedServiceAccount(sa) => ("serviceAccount", Value::from(sa.as_str())),
            Remedy::SetAutomountFalse => ("automountServiceAccountToken", Value::Bool(false)),
            Remedy::RemoveInjectedVolume(name) => {
                remove_volume(spec, name);
                continue;
            }
        };
        spec.insert(key.into(), value);
    }
    serde_json::to_string(&object).map_err(|e| format!("cannot write the mutated object: {e}"))
}

/// Removes the volume `name` and every container's mounts of it; entries that are not objects
/// are left where they are.
fn remove_volume(spec: &mut Map<String, Value>, name: &str) {
    let named = |v: &Value| v.get("name").and_then(Value::as_str) == Some(name);
    if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
        volumes.retain(|v| !named(v));
    }
    for list in CONTAINER_LISTS {
        let containers = spec.get_mut(list).and_then(Value::as_array_mut);
        for container in containers.into_iter().flatten() {
            if let Some(Value::Array(mounts)) = container.get_mut("volumeMounts") {
                mounts.retain(|m| !named(m));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn value(text: &str) -> Value {
        serde_json::from_str(text).expect("valid JSON")
    }

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
            value(&out),
            json!({"spec":{"jobTemplate":{"spec":{"template":{"spec":{"serviceAccountName":"sa",
                "automountServiceAccountToken":false,"x-unknown":{"keep":[1,2.5e300]},"serviceAccount":"sa"}}}}}})
        );
    }

    #[test]
    fn every_other_field_is_kept_as_the_host_wrote_it() {
        // What a host sends: serde_json's writing of a Value. Unknown fields, floats, escapes
        // and unicode come back as they were; only the remedied field differs.
        let object = json!({"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Pending"},
            "metadata": {"name": "p", "x-future": [1, -2, 1.5, 2.5e300, null, {"s": "é\n\"q"}]},
            "spec": {"big": 18446744073709551615u64, "serviceAccountName": "x", "zz": {}}});
        let raw = serde_json::to_string(&object).expect("serialises");
        let out = apply(
            ResourceKind::Pod,
            &raw,
            &[&Remedy::SetServiceAccountName("y\"".into())],
        )
        .expect("mutates");
        let mut expected = object;
        expected["spec"]["serviceAccountName"] = json!("y\"");
        assert_eq!(out, serde_json::to_string(&expected).expect("serialises"));
    }

    #[test]
    fn inserts_into_an_empty_spec() {
        let out = apply(
            ResourceKind::Pod,
            r#"{"spec":{ }}"#,
            &[&Remedy::SetAutomountFalse],
        )
        .expect("mutates");
        assert_eq!(
            value(&out),
            json!({"spec":{"automountServiceAccountToken":false}})
        );
    }

    #[test]
    fn removes_exactly_the_volume_and_its_mounts() {
        let raw = r#"{"spec":{"volumes":[{"name":"data"},{"name":"kube-api-access-1"}],
            "containers":[{"name":"c","volumeMounts":[{"name":"data","mountPath":"/d"},{"name":"kube-api-access-1","mountPath":"/t"}]}],
            "initContainers":[{"name":"i","volumeMounts":[{"name":"kube-api-access-1","mountPath":"/t"}]},"odd",{"volumeMounts":7}],
            "ephemeralContainers":[{"name":"e"}]}}"#;
        let out = apply(
            ResourceKind::Pod,
            raw,
            &[
                &Remedy::RemoveInjectedVolume("kube-api-access-1".into()),
                &Remedy::SetAutomountFalse,
            ],
        )
        .expect("mutates");
        assert_eq!(
            value(&out),
            json!({"spec":{"automountServiceAccountToken":false,"volumes":[{"name":"data"}],
                "containers":[{"name":"c","volumeMounts":[{"name":"data","mountPath":"/d"}]}],
                "initContainers":[{"name":"i","volumeMounts":[]},"odd",{"volumeMounts":7}],
                "ephemeralContainers":[{"name":"e"}]}})
        );
    }

    #[test]
    fn two_injected_volumes_and_repeated_remedies() {
        let raw = r#"{"spec":{"volumes":[{"name":"a"},{"name":"b"},{"name":"c"}],
            "containers":[{"volumeMounts":[{"name":"a"},{"name":"c"},{"name":"b"}]}]}}"#;
        let out = apply(
            ResourceKind::Pod,
            raw,
            &[
                &Remedy::RemoveInjectedVolume("a".into()),
                &Remedy::SetAutomountFalse,
                &Remedy::RemoveInjectedVolume("b".into()),
                &Remedy::SetAutomountFalse,
            ],
        )
        .expect("mutates");
        assert_eq!(
            value(&out),
            json!({"spec":{"automountServiceAccountToken":false,"volumes":[{"name":"c"}],
                "containers":[{"volumeMounts":[{"name":"c"}]}]}})
        );
    }

    #[test]
    fn missing_spec_is_an_error() {
        assert_eq!(
            apply(ResourceKind::Pod, "{}", &[&Remedy::SetAutomountFalse]),
            Err("the object has no spec to mutate".to_owned())
        );
        assert!(
            apply(ResourceKind::Pod, "{", &[&Remedy::SetAutomountFalse])
                .is_err_and(|e| e.starts_with("cannot open the object to mutate it"))
        );
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
            r#"{"metadata":{"name":"x"},"automountServiceAccountToken":true}"#,
            &[&Remedy::SetAutomountFalse],
        )
        .expect("mutates");
        assert_eq!(
            value(&out),
            json!({"metadata":{"name":"x"},"automountServiceAccountToken":false})
        );
    }
}
