//! Runs a compiled Kubewarden waPC policy the way kwctl and policy-server do: the wapc host over
//! wasmtime-provider with WASI preview1 linked in (no args, env or directories), the module
//! compiled once, a fresh instance for every evaluation, and host calls answered only under the
//! `kubewarden` binding. The answers are turned into an AdmissionResponse exactly as
//! policy-evaluator does: the mutated object is diffed against the request's object with
//! json-patch into a base64 `JSONPatch`.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wapc::{WapcHost, WasiParams};
use wasmtime_provider::{WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

/// What the guest answers to `validate` (the SDK's ValidationResponse).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct PolicyResponse {
    pub accepted: bool,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub code: Option<u16>,
    #[serde(default)]
    pub mutated_object: Option<Value>,
    #[serde(default)]
    pub audit_annotations: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

/// What the guest answers to `validate_settings`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SettingsValidation {
    pub valid: bool,
    #[serde(default)]
    pub message: Option<String>,
}

/// The AdmissionResponse that kwctl prints and policy-server sends back to the API server.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_annotations: Option<std::collections::BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Status {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

impl AdmissionResponse {
    /// The JSON patch, decoded.
    pub fn decoded_patch(&self) -> Result<Option<json_patch::Patch>> {
        let Some(patch) = &self.patch else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .context("patch is not base64")?;
        Ok(Some(
            serde_json::from_slice(&bytes).context("patch is not a JSON patch")?,
        ))
    }

    pub fn message(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.message.as_deref())
    }
}

/// Answers the guest's host calls like policy-server does for a policy without extra
/// capabilities: logging is accepted, anything else is refused.
fn host_callback(
    _id: u64,
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> std::result::Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    match (binding, namespace, operation) {
        ("kubewarden", "tracing", "log") => {
            if std::env::var_os("POLICY_LOG").is_some() {
                eprintln!("{}", String::from_utf8_lossy(payload));
            }
            Ok(Vec::new())
        }
        _ => Err(format!(
            "host capability {binding}/{namespace}/{operation} is not available to this policy"
        )
        .into()),
    }
}

/// A policy module compiled once, instantiated afresh for each call.
pub struct Policy {
    pre: WasmtimeEngineProviderPre,
}

impl Policy {
    pub fn load(path: &Path) -> Result<Policy> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Policy::from_bytes(&bytes).with_context(|| format!("cannot load {}", path.display()))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Policy> {
        Policy::with_engine(bytes, None)
    }

    /// Compiles the module on a given wasmtime engine (the benchmark's memory probe uses one
    /// with its own memory allocator); `None` is the provider's default engine.
    pub fn with_engine(bytes: &[u8], engine: Option<wasmtime::Engine>) -> Result<Policy> {
        let mut builder = WasmtimeEngineProviderBuilder::new()
            .module_bytes(bytes)
            .wasi_params(WasiParams::default());
        if let Some(engine) = engine {
            builder = builder.engine(engine);
        }
        let pre = builder
            .build_pre()
            .map_err(|e| anyhow!("cannot compile the module: {e}"))?;
        Ok(Policy { pre })
    }

    /// One waPC call on a fresh instance, as policy-server does per evaluation.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
        let engine = self
            .pre
            .rehydrate(None)
            .map_err(|e| anyhow!("cannot instantiate the module: {e}"))?;
        let host = WapcHost::new(Box::new(engine), Some(Box::new(host_callback)))
            .map_err(|e| anyhow!("cannot initialise the module (wapc_init): {e}"))?;
        host.call(operation, payload)
            .map_err(|e| anyhow!("waPC call {operation} failed: {e}"))
    }

    pub fn protocol_version(&self) -> Result<String> {
        let out = self.call("protocol_version", b"")?;
        serde_json::from_slice(&out).context("protocol_version did not answer a JSON string")
    }

    pub fn validate_settings(&self, settings: &Value) -> Result<SettingsValidation> {
        let out = self.call("validate_settings", &serde_json::to_vec(settings)?)?;
        serde_json::from_slice(&out)
            .context("validate_settings answered something else than {valid, message}")
    }

    /// Evaluates an AdmissionRequest with settings and returns the guest's own answer.
    pub fn validate_raw(&self, payload: &[u8]) -> Result<PolicyResponse> {
        let out = self.call("validate", payload)?;
        serde_json::from_slice(&out).with_context(|| {
            format!(
                "validate answered something else than a ValidationResponse: {}",
                String::from_utf8_lossy(&out)
            )
        })
    }

    /// Evaluates like `kwctl run`: validate_settings first, then validate, then the
    /// AdmissionResponse with the patch computed from the mutated object.
    pub fn run(&self, request: &Value, settings: &Value) -> Result<AdmissionResponse> {
        let check = self.validate_settings(settings)?;
        if !check.valid {
            bail!(
                "Provided settings are not valid: {}",
                check.message.unwrap_or_default()
            );
        }
        let payload =
            serde_json::to_vec(&serde_json::json!({"request": request, "settings": settings}))?;
        let response = self.validate_raw(&payload)?;
        admission_response(request, &response)
    }
}

/// Builds the AdmissionResponse from the guest's answer like policy-evaluator does.
pub fn admission_response(request: &Value, response: &PolicyResponse) -> Result<AdmissionResponse> {
    let uid = request
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let object = request.get("object").filter(|o| !o.is_null());
    if response.mutated_object.is_some() && object.is_none() {
        return Ok(AdmissionResponse {
            uid,
            allowed: false,
            status: Some(Status {
                message: Some("Incoming object is null, which happens only with DELETE operations, but the policy is attempting a mutation. This is not allowed".into()),
                code: None,
            }),
            ..Default::default()
        });
    }
    let patch = match (&response.mutated_object, object) {
        (Some(mutated), Some(original)) => {
            let diff = json_patch::diff(original, mutated);
            if diff.0.is_empty() {
                None
            } else {
                Some(
                    base64::engine::general_purpose::STANDARD.encode(serde_json::to_string(&diff)?),
                )
            }
        }
        _ => None,
    };
    let status = (response.message.is_some() || response.code.is_some()).then(|| Status {
        message: response.message.clone(),
        code: response.code,
    });
    Ok(AdmissionResponse {
        uid,
        allowed: response.accepted,
        patch_type: patch.as_ref().map(|_| "JSONPatch".to_owned()),
        patch,
        status,
        audit_annotations: response.audit_annotations.clone(),
        warnings: response.warnings.clone(),
    })
}

/// Reads a request file like kwctl: a bare AdmissionRequest, or a whole AdmissionReview.
pub fn read_request(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    Ok(match value.get("request") {
        Some(request) if value.get("kind").and_then(Value::as_str) == Some("AdmissionReview") => {
            request.clone()
        }
        _ => value,
    })
}

/// Reads settings as YAML or JSON (JSON is YAML), as `--settings-path` does.
pub fn read_settings(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: Value =
        serde_norway::from_str(&text).with_context(|| format!("{} is not YAML", path.display()))?;
    Ok(if value.is_null() {
        serde_json::json!({})
    } else {
        value
    })
}

/// The workspace root, for tests and tools that find `policy.wasm` and `test_data/`.
pub fn workspace_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The policy module the suite runs: `$POLICY_WASM`, else `policy.wasm` at the workspace root.
/// A relative `$POLICY_WASM` is taken from the workspace root, not from the directory cargo
/// runs the test in (`e2e-tests/`).
pub fn policy_path() -> std::path::PathBuf {
    std::env::var_os("POLICY_WASM")
        .map(|p| workspace_root().join(p))
        .unwrap_or_else(|| workspace_root().join("policy.wasm"))
}

/// The e2e table (`e2e-tests/cases.yaml`): shared by the suite and by `run-examples`.
pub mod cases {
    use std::path::Path;

    use anyhow::{Context, Result};
    use serde::Deserialize;
    use serde_json::Value;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Table {
        pub requests: Vec<RequestCase>,
        pub settings: Vec<SettingsCase>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RequestCase {
        pub name: String,
        /// Request file under `test_data/`.
        pub request: String,
        #[serde(default = "empty_settings")]
        pub settings: Value,
        pub allowed: bool,
        /// Fragments that must all appear in the rejection message.
        #[serde(default)]
        pub message: Vec<String>,
        /// Fragments that must each appear in one warning, in order; `warnings_count` fixes how many.
        #[serde(default)]
        pub warnings: Vec<String>,
        #[serde(default)]
        pub warnings_count: Option<usize>,
        /// The exact JSON patch; absent means the response must carry no patch.
        #[serde(default)]
        pub patch: Option<Value>,
        /// The object after the patch, under `test_data/`; defaults to `expected/<request>`.
        #[serde(default)]
        pub expected: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct SettingsCase {
        pub name: String,
        pub settings: Value,
        pub valid: bool,
        #[serde(default)]
        pub message: Option<String>,
    }

    fn empty_settings() -> Value {
        Value::Object(Default::default())
    }

    pub fn load(path: &Path) -> Result<Table> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_norway::from_str(&text)
            .with_context(|| format!("{} is not a valid case table", path.display()))
    }
}
