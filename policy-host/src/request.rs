//! Requests and settings read as kwctl reads them, the request as every Kubewarden host hands
//! it to the module, and requests built as the API server and the audit scanner send them.
//!
//! kwctl parses the request file into a `serde_json::Value`, takes `request` out of an
//! AdmissionReview, and decodes policy-evaluator's typed `AdmissionRequest` from it (policy-server
//! decodes the same type from the API server's AdmissionReview, the audit scanner's requests
//! take that path too); the waPC runtime then serialises `json!({"request", "settings"})` with
//! serde_json. So what reaches the module has its keys sorted (serde_json without
//! `preserve_order`), no duplicate keys (the last one wins), escapes and numbers spelt
//! canonically, no lone surrogates, nesting within serde_json's limit of 128, only the fields
//! of an AdmissionRequest, and no `object`/`oldObject` that is `null` (absent instead). What
//! kwctl cannot decode is an error, never a module call. [`read_request`] does all of this.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::kinds;

/// policy-evaluator's `AdmissionRequest` (admission/v1), field for field: the type every host
/// decodes the request into before handing it to the module. Unknown fields are dropped, the
/// required ones (`uid`, `kind`, `resource`, `operation`, `userInfo`) must be there.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct AdmissionRequest {
    pub uid: String,
    pub kind: GroupVersionKind,
    pub resource: GroupVersionResource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_kind: Option<GroupVersionKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_resource: Option<GroupVersionResource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub operation: String,
    pub user_info: UserInfo,
    /// k8s-openapi's `RawExtension`, a `Value`: `null` reads as absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
}

/// k8s-openapi's `authentication/v1` `UserInfo` (what policy-evaluator's request holds): every
/// field optional, unknown ones ignored, absent ones left out when written (so the audit
/// scanner's empty one is handed on as `{}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct UserInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<std::collections::BTreeMap<String, Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// policy-evaluator's `GroupVersionKind`: all three strings required (`""` for the core group).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct GroupVersionKind {
    pub group: String,
    pub version: String,
    pub kind: String,
}

/// policy-evaluator's `GroupVersionResource`: all three strings required.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct GroupVersionResource {
    pub group: String,
    pub version: String,
    pub resource: String,
}

/// What an AdmissionRequest asks for (`operation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `CREATE`: `object` is the new object.
    Create,
    /// `UPDATE`: `object` is the new object, `oldObject` the stored one.
    Update,
    /// `DELETE`: only `oldObject`.
    Delete,
    /// `CONNECT` (exec, attach, port-forward, proxy).
    Connect,
}

impl Operation {
    /// The operation as the request spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

/// The API group, version and resource the API server names for a workload `kind` (one whose
/// pod template this policy judges); any other kind is an error, which callers use to tell
/// workloads apart.
pub fn gvr(kind: &str) -> Result<(&'static str, &'static str, &'static str)> {
    Ok(match kind {
        "Pod" => ("", "v1", "pods"),
        "ReplicationController" => ("", "v1", "replicationcontrollers"),
        "DaemonSet" => ("apps", "v1", "daemonsets"),
        "Deployment" => ("apps", "v1", "deployments"),
        "StatefulSet" => ("apps", "v1", "statefulsets"),
        "ReplicaSet" => ("apps", "v1", "replicasets"),
        "Job" => ("batch", "v1", "jobs"),
        "CronJob" => ("batch", "v1", "cronjobs"),
        other => return Err(Error::UnknownKind(other.to_owned())),
    })
}

/// The kind and resource the API server names for `object`: its group and version from its
/// `apiVersion`, its resource from the kinds table ([`crate::kinds::resource_of`], a kind the
/// table does not know getting the API machinery's guess).
fn kind_and_resource(object: &Value) -> Result<(GroupVersionKind, GroupVersionResource)> {
    let kind = object["kind"]
        .as_str()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::RequestRefused("an object without kind".into()))?;
    let (group, version, resource) = kinds::resource_of(object);
    Ok((
        GroupVersionKind {
            group: group.clone(),
            version: version.clone(),
            kind: kind.to_owned(),
        },
        GroupVersionResource {
            group,
            version,
            resource,
        },
    ))
}

/// Builds the [`AdmissionRequest`] the API server sends a webhook for an object: its kind and
/// resource, name and namespace from the object, `dryRun: false`, the user's groups with
/// `system:authenticated`. Start with [`AdmissionRequest::builder`].
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    request: AdmissionRequest,
}

impl AdmissionRequest {
    /// The request for `operation` on `object` (for [`Operation::Delete`], the object being
    /// deleted, which becomes `oldObject`), as the API server sends it; an object without
    /// `kind` is an error.
    pub fn builder(operation: Operation, object: &Value) -> Result<RequestBuilder> {
        let (kind, resource) = kind_and_resource(object)?;
        let text = |key: &str| object["metadata"][key].as_str().map(str::to_owned);
        let (new, old) = match operation {
            Operation::Delete => (None, Some(object.clone())),
            _ => (Some(object.clone()), None),
        };
        Ok(RequestBuilder {
            request: AdmissionRequest {
                uid: "c0ffee00-0000-4000-8000-000000000000".into(),
                // The API server names the kind and resource asked for too; they differ only
                // when it converted the request from another API version.
                request_kind: Some(kind.clone()),
                request_resource: Some(resource.clone()),
                kind,
                resource,
                sub_resource: None,
                request_sub_resource: None,
                // A generateName CREATE has no name yet: the API server names the object
                // after admission.
                name: text("name"),
                namespace: text("namespace"),
                operation: operation.as_str().into(),
                user_info: UserInfo::default(),
                object: new,
                old_object: old,
                dry_run: Some(false),
                options: None,
            },
        })
    }
}

impl AdmissionRequest {
    /// The request Kubewarden's audit scanner makes for a stored `object`
    /// (kubewarden-controller, `internal/audit-scanner/scanner/admission_request.go`): a CREATE
    /// with the object's uid, name and namespace, its kind and, where the API server would
    /// name the resource, the kind again; no requested resource, no dry run, and an empty
    /// `userInfo`, which policy-server hands on as `{}`: no user, the mark of an audit.
    pub fn audit_scanner(object: &Value) -> Result<RequestBuilder> {
        let kind = object["kind"]
            .as_str()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| Error::RequestRefused("an object without kind".into()))?;
        let (group, version) = kinds::group_version(object);
        let kind = GroupVersionKind {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        };
        // Go's `omitempty` leaves an empty name or namespace out; the uid is always there.
        let text = |key: &str| {
            object["metadata"][key]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Ok(RequestBuilder {
            request: AdmissionRequest {
                uid: text("uid").unwrap_or_default(),
                resource: GroupVersionResource {
                    group: kind.group.clone(),
                    version: kind.version.clone(),
                    resource: kind.kind.clone(),
                },
                request_kind: Some(kind.clone()),
                kind,
                request_resource: None,
                sub_resource: None,
                request_sub_resource: None,
                name: text("name"),
                namespace: text("namespace"),
                operation: Operation::Create.as_str().into(),
                user_info: UserInfo::default(),
                object: Some(object.clone()),
                old_object: None,
                dry_run: None,
                options: None,
            },
        })
    }
}

impl RequestBuilder {
    /// The stored object an UPDATE replaces.
    pub fn old_object(mut self, old: &Value) -> Self {
        self.request.old_object = Some(old.clone());
        self
    }

    /// The user making the request, with its groups; the API server adds
    /// `system:authenticated` to every authenticated user's.
    pub fn user(mut self, username: &str, groups: &[&str]) -> Self {
        let mut groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".into());
        }
        self.request.user_info = UserInfo {
            username: Some(username.into()),
            groups: Some(groups),
            ..UserInfo::default()
        };
        self
    }

    /// A subresource request (`status`, `scale`, `ephemeralcontainers`, ...).
    pub fn subresource(mut self, subresource: &str) -> Self {
        self.request.sub_resource = Some(subresource.into());
        self.request.request_sub_resource = Some(subresource.into());
        self
    }

    /// The namespace of the request's URL, when the object does not name one (the API server
    /// fills the object's in from the URL).
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.request.namespace = Some(namespace.into());
        self
    }

    /// `kubectl --dry-run=server`: nothing will be stored.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.request.dry_run = Some(dry_run);
        self
    }

    /// The typed request.
    pub fn build(self) -> AdmissionRequest {
        self.request
    }

    /// The request as [`crate::Policy::run`] takes it.
    pub fn to_value(&self) -> Result<Value> {
        serde_json::to_value(&self.request).map_err(|e| Error::Serialize("the request", e.into()))
    }
}

/// The request a host hands the module for `value` (a bare AdmissionRequest, or a whole
/// AdmissionReview), as kwctl's `build_validate_request` makes it: decoded as an
/// [`AdmissionRequest`] and turned back into a `Value`, or kwctl's error.
pub fn admission_request(value: &Value) -> Result<Value> {
    let object = value
        .as_object()
        .ok_or_else(|| Error::RequestRefused("Invalid request object".into()))?;
    let request = if object.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        object
            .get("request")
            .ok_or_else(|| Error::RequestRefused("invalid AdmissionReview object".into()))?
    } else {
        value
    };
    let typed: AdmissionRequest = serde_json::from_value(request.clone()).map_err(|e| {
        Error::RequestRefused(format!(
            "cannot build AdmissionRequest object from given input: {e}"
        ))
    })?;
    serde_json::to_value(typed).map_err(|e| Error::Serialize("the request", e.into()))
}

/// Reads a request file like kwctl (a bare AdmissionRequest, or a whole AdmissionReview) and
/// returns the request the hosts hand the module ([`admission_request`]). A file kwctl refuses
/// is an error naming it.
pub fn read_request(path: &Path) -> Result<Value> {
    let text = read(path)?;
    let value: Value = serde_json::from_str(&text).map_err(|e| syntax(path, "JSON", e.into()))?;
    admission_request(&value).map_err(|e| Error::RequestFileRefused {
        path: path.to_owned(),
        source: Box::new(e),
    })
}

/// Reads settings as YAML or JSON (JSON is YAML), as `--settings-path` does.
pub fn read_settings(path: &Path) -> Result<Value> {
    let text = read(path)?;
    let value: Value = serde_norway::from_str(&text).map_err(|e| syntax(path, "YAML", e.into()))?;
    Ok(if value.is_null() {
        serde_json::json!({})
    } else {
        value
    })
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

fn syntax(
    path: &Path,
    format: &'static str,
    source: Box<dyn std::error::Error + Send + Sync>,
) -> Error {
    Error::Syntax {
        path: path.to_owned(),
        format,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod_request() -> Value {
        json!({
            "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "operation": "CREATE", "userInfo": {"username": "admin"},
            "object": {"kind": "Pod", "metadata": {"name": "p"}}, "oldObject": null,
        })
    }

    #[test]
    fn the_request_is_what_the_hosts_hand_on() {
        let mut request = pod_request();
        request["notAField"] = json!(1);
        let handed = admission_request(&request).unwrap();
        // Unknown fields and null objects are gone; the rest is as given, keys sorted.
        assert_eq!(
            serde_json::to_string(&handed).unwrap(),
            r#"{"kind":{"group":"","kind":"Pod","version":"v1"},"object":{"kind":"Pod","metadata":{"name":"p"}},"operation":"CREATE","resource":{"group":"","resource":"pods","version":"v1"},"uid":"u","userInfo":{"username":"admin"}}"#
        );
        let review = json!({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": pod_request()});
        assert_eq!(admission_request(&review).unwrap(), handed);
    }

    #[test]
    fn what_kwctl_cannot_decode_is_refused_with_its_message() {
        let message = |value: Value| admission_request(&value).unwrap_err().to_string();
        let mut no_group = pod_request();
        no_group["kind"] = json!({"kind": "Pod"});
        assert_eq!(
            message(no_group),
            "cannot build AdmissionRequest object from given input: missing field `group`"
        );
        let mut no_user = pod_request();
        no_user.as_object_mut().unwrap().remove("userInfo");
        assert_eq!(
            message(no_user),
            "cannot build AdmissionRequest object from given input: missing field `userInfo`"
        );
        assert_eq!(message(json!([1])), "Invalid request object");
        assert_eq!(
            message(json!({"kind": "AdmissionReview"})),
            "invalid AdmissionReview object"
        );
    }

    #[test]
    fn the_builder_makes_what_the_api_server_sends() {
        let daemonset = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "hook-image-puller", "namespace": "jhub"}, "spec": {}});
        let request = AdmissionRequest::builder(Operation::Create, &daemonset)
            .unwrap()
            .user("kubernetes-admin", &["system:masters"])
            .to_value()
            .unwrap();
        let kind = json!({"group": "apps", "version": "v1", "kind": "DaemonSet"});
        let resource = json!({"group": "apps", "version": "v1", "resource": "daemonsets"});
        assert_eq!(
            request,
            json!({"uid": "c0ffee00-0000-4000-8000-000000000000",
                "kind": kind, "resource": resource, "requestKind": kind, "requestResource": resource,
                "name": "hook-image-puller", "namespace": "jhub", "operation": "CREATE",
                "userInfo": {"username": "kubernetes-admin",
                    "groups": ["system:masters", "system:authenticated"]},
                "object": daemonset, "dryRun": false})
        );
        // What a host hands on is the same request: kwctl decodes it field for field.
        assert_eq!(admission_request(&request).unwrap(), request);

        // A Pod made from generateName has no name yet; the URL's namespace, a subresource
        // and a server-side dry run; an UPDATE carries the stored object.
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "p-"}});
        let update = AdmissionRequest::builder(Operation::Update, &pod)
            .unwrap()
            .old_object(&json!({"kind": "Pod"}))
            .namespace("jhub")
            .subresource("ephemeralcontainers")
            .dry_run(true)
            .build();
        assert_eq!(update.name, None);
        assert_eq!(update.namespace.as_deref(), Some("jhub"));
        assert_eq!(update.resource.resource, "pods");
        assert_eq!(update.sub_resource.as_deref(), Some("ephemeralcontainers"));
        assert_eq!(
            update.request_sub_resource.as_deref(),
            Some("ephemeralcontainers")
        );
        assert_eq!(update.dry_run, Some(true));
        assert_eq!(update.operation, "UPDATE");
        assert_eq!(update.old_object, Some(json!({"kind": "Pod"})));

        // A DELETE carries only the old object; any kind gets its resource from the kinds
        // table; an object without kind is refused.
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a"}});
        let delete = AdmissionRequest::builder(Operation::Delete, &sa)
            .unwrap()
            .build();
        assert_eq!((delete.object, delete.old_object), (None, Some(sa)));
        assert_eq!(delete.resource.resource, "serviceaccounts");
        let policy = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"});
        let built = AdmissionRequest::builder(Operation::Create, &policy)
            .unwrap()
            .build();
        assert_eq!(
            (built.kind.group.as_str(), built.resource.resource.as_str()),
            ("networking.k8s.io", "networkpolicies")
        );
        assert!(matches!(
            AdmissionRequest::builder(Operation::Create, &json!({})),
            Err(Error::RequestRefused(_))
        ));
    }

    #[test]
    fn the_audit_scanner_names_the_kind_and_no_user() {
        let daemonset = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "hook-image-puller", "namespace": "jhub", "uid": "d5-1"}});
        let request = AdmissionRequest::audit_scanner(&daemonset)
            .unwrap()
            .to_value()
            .unwrap();
        let kind = json!({"group": "apps", "version": "v1", "kind": "DaemonSet"});
        assert_eq!(
            request,
            json!({"uid": "d5-1", "kind": kind, "requestKind": kind,
                "resource": {"group": "apps", "version": "v1", "resource": "DaemonSet"},
                "name": "hook-image-puller", "namespace": "jhub", "operation": "CREATE",
                "userInfo": {}, "object": daemonset})
        );
        // What policy-server hands on is the same request.
        assert_eq!(admission_request(&request).unwrap(), request);
        // A cluster-scoped object without a uid (a rendered one audited as stored): no
        // namespace, an empty uid.
        let class = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": "high", "namespace": ""}});
        let built = AdmissionRequest::audit_scanner(&class).unwrap().build();
        assert_eq!((built.uid.as_str(), built.namespace), ("", None));
        assert_eq!(built.resource.resource, "PriorityClass");
        assert!(matches!(
            AdmissionRequest::audit_scanner(&json!({"kind": ""})),
            Err(Error::RequestRefused(_))
        ));
    }

    #[test]
    fn files_are_read_as_serde_json_reads_them() {
        let dir = std::env::temp_dir().join(format!("policy-host-request-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let base = serde_json::to_string(&pod_request()).unwrap();
        // Escapes decoded, the last of two duplicate keys kept, numbers canonical.
        let spelt = base.replace(
            r#""metadata":{"name":"p"}"#,
            r#""metadata":{"name":"\u0070","name":"q","generation":1E2}"#,
        );
        let read = read_request(&write("spelt.json", &spelt)).unwrap();
        assert_eq!(
            read["object"]["metadata"],
            json!({"generation": 100.0, "name": "q"})
        );
        let refused = [
            base.replace(r#""name":"p""#, r#""name":"\ud800""#),
            base.replace(
                r#""name":"p""#,
                &format!(r#""name":{}1{}"#, "[".repeat(200), "]".repeat(200)),
            ),
            base.replace(r#""name":"p""#, r#""name":1e400"#),
        ];
        for (i, text) in refused.iter().enumerate() {
            let err = read_request(&write(&format!("bad{i}.json"), text)).unwrap_err();
            assert!(format!("{err:#}").contains("is not JSON"), "{err:#}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
