//! `prepuller-check post-render`: the check inside `helm install` and `helm upgrade`, as Helm 3's
//! `--post-renderer` executable or Helm 4's `postrenderer/v1` plugin (helm-plugin/). Helm
//! writes the rendered release to standard input and installs what comes back on standard
//! output; a non-zero exit stops the install. So the release reaches the cluster already as
//! admitted: Argo CD and Flux see no drift from admission mutations, and a release the cluster
//! would refuse is stopped before anything is applied.
//!
//! Standard output is the input byte for byte, but for the documents the policy changes (each
//! edited in place, its `# Source:` kept) and, with `--add-serviceaccounts`, the puller
//! ServiceAccounts the release needs and does not create, appended. The report goes to standard
//! error; the exit status is the check's.

use anyhow::{Context, Result, bail};
use prepuller_serviceaccount_policy::roles::RoleKind;
use serde_json::{Value, json};

use crate::input::{self, Document};
use crate::model::Report;
use crate::scope::{PolicyMode, Scope};
use crate::{Cli, Colour, Module, Output, PolicyArgs, check_documents, prepare};

/// The post-renderer's options: the check's scope and ServiceAccounts.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The module, policy, settings and existing ServiceAccounts, as the check takes them.
    #[command(flatten)]
    pub policy_args: PolicyArgs,
    /// The release's namespace (helm's `-n`); default: HELM_NAMESPACE when set. Required: Helm
    /// tells no post-renderer the release's namespace (HELM_NAMESPACE is only the user's own
    /// variable, which Helm also reads), and judging the release in another namespace would
    /// match other namespace selectors and look up other ServiceAccounts.
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Add the puller ServiceAccounts the release runs its pullers as and does not create
    /// (charts before 4.1.0; a continuous puller named apart from its DaemonSet), with
    /// automountServiceAccountToken: false; the hook puller's as a Helm hook created before it.
    #[arg(long)]
    pub add_serviceaccounts: bool,
    /// The most input read, in bytes.
    #[arg(long, default_value_t = input::DEFAULT_MAX_BYTES)]
    pub max_input_bytes: u64,
}

/// What Helm gets: the manifests (standard output), the report (standard error) and the exit
/// status.
#[derive(Debug)]
pub struct Rendered {
    /// The manifests to install.
    pub manifests: String,
    /// The check's text report, and a line per ServiceAccount added.
    pub report: String,
    /// The check's exit status: 0, or 1 when the cluster would refuse something.
    pub exit: u8,
}

impl Args {
    fn check_cli(&self, namespace: String) -> Cli {
        Cli {
            command: None,
            inputs: vec!["-".into()],
            policy_args: self.policy_args.clone(),
            namespace,
            user: "kubernetes-admin".into(),
            as_audit: false,
            output: Output::Text,
            report_kind: crate::policyreport::ReportKind::Openreports,
            color: Colour::Never,
            fail_on_mutate: false,
            write_fixed: None,
            max_input_bytes: self.max_input_bytes,
            stats: false,
        }
    }
}

/// The post-renderer on `text`, Helm's render; `helm_namespace` is HELM_NAMESPACE, if set.
pub fn run(
    args: &Args,
    module: &Module,
    text: &str,
    helm_namespace: Option<&str>,
) -> Result<Rendered> {
    let namespace = args
        .namespace
        .clone()
        .or_else(|| helm_namespace.filter(|n| !n.is_empty()).map(str::to_owned))
        .context("the release's namespace is needed and Helm does not pass it to a post-renderer: add the namespace of helm's -n as an argument (Helm 3: --post-renderer-args -n=NAMESPACE; Helm 4: --post-renderer-args=--namespace=NAMESPACE)")?;
    let cli = args.check_cli(namespace.clone());
    let (scope, existing) = prepare(&cli, module)?;
    let mut documents = Vec::new();
    input::parse("-", text, &mut documents)?;
    if documents.is_empty() {
        bail!("-: no objects passed to check: standard input holds no Kubernetes object");
    }
    let (mut result, mut report) =
        check_documents(&cli, module, &scope, &documents, existing.clone())?;
    let mut added = String::new();
    if args.add_serviceaccounts {
        let accounts = missing_puller_accounts(&scope, &documents, &report, &namespace);
        if !accounts.is_empty() {
            let mut notes = String::new();
            for account in &accounts {
                added.push_str(&account.text);
                notes.push_str(&format!(
                    "prepuller-check post-render: added ServiceAccount {}/{} for {}\n",
                    account.namespace, account.name, account.for_object
                ));
            }
            // Checked again with them, as Helm will create them.
            let mut with_accounts = documents.clone();
            input::parse("added", &added, &mut with_accounts)?;
            (result, report) = check_documents(&cli, module, &scope, &with_accounts, existing)?;
            report.objects.truncate(documents.len());
            result.output = notes + &result.output;
        }
    }
    let mut manifests = admitted(text, &documents, &report)?;
    manifests.push_str(&added);
    Ok(Rendered {
        manifests,
        report: result.output,
        exit: result.exit,
    })
}

/// The input with each document the policy changed edited in place, every other byte as given.
fn admitted(text: &str, documents: &[Document], report: &Report) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (document, object) in documents.iter().zip(&report.objects) {
        let Some(fixed) = &object.fixed else { continue };
        let original = document
            .text
            .as_deref()
            .with_context(|| format!("{}: a changed item of a List", document.location()))?;
        let start = at
            + text[at..]
                .find(original)
                .with_context(|| format!("{}: not found in the input", document.location()))?;
        let edited = crate::edited(original, &document.object, fixed)
            .map_or_else(|| crate::as_yaml(document, fixed), Ok)?;
        out.push_str(&text[at..start]);
        out.push_str(&edited);
        if original.ends_with('\n') && !edited.ends_with('\n') {
            out.push('\n');
        }
        at = start + original.len();
    }
    out.push_str(&text[at..]);
    Ok(out)
}

/// A ServiceAccount document to add.
struct Added {
    namespace: String,
    name: String,
    for_object: String,
    text: String,
}

/// The puller ServiceAccounts (the settings' `hookPuller` and `continuousPuller` names) that
/// the derived Pods of the release's DaemonSets run as and that neither the release nor the
/// cluster (`--existing-serviceaccount`) has.
fn missing_puller_accounts(
    scope: &Scope,
    documents: &[Document],
    report: &Report,
    namespace: &str,
) -> Vec<Added> {
    let Some(settings) = scope.policy_settings() else {
        return Vec::new();
    };
    let pullers: Vec<&str> = [RoleKind::HookPuller, RoleKind::ContinuousPuller]
        .into_iter()
        .filter_map(|kind| settings.role(kind))
        .map(|role| role.service_account_name.as_str())
        .collect();
    let mut out: Vec<Added> = Vec::new();
    for (document, object) in documents.iter().zip(&report.objects) {
        if scope.policy_mode == PolicyMode::Monitor || document.object["kind"] != "DaemonSet" {
            continue;
        }
        let Some(account) = object
            .all_derived()
            .find_map(|d| d.missing_service_account.clone())
        else {
            continue;
        };
        let ns = object.namespace.clone().unwrap_or_else(|| namespace.into());
        if !pullers.contains(&account.as_str())
            || out.iter().any(|a| a.name == account && a.namespace == ns)
        {
            continue;
        }
        out.push(service_account(&document.object, &account, &ns, object));
    }
    out
}

/// The ServiceAccount for a puller DaemonSet: its labels, no token, and for a hook DaemonSet
/// the same Helm hook one weight earlier, so Helm creates it first and deletes it with it.
fn service_account(
    daemonset: &Value,
    name: &str,
    namespace: &str,
    object: &crate::model::ObjectReport,
) -> Added {
    let mut metadata = json!({"name": name});
    if daemonset["metadata"]["namespace"].is_string() {
        metadata["namespace"] = json!(namespace);
    }
    if let Some(labels) = daemonset["metadata"]["labels"].as_object() {
        metadata["labels"] = Value::Object(labels.clone());
    }
    let annotations = &daemonset["metadata"]["annotations"];
    if let Some(hook) = annotations["helm.sh/hook"].as_str() {
        let weight: i64 = annotations["helm.sh/hook-weight"]
            .as_str()
            .and_then(|w| w.trim().parse().ok())
            .unwrap_or(0);
        let mut a = json!({"helm.sh/hook": hook, "helm.sh/hook-weight": (weight - 1).to_string()});
        if let Some(policy) = annotations["helm.sh/hook-delete-policy"].as_str() {
            a["helm.sh/hook-delete-policy"] = json!(policy);
        }
        metadata["annotations"] = a;
    }
    let account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata,
        "automountServiceAccountToken": false,
    });
    let yaml = serde_norway::to_string(&account).unwrap_or_default();
    Added {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        for_object: object.title(),
        text: format!("---\n# Source: prepuller-check/serviceaccount-{name}.yaml\n{yaml}"),
    }
}
