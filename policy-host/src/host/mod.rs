//! The host side of Kubewarden's context-aware capability (`kubewarden`/`kubernetes`/
//! `get_resource`), answered as policy-server and kwctl answer it, for tests and `policy-run`.
//!
//! [`Host`] is the state of the one waPC callback per instance, shared with the test that reads
//! back what the guest asked. Answers come from a [`Kubernetes`] source: [`Fixtures`], [`Replay`]
//! (a kwctl session) or [`Disconnected`]. The guest sees what policy-server hands it: the
//! object's JSON; for a type not granted, `Policy has not been granted access to Kubernetes
//! v1/ServiceAccount resources. The violation has been reported.`; for a failed lookup,
//! `Callback evaluation failure: <error>`, not found reading `Cannot find v1/ServiceAccount
//! named 'NAME' inside of namespace 'Some("NS")'` (policy-evaluator's kubernetes client).

mod fixtures;
mod replay;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

pub use fixtures::{Disconnected, Fixtures};
/// One Kubernetes resource type a policy may read: the metadata's type, so that what the
/// module declares and what the host grants cannot be spelt two ways.
pub use policy_artifact::ContextAwareResource;
pub use replay::{Exchange, HostRequest, RecordedResponse, Replay, parse_session, write_session};

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

/// Why a host call failed: the error text the guest receives, as policy-evaluator words it
/// (the guest's SDK turns it into its own error, which the policy reports).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostCallError {
    /// A `kubernetes/get_resource` payload that is not a `GetResourceRequest`.
    #[error("get_resource payload is not a GetResourceRequest: {0}")]
    NotAGetResource(String),
    /// A Kubewarden capability this host does not offer (all but logging and lookups).
    #[error("host capability {namespace}/{operation} is not available to this policy")]
    Unavailable {
        /// The capability's namespace, e.g. `net`.
        namespace: String,
        /// The capability's operation, e.g. `v1/dns_lookup_host`.
        operation: String,
    },
    /// A binding other than `kubewarden`.
    #[error("unknown binding: {0}")]
    UnknownBinding(String),
    /// A lookup of a type the policy is not granted ([`ContextAwareAccess`]).
    #[error(
        "Policy has not been granted access to Kubernetes {api_version}/{kind} resources. The violation has been reported."
    )]
    NotGranted {
        /// The looked-up type's `apiVersion`.
        api_version: String,
        /// The looked-up type's kind.
        kind: String,
    },
    /// The lookup itself failed: [`Kubernetes::get_resource`]'s error (not found, the API
    /// server unreachable, a replay mismatch).
    #[error("Callback evaluation failure: {0}")]
    Lookup(String),
}

/// A source of answers to `get_resource`, behind the grant check.
pub trait Kubernetes: Send {
    /// The object's JSON text, or the callback handler's error (the host prefixes it with
    /// `Callback evaluation failure: ` as policy-evaluator does).
    fn get_resource(&mut self, request: &GetResource) -> std::result::Result<String, String>;
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
    ) -> std::result::Result<Vec<u8>, HostCallError> {
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
                ("kubewarden", "kubernetes", "get_resource") => {
                    HostCallError::NotAGetResource(String::from_utf8_lossy(payload).into_owned())
                }
                ("kubewarden", _, _) => HostCallError::Unavailable {
                    namespace: namespace.into(),
                    operation: operation.into(),
                },
                _ => HostCallError::UnknownBinding(binding.into()),
            });
        };
        state.calls.push(HostCall::GetResource(request.clone()));
        if !state.access.allows(&request.api_version, &request.kind) {
            return Err(HostCallError::NotGranted {
                api_version: request.api_version.clone(),
                kind: request.kind.clone(),
            });
        }
        state
            .kubernetes
            .get_resource(&request)
            .map(String::into_bytes)
            .map_err(HostCallError::Lookup)
    }
}
