//! What an UPDATE changes in the part of the object its Pods are made of: the pod template (a
//! Pod is its own), or, for a ServiceAccount, the `automountServiceAccountToken` its rule reads.
//!
//! Compared as text, byte for byte. Under the input contract (`src/request.rs`) both objects are
//! serde_json's writing of a parsed value, so equal values are equal text; any other spelling
//! can only read as a change, which judges the UPDATE in full: the strict side. The whole
//! template counts, its metadata included: `kubectl rollout restart` changes only
//! `spec.template.metadata.annotations`, and the Deployment rolls new Pods from it.

use serde_json::value::RawValue;

use crate::json;
use crate::kinds::ResourceKind;

/// The text of the compared part of `object`; `Ok(None)` when it is absent.
fn compared(kind: ResourceKind, object: &str) -> Result<Option<&str>, serde_json::Error> {
    let path: &[&str] = match kind {
        ResourceKind::ServiceAccount => &["automountServiceAccountToken"],
        _ => kind.pod_template_path(),
    };
    Ok(json::find(object, path)?.map(RawValue::get))
}

/// Whether `new` carries the same pod template as the stored `old`. Only called for an UPDATE
/// that breaks a rule, or that may start Pods, so the reading it costs is off the hot path. An
/// old object that is missing or unreadable counts as a change: the new one is then judged in
/// full.
pub(crate) fn template_unchanged(kind: ResourceKind, new: &str, old: Option<&str>) -> bool {
    let Some(old) = old else { return false };
    matches!((compared(kind, new), compared(kind, old)), (Ok(new), Ok(old)) if new == old)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DS: &str = r#"{"metadata":{"annotations":{"x":"1"},"labels":{"a":"1"}},"spec":{"replicas":1,"template":{"metadata":{"labels":{"component":"hook-image-puller"}},"spec":{"containers":[{"name":"c"}],"serviceAccountName":"default"}}}}"#;

    #[test]
    fn only_the_pod_template_counts() {
        let k = ResourceKind::DaemonSet;
        // The object's own metadata and other spec fields: unchanged.
        let scaled = DS.replace(r#""replicas":1"#, r#""replicas":5"#).replace(
            r#""labels":{"a":"1"}"#,
            r#""labels":{"b":"2"},"ownerReferences":[]"#,
        );
        assert!(template_unchanged(k, &scaled, Some(DS)));
        for changed in [
            DS.replace(r#""component":"hook-image-puller""#, r#""component":"other""#),
            DS.replace(r#""name":"c""#, r#""name":"d""#),
            // `kubectl rollout restart`: only the template's annotations change.
            DS.replace(
                r#""template":{"metadata":{"#,
                r#""template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-12-02T03:00:00Z"},"#,
            ),
        ] {
            assert!(!template_unchanged(k, &changed, Some(DS)), "{changed}");
        }
        assert!(!template_unchanged(k, DS, None));
        assert!(!template_unchanged(k, DS, Some("not json")));
        assert!(!template_unchanged(k, DS, Some("[1]")));
    }

    #[test]
    fn respelled_text_is_a_change() {
        // No host respells a template (serde_json writes both objects), so a respelling may
        // only err on the strict side: judged in full.
        let k = ResourceKind::Pod;
        let old = r#"{"metadata":{"labels":{"l":"v"}},"spec":{"d":true}}"#;
        assert!(template_unchanged(k, old, Some(old)));
        for respelled in [
            r#"{"metadata":{"labels":{"l":"v"}},"spec":{"d": true}}"#,
            r#"{"spec":{"d":true},"metadata":{"labels":{"l":"v"}}}"#,
            r#"{"metadata":{"labels":{"l":"\u0076"}},"spec":{"d":true}}"#,
        ] {
            assert!(!template_unchanged(k, respelled, Some(old)), "{respelled}");
        }
    }

    #[test]
    fn deep_and_wide_objects_are_compared_without_a_walk() {
        let k = ResourceKind::Pod;
        let deep = format!(
            r#"{{"spec":{{"x":{}{}}}}}"#,
            "[".repeat(50_000),
            "]".repeat(50_000)
        );
        assert!(template_unchanged(k, &deep, Some(&deep)));
        let labels: Vec<String> = (0..20_000).map(|i| format!(r#""k{i}":"v""#)).collect();
        let wide = format!(
            r#"{{"metadata":{{"labels":{{{}}}}},"spec":{{}}}}"#,
            labels.join(",")
        );
        assert!(template_unchanged(k, &wide, Some(&wide)));
        let changed = wide.replace(r#""k19999":"v""#, r#""k19999":"w""#);
        assert!(!template_unchanged(k, &changed, Some(&wide)));
    }

    #[test]
    fn a_service_account_is_compared_by_its_automount() {
        let k = ResourceKind::ServiceAccount;
        let off =
            r#"{"automountServiceAccountToken":false,"metadata":{"name":"hook-image-puller"}}"#;
        let annotated = r#"{"automountServiceAccountToken":false,"metadata":{"annotations":{"a":"b"},"name":"hook-image-puller"}}"#;
        assert!(template_unchanged(k, annotated, Some(off)));
        let on = r#"{"automountServiceAccountToken":true,"metadata":{"name":"hook-image-puller"}}"#;
        assert!(!template_unchanged(k, on, Some(off)));
        let unset = r#"{"metadata":{"name":"hook-image-puller"}}"#;
        assert!(!template_unchanged(k, unset, Some(off)));
        assert!(template_unchanged(k, unset, Some(unset)));
    }
}
