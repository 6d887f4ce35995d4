//! Answers from objects a test declares ([`Fixtures`]), or from no cluster at all
//! ([`Disconnected`]).

use serde_json::Value;

use super::{GetResource, Kubernetes};
use crate::error::{Error, Result};

/// The identity of a fixture object.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ObjectKey {
    api_version: String,
    kind: String,
    name: String,
    namespace: Option<String>,
}

impl ObjectKey {
    /// Whether `request` looks this object up.
    fn is_asked_by(&self, request: &GetResource) -> bool {
        request.api_version == self.api_version
            && request.kind == self.kind
            && request.name == self.name
            && request.namespace == self.namespace
    }

    fn of(object: &Value) -> Result<ObjectKey> {
        let text = |pointer: &str| {
            object
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    Error::Fixture(format!(
                        "a fixture object needs a string at {pointer}: {object}"
                    ))
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
        match self
            .objects
            .iter()
            .find(|(key, _)| key.is_asked_by(request))
        {
            Some((_, Fixture::Found(object))) => found(object),
            Some((_, Fixture::FoundOnlyUncached(object))) if request.disable_cache => found(object),
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
