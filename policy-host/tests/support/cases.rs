//! The e2e table (`policy-host/cases.yaml`): shared by the suite (`tests/e2e.rs`) and by the
//! `run-examples` binary, which includes this file as a module; the library has no part in it.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::Value;

/// The whole table: every case the e2e suite runs on the compiled module.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// Requests evaluated with settings, and what the API server must get back.
    pub requests: Vec<RequestCase>,
    /// Settings the guest must accept or refuse.
    pub settings: Vec<SettingsCase>,
}

/// One request and the answer it must get.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestCase {
    /// What the case shows, named in failures.
    pub name: String,
    /// Request file under `test_data/`.
    pub request: String,
    /// The policy's settings; `{}` (the defaults) when absent.
    #[serde(default = "empty_settings")]
    pub settings: Value,
    /// Whether the request must be admitted.
    pub allowed: bool,
    /// Fragments that must all appear in the rejection message.
    #[serde(default)]
    pub message: Vec<String>,
    /// Fragments that must each appear in one warning, in order; `warnings_count` fixes how many.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The exact number of warnings, when it matters.
    #[serde(default)]
    pub warnings_count: Option<usize>,
    /// The exact JSON patch; absent means the response must carry no patch.
    #[serde(default)]
    pub patch: Option<Value>,
    /// The object after the patch, under `test_data/`; defaults to `expected/<request>`.
    #[serde(default)]
    pub expected: Option<String>,
}

/// One settings document and the guest's verdict on it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsCase {
    /// What the case shows, named in failures.
    pub name: String,
    /// The settings as a policy resource would carry them.
    pub settings: Value,
    /// Whether `validate_settings` must accept them.
    pub valid: bool,
    /// A fragment the refusal's message must contain.
    #[serde(default)]
    pub message: Option<String>,
}

fn empty_settings() -> Value {
    Value::Object(Default::default())
}

/// Reads a case table, refusing unknown keys so a misspelt expectation is not skipped.
pub fn load(path: &Path) -> Result<Table> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_norway::from_str(&text)
        .with_context(|| format!("{} is not a valid case table", path.display()))
}
