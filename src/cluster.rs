//! What the policy may ask the cluster, through Kubewarden's context-aware host capability
//! (`kubernetes/get_resource`). Only `requireExistingServiceAccounts` asks anything, and only
//! for a workload about to run as a role's ServiceAccount.
//!
//! # What a failed lookup looks like to the guest
//!
//! A lookup fails for two very different reasons, and the policy must tell them apart: the
//! ServiceAccount does not exist (the API server's 404), or the lookup was **refused** (not
//! granted, forbidden, the API server unreachable), which says nothing about the account. The
//! guest only gets an error string; this is what reaches it, from Kubewarden's source
//! (kubewarden-controller, `crates/`; kube 3.1.0, kubewarden-policy-sdk 0.17.3, wapc-guest 1.2):
//!
//! - The SDK (`host_capabilities::kubernetes::get_resource`) wraps the waPC host error as
//!   `error invoking host capability kubernetes.get_resource: Host error: <host message>`
//!   (`Error::HostCall`, over wapc-guest's `Host error: {}`).
//! - **Not granted** (`policy-evaluator/src/runtimes/callback.rs`, `host_callback`): the type is
//!   not in the policy's allow list (the module's `contextAwareResources` intersected with the
//!   policy resource's; an `AdmissionPolicy` is granted none, `api/policies/v1/
//!   admissionpolicy_types.go` `GetContextAwareResources`; kwctl without
//!   `--allow-context-aware` grants none), refused before any callback: `Policy has not been
//!   granted access to Kubernetes v1/ServiceAccount resources. The violation has been
//!   reported.` A policy resource whose `hostCapabilities` leave out `kubernetes/get_resource`
//!   gets `Policy has not been granted access to the 'kubernetes/get_resource' host
//!   capability. The violation has been reported.`
//! - Everything the callback handler answers comes back as `Callback evaluation failure:
//!   <error>` (`send_request_and_wait_for_response`, `{e:?}` of an `anyhow::Error`, so a kube
//!   error may be followed by `Caused by:` lines, and a backtrace when the host captures one).
//! - **Not found** (`policy-evaluator/src/callback_handler/kubernetes/client.rs`,
//!   `Client::get_resource`): kube's `Api::get_opt` turns the API server's 404 (`Status::
//!   is_not_found`) into `None`, which becomes `Cannot find v1/ServiceAccount named 'NAME'
//!   inside of namespace 'Some("NS")'`. This is the only text that means "missing".
//! - **Forbidden** (403: policy-server's ServiceAccount lacks the RBAC) and every other API
//!   error: kube's `Error::Api` as `ApiError: <message>: <reason> (Status { ... code: 403 ... })`
//!   (`kube-client/src/error.rs`, `kube-core/src/response.rs`).
//! - **Unreachable**: kube's `HyperError: ...` or `ServiceError: ...`; a host without a client
//!   answers `kube::Client was not initialized properly`.
//! - kwctl's replay (`crates/kwctl/src/callback_handler/proxy.rs`) records the handler's error
//!   with `to_string()` and hands it back through the same path, so a session's
//!   `{type: Error, message: ...}` reaches the guest as `Callback evaluation failure: <message>`.
//!   A not-granted lookup never reaches the recorder: its session holds no exchange.
//!
//! So a lookup is **not found** only when the host's answer is that exact not-found text for
//! the account asked about; anything else is **refused**, and never reported as missing.

use kubewarden_policy_sdk::host_capabilities::kubernetes::{GetResourceRequest, get_resource};
use serde::de::IgnoredAny;

use crate::roles::Role;

/// The questions the policy asks about the cluster. A trait, so the decision code is tested
/// natively with a fake, and the module asks policy-server (or kwctl's recorded session).
pub trait Cluster {
    /// Whether ServiceAccount `name` exists in `namespace`: `Err` carries the host's answer.
    fn service_account(
        &self,
        namespace: &str,
        name: &str,
        disable_cache: bool,
    ) -> Result<(), String>;
}

/// The host: policy-server, or kwctl with `--allow-context-aware`.
pub struct KubewardenHost;

impl Cluster for KubewardenHost {
    fn service_account(
        &self,
        namespace: &str,
        name: &str,
        disable_cache: bool,
    ) -> Result<(), String> {
        let request = GetResourceRequest {
            api_version: "v1".into(),
            kind: "ServiceAccount".into(),
            name: name.into(),
            namespace: Some(namespace.into()),
            disable_cache,
            field_masks: None,
        };
        // Only existence matters: the object is checked to be JSON and otherwise skipped.
        get_resource::<IgnoredAny>(&request)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Why a lookup was refused: what the operator has to change for the lookup to work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The policy is not granted ServiceAccount lookups: the policy resource does not list
    /// them in `contextAwareResources` (an `AdmissionPolicy` cannot list any), or its
    /// `hostCapabilities` leave out `kubernetes/get_resource`.
    NotGranted,
    /// The API server answered 403: policy-server's ServiceAccount may not read ServiceAccounts.
    Forbidden,
    /// Anything else: the API server unreachable, a timeout, an answer the policy cannot read.
    Failed,
}

/// Why a lookup did not find the ServiceAccount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LookupFailure {
    /// The API server answered 404: the ServiceAccount does not exist.
    NotFound {
        /// The host's answer, quoted in the message.
        answer: String,
    },
    /// The lookup was refused or failed: nothing is known about the ServiceAccount.
    Refused {
        /// The cause, which decides the fix the message gives.
        why: Refusal,
        /// The host's answer, quoted in the message.
        answer: String,
    },
}

/// A role's ServiceAccount the policy looked up without finding it, for the messages; what the
/// host answered is the [`LookupFailure`] beside it.
pub(crate) struct Unconfirmed<'s> {
    /// The role whose ServiceAccount it is.
    pub role: &'s Role,
    /// The namespace it was looked up in.
    pub namespace: String,
}

/// The not-found text of policy-evaluator's kubernetes client for this ServiceAccount (it
/// prints the namespace with `{:?}` of an `Option`, hence `'Some("jhub")'`).
pub(crate) fn not_found_text(namespace: &str, name: &str) -> String {
    format!(
        "Cannot find v1/ServiceAccount named '{name}' inside of namespace '{:?}'",
        Some(namespace)
    )
}

/// Reads a failed lookup's answer (see the module header for every shape it takes). Not found
/// only on the host's exact not-found text for this account, ending the answer or followed by
/// the lines anyhow appends; everything else is a refusal, whose cause picks the fix.
pub(crate) fn classify(namespace: &str, name: &str, answer: &str) -> LookupFailure {
    let marker = format!(
        "Callback evaluation failure: {}",
        not_found_text(namespace, name)
    );
    let not_found = answer.match_indices(&marker).any(|(at, m)| {
        let rest = &answer[at + m.len()..];
        rest.is_empty() || rest.starts_with('\n')
    });
    let answer = answer.to_owned();
    if not_found {
        return LookupFailure::NotFound { answer };
    }
    let why = if answer.contains("Policy has not been granted access to") {
        Refusal::NotGranted
    } else if answer.contains("ApiError: ") && answer.contains("code: 403") {
        Refusal::Forbidden
    } else {
        Refusal::Failed
    };
    LookupFailure::Refused { why, answer }
}

/// Looks the ServiceAccount up from policy-server's cache first and, only if that fails, once
/// more from the API server: Helm creates the hook's ServiceAccount a moment before the hook
/// DaemonSet, and the cache may not have seen it yet. The API server's own answer decides; a
/// lookup the policy is not granted is not asked twice (the host refuses it the same way, and
/// reports each attempt as a violation).
pub(crate) fn require_service_account(
    cluster: &dyn Cluster,
    namespace: &str,
    name: &str,
) -> Result<(), LookupFailure> {
    let Err(cached) = cluster.service_account(namespace, name, false) else {
        return Ok(());
    };
    let first = classify(namespace, name, &cached);
    if matches!(
        first,
        LookupFailure::Refused {
            why: Refusal::NotGranted,
            ..
        }
    ) {
        return Err(first);
    }
    cluster
        .service_account(namespace, name, true)
        .map_err(|uncached| classify(namespace, name, &uncached))
}

#[cfg(test)]
pub mod fake {
    //! A cluster for native tests: the ServiceAccounts it knows, and every question asked. Its
    //! failures are the strings the guest really gets (see the module header).

    use std::cell::RefCell;

    use super::{Cluster, not_found_text};

    /// How the SDK hands the guest a host error.
    pub fn sdk_error(host_message: &str) -> String {
        format!(
            "error invoking host capability kubernetes.get_resource: Host error: {host_message}"
        )
    }

    /// policy-evaluator's refusal of a type the policy is not granted.
    pub const NOT_GRANTED: &str = "Policy has not been granted access to Kubernetes v1/ServiceAccount resources. The violation has been reported.";

    /// kube 3.1's `Error::Api` for the API server's 403, through the callback handler.
    pub fn forbidden(namespace: &str, name: &str) -> String {
        let message = format!(
            "serviceaccounts \"{name}\" is forbidden: User \"system:serviceaccount:kubewarden:policy-server-default\" cannot get resource \"serviceaccounts\" in API group \"\" in the namespace \"{namespace}\""
        );
        format!(
            "Callback evaluation failure: ApiError: {message}: Forbidden (Status {{ status: Some(Failure), code: 403, message: {message:?}, metadata: Some(ListMeta {{ continue_: None, remaining_item_count: None, resource_version: None, self_link: None }}), reason: \"Forbidden\", details: Some(StatusDetails {{ name: {name:?}, group: \"\", kind: \"serviceaccounts\", uid: \"\", causes: [], retry_after_seconds: 0 }}) }})"
        )
    }

    /// kube's error when the API server cannot be reached.
    pub const UNREACHABLE: &str =
        "Callback evaluation failure: ServiceError: client error (Connect)";

    /// Answers from a fixed list, so tests control what the cache has and has not seen yet.
    #[derive(Default)]
    pub struct FakeCluster {
        /// `(namespace, name, visible in the cache)`.
        pub accounts: Vec<(String, String, bool)>,
        /// When set, every lookup fails with this host message (a refusal).
        pub refusal: Option<String>,
        /// Every question, `(namespace, name, disable_cache)`, to check the cache is tried first.
        pub asked: RefCell<Vec<(String, String, bool)>>,
    }

    impl FakeCluster {
        /// A cluster holding these `(namespace, name, visible in the cache)` accounts.
        pub fn with(accounts: &[(&str, &str, bool)]) -> Self {
            FakeCluster {
                accounts: accounts
                    .iter()
                    .map(|(ns, n, c)| (ns.to_string(), n.to_string(), *c))
                    .collect(),
                ..FakeCluster::default()
            }
        }

        /// A cluster refusing every lookup with this host message.
        pub fn refusing(host_message: &str) -> Self {
            FakeCluster {
                refusal: Some(host_message.to_owned()),
                ..FakeCluster::default()
            }
        }
    }

    impl Cluster for FakeCluster {
        fn service_account(
            &self,
            namespace: &str,
            name: &str,
            disable_cache: bool,
        ) -> Result<(), String> {
            self.asked
                .borrow_mut()
                .push((namespace.into(), name.into(), disable_cache));
            if let Some(refusal) = &self.refusal {
                return Err(sdk_error(refusal));
            }
            let found = self
                .accounts
                .iter()
                .any(|(ns, n, cached)| ns == namespace && n == name && (*cached || disable_cache));
            if found {
                Ok(())
            } else {
                Err(sdk_error(&format!(
                    "Callback evaluation failure: {}",
                    not_found_text(namespace, name)
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{FakeCluster, NOT_GRANTED, UNREACHABLE, forbidden, sdk_error};
    use super::*;

    const ABSENT: &str = "error invoking host capability kubernetes.get_resource: Host error: Callback evaluation failure: Cannot find v1/ServiceAccount named 'absent' inside of namespace 'Some(\"jhub\")'";

    #[test]
    fn cached_first_then_uncached_once() {
        let c = FakeCluster::with(&[("jhub", "cached", true), ("jhub", "fresh", false)]);
        assert_eq!(require_service_account(&c, "jhub", "cached"), Ok(()));
        assert_eq!(require_service_account(&c, "jhub", "fresh"), Ok(()));
        assert_eq!(
            require_service_account(&c, "jhub", "absent"),
            Err(LookupFailure::NotFound {
                answer: ABSENT.into()
            })
        );
        let asked: Vec<bool> = c.asked.borrow().iter().map(|a| a.2).collect();
        assert_eq!(asked, [false, false, true, false, true]);
    }

    #[test]
    fn refusals_are_never_not_found() {
        for (host, why, asks) in [
            (NOT_GRANTED.to_owned(), Refusal::NotGranted, 1),
            (
                "Policy has not been granted access to the 'kubernetes/get_resource' host capability. The violation has been reported.".to_owned(),
                Refusal::NotGranted,
                1,
            ),
            (forbidden("jhub", "absent"), Refusal::Forbidden, 2),
            (UNREACHABLE.to_owned(), Refusal::Failed, 2),
            (
                "Callback evaluation failure: kube::Client was not initialized properly".to_owned(),
                Refusal::Failed,
                2,
            ),
        ] {
            let c = FakeCluster::refusing(&host);
            assert_eq!(
                require_service_account(&c, "jhub", "absent"),
                Err(LookupFailure::Refused {
                    why,
                    answer: sdk_error(&host)
                }),
                "{host}"
            );
            assert_eq!(c.asked.borrow().len(), asks, "{host}");
        }
    }

    #[test]
    fn not_found_is_the_exact_text_for_this_account() {
        let text = |ns: &str, name: &str| {
            sdk_error(&format!(
                "Callback evaluation failure: {}",
                not_found_text(ns, name)
            ))
        };
        assert_eq!(text("jhub", "absent"), ABSENT);
        let is_not_found = |answer: &str| {
            matches!(
                classify("jhub", "absent", answer),
                LookupFailure::NotFound { .. }
            )
        };
        assert!(is_not_found(&text("jhub", "absent")));
        // anyhow's backtrace, when the host captures one, follows on new lines.
        assert!(is_not_found(&format!(
            "{}\n\nStack backtrace:\n   0: ...",
            text("jhub", "absent")
        )));
        // Another account, another namespace, a longer name, or the text without the
        // handler's prefix (a replay mismatch quoting it, say) is not this account missing.
        assert!(!is_not_found(&text("jhub", "other")));
        assert!(!is_not_found(&text("other", "absent")));
        assert!(!is_not_found(&text("jhub", "absent-2")));
        assert!(!is_not_found(&not_found_text("jhub", "absent")));
        assert!(!is_not_found(""));
        // The older kube's 403 (ErrorResponse) is read as forbidden too.
        assert_eq!(
            classify(
                "jhub",
                "absent",
                r#"Callback evaluation failure: ApiError: serviceaccounts "absent" is forbidden: Forbidden (ErrorResponse { status: "Failure", message: "m", reason: "Forbidden", code: 403 })"#
            ),
            LookupFailure::Refused {
                why: Refusal::Forbidden,
                answer: r#"Callback evaluation failure: ApiError: serviceaccounts "absent" is forbidden: Forbidden (ErrorResponse { status: "Failure", message: "m", reason: "Forbidden", code: 403 })"#.into()
            }
        );
    }
}
