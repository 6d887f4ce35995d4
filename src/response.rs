//! Turning a decision into the waPC answer: the JSON of Kubewarden's `ValidationResponse`
//! (accepted, message, code, mutated_object, audit_annotations, warnings). The SDK's type holds
//! the mutated object as a `serde_json::Value`; this one carries it as the raw JSON the
//! mutation wrote, so the object is never parsed into a tree only to be written out again.

use serde::Serialize;
use serde_json::value::RawValue;

/// The mutated object, as JSON text.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct MutatedObject(pub Box<RawValue>);

impl MutatedObject {
    /// The mutated object's JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The object as a JSON tree, for tests and tools (the policy itself never needs it).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.0.get()).unwrap_or(serde_json::Value::Null)
    }
}

impl PartialEq for MutatedObject {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// The policy's answer to one request.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Admit the object unchanged.
    Accept {
        /// What the operator should know though nothing is refused (shown by `kubectl`).
        warnings: Vec<String>,
    },
    /// Admit the object as the policy fixed it (`mode: mutate`).
    Mutate {
        /// The whole fixed object; policy-server diffs it into the JSONPatch.
        object: MutatedObject,
        /// One per change made, so the operator can fix the source (the chart's values) too.
        warnings: Vec<String>,
    },
    /// Warnings ride along with a rejection too: `kubectl` shows them above the error.
    Reject {
        /// Every violation with its field, value found, value expected and fix.
        message: String,
        /// Shown above the error, like an acceptance's.
        warnings: Vec<String>,
    },
}

/// Field for field what `kubewarden_policy_sdk::response::ValidationResponse` serialises to.
#[derive(Serialize)]
struct ValidationResponse<'a> {
    accepted: bool,
    message: Option<&'a str>,
    code: Option<u16>,
    mutated_object: Option<&'a RawValue>,
    audit_annotations: Option<()>,
    warnings: Option<&'a [String]>,
}

impl Decision {
    /// Accepted, nothing to add.
    pub fn accept() -> Decision {
        Decision::Accept {
            warnings: Vec::new(),
        }
    }

    /// Rejected with a message and no warnings.
    pub fn reject(message: String) -> Decision {
        Decision::Reject {
            message,
            warnings: Vec::new(),
        }
    }

    /// The JSON of the SDK's `ValidationResponse`, what the host expects from `validate`.
    pub fn into_bytes(self) -> Vec<u8> {
        let response = match &self {
            Decision::Accept { warnings } => ValidationResponse {
                accepted: true,
                message: None,
                code: None,
                mutated_object: None,
                audit_annotations: None,
                warnings: (!warnings.is_empty()).then_some(warnings.as_slice()),
            },
            Decision::Mutate { object, warnings } => ValidationResponse {
                accepted: true,
                message: None,
                code: None,
                mutated_object: Some(&object.0),
                audit_annotations: None,
                warnings: Some(warnings.as_slice()),
            },
            Decision::Reject { message, warnings } => ValidationResponse {
                accepted: false,
                message: Some(message.as_str()),
                code: None,
                mutated_object: None,
                audit_annotations: None,
                warnings: (!warnings.is_empty()).then_some(warnings.as_slice()),
            },
        };
        // Serialising strings and raw JSON that the policy wrote cannot fail; the fallback keeps
        // the module answering rather than trapping if that ever changes.
        serde_json::to_vec(&response).unwrap_or_else(|e| {
            format!(
                r#"{{"accepted":false,"message":"internal error serialising the response: {e}"}}"#
            )
            .into_bytes()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn responses_have_the_kubewarden_shape() {
        let v: Value = serde_json::from_slice(&Decision::accept().into_bytes()).expect("json");
        assert_eq!(v["accepted"], true);
        assert!(v["warnings"].is_null());
        let v: Value = serde_json::from_slice(
            &Decision::Mutate {
                object: MutatedObject(RawValue::from_string(r#"{"a":1}"#.into()).expect("json")),
                warnings: vec!["w".into()],
            }
            .into_bytes(),
        )
        .expect("json");
        assert_eq!(v["mutated_object"], serde_json::json!({"a":1}));
        assert_eq!(v["warnings"], serde_json::json!(["w"]));
        let v: Value = serde_json::from_slice(
            &Decision::Reject {
                message: "no".into(),
                warnings: vec!["w".into()],
            }
            .into_bytes(),
        )
        .expect("json");
        assert_eq!(v["accepted"], false);
        assert_eq!(v["message"], "no");
        assert_eq!(v["warnings"], serde_json::json!(["w"]));
    }
}
