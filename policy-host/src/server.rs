//! What policy-server does with the AdmissionResponse before the API server gets it
//! (policy-evaluator's `AdmissionResponseHandler`): in monitor mode it accepts, drops the patch
//! and the status, and only logs the answer; in protect mode a patch from a policy not allowed
//! to mutate (`spec.mutating: false`, a validating webhook) is a rejection.

use serde::Serialize;

use crate::answer::{AdmissionResponse, Status};

/// The policy resource's `spec.mode`: what policy-server does with the module's answers. Not
/// the settings' `mode` (mutate or reject), which is how the module answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyMode {
    /// Answers go to the API server.
    Protect,
    /// Every request is accepted and patches dropped; the answer is only logged.
    Monitor,
}

/// A policy as policy-server serves it: what its answers go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedPolicy {
    /// policy-server's id of the policy, as its messages name it.
    pub id: String,
    /// `spec.mode`.
    pub mode: PolicyMode,
    /// `spec.mutating`: whether its webhook is a mutating one.
    pub mutating: bool,
}

impl ServedPolicy {
    /// The answer the API server gets for the module's `response`: monitor mode applied, then
    /// the mutation constraint, as `AdmissionResponseHandler::process_response` does (this
    /// policy's resources set no custom rejection message).
    pub fn process(&self, response: &AdmissionResponse) -> AdmissionResponse {
        match self.mode {
            PolicyMode::Monitor => AdmissionResponse {
                allowed: true,
                patch_type: None,
                patch: None,
                status: None,
                ..response.clone()
            },
            PolicyMode::Protect if !self.mutating && response.patch.is_some() => {
                AdmissionResponse {
                    allowed: false,
                    status: Some(Status {
                        message: Some(format!(
                            "Request rejected by policy {}. The policy attempted to mutate the \
                             request, but it is currently configured to not allow mutations.",
                            self.id
                        )),
                        code: None,
                    }),
                    // A validating webhook's answer must carry no patch.
                    patch: None,
                    patch_type: None,
                    ..response.clone()
                }
            }
            PolicyMode::Protect => response.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(allowed: bool, patch: Option<&str>, message: Option<&str>) -> AdmissionResponse {
        AdmissionResponse {
            uid: "u".into(),
            allowed,
            patch_type: patch.map(|_| "JSONPatch".into()),
            patch: patch.map(str::to_owned),
            status: message.map(|m| Status {
                message: Some(m.into()),
                code: Some(400),
            }),
            warnings: Some(vec!["w".into()]),
            ..Default::default()
        }
    }

    fn served(mode: PolicyMode, mutating: bool) -> ServedPolicy {
        ServedPolicy {
            id: "clusterwide-p".into(),
            mode,
            mutating,
        }
    }

    #[test]
    fn monitor_mode_accepts_without_patch_or_status() {
        let monitor = served(PolicyMode::Monitor, false);
        for answer in [
            response(false, None, Some("no")),
            response(true, Some("cGF0Y2g="), None),
        ] {
            assert_eq!(
                monitor.process(&answer),
                AdmissionResponse {
                    uid: "u".into(),
                    allowed: true,
                    warnings: Some(vec!["w".into()]),
                    ..Default::default()
                }
            );
        }
    }

    #[test]
    fn a_patch_from_a_policy_not_allowed_to_mutate_is_a_rejection() {
        let validating = served(PolicyMode::Protect, false);
        let refused = validating.process(&response(true, Some("cGF0Y2g="), None));
        assert!(!refused.allowed);
        assert_eq!((refused.patch, refused.patch_type), (None, None));
        assert_eq!(
            refused.status.and_then(|s| s.message).as_deref(),
            Some(
                "Request rejected by policy clusterwide-p. The policy attempted to mutate the \
                 request, but it is currently configured to not allow mutations."
            )
        );
        // Without a patch, or allowed to mutate, the answer goes through as it is.
        for (policy, answer) in [
            (validating.clone(), response(false, None, Some("no"))),
            (
                served(PolicyMode::Protect, true),
                response(true, Some("cGF0Y2g="), None),
            ),
        ] {
            assert_eq!(policy.process(&answer), answer);
        }
    }
}
