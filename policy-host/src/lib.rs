//! Runs a compiled Kubewarden waPC policy the way kwctl and policy-server do: the wapc host over
//! wasmtime-provider with WASI preview1 linked in (no args, env or directories), the module
//! compiled once, a fresh instance for every evaluation, and host calls answered only under the
//! `kubewarden` binding. The answers are turned into an AdmissionResponse exactly as
//! policy-evaluator does: the mutated object is diffed against the request's object with
//! json-patch into a base64 `JSONPatch`.
//!
//! One file per concern, every item re-exported here:
//!
//! - `runner.rs`: [`Policy`], the module compiled once and called on fresh instances;
//! - `answer.rs`: what the guest answers, the [`AdmissionResponse`] made of it and the object
//!   it admits (the patch applied);
//! - `server.rs`: what policy-server does with an answer ([`ServedPolicy`]: monitor mode, the
//!   mutation constraint);
//! - `request.rs`: requests and settings read as kwctl reads them, and built as the API server
//!   sends them ([`AdmissionRequest::builder`]);
//! - `error.rs`: [`Error`], what every fallible function of the library returns;
//! - [`kinds`]: the kinds the API server serves, their resources and scopes;
//! - [`host`]: the host calls answered as policy-server does (grants, fixtures, kwctl sessions);
//! - [`chain`]: the controller-chain harness.
//!
//! The binaries (`policy-run`, `run-examples`, `bench`) need the `cli` feature; the e2e table
//! is the tests' (`tests/support/cases.rs`).

#![warn(missing_docs)]

mod answer;
pub mod chain;
mod error;
pub mod host;
pub mod kinds;
mod request;
mod runner;
mod server;

use std::path::{Path, PathBuf};

pub use answer::{
    AdmissionResponse, PolicyResponse, SettingsValidation, Status, admission_response,
};
pub use error::{Error, Result};
pub use host::{
    ContextAwareAccess, ContextAwareResource, Disconnected, Exchange, Fixtures, GetResource, Host,
    HostCall, HostCallError, HostRequest, Kubernetes, RecordedResponse, Replay,
};
pub use request::{
    AdmissionRequest, GroupVersionKind, GroupVersionResource, Operation, RequestBuilder, UserInfo,
    admission_request, gvr, read_request, read_settings,
};
pub use runner::{POLICY_SERVER_TIMEOUT_SECONDS, Policy};
pub use server::{PolicyMode, ServedPolicy};

/// The workspace root, for tests and tools that find `policy.wasm`, `test_data/`, `metadata.yml`
/// (xtask uses this one too).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The policy module the suite runs: `$POLICY_WASM`, else `policy.wasm` at the workspace root.
/// A relative `$POLICY_WASM` is taken from the workspace root, not from the directory cargo
/// runs the test in (`policy-host/`).
pub fn policy_path() -> PathBuf {
    module_path("POLICY_WASM", "policy.wasm")
}

/// The annotated module (`make annotated-policy.wasm`): `$ANNOTATED_WASM`, else
/// `annotated-policy.wasm` at the workspace root, a relative path taken from the root too.
pub fn annotated_path() -> PathBuf {
    module_path("ANNOTATED_WASM", "annotated-policy.wasm")
}

fn module_path(var: &str, default: &str) -> PathBuf {
    let root = workspace_root();
    std::env::var_os(var).map_or_else(|| root.join(default), |p| root.join(p))
}
