//! `kwctl run` for this workspace: the same flags and the same output (one AdmissionResponse JSON
//! line on stdout), through the same runtime stack, for machines where kwctl is not installed.
//!
//! Context-aware lookups follow kwctl: without `--allow-context-aware` every Kubernetes lookup
//! is refused; with it, the resource types the module's metadata lists (`contextAwareResources`
//! of an annotated module; an unannotated one gets none) are granted. Answers come from
//! `--replay-host-capabilities-interactions FILE`, a session kwctl recorded; there is no live
//! cluster here, so without one a granted lookup fails and says how to record a session.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use policy_artifact::Metadata;
use policy_host::{
    ContextAwareAccess, Disconnected, Host, Policy, Replay, read_request, read_settings,
};

#[derive(Parser)]
#[command(about = "Evaluate an admission request with a Kubewarden waPC policy, like `kwctl run`")]
struct Args {
    /// File with an AdmissionRequest, or a whole AdmissionReview
    #[arg(short = 'r', long)]
    request_path: PathBuf,
    /// Settings file (YAML or JSON)
    #[arg(short = 's', long, conflicts_with = "settings_json")]
    settings_path: Option<PathBuf>,
    /// Settings as a JSON string
    #[arg(long)]
    settings_json: Option<String>,
    /// Grant access to the Kubernetes resources defined inside of the policy's
    /// `contextAwareResources` section (the module must be annotated)
    #[arg(long)]
    allow_context_aware: bool,
    /// Answer host capability calls from this session file (kwctl's
    /// `--record-host-capabilities-interactions` format), in order
    #[arg(long, value_name = "FILE")]
    replay_host_capabilities_interactions: Option<PathBuf>,
    /// The policy module (a local path; `file://` is accepted)
    policy: String,
}

fn run(args: Args) -> Result<String> {
    let settings = match (&args.settings_path, &args.settings_json) {
        (Some(path), _) => read_settings(path)?,
        (None, Some(json)) => serde_json::from_str(json).context("--settings-json is not JSON")?,
        (None, None) => serde_json::json!({}),
    };
    let request = read_request(&args.request_path)?;
    let path = PathBuf::from(args.policy.strip_prefix("file://").unwrap_or(&args.policy));
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let policy =
        Policy::from_bytes(&bytes).with_context(|| format!("cannot load {}", path.display()))?;
    let metadata = Metadata::of_module(&bytes)?;

    // kwctl's ContextAwareConfiguration: NoAccess, or TrustPolicyMetadata.
    let access = match (&metadata, args.allow_context_aware) {
        (Some(metadata), true) => {
            ContextAwareAccess::Only(metadata.context_aware_resources.clone())
        }
        (None, true) => {
            eprintln!("Policy is not annotated, access to Kubernetes resources is not allowed");
            ContextAwareAccess::Denied
        }
        (metadata, false) => {
            if metadata
                .as_ref()
                .is_some_and(|m| !m.context_aware_resources.is_empty())
            {
                eprintln!(
                    "Policy requires access to Kubernetes resources at evaluation time. During this \
                     execution the access to Kubernetes resources is denied. This can cause the \
                     policy to not behave properly"
                );
                eprintln!(
                    "Carefully review which types of Kubernetes resources the policy needs via the \
                     `inspect` command, then run the policy using the `--allow-context-aware` flag."
                );
            }
            ContextAwareAccess::Denied
        }
    };

    let response = match &args.replay_host_capabilities_interactions {
        Some(file) => {
            let host = Host::new(Replay::load(file)?).with_access(access);
            let response = policy.run_with_host(&request, &settings, &host)?;
            let replay = host.kubernetes();
            for problem in replay.problems() {
                eprintln!("replay: {problem}");
            }
            if !replay.remaining().is_empty() {
                eprintln!(
                    "Some of the recorded exchanges have not been replayed: {} left, the next {:?}",
                    replay.remaining().len(),
                    replay.remaining().front().map(|e| &e.request)
                );
            }
            response
        }
        None => policy.run_with_host(
            &request,
            &settings,
            &Host::new(Disconnected).with_access(access),
        )?,
    };
    Ok(serde_json::to_string(&response)?)
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
