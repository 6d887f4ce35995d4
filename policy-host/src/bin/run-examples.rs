//! Evaluates every example request of `policy-host/cases.yaml` with the compiled policy and prints
//! each decision: ACCEPT, MUTATE with its JSON patch and warnings, or REJECT with the message.

use std::process::ExitCode;

use anyhow::Result;
use policy_host::{Policy, chain, policy_path, read_request, workspace_root};

/// The e2e suite's table, read the same way (it prints only the requests).
#[allow(dead_code)]
#[path = "../../tests/support/cases.rs"]
mod cases;

fn run() -> Result<()> {
    let root = workspace_root();
    let policy = Policy::load(&policy_path())?;
    let table = cases::load(&root.join("policy-host/cases.yaml"))?;
    let verbose = std::env::args().any(|a| a == "--verbose" || a == "-v");
    for case in &table.requests {
        let request = read_request(&root.join("test_data").join(&case.request))?;
        let response = policy.run(&request, &case.settings)?;
        let settings = if case.settings.as_object().is_some_and(|m| m.is_empty()) {
            String::new()
        } else {
            format!(" settings={}", case.settings)
        };
        println!("== {} [{}{settings}]", case.name, case.request);
        match (response.allowed, response.decoded_patch()?) {
            (true, None) => println!("   ACCEPT"),
            (true, Some(patch)) => println!("   MUTATE {}", serde_json::to_string(&patch)?),
            (false, _) => println!("   REJECT {}", response.message().unwrap_or_default()),
        }
        for w in response.warnings.iter().flatten() {
            println!("   warning: {w}");
        }
        if verbose {
            println!("   {}", serde_json::to_string(&response)?);
        }
    }
    // A controller chain: the chart 4.0.0 continuous DaemonSet, mutated, then the Pod its
    // controller makes from it (after the ServiceAccount admission plugin), admitted as is.
    let root = read_request(&root.join("test_data/continuous-daemonset-legacy-create.json"))?;
    let outcome = chain::run(&policy, &root["object"], &serde_json::json!({}))?;
    println!(
        "== controller chain [continuous-daemonset-legacy-create.json, its Pods derived as the DaemonSet controller does]"
    );
    for step in &outcome.steps {
        println!("   {step}");
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
