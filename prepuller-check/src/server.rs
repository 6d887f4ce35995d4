//! What policy-server does around the module: it validates the settings at start-up, and
//! hands the API server its own answer (policy-host's [`ServedPolicy`]: in monitor mode it
//! accepts and drops the patch, the answer only logged; a patch from a policy not allowed to
//! mutate, `spec.mutating: false`, is a rejection), which the report shows beside the module's.

use anyhow::Result;
use policy_host::{AdmissionResponse, Policy, ServedPolicy};
use serde_json::Value;

use crate::changes::changes;
use crate::model::{Admission, Verdict};
use crate::scope::{PolicyMode, Scope};

/// The admission the API server gets for `object` (policy-host's [`ServedPolicy::process`]),
/// and the object as stored when admitted. The patch and message are the module's, even when
/// policy-server drops or replaces them: they say what the policy wants.
pub(crate) fn answer(
    scope: &Scope,
    object: &Value,
    response: &AdmissionResponse,
) -> Result<(Admission, Option<Value>)> {
    let served = ServedPolicy {
        id: scope.policy_id.clone(),
        mode: scope.policy_mode,
        mutating: scope.mutating,
    };
    let answered = served.process(response);
    let vanilla = decision_of(response);
    let mut admission = Admission {
        decision: decision_of(&answered),
        would: (scope.policy_mode == PolicyMode::Monitor).then_some(vanilla),
        changes: Vec::new(),
        patch: None,
        warnings: answered.warnings.clone().unwrap_or_default(),
        message: answered
            .message()
            .or_else(|| response.message())
            .map(str::to_owned),
    };
    if let Some(patch) = response.decoded_patch()? {
        admission.changes = changes(object, &patch);
        admission.patch = Some(serde_json::to_value(&patch)?);
    }
    Ok((admission, answered.admitted(object)?))
}

/// The module's own decision.
fn decision_of(response: &AdmissionResponse) -> Verdict {
    match (response.allowed, &response.patch) {
        (false, _) => Verdict::Reject,
        (true, Some(_)) => Verdict::Mutate,
        (true, None) => Verdict::Accept,
    }
}

/// The settings the module must accept before anything is checked, as policy-server checks
/// them at start-up.
pub fn validate_settings(policy: &Policy, settings: &Value) -> Result<Option<String>> {
    let verdict = policy.validate_settings(settings)?;
    Ok((!verdict.valid).then(|| verdict.message.unwrap_or_default()))
}
