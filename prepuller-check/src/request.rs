//! The request the module gets: the AdmissionReview request the API server sends (or the audit
//! scanner's), and policy-server's handling of the module's answer (its monitor mode, and the
//! refusal of a patch from a policy not allowed to mutate).

use anyhow::{Context, Result};
use policy_host::{AdmissionResponse, Fixtures, Host};
use serde_json::{Value, json};

use crate::changes::changes;
use crate::check::Checker;
use crate::kube::resource_of;
use crate::model::{Admission, Decision};
use crate::scope::Mode;

impl Checker<'_> {
    /// One request through the module and policy-server's handling; the object as stored
    /// when admitted.
    pub(crate) fn admit(
        &self,
        host: &Host<Fixtures>,
        object: &Value,
        old: Option<&Value>,
        operation: &str,
        user: Option<&str>,
    ) -> Result<(Admission, Option<Value>)> {
        let response = self.evaluate(host, object, old, operation, user, false)?;
        let vanilla = decision_of(&response);
        let mut admission = Admission {
            decision: vanilla,
            would: None,
            changes: Vec::new(),
            patch: None,
            warnings: response.warnings.clone().unwrap_or_default(),
            message: response.message().map(str::to_owned),
        };
        let patch = response.decoded_patch()?;
        if let Some(patch) = &patch {
            admission.changes = changes(object, patch);
            admission.patch = Some(serde_json::to_value(patch)?);
        }
        match self.scope.mode {
            Mode::Monitor => {
                // policy-server accepts and drops the patch; the answer is only logged.
                admission.would = Some(vanilla);
                admission.decision = Decision::Accept;
                return Ok((admission, Some(object.clone())));
            }
            Mode::Protect if !self.scope.mutating && patch.is_some() => {
                admission.decision = Decision::Reject;
                admission.message = Some(format!(
                    "Request rejected by policy {}. The policy attempted to mutate the request, \
                     but it is currently configured to not allow mutations.",
                    self.scope.policy_id
                ));
                return Ok((admission, None));
            }
            Mode::Protect => {}
        }
        let admitted = match (vanilla, patch) {
            (Decision::Reject, _) => None,
            (_, Some(patch)) => {
                let mut admitted = object.clone();
                json_patch::patch(&mut admitted, &patch).context("the patch does not apply")?;
                Some(admitted)
            }
            (_, None) => Some(object.clone()),
        };
        Ok((admission, admitted))
    }

    pub(crate) fn evaluate(
        &self,
        host: &Host<Fixtures>,
        object: &Value,
        old: Option<&Value>,
        operation: &str,
        user: Option<&str>,
        audit: bool,
    ) -> Result<AdmissionResponse> {
        let settings = &self.scope.settings;
        self.evaluate_with(host, object, old, operation, user, audit, settings)
    }

    /// [`Checker::evaluate`] with other settings.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn evaluate_with(
        &self,
        host: &Host<Fixtures>,
        object: &Value,
        old: Option<&Value>,
        operation: &str,
        user: Option<&str>,
        audit: bool,
        settings: &Value,
    ) -> Result<AdmissionResponse> {
        let kind = object["kind"].as_str().unwrap_or_default();
        let (group, version, resource) = resource_of(object);
        let mut request = json!({
            "uid": "5eed0000-0000-4000-8000-000000000017",
            "kind": {"group": group, "version": version, "kind": kind},
            // The audit scanner names the kind where the resource belongs.
            "resource": {"group": group, "version": version,
                "resource": if audit { kind.to_owned() } else { resource }},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "name": object["metadata"]["name"],
            "operation": operation,
            "object": object,
        });
        if let Some(ns) = object["metadata"]["namespace"].as_str() {
            request["namespace"] = json!(ns);
        }
        match user {
            Some(user) => {
                request["userInfo"] = json!({"username": user, "groups": ["system:authenticated"]});
                request["dryRun"] = json!(false);
            }
            None if audit => {}
            None => request["userInfo"] = json!({}),
        }
        if let Some(old) = old {
            request["oldObject"] = old.clone();
        }
        self.policy.evaluate_with_host(&request, settings, host)
    }
}

fn decision_of(response: &AdmissionResponse) -> Decision {
    match (response.allowed, &response.patch) {
        (false, _) => Decision::Reject,
        (true, Some(_)) => Decision::Mutate,
        (true, None) => Decision::Accept,
    }
}
