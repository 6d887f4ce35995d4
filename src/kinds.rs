//! The kinds the policy judges, and where each keeps the pod template that its Pods are made of.

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, ReplicationController, ServiceAccount};

/// The resources the policy judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// Judged again at creation, whatever controller made it: the last word on what runs.
    Pod,
    /// What Zero to JupyterHub's hook and continuous pullers are.
    DaemonSet,
    /// Any controller may be labelled as a role, or borrow a role's ServiceAccount.
    Deployment,
    /// Judged like a Deployment, for the same reasons.
    StatefulSet,
    /// Judged only when no Deployment controls it; otherwise its Deployment is.
    ReplicaSet,
    /// The legacy controller, judged like a ReplicaSet.
    ReplicationController,
    /// What the hook image awaiter is; its pod spec cannot change after creation.
    Job,
    /// Its pod template sits inside the job template.
    CronJob,
    /// Judged only with `serviceAccountObjects`: a puller's account must turn automount off.
    ServiceAccount,
}

impl ResourceKind {
    /// Every judged kind, for lookups by group and kind.
    pub const ALL: [ResourceKind; 9] = [
        ResourceKind::Pod,
        ResourceKind::DaemonSet,
        ResourceKind::Deployment,
        ResourceKind::StatefulSet,
        ResourceKind::ReplicaSet,
        ResourceKind::ReplicationController,
        ResourceKind::Job,
        ResourceKind::CronJob,
        ResourceKind::ServiceAccount,
    ];

    /// API group and kind, from k8s-openapi's constants.
    pub fn group_kind(self) -> (&'static str, &'static str) {
        match self {
            ResourceKind::Pod => (Pod::GROUP, Pod::KIND),
            ResourceKind::DaemonSet => (DaemonSet::GROUP, DaemonSet::KIND),
            ResourceKind::Deployment => (Deployment::GROUP, Deployment::KIND),
            ResourceKind::StatefulSet => (StatefulSet::GROUP, StatefulSet::KIND),
            ResourceKind::ReplicaSet => (ReplicaSet::GROUP, ReplicaSet::KIND),
            ResourceKind::ReplicationController => {
                (ReplicationController::GROUP, ReplicationController::KIND)
            }
            ResourceKind::Job => (Job::GROUP, Job::KIND),
            ResourceKind::CronJob => (CronJob::GROUP, CronJob::KIND),
            ResourceKind::ServiceAccount => (ServiceAccount::GROUP, ServiceAccount::KIND),
        }
    }

    /// The kind's name, as in `kind.kind` of an admission request.
    pub fn name(self) -> &'static str {
        self.group_kind().1
    }

    /// Looks a kind up by API group and kind. A missing group is taken from the kind alone, as
    /// hand-written kwctl requests often leave it out.
    pub fn lookup(group: Option<&str>, kind: &str) -> Option<ResourceKind> {
        Self::ALL.into_iter().find(|k| {
            let (g, n) = k.group_kind();
            n == kind && group.is_none_or(|group| group == g)
        })
    }

    /// Where the pod spec sits in the object, as path segments.
    pub fn pod_spec_path(self) -> &'static [&'static str] {
        match self {
            ResourceKind::Pod => &["spec"],
            ResourceKind::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
            ResourceKind::ServiceAccount => &[],
            _ => &["spec", "template", "spec"],
        }
    }

    /// Where the pod template sits: the object a Pod's `metadata` and `spec` are copied from,
    /// the pod spec's path without its last `spec`. A Pod is its own template. ServiceAccounts
    /// have none.
    pub fn pod_template_path(self) -> &'static [&'static str] {
        let spec = self.pod_spec_path();
        &spec[..spec.len().saturating_sub(1)]
    }

    /// Kinds whose pod spec the API server will not let an UPDATE change: the policy may only
    /// refuse changes that add a violation, never block or mutate the rest.
    pub fn pod_spec_immutable(self) -> bool {
        matches!(self, ResourceKind::Pod | ResourceKind::Job)
    }
}

/// The field of the labels of the map at `path` in an object (`metadata.labels` for the object
/// itself), as messages name it.
pub fn labels_field(path: &[&str]) -> String {
    match path {
        [] => "metadata.labels".to_owned(),
        path => format!("{}.metadata.labels", path.join(".")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_need_the_right_group() {
        assert_eq!(
            ResourceKind::lookup(Some(""), "Pod"),
            Some(ResourceKind::Pod)
        );
        assert_eq!(
            ResourceKind::lookup(None, "CronJob"),
            Some(ResourceKind::CronJob)
        );
        assert_eq!(
            ResourceKind::lookup(Some("example.com"), "Deployment"),
            None
        );
        assert_eq!(ResourceKind::lookup(Some(""), "ConfigMap"), None);
    }

    #[test]
    fn the_pod_spec_is_inside_the_pod_template() {
        for kind in ResourceKind::ALL {
            if kind == ResourceKind::ServiceAccount {
                continue;
            }
            let mut spec = kind.pod_template_path().to_vec();
            spec.push("spec");
            assert_eq!(spec, kind.pod_spec_path(), "{kind:?}");
        }
    }
}
