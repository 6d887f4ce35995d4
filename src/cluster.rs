//! What the policy may ask the cluster, through Kubewarden's context-aware host capability
//! (`kubernetes/get_resource`). Only `requireExistingServiceAccounts` asks anything, and only
//! for a workload about to run as a role's ServiceAccount.

use kubewarden_policy_sdk::host_capabilities::kubernetes::{GetResourceRequest, get_resource};
use serde::de::IgnoredAny;

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
pub struct Host;

impl Cluster for Host {
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

/// Why a ServiceAccount could not be found: the host's answers, cached then uncached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// The host's error from policy-server's cache.
    pub cached: String,
    /// The host's error from the API server itself, asked because the cache may lag behind Helm.
    pub uncached: String,
}

/// Looks the ServiceAccount up from policy-server's cache first and, only if that fails, once
/// more from the API server: Helm creates the hook's ServiceAccount a moment before the hook
/// DaemonSet, and the cache may not have seen it yet.
pub fn require_service_account(
    cluster: &dyn Cluster,
    namespace: &str,
    name: &str,
) -> Result<(), Missing> {
    let Err(cached) = cluster.service_account(namespace, name, false) else {
        return Ok(());
    };
    cluster
        .service_account(namespace, name, true)
        .map_err(|uncached| Missing { cached, uncached })
}

#[cfg(test)]
pub mod fake {
    //! A cluster for native tests: the ServiceAccounts it knows, and every question asked.

    use std::cell::RefCell;

    use super::Cluster;

    /// Answers from a fixed list, so tests control what the cache has and has not seen yet.
    #[derive(Default)]
    pub struct FakeCluster {
        /// `(namespace, name, visible in the cache)`.
        pub accounts: Vec<(String, String, bool)>,
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
                asked: RefCell::default(),
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
            let found = self
                .accounts
                .iter()
                .any(|(ns, n, cached)| ns == namespace && n == name && (*cached || disable_cache));
            if found {
                Ok(())
            } else {
                Err(format!("serviceaccounts \"{name}\" not found"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeCluster;
    use super::*;

    #[test]
    fn cached_first_then_uncached_once() {
        let c = FakeCluster::with(&[("jhub", "cached", true), ("jhub", "fresh", false)]);
        assert_eq!(require_service_account(&c, "jhub", "cached"), Ok(()));
        assert_eq!(require_service_account(&c, "jhub", "fresh"), Ok(()));
        assert_eq!(
            require_service_account(&c, "jhub", "absent"),
            Err(Missing {
                cached: "serviceaccounts \"absent\" not found".into(),
                uncached: "serviceaccounts \"absent\" not found".into()
            })
        );
        let asked: Vec<bool> = c.asked.borrow().iter().map(|a| a.2).collect();
        assert_eq!(asked, [false, false, true, false, true]);
    }
}
