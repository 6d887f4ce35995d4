//! `prepuller-check scaffold`: the policy resource for a release, written from the release
//! itself rather than typed by hand (where every misconfiguration found so far started): the
//! ServiceAccounts its pullers and awaiter run as, selectors on the labels their Pods carry, its
//! namespace, monitor mode to start. The settings are validated by the compiled module before
//! anything is written. docs/check.md, "Write the policy for a release", is the reference.

mod manifest;
mod release;

use anyhow::{Context as _, Result, bail};

pub use manifest::{PolicyType, RBAC};

use crate::{Module, input, server};

/// The subcommand's command line.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Files, directories (their *.yaml, *.yml, *.json) or `-` for standard input: `helm
    /// template` output, `kubectl get -o yaml|json` dumps (with `helm get hooks`, since Helm
    /// deletes the hooks that succeeded).
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// The release's namespace, for objects without one (as `helm template -n`).
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// The policy resource to write.
    #[arg(long = "type", value_enum, default_value = "ClusterAdmissionPolicy")]
    pub policy_type: PolicyType,
    /// Also write `requireExistingServiceAccounts: true`, the grant it needs and the RBAC that
    /// lets policy-server read ServiceAccounts (a ClusterAdmissionPolicy only).
    #[arg(long)]
    pub require_existing_serviceaccounts: bool,
    /// The policy module: a file, or `registry://HOST/PATH:TAG`, which then is `spec.module`.
    #[arg(long, default_value = "annotated-policy.wasm")]
    pub module: String,
    /// The policy's `metadata.name` (the module's title by default).
    #[arg(long)]
    pub name: Option<String>,
}

/// What `scaffold` writes.
#[derive(Debug)]
pub struct Scaffold {
    /// The policy resource (and the RBAC), multi-document YAML, for standard output.
    pub manifest: String,
    /// What the operator must act on before enforcing, for standard error (also said in the
    /// manifest's comments).
    pub warnings: Vec<String>,
}

/// Reads the release and writes its policy. Errors are the user's (exit 2), one line each.
pub fn run(args: &Args, module: &Module) -> Result<Scaffold> {
    let metadata = module.metadata.as_ref().with_context(|| {
        format!(
            "{}: the module has no Kubewarden metadata, which gives the policy's rules and name: use the annotated module (`make annotated-policy.wasm`, or the published one)",
            module.label
        )
    })?;
    let documents = input::read_all(&args.inputs, input::DEFAULT_MAX_BYTES)?;
    let release = release::identify(&documents, args.namespace.as_deref())?;
    let inputs = args
        .inputs
        .iter()
        .map(|i| if i == "-" { "standard input" } else { i })
        .collect::<Vec<_>>()
        .join(", ");
    let options = manifest::Options {
        policy_type: args.policy_type,
        require_existing: args.require_existing_serviceaccounts,
        name: args.name.as_deref(),
        module: args.module.strip_prefix("registry://"),
        inputs: &inputs,
    };
    let settings = serde_json::to_value(manifest::settings(&release, &options))?;
    if let Some(problem) = server::validate_settings(&module.policy, &settings)? {
        bail!("the settings written from the release are not valid: {problem}");
    }
    Ok(Scaffold {
        manifest: manifest::write(&release, metadata, &options)?,
        warnings: release
            .roles
            .iter()
            .filter_map(|r| r.warning.clone())
            .collect(),
    })
}
