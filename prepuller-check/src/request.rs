//! The AdmissionReview request the module gets: as the API server sends it for a person's or a
//! controller's request, or as the audit scanner sends it for a stored object.

use serde_json::{Value, json};

use policy_host::kinds::resource_of;

/// Who sends the request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Sender<'a> {
    /// The API server, on behalf of this user (a person, or a controller creating children).
    ApiServer(&'a str),
    /// The audit scanner: no user, and the kind where the resource belongs.
    AuditScanner,
}

/// The request for `object` (`old` is an UPDATE's object as stored).
pub(crate) fn request(
    object: &Value,
    old: Option<&Value>,
    operation: &str,
    sender: Sender<'_>,
) -> Value {
    let kind = object["kind"].as_str().unwrap_or_default();
    let (group, version, resource) = resource_of(object);
    let resource = match sender {
        Sender::ApiServer(_) => resource,
        Sender::AuditScanner => kind.to_owned(),
    };
    let mut request = json!({
        "uid": "5eed0000-0000-4000-8000-000000000017",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "name": object["metadata"]["name"],
        "operation": operation,
        "object": object,
    });
    if let Some(ns) = object["metadata"]["namespace"].as_str() {
        request["namespace"] = json!(ns);
    }
    if let Sender::ApiServer(user) = sender {
        request["userInfo"] = json!({"username": user, "groups": ["system:authenticated"]});
        request["dryRun"] = json!(false);
    }
    if let Some(old) = old {
        request["oldObject"] = old.clone();
    }
    request
}
