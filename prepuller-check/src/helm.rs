//! Helm's install order, which decides which ServiceAccounts exist when an object is created.

use crate::input::Document;

/// Helm's install order of kinds (pkg/release/util/kind_sorter.go); others come last.
const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Helm's install order of the input: pre-install hooks by weight, kind and name, then the
/// release's objects by kind and name, then the other hooks. Returns input indices.
pub fn install_order(documents: &[Document]) -> Vec<usize> {
    let key = |d: &Document| {
        let o = &d.object;
        let annotations = &o["metadata"]["annotations"];
        let hook = annotations["helm.sh/hook"].as_str();
        let phase = match hook {
            Some(h) if h.split(',').any(|h| h.trim() == "pre-install") => 0,
            None => 1,
            Some(_) => 2,
        };
        let weight: i64 = annotations["helm.sh/hook-weight"]
            .as_str()
            .and_then(|w| w.trim().parse().ok())
            .unwrap_or(0);
        let kind = o["kind"].as_str().unwrap_or_default();
        let rank = INSTALL_ORDER
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(INSTALL_ORDER.len());
        let name = o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (
            phase,
            if phase == 1 { 0 } else { weight },
            rank,
            kind.to_owned(),
            name,
        )
    };
    let mut order: Vec<usize> = (0..documents.len()).collect();
    order.sort_by_cached_key(|i| key(&documents[*i]));
    order
}
