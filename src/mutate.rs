//! Applying remedies to the raw JSON object, as edits of its text.
//!
//! The object is never rebuilt: the levels on the way to the pod spec, and the lists a remedy
//! edits, are read only to find where their members are, and the result is the request's text
//! with a few spans replaced. Every other byte (fields unknown to k8s-openapi, key order, number
//! spellings, string escapes, whitespace) is copied through unchanged, and a mutation costs one
//! copy of the object. The host diffs the result against the original into a JSON patch.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::checks::Remedy;
use crate::json::{self, CowStr};
use crate::kinds::ResourceKind;
use crate::workload::CONTAINER_LISTS;

/// The members of one JSON object, their values left as slices of its text. Under the input
/// contract a key appears once; the decoded view had refused a repeated one it reads anyway.
type Members<'a> = BTreeMap<CowStr<'a>, &'a RawValue>;

fn members(text: &str) -> Result<Members<'_>, String> {
    serde_json::from_str(text).map_err(|e| format!("cannot open the object to mutate it: {e}"))
}

/// The edits of one mutation: spans of the object's text (byte offsets into it) and what
/// replaces them. Every value read while looking for them is a slice of that same text, which
/// is how a value's offset is known.
struct Edits<'a> {
    text: &'a str,
    spans: Vec<(usize, usize, String)>,
}

impl<'a> Edits<'a> {
    /// Where `part`, a slice of the object's text, starts in it.
    fn offset(&self, part: &str) -> Result<usize, String> {
        (part.as_ptr() as usize)
            .checked_sub(self.text.as_ptr() as usize)
            .filter(|start| start + part.len() <= self.text.len())
            .ok_or_else(|| "cannot mutate the object: a value is not part of its text".into())
    }

    fn replace(&mut self, value: &RawValue, with: String) -> Result<(), String> {
        let start = self.offset(value.get())?;
        self.add(start, start + value.get().len(), with);
        Ok(())
    }

    /// Keeps the spans in text order as they come (a handful per mutation).
    fn add(&mut self, start: usize, end: usize, with: String) {
        let at = self.spans.partition_point(|(s, ..)| *s <= start);
        self.spans.insert(at, (start, end, with));
    }

    /// The text with every edit made. Edits never overlap: each replaces a different member,
    /// or inserts right after an object's opening brace.
    fn apply(self) -> Result<String, String> {
        let mut out = String::with_capacity(self.text.len() + 128);
        let mut copied = 0;
        for (start, end, with) in &self.spans {
            let before = self
                .text
                .get(copied..*start)
                .ok_or("cannot mutate the object: overlapping edits")?;
            out.push_str(before);
            out.push_str(with);
            copied = *end;
        }
        out.push_str(self.text.get(copied..).unwrap_or_default());
        Ok(out)
    }
}

fn json_string(s: &str) -> Result<String, String> {
    serde_json::to_string(s).map_err(|e| format!("cannot write the mutated object: {e}"))
}

/// Returns the object's JSON text with the remedies applied: JSON by construction, since every
/// edit replaces a whole value with JSON serde_json wrote, or inserts whole members. Called only
/// after the object decoded, so a missing pod spec here means the JSON is not what the decoder
/// saw: an error, not a panic.
pub fn apply(kind: ResourceKind, raw: &str, remedies: &[&Remedy]) -> Result<String, String> {
    let mut edits = Edits {
        text: raw,
        spans: Vec::new(),
    };
    let path = kind.pod_spec_path();
    let spec = json::find(raw, path)
        .map_err(|e| format!("cannot open the object to mutate it: {e}"))?
        .ok_or_else(|| format!("the object has no {} to mutate", path.join(".")))?;
    edit_spec(&mut edits, spec.get(), remedies)?;
    edits.apply()
}

/// Sets the fields the remedies name (in place when present, else inserted first) and removes
/// the injected volumes.
fn edit_spec<'a>(edits: &mut Edits<'a>, spec: &'a str, remedies: &[&Remedy]) -> Result<(), String> {
    let fields = members(spec)?;
    // Each field is written once and each list rewritten once, however many remedies name it,
    // so no two edits touch the same span.
    let mut set: Vec<(&str, String)> = Vec::new();
    let mut removed: Vec<&str> = Vec::new();
    for remedy in remedies {
        let (key, value) = match remedy {
            Remedy::SetServiceAccountName(sa) => ("serviceAccountName", json_string(sa)?),
            Remedy::SetDeprecatedServiceAccount(sa) => ("serviceAccount", json_string(sa)?),
            Remedy::SetAutomountFalse => ("automountServiceAccountToken", "false".to_owned()),
            Remedy::RemoveInjectedVolume(name) => {
                removed.push(name);
                continue;
            }
        };
        set.retain(|(k, _)| *k != key);
        set.push((key, value));
    }
    let mut inserted = Vec::new();
    for (key, value) in set {
        match fields.get(key) {
            Some(present) => edits.replace(present, value)?,
            None => inserted.push(format!("\"{key}\":{value}")),
        }
    }
    if !inserted.is_empty() {
        let mut text = inserted.join(",");
        if !fields.is_empty() {
            text.push(',');
        }
        let after_brace = edits.offset(spec)? + 1;
        edits.add(after_brace, after_brace, text);
    }
    if !removed.is_empty() {
        remove_volumes(edits, &fields, &removed)?;
    }
    Ok(())
}

fn named(item: &RawValue, names: &[&str]) -> bool {
    #[derive(Deserialize)]
    struct Named<'a> {
        #[serde(default, borrow)]
        name: Option<CowStr<'a>>,
    }
    serde_json::from_str::<Named<'_>>(item.get())
        .ok()
        .and_then(|n| n.name)
        .is_some_and(|n| names.contains(&n.as_str()))
}

/// Replaces a JSON list by the same list without the entries named in `names`; anything that is
/// not a list, or has no such entry, is left alone.
fn drop_named(edits: &mut Edits<'_>, list: &RawValue, names: &[&str]) -> Result<(), String> {
    let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(list.get()) else {
        return Ok(());
    };
    let kept: Vec<&str> = items
        .iter()
        .filter(|i| !named(i, names))
        .map(|i| i.get())
        .collect();
    if kept.len() == items.len() {
        return Ok(());
    }
    edits.replace(list, format!("[{}]", kept.join(",")))
}

/// Removes the volumes and exactly their mounts; the lists themselves stay, even when emptied,
/// so the patch touches nothing else.
fn remove_volumes(edits: &mut Edits<'_>, spec: &Members<'_>, names: &[&str]) -> Result<(), String> {
    if let Some(volumes) = spec.get("volumes") {
        drop_named(edits, volumes, names)?;
    }
    for list in CONTAINER_LISTS {
        let Some(containers) = spec.get(list) else {
            continue;
        };
        let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(containers.get()) else {
            continue;
        };
        for container in items {
            let Ok(container) = members(container.get()) else {
                continue;
            };
            if let Some(mounts) = container.get("volumeMounts") {
                drop_named(edits, mounts, names)?;
            }
        }
    }
    Ok(())
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
            out.as_str(),
            r#"{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"serviceAccountName":"sa","automountServiceAccountToken":false,"x-unknown":{"keep":[1,2.5e300]},"serviceAccount":"sa"}}}}}}"#
        );
    }

    #[test]
    fn untouched_text_is_copied_exactly() {
        let raw = "{\"spec\": {\"big\":123456789012345678901234567890, \"s\":\"\\u00e9\\n\",\n \"f\":1.50,\"serviceAccountName\" : \"x\"}, \"z\":[ ]}";
        let out = apply(
            ResourceKind::Pod,
            raw,
            &[&Remedy::SetServiceAccountName("y\"".into())],
        )
        .expect("mutates");
        assert_eq!(out.as_str(), raw.replace(r#": "x""#, r#": "y\"""#));
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
            out.as_str(),
            r#"{"spec":{"automountServiceAccountToken":false }}"#
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
            r#"{"metadata":{"name":"x"},"automountServiceAccountToken":true}"#,
            &[&Remedy::SetAutomountFalse],
        )
        .expect("mutates");
        assert_eq!(
            out.as_str(),
            r#"{"metadata":{"name":"x"},"automountServiceAccountToken":false}"#
        );
    }
}
