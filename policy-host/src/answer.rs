//! What the guest answers and what the host makes of it: the SDK's `ValidationResponse` and
//! `validate_settings` answer, and the AdmissionResponse that kwctl prints and policy-server sends
//! back, with the mutation turned into a JSON patch as policy-evaluator does.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// What the guest answers to `validate` (the SDK's ValidationResponse).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct PolicyResponse {
    /// Whether the request is admitted (with `mutated_object`, as changed).
    pub accepted: bool,
    /// The rejection's text, which becomes the AdmissionResponse's status message.
    #[serde(default)]
    pub message: Option<String>,
    /// The rejection's HTTP code; the API server's default when absent.
    #[serde(default)]
    pub code: Option<u16>,
    /// The whole object as the policy changed it; the host diffs it into the patch.
    #[serde(default)]
    pub mutated_object: Option<Value>,
    /// Passed through to the AdmissionResponse (this policy never sets any).
    #[serde(default)]
    pub audit_annotations: Option<std::collections::BTreeMap<String, String>>,
    /// Passed through to the AdmissionResponse, for `kubectl` to show.
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
}

/// What the guest answers to `validate_settings`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SettingsValidation {
    /// Whether policy-server would start the policy with these settings.
    pub valid: bool,
    /// Why not, naming the offending key.
    #[serde(default)]
    pub message: Option<String>,
}

/// The AdmissionResponse that kwctl prints and policy-server sends back to the API server.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    /// The request's `uid`, which the API server matches the answer to.
    pub uid: String,
    /// Whether the API server may go on with the request.
    pub allowed: bool,
    /// `JSONPatch` when there is a patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// The base64 JSON patch from the request's object to the mutated one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// The rejection's message and code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The guest's audit annotations, as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_annotations: Option<std::collections::BTreeMap<String, String>>,
    /// The guest's warnings, which `kubectl` prints.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

/// The part of a `metav1.Status` a rejection fills in.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Status {
    /// What `kubectl` prints after `admission webhook ... denied the request:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The HTTP code of the refusal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

impl AdmissionResponse {
    /// The JSON patch, decoded.
    pub fn decoded_patch(&self) -> Result<Option<json_patch::Patch>> {
        let Some(patch) = &self.patch else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .map_err(|e| Error::Patch("base64", e.into()))?;
        Ok(Some(
            serde_json::from_slice(&bytes).map_err(|e| Error::Patch("a JSON patch", e.into()))?,
        ))
    }

    /// The object as the API server stores it after this answer: `None` when refused, else
    /// `object` with the patch applied.
    pub fn admitted(&self, object: &Value) -> Result<Option<Value>> {
        if !self.allowed {
            return Ok(None);
        }
        let mut admitted = object.clone();
        if let Some(patch) = self.decoded_patch()? {
            json_patch::patch(&mut admitted, &patch).map_err(Error::PatchApply)?;
        }
        Ok(Some(admitted))
    }

    /// The rejection message, if any: what most checks look at.
    pub fn message(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.message.as_deref())
    }
}

/// Builds the AdmissionResponse from the guest's answer like policy-evaluator does.
pub fn admission_response(request: &Value, response: &PolicyResponse) -> Result<AdmissionResponse> {
    let uid = request
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let object = request.get("object").filter(|o| !o.is_null());
    if response.mutated_object.is_some() && object.is_none() {
        return Ok(AdmissionResponse {
            uid,
            allowed: false,
            status: Some(Status {
                message: Some("Incoming object is null, which happens only with DELETE operations, but the policy is attempting a mutation. This is not allowed".into()),
                code: None,
            }),
            ..Default::default()
        });
    }
    let patch = match (&response.mutated_object, object) {
        (Some(mutated), Some(original)) => {
            let diff = json_patch::diff(original, mutated);
            if diff.0.is_empty() {
                None
            } else {
                let text = serde_json::to_string(&diff)
                    .map_err(|e| Error::Serialize("the patch", e.into()))?;
                Some(base64::engine::general_purpose::STANDARD.encode(text))
            }
        }
        _ => None,
    };
    let status = (response.message.is_some() || response.code.is_some()).then(|| Status {
        message: response.message.clone(),
        code: response.code,
    });
    Ok(AdmissionResponse {
        uid,
        allowed: response.accepted,
        patch_type: patch.as_ref().map(|_| "JSONPatch".to_owned()),
        patch,
        status,
        audit_annotations: response.audit_annotations.clone(),
        warnings: response.warnings.clone(),
    })
}
