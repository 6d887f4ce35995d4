//! `kwctl run` for this workspace: the same flags and the same output (one AdmissionResponse JSON
//! line on stdout), through the same runtime stack, for machines where kwctl is not installed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use e2e_tests::{Policy, read_request, read_settings};

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
    let policy = Policy::load(&path)?;
    let response = policy.run(&request, &settings)?;
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
