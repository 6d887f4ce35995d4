//! Decoding the `validate` payload: `{"request": <AdmissionRequest>, "settings": ...}`.
//!
//! Only the envelope is decoded here. The object stays a borrowed slice of the payload
//! (`RawValue`), so an unrelated kind or a DELETE costs one scan of the bytes and no allocation
//! for the object; `workload` decodes just the fields the rules read.

use std::borrow::{Borrow, Cow};
use std::fmt;

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, ReplicationController, ServiceAccount};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A string borrowed from the payload when it has no JSON escapes, owned otherwise. serde only
/// borrows a bare `Cow<str>` field, not one inside a map or a Vec, hence this wrapper.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Str<'a>(pub Cow<'a, str>);

impl<'a> Str<'a> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Str<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Str<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<String> for Str<'_> {
    fn eq(&self, other: &String) -> bool {
        self.0.as_ref() == other.as_str()
    }
}

impl PartialEq<Str<'_>> for String {
    fn eq(&self, other: &Str<'_>) -> bool {
        self.as_str() == other.0.as_ref()
    }
}

impl fmt::Display for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

#[derive(Debug, Deserialize)]
pub struct Payload<'a> {
    #[serde(borrow)]
    pub request: AdmissionRequest<'a>,
    #[serde(default, borrow)]
    pub settings: Option<&'a RawValue>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GroupVersionKind<'a> {
    #[serde(default, borrow)]
    pub group: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub kind: Option<Str<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest<'a> {
    #[serde(default, borrow)]
    pub kind: Option<GroupVersionKind<'a>>,
    #[serde(default, borrow)]
    pub operation: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub sub_resource: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub object: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub old_object: Option<&'a RawValue>,
}

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
        match self.operation.as_ref().map(Str::as_str) {
            Some("UPDATE") => Operation::Update,
            Some("DELETE" | "CONNECT") => Operation::Other,
            _ => Operation::Create,
        }
    }
}

/// The resources the policy judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Pod,
    DaemonSet,
    Deployment,
    StatefulSet,
    ReplicaSet,
    ReplicationController,
    Job,
    CronJob,
    ServiceAccount,
}

impl ResourceKind {
    const ALL: [ResourceKind; 9] = [
        ResourceKind::Pod,
        ResourceKind::DaemonSet,
        ResourceKind::Deployment,
        ResourceKind::StatefulSet,
        ResourceKind::ReplicaSet,
        ResourceKind::ReplicationController,
        ResourceKind::Job,
        ResourceKind::CronJob,
        ResourceKind::ServiceAccount,
    ];

    /// API group and kind, from k8s-openapi's constants.
    pub fn group_kind(self) -> (&'static str, &'static str) {
        match self {
            ResourceKind::Pod => (Pod::GROUP, Pod::KIND),
            ResourceKind::DaemonSet => (DaemonSet::GROUP, DaemonSet::KIND),
            ResourceKind::Deployment => (Deployment::GROUP, Deployment::KIND),
            ResourceKind::StatefulSet => (StatefulSet::GROUP, StatefulSet::KIND),
            ResourceKind::ReplicaSet => (ReplicaSet::GROUP, ReplicaSet::KIND),
            ResourceKind::ReplicationController => {
                (ReplicationController::GROUP, ReplicationController::KIND)
            }
            ResourceKind::Job => (Job::GROUP, Job::KIND),
            ResourceKind::CronJob => (CronJob::GROUP, CronJob::KIND),
            ResourceKind::ServiceAccount => (ServiceAccount::GROUP, ServiceAccount::KIND),
        }
    }

    pub fn name(self) -> &'static str {
        self.group_kind().1
    }

    /// Looks a kind up by API group and kind. A missing group is taken from the kind alone, as
    /// hand-written kwctl requests often leave it out.
    pub fn lookup(group: Option<&str>, kind: &str) -> Option<ResourceKind> {
        Self::ALL.into_iter().find(|k| {
            let (g, n) = k.group_kind();
            n == kind && group.is_none_or(|group| group == g)
        })
    }

    /// Where the pod spec sits in the object, as path segments.
    pub fn pod_spec_path(self) -> &'static [&'static str] {
        match self {
            ResourceKind::Pod => &["spec"],
            ResourceKind::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
            ResourceKind::ServiceAccount => &[],
            _ => &["spec", "template", "spec"],
        }
    }

    /// Kinds whose pod spec the API server will not let an UPDATE change: the policy may only
    /// refuse changes that add a violation, never block or mutate the rest.
    pub fn pod_spec_immutable(self) -> bool {
        matches!(self, ResourceKind::Pod | ResourceKind::Job)
    }
}

/// Kubernetes objects nest a dozen levels at most (a Pod's node affinity is the deepest); the
/// envelope adds three. Anything far deeper is not an object the API server produced.
pub const MAX_DEPTH: usize = 100;

/// Rejects payloads nested deeper than [`MAX_DEPTH`] in one pass over the bytes, before any
/// decoding: serde skips unknown subtrees without a depth limit, so it would accept them.
fn check_depth(payload: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in payload.as_bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!(
                        "cannot decode the validation request: it is nested more than {MAX_DEPTH} levels deep"
                    ));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The four hex digits of a `\u` escape starting at `at`.
fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
    u32::from_str_radix(digits, 16).ok()
}

/// Checks what the rules never read but a mutation copies verbatim into the object it returns,
/// and what policy-server's JSON parser refuses: every `\u` escape must be valid UTF-16
/// (surrogates in pairs) and every number must fit a 64-bit float. serde_json checks neither in
/// the values it skips, so a lone `\ud800` or a `1e400` in a field no rule reads would reach
/// policy-server in the mutated object, and the request would fail as if the policy had trapped.
/// The API server never writes either (Go's encoder emits valid UTF-8, its types hold no such
/// number), so an object that has one is rejected like any other undecodable object.
pub fn check_text(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        match (in_string, bytes[i]) {
            (false, b'"') => in_string = true,
            (false, b'-' | b'0'..=b'9') => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .map_or(bytes.len(), |n| i + n);
                let number = &text[i..end];
                // Short integers always fit; only long ones and floats need parsing.
                if number.len() > 15 || number.contains(['.', 'e', 'E']) {
                    let fits = number
                        .parse::<f64>()
                        .is_ok_and(|v| v.is_finite() && v.abs() <= 1.7e308);
                    if !fits {
                        return Err(format!("the number {number} does not fit a 64-bit float"));
                    }
                }
                i = end;
                continue;
            }
            (true, b'"') => in_string = false,
            (true, b'\\') if bytes.get(i + 1) == Some(&b'u') => {
                let unit = hex4(bytes, i + 2);
                let lone = |u: Option<u32>| {
                    format!("a lone surrogate \\u{:04x} in a string", u.unwrap_or(0))
                };
                match unit {
                    Some(0xD800..=0xDBFF) => {
                        let next = i + 6;
                        let low = (bytes.get(next) == Some(&b'\\')
                            && bytes.get(next + 1) == Some(&b'u'))
                        .then(|| hex4(bytes, next + 2))
                        .flatten();
                        if !matches!(low, Some(0xDC00..=0xDFFF)) {
                            return Err(lone(unit));
                        }
                        i = next + 5;
                    }
                    Some(0xDC00..=0xDFFF) => return Err(lone(unit)),
                    Some(_) => i += 5,
                    None => return Err("an invalid \\u escape in a string".into()),
                }
            }
            (true, b'\\') => i += 1,
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

impl<'a> Payload<'a> {
    pub fn decode(payload: &'a str) -> Result<Payload<'a>, String> {
        check_depth(payload)?;
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
        let kind = p.request.kind.expect("kind");
        assert_eq!(
            ResourceKind::lookup(
                kind.group.as_ref().map(Str::as_str),
                kind.kind.expect("k").as_str()
            ),
            Some(ResourceKind::DaemonSet)
        );
    }

    #[test]
    fn kinds_need_the_right_group() {
        assert_eq!(
            ResourceKind::lookup(Some(""), "Pod"),
            Some(ResourceKind::Pod)
        );
        assert_eq!(
            ResourceKind::lookup(None, "CronJob"),
            Some(ResourceKind::CronJob)
        );
        assert_eq!(
            ResourceKind::lookup(Some("example.com"), "Deployment"),
            None
        );
        assert_eq!(ResourceKind::lookup(Some(""), "ConfigMap"), None);
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
    fn escaped_strings_are_owned_not_rejected() {
        let p = Payload::decode(r#"{"request":{"operation":"CRE\u0041TE"}}"#).expect("valid");
        assert_eq!(p.request.operation(), Operation::Create);
    }

    #[test]
    fn deep_nesting_is_refused_before_decoding() {
        let nested = |n: usize| {
            format!(
                r#"{{"request":{{"object":{}{}}}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        assert!(Payload::decode(&nested(MAX_DEPTH - 2)).is_ok());
        let e = Payload::decode(&nested(MAX_DEPTH)).unwrap_err();
        assert!(e.ends_with("nested more than 100 levels deep"), "{e}");
        // Brackets inside strings, escaped quotes included, do not count.
        let s = format!(r#"{{"request":{{"operation":"\"{}"}}}}"#, "[".repeat(500));
        assert!(Payload::decode(&s).is_ok());
    }

    #[test]
    fn escapes_must_be_valid_utf16() {
        for ok in [
            r#"{"a":"\u0063omponent","b":"\ud83d\ude00","c":"\\ud800","d":"\"\\"}"#,
            r#"{"\ud800\udc00":"x"}"#,
            "plain text with no strings",
        ] {
            assert_eq!(check_text(ok), Ok(()), "{ok}");
        }
        for (bad, unit) in [
            (r#"{"x":"\ud800"}"#, "d800"),
            (r#"{"x":"\ud800\u0041"}"#, "d800"),
            (r#"{"x":"\udfff"}"#, "dfff"),
            (r#"{"x":"a\ud83d"}"#, "d83d"),
            (r#"{"\udc00":1}"#, "dc00"),
        ] {
            let e = check_text(bad).expect_err(bad);
            assert_eq!(e, format!("a lone surrogate \\u{unit} in a string"));
        }
        assert!(check_text(r#"{"x":"\u12"}"#).is_err());
    }

    #[test]
    fn numbers_must_fit_a_float() {
        for ok in [
            r#"{"a":1,"b":-0.5,"c":65534,"d":1.5e300,"e":123456789012345678901234567890}"#,
            r#"{"a":"1e400 in a string","b":[1e-400,-1.7e308,0]}"#,
        ] {
            assert_eq!(check_text(ok), Ok(()), "{ok}");
        }
        for (bad, number) in [
            (r#"{"runAsGroup":1e400}"#, "1e400"),
            (r#"[0,-2E+999]"#, "-2E+999"),
            (
                &format!(r#"{{"x":{}}}"#, "9".repeat(400)),
                &"9".repeat(400)[..],
            ),
        ] {
            assert_eq!(
                check_text(bad),
                Err(format!("the number {number} does not fit a 64-bit float")),
                "{bad}"
            );
        }
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
    }
}
