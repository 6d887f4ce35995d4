//! The API server's ServiceAccount admission plugin: which ServiceAccounts exist, and the Pods
//! it refuses because theirs does not (its Admit step on a Pod is policy-host's
//! `chain::service_account_plugin`).

use std::collections::BTreeSet;

use policy_host::chain::runs_as;
use serde_json::Value;

use crate::kube::name_of;

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
