//! The packaging tests: the annotated module, a real OCI registry round trip, and the generated
//! files. They read `policy.wasm` and `annotated-policy.wasm` at the workspace root (built by
//! `make packaging-tests`), or `$ANNOTATED_WASM`.

mod annotate;
mod generated;
mod registry;
mod signing;
mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    xtask::workspace_root()
}

fn existing(path: PathBuf, how: &str) -> PathBuf {
    assert!(path.exists(), "{} is missing: {how}", path.display());
    path
}

pub fn policy_wasm() -> PathBuf {
    existing(root().join("policy.wasm"), "run `make policy.wasm`")
}

pub fn annotated_wasm() -> PathBuf {
    existing(
        policy_host::annotated_path(),
        "run `make annotated-policy.wasm`",
    )
}

/// The xtask command line, run from the workspace root with an environment of its own: no
/// credentials or transport choices leak in from the caller's.
pub fn xtask(docker_config: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.current_dir(root())
        .env("DOCKER_CONFIG", docker_config)
        .env_remove("OCI_USERNAME")
        .env_remove("OCI_PASSWORD")
        .env_remove("OCI_INSECURE");
    cmd
}

pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("cannot run xtask");
    Run {
        ok: status.success(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}
