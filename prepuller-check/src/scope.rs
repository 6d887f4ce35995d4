//! What a policy resource decides besides the module: which requests reach it (`spec.rules`,
//! `spec.namespaceSelector`, `spec.objectSelector`), what policy-server does with its answer
//! (`spec.mode`, `spec.mutating`), its settings and the resource types it may read. Read from a
//! ClusterAdmissionPolicy or AdmissionPolicy (`--policy`), else from the module's own metadata
//! (its rules, `mutating` and `contextAwareResources`), as `kwctl run` does with a bare module.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
pub use policy_artifact::Rule;
use policy_artifact::{ContextAwareResource, Metadata};
use prepuller_serviceaccount_policy::selector::{LabelSelector, Labels, decode_labels};
use prepuller_serviceaccount_policy::settings::Settings;
use serde::Deserialize as _;
use serde_json::{Value, json};

/// The label Kubernetes sets on every namespace, with the namespace's name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The policy resource's `spec.mode`, as policy-host's policy-server mirror applies it.
pub use policy_host::PolicyMode;

/// Everything the check needs from the policy resource (or its defaults).
#[derive(Debug, Clone)]
pub struct Scope {
    /// policy-server's id of the policy, as its messages name it.
    pub policy_id: String,
    /// The settings handed to the module.
    pub settings: Value,
    /// Requests the webhook receives.
    pub rules: Vec<Rule>,
    /// `spec.namespaceSelector`, when set.
    pub namespace_selector: Option<LabelSelector>,
    /// `spec.objectSelector`, when set.
    pub object_selector: Option<LabelSelector>,
    /// An AdmissionPolicy only sees its own namespace.
    pub only_namespace: Option<String>,
    /// `spec.mode`.
    pub policy_mode: PolicyMode,
    /// `spec.mutating`: a patch from a policy not allowed to mutate is a rejection.
    pub mutating: bool,
    /// `spec.backgroundAudit`: whether the audit scanner judges stored objects.
    pub background_audit: bool,
    /// The resource types the policy may read; `None` grants all (no policy resource given and
    /// no metadata in the module).
    pub context_aware: Option<BTreeSet<ContextAwareResource>>,
    /// What cannot be evaluated offline, named in the report.
    pub notes: Vec<String>,
}

/// A policy resource's `spec.rules` (absent or `null`: none).
fn rules(value: &Value) -> Result<Vec<Rule>> {
    Ok(Option::<Vec<Rule>>::deserialize(value)?.unwrap_or_default())
}

/// metadata.yml, built into the binary: a module without metadata (`policy.wasm`) is given the
/// rules and `mutating` the annotated module carries, read from the one file that declares them.
const METADATA_YML: &str = include_str!("../../metadata.yml");

fn built_in_metadata() -> Metadata {
    // Not input: the crate's own source, parsed by a test below, so it cannot fail here.
    Metadata::from_yaml(METADATA_YML).expect("metadata.yml, built in, parses")
}

impl Scope {
    /// The settings as this crate's policy reads them, defaults included, for what the check
    /// says beyond the module's answers (the advice, post-render's added ServiceAccounts).
    /// `None` when they are not this version's (a module of another release accepted keys this
    /// one does not know): then the advice names no ServiceAccount rather than guess one.
    pub fn policy_settings(&self) -> Option<Settings> {
        Settings::from_json(&self.settings.to_string()).ok()
    }

    /// Without a policy resource: every namespace, protect mode, the module's own rules,
    /// `mutating` and grant; a module without metadata gets metadata.yml's rules and
    /// `mutating`, and every resource type granted.
    pub fn from_module(metadata: Option<&Metadata>) -> Scope {
        let declared = metadata.map_or_else(built_in_metadata, Clone::clone);
        Scope {
            policy_id: "prepuller-check".into(),
            settings: json!({}),
            rules: declared.rules,
            namespace_selector: None,
            object_selector: None,
            only_namespace: None,
            policy_mode: PolicyMode::Protect,
            mutating: declared.mutating,
            background_audit: true,
            context_aware: metadata.map(|m| m.context_aware_resources.clone()),
            notes: Vec::new(),
        }
    }

    /// From a ClusterAdmissionPolicy or AdmissionPolicy file ([`policy_resource`]);
    /// `default_namespace` is where an AdmissionPolicy without `metadata.namespace` is applied
    /// (`-n`). The grant is what both the resource and the module's metadata list, as
    /// policy-server computes it.
    pub fn from_policy_file(
        path: &Path,
        metadata: Option<&Metadata>,
        default_namespace: &str,
    ) -> Result<Scope> {
        let resource = policy_resource(path)?;
        Scope::from_policy(&resource, metadata, default_namespace)
            .with_context(|| path.display().to_string())
    }

    /// [`Scope::from_policy_file`] on the resource read.
    fn from_policy(
        resource: &Value,
        metadata: Option<&Metadata>,
        default_namespace: &str,
    ) -> Result<Scope> {
        let name = resource["metadata"]["name"]
            .as_str()
            .context("the policy has no metadata.name")?;
        let spec = &resource["spec"];
        let (policy_id, only_namespace) = if resource["kind"] == "AdmissionPolicy" {
            let ns = resource["metadata"]["namespace"]
                .as_str()
                .unwrap_or(default_namespace)
                .to_owned();
            (format!("namespaced-{ns}-{name}"), Some(ns))
        } else {
            (format!("clusterwide-{name}"), None)
        };
        let mode = match spec["mode"].as_str() {
            None | Some("protect") => PolicyMode::Protect,
            Some("monitor") => PolicyMode::Monitor,
            Some(other) => bail!("spec.mode {other:?} is neither protect nor monitor"),
        };
        let mut notes = Vec::new();
        if let Some(conditions) = spec.get("matchConditions").filter(|c| !c.is_null()) {
            let names: Vec<&str> = conditions
                .as_array()
                .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
                .unwrap_or_default();
            notes.push(format!(
                "spec.matchConditions ({}) are CEL expressions evaluated by the API server: not \
                 evaluated here, every request is checked as if they matched",
                names.join(", ")
            ));
        }
        let namespace_selector = selector(spec, "namespaceSelector")?;
        if let Some(selector) = &namespace_selector {
            let other: BTreeSet<&str> = selector
                .match_labels
                .keys()
                .chain(selector.match_expressions.iter().map(|e| &e.key))
                .map(String::as_str)
                .filter(|k| *k != NAMESPACE_NAME_LABEL)
                .collect();
            if !other.is_empty() {
                notes.push(format!(
                    "spec.namespaceSelector uses namespace labels only the cluster knows ({}): \
                     evaluated as if the namespaces had only {NAMESPACE_NAME_LABEL}",
                    other.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        let context_aware: BTreeSet<ContextAwareResource> = serde_json::from_value(
            spec.get("contextAwareResources")
                .filter(|c| !c.is_null())
                .cloned()
                .unwrap_or(json!([])),
        )
        .context("spec.contextAwareResources")?;
        let context_aware = match metadata {
            Some(m) => context_aware
                .intersection(&m.context_aware_resources)
                .cloned()
                .collect(),
            None => context_aware,
        };
        Ok(Scope {
            policy_id,
            settings: match spec.get("settings") {
                None | Some(Value::Null) => json!({}),
                Some(s) => s.clone(),
            },
            rules: rules(&spec["rules"]).context("spec.rules")?,
            namespace_selector,
            object_selector: selector(spec, "objectSelector")?,
            only_namespace,
            policy_mode: mode,
            mutating: spec["mutating"].as_bool().unwrap_or(false),
            background_audit: spec["backgroundAudit"].as_bool().unwrap_or(true),
            context_aware: Some(context_aware),
            notes,
        })
    }

    /// Whether the webhook receives this request: a rule matches, the namespace is selected
    /// (with the label Kubernetes sets) and the object's labels are.
    pub fn sends(
        &self,
        (group, version, resource): (&str, &str, &str),
        operation: &str,
        namespace: Option<&str>,
        labels: &Value,
    ) -> Result<Option<String>> {
        if !self
            .rules
            .iter()
            .any(|r| r.matches(group, version, resource, operation))
        {
            return Ok(Some("no rule of the policy matches".into()));
        }
        if let (Some(only), Some(ns)) = (&self.only_namespace, namespace)
            && only != ns
        {
            return Ok(Some(format!(
                "the AdmissionPolicy only sees namespace {only}"
            )));
        }
        if let (Some(selector), Some(ns)) = (&self.namespace_selector, namespace) {
            let labels = json!({ NAMESPACE_NAME_LABEL: ns });
            if !selector_matches(selector, &labels)? {
                return Ok(Some(format!(
                    "namespace {ns} is not selected by spec.namespaceSelector"
                )));
            }
        }
        if let Some(selector) = &self.object_selector
            && !selector_matches(selector, labels)?
        {
            return Ok(Some(
                "its labels are not selected by spec.objectSelector".into(),
            ));
        }
        Ok(None)
    }
}

/// The one ClusterAdmissionPolicy or AdmissionPolicy of a policy file (`--policy`). The file may
/// hold other documents beside it, as `prepuller-check scaffold` writes it (the RBAC
/// policy-server needs): they are not the check's business.
pub fn policy_resource(path: &Path) -> Result<Value> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("{name}: cannot read"))?;
    let mut documents = Vec::new();
    crate::input::parse(&name, &text, &mut documents)?;
    let mut policies: Vec<Value> = documents
        .into_iter()
        .map(|d| d.object)
        .filter(|o| {
            matches!(
                o["kind"].as_str(),
                Some("ClusterAdmissionPolicy" | "AdmissionPolicy")
            )
        })
        .collect();
    match policies.len() {
        1 => Ok(policies.remove(0)),
        0 => bail!("{name}: holds no ClusterAdmissionPolicy or AdmissionPolicy"),
        n => bail!("{name}: holds {n} policies; name a file with one"),
    }
}

/// `spec.KEY`, read once as the policy's own LabelSelector, so a selector means here what it
/// means to the policy (and a malformed one is refused when the policy is read).
fn selector(spec: &Value, key: &str) -> Result<Option<LabelSelector>> {
    match spec.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(selector) => Ok(Some(
            LabelSelector::deserialize(selector).with_context(|| format!("spec.{key}"))?,
        )),
    }
}

/// Whether `selector` selects an object with `labels` (Kubernetes' semantics: every term must
/// hold; an empty selector selects everything).
pub fn selector_matches(selector: &LabelSelector, labels: &Value) -> Result<bool> {
    let labels = match labels {
        Value::Null => Labels::new(),
        labels => decode_labels(labels).context("labels that are not strings")?,
    };
    Ok(selector.matches(&labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Selectors mean what they mean to the policy and to Kubernetes: every term must hold,
    /// `NotIn` also holds for an absent label, an unknown operator is an error.
    #[test]
    fn selectors_match_as_kubernetes_matches_them() {
        let labels = json!({"component": "hook-image-puller", "tier": "pull"});
        let cases = [
            (json!({}), true),
            (
                json!({"matchLabels": {"component": "hook-image-puller"}}),
                true,
            ),
            (json!({"matchLabels": {"component": "hub"}}), false),
            (
                json!({"matchExpressions": [{"key": "component", "operator": "In", "values": ["hub", "hook-image-puller"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "release", "operator": "NotIn", "values": ["x"]}]}),
                true,
            ),
            (
                json!({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}),
                false,
            ),
            (
                json!({"matchLabels": {"tier": "pull"}, "matchExpressions": [{"key": "component", "operator": "Exists"}]}),
                true,
            ),
        ];
        for (selector, expected) in cases {
            let typed = LabelSelector::deserialize(&selector).unwrap();
            assert_eq!(
                selector_matches(&typed, &labels).unwrap(),
                expected,
                "{selector}"
            );
        }
        let everything = LabelSelector::deserialize(&json!({})).unwrap();
        assert!(selector_matches(&everything, &Value::Null).unwrap());
        let spec = json!({"objectSelector": {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}});
        let error = selector(&spec, "objectSelector").unwrap_err();
        assert!(
            format!("{error:#}").starts_with("spec.objectSelector: "),
            "{error:#}"
        );
    }

    /// A module without metadata is scoped by metadata.yml itself (built in), not by a copy.
    #[test]
    fn a_module_without_metadata_gets_metadata_yml_scope() {
        let root = policy_host::workspace_root();
        let on_disk = Metadata::load(&root.join("metadata.yml")).unwrap();
        let scope = Scope::from_module(None);
        assert_eq!(scope.rules, on_disk.rules);
        assert_eq!(scope.mutating, on_disk.mutating);
        assert_eq!(scope.context_aware, None);
        let labels = json!({});
        for (resource, operation) in [
            (("apps", "v1", "daemonsets"), "CREATE"),
            (("", "v1", "pods/ephemeralcontainers"), "UPDATE"),
            (("", "v1", "serviceaccounts"), "UPDATE"),
        ] {
            assert_eq!(
                scope
                    .sends(resource, operation, Some("jhub"), &labels)
                    .unwrap(),
                None,
                "{resource:?} {operation}"
            );
        }
        assert_eq!(
            scope
                .sends(
                    ("", "v1", "pods/ephemeralcontainers"),
                    "CREATE",
                    None,
                    &labels
                )
                .unwrap()
                .as_deref(),
            Some("no rule of the policy matches")
        );
    }

    #[test]
    fn the_manifests_scope() {
        let root = policy_host::workspace_root();
        for file in ["clusteradmissionpolicy.yaml", "admissionpolicy.yaml"] {
            let scope =
                Scope::from_policy_file(&root.join("manifests").join(file), None, "default")
                    .unwrap();
            assert_eq!(scope.policy_mode, PolicyMode::Monitor);
            assert!(scope.mutating);
            let labels = json!({});
            let ds = ("apps", "v1", "daemonsets");
            assert_eq!(
                scope.sends(ds, "CREATE", Some("jhub"), &labels).unwrap(),
                None
            );
            assert!(
                scope
                    .sends(ds, "CREATE", Some("other"), &labels)
                    .unwrap()
                    .is_some()
            );
            assert!(
                scope
                    .sends(("", "v1", "configmaps"), "CREATE", Some("jhub"), &labels)
                    .unwrap()
                    .is_some()
            );
        }
    }
}
