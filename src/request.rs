//! Decoding the `validate` payload: `{"request": <AdmissionRequest>, "settings": ...}`.
//!
//! The payload is read once: the envelope, and the request's object decoded in place into the
//! view of the kind the envelope named before it (the API server and policy-server write `kind`,
//! `subResource` and `operation` before `object`). Only the fields the rules read are decoded.
//! `oldObject` and the settings stay borrowed slices of the payload (`RawValue`).
//!
//! Anything unusual (fields in another order, a malformed object, a duplicate key) makes the
//! in-place reading give up, and the payload is read again the plain way: the envelope with
//! every object raw, each decoded afterwards. That reading defines the behaviour and the error
//! messages; the in-place one only succeeds where it agrees with it. The mutation path also
//! needs the object's text, which it gets from that second reading.

use std::fmt;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::json::CowStr;
use crate::kinds::ResourceKind;
use crate::workload::{self, ObjectView};

/// The `validate` payload Kubewarden sends: the AdmissionRequest and the policy settings.
#[derive(Debug, Deserialize)]
pub struct Payload<'a> {
    /// The AdmissionRequest the API server (or the audit scanner) sent.
    #[serde(borrow)]
    pub request: AdmissionRequest<'a>,
    /// The policy's settings as JSON text, decoded by [`crate::settings::Settings::from_json`].
    #[serde(default, borrow)]
    pub settings: Option<&'a RawValue>,
}

/// The request's `kind`: which resource the object is.
#[derive(Debug, Default, Deserialize)]
pub struct GroupVersionKind<'a> {
    /// The API group: empty for core kinds, `apps`, `batch`; it tells a DaemonSet from a look-alike CRD.
    #[serde(default, borrow)]
    pub group: Option<CowStr<'a>>,
    /// The kind's name, as in `DaemonSet`.
    #[serde(default, borrow)]
    pub kind: Option<CowStr<'a>>,
}

impl GroupVersionKind<'_> {
    /// The kind the policy judges, if it is one.
    pub fn resource_kind(&self) -> Option<ResourceKind> {
        let group = self.group.as_ref().map(CowStr::as_str);
        ResourceKind::lookup(group, self.kind.as_ref()?.as_str())
    }
}

/// Whether a request on `sub_resource` of a `kind` object is judged: the object itself, or a
/// Pod's ephemeral containers (which can add mounts). Status, scale and the like never change a
/// pod spec.
pub fn judges(kind: ResourceKind, sub_resource: &str) -> bool {
    sub_resource.is_empty() || (kind == ResourceKind::Pod && sub_resource == "ephemeralcontainers")
}

/// Who asked: the API server always says, the audit scanner never does.
#[derive(Debug, Default, Deserialize)]
pub struct UserInfo<'a> {
    /// The user's name; absent or empty only in the audit scanner's requests.
    #[serde(default, borrow)]
    pub username: Option<CowStr<'a>>,
}

/// The fields of an AdmissionRequest the policy reads; the objects stay raw JSON.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest<'a> {
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
    /// The object as JSON text; `None` when it was decoded in place into [`Self::view`] (or
    /// is absent).
    #[serde(default, borrow)]
    pub object: Option<&'a RawValue>,
    /// The stored object of an UPDATE, as JSON text: read only when an UPDATE breaks a rule.
    #[serde(default, borrow)]
    pub old_object: Option<&'a RawValue>,
    /// The object, decoded in the payload's one pass; `None` when it is left as text.
    #[serde(skip)]
    pub view: Option<ObjectView<'a>>,
}

/// What the request does to the object, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
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
        match self.kind.as_ref() {
            Some(gvk) if gvk.kind.is_some() => Ok(gvk.resource_kind()),
            _ => Err("the admission request has no kind.kind".into()),
        }
    }

    /// The subresource (`status`, `ephemeralcontainers`, ...), empty for the object itself.
    pub fn sub_resource(&self) -> &str {
        self.sub_resource
            .as_ref()
            .map(CowStr::as_str)
            .unwrap_or_default()
    }
}

/// How a payload is read: in one pass (what the policy does), or the plain way that defines
/// what a payload means (which tests hold the one-pass reading to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The envelope and the object together, falling back to [`Reading::Plain`].
    OnePass,
    /// The envelope with the objects as text, each decoded afterwards.
    Plain,
}

impl<'a> Payload<'a> {
    /// Decodes the payload in one pass, the object included where the envelope allows it; a
    /// payload that is not one is a message for the rejection.
    pub fn decode(payload: &'a str) -> Result<Payload<'a>, String> {
        Self::read(payload, Reading::OnePass)
    }

    /// Decodes the payload as `reading` says.
    pub fn read(payload: &'a str, reading: Reading) -> Result<Payload<'a>, String> {
        if reading == Reading::OnePass {
            let mut de = serde_json::Deserializer::from_str(payload);
            if let Ok(decoded) = InPlace.deserialize(&mut de)
                && de.end().is_ok()
            {
                return Ok(decoded);
            }
        }
        Self::decode_raw(payload)
    }

    /// Decodes the envelope only, every object left as text: the reading that defines what a
    /// payload means, and where the mutation path finds the object's text.
    pub fn decode_raw(payload: &'a str) -> Result<Payload<'a>, String> {
        serde_json::from_str(payload)
            .map_err(|e| format!("cannot decode the validation request: {e}"))
    }
}

/// The payload with the object decoded in place. It fails wherever [`Payload::decode_raw`]
/// would, and on some payloads that reading accepts (it is never more lenient): a failure only
/// means the payload is read the plain way.
struct InPlace;

impl<'de> DeserializeSeed<'de> for InPlace {
    type Value = Payload<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

/// Fails on a repeated key, as the derived decoder does.
fn once<T, E: serde::de::Error>(slot: &Option<T>, key: &'static str) -> Result<(), E> {
    match slot {
        Some(_) => Err(E::duplicate_field(key)),
        None => Ok(()),
    }
}

/// Reads the value of `key` into its empty `slot`.
fn fill<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    key: &'static str,
) -> Result<(), A::Error> {
    once(slot, key)?;
    *slot = Some(map.next_value()?);
    Ok(())
}

impl<'de> Visitor<'de> for InPlace {
    type Value = Payload<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a validation request")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut request = None;
        let mut settings: Option<Option<&'de RawValue>> = None;
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            match key.as_str() {
                "request" => {
                    once(&request, "request")?;
                    request = Some(map.next_value_seed(InPlaceRequest)?);
                }
                "settings" => fill(&mut map, &mut settings, "settings")?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Payload {
            request: request.ok_or_else(|| A::Error::missing_field("request"))?,
            settings: settings.flatten(),
        })
    }
}

/// An AdmissionRequest whose object is decoded as the kind named before it.
struct InPlaceRequest;

impl<'de> DeserializeSeed<'de> for InPlaceRequest {
    type Value = AdmissionRequest<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for InPlaceRequest {
    type Value = AdmissionRequest<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an admission request")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kind = None;
        let mut operation = None;
        let mut sub_resource = None;
        let mut namespace = None;
        let mut user_info = None;
        let mut object: Option<Option<&'de RawValue>> = None;
        let mut view: Option<Option<ObjectView<'de>>> = None;
        let mut old_object = None;
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            match key.as_str() {
                "kind" => fill(&mut map, &mut kind, "kind")?,
                "operation" => fill(&mut map, &mut operation, "operation")?,
                "subResource" => fill(&mut map, &mut sub_resource, "subResource")?,
                "namespace" => fill(&mut map, &mut namespace, "namespace")?,
                "userInfo" => fill(&mut map, &mut user_info, "userInfo")?,
                "object" => {
                    if object.is_some() || view.is_some() {
                        return Err(A::Error::duplicate_field("object"));
                    }
                    let sub = sub_resource.as_ref().and_then(Option::as_ref);
                    let judged = kind
                        .as_ref()
                        .and_then(Option::as_ref)
                        .and_then(GroupVersionKind::resource_kind)
                        .filter(|k| judges(*k, sub.map_or("", CowStr::as_str)));
                    match judged {
                        Some(k) => view = Some(map.next_value_seed(ViewSeed(k))?),
                        None => object = Some(map.next_value()?),
                    }
                }
                "oldObject" => fill(&mut map, &mut old_object, "oldObject")?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(AdmissionRequest {
            kind: kind.flatten(),
            operation: operation.flatten(),
            sub_resource: sub_resource.flatten(),
            namespace: namespace.flatten(),
            user_info: user_info.flatten(),
            object: object.flatten(),
            old_object: old_object.flatten(),
            view: view.flatten(),
        })
    }
}

/// The object, or `null`, decoded as `kind`.
struct ViewSeed(ResourceKind);

impl<'de> DeserializeSeed<'de> for ViewSeed {
    type Value = Option<ObjectView<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ViewSeed {
    type Value = Option<ObjectView<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} object", self.0.name())
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        workload::decode_in(self.0, d).map(Some)
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

    fn pod_request(fields: &str) -> String {
        format!(r#"{{"request":{{{fields}}},"settings":{{}}}}"#)
    }

    const POD_KIND: &str = r#""kind":{"group":"","version":"v1","kind":"Pod"}"#;
    const POD: &str =
        r#""object":{"kind":"Pod","metadata":{"name":"p"},"spec":{"serviceAccountName":"sa"}}"#;

    #[test]
    fn one_pass_decodes_the_object_named_before_it() {
        let text = pod_request(&format!(
            r#""uid":"1",{POD_KIND},"operation":"CREATE",{POD}"#
        ));
        let p = Payload::decode(&text).expect("valid");
        assert!(
            p.request.object.is_none(),
            "decoded in place, not kept as text"
        );
        let Some(ObjectView::Workload(w)) = &p.request.view else {
            panic!("no view: {:?}", p.request)
        };
        assert_eq!(w.kind, ResourceKind::Pod);
        assert_eq!(
            w.pod.service_account_name.as_ref().map(CowStr::as_str),
            Some("sa")
        );
        assert_eq!(p.settings.map(|s| s.get()), Some("{}"));
        // The plain reading keeps the text, from which the same object decodes.
        let plain = Payload::read(&text, Reading::Plain).expect("valid");
        assert!(plain.request.view.is_none());
        assert!(
            plain
                .request
                .object
                .is_some_and(|o| o.get().contains(r#""sa""#))
        );
    }

    #[test]
    fn one_pass_leaves_text_where_it_cannot_decide() {
        // The kind after the object: not known when the object is read.
        let text = pod_request(&format!(r#"{POD},{POD_KIND}"#));
        let p = Payload::decode(&text).expect("valid");
        assert!(p.request.view.is_none());
        assert!(p.request.object.is_some());
        // A subresource that is not judged, an unknown kind: text, never decoded.
        for fields in [
            format!(r#"{POD_KIND},"subResource":"status",{POD}"#),
            format!(r#""kind":{{"kind":"ConfigMap"}},{POD}"#),
        ] {
            let text = pod_request(&fields);
            let p = Payload::decode(&text).expect("valid");
            assert!(p.request.view.is_none(), "{fields}");
            assert!(p.request.object.is_some(), "{fields}");
        }
        // Ephemeral containers of a Pod are judged.
        let text = pod_request(&format!(
            r#"{POD_KIND},"subResource":"ephemeralcontainers",{POD}"#
        ));
        assert!(
            Payload::decode(&text)
                .expect("valid")
                .request
                .view
                .is_some()
        );
    }

    #[test]
    fn one_pass_falls_back_to_the_plain_reading() {
        // An object that does not decode as its kind: the plain reading keeps it as text, and
        // the decision reports the decoding error.
        for object in [
            r#""object":{"kind":"Pod","spec":[1]}"#,
            r#""object":{"kind":"Service","spec":{}}"#,
            r#""object":{"kind":"Pod","spec":{"serviceAccountName":"a","serviceAccountName":"b"}}"#,
        ] {
            let text = pod_request(&format!(r#"{POD_KIND},{object}"#));
            let p = Payload::decode(&text).expect("the envelope is valid");
            assert!(p.request.view.is_none(), "{object}");
            assert!(p.request.object.is_some(), "{object}");
        }
        // Whatever the plain reading refuses, the one-pass reading refuses with its message.
        for text in [
            pod_request(&format!(r#"{POD_KIND},{POD},{POD}"#)),
            pod_request(&format!(r#"{POD_KIND},{POD_KIND},{POD}"#)),
            format!(r#"{{"request":{{{POD_KIND},{POD}}},"request":{{}}}}"#),
            format!(r#"{{"request":{{{POD_KIND},{POD}}}}} trailing"#),
            format!(r#"{{"request":{{{POD_KIND},{POD}}},"settings":{{}},"settings":{{}}}}"#),
            r#"{"settings":{}}"#.to_owned(),
            format!(r#"[{{{POD_KIND},{POD}}}]"#),
        ] {
            let one_pass = Payload::decode(&text).map(|p| format!("{:?}", p.request));
            let plain = Payload::read(&text, Reading::Plain).map(|p| format!("{:?}", p.request));
            assert_eq!(one_pass, plain, "{text}");
        }
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
