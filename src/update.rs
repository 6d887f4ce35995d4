//! What an UPDATE changes in the pod template, the only part of an object the rules read that a
//! controller copies into Pods. Compared as JSON values, so key order and spacing do not count.

use serde_json::Value;

use crate::kinds::ResourceKind;

fn at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// The pod spec and the labels that decide the role, as values. Missing labels and an empty
/// label map are the same label set.
fn template(kind: ResourceKind, object: &Value) -> (Option<&Value>, Option<&Value>) {
    let template = at(object, kind.pod_template_path());
    let spec = template.and_then(|t| t.get("spec"));
    let labels = template
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.as_object().is_none_or(|m| !m.is_empty()) && !l.is_null());
    (spec, labels)
}

/// Whether `new` carries the same pod template as the stored `old`. Only called for an UPDATE
/// that breaks a rule, so the second parse it costs is off the hot path. An old object that is
/// missing or unreadable counts as a change: the new one is then judged in full.
pub fn template_unchanged(kind: ResourceKind, new: &str, old: Option<&str>) -> bool {
    let Some(old) = old else { return false };
    let (Ok(new), Ok(old)) = (
        serde_json::from_str::<Value>(new),
        serde_json::from_str::<Value>(old),
    ) else {
        return false;
    };
    template(kind, &new) == template(kind, &old)
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
