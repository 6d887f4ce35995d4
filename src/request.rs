//! Decoding the `validate` payload: `{"request": <AdmissionRequest>, "settings": ...}`.
//!
//! Only the envelope is decoded here. The objects stay borrowed slices of the payload
//! (`RawValue`), so an unrelated kind or a DELETE costs one scan of the bytes and no allocation
//! for the object; `workload` decodes just the fields the rules read.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json::CowStr;
use crate::kinds::ResourceKind;

/// The `validate` payload Kubewarden sends: the AdmissionRequest and the policy settings.
#[derive(Debug, Deserialize)]
pub struct Payload<'a> {
    #[serde(borrow)]
    pub request: AdmissionRequest<'a>,
    #[serde(default, borrow)]
    pub settings: Option<&'a RawValue>,
}

/// The request's `kind`: which resource the object is.
#[derive(Debug, Default, Deserialize)]
pub struct GroupVersionKind<'a> {
    #[serde(default, borrow)]
    pub group: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub kind: Option<CowStr<'a>>,
}

/// Who asked: the API server always says, the audit scanner never does.
#[derive(Debug, Default, Deserialize)]
pub struct UserInfo<'a> {
    #[serde(default, borrow)]
    pub username: Option<CowStr<'a>>,
}

/// The fields of an AdmissionRequest the policy reads; the objects stay raw JSON.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest<'a> {
    #[serde(default, borrow)]
    pub kind: Option<GroupVersionKind<'a>>,
    #[serde(default, borrow)]
    pub operation: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub sub_resource: Option<CowStr<'a>>,
    /// The namespace of the request: a Pod's object may not carry it yet on CREATE.
    #[serde(default, borrow)]
    pub namespace: Option<CowStr<'a>>,
    #[serde(default, borrow)]
    pub user_info: Option<UserInfo<'a>>,
    #[serde(default, borrow)]
    pub object: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub old_object: Option<&'a RawValue>,
}

/// What the request does to the object, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    /// DELETE and CONNECT: nothing to judge.
    Other,
}

impl AdmissionRequest<'_> {
    /// A request without an operation, or with one Kubernetes never sends ("create", "PATCH"),
    /// is judged as a CREATE, the strictest reading: only DELETE and CONNECT go unjudged.
    pub fn operation(&self) -> Operation {
        match self.operation.as_ref().map(CowStr::as_str) {
            Some("UPDATE") => Operation::Update,
            Some("DELETE" | "CONNECT") => Operation::Other,
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
        let gvk = self.kind.as_ref();
        let Some(kind) = gvk.and_then(|k| k.kind.as_ref()) else {
            return Err("the admission request has no kind.kind".into());
        };
        let group = gvk.and_then(|k| k.group.as_ref()).map(CowStr::as_str);
        Ok(ResourceKind::lookup(group, kind.as_str()))
    }

    /// The subresource (`status`, `ephemeralcontainers`, ...), empty for the object itself.
    pub fn sub_resource(&self) -> &str {
        self.sub_resource
            .as_ref()
            .map(CowStr::as_str)
            .unwrap_or_default()
    }
}

impl<'a> Payload<'a> {
    /// Decodes the envelope; a payload that is not one is a message for the rejection.
    pub fn decode(payload: &'a str) -> Result<Payload<'a>, String> {
        serde_json::from_str(payload)
            .map_err(|e| format!("cannot decode the validation request: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_borrows_the_object() {
        let raw = r#"{"request":{"uid":"1","kind":{"group":"apps","version":"v1","kind":"DaemonSet"},
            "operation":"UPDATE","object":{"a":[1,2]},"oldObject":null},"settings":{"mode":"reject"}}"#;
        let p = Payload::decode(raw).expect("valid");
        assert_eq!(p.request.operation(), Operation::Update);
        assert_eq!(p.request.object.map(|o| o.get()), Some(r#"{"a":[1,2]}"#));
        assert!(p.request.old_object.is_none());
        assert_eq!(p.settings.map(|s| s.get()), Some(r#"{"mode":"reject"}"#));
        assert_eq!(p.request.resource_kind(), Ok(Some(ResourceKind::DaemonSet)));
    }

    #[test]
    fn operations() {
        let op = |o: &str| {
            let raw = format!(r#"{{"request":{{"operation":"{o}"}}}}"#);
            Payload::decode(&raw).expect("valid").request.operation()
        };
        assert_eq!(op("CREATE"), Operation::Create);
        assert_eq!(op("DELETE"), Operation::Other);
        assert_eq!(op("CONNECT"), Operation::Other);
        // Unknown spellings are not a way around the rules.
        assert_eq!(op("create"), Operation::Create);
        assert_eq!(op("PATCH"), Operation::Create);
        assert_eq!(op("delete"), Operation::Create);
        let p = Payload::decode(r#"{"request":{}}"#).expect("valid");
        assert_eq!(p.request.operation(), Operation::Create);
    }

    #[test]
    fn requests_without_a_user_are_audits() {
        let audit = |user: &str| {
            let raw = format!(r#"{{"request":{{"operation":"CREATE"{user}}}}}"#);
            Payload::decode(&raw).expect("valid").request.is_audit()
        };
        assert!(audit(""));
        assert!(audit(r#","userInfo":{}"#));
        assert!(audit(r#","userInfo":{"username":""}"#));
        assert!(audit(r#","userInfo":null"#));
        assert!(!audit(r#","userInfo":{"username":"system:anonymous"}"#));
        assert!(!audit(
            r#","userInfo":{"username":"system:serviceaccount:kube-system:daemon-set-controller","groups":["x"]}"#
        ));
    }

    #[test]
    fn escaped_strings_are_owned_not_rejected() {
        let p = Payload::decode(r#"{"request":{"operation":"CRE\u0041TE"}}"#).expect("valid");
        assert_eq!(p.request.operation(), Operation::Create);
    }

    #[test]
    fn malformed_payloads_are_errors() {
        assert!(
            Payload::decode("")
                .unwrap_err()
                .starts_with("cannot decode the validation request")
        );
        assert!(Payload::decode("{").is_err());
        assert!(
            Payload::decode(r#"{"settings":{}}"#)
                .unwrap_err()
                .contains("missing field `request`")
        );
        assert!(Payload::decode(r#"{"request":{"operation":5}}"#).is_err());
        let p = Payload::decode(r#"{"request":{"operation":"CREATE"}}"#).expect("valid");
        assert!(p.request.resource_kind().is_err());
    }
}
