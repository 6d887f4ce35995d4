//! What the packaging requires of `metadata.yml` beyond its format (the type and its parsing
//! are `policy_artifact::metadata`'s): every value checked up front, every problem reported
//! together. Everything published (the custom section, the OCI annotations, Artifact Hub's
//! package, the cluster manifests) is derived from this one file, so a mistake here would be
//! shipped everywhere at once.

use std::path::Path;

use anyhow::{Context, Result, bail};
use policy_artifact::metadata::{
    AUTHOR, DESCRIPTION, DISPLAY_NAME, KEYWORDS, LICENSE, Metadata, OCI_URL, RESOURCES, Rule,
    SEVERITY, SOURCE, TITLE, URL, USAGE, VERSION,
};

use prepuller_serviceaccount_policy::names::validate_dns1123_subdomain;

use crate::mailbox;

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

/// Every problem at once, each naming the key to fix. `crate_version` is the root crate's
/// version: the published version and the built crate must not disagree.
pub fn problems(metadata: &Metadata, crate_version: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if metadata.rules.is_empty() {
        problems
            .push("rules: is empty, so Kubernetes would never send the policy a request".into());
    }
    for (i, rule) in metadata.rules.iter().enumerate() {
        rule_problems(i, rule, &mut problems);
    }
    if !EXECUTION_MODES.contains(&metadata.execution_mode.as_str()) {
        problems.push(format!(
            "executionMode: {:?} is not one of {EXECUTION_MODES:?}",
            metadata.execution_mode
        ));
    }
    if !POLICY_TYPES.contains(&metadata.policy_type.as_str()) {
        problems.push(format!(
            "policyType: {:?} is not one of {POLICY_TYPES:?}",
            metadata.policy_type
        ));
    }
    for (i, resource) in metadata.context_aware_resources.iter().enumerate() {
        if resource.api_version.trim().is_empty() || resource.kind.trim().is_empty() {
            problems.push(format!(
                "contextAwareResources[{i}]: apiVersion and kind must not be empty"
            ));
        }
    }
    for capability in metadata.host_capabilities.iter().flatten() {
        if !crate::capabilities::is_known(capability) {
            problems.push(format!(
                "hostCapabilities: {capability:?} is not one capability Kubewarden knows \
                 (namespace/operation, e.g. kubernetes/get_resource; no wildcards: kwctl \
                 annotate compares them with what the module calls)"
            ));
        }
    }
    for key in REQUIRED_ANNOTATIONS {
        match metadata.annotation(key) {
            None => problems.push(format!("annotations.{key}: is required")),
            Some(v) if v.trim().is_empty() => problems.push(format!("annotations.{key}: is empty")),
            Some(_) => {}
        }
    }
    if metadata.annotations.contains_key(USAGE) {
        problems.push(format!(
            "annotations.{USAGE}: must not be set in metadata.yml, it is filled in from README.md"
        ));
    }
    if let Some(author) = metadata.annotation(AUTHOR)
        && let Err(e) = mailbox::parse_name_addr_list(author)
    {
        problems.push(format!(
            "annotations.{AUTHOR}: {author:?} is not an RFC 5322 name-addr list: {e}"
        ));
    }
    if let Some(title) = metadata.annotation(TITLE)
        && let Err(e) = validate_dns1123_subdomain(title)
    {
        problems.push(format!(
            "annotations.{TITLE}: {title:?} is not a valid RFC 1123 name (it names the policy \
             resource): {e}"
        ));
    }
    if let Some(version) = metadata.annotation(VERSION) {
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
        if let Some(url) = metadata.annotation(key)
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            problems.push(format!("annotations.{key}: {url:?} is not an http(s) URL"));
        }
    }
    if let Some(oci) = metadata.annotation(OCI_URL)
        && let Err(e) = check_oci_repository(oci)
    {
        problems.push(format!("annotations.{OCI_URL}: {oci:?} {e}"));
    }
    if let Some(keywords) = metadata.annotation(KEYWORDS)
        && keywords.split(',').any(|k| k.trim().is_empty())
    {
        problems.push(format!(
            "annotations.{KEYWORDS}: {keywords:?} must be comma-separated words, none empty"
        ));
    }
    if let Some(severity) = metadata.annotation(SEVERITY)
        && !SEVERITIES.contains(&severity)
    {
        problems.push(format!(
            "annotations.{SEVERITY}: {severity:?} is not one of {SEVERITIES:?}"
        ));
    }
    problems
}

/// Fails with every problem listed.
pub fn validate(metadata: &Metadata, crate_version: &str) -> Result<()> {
    let problems = problems(metadata, crate_version);
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

/// The authors as Artifact Hub maintainers.
pub fn authors(metadata: &Metadata) -> Result<Vec<mailbox::Mailbox>> {
    mailbox::parse_name_addr_list(metadata.required(AUTHOR)?)
        .map_err(|e| anyhow::anyhow!("{AUTHOR} {e}"))
}

/// What kwctl annotate (policy-evaluator's `Rule` validation) refuses in a rule: an empty list,
/// `*` beside other values, an unknown operation, and the resource lists the API server refuses.
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
        } else if key != "resources" && list.len() > 1 && list.iter().any(|v| v == "*") {
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
    for problem in resource_problems(&rule.resources) {
        problems.push(format!("rules[{i}].resources: {problem}"));
    }
}

/// The API server's checks of a rule's resources (admissionregistration validation, which
/// policy-evaluator transposes): `*` is every resource without subresources, so it may stand
/// beside subresource entries only; `*/*` is everything, alone; `x/*` and `*/y` cover the
/// entries they match.
fn resource_problems(resources: &[String]) -> Vec<String> {
    let has = |r: &str| resources.iter().any(|x| x == r);
    let mut problems = Vec::new();
    if has("*/*") && resources.len() > 1 {
        problems.push("'*/*' must be the only element when used".to_owned());
    }
    if has("*") && resources.iter().any(|r| r != "*" && !r.contains('/')) {
        problems.push("'*' must not stand beside a resource without a subresource".to_owned());
    }
    for resource in resources {
        let Some((res, sub)) = resource.split_once('/') else {
            if resource.is_empty() {
                problems.push("an empty resource name".to_owned());
            }
            continue;
        };
        for wildcard in [format!("{res}/*"), format!("*/{sub}")] {
            if *resource != wildcard && wildcard != "*/*" && has(&wildcard) {
                problems.push(format!("'{wildcard}' already covers {resource:?}"));
            }
        }
    }
    problems
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
    use std::collections::BTreeSet;

    use policy_artifact::ContextAwareResource;

    use super::*;

    fn project_metadata() -> Metadata {
        Metadata::load(&crate::workspace_root().join("metadata.yml")).unwrap()
    }

    #[test]
    fn the_project_metadata_is_valid_and_matches_the_crate() {
        let root = crate::workspace_root();
        let version = crate_version(&root.join("Cargo.toml")).unwrap();
        let metadata = project_metadata();
        validate(&metadata, &version).unwrap();
        assert_eq!(metadata.version().unwrap(), version);
        assert!(metadata.mutating);
        assert!(metadata.background_audit);
    }

    /// A release tags the policy and prepuller-check alike (`prepuller-check-vX.Y.Z-TARGET`,
    /// whose `--version` and Helm plugin are in it): they carry the crate's version too.
    #[test]
    fn prepuller_check_and_its_helm_plugin_have_the_crate_version() {
        let root = crate::workspace_root();
        let version = crate_version(&root.join("Cargo.toml")).unwrap();
        let check = crate_version(&root.join("prepuller-check/Cargo.toml")).unwrap();
        assert_eq!(check, version, "prepuller-check/Cargo.toml");
        let plugin: serde_norway::Value = serde_norway::from_str(
            &std::fs::read_to_string(root.join("helm-plugin/plugin.yaml")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            plugin["version"].as_str(),
            Some(version.as_str()),
            "helm-plugin/plugin.yaml"
        );
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
        metadata.context_aware_resources = BTreeSet::from([ContextAwareResource::new("v1", "")]);
        let err = validate(&metadata, "0.1.0").unwrap_err().to_string();
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
        let err = validate(&project_metadata(), "0.2.0")
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
        let err = validate(&metadata, "0.1.0").unwrap_err().to_string();
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

    /// kwctl's (and the API server's) rules for resource wildcards, which are not the other
    /// lists' "`*` alone".
    #[test]
    fn resource_wildcards_are_checked_as_kubernetes_checks_them() {
        let problems = |resources: &[&str]| {
            resource_problems(&resources.iter().map(|r| r.to_string()).collect::<Vec<_>>())
        };
        for ok in [
            &["pods", "pods/ephemeralcontainers"][..],
            &["*"],
            &["*", "*/status"],
            &["*", "pods/status"],
            &["*/*"],
            &["pods/*"],
            &["*/status", "pods/ephemeralcontainers"],
        ] {
            assert_eq!(problems(ok), Vec::<String>::new(), "{ok:?}");
        }
        for (bad, expected) in [
            (
                &["*/*", "pods"][..],
                "'*/*' must be the only element when used",
            ),
            (
                &["*", "pods"],
                "'*' must not stand beside a resource without a subresource",
            ),
            (
                &["pods/*", "pods/status"],
                "'pods/*' already covers \"pods/status\"",
            ),
            (
                &["pods/status", "pods/*"],
                "'pods/*' already covers \"pods/status\"",
            ),
            (
                &["*/status", "pods/status"],
                "'*/status' already covers \"pods/status\"",
            ),
            (&["pods", ""], "an empty resource name"),
        ] {
            assert_eq!(problems(bad), [expected], "{bad:?}");
        }
    }

    #[test]
    fn titles_are_kubernetes_object_names() {
        let with_title = |title: &str| {
            let mut m = project_metadata();
            m.annotations.insert(TITLE.to_owned(), title.to_owned());
            problems(&m, project_metadata().version().unwrap())
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
