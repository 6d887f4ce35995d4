//! Which prepuller role, if any, a workload plays.

use crate::settings::{Role, Settings};
use crate::workload::Workload;

#[derive(Debug)]
pub enum Detected<'s> {
    None,
    One(&'s Role),
    /// Labels that match several roles' selectors: the policy cannot know which rules apply, so
    /// this is a violation of its own rather than a guess.
    Ambiguous(Vec<&'s Role>),
}

/// A role applies when its selector matches any of the workload's label sets.
pub fn detect<'s>(settings: &'s Settings, workload: &Workload<'_>) -> Detected<'s> {
    let mut matched: Vec<&Role> = settings
        .roles()
        .filter(|role| {
            workload
                .label_sets
                .iter()
                .any(|labels| role.selector.matches(labels))
        })
        .collect();
    match matched.len() {
        0 => Detected::None,
        1 => Detected::One(matched.remove(0)),
        _ => Detected::Ambiguous(matched),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::ResourceKind;
    use crate::settings::RoleKind;
    use crate::workload::{Decoded, decode};

    fn detect_in(settings: &Settings, kind: ResourceKind, raw: &str) -> Vec<RoleKind> {
        let Ok(Decoded::Workload(w)) = decode(kind, raw) else {
            panic!("workload expected")
        };
        match detect(settings, &w) {
            Detected::None => vec![],
            Detected::One(r) => vec![r.kind],
            Detected::Ambiguous(rs) => rs.iter().map(|r| r.kind).collect(),
        }
    }

    #[test]
    fn default_selectors_recognise_each_component() {
        let s = Settings::default();
        let pod =
            |c: &str| format!(r#"{{"metadata":{{"labels":{{"component":"{c}"}}}},"spec":{{}}}}"#);
        assert_eq!(
            detect_in(&s, ResourceKind::Pod, &pod("hook-image-puller")),
            [RoleKind::HookPuller]
        );
        assert_eq!(
            detect_in(&s, ResourceKind::Pod, &pod("continuous-image-puller")),
            [RoleKind::ContinuousPuller]
        );
        assert_eq!(
            detect_in(&s, ResourceKind::Pod, &pod("image-puller")),
            [RoleKind::Awaiter]
        );
        assert!(detect_in(&s, ResourceKind::Pod, &pod("hub")).is_empty());
        assert!(detect_in(&s, ResourceKind::Pod, r#"{"spec":{}}"#).is_empty());
    }

    #[test]
    fn controller_or_template_labels_are_enough() {
        let s = Settings::default();
        let only_controller = r#"{"metadata":{"labels":{"component":"hook-image-puller"}},"spec":{"template":{"spec":{}}}}"#;
        let only_template = r#"{"spec":{"template":{"metadata":{"labels":{"component":"hook-image-puller"}},"spec":{}}}}"#;
        assert_eq!(
            detect_in(&s, ResourceKind::DaemonSet, only_controller),
            [RoleKind::HookPuller]
        );
        assert_eq!(
            detect_in(&s, ResourceKind::Deployment, only_template),
            [RoleKind::HookPuller]
        );
    }

    #[test]
    fn conflicting_labels_are_ambiguous() {
        let s = Settings::default();
        let raw = r#"{"metadata":{"labels":{"component":"hook-image-puller"}},
            "spec":{"template":{"metadata":{"labels":{"component":"continuous-image-puller"}},"spec":{}}}}"#;
        assert_eq!(
            detect_in(&s, ResourceKind::DaemonSet, raw),
            [RoleKind::HookPuller, RoleKind::ContinuousPuller]
        );
    }

    #[test]
    fn awaiter_off_is_not_detected() {
        let s = Settings::from_json(r#"{"awaiter":null}"#).expect("valid");
        let raw = r#"{"metadata":{"labels":{"component":"image-puller"}},"spec":{}}"#;
        assert!(detect_in(&s, ResourceKind::Pod, raw).is_empty());
    }
}
