//! What an UPDATE changes in the pod template, the only part of an object the rules read that a
//! controller copies into Pods. Compared as JSON values, read from the request's text: key order,
//! spacing and string escapes do not count; a number counts as spelled (the API server spells
//! the same number the same way, and a respelled one only means the UPDATE is judged in full).

use serde_json::value::RawValue;

use crate::guards::MAX_DEPTH;
use crate::json::{self, CowStr, Members};
use crate::kinds::ResourceKind;

fn at<'t>(text: &'t str, path: &[&str]) -> Option<&'t str> {
    json::find(text, path).ok().flatten().map(RawValue::get)
}

/// The pod spec and the labels that decide the role. Missing labels, `null` labels and an empty
/// label map are the same label set. A ServiceAccount has no pod template: what its rule reads
/// is its own `automountServiceAccountToken`.
fn template(kind: ResourceKind, object: &str) -> (Option<&str>, Option<&str>) {
    if kind == ResourceKind::ServiceAccount {
        return (at(object, &["automountServiceAccountToken"]), None);
    }
    let template = at(object, kind.pod_template_path());
    let spec = template.and_then(|t| at(t, &["spec"]));
    let labels = template
        .and_then(|t| at(t, &["metadata", "labels"]))
        .filter(|l| *l != "null" && Members::of(l).map_or(true, |m| !m.is_empty()));
    (spec, labels)
}

/// An object's members sorted by key, so that two objects compare in one walk however many keys
/// they have. A repeated key is ambiguous: `None`, which counts as a change.
fn sorted(text: &str) -> Option<Vec<(CowStr<'_>, &RawValue)>> {
    let mut members = Members::of(text).ok()?.into_vec();
    members.sort_unstable_by(|x, y| x.0.as_str().cmp(y.0.as_str()));
    if members.windows(2).any(|pair| pair[0].0 == pair[1].0) {
        return None;
    }
    Some(members)
}

/// Whether two JSON texts hold the same value. Anything that does not read as JSON differs, and
/// so does anything nested deeper than [`MAX_DEPTH`]: the API server writes nothing that deep,
/// and the walk must not exhaust the guest's stack.
fn same(a: &str, b: &str, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(b'{'), Some(b'{')) => {
            let (Some(a), Some(b)) = (sorted(a), sorted(b)) else {
                return false;
            };
            a.len() == b.len()
                && a.iter()
                    .zip(&b)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va.get(), vb.get(), depth + 1))
        }
        (Some(b'['), Some(b'[')) => {
            let (Ok(a), Ok(b)) = (
                serde_json::from_str::<Vec<&RawValue>>(a),
                serde_json::from_str::<Vec<&RawValue>>(b),
            ) else {
                return false;
            };
            a.len() == b.len()
                && a.iter()
                    .zip(&b)
                    .all(|(a, b)| same(a.get(), b.get(), depth + 1))
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
        (Some(a), Some(b)) => same(a, b, 0),
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
    fn deep_and_wide_objects_are_compared_within_bounds() {
        let k = ResourceKind::Pod;
        let nested = |n: usize| format!(r#"{{"spec":{{"x":{}{}}}}}"#, "[".repeat(n), "]".repeat(n));
        // Deeper than any object the API server writes: a change, not a stack overflow.
        let deep = nested(50_000);
        assert!(!template_unchanged(k, &deep, Some(&deep)));
        let shallow = nested(MAX_DEPTH - 2);
        assert!(template_unchanged(k, &shallow, Some(&shallow)));
        // Many keys: sorted once, not compared pairwise (this took seconds when quadratic).
        let labels: Vec<String> = (0..20_000).map(|i| format!(r#""k{i}":"v""#)).collect();
        let wide = format!(
            r#"{{"metadata":{{"labels":{{{}}}}},"spec":{{}}}}"#,
            labels.join(",")
        );
        let mut reversed = labels.clone();
        reversed.reverse();
        let wide_reversed = format!(
            r#"{{"metadata":{{"labels":{{{}}}}},"spec":{{}}}}"#,
            reversed.join(",")
        );
        assert!(template_unchanged(k, &wide, Some(&wide_reversed)));
        let changed = wide.replace(r#""k19999":"v""#, r#""k19999":"w""#);
        assert!(!template_unchanged(k, &changed, Some(&wide)));
    }

    #[test]
    fn a_service_account_is_compared_by_its_automount() {
        let k = ResourceKind::ServiceAccount;
        let off =
            r#"{"metadata":{"name":"hook-image-puller"},"automountServiceAccountToken":false}"#;
        let annotated = r#"{"metadata":{"name":"hook-image-puller","annotations":{"a":"b"}},"automountServiceAccountToken":false}"#;
        assert!(template_unchanged(k, annotated, Some(off)));
        let on = r#"{"metadata":{"name":"hook-image-puller"},"automountServiceAccountToken":true}"#;
        assert!(!template_unchanged(k, on, Some(off)));
        let unset = r#"{"metadata":{"name":"hook-image-puller"}}"#;
        assert!(!template_unchanged(k, unset, Some(off)));
        assert!(template_unchanged(k, unset, Some(unset)));
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
