//! `metadata.yml`: reading it, checking it, and the camelCase JSON that goes into the module.
//!
//! Everything published (the custom section, the OCI annotations, Artifact Hub's package, the
//! cluster manifests) is derived from this one file, so a mistake here would be shipped
//! everywhere at once: it is checked up front and every problem is reported together.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use prepuller_serviceaccount_policy::names::validate_dns1123_subdomain;

use crate::mailbox;

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

/// What kwctl scaffold and Artifact Hub need; `usage` is not listed because it is filled in
/// from the README at annotation time.
pub const REQUIRED_ANNOTATIONS: &[&str] = &[
    TITLE,
    VERSION,
    DESCRIPTION,
    AUTHOR,
    URL,
    SOURCE,
    LICENSE,
    OCI_URL,
    DISPLAY_NAME,
    RESOURCES,
    KEYWORDS,
];

/// The severities a PolicyReport knows; the audit scanner copies this annotation into them.
const SEVERITIES: &[&str] = &["info", "low", "medium", "high", "critical"];
const OPERATIONS: &[&str] = &["CREATE", "UPDATE", "DELETE", "CONNECT", "*"];
const EXECUTION_MODES: &[&str] = &["kubewarden-wapc", "opa", "gatekeeper", "wasi"];
const POLICY_TYPES: &[&str] = &["kubernetes", "raw"];

/// One webhook rule: which requests the API server sends the policy. The scaffolded policy
/// resources copy them, so a kind missing here is never judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    /// API groups, `""` for the core group.
    pub api_groups: Vec<String>,
    /// API versions, e.g. `v1`.
    pub api_versions: Vec<String>,
    /// Plural resource names, e.g. `daemonsets`.
    pub resources: Vec<String>,
    /// `CREATE`, `UPDATE`, `DELETE`, `CONNECT` or `*`.
    pub operations: Vec<String>,
}

/// A resource type the policy reads from the cluster; policy-server grants only these. The host
/// harness's type, which grants what the annotated metadata lists.
pub use policy_host::ContextAwareResource;

/// The policy metadata. Field order is the order kwctl writes the JSON in; unknown keys are
/// refused so that a typo (`backgroundAudits`) is not silently dropped from every artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
    /// The resource types the policy reads from the cluster.
    #[serde(default)]
    pub context_aware_resources: Vec<ContextAwareResource>,
    /// The host capabilities the module calls, as `namespace/operation` (policy-evaluator's
    /// set: written sorted, each once). Annotation fails unless this is exactly what the module
    /// uses ([`crate::capabilities::check`]), the check behind kwctl 1.36's warning.
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
    /// Parses metadata.yml's text, refusing unknown keys; [`Metadata::validate`] checks values.
    pub fn from_yaml(text: &str) -> Result<Metadata> {
        let metadata = serde_norway::from_str(text)
            .context("metadata.yml does not have the metadata format")?;
        // The shared ContextAwareResource takes unknown keys as policy-evaluator does; in
        // metadata.yml they are refused like every other unknown key, so a typo is not dropped.
        let raw: serde_norway::Value = serde_norway::from_str(text)?;
        let entries = raw
            .get("contextAwareResources")
            .and_then(serde_norway::Value::as_sequence);
        for (i, entry) in entries.into_iter().flatten().enumerate() {
            for key in entry.as_mapping().into_iter().flat_map(|m| m.keys()) {
                match key.as_str() {
                    Some("apiVersion" | "kind") => {}
                    name => bail!(
                        "metadata.yml does not have the metadata format: contextAwareResources[{i}]: \
                         unknown field {:?}, expected `apiVersion` or `kind`",
                        name.map_or_else(|| format!("{key:?}"), str::to_owned)
                    ),
                }
            }
        }
        Ok(metadata)
    }

    /// Reads and parses metadata.yml.
    pub fn load(path: &Path) -> Result<Metadata> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Metadata::from_yaml(&text).with_context(|| format!("cannot load {}", path.display()))
    }

    /// An annotation that may be absent.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }

    /// An annotation that [`Metadata::validate`] has already required.
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

    /// The authors as Artifact Hub maintainers.
    pub fn authors(&self) -> Result<Vec<mailbox::Mailbox>> {
        mailbox::parse_name_addr_list(self.required(AUTHOR)?)
            .map_err(|e| anyhow::anyhow!("{AUTHOR} {e}"))
    }

    /// The JSON stored in the `io.kubewarden.metadata` custom section.
    pub fn to_json(&self) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(self)?)
    }

    /// Every problem at once, each naming the key to fix. `crate_version` is the root crate's
    /// version: the published version and the built crate must not disagree.
    pub fn problems(&self, crate_version: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if self.rules.is_empty() {
            problems.push(
                "rules: is empty, so Kubernetes would never send the policy a request".into(),
            );
        }
        for (i, rule) in self.rules.iter().enumerate() {
            rule_problems(i, rule, &mut problems);
        }
        if !EXECUTION_MODES.contains(&self.execution_mode.as_str()) {
            problems.push(format!(
                "executionMode: {:?} is not one of {EXECUTION_MODES:?}",
                self.execution_mode
            ));
        }
        if !POLICY_TYPES.contains(&self.policy_type.as_str()) {
            problems.push(format!(
                "policyType: {:?} is not one of {POLICY_TYPES:?}",
                self.policy_type
            ));
        }
        for (i, resource) in self.context_aware_resources.iter().enumerate() {
            if resource.api_version.trim().is_empty() || resource.kind.trim().is_empty() {
                problems.push(format!(
                    "contextAwareResources[{i}]: apiVersion and kind must not be empty"
                ));
            }
        }
        for capability in self.host_capabilities.iter().flatten() {
            if !crate::capabilities::is_known(capability) {
                problems.push(format!(
                    "hostCapabilities: {capability:?} is not one capability Kubewarden knows \
                     (namespace/operation, e.g. kubernetes/get_resource; no wildcards: kwctl \
                     annotate compares them with what the module calls)"
                ));
            }
        }
        for key in REQUIRED_ANNOTATIONS {
            match self.annotation(key) {
                None => problems.push(format!("annotations.{key}: is required")),
                Some(v) if v.trim().is_empty() => {
                    problems.push(format!("annotations.{key}: is empty"))
                }
                Some(_) => {}
            }
        }
        if self.annotations.contains_key(USAGE) {
            problems.push(format!(
                "annotations.{USAGE}: must not be set in metadata.yml, it is filled in from README.md"
            ));
        }
        if let Some(author) = self.annotation(AUTHOR)
            && let Err(e) = mailbox::parse_name_addr_list(author)
        {
            problems.push(format!(
                "annotations.{AUTHOR}: {author:?} is not an RFC 5322 name-addr list: {e}"
            ));
        }
        if let Some(title) = self.annotation(TITLE)
            && let Err(e) = validate_dns1123_subdomain(title)
        {
            problems.push(format!(
                "annotations.{TITLE}: {title:?} is not a valid RFC 1123 name (it names the policy \
                 resource): {e}"
            ));
        }
        if let Some(version) = self.annotation(VERSION) {
            if let Err(e) = semver::Version::parse(version) {
                problems.push(format!(
                    "annotations.{VERSION}: {version:?} is not a semantic version: {e}"
                ));
            } else if version != crate_version {
                problems.push(format!(
                    "annotations.{VERSION}: {version:?} differs from the crate version \
                     {crate_version:?} in Cargo.toml: bump both together"
                ));
            }
        }
        for key in [URL, SOURCE] {
            if let Some(url) = self.annotation(key)
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                problems.push(format!("annotations.{key}: {url:?} is not an http(s) URL"));
            }
        }
        if let Some(oci) = self.annotation(OCI_URL)
            && let Err(e) = check_oci_repository(oci)
        {
            problems.push(format!("annotations.{OCI_URL}: {oci:?} {e}"));
        }
        if let Some(keywords) = self.annotation(KEYWORDS)
            && keywords.split(',').any(|k| k.trim().is_empty())
        {
            problems.push(format!(
                "annotations.{KEYWORDS}: {keywords:?} must be comma-separated words, none empty"
            ));
        }
        if let Some(severity) = self.annotation(SEVERITY)
            && !SEVERITIES.contains(&severity)
        {
            problems.push(format!(
                "annotations.{SEVERITY}: {severity:?} is not one of {SEVERITIES:?}"
            ));
        }
        problems
    }

    /// Fails with every problem listed.
    pub fn validate(&self, crate_version: &str) -> Result<()> {
        let problems = self.problems(crate_version);
        if problems.is_empty() {
            return Ok(());
        }
        bail!(
            "metadata.yml is invalid:\n{}",
            problems
                .iter()
                .map(|p| format!("  - {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    }
}

fn rule_problems(i: usize, rule: &Rule, problems: &mut Vec<String>) {
    let lists = [
        ("apiGroups", &rule.api_groups),
        ("apiVersions", &rule.api_versions),
        ("resources", &rule.resources),
        ("operations", &rule.operations),
    ];
    for (key, list) in lists {
        if list.is_empty() {
            problems.push(format!("rules[{i}].{key}: is empty"));
        } else if list.len() > 1 && list.iter().any(|v| v == "*") {
            problems.push(format!(
                "rules[{i}].{key}: '*' must be the only element when used"
            ));
        }
    }
    for op in &rule.operations {
        if !OPERATIONS.contains(&op.as_str()) {
            problems.push(format!(
                "rules[{i}].operations: {op:?} is not one of {OPERATIONS:?}"
            ));
        }
    }
    for resource in &rule.resources {
        if resource.is_empty() {
            problems.push(format!("rules[{i}].resources: an empty resource name"));
        }
    }
}

/// `ociUrl` is a repository without scheme, tag or digest: the version is appended to it.
fn check_oci_repository(oci: &str) -> Result<(), String> {
    if oci.contains("://") {
        return Err("must not have a scheme (write HOST/PATH, not registry://HOST/PATH)".into());
    }
    let last = oci.rsplit('/').next().unwrap_or_default();
    if !oci.contains('/') || last.contains(':') || oci.contains('@') {
        return Err("must be HOST/PATH, without a tag or digest".into());
    }
    format!("{oci}:v0.0.0")
        .parse::<oci_client::Reference>()
        .map(|_| ())
        .map_err(|e| format!("is not a valid OCI repository: {e}"))
}

/// The `[package] version` of a Cargo.toml.
pub fn crate_version(cargo_toml: &Path) -> Result<String> {
    let text = std::fs::read_to_string(cargo_toml)
        .with_context(|| format!("cannot read {}", cargo_toml.display()))?;
    let value: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not TOML", cargo_toml.display()))?;
    value
        .get("package")
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .with_context(|| format!("{} has no [package] version", cargo_toml.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_metadata() -> Metadata {
        Metadata::load(&crate::workspace_root().join("metadata.yml")).unwrap()
    }

    #[test]
    fn the_project_metadata_is_valid_and_matches_the_crate() {
        let root = crate::workspace_root();
        let version = crate_version(&root.join("Cargo.toml")).unwrap();
        let metadata = project_metadata();
        metadata.validate(&version).unwrap();
        assert_eq!(metadata.version().unwrap(), version);
        assert!(metadata.mutating);
        assert!(metadata.background_audit);
    }

    #[test]
    fn json_is_camel_case_in_kwctl_order() {
        let mut metadata = project_metadata();
        metadata.protocol_version = Some("v1".into());
        let json = String::from_utf8(metadata.to_json().unwrap()).unwrap();
        // The values come from metadata.yml; what is checked is the spelling and the order.
        let rules = format!(
            "\"rules\":{}",
            serde_json::to_string(&metadata.rules).unwrap()
        );
        assert!(rules.starts_with("\"rules\":[{\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],"));
        let context = format!(
            "\"contextAwareResources\":{}",
            serde_json::to_string(&metadata.context_aware_resources).unwrap()
        );
        let order = [
            "\"protocolVersion\":\"v1\"",
            rules.as_str(),
            "\"annotations\":{\"io.artifacthub.displayName\"",
            "\"mutating\":true",
            "\"backgroundAudit\":true",
            "\"executionMode\":\"kubewarden-wapc\"",
            "\"policyType\":\"kubernetes\"",
            context.as_str(),
            "\"hostCapabilities\":[\"kubernetes/get_resource\"]",
        ];
        let mut at = 0;
        for fragment in order {
            let found = json[at..]
                .find(fragment)
                .unwrap_or_else(|| panic!("{fragment} missing or out of order in {json}"));
            at += found + fragment.len();
        }
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert!(keys.iter().all(|k| !k.contains('_')), "{keys:?}");
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let mut metadata = project_metadata();
        metadata.rules.clear();
        metadata.annotations.remove(LICENSE);
        metadata
            .annotations
            .insert(AUTHOR.into(), "maintainers@example.org".into());
        metadata
            .annotations
            .insert(TITLE.into(), "Prepuller_Policy".into());
        metadata.annotations.insert(USAGE.into(), "x".into());
        metadata
            .annotations
            .insert(OCI_URL.into(), "registry://ghcr.io/x/y:v1".into());
        metadata
            .annotations
            .insert(SEVERITY.into(), "urgent".into());
        metadata.host_capabilities = Some(BTreeSet::from(["kubernetes/*".to_owned()]));
        metadata.context_aware_resources[0].kind.clear();
        let err = metadata.validate("0.1.0").unwrap_err().to_string();
        for fragment in [
            "rules: is empty",
            "annotations.io.kubewarden.policy.license: is required",
            "annotations.io.kubewarden.policy.author: \"maintainers@example.org\" is not an RFC 5322 name-addr",
            "annotations.io.kubewarden.policy.title: \"Prepuller_Policy\" is not a valid RFC 1123 name",
            "annotations.io.kubewarden.policy.usage: must not be set in metadata.yml",
            "annotations.io.kubewarden.policy.ociUrl: \"registry://ghcr.io/x/y:v1\" must not have a scheme",
            "annotations.io.kubewarden.policy.severity: \"urgent\"",
            "hostCapabilities: \"kubernetes/*\" is not one capability Kubewarden knows",
            "contextAwareResources[0]: apiVersion and kind must not be empty",
        ] {
            assert!(err.contains(fragment), "{err}\nlacks {fragment}");
        }
    }

    #[test]
    fn the_version_must_be_the_crate_version() {
        let err = project_metadata()
            .validate("0.2.0")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "annotations.io.kubewarden.policy.version: \"0.1.0\" differs from the crate version \"0.2.0\""
            ),
            "{err}"
        );
    }

    #[test]
    fn rules_are_checked_one_by_one() {
        let mut metadata = project_metadata();
        metadata.rules[1].operations = vec!["CREATE".into(), "PATCH".into()];
        metadata.rules[2].api_groups = vec!["*".into(), "apps".into()];
        metadata.rules[3].resources.clear();
        let err = metadata.validate("0.1.0").unwrap_err().to_string();
        assert!(
            err.contains("rules[1].operations: \"PATCH\" is not one of"),
            "{err}"
        );
        assert!(
            err.contains("rules[2].apiGroups: '*' must be the only element"),
            "{err}"
        );
        assert!(err.contains("rules[3].resources: is empty"), "{err}");
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused() {
        let err = Metadata::from_yaml("rules: []\nmutating: true\nbackgroundAudits: false\n")
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown field `backgroundAudits`"),
            "{err:#}"
        );
        let err = Metadata::from_yaml(
            "rules: []\nmutating: true\ncontextAwareResources:\n- {apiVersion: v1, kind: ServiceAccount, namespace: jhub}\n",
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("contextAwareResources[0]: unknown field \"namespace\""),
            "{err:#}"
        );
        let err = Metadata::from_yaml("rules: []\nmutating: maybe\n").unwrap_err();
        assert!(format!("{err:#}").contains("mutating"), "{err:#}");
    }

    /// The title goes through the policy's own validator (one definition of a Kubernetes name
    /// for the policy and its packaging): what Kubernetes accepts as an object name passes, up
    /// to 253 characters with no per-label limit (that is DNS-1123 *label*'s), the rest is
    /// reported against the title key.
    #[test]
    fn titles_are_kubernetes_object_names() {
        let with_title = |title: &str| {
            let mut m = project_metadata();
            m.annotations.insert(TITLE.to_owned(), title.to_owned());
            m.problems(project_metadata().version().unwrap())
        };
        let long_label = "a".repeat(64);
        let longest = format!("{}.{}", "a".repeat(126), "b".repeat(126));
        for ok in [
            "prepuller-serviceaccount",
            "a",
            "a.b-c.d0",
            &long_label,
            &longest,
        ] {
            assert_eq!(with_title(ok), Vec::<String>::new(), "{ok:?}");
        }
        let too_long = "a".repeat(254);
        for bad in ["", "-a", "a-", "A", "a_b", "a..b", &too_long] {
            let problems = with_title(bad);
            let expected = format!("annotations.{TITLE}: {bad:?} is not a valid RFC 1123 name");
            assert!(
                problems.iter().any(|p| p.starts_with(&expected)),
                "{bad:?}: {problems:?}"
            );
        }
    }
}
