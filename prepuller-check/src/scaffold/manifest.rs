//! The policy resource for a release, as `kwctl scaffold manifest` would write it from the
//! module's metadata (its rules, `mutating`, `backgroundAudit`, its name and OCI reference),
//! with the release's settings, scoped to its namespace and starting in monitor mode; with the
//! lookups, the grant and the RBAC policy-server needs for them.

use anyhow::{Context as _, Result, bail};
use policy_artifact::metadata::{CATEGORY, Metadata, OCI_URL, Rule, SEVERITY, TITLE, VERSION};
use prepuller_serviceaccount_policy::roles::RoleKind;
use serde_norway::{Mapping, Value};

use super::release::Release;
use crate::scope::NAMESPACE_NAME_LABEL;

/// The two policy resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyType {
    /// Cluster-wide, limited to the release's namespace by `namespaceSelector`.
    #[value(name = "ClusterAdmissionPolicy")]
    ClusterAdmissionPolicy,
    /// In the release's namespace.
    #[value(name = "AdmissionPolicy")]
    AdmissionPolicy,
}

/// How the resource is written besides the release.
pub struct Options<'a> {
    /// Which resource.
    pub policy_type: PolicyType,
    /// `requireExistingServiceAccounts: true`, the grant and the RBAC.
    pub require_existing: bool,
    /// `metadata.name`; the module's title when `None`.
    pub name: Option<&'a str>,
    /// `spec.module`; the module's published reference when `None`.
    pub module: Option<&'a str>,
    /// How the inputs are named in the header.
    pub inputs: &'a str,
}

const API_VERSION: &str = "policies.kubewarden.io/v1";
/// kwctl copies these into the policy's annotations: the audit scanner reads them there.
const REPORT_ANNOTATIONS: [&str; 2] = [CATEGORY, SEVERITY];
/// The resource the policy judges only with `serviceAccountObjects: true`.
const SERVICE_ACCOUNTS: &str = "serviceaccounts";

/// The RBAC that lets policy-server's ServiceAccount read ServiceAccounts: README.md, "Require
/// existing ServiceAccounts", word for word (a test holds them together).
pub const RBAC: &str = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: prepuller-policy-read-serviceaccounts}
rules: [{apiGroups: [""], resources: [serviceaccounts], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: prepuller-policy-read-serviceaccounts}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: prepuller-policy-read-serviceaccounts}
subjects: [{kind: ServiceAccount, name: policy-server, namespace: kubewarden}]
"#;

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Mapping(
        entries
            .into_iter()
            .map(|(k, v)| (s(k), v))
            .collect::<Mapping>(),
    )
}

fn strings(items: &[String]) -> Value {
    Value::Sequence(items.iter().map(|i| s(i)).collect())
}

/// The settings for the release: every key spelled out, as in manifests/.
pub fn settings(release: &Release, options: &Options) -> Value {
    let mut entries = vec![("mode", s("mutate"))];
    for role in &release.roles {
        let mut keys = Vec::new();
        if role.kind == RoleKind::Awaiter {
            keys.push(("enabled", Value::Bool(true)));
        }
        keys.push(("serviceAccountName", s(&role.service_account)));
        keys.push((
            "selector",
            map(vec![(
                "matchLabels",
                map(vec![("component", s(&role.component))]),
            )]),
        ));
        entries.push((role.kind.settings_key(), map(keys)));
    }
    entries.push(("reserveServiceAccounts", Value::Bool(true)));
    entries.push(("serviceAccountObjects", Value::Bool(false)));
    if options.policy_type == PolicyType::ClusterAdmissionPolicy {
        entries.push((
            "requireExistingServiceAccounts",
            Value::Bool(options.require_existing),
        ));
    }
    map(entries)
}

fn rule(rule: &Rule, resources: Vec<String>) -> Value {
    map(vec![
        ("apiGroups", strings(&rule.api_groups)),
        ("apiVersions", strings(&rule.api_versions)),
        ("resources", strings(&resources)),
        ("operations", strings(&rule.operations)),
    ])
}

/// The module's rules without `serviceaccounts` (the settings leave `serviceAccountObjects`
/// off, so the policy accepts every ServiceAccount untouched: registering them would only send
/// policy-server every ServiceAccount write), and the rules left out.
fn rules(metadata: &Metadata) -> (Vec<Value>, Vec<Value>) {
    let (mut kept, mut left_out) = (Vec::new(), Vec::new());
    for r in &metadata.rules {
        let (sa, other): (Vec<String>, Vec<String>) = r
            .resources
            .iter()
            .cloned()
            .partition(|x| x == SERVICE_ACCOUNTS);
        if !sa.is_empty() {
            left_out.push(rule(r, sa));
        }
        if !other.is_empty() {
            kept.push(rule(r, other));
        }
    }
    (kept, left_out)
}

/// `text` as YAML comment lines indented by `indent`, wrapped at 100 columns.
fn comment(indent: usize, text: &str) -> String {
    let prefix = format!("{}# ", " ".repeat(indent));
    let mut out = String::new();
    let mut line = prefix.clone();
    for word in text.split_whitespace() {
        if line.len() > prefix.len() && line.len() + 1 + word.len() > 100 {
            out.push_str(line.trim_end());
            out.push('\n');
            line = prefix.clone();
        }
        if line.len() > prefix.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// Puts `text` before the line `anchor` (which must be in `yaml` once).
fn insert_before(yaml: &mut String, anchor: &str, text: &str) -> Result<()> {
    let at = yaml
        .find(&format!("\n{anchor}"))
        .with_context(|| format!("no {anchor:?} in the written policy"))?;
    yaml.insert_str(at + 1, text);
    Ok(())
}

/// The policy resource (and, with the lookups, the RBAC), as multi-document YAML.
pub fn write(release: &Release, metadata: &Metadata, options: &Options) -> Result<String> {
    let annotation = |key: &str| metadata.annotation(key);
    let cluster = options.policy_type == PolicyType::ClusterAdmissionPolicy;
    if options.require_existing && !cluster {
        bail!(
            "--require-existing-serviceaccounts needs a ClusterAdmissionPolicy: Kubewarden grants an AdmissionPolicy no contextAwareResources"
        );
    }
    let grant = metadata
        .context_aware_resources
        .iter()
        .find(|r| r.api_version == "v1" && r.kind == "ServiceAccount");
    if options.require_existing && grant.is_none() {
        bail!(
            "--require-existing-serviceaccounts: the module's metadata declares no ServiceAccount in contextAwareResources, so policy-server would grant it no lookup"
        );
    }
    let name = match options.name {
        Some(name) => name,
        None => annotation(TITLE).with_context(|| {
            format!("the module's metadata has no {TITLE} to name the policy: give --name")
        })?,
    };
    let module = match options.module {
        Some(module) => module.to_owned(),
        None => match (annotation(OCI_URL), annotation(VERSION)) {
            (Some(url), Some(version)) => format!("{url}:v{version}"),
            _ => bail!(
                "the module's metadata has no {OCI_URL} and {VERSION} for spec.module: name the published module with --module registry://..."
            ),
        },
    };

    let mut object_meta = vec![("name", s(name))];
    if !cluster {
        object_meta.push(("namespace", s(&release.namespace)));
    }
    let report: Vec<(&str, Value)> = REPORT_ANNOTATIONS
        .into_iter()
        .filter_map(|k| annotation(k).map(|v| (k, s(v))))
        .collect();
    if !report.is_empty() {
        object_meta.push(("annotations", map(report)));
    }
    let (kept, left_out) = rules(metadata);
    let mut spec = vec![
        ("module", s(&module)),
        ("settings", settings(release, options)),
        ("rules", Value::Sequence(kept)),
        ("mutating", Value::Bool(metadata.mutating)),
        ("backgroundAudit", Value::Bool(metadata.background_audit)),
        ("mode", s("monitor")),
    ];
    if options.require_existing {
        spec.push((
            "contextAwareResources",
            serde_norway::to_value(grant.into_iter().collect::<Vec<_>>())?,
        ));
    }
    if cluster {
        spec.push((
            "namespaceSelector",
            map(vec![(
                "matchLabels",
                map(vec![(NAMESPACE_NAME_LABEL, s(&release.namespace))]),
            )]),
        ));
    }
    let kind = if cluster {
        "ClusterAdmissionPolicy"
    } else {
        "AdmissionPolicy"
    };
    let mut yaml = serde_norway::to_string(&map(vec![
        ("apiVersion", s(API_VERSION)),
        ("kind", s(kind)),
        ("metadata", map(object_meta)),
        ("spec", map(spec)),
    ]))?;

    for role in &release.roles {
        let text = role.notes.join(" ");
        insert_before(
            &mut yaml,
            &format!("    {}:\n", role.kind.settings_key()),
            &comment(4, &text),
        )?;
    }
    if cluster && !options.require_existing {
        insert_before(
            &mut yaml,
            "    requireExistingServiceAccounts: false\n",
            &comment(
                4,
                "true needs the contextAwareResources grant and policy-server's RBAC: scaffold with --require-existing-serviceaccounts (README.md, Require existing ServiceAccounts).",
            ),
        )?;
    }
    if !cluster {
        insert_before(
            &mut yaml,
            "  rules:\n",
            &comment(
                2,
                "requireExistingServiceAccounts is left out: an AdmissionPolicy cannot look anything up (Kubewarden grants it no contextAwareResources); write a ClusterAdmissionPolicy for it.",
            ),
        )?;
    }
    if !left_out.is_empty() {
        let mut text = comment(
            2,
            "The module's `serviceaccounts` rule is left out: with `serviceAccountObjects: false` the policy accepts ServiceAccounts untouched. Add it back here together with `serviceAccountObjects: true` in settings:",
        );
        for line in serde_norway::to_string(&left_out)?.lines() {
            text.push_str(&format!("  # {line}\n"));
        }
        insert_before(&mut yaml, "  mutating:", &text)?;
    }

    let mut release_name = release.name.as_deref().map_or_else(
        || "the release".to_owned(),
        |name| format!("release {name}"),
    );
    if let Some(chart) = &release.chart {
        release_name.push_str(&format!(" of chart {chart}"));
    }
    let mut header = comment(
        0,
        &format!(
            "Written by `prepuller-check scaffold` from {}, {release_name} in namespace {}: the ServiceAccounts its prepullers run as and the labels of their Pods. It starts in monitor mode: check the release against it (`prepuller-check RELEASE -n {} --policy THIS-FILE`), read the PolicyReports (README.md, Install), then set `mode: protect`.",
            options.inputs, release.namespace, release.namespace
        ),
    );
    if options.require_existing {
        header.push_str(&comment(
            0,
            "requireExistingServiceAccounts: the ClusterRole and ClusterRoleBinding after the policy let policy-server's ServiceAccount read ServiceAccounts (README.md, Require existing ServiceAccounts); Kubewarden's Helm chart names it policy-server in namespace kubewarden: adjust the subject to yours.",
        ));
    }
    let mut out = header + &yaml;
    if options.require_existing {
        out.push_str("---\n");
        out.push_str(RBAC);
    }
    Ok(out)
}
