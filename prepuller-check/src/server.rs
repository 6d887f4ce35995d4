//! What policy-server does around the module: it validates the settings at start-up, and
//! hands the API server its own answer: in monitor mode it accepts and drops the patch (the
//! answer is only logged); a patch from a policy not allowed to mutate (`spec.mutating: false`)
//! is a rejection.

use anyhow::{Context, Result};
use policy_host::{AdmissionResponse, Policy};
use serde_json::Value;

use crate::changes::changes;
use crate::model::{Admission, Decision};
use crate::scope::{PolicyMode, Scope};

/// The admission the API server gets for `object`, and the object as stored when admitted.
pub(crate) fn answer(
    scope: &Scope,
    object: &Value,
    response: &AdmissionResponse,
) -> Result<(Admission, Option<Value>)> {
    let vanilla = decision_of(response);
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
    match scope.policy_mode {
        PolicyMode::Monitor => {
            // policy-server accepts and drops the patch; the answer is only logged.
            admission.would = Some(vanilla);
            admission.decision = Decision::Accept;
            return Ok((admission, Some(object.clone())));
        }
        PolicyMode::Protect if !scope.mutating && patch.is_some() => {
            admission.decision = Decision::Reject;
            admission.message = Some(format!(
                "Request rejected by policy {}. The policy attempted to mutate the request, \
                 but it is currently configured to not allow mutations.",
                scope.policy_id
            ));
            return Ok((admission, None));
        }
        PolicyMode::Protect => {}
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

/// The module's own decision.
fn decision_of(response: &AdmissionResponse) -> Decision {
    match (response.allowed, &response.patch) {
        (false, _) => Decision::Reject,
        (true, Some(_)) => Decision::Mutate,
        (true, None) => Decision::Accept,
    }
}

/// The settings the module must accept before anything is checked, as policy-server checks
/// them at start-up.
pub fn validate_settings(policy: &Policy, settings: &Value) -> Result<Option<String>> {
    let verdict = policy.validate_settings(settings)?;
    Ok((!verdict.valid).then(|| verdict.message.unwrap_or_default()))
}
