//! The policy under test, called through its waPC entry points natively, and what its answers
//! mean for the API server once policy-server has turned them into a patch.

use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::CallResult;
use serde_json::Value;

/// The policy's entry points, handed in by the caller. The kit does not depend on the policy
/// crate: nothing of `src/` can leak into the oracle, and the same kit serves the properties (in
/// the policy's workspace) and the fuzz targets (in their own).
#[derive(Clone, Copy)]
pub struct Policy {
    /// The guest's `validate`: `{"request", "settings"}` in, a `ValidationResponse` out.
    pub validate: fn(&[u8]) -> CallResult,
    /// The guest's `validate_settings`: settings in, `{valid, message}` out.
    pub validate_settings: fn(&[u8]) -> CallResult,
    /// The settings decoder, which `validate_settings` must agree with.
    pub settings_valid: fn(&str) -> bool,
}

/// The [`Policy`] of a policy crate: its `validate`, `validate_settings` and
/// `settings::Settings::from_json`, named by the caller (the kit itself knows no policy crate).
#[macro_export]
macro_rules! policy_of {
    ($policy:ident) => {
        $crate::Policy {
            validate: $policy::validate,
            validate_settings: $policy::validate_settings,
            settings_valid: |text| $policy::settings::Settings::from_json(text).is_ok(),
        }
    };
}

/// A decision, as the host reads it from the `ValidationResponse`.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Admitted unchanged: no mutated object.
    Accept {
        /// What the policy advised.
        warnings: Vec<String>,
    },
    /// Admitted with a patch.
    Mutate {
        /// The whole object the policy returned, which policy-server diffs into the patch.
        object: Value,
        /// What the policy changed or advised.
        warnings: Vec<String>,
    },
    /// Since issue 8 a rejection may carry warnings too (advice that is not a violation, as
    /// labels on a controller that its Pods will not carry).
    Reject {
        /// The status message `kubectl` prints.
        message: String,
        /// Advice shown with the refusal.
        warnings: Vec<String>,
    },
}

impl Answer {
    /// Admitted, changed or not.
    pub fn allowed(&self) -> bool {
        !matches!(self, Answer::Reject { .. })
    }

    /// Admitted unchanged and without a warning.
    pub fn clean_accept(&self) -> bool {
        matches!(self, Answer::Accept { warnings } if warnings.is_empty())
    }

    /// Admitted unchanged, with no warning beyond those of `earlier` (advice about the object
    /// that a fix does not touch, as labels on a controller only, may stay).
    pub fn accept_within(&self, earlier: &Answer) -> bool {
        matches!(self, Answer::Accept { warnings }
            if warnings.iter().all(|w| earlier.warnings().contains(w)))
    }

    /// The warnings, whatever the decision.
    pub fn warnings(&self) -> &[String] {
        match self {
            Answer::Accept { warnings }
            | Answer::Mutate { warnings, .. }
            | Answer::Reject { warnings, .. } => warnings,
        }
    }

    /// A rejection of a payload the policy could not decode.
    pub fn undecodable(&self) -> bool {
        matches!(self, Answer::Reject { message, .. } if message.starts_with("cannot decode"))
    }
}

impl Policy {
    /// `validate` on a payload, its answer checked for shape and decoded: a rejection has a
    /// message and no object, an accept no message, a mutation at least one warning.
    pub fn decide(&self, payload: &[u8]) -> Answer {
        let answer = call(self.validate, "validate", payload);
        let r: ValidationResponse = serde_json::from_value(answer.clone()).unwrap_or_else(|e| {
            panic!("validate answered not a ValidationResponse ({e}): {answer}")
        });
        let warnings = r.warnings.clone().unwrap_or_default();
        match (r.accepted, r.mutated_object.clone()) {
            (false, _) => {
                assert!(
                    r.mutated_object.is_none(),
                    "a rejection with an object: {r:?}"
                );
                match r.message {
                    Some(message) if !message.is_empty() => Answer::Reject { message, warnings },
                    _ => panic!("a rejection without a message: {r:?}"),
                }
            }
            (true, object) => {
                assert!(r.message.is_none(), "an accept with a message: {r:?}");
                match object {
                    Some(object) => {
                        assert!(!warnings.is_empty(), "a mutation without warnings: {r:?}");
                        Answer::Mutate { object, warnings }
                    }
                    None => Answer::Accept { warnings },
                }
            }
        }
    }

    /// `validate` on any bytes, as only a hand-made payload can be: an answer, never a waPC
    /// error or a panic. Its object may echo what the payload holds (a lone surrogate, a
    /// number beyond a float), which no host delivers, so only the answer's start is checked.
    pub fn answers(&self, payload: &[u8]) {
        let bytes = (self.validate)(payload)
            .unwrap_or_else(|e| panic!("validate returned a waPC error: {e}"));
        assert!(
            bytes.starts_with(br#"{"accepted":"#),
            "validate answered something else than a ValidationResponse: {}",
            String::from_utf8_lossy(&bytes)
        );
    }

    /// [`Policy::decide`] on an envelope (`{"request", "settings"}`) written as JSON.
    pub fn decide_value(&self, envelope: &Value) -> Answer {
        self.decide(&serde_json::to_vec(envelope).expect("a Value serialises"))
    }

    /// `validate_settings` on a payload, its answer checked: `{valid, message}` with a message
    /// exactly when invalid, and valid exactly when the settings decoder takes the text.
    pub fn check_settings(&self, payload: &[u8]) -> SettingsValidationResponse {
        let answer = call(self.validate_settings, "validate_settings", payload);
        let r: SettingsValidationResponse =
            serde_json::from_value(answer.clone()).unwrap_or_else(|e| {
                panic!("validate_settings answered not {{valid, message}} ({e}): {answer}")
            });
        assert_eq!(
            r.valid,
            r.message.is_none(),
            "valid and message disagree: {r:?}"
        );
        if let Some(m) = &r.message {
            assert!(!m.is_empty(), "an empty settings message");
        }
        let text = std::str::from_utf8(payload).ok();
        assert_eq!(
            r.valid,
            text.is_some_and(self.settings_valid),
            "validate_settings disagrees with the settings decoder"
        );
        r
    }
}

/// Calls an entry point, which must answer JSON and never a waPC error (policy-server would
/// report the error instead of the policy's answer).
fn call(entry: fn(&[u8]) -> CallResult, name: &str, payload: &[u8]) -> Value {
    let bytes = entry(payload).unwrap_or_else(|e| panic!("{name} returned a waPC error: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{name} answered something else than JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

/// The object after policy-server turned the mutated object into a JSON patch
/// (`json_patch::diff` against the request's object) and the API server applied it; the patch
/// must reproduce the mutated object.
pub fn apply_as_policy_server(original: &Value, mutated: &Value) -> Value {
    let patch = json_patch::diff(original, mutated);
    let mut out = original.clone();
    json_patch::patch(&mut out, &patch).expect("a diff applies to its own original");
    assert_eq!(
        &out, mutated,
        "the patch does not reproduce the mutated object"
    );
    out
}

/// What an answer means for the API server: allowed, the object after the patch, the warnings,
/// the message (see [`normalise_message`]).
pub type Outcome = (bool, Option<Value>, Vec<String>, String);

/// The [`Outcome`] of an answer to a request whose object is `original`.
pub fn outcome(original: Option<&Value>, answer: &Answer) -> Outcome {
    match answer {
        Answer::Accept { warnings } => (true, None, warnings.clone(), String::new()),
        Answer::Mutate { object, warnings } => {
            let original =
                original.unwrap_or_else(|| panic!("a mutation of a request without object"));
            (
                true,
                Some(apply_as_policy_server(original, object)),
                warnings.clone(),
                String::new(),
            )
        }
        Answer::Reject { message, warnings } => {
            (false, None, warnings.clone(), normalise_message(message))
        }
    }
}

/// A rejection message, without what depends on the spelling of the payload: when a payload
/// cannot be decoded, or its settings are invalid, the error reported is the first one the parser
/// meets, so with several errors it depends on the order of keys; and its position in the text.
pub fn normalise_message(message: &str) -> String {
    for class in ["cannot decode the", "the policy settings are not valid"] {
        if message.starts_with(class) {
            return message.split(':').next().unwrap_or_default().to_owned();
        }
    }
    message.to_owned()
}
