//! Which prepuller role a workload plays, read from the configured roles' selectors.
//!
//! A role is read from the labels the workload's Pods will carry, and from nothing else: the
//! policy judges each Pod again when it is created, and a Pod only has its template's labels.
//! A controller recognised by its own labels would be made to run as a puller's ServiceAccount
//! while its Pods, unrecognised, were refused as borrowers of it.
//!
//! Apart from `crate::roles` because it reads the settings, which are built from the roles.

use crate::kinds;
use crate::roles::{Role, RoleKind};
use crate::selector::Labels;
use crate::settings::Settings;
use crate::workload::Workload;

/// Which roles the labels the Pods will carry match.
#[derive(Debug)]
pub enum Detected<'s> {
    /// No role: the workload is judged only as a possible borrower of a role's account.
    None,
    /// Exactly one role, whose rules apply.
    One(&'s Role),
    /// Labels that match several roles' selectors: the policy cannot know which rules apply, so
    /// this is a violation of its own rather than a guess.
    Ambiguous(Vec<&'s Role>),
}

/// A role whose selector matches labels that reach no Pod (at `field`), while the pod
/// template's labels do not match it: the operator meant a puller, and its Pods will not be one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrecognised {
    /// The role the operator probably meant, named in the warning.
    pub role: RoleKind,
    /// Where the matching labels were found, e.g. `metadata.labels`.
    pub field: String,
}

/// Zero to JupyterHub's label for a role on the labels the Pods will carry, while they match no
/// role's selector: the chart's puller (or awaiter) is then not judged as one. Chart 4.0.0 and
/// earlier put `app.kubernetes.io/component` on the objects only, so selectors on it miss their
/// Pods (docs/decisions.md, "The chart's role labels").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmatched {
    /// The role the chart's label names.
    pub role: RoleKind,
    /// The label that carries the role's [`RoleKind::chart_component`] value.
    pub label: &'static str,
}

/// The labels in which Zero to JupyterHub names a Pod's component, in the order messages
/// prefer: `component` is on every chart version's pod templates.
pub const CHART_ROLE_LABELS: [&str; 2] = ["component", "app.kubernetes.io/component"];

/// The role of a workload, and the roles its other labels only suggest.
#[derive(Debug)]
pub struct Detection<'s> {
    /// The role the Pods' labels give, which decides the rules.
    pub role: Detected<'s>,
    /// Roles only labels that reach no Pod match: warned about, never enforced.
    pub unrecognised: Vec<Unrecognised>,
    /// Roles the chart's labels on the Pods name while no selector matches them: warned
    /// about (and failed in an audit), never enforced.
    pub unmatched: Vec<Unmatched>,
}

fn matching<'s>(settings: &'s Settings, labels: &Labels<'_>) -> Vec<&'s Role> {
    settings
        .roles()
        .filter(|role| role.selector.matches(labels))
        .collect()
}

/// The role of a workload, from its Pods' labels; and the roles its other labels only suggest.
pub fn detect<'s>(settings: &'s Settings, workload: &Workload<'_>) -> Detection<'s> {
    let mut matched = matching(settings, &workload.pod_labels);
    let unmatched = if matched.is_empty() {
        chart_roles(settings, &workload.pod_labels)
    } else {
        Vec::new()
    };
    let mut unrecognised: Vec<Unrecognised> = Vec::new();
    for (at, labels) in &workload.other_labels {
        // An empty label set says nothing about intent (a negative-only requirement is refused
        // in settings, so no role can match it anyway).
        if labels.is_empty() {
            continue;
        }
        for role in matching(settings, labels) {
            // A role the chart's labels name on the Pods is warned about once, with the fix of
            // its selector: the object's own labels would only repeat it with another fix.
            let known = matched.iter().any(|m| m.kind == role.kind)
                || unrecognised.iter().any(|u| u.role == role.kind)
                || unmatched.iter().any(|u| u.role == role.kind);
            if !known {
                unrecognised.push(Unrecognised {
                    role: role.kind,
                    field: kinds::labels_field(at),
                });
            }
        }
    }
    let role = match matched.len() {
        0 => Detected::None,
        1 => Detected::One(matched.remove(0)),
        _ => Detected::Ambiguous(matched),
    };
    Detection {
        role,
        unrecognised,
        unmatched,
    }
}

/// The configured roles whose chart label (`component` or `app.kubernetes.io/component` with
/// the role's chart value) `labels` carry. A role that is off (`awaiter.enabled: false`) plays
/// no part: its Pods are meant to match nothing.
fn chart_roles(settings: &Settings, labels: &Labels<'_>) -> Vec<Unmatched> {
    settings
        .roles()
        .filter_map(|role| {
            let value = role.kind.chart_component();
            CHART_ROLE_LABELS
                .into_iter()
                .find(|label| labels.get(*label).is_some_and(|v| v.as_str() == value))
                .map(|label| Unmatched {
                    role: role.kind,
                    label,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::ResourceKind;
    use crate::selector::LabelSelector;
    use crate::workload::{Object, decode};

    fn detect_in(
        settings: &Settings,
        kind: ResourceKind,
        raw: &str,
    ) -> (Vec<RoleKind>, Vec<(RoleKind, String)>) {
        let Ok(Object::Workload(w)) = decode(kind, raw) else {
            panic!("workload expected")
        };
        let d = detect(settings, &w);
        let roles = match d.role {
            Detected::None => vec![],
            Detected::One(r) => vec![r.kind],
            Detected::Ambiguous(rs) => rs.iter().map(|r| r.kind).collect(),
        };
        (
            roles,
            d.unrecognised
                .iter()
                .map(|u| (u.role, u.field.clone()))
                .collect(),
        )
    }

    #[test]
    fn default_selectors_recognise_each_component() {
        let s = Settings::default();
        let pod =
            |c: &str| format!(r#"{{"metadata":{{"labels":{{"component":"{c}"}}}},"spec":{{}}}}"#);
        assert_eq!(
            detect_in(&s, ResourceKind::Pod, &pod("hook-image-puller")).0,
            [RoleKind::HookPuller]
        );
        assert_eq!(
            detect_in(&s, ResourceKind::Pod, &pod("continuous-image-puller")).0,
            [RoleKind::ContinuousPuller]
        );
        assert_eq!(
            detect_in(&s, ResourceKind::Pod, &pod("image-puller")).0,
            [RoleKind::Awaiter]
        );
        assert!(detect_in(&s, ResourceKind::Pod, &pod("hub")).0.is_empty());
        assert!(
            detect_in(&s, ResourceKind::Pod, r#"{"spec":{}}"#)
                .0
                .is_empty()
        );
    }

    #[test]
    fn only_the_labels_the_pods_carry_decide() {
        let s = Settings::default();
        let only_controller = r#"{"metadata":{"labels":{"component":"hook-image-puller"}},"spec":{"template":{"spec":{}}}}"#;
        let only_template = r#"{"spec":{"template":{"metadata":{"labels":{"component":"hook-image-puller"}},"spec":{}}}}"#;
        assert_eq!(
            detect_in(&s, ResourceKind::DaemonSet, only_controller),
            (
                vec![],
                vec![(RoleKind::HookPuller, "metadata.labels".into())]
            )
        );
        assert_eq!(
            detect_in(&s, ResourceKind::Deployment, only_template),
            (vec![RoleKind::HookPuller], vec![])
        );
        let job_template_only = r#"{"spec":{"jobTemplate":{"metadata":{"labels":{"component":"hook-image-puller"}},
            "spec":{"template":{"spec":{}}}}}}"#;
        assert_eq!(
            detect_in(&s, ResourceKind::CronJob, job_template_only),
            (
                vec![],
                vec![(
                    RoleKind::HookPuller,
                    "spec.jobTemplate.metadata.labels".into()
                )]
            )
        );
        // Both labelled alike: the role, and nothing to warn about.
        let both = r#"{"metadata":{"labels":{"component":"hook-image-puller"}},
            "spec":{"template":{"metadata":{"labels":{"component":"hook-image-puller"}},"spec":{}}}}"#;
        assert_eq!(
            detect_in(&s, ResourceKind::DaemonSet, both),
            (vec![RoleKind::HookPuller], vec![])
        );
    }

    #[test]
    fn controller_and_template_disagreeing_is_no_ambiguity() {
        let s = Settings::default();
        let raw = r#"{"metadata":{"labels":{"component":"hook-image-puller"}},
            "spec":{"template":{"metadata":{"labels":{"component":"continuous-image-puller"}},"spec":{}}}}"#;
        assert_eq!(
            detect_in(&s, ResourceKind::DaemonSet, raw),
            (
                vec![RoleKind::ContinuousPuller],
                vec![(RoleKind::HookPuller, "metadata.labels".into())]
            )
        );
    }

    #[test]
    fn pod_labels_matching_two_roles_are_ambiguous() {
        // Settings validation refuses selectors that can match one Pod, so build them directly:
        // detection must still report the ambiguity rather than pick a role.
        let mut s = Settings::default();
        s.continuous_puller.selector = LabelSelector::with_label("app", "jupyterhub");
        let raw = r#"{"metadata":{"labels":{"component":"hook-image-puller","app":"jupyterhub"}},"spec":{}}"#;
        assert_eq!(
            detect_in(&s, ResourceKind::Pod, raw).0,
            [RoleKind::HookPuller, RoleKind::ContinuousPuller]
        );
    }

    /// Issue 22: the chart's role labels on the Pods, while every selector is on a label they
    /// lack (chart 4.0.0 puts app.kubernetes.io/component on the objects only).
    #[test]
    fn chart_role_labels_that_match_no_role_are_reported() {
        let modern = Settings::from_json(
            r#"{"hookPuller":{"selector":{"matchLabels":{"app.kubernetes.io/component":"hook-image-puller"}}},
                "continuousPuller":{"selector":{"matchLabels":{"app.kubernetes.io/component":"continuous-image-puller"}}},
                "awaiter":{"selector":{"matchLabels":{"app.kubernetes.io/component":"image-puller"}}}}"#,
        )
        .expect("valid");
        let unmatched = |settings: &Settings, kind: ResourceKind, raw: &str| {
            let Ok(Object::Workload(w)) = decode(kind, raw) else {
                panic!("workload expected")
            };
            let d = detect(settings, &w);
            (d.unmatched, d.unrecognised.len())
        };
        // A chart 4.0.0 hook DaemonSet: the modern label on the object, the legacy one on the
        // template. One report, the chart's label; the object's labels add nothing.
        let ds = r#"{"metadata":{"labels":{"component":"hook-image-puller","app.kubernetes.io/component":"hook-image-puller"}},
            "spec":{"template":{"metadata":{"labels":{"component":"hook-image-puller","app":"jupyterhub","release":"jhub"}},"spec":{}}}}"#;
        assert_eq!(
            unmatched(&modern, ResourceKind::DaemonSet, ds),
            (
                vec![Unmatched {
                    role: RoleKind::HookPuller,
                    label: "component"
                }],
                0
            )
        );
        // Its Pods, and the awaiter's.
        let pod =
            |c: &str| format!(r#"{{"metadata":{{"labels":{{"component":"{c}"}}}},"spec":{{}}}}"#);
        assert_eq!(
            unmatched(&modern, ResourceKind::Pod, &pod("image-puller")).0,
            [Unmatched {
                role: RoleKind::Awaiter,
                label: "component"
            }]
        );
        // The modern label alone names the role too, under legacy selectors.
        let legacy = Settings::default();
        let modern_only = r#"{"metadata":{"labels":{"app.kubernetes.io/component":"continuous-image-puller"}},"spec":{}}"#;
        assert_eq!(
            unmatched(&legacy, ResourceKind::Pod, modern_only).0,
            [Unmatched {
                role: RoleKind::ContinuousPuller,
                label: "app.kubernetes.io/component"
            }]
        );
        // Matched, other values, a role that is off: nothing to report.
        assert!(
            unmatched(&legacy, ResourceKind::Pod, &pod("hook-image-puller"))
                .0
                .is_empty()
        );
        assert!(
            unmatched(&modern, ResourceKind::Pod, &pod("hub"))
                .0
                .is_empty()
        );
        let off = Settings::from_json(
            r#"{"awaiter":{"enabled":false},"hookPuller":{"selector":{"matchLabels":{"component":"hook-image-puller","release":"jhub"}}}}"#,
        )
        .expect("valid");
        assert!(
            unmatched(&off, ResourceKind::Pod, &pod("image-puller"))
                .0
                .is_empty()
        );
        assert_eq!(
            unmatched(&off, ResourceKind::Pod, &pod("hook-image-puller")).0,
            [Unmatched {
                role: RoleKind::HookPuller,
                label: "component"
            }]
        );
    }

    #[test]
    fn awaiter_off_is_not_detected() {
        let s = Settings::from_json(r#"{"awaiter":null}"#).expect("valid");
        let raw = r#"{"metadata":{"labels":{"component":"image-puller"}},"spec":{}}"#;
        assert!(detect_in(&s, ResourceKind::Pod, raw).0.is_empty());
    }
}
