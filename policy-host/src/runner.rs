//! The runner: a module compiled once and instantiated afresh for every call, as kwctl and
//! policy-server run it (wapc over wasmtime-provider with WASI preview1, no args, env or
//! directories), and the evaluations built on it.

use std::path::Path;

use serde_json::Value;
use wapc::{WapcHost, WasiParams};
use wasmtime_provider::{EpochDeadlines, WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

use crate::answer::{AdmissionResponse, PolicyResponse, SettingsValidation, admission_response};
use crate::error::{Error, Result};
use crate::host::{Host, Kubernetes};

/// What wasmtime-provider says, in `wapc_init` or in a call, when the epoch deadline passed.
const DEADLINE_EXCEEDED: &str = "execution deadline exceeded";

fn runtime(what: &'static str, message: String) -> Error {
    Error::Runtime { what, message }
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
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Policy::from_bytes(&bytes).map_err(|e| Error::Load {
            path: path.to_owned(),
            source: Box::new(e),
        })
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
            .map_err(|e| Error::Compile(e.to_string()))?;
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
        let engine = wasmtime::Engine::new(&config)
            .map_err(|e| runtime("build the engine", e.to_string()))?;
        let module =
            wasmtime::Module::new(&engine, bytes).map_err(|e| Error::Compile(e.to_string()))?;
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
            .map_err(|e| runtime("pre-instantiate the module", e.to_string()))?;
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
            .map_err(|e| runtime("start the epoch ticker", e.to_string()))?;
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
            .map_err(|e| runtime("instantiate the module", e.to_string()))?;
        let wapc = WapcHost::new(Box::new(engine), Some(host.callback())).map_err(|e| {
            let message = e.to_string();
            if message.contains(DEADLINE_EXCEEDED) {
                Error::Timeout {
                    operation: "wapc_init".into(),
                    message,
                }
            } else {
                Error::Init(message)
            }
        })?;
        wapc.call(operation, payload).map_err(|e| {
            let operation = operation.to_owned();
            let message = e.to_string();
            if message.contains(DEADLINE_EXCEEDED) {
                Error::Timeout { operation, message }
            } else {
                Error::Call { operation, message }
            }
        })
    }

    /// The waPC protocol the guest speaks, which policy-server checks before loading it.
    pub fn protocol_version(&self) -> Result<String> {
        let out = self.call("protocol_version", b"")?;
        serde_json::from_slice(&out).map_err(|source| Error::MalformedAnswer {
            what: "protocol_version did not answer a JSON string".into(),
            source,
        })
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
        let payload =
            serde_json::to_vec(settings).map_err(|e| Error::Serialize("the settings", e.into()))?;
        let out = self.call_with_host("validate_settings", &payload, host)?;
        serde_json::from_slice(&out).map_err(|source| Error::MalformedAnswer {
            what: "validate_settings answered something else than {valid, message}".into(),
            source,
        })
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
        serde_json::from_slice(&out).map_err(|source| Error::MalformedAnswer {
            what: format!(
                "validate answered something else than a ValidationResponse: {}",
                String::from_utf8_lossy(&out)
            ),
            source,
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
            return Err(Error::SettingsRefused {
                message: check.message.unwrap_or_default(),
            });
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
            serde_json::to_vec(&serde_json::json!({"request": request, "settings": settings}))
                .map_err(|e| Error::Serialize("the validation request", e.into()))?;
        let response = self.validate_raw_with_host(&payload, host)?;
        admission_response(request, &response)
    }
}
