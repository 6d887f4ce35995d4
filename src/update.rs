//! What an UPDATE changes in the pod template, the only part of an object the rules read that a
//! controller copies into Pods. Compared as JSON values, read from the request's text: key order,
//! spacing and string escapes do not count; a number counts as spelled (the API server spells
//! the same number the same way, and a respelled one only means the UPDATE is judged in full).

use serde_json::value::RawValue;

use crate::json::{self, CowStr, Members};
use crate::kinds::ResourceKind;

fn at<'t>(text: &'t str, path: &[&str]) -> Option<&'t str> {
    json::find(text, path).ok().flatten().map(RawValue::get)
}

/// The pod spec and the labels that decide the role. Missing labels, `null` labels and an empty
/// label map are the same label set.
fn template(kind: ResourceKind, object: &str) -> (Option<&str>, Option<&str>) {
    let template = at(object, kind.pod_template_path());
    let spec = template.and_then(|t| at(t, &["spec"]));
    let labels = template
        .and_then(|t| at(t, &["metadata", "labels"]))
        .filter(|l| *l != "null" && Members::of(l).map_or(true, |m| !m.is_empty()));
    (spec, labels)
}

/// Whether two JSON texts hold the same value. Anything that does not read as JSON differs.
fn same(a: &str, b: &str) -> bool {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(b'{'), Some(b'{')) => {
            let (Ok(a), Ok(b)) = (Members::of(a), Members::of(b)) else {
                return false;
            };
            // A repeated key is ambiguous: count it as a change.
            let once = |m: &Members<'_>, key: &CowStr<'_>| {
                m.iter().filter(|(k, _)| *k == key).count() == 1
            };
            a.iter().count() == b.iter().count()
                && a.iter().all(|(key, value)| {
                    once(&a, key)
                        && once(&b, key)
                        && b.get(key.as_str())
                            .is_some_and(|v| same(value.get(), v.get()))
                })
        }
        (Some(b'['), Some(b'[')) => {
            let (Ok(a), Ok(b)) = (
                serde_json::from_str::<Vec<&RawValue>>(a),
                serde_json::from_str::<Vec<&RawValue>>(b),
            ) else {
                return false;
            };
            a.len() == b.len() && a.iter().zip(&b).all(|(a, b)| same(a.get(), b.get()))
        }
        (Some(b'"'), Some(b'"')) => {
            match (
                serde_json::from_str::<CowStr<'_>>(a),
                serde_json::from_str::<CowStr<'_>>(b),
            ) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            }
        }
        _ => a == b,
    }
}

fn same_part(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => same(a, b),
        _ => false,
    }
}

/// Whether `new` carries the same pod template as the stored `old`. Only called for an UPDATE
/// that breaks a rule, or that may start Pods, so the reading it costs is off the hot path. An
/// old object that is missing or unreadable counts as a change: the new one is then judged in
/// full.
pub fn template_unchanged(kind: ResourceKind, new: &str, old: Option<&str>) -> bool {
    let Some(old) = old else { return false };
    if Members::of(old).is_err() {
        return false;
    }
    let (new_spec, new_labels) = template(kind, new);
    let (old_spec, old_labels) = template(kind, old);
    same_part(new_spec, old_spec) && same_part(new_labels, old_labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DS: &str = r#"{"metadata":{"labels":{"a":"1"},"annotations":{"x":"1"}},"spec":{"replicas":1,
        "template":{"metadata":{"labels":{"component":"hook-image-puller"}},"spec":{"serviceAccountName":"default","containers":[{"name":"c"}]}}}}"#;

    #[test]
    fn only_the_pod_template_counts() {
        let k = ResourceKind::DaemonSet;
        // Reordered keys, other metadata and other spec fields: unchanged.
        let same = r#"{"spec":{"template":{"spec":{"containers":[{"name":"c"}],"serviceAccountName":"default"},
            "metadata":{"labels":{"component":"hook-image-puller"},"annotations":{"new":"x"}}},"replicas":5},
            "metadata":{"labels":{"b":"2"},"ownerReferences":[]}}"#;
        assert!(template_unchanged(k, same, Some(DS)));
        let relabelled = DS.replace(
            r#""component":"hook-image-puller""#,
            r#""component":"other""#,
        );
        assert!(!template_unchanged(k, &relabelled, Some(DS)));
        let respecced = DS.replace(r#""name":"c""#, r#""name":"d""#);
        assert!(!template_unchanged(k, &respecced, Some(DS)));
        assert!(!template_unchanged(k, DS, None));
        assert!(!template_unchanged(k, DS, Some("not json")));
    }

    #[test]
    fn values_compare_as_json_not_as_text() {
        let k = ResourceKind::Pod;
        let old =
            r#"{"spec":{"a":[1,{"b":"x","c":null}],"d":true},"metadata":{"labels":{"l":"v"}}}"#;
        // Spacing, key order and string escapes do not count.
        let respelled = "{ \"metadata\": {\"labels\": {\"\\u006c\": \"\\u0076\"}},\n \"spec\": {\"d\": true, \"a\": [ 1, {\"c\": null, \"b\": \"\\u0078\"} ]}}";
        assert!(template_unchanged(k, respelled, Some(old)));
        // List order, values, types, repeated keys and number spellings do.
        for changed in [
            r#"{"spec":{"a":[{"b":"x","c":null},1],"d":true},"metadata":{"labels":{"l":"v"}}}"#,
            r#"{"spec":{"a":[1,{"b":"y","c":null}],"d":true},"metadata":{"labels":{"l":"v"}}}"#,
            r#"{"spec":{"a":[1,{"b":"x","c":false}],"d":true},"metadata":{"labels":{"l":"v"}}}"#,
            r#"{"spec":{"a":[1,{"b":"x","c":null}],"d":"true"},"metadata":{"labels":{"l":"v"}}}"#,
            r#"{"spec":{"a":[1,{"b":"x","b":"x"}],"d":true},"metadata":{"labels":{"l":"v"}}}"#,
            r#"{"spec":{"a":[1.0,{"b":"x","c":null}],"d":true},"metadata":{"labels":{"l":"v"}}}"#,
            r#"{"spec":{"a":[1,{"b":"x","c":null}],"d":true,"e":1},"metadata":{"labels":{"l":"v"}}}"#,
            r#"{"spec":{"a":[1,{"b":"x","c":null}],"d":true}}"#,
        ] {
            assert!(!template_unchanged(k, changed, Some(old)), "{changed}");
        }
    }

    #[test]
    fn pods_are_their_own_template() {
        let k = ResourceKind::Pod;
        let old = r#"{"metadata":{"labels":{"a":"1"}},"spec":{"containers":[]}}"#;
        let annotated =
            r#"{"metadata":{"labels":{"a":"1"},"annotations":{"b":"2"}},"spec":{"containers":[]}}"#;
        assert!(template_unchanged(k, annotated, Some(old)));
        let relabelled = r#"{"metadata":{"labels":{"a":"2"}},"spec":{"containers":[]}}"#;
        assert!(!template_unchanged(k, relabelled, Some(old)));
        // No labels and empty labels are the same set.
        assert!(template_unchanged(
            k,
            r#"{"metadata":{"labels":{}},"spec":{}}"#,
            Some(r#"{"metadata":{},"spec":{}}"#)
        ));
    }
}
