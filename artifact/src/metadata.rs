//! The policy metadata: what `metadata.yml` says and what `kwctl annotate` embeds in the module,
//! with the webhook rules it declares. One type for every reader: the packaging writes it,
//! policy-host grants what it lists, prepuller-check takes the policy's scope from it.
//!
//! A module's metadata is read as policy-evaluator reads it, unknown keys ignored (another
//! kwctl may write more); metadata.yml is read strictly ([`Metadata::from_yaml`]), so a typo
//! (`backgroundAudits`) is not silently dropped from every artifact.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Deserializer, Serialize};

use crate::section;

/// The policy's name: it names the policy resources, so it must be an RFC 1123 name.
pub const TITLE: &str = "io.kubewarden.policy.title";
/// The release's semantic version, kept equal to Cargo.toml's; images are tagged `vVERSION`.
pub const VERSION: &str = "io.kubewarden.policy.version";
/// One line on what the policy enforces, Artifact Hub's package description.
pub const DESCRIPTION: &str = "io.kubewarden.policy.description";
/// An RFC 5322 name-addr list, which Artifact Hub turns into maintainers.
pub const AUTHOR: &str = "io.kubewarden.policy.author";
/// The project's home page (http(s)), Artifact Hub's `homeURL`.
pub const URL: &str = "io.kubewarden.policy.url";
/// The source repository (http(s)), also the manifest's `org.opencontainers.image.source`.
pub const SOURCE: &str = "io.kubewarden.policy.source";
/// The SPDX licence, Artifact Hub's `license`.
pub const LICENSE: &str = "io.kubewarden.policy.license";
/// The OCI repository users pull from, without a tag; the scaffolded manifests point at it.
pub const OCI_URL: &str = "io.kubewarden.policy.ociUrl";
/// The README, filled in at annotation time and never written in metadata.yml.
pub const USAGE: &str = "io.kubewarden.policy.usage";
/// The PolicyReport severity the audit scanner reports violations with.
pub const SEVERITY: &str = "io.kubewarden.policy.severity";
/// The PolicyReport category the audit scanner files violations under.
pub const CATEGORY: &str = "io.kubewarden.policy.category";
/// The package name Artifact Hub shows.
pub const DISPLAY_NAME: &str = "io.artifacthub.displayName";
/// The kinds the policy judges, as Artifact Hub lists them (`kubewarden/resources`).
pub const RESOURCES: &str = "io.artifacthub.resources";
/// Comma-separated search keywords for Artifact Hub.
pub const KEYWORDS: &str = "io.artifacthub.keywords";

/// One webhook rule (`RuleWithOperations`): which requests the API server sends the policy.
/// metadata.yml declares them, the scaffolded policy resources copy them, and a policy
/// resource's `spec.rules` are read into it too. A list left out or `null` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// API groups, `""` for the core group, `*` any.
    #[serde(default, deserialize_with = "list")]
    pub api_groups: Vec<String>,
    /// API versions, e.g. `v1`.
    #[serde(default, deserialize_with = "list")]
    pub api_versions: Vec<String>,
    /// Plural resource names with subresources: `daemonsets`, `pods/ephemeralcontainers`, `*`.
    #[serde(default, deserialize_with = "list")]
    pub resources: Vec<String>,
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT` or `*`.
    #[serde(default, deserialize_with = "list")]
    pub operations: Vec<String>,
}

/// A list that may be `null` (YAML's `apiGroups:` with nothing after it).
fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}

impl Rule {
    /// Whether the API server sends this request to the webhook under this rule, matched as
    /// the API server's webhook rule matcher does: `*` is any value; a resource is split at its
    /// first `/` into resource and subresource, each matched on its own, so `pods/*` is pods
    /// and every subresource of pods, `*` every resource without subresources, `*/*` all.
    /// `resource` is the request's, `pods/ephemeralcontainers` for a subresource.
    pub fn matches(&self, group: &str, version: &str, resource: &str, operation: &str) -> bool {
        let any = |list: &[String], v: &str| list.iter().any(|x| x == "*" || x == v);
        fn split(r: &str) -> (&str, &str) {
            r.split_once('/').unwrap_or((r, ""))
        }
        let (asked, asked_sub) = split(resource);
        any(&self.api_groups, group)
            && any(&self.api_versions, version)
            && self.resources.iter().any(|r| {
                let (res, sub) = split(r);
                (res == "*" || res == asked) && (sub == "*" || sub == asked_sub)
            })
            && any(&self.operations, operation)
    }
}

/// `rules` without `resource`, and what they say about `resource` alone: each part keeps its
/// rule's groups, versions and operations, and a part with no resource is dropped. The
/// scaffolded policy resources leave `serviceaccounts` out of a policy that does not judge
/// them (each ServiceAccount write would be one webhook call for nothing).
pub fn split_off_resource(rules: &[Rule], resource: &str) -> (Vec<Rule>, Vec<Rule>) {
    let (mut kept, mut split_off) = (Vec::new(), Vec::new());
    for rule in rules {
        let (alone, other): (Vec<String>, Vec<String>) =
            rule.resources.iter().cloned().partition(|r| r == resource);
        for (resources, into) in [(other, &mut kept), (alone, &mut split_off)] {
            if !resources.is_empty() {
                into.push(Rule {
                    resources,
                    ..rule.clone()
                });
            }
        }
    }
    (kept, split_off)
}

/// One Kubernetes resource type a policy may read (`contextAwareResources` entries of the
/// metadata and of a policy resource); policy-server grants only these.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextAwareResource {
    /// `group/version`, or `v1` for the core group.
    pub api_version: String,
    /// The resource's kind, e.g. `ServiceAccount`.
    pub kind: String,
}

impl ContextAwareResource {
    /// The type `api_version`/`kind`.
    pub fn new(api_version: &str, kind: &str) -> Self {
        ContextAwareResource {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        }
    }
}

/// The policy metadata (policy-evaluator's `Metadata`). Field order is the order kwctl writes
/// the JSON in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// The waPC protocol, filled in from the module at annotation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    /// Which requests the policy is sent.
    pub rules: Vec<Rule>,
    /// The `io.kubewarden.*` and `io.artifacthub.*` annotations (see the constants above).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Whether the policy may change objects: the policy resources must say so to allow it.
    pub mutating: bool,
    /// Whether the audit scanner may evaluate stored objects against the policy.
    #[serde(default = "yes")]
    pub background_audit: bool,
    /// How policy-server runs the module; `kubewarden-wapc` for this one.
    #[serde(default = "wapc")]
    pub execution_mode: String,
    /// `kubernetes` for a policy judging admission requests, `raw` for arbitrary JSON.
    #[serde(default = "kubernetes")]
    pub policy_type: String,
    /// The resource types the policy reads from the cluster (a set, as policy-evaluator keeps
    /// and kwctl writes them: sorted, each once).
    #[serde(default)]
    pub context_aware_resources: BTreeSet<ContextAwareResource>,
    /// The host capabilities the module calls, as `namespace/operation` (policy-evaluator's
    /// set: written sorted, each once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_capabilities: Option<BTreeSet<String>>,
    /// The oldest Kubewarden able to run the policy, when it matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_kubewarden_version: Option<String>,
}

fn yes() -> bool {
    true
}

fn wapc() -> String {
    "kubewarden-wapc".into()
}

fn kubernetes() -> String {
    "kubernetes".into()
}

impl Metadata {
    /// Parses metadata.yml's text, refusing unknown keys (named by their path); values are
    /// the packaging's to check.
    pub fn from_yaml(text: &str) -> Result<Metadata> {
        let mut unknown = Vec::new();
        let metadata: Metadata =
            serde_ignored::deserialize(serde_norway::Deserializer::from_str(text), |path| {
                unknown.push(path.to_string())
            })
            .context("metadata.yml does not have the metadata format")?;
        if !unknown.is_empty() {
            bail!(
                "metadata.yml does not have the metadata format: unknown key(s) {}",
                unknown
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Ok(metadata)
    }

    /// Reads and parses metadata.yml.
    pub fn load(path: &Path) -> Result<Metadata> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Metadata::from_yaml(&text).with_context(|| format!("cannot load {}", path.display()))
    }

    /// The metadata a module carries in its `io.kubewarden.metadata` section, `None` when it
    /// was not annotated ([`section::read_metadata`]).
    pub fn of_module(module: &[u8]) -> Result<Option<Metadata>> {
        section::read_metadata(module)?
            .map(|json| {
                serde_json::from_slice(json).with_context(|| {
                    format!(
                        "the {} section does not hold policy metadata",
                        section::METADATA_SECTION
                    )
                })
            })
            .transpose()
    }

    /// The JSON stored in the `io.kubewarden.metadata` custom section.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(self)?)
    }

    /// An annotation that may be absent.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }

    /// An annotation that has to be there.
    pub fn required(&self, key: &str) -> Result<&str> {
        self.annotation(key)
            .with_context(|| format!("metadata annotation {key} is missing"))
    }

    /// The policy's version, which tags the image and Artifact Hub's package.
    pub fn version(&self) -> Result<&str> {
        self.required(VERSION)
    }

    /// The image reference users pull: `ociUrl:vVERSION`, as kwctl scaffold writes it.
    pub fn image_reference(&self) -> Result<String> {
        Ok(format!("{}:v{}", self.required(OCI_URL)?, self.version()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_yaml() -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../metadata.yml");
        std::fs::read_to_string(path).unwrap()
    }

    fn rule(groups: &[&str], resources: &[&str], operations: &[&str]) -> Rule {
        let strings = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        Rule {
            api_groups: strings(groups),
            api_versions: vec!["v1".into()],
            resources: strings(resources),
            operations: strings(operations),
        }
    }

    #[test]
    fn metadata_yml_parses_with_its_defaults_filled_in() {
        let metadata = Metadata::from_yaml(&project_yaml()).unwrap();
        assert!(metadata.mutating);
        assert!(metadata.background_audit);
        assert_eq!(metadata.execution_mode, "kubewarden-wapc");
        assert_eq!(metadata.policy_type, "kubernetes");
        assert_eq!(metadata.protocol_version, None);
        assert_eq!(
            metadata.context_aware_resources,
            BTreeSet::from([ContextAwareResource::new("v1", "ServiceAccount")])
        );
        assert_eq!(
            metadata.rules[1],
            rule(&[""], &["pods/ephemeralcontainers"], &["UPDATE"])
        );
        let minimal = Metadata::from_yaml("rules: []\nmutating: false\n").unwrap();
        assert!(minimal.background_audit);
        assert!(minimal.annotations.is_empty());
        assert_eq!(minimal.host_capabilities, None);
    }

    #[test]
    fn metadata_yml_refuses_unknown_keys_by_path_and_wrong_types() {
        let err = Metadata::from_yaml("rules: []\nmutating: true\nbackgroundAudits: false\n")
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown key(s) `backgroundAudits`"),
            "{err:#}"
        );
        let err = Metadata::from_yaml(
            "rules:\n- {apiGroups: [''], apiVersion: [v1], resources: [pods], operations: [CREATE]}\n\
             mutating: true\n\
             contextAwareResources:\n- {apiVersion: v1, kind: ServiceAccount, namespace: jhub}\n",
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains(
                "unknown key(s) `rules.0.apiVersion`, `contextAwareResources.0.namespace`"
            ),
            "{err:#}"
        );
        let err = Metadata::from_yaml("rules: []\nmutating: maybe\n").unwrap_err();
        assert!(format!("{err:#}").contains("mutating"), "{err:#}");
        let err = Metadata::from_yaml("mutating: true\n").unwrap_err();
        assert!(
            format!("{err:#}").contains("missing field `rules`"),
            "{err:#}"
        );
    }

    /// A module's metadata is read as policy-evaluator reads it: what another kwctl adds is
    /// ignored, and a rule list left `null` is empty.
    #[test]
    fn module_json_ignores_unknown_keys() {
        let metadata: Metadata = serde_json::from_str(
            r#"{"protocolVersion":"v1","rules":[{"apiGroups":null,"apiVersions":["v1"],
                "resources":["pods"],"operations":["CREATE"],"scope":"Namespaced"}],
                "mutating":false,"futureField":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(metadata.rules, [rule(&[], &["pods"], &["CREATE"])]);
        assert!(!metadata.mutating);
    }

    #[test]
    fn json_is_camel_case_in_kwctl_order() {
        let mut metadata = Metadata::from_yaml(&project_yaml()).unwrap();
        metadata.protocol_version = Some("v1".into());
        let json = String::from_utf8(metadata.to_json().unwrap()).unwrap();
        let order = [
            "{\"protocolVersion\":\"v1\"",
            ",\"rules\":[{\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\"resources\":[\"pods\"],\"operations\":[\"CREATE\",\"UPDATE\"]},",
            "],\"annotations\":{\"io.artifacthub.displayName\"",
            "},\"mutating\":true",
            ",\"backgroundAudit\":true",
            ",\"executionMode\":\"kubewarden-wapc\"",
            ",\"policyType\":\"kubernetes\"",
            ",\"contextAwareResources\":[{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\"}]",
            ",\"hostCapabilities\":[\"kubernetes/get_resource\"]}",
        ];
        let mut at = 0;
        for fragment in order {
            let found = json[at..]
                .find(fragment)
                .unwrap_or_else(|| panic!("{fragment} missing or out of order in {json}"));
            at += found + fragment.len();
        }
        assert_eq!(at, json.len());
        let back: Metadata = serde_json::from_str(&json).unwrap();
        assert_eq!(back, metadata);
    }

    /// Kubernetes' webhook rule matcher (apiserver's `predicates/rules`): `*` any value,
    /// a rule's resource split at its first `/` and each half matched on its own against the
    /// request's resource and subresource (`""` when there is none).
    #[test]
    fn rules_match_as_the_api_server_matches_them() {
        let pods = rule(&[""], &["pods"], &["CREATE", "UPDATE"]);
        assert!(pods.matches("", "v1", "pods", "CREATE"));
        assert!(!pods.matches("", "v1", "pods", "DELETE"));
        assert!(!pods.matches("apps", "v1", "pods", "CREATE"));
        assert!(!pods.matches("", "v2", "pods", "CREATE"));
        assert!(!rule(&[], &["pods"], &["CREATE"]).matches("", "v1", "pods", "CREATE"));
        assert!(rule(&["*"], &["pods"], &["*"]).matches("apps", "v1", "pods", "CONNECT"));
        // (the rule's resource, the request's resource or resource/subresource, sent)
        let resources = [
            ("pods", "pods", true),
            ("pods", "pod", false),
            ("pods", "pods/ephemeralcontainers", false),
            // One subresource: neither the resource nor another subresource.
            ("pods/ephemeralcontainers", "pods/ephemeralcontainers", true),
            ("pods/ephemeralcontainers", "pods", false),
            ("pods/ephemeralcontainers", "pods/status", false),
            // `pods/*`: pods itself and each of its subresources, no other resource.
            ("pods/*", "pods", true),
            ("pods/*", "pods/ephemeralcontainers", true),
            ("pods/*", "podtemplates", false),
            // `*`: every resource, none of their subresources.
            ("*", "daemonsets", true),
            ("*", "daemonsets/status", false),
            ("*", "pods/ephemeralcontainers", false),
            // `*/*`: every resource and every subresource.
            ("*/*", "daemonsets", true),
            ("*/*", "pods/ephemeralcontainers", true),
            // `*/status`: that subresource of every resource, not the resources.
            ("*/status", "daemonsets/status", true),
            ("*/status", "pods/status", true),
            ("*/status", "daemonsets", false),
            ("*/status", "pods/ephemeralcontainers", false),
        ];
        for (declared, requested, sent) in resources {
            let rule = rule(&["*"], &[declared], &["*"]);
            assert_eq!(
                rule.matches("apps", "v1", requested, "UPDATE"),
                sent,
                "rule resource {declared:?}, request {requested:?}"
            );
        }
    }

    #[test]
    fn a_resource_is_split_off_with_its_rule_s_groups_versions_and_operations() {
        let rules = [
            rule(&["apps"], &["daemonsets"], &["CREATE"]),
            rule(&[""], &["pods", "serviceaccounts"], &["CREATE", "UPDATE"]),
            rule(&[""], &["serviceaccounts"], &["DELETE"]),
        ];
        let (kept, split_off) = split_off_resource(&rules, "serviceaccounts");
        assert_eq!(
            kept,
            [
                rule(&["apps"], &["daemonsets"], &["CREATE"]),
                rule(&[""], &["pods"], &["CREATE", "UPDATE"]),
            ]
        );
        assert_eq!(
            split_off,
            [
                rule(&[""], &["serviceaccounts"], &["CREATE", "UPDATE"]),
                rule(&[""], &["serviceaccounts"], &["DELETE"]),
            ]
        );
        assert_eq!(split_off_resource(&rules, "jobs"), (rules.to_vec(), vec![]));
    }
}
