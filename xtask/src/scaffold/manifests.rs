//! The ClusterAdmissionPolicy and AdmissionPolicy that `kwctl scaffold manifest` makes, with
//! the settings spelled out at their defaults and set up the way a JupyterHub operator deploys
//! it: scoped to the JupyterHub namespace, starting in monitor mode.

use anyhow::Result;
use serde_norway::{Mapping, Value};

use policy_artifact::metadata::{self, Metadata, Rule};

/// The namespace the manifests name; the README says to change it.
pub const JUPYTERHUB_NAMESPACE: &str = "jhub";
const API_VERSION: &str = "policies.kubewarden.io/v1";

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Mapping(entries.into_iter().map(|(k, v)| (s(k), v)).collect())
}

/// kwctl copies severity and category into the policy's annotations: the audit scanner reads
/// them from there for PolicyReports.
fn object_metadata(metadata: &Metadata, namespace: Option<&str>) -> Result<Value> {
    let mut entries = vec![("name", s(metadata.required(metadata::TITLE)?))];
    if let Some(ns) = namespace {
        entries.push(("namespace", s(ns)));
    }
    let annotations: Vec<(&str, Value)> = [metadata::CATEGORY, metadata::SEVERITY]
        .into_iter()
        .filter_map(|k| metadata.annotation(k).map(|v| (k, s(v))))
        .collect();
    if !annotations.is_empty() {
        entries.push(("annotations", map(annotations)));
    }
    Ok(map(entries))
}

/// The resource the policy judges only with `serviceAccountObjects: true`.
pub const SERVICE_ACCOUNTS: &str = "serviceaccounts";
/// The setting that turns the ServiceAccount checks on.
pub const SERVICE_ACCOUNT_OBJECTS: &str = "serviceAccountObjects";

/// The rules the manifests register: metadata.yml's, without `serviceaccounts` unless the
/// settings have `serviceAccountObjects: true`. With it false the policy accepts every
/// ServiceAccount untouched, so registering them would only send policy-server a webhook call
/// for each ServiceAccount write, and an outage of policy-server would block them for nothing.
/// Returns the rules kept and the ones left out (for the comment that says how to add them).
pub fn manifest_rules(metadata: &Metadata, settings: &Mapping) -> (Vec<Rule>, Vec<Rule>) {
    let judged = settings
        .get(SERVICE_ACCOUNT_OBJECTS)
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if judged {
        return (metadata.rules.clone(), Vec::new());
    }
    metadata::split_off_resource(&metadata.rules, SERVICE_ACCOUNTS)
}

/// The setting that makes the policy look ServiceAccounts up (context-aware).
pub const REQUIRE_EXISTING: &str = "requireExistingServiceAccounts";

fn requires_existing(settings: &Mapping) -> bool {
    settings
        .get(REQUIRE_EXISTING)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// What the context-aware setting needs besides itself: the grant in the policy resource
/// (Kubewarden grants only what both it and metadata.yml list) and policy-server's RBAC. With
/// the setting on, the grant is in `spec` and the comment names the RBAC; with it off, the
/// comment shows both.
fn context_aware_comment(metadata: &Metadata, settings: &Mapping) -> Result<String> {
    if metadata.context_aware_resources.is_empty() {
        return Ok(String::new());
    }
    let rbac = "  # policy-server's ServiceAccount must be allowed to get (and, for its cache, list and\n  \
                # watch) ServiceAccounts: README.md, section \"Require existing ServiceAccounts\".\n";
    if requires_existing(settings) {
        return Ok(format!(
            "  # {REQUIRE_EXISTING}: true looks ServiceAccounts up (contextAwareResources below);\n{rbac}"
        ));
    }
    let mut comment = format!(
        "  # With `{REQUIRE_EXISTING}: true` in settings, also grant what metadata.yml declares:\n"
    );
    let grant = map(vec![(
        "contextAwareResources",
        serde_norway::to_value(&metadata.context_aware_resources)?,
    )]);
    for line in serde_norway::to_string(&grant)?.lines() {
        comment.push_str(&format!("  # {line}\n"));
    }
    comment.push_str(rbac);
    Ok(comment)
}

/// A YAML comment, indented as the `rules` list items under `spec`, with the rules left out.
fn left_out_comment(left_out: &[Rule]) -> Result<String> {
    if left_out.is_empty() {
        return Ok(String::new());
    }
    let mut comment = format!(
        "  # metadata.yml's `{SERVICE_ACCOUNTS}` rule is left out: with `{SERVICE_ACCOUNT_OBJECTS}: false`\n  \
         # the policy accepts ServiceAccounts untouched. Add it back here together with\n  \
         # `{SERVICE_ACCOUNT_OBJECTS}: true` in settings:\n"
    );
    for line in serde_norway::to_string(left_out)?.lines() {
        comment.push_str(&format!("  # {line}\n"));
    }
    Ok(comment)
}

/// The spec both kinds share, in kwctl's key order, then monitor mode: Kubewarden lets a policy
/// go from monitor to protect but not back, so starting in monitor is the step that can be
/// taken without risk.
fn spec(metadata: &Metadata, settings: &Mapping) -> Result<Vec<(&'static str, Value)>> {
    let (rules, _) = manifest_rules(metadata, settings);
    let mut spec = vec![
        ("module", s(&metadata.image_reference()?)),
        ("settings", Value::Mapping(settings.clone())),
        ("rules", serde_norway::to_value(&rules)?),
        ("mutating", Value::Bool(metadata.mutating)),
        ("backgroundAudit", Value::Bool(metadata.background_audit)),
        ("mode", s("monitor")),
    ];
    if requires_existing(settings) {
        spec.push((
            "contextAwareResources",
            serde_norway::to_value(&metadata.context_aware_resources)?,
        ));
    }
    Ok(spec)
}

/// The manifest text, with the comment about left-out rules placed at the end of `rules` (just
/// before `mutating`, the key that follows it in `spec`).
fn document(
    header: &str,
    kind: &str,
    object_meta: Value,
    spec: Vec<(&str, Value)>,
    left_out: &[Rule],
    context_aware: String,
) -> Result<String> {
    let doc = map(vec![
        ("apiVersion", s(API_VERSION)),
        ("kind", s(kind)),
        ("metadata", object_meta),
        ("spec", map(spec)),
    ]);
    let text = serde_norway::to_string(&doc)?;
    let comment = left_out_comment(left_out)? + &context_aware;
    let text = match text.find("\n  mutating:") {
        Some(at) if !comment.is_empty() => {
            format!("{}\n{}{}", &text[..at], comment, &text[at + 1..])
        }
        _ => text,
    };
    Ok(format!("{header}{text}"))
}

const HEADER: &str = "# Generated by `make manifests` (`cargo run -p xtask -- scaffold`,\n\
    # xtask/src/scaffold/manifests.rs) from metadata.yml and the settings defaults: do not edit.\n\
    # Starts in monitor mode; see README.md, section Install, before switching to protect.\n";

/// The cluster-wide policy, limited to the JupyterHub namespace by its name label (set by
/// Kubernetes on every namespace), so other tenants' workloads are never judged.
pub fn cluster_admission_policy(metadata: &Metadata, settings: &Mapping) -> Result<String> {
    let mut spec = spec(metadata, settings)?;
    spec.push((
        "namespaceSelector",
        map(vec![(
            "matchExpressions",
            Value::Sequence(vec![map(vec![
                ("key", s("kubernetes.io/metadata.name")),
                ("operator", s("In")),
                ("values", Value::Sequence(vec![s(JUPYTERHUB_NAMESPACE)])),
            ])]),
        )]),
    ));
    document(
        HEADER,
        "ClusterAdmissionPolicy",
        object_metadata(metadata, None)?,
        spec,
        &manifest_rules(metadata, settings).1,
        context_aware_comment(metadata, settings)?,
    )
}

/// Why the namespaced policy leaves `requireExistingServiceAccounts` out, placed before `rules`.
const NO_LOOKUPS_IN_ADMISSION_POLICY: &str = "  # requireExistingServiceAccounts is left out: it needs a ClusterAdmissionPolicy. An\n  \
     # AdmissionPolicy cannot look anything up (Kubewarden grants it no contextAwareResources),\n  \
     # so every lookup would be refused: use manifests/clusteradmissionpolicy.yaml for it.\n";

/// The namespaced policy, for operators who may not install cluster-wide policies. Kubewarden
/// grants an AdmissionPolicy no context-aware resources, so `requireExistingServiceAccounts`
/// cannot work in it: the setting is left out, with a comment, and asking for it is an error.
pub fn admission_policy(metadata: &Metadata, settings: &Mapping) -> Result<String> {
    if requires_existing(settings) {
        anyhow::bail!(
            "{REQUIRE_EXISTING}: true needs a ClusterAdmissionPolicy: Kubewarden grants an AdmissionPolicy no contextAwareResources"
        );
    }
    let mut settings = settings.clone();
    settings.remove(REQUIRE_EXISTING);
    let text = document(
        HEADER,
        "AdmissionPolicy",
        object_metadata(metadata, Some(JUPYTERHUB_NAMESPACE))?,
        spec(metadata, &settings)?,
        &manifest_rules(metadata, &settings).1,
        String::new(),
    )?;
    Ok(match text.find("\n  rules:") {
        Some(at) if !metadata.context_aware_resources.is_empty() => format!(
            "{}\n{NO_LOOKUPS_IN_ADMISSION_POLICY}{}",
            &text[..at],
            &text[at + 1..]
        ),
        _ => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> Metadata {
        Metadata::load(&crate::workspace_root().join("metadata.yml")).unwrap()
    }

    fn settings(service_account_objects: bool) -> Mapping {
        let mut m = crate::scaffold::questions::default_settings();
        m.insert(
            s(SERVICE_ACCOUNT_OBJECTS),
            Value::Bool(service_account_objects),
        );
        m
    }

    #[test]
    fn service_accounts_are_registered_only_when_judged() {
        let metadata = metadata();
        assert!(
            metadata
                .rules
                .iter()
                .any(|r| r.resources.iter().any(|x| x == SERVICE_ACCOUNTS)),
            "metadata.yml no longer has a serviceaccounts rule: this test needs another input"
        );
        let (kept, left_out) = manifest_rules(&metadata, &settings(false));
        assert!(
            kept.iter()
                .all(|r| !r.resources.iter().any(|x| x == SERVICE_ACCOUNTS))
        );
        assert_eq!(
            left_out
                .iter()
                .flat_map(|r| r.resources.clone())
                .collect::<Vec<_>>(),
            vec![SERVICE_ACCOUNTS]
        );
        let (all, none) = manifest_rules(&metadata, &settings(true));
        assert_eq!(all, metadata.rules);
        assert!(none.is_empty());

        let off = cluster_admission_policy(&metadata, &settings(false)).unwrap();
        assert!(
            off.contains("  # the policy accepts ServiceAccounts untouched"),
            "{off}"
        );
        assert!(off.contains("  #   - serviceaccounts\n"), "{off}");
        let doc: Value = serde_norway::from_str(&off).unwrap();
        assert_eq!(doc["spec"]["rules"], serde_norway::to_value(&kept).unwrap());
        assert_eq!(doc["spec"]["mutating"], Value::Bool(true));
        let on = cluster_admission_policy(&metadata, &settings(true)).unwrap();
        assert!(!on.contains('#') || !on.contains("left out"), "{on}");
        let doc: Value = serde_norway::from_str(&on).unwrap();
        assert_eq!(
            doc["spec"]["rules"],
            serde_norway::to_value(&metadata.rules).unwrap()
        );
    }

    #[test]
    fn the_context_aware_grant_follows_the_setting() {
        let metadata = metadata();
        let off = cluster_admission_policy(&metadata, &settings(false)).unwrap();
        let doc: Value = serde_norway::from_str(&off).unwrap();
        assert!(doc["spec"].get("contextAwareResources").is_none(), "{off}");
        assert!(
            off.contains("  # With `requireExistingServiceAccounts: true` in settings, also grant what metadata.yml declares:\n  # contextAwareResources:\n  # - apiVersion: v1\n  #   kind: ServiceAccount\n"),
            "{off}"
        );
        assert!(
            off.contains("policy-server's ServiceAccount must be allowed to get"),
            "{off}"
        );
        let mut on = settings(false);
        on.insert(s(REQUIRE_EXISTING), Value::Bool(true));
        let text = cluster_admission_policy(&metadata, &on).unwrap();
        let doc: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(
            doc["spec"]["contextAwareResources"],
            serde_norway::to_value(&metadata.context_aware_resources).unwrap()
        );
        assert!(
            text.contains("policy-server's ServiceAccount must be allowed to get"),
            "{text}"
        );
    }

    #[test]
    fn the_admission_policy_never_offers_lookups() {
        let metadata = metadata();
        let text = admission_policy(&metadata, &settings(false)).unwrap();
        let doc: Value = serde_norway::from_str(&text).unwrap();
        assert!(
            doc["spec"]["settings"].get(REQUIRE_EXISTING).is_none(),
            "{text}"
        );
        assert!(doc["spec"].get("contextAwareResources").is_none(), "{text}");
        assert!(
            text.contains("    serviceAccountObjects: false\n  # requireExistingServiceAccounts is left out: it needs a ClusterAdmissionPolicy. An\n  # AdmissionPolicy cannot look anything up (Kubewarden grants it no contextAwareResources),\n  # so every lookup would be refused: use manifests/clusteradmissionpolicy.yaml for it.\n  rules:\n"),
            "{text}"
        );
        assert!(
            !text.contains("With `requireExistingServiceAccounts: true`"),
            "{text}"
        );
        let mut on = settings(false);
        on.insert(s(REQUIRE_EXISTING), Value::Bool(true));
        let err = admission_policy(&metadata, &on).unwrap_err().to_string();
        assert_eq!(
            err,
            "requireExistingServiceAccounts: true needs a ClusterAdmissionPolicy: Kubewarden grants an AdmissionPolicy no contextAwareResources"
        );
    }
}
