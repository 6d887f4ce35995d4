//! Turning a decision into the waPC answer: the JSON of Kubewarden's `ValidationResponse`
//! (accepted, message, code, mutated_object, audit_annotations, warnings). The SDK's type holds
//! the mutated object as a `serde_json::Value`; this one carries it as the raw JSON the
//! mutation wrote, so the object is never parsed into a tree only to be written out again.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::checks::{Findings, Violation};

/// A message lists at most this many violations; the rest are counted. A pathological object
/// (thousands of containers mounting a token) must not produce a megabyte of status text.
const MAX_LISTED: usize = 20;

/// The mutated object, as JSON text.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct MutatedObject(pub Box<RawValue>);

impl MutatedObject {
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

#[derive(Debug, PartialEq)]
pub enum Decision {
    Accept {
        warnings: Vec<String>,
    },
    Mutate {
        object: MutatedObject,
        warnings: Vec<String>,
    },
    Reject {
        message: String,
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
    pub fn accept() -> Decision {
        Decision::Accept {
            warnings: Vec::new(),
        }
    }

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
            Decision::Reject { message } => ValidationResponse {
                accepted: false,
                message: Some(message.as_str()),
                code: None,
                mutated_object: None,
                audit_annotations: None,
                warnings: None,
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

fn describe(v: &Violation) -> String {
    format!(
        "{} is {}, expected {}: {}",
        v.field, v.found, v.expected, v.fix
    )
}

/// One line per finding joined into the status message, numbered so operators can refer to
/// them, with every field path, value found, value expected and fix.
pub fn rejection(findings: &Findings, violations: &[&Violation], preface: &str) -> String {
    let mut message = format!("{} {preface}: ", findings.subject);
    for (i, v) in violations.iter().take(MAX_LISTED).enumerate() {
        if i > 0 {
            message.push_str("; ");
        }
        message.push_str(&format!("({}) {}", i + 1, describe(v)));
    }
    if violations.len() > MAX_LISTED {
        message.push_str(&format!("; and {} more", violations.len() - MAX_LISTED));
    }
    message
}

/// One warning per change made, saying what and why.
pub fn mutation_warning(v: &Violation) -> String {
    let what = match &v.remedy {
        Some(crate::checks::Remedy::RemoveInjectedVolume(name)) => {
            format!(
                "{}: removed the injected token volume {name:?} and its volumeMounts",
                v.field
            )
        }
        _ => format!("{}: changed from {} to {}", v.field, v.found, v.expected),
    };
    format!("{what} (prepuller policy: own ServiceAccount, no API token)")
}

/// For an UPDATE the policy may not fix: what is wrong but was already so before the change.
pub fn preexisting_warning(v: &Violation) -> String {
    format!(
        "{} is {}, expected {}: left as is, this field cannot change on UPDATE; recreate the object to fix it",
        v.field, v.found, v.expected
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Remedy;
    use serde_json::Value;

    fn violation(i: usize) -> Violation {
        Violation {
            field: format!("spec.volumes[{i}]"),
            found: "x".into(),
            expected: "y".into(),
            fix: "do z".into(),
            remedy: None,
        }
    }

    #[test]
    fn messages_number_and_cap_violations() {
        let findings = Findings {
            subject: "Pod a/b".into(),
            violations: (0..25).map(violation).collect(),
        };
        let all: Vec<&Violation> = findings.violations.iter().collect();
        let m = rejection(&findings, &all[..2], "breaks the rules");
        assert_eq!(
            m,
            "Pod a/b breaks the rules: (1) spec.volumes[0] is x, expected y: do z; (2) spec.volumes[1] is x, expected y: do z"
        );
        let m = rejection(&findings, &all, "breaks the rules");
        assert!(
            m.ends_with("(20) spec.volumes[19] is x, expected y: do z; and 5 more"),
            "{m}"
        );
    }

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
            }
            .into_bytes(),
        )
        .expect("json");
        assert_eq!(v["accepted"], false);
        assert_eq!(v["message"], "no");
    }

    #[test]
    fn warnings_say_what_changed() {
        let mut v = violation(0);
        v.remedy = Some(Remedy::RemoveInjectedVolume("kube-api-access-1".into()));
        assert!(mutation_warning(&v).starts_with(
            "spec.volumes[0]: removed the injected token volume \"kube-api-access-1\" and its volumeMounts"
        ));
        v.remedy = Some(Remedy::SetAutomountFalse);
        assert!(mutation_warning(&v).starts_with("spec.volumes[0]: changed from x to y"));
    }
}
