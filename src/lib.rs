//! Kubewarden policy: JupyterHub's image pullers (Zero to JupyterHub's hook and continuous
//! prepullers) run under their own ServiceAccounts, never `default`, with
//! `automountServiceAccountToken: false` and no API token in their containers.
//!
//! This file only wires the waPC entry points; the decision lives in [`evaluate`].

#![warn(missing_docs)]

// The crate's interface: the waPC entry points below, and what the host-side tests, benches
// and tools call natively. Everything else is the crate's own.
pub mod chart;
pub mod cluster;
pub mod evaluate;
pub mod names;
pub mod response;
pub mod roles;
pub mod selector;
pub mod settings;

pub(crate) mod checks;
pub(crate) mod detection;
pub(crate) mod ephemeral;
pub(crate) mod json;
pub(crate) mod kinds;
#[cfg(target_arch = "wasm32")]
mod memory;
#[cfg(test)]
mod module_graph;
pub(crate) mod mutate;
pub(crate) mod render;
pub(crate) mod request;
pub(crate) mod update;
pub(crate) mod workload;

use kubewarden_policy_sdk::protocol_version_guest;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};

/// Registers the waPC operations the host calls.
#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function("protocol_version", protocol_version_guest);
}

/// Always answers with a ValidationResponse: malformed requests are rejected, never a waPC
/// error, so policy-server reports the policy's own message.
pub fn validate(payload: &[u8]) -> CallResult {
    Ok(evaluate::evaluate(payload, &cluster::KubewardenHost).into_bytes())
}

/// Answers `{"valid": false, "message": ...}` naming the offending key, as kwctl and
/// policy-server show it ("Provided settings are not valid: ...").
pub fn validate_settings(payload: &[u8]) -> CallResult {
    let outcome = std::str::from_utf8(payload)
        .map_err(|e| format!("the settings are not UTF-8: {e}"))
        .and_then(settings::Settings::from_json);
    let response = SettingsValidationResponse {
        valid: outcome.is_ok(),
        message: outcome.err(),
    };
    Ok(serde_json::to_vec(&response)?)
}
