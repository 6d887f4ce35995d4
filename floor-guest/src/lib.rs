//! The benchmark's floor: the cheapest waPC guest a policy can be, built with the same toolchain
//! and profile as the policy. It answers `validate` with a fixed accept without reading the
//! payload, so the runtime's own cost per evaluation (instance, waPC round trip, payload copy)
//! is measured, and the policy's figures can be given as a ratio to it.
//!
//! It also exports `host_get_resource`, which the benchmark never calls: the host's tests use it
//! to drive the `kubewarden`/`kubernetes`/`get_resource` host call from a real guest, through
//! wapc and wasmtime, and see exactly what a policy receives back. Registering one more function
//! in `wapc_init` is a single map insertion, nothing next to an instantiation.

use wapc_guest::{CallResult, host_call, register_function};

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
    register_function("validate_settings", validate_settings);
    register_function("protocol_version", protocol_version);
    register_function("host_get_resource", host_get_resource);
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

/// Sends the payload (a GetResourceRequest, as the SDK's `get_resource` serialises it) to the
/// host unchanged, and answers `ok:` followed by the host's answer, or `err:` followed by the
/// error as the guest sees it (wapc-guest's `Host error: <the host's message>`).
fn host_get_resource(payload: &[u8]) -> CallResult {
    Ok(
        match host_call("kubewarden", "kubernetes", "get_resource", payload) {
            Ok(answer) => [b"ok:".as_slice(), &answer].concat(),
            Err(e) => format!("err:{e}").into_bytes(),
        },
    )
}
