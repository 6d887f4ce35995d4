//! Decoding the `validate` payload: `{"request": <AdmissionRequest>, "settings": ...}`.
//!
//! # The input contract
//!
//! Every Kubewarden host hands the module the same thing (kubewarden-controller 1.36):
//! policy-evaluator decodes the AdmissionReview into its typed `AdmissionRequest`
//! (`crates/policy-evaluator/src/admission_request.rs`, `object` and `oldObject` as
//! `RawExtension(serde_json::Value)`), and the waPC runtime writes
//! `serde_json::to_string(&json!({"request": request, "settings": settings}))`
//! (`crates/policy-evaluator/src/runtimes/wapc/runtime.rs`). kwctl and the audit scanner take
//! the same path. serde_json there has no `preserve_order`, so the payload has:
//!
//! - its keys sorted in every map: `kind` < `object` < `oldObject` < `operation` <
//!   `subResource` < `userInfo`, so the object comes *before* the operation and subresource;
//! - no duplicate keys, canonical numbers and escapes, no lone surrogates, and nesting within
//!   serde_json's limit of 128 (the host's own parse refused anything else);
//! - `uid`, `kind` (with `group`), `operation` and `userInfo` present (the audit scanner's
//!   `userInfo` is `{}`).
//!
//! The policy relies on it only to leave code out, never for a decision: a payload outside it
//! (handed to the module directly) still gets an answer, never a trap. What it leaves out:
//! scanning an echoed object for text no host could parse, and comparing an UPDATE's objects as
//! values rather than as text (`src/update.rs`). docs/security.md says the same for operators.
//!
//! The envelope is decoded with only the fields the rules read; the objects and the settings
//! stay borrowed slices of the payload (`RawValue`), each decoded by whoever needs it. A
//! repeated field is refused, as by any typed decoding.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json::{CowStr, non_empty};
use crate::kinds::ResourceKind;

/// The `validate` payload Kubewarden sends: the AdmissionRequest and the policy settings.
#[derive(Debug, Deserialize)]
pub(crate) struct Payload<'a> {
    /// The AdmissionRequest the API server (or the audit scanner) sent.
    #[serde(borrow)]
    pub request: AdmissionRequest<'a>,
    /// The policy's settings as JSON text, decoded by [`crate::settings::Settings::decode`].
    #[serde(default, borrow)]
    pub settings: Option<&'a RawValue>,
}

/// The largest payload read. The API server refuses request bodies over 3 MiB and etcd stores
/// objects of 1.5 MiB at most; an admission request carries the object and, on UPDATE, the old
/// one. A payload far beyond that did not come from the API server, and decoding it would only
/// burn the time budget.
pub const MAX_PAYLOAD_BYTES: usize = 8 * 1024 * 1024;

impl<'a> Payload<'a> {
    /// The payload, or a message for the rejection when it is not one.
    pub fn parse(payload: &'a [u8]) -> Result<Payload<'a>, String> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(format!(
                "the validation request is {} bytes, more than the {MAX_PAYLOAD_BYTES} an admission request can carry",
                payload.len()
            ));
        }
        let text = std::str::from_utf8(payload)
            .map_err(|e| format!("cannot decode the validation request: it is not UTF-8 ({e})"))?;
        serde_json::from_str(text).map_err(|e| format!("cannot decode the validation request: {e}"))
    }
}

/// The request's `kind`: which resource the object is.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct GroupVersionKind<'a> {
    /// The API group: empty for core kinds, `apps`, `batch`; it tells a DaemonSet from a look-alike CRD.
    #[serde(default, borrow)]
    pub group: Option<CowStr<'a>>,
    /// The kind's name, as in `DaemonSet`.
    #[serde(default, borrow)]
    pub kind: Option<CowStr<'a>>,
}

/// Who asked: the API server always says, the audit scanner never does.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct UserInfo<'a> {
    /// The user's name; absent or empty only in the audit scanner's requests.
    #[serde(default, borrow)]
    pub username: Option<CowStr<'a>>,
}

/// The fields of an AdmissionRequest the policy reads; the objects stay raw JSON.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AdmissionRequest<'a> {
    /// The object's kind: what decides how the object is read.
    #[serde(default, borrow)]
    pub kind: Option<GroupVersionKind<'a>>,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`; see [`AdmissionRequest::operation`].
    #[serde(default, borrow)]
    pub operation: Option<CowStr<'a>>,
    /// `status`, `scale`, `ephemeralcontainers`...: only the object itself and ephemeral containers are judged.
    #[serde(default, borrow)]
    pub sub_resource: Option<CowStr<'a>>,
    /// The namespace of the request: a Pod's object may not carry it yet on CREATE.
    #[serde(default, borrow)]
    pub namespace: Option<CowStr<'a>>,
    /// Who sent the request; see [`AdmissionRequest::is_audit`].
    #[serde(default, borrow)]
    pub user_info: Option<UserInfo<'a>>,
    /// The object as JSON text.
    #[serde(default, borrow)]
    pub object: Option<&'a RawValue>,
    /// The stored object of an UPDATE, as JSON text: read only when an UPDATE breaks a rule.
    #[serde(default, borrow)]
    pub old_object: Option<&'a RawValue>,
}

/// What the request does to the object, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// A new object: judged in full.
    Create,
    /// A change to a stored object: judged for what it changes.
    Update,
    /// DELETE and CONNECT: nothing to judge.
    Other,
}

impl AdmissionRequest<'_> {
    /// A request without an operation, or with one Kubernetes never sends ("create", "PATCH"),
    /// is judged as a CREATE, the strictest reading: only DELETE and CONNECT go unjudged.
    ///
    /// Except on the `ephemeralcontainers` subresource, which the API server only ever updates:
    /// there it is an UPDATE whatever its spelling, since what is judged is the stored Pod with
    /// the body's ephemeral containers, and a patch, which only a CREATE can get, would be
    /// applied to the body and carry the stored Pod's other fields into it.
    pub fn operation(&self) -> Operation {
        match self.operation.as_ref().map(CowStr::as_str) {
            Some("UPDATE") => Operation::Update,
            Some("DELETE" | "CONNECT") => Operation::Other,
            _ if self.ephemeral_containers() => Operation::Update,
            _ => Operation::Create,
        }
    }

    /// The API server names the requesting user on every request (`system:anonymous` at
    /// least); Kubewarden's audit scanner builds its requests from stored objects and sends no
    /// `userInfo`. Nothing is admitted through an audit, so it must not pass what only a
    /// mutation at admission would have fixed.
    pub fn is_audit(&self) -> bool {
        self.user_info
            .as_ref()
            .and_then(|u| u.username.as_ref())
            .is_none_or(|name| name.as_str().is_empty())
    }

    /// The judged kind: `Ok(None)` for kinds the policy does not know.
    pub fn resource_kind(&self) -> Result<Option<ResourceKind>, String> {
        match self.kind.as_ref() {
            Some(GroupVersionKind {
                group,
                kind: Some(kind),
            }) => Ok(ResourceKind::lookup(
                group.as_ref().map(CowStr::as_str),
                kind.as_str(),
            )),
            _ => Err("the admission request has no kind.kind".into()),
        }
    }

    /// Whether the request is on the object itself, or on a Pod's ephemeral containers (which
    /// can add mounts). Status, scale and the like never change a pod spec.
    pub fn judges(&self, kind: ResourceKind) -> bool {
        non_empty(&self.sub_resource).is_none()
            || (kind == ResourceKind::Pod && self.ephemeral_containers())
    }

    /// Whether the request is on the `ephemeralcontainers` subresource (of a Pod, the only kind
    /// that has it), of which the API server keeps only `spec.ephemeralContainers`.
    pub fn ephemeral_containers(&self) -> bool {
        non_empty(&self.sub_resource) == Some("ephemeralcontainers")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_borrows_the_objects() {
        let raw = r#"{"request":{"kind":{"group":"apps","kind":"DaemonSet","version":"v1"},"object":{"a":[1,2]},"oldObject":null,"operation":"UPDATE","uid":"1"},"settings":{"mode":"reject"}}"#;
        let p = Payload::parse(raw.as_bytes()).expect("valid");
        assert_eq!(p.request.operation(), Operation::Update);
        assert_eq!(p.request.object.map(|o| o.get()), Some(r#"{"a":[1,2]}"#));
        assert!(p.request.old_object.is_none());
        assert_eq!(p.settings.map(|s| s.get()), Some(r#"{"mode":"reject"}"#));
        assert_eq!(p.request.resource_kind(), Ok(Some(ResourceKind::DaemonSet)));
    }

    #[test]
    fn only_the_object_and_ephemeral_containers_are_judged() {
        let judges = |kind: ResourceKind, sub: &str| {
            let raw = format!(r#"{{"request":{{"subResource":"{sub}"}}}}"#);
            Payload::parse(raw.as_bytes())
                .expect("valid")
                .request
                .judges(kind)
        };
        assert!(judges(ResourceKind::Pod, ""));
        assert!(judges(ResourceKind::Pod, "ephemeralcontainers"));
        assert!(!judges(ResourceKind::Pod, "status"));
        assert!(!judges(ResourceKind::DaemonSet, "ephemeralcontainers"));
        assert!(!judges(ResourceKind::Deployment, "scale"));
        let whole = Payload::parse(r#"{"request":{}}"#.as_bytes()).expect("valid");
        assert!(whole.request.judges(ResourceKind::Job));
    }

    #[test]
    fn operations() {
        // The request's members after `{"request":{`, its operation read.
        let op = |members: &str| {
            let raw = format!(r#"{{"request":{{{members}}}}}"#);
            Payload::parse(raw.as_bytes())
                .expect("valid")
                .request
                .operation()
        };
        assert_eq!(op(r#""operation":"CREATE""#), Operation::Create);
        assert_eq!(op(r#""operation":"DELETE""#), Operation::Other);
        assert_eq!(op(r#""operation":"CONNECT""#), Operation::Other);
        // Unknown spellings are not a way around the rules.
        assert_eq!(op(r#""operation":"create""#), Operation::Create);
        assert_eq!(op(r#""operation":"PATCH""#), Operation::Create);
        assert_eq!(op(r#""operation":"delete""#), Operation::Create);
        assert_eq!(op(""), Operation::Create);
        // The ephemeralcontainers subresource is only ever updated.
        let debug = |o: &str| op(&format!(r#""subResource":"ephemeralcontainers"{o}"#));
        assert_eq!(debug(r#","operation":"update""#), Operation::Update);
        assert_eq!(debug(r#","operation":"CREATE""#), Operation::Update);
        assert_eq!(debug(""), Operation::Update);
        assert_eq!(debug(r#","operation":"DELETE""#), Operation::Other);
    }

    #[test]
    fn requests_without_a_user_are_audits() {
        let audit = |user: &str| {
            let raw = format!(r#"{{"request":{{"operation":"CREATE"{user}}}}}"#);
            Payload::parse(raw.as_bytes())
                .expect("valid")
                .request
                .is_audit()
        };
        assert!(audit(""));
        assert!(audit(r#","userInfo":{}"#));
        assert!(audit(r#","userInfo":{"username":""}"#));
        assert!(audit(r#","userInfo":null"#));
        assert!(!audit(r#","userInfo":{"username":"system:anonymous"}"#));
        assert!(!audit(
            r#","userInfo":{"groups":["x"],"username":"system:serviceaccount:kube-system:daemon-set-controller"}"#
        ));
    }

    #[test]
    fn escaped_strings_are_owned_not_rejected() {
        let p =
            Payload::parse(r#"{"request":{"operation":"CRE\u0041TE"}}"#.as_bytes()).expect("valid");
        assert_eq!(p.request.operation(), Operation::Create);
    }

    #[test]
    fn malformed_payloads_are_errors() {
        assert!(
            Payload::parse(b"")
                .unwrap_err()
                .starts_with("cannot decode the validation request")
        );
        assert!(Payload::parse(b"{").is_err());
        assert!(
            Payload::parse(r#"{"settings":{}}"#.as_bytes())
                .unwrap_err()
                .contains("missing field `request`")
        );
        assert!(Payload::parse(r#"{"request":{"operation":5}}"#.as_bytes()).is_err());
        assert!(Payload::parse(r#"{"request":{}} trailing"#.as_bytes()).is_err());
        // A repeated field is refused, as by any typed decoding (no host sends one).
        assert!(
            Payload::parse(r#"{"request":{"object":{},"object":{}}}"#.as_bytes())
                .unwrap_err()
                .contains("duplicate field `object`")
        );
        let p = Payload::parse(r#"{"request":{"operation":"CREATE"}}"#.as_bytes()).expect("valid");
        assert!(p.request.resource_kind().is_err());
    }
}
