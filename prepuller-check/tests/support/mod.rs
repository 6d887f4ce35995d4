//! What the prepuller-check suites share: the compiled modules (each loaded once per suite),
//! the command line run on one from the workspace root, the rendered releases of
//! test_data/releases/, and the exact comparison with the insta snapshots of tests/expected/.
//! Each suite uses part of it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::Parser as _;
use policy_artifact::Metadata;
use policy_host::{Policy, annotated_path, policy_path, workspace_root};
use prepuller_check::{Cli, Module, RunResult, run};

/// The releases rendered by Helm (test_data/releases/), one per chart version and shape.
pub const RELEASES: &[&str] = &[
    "z2jh-3.3.8-default",
    "z2jh-4.0.0-default",
    "z2jh-4.0.0-fullnameoverride",
    "z2jh-4.0.0-custom-sa",
    "z2jh-4.0.0-no-continuous",
    "z2jh-4.0.0-autohttps",
    "z2jh-4.1.0-default",
    "z2jh-4.1.0-custom-sa",
    "z2jh-4.4.0-default",
    "z2jh-4.4.0-fullnameoverride",
    "z2jh-4.4.0-custom-sa",
    "z2jh-4.4.0-no-continuous",
    "z2jh-4.4.0-autohttps",
];

/// The module at `path`, compiled as policy-server compiles it, with a fixed label so that
/// reports do not depend on where it was built.
pub fn load(path: &Path, label: &str) -> Module {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `make {label}`)", path.display()));
    Module {
        policy: Policy::policy_server(&bytes).expect("the module compiles"),
        metadata: Metadata::of_module(&bytes).expect("metadata readable"),
        label: label.into(),
    }
}

/// The compiled module without metadata (`make policy.wasm`, or `$POLICY_WASM`).
pub fn policy_module() -> &'static Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE.get_or_init(|| load(&policy_path(), "policy.wasm"))
}

/// The annotated module (`make annotated-policy.wasm`, or `$ANNOTATED_WASM`).
pub fn annotated_module() -> &'static Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE.get_or_init(|| load(&annotated_path(), "annotated-policy.wasm"))
}

/// The workspace root, where the command lines' relative paths start.
pub fn root() -> PathBuf {
    workspace_root()
}

/// The command line `prepuller-check ARGS` parsed, run from the workspace root.
pub fn cli(args: &[&str]) -> Cli {
    std::env::set_current_dir(root()).expect("workspace root");
    let argv: Vec<&str> = std::iter::once("prepuller-check")
        .chain(args.iter().copied())
        .collect();
    Cli::try_parse_from(&argv).expect("valid command line")
}

/// `prepuller-check ARGS` on `module`.
pub fn run_on(module: &Module, args: &[&str]) -> anyhow::Result<RunResult> {
    run(&cli(args), module)
}

/// `prepuller-check --color never ARGS` on `module`: the report and the exit status, an error
/// as the binary prints it (`error: ...`, exit 2).
pub fn check_on(module: &Module, args: &[&str]) -> (String, u8) {
    let argv: Vec<&str> = ["--color", "never"]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    match run_on(module, &argv) {
        Ok(result) => (result.output, result.exit),
        Err(e) => (format!("error: {e:#}\n"), 2),
    }
}

/// A release's path, relative to the workspace root.
pub fn release(name: &str) -> String {
    format!("test_data/releases/{name}.yaml")
}

/// A file of the workspace (a release, a manifest), as text.
pub fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The README's settings for a release's shape: the prefixed names of `fullnameOverride`, the
/// names set in the chart's values.
pub fn shape_settings(release: &str) -> &'static str {
    if release.ends_with("fullnameoverride") {
        r#"{"hookPuller":{"serviceAccountName":"myhub-hook-image-puller"},"continuousPuller":{"serviceAccountName":"myhub-continuous-image-puller"},"awaiter":{"serviceAccountName":"myhub-hook-image-awaiter"}}"#
    } else if release.ends_with("custom-sa") && !release.contains("4.0.0") {
        r#"{"hookPuller":{"serviceAccountName":"jhub-hook-puller"},"continuousPuller":{"serviceAccountName":"jhub-continuous-puller"},"awaiter":{"serviceAccountName":"jhub-awaiter"}}"#
    } else if release.ends_with("custom-sa") {
        r#"{"awaiter":{"serviceAccountName":"jhub-awaiter"}}"#
    } else {
        "{}"
    }
}

/// `actual` must be the insta snapshot tests/expected/`name`.snap (`name` may start with a
/// folder: `scaffold/...`). A mismatch fails with insta's diff; `INSTA_UPDATE=always` (or
/// `cargo insta review`) writes the new snapshot, `make check-tests` never does. insta compares
/// bodies with trailing whitespace trimmed and stores them with one final newline, so the
/// report is also required to end in exactly one newline: the snapshot's body is then the
/// report byte for byte.
pub fn expect(name: &str, actual: &str) {
    assert!(
        actual.ends_with('\n')
            && actual.trim_end().len() + 1 == actual.len()
            && !actual.contains("\r\n"),
        "{name}: a report ends in exactly one newline and has no CRLF\n{actual:?}"
    );
    let path = Path::new(name);
    let folder = root()
        .join("prepuller-check/tests/expected")
        .join(path.parent().unwrap_or(Path::new("")));
    let file = path.file_name().expect("a file name").to_string_lossy();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(folder);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!(file.as_ref(), actual));
}
