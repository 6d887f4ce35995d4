//! The API server's ServiceAccount admission plugin: which ServiceAccounts exist, and the Pods
//! it refuses because theirs does not.

use std::collections::BTreeSet;

use policy_host::chain::service_account_plugin;
use serde_json::Value;

use crate::kube::{name_of, runs_as};

/// The note of a run that cannot judge whether ServiceAccounts exist.
pub const SERVICE_ACCOUNTS_UNCHECKED: &str = "the input holds no ServiceAccount and no \
    --existing-serviceaccount was given, so whether the ServiceAccounts its Pods run as exist is \
    not checked (the API server refuses a Pod whose ServiceAccount does not exist): check the \
    release with its ServiceAccounts (helm template prints them; kubectl get \
    serviceaccounts,pods,daemonsets,... -o yaml), or name those the cluster has with \
    --existing-serviceaccount NAMESPACE/NAME";

/// ServiceAccounts as the API server's ServiceAccount admission plugin finds them
/// (plugin/pkg/admission/serviceaccount): it looks a Pod's ServiceAccount up before the
/// webhooks (Admit) and again after them (Validate), on every Pod CREATE, and refuses the Pod
/// when it does not exist. The namespace's `default` always exists (its controller creates it).
#[derive(Debug, Clone)]
pub struct Accounts {
    /// `(namespace, name)` of those that exist when the object is created.
    pub known: BTreeSet<(String, String)>,
    /// Whether existence is judged: only when the input holds ServiceAccounts or
    /// `--existing-serviceaccount` names some; otherwise nothing says which exist.
    pub checked: bool,
    /// `(namespace, name)` of every ServiceAccount of the input, whenever it is created.
    pub input: BTreeSet<(String, String)>,
}

impl Accounts {
    /// The plugin's refusal of `pod`: the missing ServiceAccount and the API server's message.
    pub fn refusal(&self, pod: &Value) -> Option<(String, String)> {
        if !self.checked {
            return None;
        }
        let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
        let account = runs_as(&pod["spec"]);
        if account == "default"
            || self
                .known
                .contains(&(namespace.to_owned(), account.to_owned()))
        {
            return None;
        }
        Some((
            account.to_owned(),
            format!(
                "pods \"{}\" is forbidden: error looking up service account \
                 {namespace}/{account}: serviceaccount \"{account}\" not found",
                name_of(pod)
            ),
        ))
    }
}

/// The plugin's Admit step on a Pod CREATE, before the webhooks: policy-host's harness sets the
/// ServiceAccount (`default` when none) and mounts its token. A malformed Pod is left as
/// written, for the module to reject.
pub(crate) fn plugin_admit(pod: &mut Value) {
    if !pod_spec_is_well_formed(pod) {
        return;
    }
    let lists = ["initContainers", "containers"];
    let absent: Vec<&str> = lists
        .into_iter()
        .filter(|list| pod["spec"].get(*list).is_none())
        .collect();
    service_account_plugin(pod);
    // The harness indexes lists a Pod may not have; the API server adds none.
    if let Some(spec) = pod["spec"].as_object_mut() {
        spec.retain(|key, value| !(value.is_null() && absent.contains(&key.as_str())));
    }
}

/// Whether the ServiceAccount admission plugin's work can be done on this Pod as the harness
/// does it (its spec, containers and volumes of the right types); a malformed Pod is sent as
/// written, for the module to reject.
fn pod_spec_is_well_formed(pod: &Value) -> bool {
    let spec = &pod["spec"];
    let list_of_objects = |v: &Value| {
        v.is_null()
            || v.as_array()
                .is_some_and(|items| items.iter().all(Value::is_object))
    };
    spec.is_object()
        && list_of_objects(&spec["volumes"])
        && ["containers", "initContainers"].iter().all(|list| {
            list_of_objects(&spec[*list])
                && spec[*list].as_array().is_none_or(|containers| {
                    containers
                        .iter()
                        .all(|c| c["volumeMounts"].is_null() || c["volumeMounts"].is_array())
                })
        })
}
