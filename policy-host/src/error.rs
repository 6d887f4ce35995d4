//! The library's one error type, so that a caller (prepuller-check, a test) can tell a module
//! that does not compile from settings the policy refuses or an evaluation that ran out of time,
//! without reading text. The messages are the ones kwctl and policy-server print where they have
//! one (settings, requests), and what the file or call was otherwise; the underlying error, when
//! there is one, is the `source`, so `{:#}` through anyhow prints the whole chain.

use std::path::PathBuf;

/// What went wrong in the host: loading a module, reading a request or settings, a waPC call,
/// the guest's answer, or a host capability (fixtures, recorded sessions).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// A file (module, session) was read but could not be used; `source` says why.
    #[error("cannot load {}", path.display())]
    Load {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: Box<Error>,
    },
    /// The runtime refuses the module: not WebAssembly, or imports it cannot link.
    #[error("cannot compile the module: {0}")]
    Compile(String),
    /// The runtime could not be set up around a compiled module: the engine, the
    /// pre-instantiation, a fresh instance or the epoch ticker.
    #[error("cannot {what}: {message}")]
    Runtime {
        /// What could not be done, e.g. `instantiate the module`.
        what: &'static str,
        /// The runtime's error.
        message: String,
    },
    /// The guest's `wapc_init` failed (other than by running out of time).
    #[error("cannot initialise the module (wapc_init): {0}")]
    Init(String),
    /// The guest failed a waPC call: it trapped (out of bounds, unreachable, stack overflow)
    /// or returned an error, or it does not export the operation.
    #[error("waPC call {operation} failed: {message}")]
    Call {
        /// The waPC operation, e.g. `validate`.
        operation: String,
        /// The runtime's error, as waPC words it.
        message: String,
    },
    /// The guest ran past policy-server's deadline ([`crate::POLICY_SERVER_TIMEOUT_SECONDS`],
    /// an epoch deadline): in `wapc_init` (`operation` is `wapc_init`) or in the call.
    #[error("{}", timeout_message(operation, message))]
    Timeout {
        /// The waPC operation, or `wapc_init`.
        operation: String,
        /// The runtime's error, as waPC words it.
        message: String,
    },
    /// The policy refuses its settings (`validate_settings` answered `valid: false`), so
    /// policy-server would not start it; kwctl's wording.
    #[error("Provided settings are not valid: {message}")]
    SettingsRefused {
        /// The policy's message, naming the offending key.
        message: String,
    },
    /// The guest answered something else than the waPC protocol's answer to the call.
    #[error("{what}")]
    MalformedAnswer {
        /// Which answer, and what it was.
        what: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A request kwctl refuses before any module call ([`crate::admission_request`]), with
    /// kwctl's message.
    #[error("{0}")]
    RequestRefused(String),
    /// A kind that is not a workload's ([`crate::gvr`]).
    #[error("no resource for kind {0}")]
    UnknownKind(String),
    /// A request or settings file that is not JSON (or YAML, for settings).
    #[error("{} is not {format}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// `JSON` or `YAML`.
        format: &'static str,
        /// The parser's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A request file kwctl refuses: `source` is its [`Error::RequestRefused`].
    #[error("{} is refused", path.display())]
    RequestFileRefused {
        /// The file.
        path: PathBuf,
        /// kwctl's refusal.
        #[source]
        source: Box<Error>,
    },
    /// An AdmissionResponse's patch that does not apply to the request's object.
    #[error("the patch does not apply")]
    PatchApply(#[source] json_patch::PatchError),
    /// An AdmissionResponse's patch that is not base64 of a JSON patch.
    #[error("patch is not {0}")]
    Patch(
        &'static str,
        #[source] Box<dyn std::error::Error + Send + Sync>,
    ),
    /// A value that could not be serialised (a request, settings, a session).
    #[error("cannot serialise {0}")]
    Serialize(
        &'static str,
        #[source] Box<dyn std::error::Error + Send + Sync>,
    ),
    /// A fixture object that cannot be looked up: it lacks `apiVersion`, `kind` or a name.
    #[error("{0}")]
    Fixture(String),
    /// A kwctl host-capabilities session that cannot be read.
    #[error("{what}")]
    Session {
        /// What is wrong with it.
        what: String,
        /// The YAML error.
        #[source]
        source: serde_norway::Error,
    },
    /// A replay that did not go as recorded: a call that differed from its recorded request,
    /// one after the last, or exchanges left over ([`crate::Replay::finish`]).
    #[error("{0}")]
    Replay(String),
    /// The controller-chain harness ([`crate::chain`]) cannot derive or admit an object, or
    /// the coherence law does not hold.
    #[error("{0}")]
    Chain(String),
}

fn timeout_message(operation: &str, message: &str) -> String {
    if operation == "wapc_init" {
        format!("cannot initialise the module (wapc_init): {message}")
    } else {
        format!("waPC call {operation} failed: {message}")
    }
}

impl Error {
    /// Whether the guest ran past policy-server's deadline.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }
}

/// The library's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
