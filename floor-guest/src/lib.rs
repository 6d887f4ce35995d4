//! The benchmark's floor: the cheapest waPC guest a policy can be, built with the same toolchain
//! and profile as the policy. It answers `validate` with a fixed accept without reading the
//! payload, so the runtime's own cost per evaluation (instance, waPC round trip, payload copy)
//! is measured, and the policy's figures can be given as a ratio to it.

use wapc_guest::{CallResult, register_function};

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
    register_function("validate_settings", validate_settings);
    register_function("protocol_version", protocol_version);
}

fn validate(_payload: &[u8]) -> CallResult {
    Ok(br#"{"accepted":true,"message":null,"code":null,"mutated_object":null,"audit_annotations":null,"warnings":null}"#.to_vec())
}

fn validate_settings(_payload: &[u8]) -> CallResult {
    Ok(br#"{"valid":true,"message":null}"#.to_vec())
}

fn protocol_version(_payload: &[u8]) -> CallResult {
    Ok(br#""v1""#.to_vec())
}
