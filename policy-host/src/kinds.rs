//! The kinds the API server serves, each with its resource and scope, from k8s-openapi's resource
//! metadata plus Kubewarden's own: what a request names for an object (its `resource`, and no
//! `namespace` for a cluster-scoped kind), the one table policy-host's request builder and
//! prepuller-check's webhook rules use.

use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope, Resource};
use k8s_openapi::{api, apiextensions_apiserver, kube_aggregator};
use serde_json::Value;

/// A kind the API server serves: where it belongs and what its requests name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// Its API group, `""` for the core group.
    pub group: &'static str,
    /// Its kind.
    pub kind: &'static str,
    /// Its resource (the plural its requests and the webhook rules name).
    pub resource: &'static str,
    /// Whether it has no namespace: its requests carry none.
    pub cluster_scoped: bool,
}

/// The scope of a k8s-openapi resource as a constant.
trait Scope {
    const CLUSTER: bool;
}

impl Scope for ClusterResourceScope {
    const CLUSTER: bool = true;
}

impl Scope for NamespaceResourceScope {
    const CLUSTER: bool = false;
}

const fn kind<T: Resource>() -> Kind
where
    T::Scope: Scope,
{
    Kind {
        group: T::GROUP,
        kind: T::KIND,
        resource: T::URL_PATH_SEGMENT,
        cluster_scoped: <T::Scope as Scope>::CLUSTER,
    }
}

macro_rules! kinds {
    ($($t:path),* $(,)?) => { &[$(kind::<$t>()),*] };
}

/// The kinds Kubernetes serves, from k8s-openapi's resource metadata (one version of each group
/// and kind: the resource and scope do not change between versions).
const KUBERNETES: &[Kind] = kinds![
    api::admissionregistration::v1::MutatingAdmissionPolicy,
    api::admissionregistration::v1::MutatingAdmissionPolicyBinding,
    api::admissionregistration::v1::MutatingWebhookConfiguration,
    api::admissionregistration::v1::ValidatingAdmissionPolicy,
    api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    api::admissionregistration::v1::ValidatingWebhookConfiguration,
    api::apiserverinternal::v1alpha1::StorageVersion,
    api::apps::v1::ControllerRevision,
    api::apps::v1::DaemonSet,
    api::apps::v1::Deployment,
    api::apps::v1::ReplicaSet,
    api::apps::v1::StatefulSet,
    api::authentication::v1::SelfSubjectReview,
    api::authentication::v1::TokenReview,
    api::authorization::v1::LocalSubjectAccessReview,
    api::authorization::v1::SelfSubjectAccessReview,
    api::authorization::v1::SelfSubjectRulesReview,
    api::authorization::v1::SubjectAccessReview,
    api::autoscaling::v1::HorizontalPodAutoscaler,
    api::batch::v1::CronJob,
    api::batch::v1::Job,
    api::certificates::v1::CertificateSigningRequest,
    api::certificates::v1alpha1::ClusterTrustBundle,
    api::certificates::v1beta1::PodCertificateRequest,
    api::coordination::v1::Lease,
    api::coordination::v1alpha2::LeaseCandidate,
    api::core::v1::Binding,
    api::core::v1::ComponentStatus,
    api::core::v1::ConfigMap,
    api::core::v1::Endpoints,
    api::core::v1::Event,
    api::core::v1::LimitRange,
    api::core::v1::Namespace,
    api::core::v1::Node,
    api::core::v1::PersistentVolume,
    api::core::v1::PersistentVolumeClaim,
    api::core::v1::Pod,
    api::core::v1::PodTemplate,
    api::core::v1::ReplicationController,
    api::core::v1::ResourceQuota,
    api::core::v1::Secret,
    api::core::v1::Service,
    api::core::v1::ServiceAccount,
    api::discovery::v1::EndpointSlice,
    api::events::v1::Event,
    api::flowcontrol::v1::FlowSchema,
    api::flowcontrol::v1::PriorityLevelConfiguration,
    api::networking::v1::Ingress,
    api::networking::v1::IngressClass,
    api::networking::v1::IPAddress,
    api::networking::v1::NetworkPolicy,
    api::networking::v1::ServiceCIDR,
    api::node::v1::RuntimeClass,
    api::policy::v1::PodDisruptionBudget,
    api::rbac::v1::ClusterRole,
    api::rbac::v1::ClusterRoleBinding,
    api::rbac::v1::Role,
    api::rbac::v1::RoleBinding,
    api::resource::v1::DeviceClass,
    api::resource::v1::ResourceClaim,
    api::resource::v1::ResourceClaimTemplate,
    api::resource::v1::ResourceSlice,
    api::resource::v1alpha3::DeviceTaintRule,
    api::resource::v1alpha3::ResourcePoolStatusRequest,
    api::scheduling::v1::PriorityClass,
    api::scheduling::v1alpha2::PodGroup,
    api::scheduling::v1alpha2::Workload,
    api::storage::v1::CSIDriver,
    api::storage::v1::CSINode,
    api::storage::v1::CSIStorageCapacity,
    api::storage::v1::StorageClass,
    api::storage::v1::VolumeAttachment,
    api::storage::v1::VolumeAttributesClass,
    api::storagemigration::v1beta1::StorageVersionMigration,
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    kube_aggregator::pkg::apis::apiregistration::v1::APIService,
];

/// Kubewarden's own kinds (policies.kubewarden.io), which a policy's checks may meet.
const KUBEWARDEN: &[Kind] = &[
    Kind {
        group: "policies.kubewarden.io",
        kind: "ClusterAdmissionPolicy",
        resource: "clusteradmissionpolicies",
        cluster_scoped: true,
    },
    Kind {
        group: "policies.kubewarden.io",
        kind: "ClusterAdmissionPolicyGroup",
        resource: "clusteradmissionpolicygroups",
        cluster_scoped: true,
    },
    Kind {
        group: "policies.kubewarden.io",
        kind: "AdmissionPolicy",
        resource: "admissionpolicies",
        cluster_scoped: false,
    },
    Kind {
        group: "policies.kubewarden.io",
        kind: "AdmissionPolicyGroup",
        resource: "admissionpolicygroups",
        cluster_scoped: false,
    },
    Kind {
        group: "policies.kubewarden.io",
        kind: "PolicyServer",
        resource: "policyservers",
        cluster_scoped: true,
    },
];

/// The group and version of an object's `apiVersion`.
pub fn group_version(object: &Value) -> (&str, &str) {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    api_version.split_once('/').unwrap_or(("", api_version))
}

/// The kind of an object when it is one the tables know (by group and kind, any version).
pub fn known_kind(object: &Value) -> Option<&'static Kind> {
    let (group, _) = group_version(object);
    let kind = object["kind"].as_str().unwrap_or_default();
    KUBERNETES
        .iter()
        .chain(KUBEWARDEN)
        .find(|k| k.group == group && k.kind == kind)
}

/// Whether the object has no namespace. A kind the tables do not know (a custom resource) is
/// taken to be namespaced, as most are; its CustomResourceDefinition's `spec.scope` decides.
pub fn is_cluster_scoped(object: &Value) -> bool {
    known_kind(object).is_some_and(|k| k.cluster_scoped)
}

/// The group, version and resource of an object. A kind the tables do not know gets the
/// resource Kubernetes' API machinery guesses when it has no discovery
/// (`meta.UnsafeGuessKindToResource`): the lowercased kind, `endpoints` kept as it is, `-s` made
/// `-ses`, `-y` made `-ies`, else `-s` added. Its real name is its CustomResourceDefinition's
/// `spec.names.plural`, which may differ: the report notes it when the rules depend on it.
pub fn resource_of(object: &Value) -> (String, String, String) {
    let (group, version) = group_version(object);
    let resource = match known_kind(object) {
        Some(kind) => kind.resource.to_owned(),
        None => guess_resource(object["kind"].as_str().unwrap_or_default()),
    };
    (group.to_owned(), version.to_owned(), resource)
}

/// `meta.UnsafeGuessKindToResource`'s plural of a kind.
fn guess_resource(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.is_empty() || lower.ends_with("endpoints") {
        lower
    } else if lower.ends_with('s') {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(api_version: &str, kind: &str) -> Value {
        json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}})
    }

    fn resource(api_version: &str, kind: &str) -> String {
        resource_of(&object(api_version, kind)).2
    }

    #[test]
    fn kubernetes_kinds_have_their_own_resources() {
        assert_eq!(resource("v1", "Endpoints"), "endpoints");
        assert_eq!(resource("v1", "ServiceAccount"), "serviceaccounts");
        assert_eq!(resource("networking.k8s.io/v1", "Ingress"), "ingresses");
        assert_eq!(
            resource("networking.k8s.io/v1", "NetworkPolicy"),
            "networkpolicies"
        );
        assert_eq!(resource("apps/v1", "DaemonSet"), "daemonsets");
        assert_eq!(resource("batch/v1", "CronJob"), "cronjobs");
        // Any version of a group's kind: the resource does not change with it.
        assert_eq!(
            resource("policy/v1beta1", "PodDisruptionBudget"),
            "poddisruptionbudgets"
        );
        assert_eq!(resource("storage.k8s.io/v1", "CSIDriver"), "csidrivers");
        assert_eq!(
            resource("policies.kubewarden.io/v1", "ClusterAdmissionPolicy"),
            "clusteradmissionpolicies"
        );
    }

    #[test]
    fn an_unknown_kind_gets_the_api_machinerys_guess() {
        assert_eq!(resource("example.org/v1", "Gadget"), "gadgets");
        assert_eq!(resource("example.org/v1", "Policy"), "policies");
        assert_eq!(resource("example.org/v1", "Class"), "classes");
        assert_eq!(resource("example.org/v1", "Switch"), "switchs");
        assert_eq!(resource("example.org/v1", "Endpoints"), "endpoints");
        // A built-in kind's name in another group is not the built-in kind.
        assert!(known_kind(&object("example.org/v1", "Pod")).is_none());
    }

    #[test]
    fn scope_is_the_kinds() {
        for (api_version, kind, cluster) in [
            ("v1", "Namespace", true),
            ("v1", "PersistentVolume", true),
            ("scheduling.k8s.io/v1", "PriorityClass", true),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", true),
            ("apiextensions.k8s.io/v1", "CustomResourceDefinition", true),
            ("policies.kubewarden.io/v1", "PolicyServer", true),
            ("v1", "ServiceAccount", false),
            ("rbac.authorization.k8s.io/v1", "Role", false),
            ("policies.kubewarden.io/v1", "AdmissionPolicy", false),
            ("example.org/v1", "Namespace", false),
        ] {
            assert_eq!(
                is_cluster_scoped(&object(api_version, kind)),
                cluster,
                "{kind}"
            );
        }
    }
}
