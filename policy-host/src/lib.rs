//! Runs a compiled Kubewarden waPC policy the way kwctl and policy-server do: the wapc host over
//! wasmtime-provider with WASI preview1 linked in (no args, env or directories), the module
//! compiled once, a fresh instance for every evaluation, and host calls answered only under the
//! `kubewarden` binding. The answers are turned into an AdmissionResponse exactly as
//! policy-evaluator does: the mutated object is diffed against the request's object with
//! json-patch into a base64 `JSONPatch`.

#![warn(missing_docs)]

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wapc::{WapcHost, WasiParams};
use wasmtime_provider::{EpochDeadlines, WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

/// What the guest answers to `validate` (the SDK's ValidationResponse).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct PolicyResponse {
    /// Whether the request is admitted (with `mutated_object`, as changed).
    pub accepted: bool,
    /// The rejection's text, which becomes the AdmissionResponse's status message.
    #[serde(default)]
    pub message: Option<String>,
    /// The rejection's HTTP code; the API server's default when absent.
    #[serde(default)]
    pub code: Option<u16>,
    /// The whole object as the policy changed it; the host diffs it into the patch.
    #[serde(default)]
    pub mutated_object: Option<Value>,
    /// Passed through to the AdmissionResponse (this policy never sets any).
    #[serde(default)]
    pub audit_annotations: Option<std::collections::BTreeMap<String, String>>,
    /// Passed through to the AdmissionResponse, for `kubectl` to show.
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

/// What the guest answers to `validate_settings`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SettingsValidation {
    /// Whether policy-server would start the policy with these settings.
    pub valid: bool,
    /// Why not, naming the offending key.
    #[serde(default)]
    pub message: Option<String>,
}

/// The AdmissionResponse that kwctl prints and policy-server sends back to the API server.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// The request's `uid`, which the API server matches the answer to.
    pub uid: String,
    /// Whether the API server may go on with the request.
    pub allowed: bool,
    /// `JSONPatch` when there is a patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// The base64 JSON patch from the request's object to the mutated one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// The rejection's message and code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The guest's audit annotations, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_annotations: Option<std::collections::BTreeMap<String, String>>,
    /// The guest's warnings, which `kubectl` prints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

/// The part of a `metav1.Status` a rejection fills in.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Status {
    /// What `kubectl` prints after `admission webhook ... denied the request:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The HTTP code of the refusal.
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

    /// The rejection message, if any: what most checks look at.
    pub fn message(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.message.as_deref())
    }
}

/// A policy module compiled once, instantiated afresh for each call.
pub struct Policy {
    pre: WasmtimeEngineProviderPre,
    /// Epoch deadlines for each instance, set when the engine counts epochs (policy-server).
    deadlines: Option<EpochDeadlines>,
}

/// Seconds policy-server lets one evaluation run (`policyEvaluationLimitSeconds`, default 2):
/// an epoch ticks every second, so this many ticks.
pub const POLICY_SERVER_TIMEOUT_SECONDS: u64 = 2;

impl Policy {
    /// Reads and compiles a module file (usually [`policy_path`]).
    pub fn load(path: &Path) -> Result<Policy> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Policy::from_bytes(&bytes).with_context(|| format!("cannot load {}", path.display()))
    }

    /// Compiles a module on the provider's default engine, as kwctl does.
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
        Ok(Policy {
            pre,
            deadlines: None,
        })
    }

    /// Compiles the module exactly as policy-server does at start-up, so that the benchmark
    /// pays what a production evaluation pays: one engine with `Config::default()`, function
    /// references on (policy-server enables them for Go policies), epoch interruption on (its
    /// evaluation timeout, 2 s by default, is an epoch deadline checked by the compiled code),
    /// the module compiled once and pre-instantiated (policy-evaluator's `StackPre`), and an
    /// epoch deadline of [`POLICY_SERVER_TIMEOUT_SECONDS`] ticks for `wapc_init` and for the
    /// call on every rehydrated instance. A thread ticks the engine's epoch once a second, as
    /// policy-server's timer task does, for as long as the process lives.
    pub fn policy_server(bytes: &[u8]) -> Result<Policy> {
        let mut config = wasmtime::Config::default();
        config.wasm_function_references(true);
        config.epoch_interruption(true);
        if std::env::var_os("POLICY_HOST_PERFMAP").is_some() {
            // For profiling the guest with `perf`: /tmp/perf-PID.map names the compiled
            // functions (docs/performance.md). It changes nothing else.
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine =
            wasmtime::Engine::new(&config).map_err(|e| anyhow!("cannot build the engine: {e}"))?;
        let module = wasmtime::Module::new(&engine, bytes)
            .map_err(|e| anyhow!("cannot compile the module: {e}"))?;
        let deadlines = EpochDeadlines {
            wapc_init: POLICY_SERVER_TIMEOUT_SECONDS,
            wapc_func: POLICY_SERVER_TIMEOUT_SECONDS,
        };
        // policy-evaluator's StackPre gives the builder only the engine and the module; the
        // deadlines go to `rehydrate`, per evaluation.
        let pre = WasmtimeEngineProviderBuilder::new()
            .engine(engine.clone())
            .module(module)
            .build_pre()
            .map_err(|e| anyhow!("cannot pre-instantiate the module: {e}"))?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            })
            .context("cannot start the epoch ticker")?;
        Ok(Policy {
            pre,
            deadlines: Some(deadlines),
        })
    }

    /// One waPC call on a fresh instance, as policy-server does per evaluation. Host calls
    /// are answered as kwctl does without `--allow-context-aware`: logging is accepted, every
    /// Kubernetes lookup is refused.
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
        self.call_with_host(operation, payload, &Host::without_context_aware())
    }

    /// One waPC call on a fresh instance whose host calls `host` answers (and records).
    pub fn call_with_host<K: Kubernetes + 'static>(
        &self,
        operation: &str,
        payload: &[u8],
        host: &Host<K>,
    ) -> Result<Vec<u8>> {
        let engine = self
            .pre
            .rehydrate(self.deadlines)
            .map_err(|e| anyhow!("cannot instantiate the module: {e}"))?;
        let wapc = WapcHost::new(Box::new(engine), Some(host.callback()))
            .map_err(|e| anyhow!("cannot initialise the module (wapc_init): {e}"))?;
        wapc.call(operation, payload)
            .map_err(|e| anyhow!("waPC call {operation} failed: {e}"))
    }

    /// The waPC protocol the guest speaks, which policy-server checks before loading it.
    pub fn protocol_version(&self) -> Result<String> {
        let out = self.call("protocol_version", b"")?;
        serde_json::from_slice(&out).context("protocol_version did not answer a JSON string")
    }

    /// Asks the guest whether these settings are valid, as policy-server does at start-up.
    pub fn validate_settings(&self, settings: &Value) -> Result<SettingsValidation> {
        self.validate_settings_with_host(settings, &Host::without_context_aware())
    }

    /// `validate_settings` with a host: settings validation must make no host call, which a
    /// test can check on `host.calls()`.
    pub fn validate_settings_with_host<K: Kubernetes + 'static>(
        &self,
        settings: &Value,
        host: &Host<K>,
    ) -> Result<SettingsValidation> {
        let out = self.call_with_host("validate_settings", &serde_json::to_vec(settings)?, host)?;
        serde_json::from_slice(&out)
            .context("validate_settings answered something else than {valid, message}")
    }

    /// Evaluates an AdmissionRequest with settings and returns the guest's own answer.
    pub fn validate_raw(&self, payload: &[u8]) -> Result<PolicyResponse> {
        self.validate_raw_with_host(payload, &Host::without_context_aware())
    }

    /// [`Policy::validate_raw`] with a host answering the guest's host calls.
    pub fn validate_raw_with_host<K: Kubernetes + 'static>(
        &self,
        payload: &[u8],
        host: &Host<K>,
    ) -> Result<PolicyResponse> {
        let out = self.call_with_host("validate", payload, host)?;
        serde_json::from_slice(&out).with_context(|| {
            format!(
                "validate answered something else than a ValidationResponse: {}",
                String::from_utf8_lossy(&out)
            )
        })
    }

    /// Evaluates like `kwctl run`: validate_settings first, then validate, then the
    /// AdmissionResponse with the patch computed from the mutated object. Kubernetes lookups
    /// are refused (kwctl without `--allow-context-aware`).
    pub fn run(&self, request: &Value, settings: &Value) -> Result<AdmissionResponse> {
        self.run_with_host(request, settings, &Host::without_context_aware())
    }

    /// [`Policy::run`] with `host` answering (and recording) the guest's host calls, e.g.
    /// `policy.run_with_host(&request, &settings, &Host::new(fixtures))`.
    pub fn run_with_host<K: Kubernetes + 'static>(
        &self,
        request: &Value,
        settings: &Value,
        host: &Host<K>,
    ) -> Result<AdmissionResponse> {
        let check = self.validate_settings_with_host(settings, host)?;
        if !check.valid {
            bail!(
                "Provided settings are not valid: {}",
                check.message.unwrap_or_default()
            );
        }
        self.evaluate_with_host(request, settings, host)
    }

    /// One evaluation as policy-server performs it for each admission request (settings were
    /// validated once, when the server started): the `{request, settings}` payload serialised,
    /// `validate` on a fresh instance, the answer parsed, and for a mutation the JSON patch
    /// computed against the request's object.
    pub fn evaluate(&self, request: &Value, settings: &Value) -> Result<AdmissionResponse> {
        self.evaluate_with_host(request, settings, &Host::without_context_aware())
    }

    /// [`Policy::evaluate`] with a host answering the guest's host calls.
    pub fn evaluate_with_host<K: Kubernetes + 'static>(
        &self,
        request: &Value,
        settings: &Value,
        host: &Host<K>,
    ) -> Result<AdmissionResponse> {
        let payload =
            serde_json::to_vec(&serde_json::json!({"request": request, "settings": settings}))?;
        let response = self.validate_raw_with_host(&payload, host)?;
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
/// runs the test in (`policy-host/`).
pub fn policy_path() -> std::path::PathBuf {
    std::env::var_os("POLICY_WASM")
        .map(|p| workspace_root().join(p))
        .unwrap_or_else(|| workspace_root().join("policy.wasm"))
}

pub mod chain;

/// The e2e table (`policy-host/cases.yaml`): shared by the suite and by `run-examples`.
pub mod cases {
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
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_norway::from_str(&text)
            .with_context(|| format!("{} is not a valid case table", path.display()))
    }
}

/// The module's `io.kubewarden.metadata` custom section (what `kwctl annotate` writes), parsed
/// for what the host needs from it; `None` for a module that was not annotated. The first such
/// section counts, as for kwctl and policy-server.
pub fn module_metadata(module: &[u8]) -> Result<Option<host::ModuleMetadata>> {
    match custom_section(module, host::METADATA_SECTION)? {
        None => Ok(None),
        Some(data) => serde_json::from_slice(data).map(Some).with_context(|| {
            format!(
                "the {} section is not metadata JSON",
                host::METADATA_SECTION
            )
        }),
    }
}

/// The contents of the first custom section called `name`. Walked by hand rather than with
/// wasmparser (which xtask uses) so that this crate adds no dependency: a core module is the
/// 8-byte preamble, then sections of an id byte, a LEB128 size and the contents; a custom
/// section (id 0) starts with its LEB128-prefixed name.
fn custom_section<'a>(module: &'a [u8], name: &str) -> Result<Option<&'a [u8]>> {
    fn leb128(bytes: &[u8], at: &mut usize) -> Result<usize> {
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let byte = *bytes.get(*at).context("truncated LEB128 number")?;
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return usize::try_from(value).context("LEB128 number too large");
            }
        }
        bail!("LEB128 number longer than 5 bytes")
    }
    if module.get(..8) != Some(b"\0asm\x01\0\0\0".as_slice()) {
        bail!("not a core WebAssembly module (version 1)");
    }
    let mut at = 8;
    while at < module.len() {
        let id = module[at];
        at += 1;
        let size = leb128(module, &mut at)?;
        let end = at
            .checked_add(size)
            .filter(|end| *end <= module.len())
            .context("a section runs past the end of the module")?;
        if id == 0 {
            let mut inner = at;
            let length = leb128(&module[..end], &mut inner)?;
            let name_end = inner
                .checked_add(length)
                .filter(|e| *e <= end)
                .context("a custom section's name runs past the section")?;
            if &module[inner..name_end] == name.as_bytes() {
                return Ok(Some(&module[name_end..end]));
            }
        }
        at = end;
    }
    Ok(None)
}

pub use host::{
    ContextAwareAccess, ContextAwareResource, Disconnected, Exchange, Fixtures, GetResource, Host,
    HostCall, HostRequest, Kubernetes, RecordedResponse, Replay,
};

/// The host side of Kubewarden's context-aware capability (`kubewarden`/`kubernetes`/
/// `get_resource`), answered as policy-server and kwctl answer it, for tests and `policy-run`.
///
/// [`Host`] is the state of the one waPC callback per instance, shared with the test that reads
/// back what the guest asked. Answers come from a [`Kubernetes`] source: [`Fixtures`], [`Replay`]
/// (a kwctl session) or [`Disconnected`]. The guest sees what policy-server hands it: the
/// object's JSON; for a type not granted, `Policy has not been granted access to Kubernetes
/// v1/ServiceAccount resources. The violation has been reported.`; for a failed lookup,
/// `Callback evaluation failure: <error>`, not found reading `Cannot find v1/ServiceAccount
/// named 'NAME' inside of namespace 'Some("NS")'` (policy-evaluator's kubernetes client).
pub mod host {
    use std::collections::{BTreeSet, VecDeque};
    use std::fmt;
    use std::path::Path;
    use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

    use anyhow::{Context as _, Result, bail};
    use serde::{Deserialize, Serialize};
    use serde_json::Value;

    /// The custom section holding a module's metadata.
    pub const METADATA_SECTION: &str = "io.kubewarden.metadata";

    /// What the host reads from the module's metadata: the Kubernetes resource types the policy
    /// says it needs (`contextAwareResources`), which `kwctl run --allow-context-aware` grants.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ModuleMetadata {
        /// The resource types the policy asks to read; empty means it may read none.
        #[serde(default)]
        pub context_aware_resources: BTreeSet<ContextAwareResource>,
    }

    /// One Kubernetes resource type a policy may read (`contextAwareResources` entries of the
    /// metadata and of a policy resource).
    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct ContextAwareResource {
        /// `group/version`, or `v1` for the core group.
        pub api_version: String,
        /// The resource's kind, e.g. `ServiceAccount`.
        pub kind: String,
    }

    impl ContextAwareResource {
        /// The type `api_version`/`kind`.
        pub fn new(api_version: &str, kind: &str) -> Self {
            ContextAwareResource {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
            }
        }
    }

    /// Which resource types the host lets the policy read: policy-evaluator grants only the
    /// types that both the module's metadata and the policy resource list.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum ContextAwareAccess {
        /// Every lookup is refused: kwctl without `--allow-context-aware`, or a policy whose
        /// resource lists no `contextAwareResources`.
        Denied,
        /// Every type is granted (tests that are about the answers, not about the grant).
        All,
        /// These types are granted, any other is refused.
        Only(BTreeSet<ContextAwareResource>),
    }

    impl ContextAwareAccess {
        fn allows(&self, api_version: &str, kind: &str) -> bool {
            match self {
                ContextAwareAccess::Denied => false,
                ContextAwareAccess::All => true,
                ContextAwareAccess::Only(types) => types
                    .iter()
                    .any(|t| t.api_version == api_version && t.kind == kind),
            }
        }
    }

    /// The payload of `kubernetes/get_resource`: the SDK's `GetResourceRequest` (0.17.3) as
    /// the guest serialises it, which is also policy-evaluator's
    /// `CallbackRequestType::KubernetesGetResource` that kwctl records and compares on replay.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct GetResource {
        /// The looked-up object's `apiVersion`, checked against the grant.
        pub api_version: String,
        /// The looked-up object's kind, checked against the grant.
        pub kind: String,
        /// The looked-up object's name.
        pub name: String,
        /// `None` for cluster-scoped resources.
        pub namespace: Option<String>,
        /// `true` asks the API server; `false` may answer from policy-server's cache, which can
        /// lag behind (Helm creates the hook ServiceAccount a moment before the DaemonSet).
        pub disable_cache: bool,
        /// Fields to keep in the answer (SDK 0.17); kwctl's older sessions leave it out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub field_masks: Option<BTreeSet<String>>,
    }

    impl GetResource {
        /// The lookup of ServiceAccount `name` in `namespace`, the one this policy makes.
        pub fn service_account(namespace: &str, name: &str, disable_cache: bool) -> Self {
            GetResource {
                api_version: "v1".into(),
                kind: "ServiceAccount".into(),
                name: name.into(),
                namespace: Some(namespace.into()),
                disable_cache,
                field_masks: None,
            }
        }

        /// policy-evaluator's error when the object does not exist (its kubernetes client
        /// prints the namespace with `{:?}`, hence `'Some("jhub")'`).
        pub fn not_found_message(&self) -> String {
            format!(
                "Cannot find {}/{} named '{}' inside of namespace '{:?}'",
                self.api_version, self.kind, self.name, self.namespace
            )
        }

        fn is_for(&self, object: &ObjectKey) -> bool {
            self.api_version == object.api_version
                && self.kind == object.kind
                && self.name == object.name
                && self.namespace == object.namespace
        }
    }

    impl fmt::Display for GetResource {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "get {}/{} ", self.api_version, self.kind)?;
            if let Some(namespace) = &self.namespace {
                write!(f, "{namespace}/")?;
            }
            write!(f, "{} (disable_cache: {})", self.name, self.disable_cache)
        }
    }

    /// One host call the guest made, other than logging.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum HostCall {
        /// A Kubernetes lookup, granted or not.
        GetResource(GetResource),
        /// Any other call (all refused), or a `get_resource` whose payload is not a
        /// `GetResourceRequest`; the payload as text.
        Other {
            /// The waPC binding, `kubewarden` for Kubewarden's capabilities.
            binding: String,
            /// The capability's namespace, e.g. `kubernetes` or `oci`.
            namespace: String,
            /// The capability's operation, e.g. `get_resource`.
            operation: String,
            /// The payload as (lossy) UTF-8 text.
            payload: String,
        },
    }

    /// A source of answers to `get_resource`, behind the grant check.
    pub trait Kubernetes: Send {
        /// The object's JSON text, or the callback handler's error (the host prefixes it with
        /// `Callback evaluation failure: ` as policy-evaluator does).
        fn get_resource(&mut self, request: &GetResource) -> std::result::Result<String, String>;
    }

    /// The identity of a fixture object.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct ObjectKey {
        api_version: String,
        kind: String,
        name: String,
        namespace: Option<String>,
    }

    impl ObjectKey {
        fn of(object: &Value) -> Result<ObjectKey> {
            let text = |pointer: &str| {
                object
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .with_context(|| {
                        format!("a fixture object needs a string at {pointer}: {object}")
                    })
            };
            Ok(ObjectKey {
                api_version: text("/apiVersion")?,
                kind: text("/kind")?,
                name: text("/metadata/name")?,
                namespace: object
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        }
    }

    #[derive(Debug, Clone)]
    enum Fixture {
        Found(Value),
        FoundOnlyUncached(Value),
        HostError(String),
    }

    /// Objects a test declares, answered as policy-server's callback handler would. A lookup
    /// of anything not declared fails with policy-evaluator's not-found error.
    #[derive(Debug, Clone, Default)]
    pub struct Fixtures {
        objects: Vec<(ObjectKey, Fixture)>,
    }

    impl Fixtures {
        /// No objects: every lookup answers not found.
        pub fn new() -> Self {
            Fixtures::default()
        }

        /// `object` exists and policy-server's cache has it: every lookup finds it. The object
        /// is identified by its `apiVersion`, `kind`, `metadata.name` and `metadata.namespace`.
        pub fn found(self, object: Value) -> Result<Self> {
            self.with(object, Fixture::Found)
        }

        /// `object` exists but the cache has not seen it yet: a cached lookup
        /// (`disable_cache: false`) answers not found, an uncached one finds it.
        pub fn found_only_uncached(self, object: Value) -> Result<Self> {
            self.with(object, Fixture::FoundOnlyUncached)
        }

        /// Every lookup of this object fails with `message` (the API server unreachable, RBAC
        /// refusing policy-server's ServiceAccount, ...).
        pub fn host_error(
            mut self,
            api_version: &str,
            kind: &str,
            namespace: Option<&str>,
            name: &str,
            message: &str,
        ) -> Self {
            self.objects.push((
                ObjectKey {
                    api_version: api_version.into(),
                    kind: kind.into(),
                    name: name.into(),
                    namespace: namespace.map(str::to_owned),
                },
                Fixture::HostError(message.into()),
            ));
            self
        }

        fn with(mut self, object: Value, fixture: fn(Value) -> Fixture) -> Result<Self> {
            let key = ObjectKey::of(&object)?;
            self.objects.push((key, fixture(object)));
            Ok(self)
        }
    }

    impl Kubernetes for Fixtures {
        fn get_resource(&mut self, request: &GetResource) -> std::result::Result<String, String> {
            let found = |object: &Value| serde_json::to_string(object).map_err(|e| e.to_string());
            match self.objects.iter().find(|(key, _)| request.is_for(key)) {
                Some((_, Fixture::Found(object))) => found(object),
                Some((_, Fixture::FoundOnlyUncached(object))) if request.disable_cache => {
                    found(object)
                }
                Some((_, Fixture::HostError(message))) => Err(message.clone()),
                Some((_, Fixture::FoundOnlyUncached(_))) | None => Err(request.not_found_message()),
            }
        }
    }

    /// No cluster to ask: `policy-run --allow-context-aware` without a session file (kwctl
    /// would talk to the cluster of the current kubeconfig).
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Disconnected;

    impl Kubernetes for Disconnected {
        fn get_resource(&mut self, request: &GetResource) -> std::result::Result<String, String> {
            Err(format!(
                "no Kubernetes cluster to answer `{request}`: record a session with `kwctl run \
                 --allow-context-aware --record-host-capabilities-interactions FILE` and replay it \
                 with --replay-host-capabilities-interactions FILE"
            ))
        }
    }

    /// A recorded host call (kwctl's `CallbackRequestType`, the variants this host replays).
    /// In a session file it is YAML text with the variant as tag: `!KubernetesGetResource`.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub enum HostRequest {
        /// `kubernetes/get_resource`, the only call this policy makes.
        KubernetesGetResource(GetResource),
    }

    /// What the host answered to a recorded call.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "type")]
    pub enum RecordedResponse {
        /// The payload the guest received: for `get_resource`, the object's JSON text.
        Success {
            /// The answer's text, as the guest got it.
            payload: String,
        },
        /// The callback handler's error.
        Error {
            /// The error, which the host prefixes with `Callback evaluation failure: `.
            message: String,
        },
    }

    /// One entry of a kwctl session file:
    /// `{type: Exchange, request: "<YAML text of the request>", response: ...}`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Exchange {
        /// The call the guest made, which a replayed call must equal.
        pub request: HostRequest,
        /// What the guest got back.
        pub response: RecordedResponse,
    }

    /// The entry as the file holds it: kwctl keeps the request as a YAML string inside the
    /// YAML document, so that any request type fits one field.
    #[derive(Debug, Serialize, Deserialize)]
    #[serde(tag = "type", deny_unknown_fields)]
    enum ExchangeText {
        Exchange {
            request: String,
            response: RecordedResponse,
        },
    }

    impl Exchange {
        fn from_text(index: usize, text: ExchangeText) -> Result<Exchange> {
            let ExchangeText::Exchange { request, response } = text;
            let request = serde_norway::from_str(&request).with_context(|| {
                format!(
                    "exchange {index}: the request is not a call this host replays \
                     (!KubernetesGetResource with api_version, kind, name, namespace, disable_cache): {request}"
                )
            })?;
            Ok(Exchange { request, response })
        }

        fn to_text(&self) -> Result<ExchangeText> {
            Ok(ExchangeText::Exchange {
                request: serde_norway::to_string(&self.request)?,
                response: self.response.clone(),
            })
        }
    }

    /// Reads a kwctl session file's text: a YAML list of exchanges.
    pub fn parse_session(yaml: &str) -> Result<Vec<Exchange>> {
        let entries: Vec<ExchangeText> = serde_norway::from_str(yaml)
            .context("not a host capabilities session (a YAML list of `type: Exchange` entries)")?;
        entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| Exchange::from_text(i, e))
            .collect()
    }

    /// Writes exchanges in kwctl's session format (what `--record-host-capabilities-interactions`
    /// produces, and `--replay-host-capabilities-interactions` reads).
    pub fn write_session(exchanges: &[Exchange]) -> Result<String> {
        let entries = exchanges
            .iter()
            .map(Exchange::to_text)
            .collect::<Result<Vec<_>>>()?;
        Ok(serde_norway::to_string(&entries)?)
    }

    /// Answers from a recorded session, as `kwctl run --replay-host-capabilities-interactions`
    /// does: exchanges are consumed in order, whatever the call; a call that differs from the
    /// next recorded request consumes it and fails, and so does a call after the last one.
    /// kwctl only logs these; [`Replay::finish`] turns them, and leftovers, into an error.
    #[derive(Debug, Clone)]
    pub struct Replay {
        pending: VecDeque<Exchange>,
        replayed: usize,
        problems: Vec<String>,
    }

    impl Replay {
        /// A replay of these exchanges, in this order.
        pub fn new(exchanges: Vec<Exchange>) -> Replay {
            Replay {
                pending: exchanges.into(),
                replayed: 0,
                problems: Vec::new(),
            }
        }

        /// A replay of a session file's text.
        pub fn from_yaml(yaml: &str) -> Result<Replay> {
            Ok(Replay::new(parse_session(yaml)?))
        }

        /// A replay of a session file, as `--replay-host-capabilities-interactions` reads it.
        pub fn load(path: &Path) -> Result<Replay> {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "cannot read host capabilities interactions file {}",
                    path.display()
                )
            })?;
            Replay::from_yaml(&text).with_context(|| format!("cannot load {}", path.display()))
        }

        /// The exchanges not replayed yet.
        pub fn remaining(&self) -> &VecDeque<Exchange> {
            &self.pending
        }

        /// How many exchanges were consumed (answered or mismatched).
        pub fn replayed(&self) -> usize {
            self.replayed
        }

        /// Every call that did not match its recorded request, or came after the last one.
        pub fn problems(&self) -> &[String] {
            &self.problems
        }

        /// Ok when every call matched its recorded request and every exchange was replayed.
        pub fn finish(&self) -> Result<()> {
            if let Some(first) = self.problems.first() {
                bail!(
                    "{} replay error(s), the first: {first}",
                    self.problems.len()
                );
            }
            if let Some(next) = self.pending.front() {
                bail!(
                    "{} recorded exchange(s) were not replayed, the next: {:?}",
                    self.pending.len(),
                    next.request
                );
            }
            Ok(())
        }
    }

    impl Kubernetes for Replay {
        fn get_resource(&mut self, request: &GetResource) -> std::result::Result<String, String> {
            let Some(exchange) = self.pending.pop_front() else {
                let message = "the list of recorded responses is empty".to_owned();
                self.problems.push(format!("{message} (got {request})"));
                return Err(message);
            };
            self.replayed += 1;
            let HostRequest::KubernetesGetResource(expected) = &exchange.request;
            if expected != request {
                // kwctl's wording, with the call types' debug forms.
                let message = format!(
                    "Replay error: unexpected request. Was expecting {:?}, got {:?} instead",
                    exchange.request,
                    HostRequest::KubernetesGetResource(request.clone())
                );
                self.problems.push(message.clone());
                return Err(message);
            }
            match exchange.response {
                RecordedResponse::Success { payload } => Ok(payload),
                RecordedResponse::Error { message } => Err(message),
            }
        }
    }

    struct State<K> {
        kubernetes: K,
        access: ContextAwareAccess,
        calls: Vec<HostCall>,
    }

    /// The host of one or more evaluations: answers the guest's host calls like policy-server
    /// and records every call but logging, in order. Cloning shares the state, so a test keeps
    /// one clone and passes another to the policy:
    ///
    /// ```no_run
    /// # fn main() -> anyhow::Result<()> {
    /// use policy_host::{Fixtures, GetResource, Host, Policy, policy_path, read_request, workspace_root};
    /// use serde_json::json;
    ///
    /// let policy = Policy::load(&policy_path())?;
    /// let request = read_request(&workspace_root().join("test_data/hook-daemonset-create.json"))?;
    /// let host = Host::new(Fixtures::new().found(json!({"apiVersion": "v1", "kind": "ServiceAccount",
    ///     "metadata": {"name": "hook-image-puller", "namespace": "jhub"}}))?);
    /// let response = policy.run_with_host(&request, &json!({"requireExistingServiceAccounts": true}), &host)?;
    /// assert!(response.allowed);
    /// assert_eq!(host.get_resource_calls(), [GetResource::service_account("jhub", "hook-image-puller", false)]);
    /// # Ok(()) }
    /// ```
    pub struct Host<K = Fixtures> {
        state: Arc<Mutex<State<K>>>,
    }

    impl<K> Clone for Host<K> {
        fn clone(&self) -> Self {
            Host {
                state: Arc::clone(&self.state),
            }
        }
    }

    impl Host<Fixtures> {
        /// kwctl without `--allow-context-aware`: logging works, every Kubernetes lookup is
        /// refused (and recorded).
        pub fn without_context_aware() -> Host<Fixtures> {
            Host::new(Fixtures::new()).with_access(ContextAwareAccess::Denied)
        }
    }

    /// Read access to a host's [`Kubernetes`] source, e.g. to check a [`Replay`] afterwards.
    pub struct KubernetesGuard<'a, K>(MutexGuard<'a, State<K>>);

    impl<K> std::ops::Deref for KubernetesGuard<'_, K> {
        type Target = K;
        fn deref(&self) -> &K {
            &self.0.kubernetes
        }
    }

    impl<K: Kubernetes + 'static> Host<K> {
        /// A host answering lookups from `kubernetes`, every resource type granted.
        pub fn new(kubernetes: K) -> Host<K> {
            Host {
                state: Arc::new(Mutex::new(State {
                    kubernetes,
                    access: ContextAwareAccess::All,
                    calls: Vec::new(),
                })),
            }
        }

        /// Grants `access` instead (e.g. `ContextAwareAccess::Only` the metadata's types).
        pub fn with_access(self, access: ContextAwareAccess) -> Host<K> {
            self.lock().access = access;
            self
        }

        /// Every call received so far, in order (logging excluded).
        pub fn calls(&self) -> Vec<HostCall> {
            self.lock().calls.clone()
        }

        /// The `get_resource` calls received so far, in order, granted or not.
        pub fn get_resource_calls(&self) -> Vec<GetResource> {
            self.lock()
                .calls
                .iter()
                .filter_map(|call| match call {
                    HostCall::GetResource(request) => Some(request.clone()),
                    HostCall::Other { .. } => None,
                })
                .collect()
        }

        /// Forgets the calls recorded so far (to reuse a host between evaluations).
        pub fn clear_calls(&self) {
            self.lock().calls.clear();
        }

        /// The answer source, locked while the guard lives: drop it before the next evaluation.
        pub fn kubernetes(&self) -> KubernetesGuard<'_, K> {
            KubernetesGuard(self.lock())
        }

        /// A panic inside a callback cannot leave the state half-written (each update is one
        /// push), so a poisoned lock is still good to read.
        fn lock(&self) -> MutexGuard<'_, State<K>> {
            self.state.lock().unwrap_or_else(PoisonError::into_inner)
        }

        /// The waPC host callback: one boxed closure per instance, sharing this host's state.
        pub fn callback(&self) -> Box<wapc::HostCallback> {
            let host = self.clone();
            Box::new(
                move |_id: u64,
                      binding: &str,
                      namespace: &str,
                      operation: &str,
                      payload: &[u8]|
                      -> std::result::Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
                    host.answer(binding, namespace, operation, payload)
                        .map_err(Into::into)
                },
            )
        }

        /// Answers one host call as policy-evaluator's `host_callback` does (binding, then
        /// namespace and operation, then the payload, then the grant, then the handler).
        pub fn answer(
            &self,
            binding: &str,
            namespace: &str,
            operation: &str,
            payload: &[u8],
        ) -> std::result::Result<Vec<u8>, String> {
            if (binding, namespace, operation) == ("kubewarden", "tracing", "log") {
                if std::env::var_os("POLICY_LOG").is_some() {
                    eprintln!("{}", String::from_utf8_lossy(payload));
                }
                return Ok(Vec::new());
            }
            let request = match (binding, namespace, operation) {
                ("kubewarden", "kubernetes", "get_resource") => {
                    serde_json::from_slice::<GetResource>(payload).ok()
                }
                _ => None,
            };
            let mut state = self.lock();
            let Some(request) = request else {
                state.calls.push(HostCall::Other {
                    binding: binding.into(),
                    namespace: namespace.into(),
                    operation: operation.into(),
                    payload: String::from_utf8_lossy(payload).into_owned(),
                });
                return Err(match (binding, namespace, operation) {
                    ("kubewarden", "kubernetes", "get_resource") => format!(
                        "get_resource payload is not a GetResourceRequest: {}",
                        String::from_utf8_lossy(payload)
                    ),
                    ("kubewarden", _, _) => format!(
                        "host capability {namespace}/{operation} is not available to this policy"
                    ),
                    _ => format!("unknown binding: {binding}"),
                });
            };
            state.calls.push(HostCall::GetResource(request.clone()));
            if !state.access.allows(&request.api_version, &request.kind) {
                return Err(format!(
                    "Policy has not been granted access to Kubernetes {}/{} resources. The violation has been reported.",
                    request.api_version, request.kind
                ));
            }
            state
                .kubernetes
                .get_resource(&request)
                .map(String::into_bytes)
                .map_err(|e| format!("Callback evaluation failure: {e}"))
        }
    }
}
