//! The `prepuller-check` command: see the library and docs/check.md.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser as _;
use prepuller_check::{Cli, Command, Module, input, postrender, run, scaffold};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Scaffold(args)) = &cli.command {
        return match Module::load(&args.module).and_then(|m| scaffold::run(args, &m)) {
            Ok(written) => {
                for warning in written.warnings {
                    eprintln!("prepuller-check scaffold: warning: {warning}");
                }
                let _ = std::io::stdout().write_all(written.manifest.as_bytes());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("prepuller-check: error: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    if let Some(Command::PostRender(args)) = &cli.command {
        let helm_namespace = std::env::var("HELM_NAMESPACE").ok();
        let rendered = input::read_stdin(args.max_input_bytes).and_then(|text| {
            let module = Module::load(&args.policy_args.module)?;
            postrender::run(args, &module, &text, helm_namespace.as_deref())
        });
        return match rendered {
            Ok(rendered) => {
                eprint!("{}", rendered.report);
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(rendered.manifests.as_bytes());
                let _ = stdout.flush();
                ExitCode::from(rendered.exit)
            }
            Err(e) => {
                eprintln!("prepuller-check post-render: error: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let started = Instant::now();
    let result = Module::load(&cli.policy_args.module).and_then(|module| {
        let loaded = started.elapsed();
        let checking = Instant::now();
        let result = run(&cli, &module)?;
        if cli.stats {
            let seconds = checking.elapsed().as_secs_f64();
            eprintln!(
                "prepuller-check: module compiled in {:.2} s; {} objects checked in {:.3} s: {:.0} objects/s",
                loaded.as_secs_f64(),
                result.objects,
                seconds,
                result.objects as f64 / seconds.max(1e-9)
            );
        }
        Ok(result)
    });
    match result {
        Ok(result) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = stdout.write_all(result.output.as_bytes());
            let _ = stdout.flush();
            ExitCode::from(result.exit)
        }
        Err(e) => {
            eprintln!("prepuller-check: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
