//! Turning a decision into the waPC answer: the JSON of Kubewarden's `ValidationResponse`
//! (accepted, message, code, mutated_object, audit_annotations, warnings). The SDK's type holds
//! the mutated object as a `serde_json::Value`; this one carries it as the JSON text the
//! mutation wrote, so the object is never parsed into a tree only to be written out again.

use serde::Serialize;

/// The mutated object, as the JSON text [`crate::mutate::apply`] wrote.
#[derive(Debug, PartialEq)]
pub struct MutatedObject(pub(crate) String);

impl MutatedObject {
    /// The mutated object's JSON text.
    pub fn get(&self) -> &str {
        &self.0
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
    mutated_object: Option<()>,
    audit_annotations: Option<()>,
    warnings: Option<&'a [String]>,
}

impl Decision {
    /// Accepted, nothing to add.
    pub(crate) fn accept() -> Decision {
        Decision::Accept {
            warnings: Vec::new(),
        }
    }

    /// Rejected with a message and no warnings.
    pub(crate) fn reject(message: String) -> Decision {
        Decision::Reject {
            message,
            warnings: Vec::new(),
        }
    }

    /// The JSON of the SDK's `ValidationResponse`, what the host expects from `validate`.
    pub fn into_bytes(self) -> Vec<u8> {
        let (message, warnings) = match &self {
            Decision::Accept { warnings } => (None, warnings),
            Decision::Mutate { object, warnings } => return mutation_bytes(object, warnings),
            Decision::Reject { message, warnings } => (Some(message.as_str()), warnings),
        };
        let response = ValidationResponse {
            accepted: message.is_none(),
            message,
            code: None,
            mutated_object: None,
            audit_annotations: None,
            warnings: (!warnings.is_empty()).then_some(warnings.as_slice()),
        };
        // Serialising strings and raw JSON that the policy wrote cannot fail; the fallback keeps
        // the module answering rather than trapping if that ever changes.
        serde_json::to_vec(&response).unwrap_or_else(internal_error)
    }
}

fn internal_error(e: serde_json::Error) -> Vec<u8> {
    format!(r#"{{"accepted":false,"message":"internal error serialising the response: {e}"}}"#)
        .into_bytes()
}

/// The answer to a mutation, the same fields in the same order as the SDK writes them, with the
/// object's text written as it is: it is the request's own JSON with whole values replaced, and
/// parsing it once more only to wrap it would cost as much as the mutation itself.
fn mutation_bytes(object: &MutatedObject, warnings: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(object.get().len() + 256);
    out.extend_from_slice(br#"{"accepted":true,"message":null,"code":null,"mutated_object":"#);
    out.extend_from_slice(object.get().as_bytes());
    out.extend_from_slice(br#","audit_annotations":null,"warnings":"#);
    if let Err(e) = serde_json::to_writer(&mut out, warnings) {
        return internal_error(e);
    }
    out.push(b'}');
    out
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
                object: MutatedObject(r#"{"a":1}"#.into()),
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

    #[test]
    fn a_mutation_answer_is_what_the_sdk_writes() {
        let object = "{\"b\": [1, \"\\u00e9\"],\n \"a\":{\"x\":null}}";
        let warnings = vec!["w \"q\"\n".to_owned(), "second".to_owned()];
        let ours = Decision::Mutate {
            object: MutatedObject(object.into()),
            warnings: warnings.clone(),
        }
        .into_bytes();
        let sdk = kubewarden_policy_sdk::response::ValidationResponse {
            accepted: true,
            message: None,
            code: None,
            mutated_object: Some(serde_json::from_str(object).expect("json")),
            audit_annotations: None,
            warnings: Some(warnings),
        };
        let parsed: kubewarden_policy_sdk::response::ValidationResponse =
            serde_json::from_slice(&ours).expect("the SDK's type reads it");
        assert_eq!(
            serde_json::to_value(&parsed).expect("json"),
            serde_json::to_value(&sdk).expect("json")
        );
        let ours: Value = serde_json::from_slice(&ours).expect("json");
        assert_eq!(ours, serde_json::to_value(&sdk).expect("json"));
    }
}
