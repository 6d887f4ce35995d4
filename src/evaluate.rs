//! The decision for one admission request: accept, mutate or reject. Every input, however
//! malformed, ends in a [`Decision`]; nothing here panics on data from the request.

use crate::checks::{self, Findings, Violation};
use crate::mutate;
use crate::request::{self, Operation, Payload, ResourceKind, Str};
use crate::response::{self, Decision};
use crate::settings::{Mode, Settings};
use crate::workload::{self, Decoded};

/// The API server refuses request bodies over 3 MiB and etcd stores objects of 1.5 MiB at most;
/// an admission request carries the object and, on UPDATE, the old one. A payload far beyond
/// that did not come from the API server, and decoding it would only burn the time budget.
pub const MAX_PAYLOAD_BYTES: usize = 8 * 1024 * 1024;

/// Entry point for `validate`: raw payload bytes in, decision out.
pub fn evaluate(payload: &[u8]) -> Decision {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Decision::Reject {
            message: format!(
                "the validation request is {} bytes, more than the {MAX_PAYLOAD_BYTES} an admission request can carry",
                payload.len()
            ),
        };
    }
    let text = match std::str::from_utf8(payload) {
        Ok(t) => t,
        Err(e) => {
            return Decision::Reject {
                message: format!("cannot decode the validation request: it is not UTF-8 ({e})"),
            };
        }
    };
    let payload = match Payload::decode(text) {
        Ok(p) => p,
        Err(message) => return Decision::Reject { message },
    };
    let settings = match payload
        .settings
        .map(|s| Settings::from_json(s.get()))
        .unwrap_or_else(|| Ok(Settings::default()))
    {
        Ok(s) => s,
        Err(e) => {
            return Decision::Reject {
                message: format!("the policy settings are not valid: {e}"),
            };
        }
    };
    decide(&payload, &settings).unwrap_or_else(|message| Decision::Reject { message })
}

fn resource_kind(payload: &Payload<'_>) -> Result<Option<ResourceKind>, String> {
    let gvk = payload.request.kind.as_ref();
    let Some(kind) = gvk.and_then(|k| k.kind.as_ref()) else {
        return Err("the admission request has no kind.kind".into());
    };
    let group = gvk.and_then(|k| k.group.as_ref()).map(Str::as_str);
    Ok(ResourceKind::lookup(group, kind.as_str()))
}

fn decide(payload: &Payload<'_>, settings: &Settings) -> Result<Decision, String> {
    let request = &payload.request;
    let operation = request.operation();
    if operation == Operation::Other {
        return Ok(Decision::accept());
    }
    let Some(kind) = resource_kind(payload)? else {
        return Ok(Decision::accept());
    };
    if kind == ResourceKind::ServiceAccount && !settings.service_account_objects {
        return Ok(Decision::accept());
    }
    // status, scale and the like never change a pod spec; ephemeral containers can add mounts.
    let sub_resource = request.sub_resource.as_ref().map(Str::as_str).unwrap_or("");
    let judged = sub_resource.is_empty()
        || (kind == ResourceKind::Pod && sub_resource == "ephemeralcontainers");
    if !judged {
        return Ok(Decision::accept());
    }
    let raw = request
        .object
        .ok_or_else(|| format!("the admission request for a {} has no object", kind.name()))?
        .get();
    let decoded = workload::decode(kind, raw)?;
    let findings = check(settings, &decoded);
    if findings.violations.is_empty() {
        return Ok(Decision::accept());
    }

    // Only a non-compliant UPDATE needs the stored object, and it is decoded once for both uses.
    if operation == Operation::Update {
        let old = request
            .old_object
            .and_then(|raw| workload::decode(kind, raw.get()).ok());
        if terminating(old.as_ref()) {
            // A terminating object only waits for its finalizers: blocking that helps nobody.
            return Ok(Decision::accept());
        }
        if kind.pod_spec_immutable() {
            return Ok(judge_immutable_update(old.as_ref(), settings, &findings));
        }
    }

    let fixable = findings.violations.iter().all(|v| v.remedy.is_some());
    if settings.mode == Mode::Mutate && fixable {
        let remedies: Vec<_> = findings
            .violations
            .iter()
            .filter_map(|v| v.remedy.as_ref())
            .collect();
        // A mutation echoes every field verbatim, so only here must the whole object be text
        // policy-server can parse; an accept or a rejection never sends the object back, and
        // the hot path is spared a second scan of it.
        request::check_text(raw)
            .map_err(|e| format!("cannot decode the {} object: {e}", kind.name()))?;
        let object = response::MutatedObject(mutate::apply(kind, raw, &remedies)?);
        let warnings = findings
            .violations
            .iter()
            .map(response::mutation_warning)
            .collect();
        return Ok(Decision::Mutate { object, warnings });
    }
    let all: Vec<&Violation> = findings.violations.iter().collect();
    let preface = if settings.mode == Mode::Reject && fixable {
        "breaks the prepuller ServiceAccount policy (mode: reject, so nothing was changed)"
    } else {
        "breaks the prepuller ServiceAccount policy"
    };
    Ok(Decision::Reject {
        message: response::rejection(&findings, &all, preface),
    })
}

/// Whether the object is terminating, by the API server's own record: the stored object, an
/// UPDATE's `oldObject`. The `deletionTimestamp` of a CREATE is whatever the client wrote, and a
/// mutating webhook sees it before the API server clears it (`rest.BeforeCreate`), so trusting
/// it would let anyone create a non-compliant puller; an UPDATE cannot set one either.
fn terminating(old: Option<&Decoded<'_>>) -> bool {
    old.is_some_and(|old| old.metadata().deletion_timestamp.is_some())
}

fn check(settings: &Settings, decoded: &Decoded<'_>) -> Findings {
    match decoded {
        Decoded::Workload(w) => checks::check_workload(settings, w),
        Decoded::ServiceAccount(sa) => checks::check_service_account_object(settings, sa),
    }
}

/// Pod specs and Job templates cannot change after creation: reject only what this UPDATE
/// introduces (new labels that make it a puller, say), never what it merely carries over.
fn judge_immutable_update(
    old: Option<&Decoded<'_>>,
    settings: &Settings,
    findings: &Findings,
) -> Decision {
    let old = old.map(|old| check(settings, old)).unwrap_or_default();
    let (carried, introduced): (Vec<&Violation>, Vec<&Violation>) = findings
        .violations
        .iter()
        .partition(|v| old.violations.iter().any(|o| o.same_as(v)));
    if introduced.is_empty() {
        Decision::Accept {
            warnings: carried
                .into_iter()
                .map(response::preexisting_warning)
                .collect(),
        }
    } else {
        Decision::Reject {
            message: response::rejection(
                findings,
                &introduced,
                "breaks the prepuller ServiceAccount policy with this UPDATE",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY_HOOK_POD: &str = r#"{"kind":"Pod","metadata":{"name":"p","namespace":"jhub",
        "labels":{"component":"hook-image-puller"}DELETION},"spec":{"serviceAccountName":"default",
        "automountServiceAccountToken":false,"containers":[{"name":"pause","image":"pause"}]}}"#;

    fn pod(deleting: bool) -> String {
        LEGACY_HOOK_POD.replace(
            "DELETION",
            if deleting {
                r#","deletionTimestamp":"2026-11-26T10:00:00Z""#
            } else {
                ""
            },
        )
    }

    fn request(operation: &str, object: &str, old: Option<&str>, settings: &str) -> Decision {
        let payload = format!(
            r#"{{"request":{{"kind":{{"group":"","version":"v1","kind":"Pod"}},"operation":"{operation}",
            "object":{object},"oldObject":{}}},"settings":{settings}}}"#,
            old.unwrap_or("null")
        );
        evaluate(payload.as_bytes())
    }

    #[test]
    fn a_deletion_timestamp_on_create_exempts_nothing() {
        // A mutating webhook sees the client's deletionTimestamp before the API server clears it.
        match request("CREATE", &pod(true), None, "{}") {
            Decision::Mutate { warnings, .. } => assert_eq!(warnings.len(), 1, "{warnings:?}"),
            other => panic!("expected a mutation, got {other:?}"),
        }
        match request("CREATE", &pod(true), None, r#"{"mode":"reject"}"#) {
            Decision::Reject { message } => {
                assert!(message.contains("spec.serviceAccountName"), "{message}")
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn only_the_stored_object_says_terminating() {
        let reject = r#"{"mode":"reject"}"#;
        // The stored object is terminating: finalizers may be removed, whatever the new object says.
        assert_eq!(
            request("UPDATE", &pod(true), Some(&pod(true)), reject),
            Decision::accept()
        );
        assert_eq!(
            request("UPDATE", &pod(false), Some(&pod(true)), reject),
            Decision::accept()
        );
        // A deletionTimestamp only in the new object is the client's (the API server refuses it):
        // judged like any UPDATE, here a carried-over violation, accepted with a warning.
        match request("UPDATE", &pod(true), Some(&pod(false)), reject) {
            Decision::Accept { warnings } => assert_eq!(warnings.len(), 1, "{warnings:?}"),
            other => panic!("expected an accept with a warning, got {other:?}"),
        }
    }
}
