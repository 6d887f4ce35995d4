//! The oracle's own table of kinds: API group and version, where the fields the rules read sit,
//! and where a role's labels may be written.
//!
//! Written here from the Kubernetes API reference on purpose, not imported from the policy's
//! `src/`: an independent oracle must not reuse the code under test, or a wrong path in the
//! policy would be checked against itself and pass.

/// The kinds the generators write; every one but [`Kind::ConfigMap`] is judged by the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    // core/v1
    /// Its own pod template; its pod spec cannot change after creation.
    Pod,
    /// The legacy controller, with its pod template at `spec.template`.
    ReplicationController,
    /// Judged on its own `automountServiceAccountToken` (`serviceAccountObjects`).
    ServiceAccount,
    /// A kind the policy does not judge: it must be accepted untouched.
    ConfigMap,
    // apps/v1
    /// What Zero to JupyterHub's pullers are.
    DaemonSet,
    /// A controller of ReplicaSets, judged in their stead.
    Deployment,
    /// Judged itself unless a Deployment controls it.
    ReplicaSet,
    /// A controller with its pod template at `spec.template`.
    StatefulSet,
    // batch/v1
    /// Its pod template sits inside the job template.
    CronJob,
    /// What the hook awaiter is; its pod spec cannot change after creation.
    Job,
}

impl Kind {
    /// Every kind the generators write.
    pub const ALL: [Kind; 10] = [
        Kind::Pod,
        Kind::ReplicationController,
        Kind::ServiceAccount,
        Kind::ConfigMap,
        Kind::DaemonSet,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
        Kind::CronJob,
        Kind::Job,
    ];

    /// API group (`""` for the core group) and kind name.
    pub fn group_name(self) -> (&'static str, &'static str) {
        match self {
            Kind::Pod => ("", "Pod"),
            Kind::ReplicationController => ("", "ReplicationController"),
            Kind::ServiceAccount => ("", "ServiceAccount"),
            Kind::ConfigMap => ("", "ConfigMap"),
            Kind::DaemonSet => ("apps", "DaemonSet"),
            Kind::Deployment => ("apps", "Deployment"),
            Kind::ReplicaSet => ("apps", "ReplicaSet"),
            Kind::StatefulSet => ("apps", "StatefulSet"),
            Kind::CronJob => ("batch", "CronJob"),
            Kind::Job => ("batch", "Job"),
        }
    }

    /// Every kind here is served at `v1`.
    pub const VERSION: &'static str = "v1";

    /// The object's `apiVersion`: `v1` for the core group, `group/v1` otherwise.
    pub fn api_version(self) -> String {
        match self.group_name().0 {
            "" => Self::VERSION.to_owned(),
            group => format!("{group}/{}", Self::VERSION),
        }
    }

    /// The judged kind a request names (`request.kind`). A request without a group names the kind
    /// by its name alone, as hand-written kwctl requests do; an unknown or unjudged kind is `None`.
    pub fn judged(group: Option<&str>, name: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| {
            let (g, n) = k.group_name();
            *k != Kind::ConfigMap && n == name && group.is_none_or(|group| group == g)
        })
    }

    /// Where the fields the rules read and may change sit (`serviceAccountName`,
    /// `automountServiceAccountToken`, volumes, containers): a workload's pod spec, a
    /// ServiceAccount's top level (its own `automountServiceAccountToken`); `None` for a kind the
    /// policy does not judge.
    pub fn rule_fields_path(self) -> Option<&'static [&'static str]> {
        match self {
            Kind::Pod => Some(&["spec"]),
            Kind::CronJob => Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
            Kind::ServiceAccount => Some(&[]),
            Kind::ConfigMap => None,
            _ => Some(&["spec", "template", "spec"]),
        }
    }

    /// Where the labels sit that the Pods will carry, which alone give a role (issue 8):
    /// Kubernetes copies a pod template's labels to the Pods it makes, and a CronJob's job
    /// template's pod template labels, never the controller's own.
    pub fn pod_labels_path(self) -> &'static [&'static str] {
        match self {
            Kind::CronJob => &["spec", "jobTemplate", "spec", "template", "metadata"],
            Kind::DaemonSet
            | Kind::Deployment
            | Kind::StatefulSet
            | Kind::ReplicaSet
            | Kind::ReplicationController
            | Kind::Job => &["spec", "template", "metadata"],
            Kind::Pod | Kind::ServiceAccount | Kind::ConfigMap => &["metadata"],
        }
    }

    /// Where the pod template sits (the object a Pod's `metadata` and `spec` come from; a Pod
    /// is its own): what an UPDATE must change to be judged in full.
    pub fn pod_template_path(self) -> &'static [&'static str] {
        match self {
            Kind::CronJob => &["spec", "jobTemplate", "spec", "template"],
            Kind::Pod | Kind::ServiceAccount | Kind::ConfigMap => &[],
            _ => &["spec", "template"],
        }
    }

    /// Kinds whose pod spec the API server does not let an UPDATE change.
    pub fn pod_spec_immutable(self) -> bool {
        matches!(self, Kind::Pod | Kind::Job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_a_judged_kind_by_group_and_name() {
        assert_eq!(Kind::judged(Some(""), "Pod"), Some(Kind::Pod));
        assert_eq!(Kind::judged(None, "CronJob"), Some(Kind::CronJob));
        assert_eq!(Kind::judged(Some("example.com"), "Deployment"), None);
        assert_eq!(Kind::judged(Some("apps"), "Pod"), None);
        assert_eq!(Kind::judged(Some(""), "ConfigMap"), None);
    }

    #[test]
    fn api_versions_carry_the_group() {
        assert_eq!(Kind::Pod.api_version(), "v1");
        assert_eq!(Kind::CronJob.api_version(), "batch/v1");
    }
}
