//! Applying remedies to the raw JSON object.
//!
//! Only the objects on the way to the pod spec (and the lists it edits) are opened, as maps of
//! raw JSON slices; every other value is copied through as the exact text the request carried.
//! So fields unknown to k8s-openapi, number spellings and string escapes survive untouched, and
//! a mutation costs a copy of the object rather than a parse into a tree and back. The host
//! diffs the result against the original into a JSON patch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::checks::Remedy;
use crate::json::CowStr;
use crate::kinds::ResourceKind;

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// A JSON value: as found in the request, or written by the policy.
#[derive(Serialize)]
#[serde(untagged)]
enum Node<'a> {
    Raw(&'a RawValue),
    Owned(Box<RawValue>),
}

impl Node<'_> {
    fn text(&self) -> &str {
        match self {
            Node::Raw(r) => r.get(),
            Node::Owned(r) => r.get(),
        }
    }
}

/// One level of a JSON object, values left raw. Keys are owned: they may carry escapes.
type Object<'a> = BTreeMap<String, Node<'a>>;

fn open(text: &str) -> Result<Object<'_>, String> {
    let raw: BTreeMap<String, &RawValue> = serde_json::from_str(text)
        .map_err(|e| format!("cannot open the object to mutate it: {e}"))?;
    Ok(raw.into_iter().map(|(k, v)| (k, Node::Raw(v))).collect())
}

fn close<T: Serialize + ?Sized>(value: &T) -> Result<Box<RawValue>, String> {
    serde_json::value::to_raw_value(value)
        .map_err(|e| format!("cannot write the mutated object: {e}"))
}

fn literal(json: &str) -> Result<Node<'static>, String> {
    RawValue::from_string(json.to_owned())
        .map(Node::Owned)
        .map_err(|e| format!("cannot write the mutated object: {e}"))
}

/// Returns the object with the remedies applied. Called only after the object decoded, so a
/// missing pod spec here means the JSON is not what the decoder saw: an error, not a panic.
pub fn apply(kind: ResourceKind, raw: &str, remedies: &[&Remedy]) -> Result<Box<RawValue>, String> {
    edit_at(raw, kind.pod_spec_path(), &mut |spec| {
        apply_to_spec(spec, remedies)
    })
}

/// Opens the objects along `path`, edits the last one, and writes them back up.
fn edit_at(
    text: &str,
    path: &[&str],
    edit: &mut dyn FnMut(&mut Object<'_>) -> Result<(), String>,
) -> Result<Box<RawValue>, String> {
    let mut object = open(text)?;
    match path.split_first() {
        None => edit(&mut object)?,
        Some((segment, rest)) => {
            let child = object
                .get(*segment)
                .ok_or_else(|| format!("the object has no {segment} to mutate"))?;
            let edited = edit_at(child.text(), rest, edit)?;
            object.insert((*segment).to_owned(), Node::Owned(edited));
        }
    }
    close(&object)
}

fn apply_to_spec(spec: &mut Object<'_>, remedies: &[&Remedy]) -> Result<(), String> {
    for remedy in remedies {
        match remedy {
            Remedy::SetServiceAccountName(sa) => {
                spec.insert(
                    "serviceAccountName".into(),
                    Node::Owned(close(sa.as_str())?),
                );
            }
            Remedy::SetDeprecatedServiceAccount(sa) => {
                spec.insert("serviceAccount".into(), Node::Owned(close(sa.as_str())?));
            }
            Remedy::SetAutomountFalse => {
                spec.insert("automountServiceAccountToken".into(), literal("false")?);
            }
            Remedy::RemoveInjectedVolume(name) => remove_volume(spec, name)?,
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(default, borrow)]
    name: Option<CowStr<'a>>,
}

fn named(item: &RawValue, name: &str) -> bool {
    serde_json::from_str::<Named<'_>>(item.get())
        .ok()
        .and_then(|n| n.name)
        .is_some_and(|n| n.as_str() == name)
}

/// Drops the entries of a JSON list named `name`; anything that is not a list is left alone.
fn without_named(list: &str, name: &str) -> Result<Option<Box<RawValue>>, String> {
    let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(list) else {
        return Ok(None);
    };
    if !items.iter().any(|i| named(i, name)) {
        return Ok(None);
    }
    let kept: Vec<&RawValue> = items.into_iter().filter(|i| !named(i, name)).collect();
    close(&kept).map(Some)
}

/// Removes the volume and exactly its mounts; the lists themselves stay, even when emptied, so
/// the patch touches nothing else.
fn remove_volume(spec: &mut Object<'_>, name: &str) -> Result<(), String> {
    if let Some(volumes) = spec.get("volumes")
        && let Some(kept) = without_named(volumes.text(), name)?
    {
        spec.insert("volumes".into(), Node::Owned(kept));
    }
    for list in CONTAINER_LISTS {
        let Some(containers) = spec.get(list) else {
            continue;
        };
        let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(containers.text()) else {
            continue;
        };
        let mut changed = false;
        let mut edited: Vec<Node<'_>> = Vec::with_capacity(items.len());
        for container in items {
            let mut object = match open(container.get()) {
                Ok(o) => o,
                Err(_) => {
                    edited.push(Node::Raw(container));
                    continue;
                }
            };
            let mounts = object
                .get("volumeMounts")
                .map(|m| without_named(m.text(), name));
            match mounts {
                Some(Ok(Some(kept))) => {
                    object.insert("volumeMounts".into(), Node::Owned(kept));
                    edited.push(Node::Owned(close(&object)?));
                    changed = true;
                }
                Some(Err(e)) => return Err(e),
                _ => edited.push(Node::Raw(container)),
            }
        }
        if changed {
            spec.insert(list.into(), Node::Owned(close(&edited)?));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn value(raw: &RawValue) -> Value {
        serde_json::from_str(raw.get()).expect("valid JSON")
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
            json!({"spec":{"jobTemplate":{"spec":{"template":{"spec":{
                "x-unknown":{"keep":[1,2.5e300]},"serviceAccount":"sa","serviceAccountName":"sa",
                "automountServiceAccountToken":false}}}}}})
        );
    }

    #[test]
    fn untouched_values_keep_their_exact_text() {
        let raw = r#"{"spec":{"big":123456789012345678901234567890,"s":"\u00e9\n","f":1.50,"serviceAccountName":"x"}}"#;
        let out = apply(
            ResourceKind::Pod,
            raw,
            &[&Remedy::SetServiceAccountName("y".into())],
        )
        .expect("mutates");
        assert_eq!(
            out.get(),
            r#"{"spec":{"big":123456789012345678901234567890,"f":1.50,"s":"\u00e9\n","serviceAccountName":"y"}}"#
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
            value(&out),
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
            value(&out),
            json!({"metadata":{"name":"x"},"automountServiceAccountToken":false})
        );
    }
}
