//! The invariants: what must hold of the policy's answers, checked by the properties on tame
//! cases and by the fuzz targets on anything. Each check panics with what broke (a failing
//! property in proptest, a crash for libFuzzer).
//!
//! The oracle knows the rules only as far as it must to judge an answer: which paths a mutation
//! may touch and to what, which kinds there are and where their fields sit ([`Kind`], its own
//! table), which ServiceAccounts the settings configure (read from the settings JSON here, not
//! through the policy's decoder).

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::grammar::{
    API_CLIENT_SIGNER, Case, ROLE_ACCOUNTS, UNRESERVED_ACCOUNT, admin, covers_token_path, request,
};
use crate::kinds::Kind;
use crate::policy::{Answer, Policy, apply_as_policy_server, outcome};
use crate::spelling::{Mix, add_unknown_fields, remove_unknown_fields, write_shuffled};
use crate::{CONTAINER_LISTS, INJECTED_PREFIX};

/// The words of every rejection for violations (as opposed to a payload the policy cannot read).
pub const VIOLATIONS: &str = "breaks the prepuller ServiceAccount policy";

/// What `mode: reject` says where `mode: mutate` would have fixed the object.
pub const REJECT_MODE_NOTE: &str = "(mode: reject, so nothing was changed)";

/// The envelope with the settings' `mode` set (settings that are not an object become
/// `{"mode": ...}`).
pub fn with_mode(envelope: &Value, mode: &str) -> Value {
    let mut e = envelope.clone();
    match e.get_mut("settings") {
        Some(Value::Object(s)) => {
            s.insert("mode".into(), json!(mode));
        }
        _ => e["settings"] = json!({ "mode": mode }),
    }
    e
}

/// The envelope with another request object.
pub fn with_object(envelope: &Value, object: &Value) -> Value {
    let mut e = envelope.clone();
    e["request"]["object"] = object.clone();
    e
}

/// The envelope with another request, same settings.
pub fn with_request(envelope: &Value, request: Value) -> Value {
    let mut e = envelope.clone();
    e["request"] = request;
    e
}

/// Whether the policy must take the request for an audit: no `userInfo.username`, or an empty
/// one.
fn is_audit(envelope: &Value) -> bool {
    envelope["request"]
        .get("userInfo")
        .and_then(|u| u.get("username"))
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
}

/// The mode the settings ask for, when it is a valid one.
fn mode_of(envelope: &Value) -> Option<&str> {
    match envelope.get("settings") {
        None | Some(Value::Null) => Some("mutate"),
        Some(Value::Object(s)) => match s.get("mode") {
            None => Some("mutate"),
            Some(Value::String(m)) if m == "mutate" || m == "reject" => Some(m),
            _ => None,
        },
        _ => None,
    }
}

/// The request's object as policy-server reads it: parsed from the very bytes the policy got.
fn sent_object(text: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(text)
        .ok()?
        .get_mut("request")?
        .get_mut("object")
        .filter(|o| !o.is_null())
        .map(Value::take)
}

fn at_path<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Map<String, Value>> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_object)
}

fn at_path_mut<'v>(v: &'v mut Value, path: &[&str]) -> Option<&'v mut Map<String, Value>> {
    path.iter()
        .try_fold(v, |v, k| v.get_mut(k))
        .and_then(Value::as_object_mut)
}

fn name_of(v: &Value) -> &str {
    v.get("name").and_then(Value::as_str).unwrap_or_default()
}

/// The names of the pod spec's volumes that `pick` selects, in order.
fn volumes_where(spec: &Map<String, Value>, pick: fn(&Value) -> bool) -> Vec<String> {
    spec.get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| pick(v))
        .map(|v| name_of(v).to_owned())
        .collect()
}

/// The names of the volumes in the map holding the rule fields.
pub fn volume_names(fields: Option<&Map<String, Value>>) -> BTreeSet<String> {
    fields
        .and_then(|s| s.get("volumes"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| name_of(v).to_owned())
        .collect()
}

/// The names of an object's volumes (in its pod spec).
pub fn pod_volumes(kind: Kind, object: &Value) -> BTreeSet<String> {
    volume_names(
        kind.rule_fields_path()
            .and_then(|path| at_path(object, path)),
    )
}

/// Every volume mount of every container list of a pod spec.
fn mounts(spec: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    CONTAINER_LISTS
        .iter()
        .flat_map(|list| {
            spec.get(*list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .flat_map(|c| {
            c.get("volumeMounts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
}

/// Keeps the volume mounts of every container list for which `keep(index, mount)` holds, the
/// index counting every mount of the pod spec in order.
fn retain_mounts(spec: &mut Map<String, Value>, mut keep: impl FnMut(usize, &Value) -> bool) {
    let mut n = 0;
    for list in CONTAINER_LISTS {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(Value::Array(mounts)) = c.get_mut("volumeMounts") {
                mounts.retain(|m| {
                    n += 1;
                    keep(n - 1, m)
                });
            }
        }
    }
}

/// The object without what the rules own: the two ServiceAccount fields, automount, and the
/// volumes named in `removed` with their mounts.
pub fn without_owned(object: &Value, path: &[&str], removed: &BTreeSet<String>) -> Value {
    let mut out = object.clone();
    if let Some(spec) = at_path_mut(&mut out, path) {
        for key in [
            "serviceAccountName",
            "serviceAccount",
            "automountServiceAccountToken",
        ] {
            spec.remove(key);
        }
        if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
            volumes.retain(|v| !removed.contains(name_of(v)));
        }
        retain_mounts(spec, |_, m| !removed.contains(name_of(m)));
    }
    out
}

/// The ServiceAccounts the settings configure, read from the settings JSON: each role's
/// `serviceAccountName` or its default; `awaiter: null` turns the awaiter off.
pub fn configured_accounts(settings: Option<&Value>) -> Vec<String> {
    [
        ("hookPuller", ROLE_ACCOUNTS[0]),
        ("continuousPuller", ROLE_ACCOUNTS[1]),
        ("awaiter", ROLE_ACCOUNTS[2]),
    ]
    .into_iter()
    .filter_map(|(key, default)| match settings.and_then(|s| s.get(key)) {
        Some(Value::Null) if key == "awaiter" => None,
        role => Some(
            role.and_then(|r| r.get("serviceAccountName"))
                .and_then(Value::as_str)
                .unwrap_or(default)
                .to_owned(),
        ),
    })
    .collect()
}

/// A mutation changed only the paths the rules own, each to a value the rules allow: the two
/// ServiceAccount fields (to a configured ServiceAccount), automount (to `false`), and on Pods
/// the removal of injected `kube-api-access-*` volumes with their mounts.
pub fn check_owned_paths(envelope: &Value, original: &Value, fixed: &Value) {
    let gvk = &envelope["request"]["kind"];
    let kind = Kind::judged(
        gvk.get("group").and_then(Value::as_str),
        gvk["kind"].as_str().unwrap_or_default(),
    )
    .unwrap_or_else(|| panic!("a mutation of a kind the policy does not judge: {gvk}"));
    let path = kind
        .rule_fields_path()
        .unwrap_or_else(|| panic!("a judged kind without rule fields: {kind:?}"));
    let (before, after) = (at_path(original, path), at_path(fixed, path));
    let removed: BTreeSet<String> = volume_names(before)
        .difference(&volume_names(after))
        .cloned()
        .collect();
    assert!(
        removed.is_empty()
            || (kind == Kind::Pod && removed.iter().all(|n| n.starts_with(INJECTED_PREFIX))),
        "removed volumes {removed:?} from a {kind:?}"
    );
    assert_eq!(
        without_owned(original, path, &removed),
        without_owned(fixed, path, &removed),
        "the mutation changed a path the rules do not own"
    );
    let accounts = configured_accounts(envelope.get("settings"));
    for key in ["serviceAccountName", "serviceAccount"] {
        let new = after.and_then(|s| s.get(key));
        if new != before.and_then(|s| s.get(key)) {
            let new = new.and_then(Value::as_str).unwrap_or_default();
            assert!(
                accounts.iter().any(|a| a == new),
                "{key} set to {new:?}, not a configured ServiceAccount ({accounts:?})"
            );
        }
    }
    let automount = after.and_then(|s| s.get("automountServiceAccountToken"));
    if automount != before.and_then(|s| s.get("automountServiceAccountToken")) {
        assert_eq!(
            automount,
            Some(&json!(false)),
            "automount set to {automount:?}"
        );
    }
}

/// The ServiceAccounts of the roles whose default selector (`component: ...`) matches the labels
/// the object's Pods will carry; only meaningful under settings that keep the default roles.
pub fn roles(kind: Kind, object: &Value, settings: &Value) -> Vec<&'static str> {
    let components: BTreeSet<&str> = kind
        .pod_labels_path()
        .iter()
        .try_fold(object, |v, k| v.get(k))
        .and_then(|m| m.pointer("/labels/component"))
        .and_then(Value::as_str)
        .into_iter()
        .collect();
    let awaiter_on = settings.get("awaiter") != Some(&Value::Null);
    [
        "hook-image-puller",
        "continuous-image-puller",
        "image-puller",
    ]
    .into_iter()
    .zip(ROLE_ACCOUNTS)
    .filter(|(c, sa)| components.contains(c) && (awaiter_on || *sa != ROLE_ACCOUNTS[2]))
    .map(|(_, sa)| sa)
    .collect()
}

/// Whether the object's controlling owner (the one `controller: true`) is an `apps` Deployment.
fn controlled_by_deployment(object: &Value) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|owners| {
            owners
                .iter()
                .find(|o| o.get("controller") == Some(&json!(true)))
        })
        .is_some_and(|o| {
            o.get("kind") == Some(&json!("Deployment"))
                && o.get("apiVersion")
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.starts_with("apps/"))
        })
}

/// Settings under which the default selectors and ServiceAccounts name the roles: no role
/// configured, the awaiter on by default or turned off with `null`.
pub fn keeps_default_roles(settings: &Value) -> bool {
    match settings {
        Value::Null => true,
        Value::Object(s) => s.iter().all(|(key, value)| match key.as_str() {
            "hookPuller" | "continuousPuller" => false,
            "awaiter" => value.is_null(),
            _ => true,
        }),
        _ => false,
    }
}

/// A projected volume with an API credential: a ServiceAccount token (with an audience or not:
/// rule 3 allows none in a puller), or a pod certificate from the API server's client signer.
fn carries_api_credential(volume: &Value) -> bool {
    has_token_source(volume)
        || projected_sources(volume).any(|source| {
            source.pointer("/podCertificate/signerName") == Some(&json!(API_CLIENT_SIGNER))
        })
}

/// A projected volume's sources; none for any other volume.
fn projected_sources(volume: &Value) -> impl Iterator<Item = &Value> {
    volume
        .pointer("/projected/sources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// One way of removing one violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// Set `serviceAccountName` to the role's account.
    ServiceAccountName,
    /// Set a present `serviceAccount` alias to the role's account.
    DeprecatedServiceAccount,
    /// Set `automountServiceAccountToken: false`.
    AutomountFalse,
    /// Remove one projected token volume and its mounts.
    RemoveTokenVolume,
    /// Remove one mount over the token path.
    RemoveTokenPathMount,
    /// Without a role, replace a reserved ServiceAccount by one of no role.
    StopBorrowing,
}

impl Fix {
    /// Every fix, for properties that try each in turn.
    pub const ALL: [Fix; 6] = [
        Fix::ServiceAccountName,
        Fix::DeprecatedServiceAccount,
        Fix::AutomountFalse,
        Fix::RemoveTokenVolume,
        Fix::RemoveTokenPathMount,
        Fix::StopBorrowing,
    ];
}

fn has_token_source(volume: &Value) -> bool {
    projected_sources(volume).any(|s| s.get("serviceAccountToken").is_some())
}

/// Makes one field compliant for the object's role (or, without a role, stops borrowing a
/// reserved ServiceAccount); `pick` chooses among several candidates. Leaves the object unchanged
/// when that fix does not apply.
pub fn apply_fix(kind: Kind, object: &Value, settings: &Value, fix: Fix, pick: usize) -> Value {
    let roles = roles(kind, object, settings);
    let mut out = object.clone();
    let Some(spec) = kind
        .rule_fields_path()
        .and_then(|path| at_path_mut(&mut out, path))
    else {
        return out;
    };
    match (fix, roles.as_slice()) {
        (Fix::ServiceAccountName, [role]) => {
            spec.insert("serviceAccountName".into(), json!(role));
        }
        (Fix::DeprecatedServiceAccount, [role]) if spec.contains_key("serviceAccount") => {
            spec.insert("serviceAccount".into(), json!(role));
        }
        (Fix::AutomountFalse, _) => {
            spec.insert("automountServiceAccountToken".into(), json!(false));
        }
        (Fix::RemoveTokenVolume, _) => {
            let tokens = volumes_where(spec, has_token_source);
            if !tokens.is_empty() {
                let victim = tokens[pick % tokens.len()].clone();
                if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
                    volumes.retain(|v| name_of(v) != victim);
                }
                retain_mounts(spec, |_, m| name_of(m) != victim);
            }
        }
        (Fix::RemoveTokenPathMount, _) => {
            let candidates: Vec<usize> = mounts(spec)
                .enumerate()
                .filter(|(_, m)| covers_token_path(m["mountPath"].as_str().unwrap_or_default()))
                .map(|(n, _)| n)
                .collect();
            if !candidates.is_empty() {
                let victim = candidates[pick % candidates.len()];
                retain_mounts(spec, |n, _| n != victim);
            }
        }
        (Fix::StopBorrowing, []) => {
            for key in ["serviceAccountName", "serviceAccount"] {
                if spec
                    .get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|sa| ROLE_ACCOUNTS.contains(&sa))
                {
                    spec.insert(key.into(), json!(UNRESERVED_ACCOUNT));
                }
            }
        }
        _ => {}
    }
    out
}

impl Case {
    /// The case's envelope with the settings' `mode` set.
    pub fn in_mode(&self, mode: &str) -> Value {
        with_mode(&self.envelope, mode)
    }
}

impl Policy {
    /// Every invariant of one payload. Any bytes get an answer, never a trap. A host hands the
    /// module only what serde_json wrote from a parsed value, with settings it validated
    /// (docs/security.md, "The input contract"), so the answer's shape, and the relations
    /// between answers ([`Policy::check_relations`]), are checked on that form of the payload:
    /// the bytes parsed and written again, when they parse, under valid settings.
    pub fn check_payload(&self, payload: &[u8]) {
        self.answers(payload);
        let Ok(envelope) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        self.decide_value(&envelope);
        // No host calls `validate` with settings `validate_settings` refused (policy-server
        // does not load such a policy, kwctl stops): the relations hold under the others.
        let settings = envelope.get("settings").unwrap_or(&Value::Null).to_string();
        if envelope.get("request").is_some_and(Value::is_object) && (self.settings_valid)(&settings)
        {
            self.check_relations(&envelope);
        }
    }

    /// The two modes agree ([`Policy::check_modes`]), a mutation is minimal and final
    /// ([`Policy::check_mutation`]), an audit fails what admission fixes
    /// ([`Policy::check_audit`]), and what is admitted is compliant ([`Policy::check_absolute`]).
    pub fn check_relations(&self, envelope: &Value) {
        self.check_modes(envelope);
        self.check_mutation(envelope);
        self.check_audit(envelope);
        self.check_left_to_deployment(envelope);
        self.check_absolute(envelope);
    }

    /// Issue 8: a ReplicaSet whose controlling owner (the one marked `controller: true`; the API
    /// server allows one) is an `apps` Deployment is never mutated nor
    /// rejected for what its template carries (the Deployment controller would fight a changed
    /// template, and stall on a refused one). A payload the policy cannot read (undecodable, no
    /// pod template, invalid settings: nothing the API server would send) may still be refused.
    pub fn check_left_to_deployment(&self, envelope: &Value) {
        let request = &envelope["request"];
        let kind = request["kind"].get("kind").and_then(Value::as_str);
        let group = request["kind"].get("group").and_then(Value::as_str);
        if !controlled_by_deployment(&request["object"])
            || Kind::judged(group, kind.unwrap_or_default()) != Some(Kind::ReplicaSet)
        {
            return;
        }
        let answer = self.decide_value(envelope);
        assert!(
            match &answer {
                Answer::Accept { .. } => true,
                Answer::Mutate { .. } => false,
                Answer::Reject { message, .. } => !message.contains(VIOLATIONS),
            },
            "a ReplicaSet of a Deployment answered {answer:?}"
        );
    }

    /// Issue 8: a request without `userInfo.username` is an audit (Kubewarden's audit scanner
    /// sends none; the API server always names the user). Nothing is admitted through an audit,
    /// so it never mutates, and it passes exactly what admission accepts unchanged: the
    /// PolicyReport says `fail` for every violation, fixable or not. Issue 22 adds the one
    /// exception, in docs/decisions.md: what admission accepts with the warning that its Pods
    /// carry the chart's label for a role no selector matches fails the audit with that
    /// warning as its message (a PolicyReport shows no warnings), unless a Deployment controls
    /// it (the Deployment's own audit fails instead).
    pub fn check_audit(&self, envelope: &Value) {
        let (mut admission, mut audit) = (envelope.clone(), envelope.clone());
        let (Some(by_admin), Some(by_scanner)) = (
            admission["request"].as_object_mut(),
            audit["request"].as_object_mut(),
        ) else {
            return;
        };
        by_admin.insert("userInfo".into(), admin());
        by_scanner.remove("userInfo");
        let admitted = self.decide_value(&admission);
        let audited = self.decide_value(&audit);
        let hidden: Vec<&String> = match &admitted {
            Answer::Accept { warnings } => warnings
                .iter()
                .filter(|w| w.contains(", but match no prepuller role ("))
                .collect(),
            _ => Vec::new(),
        };
        let failed_for_hidden = match &audited {
            Answer::Reject { message, .. } => {
                !hidden.is_empty()
                    && message.contains("is not judged as the prepuller its labels name")
                    && hidden.iter().all(|w| message.contains(w.as_str()))
            }
            _ => false,
        };
        assert!(
            !matches!(audited, Answer::Mutate { .. })
                && (audited.allowed() == matches!(admitted, Answer::Accept { .. })
                    || failed_for_hidden),
            "admission answered {admitted:?}, the audit {audited:?}"
        );
    }

    /// Under `mode: mutate`: `mode: reject` decides alike, except that it rejects what mutate
    /// fixes.
    pub fn check_modes(&self, envelope: &Value) {
        if mode_of(envelope) != Some("mutate") {
            return;
        }
        // Every payload compared is written from this one Value, so a number is spelled the same
        // in each: serde_json's float parsing is not exact, and a Value written, parsed and
        // written again may differ in a last digit (which a message quoting automount shows).
        let text = serde_json::to_vec(envelope).expect("a Value serialises");
        let mutate = self.decide(&text);
        let reject = self.decide_value(&with_mode(envelope, "reject"));
        let object = sent_object(&text);
        match (&mutate, &reject) {
            (Answer::Mutate { .. }, Answer::Reject { message, .. })
                if message.contains(REJECT_MODE_NOTE) => {}
            (Answer::Mutate { .. }, _) => {
                panic!("mutate mode fixed it, reject mode said {reject:?}")
            }
            // An audit fails in both modes what mutate mode would fix at admission, each with
            // its own preface: all but the message agree.
            (Answer::Reject { .. }, Answer::Reject { .. }) if is_audit(envelope) => assert_eq!(
                mutate.warnings(),
                reject.warnings(),
                "an audit warned otherwise in the two modes"
            ),
            _ => assert_eq!(
                outcome(object.as_ref(), &mutate),
                outcome(object.as_ref(), &reject),
                "mutate and reject modes disagree on an object neither changes"
            ),
        }
    }

    /// A mutation, applied as policy-server applies it, touches only the owned paths
    /// ([`check_owned_paths`]), and its object is accepted with no patch and no warning in both
    /// modes.
    pub fn check_mutation(&self, envelope: &Value) {
        let text = serde_json::to_vec(envelope).expect("a Value serialises");
        let first = self.decide(&text);
        let Answer::Mutate { object, .. } = &first else {
            return;
        };
        assert!(!is_audit(envelope), "an audit answered with a mutation");
        let original =
            sent_object(&text).unwrap_or_else(|| panic!("a mutation of a request without object"));
        let fixed = apply_as_policy_server(&original, object);
        check_owned_paths(envelope, &original, &fixed);
        let again = with_object(envelope, &fixed);
        for envelope in [again.clone(), with_mode(&again, "reject")] {
            let answer = self.decide_value(&envelope);
            assert!(
                answer.accept_within(&first),
                "the mutated object is not left alone: {answer:?}\nenvelope: {envelope}"
            );
        }
    }

    /// Absolute, where the other invariants are relational (a rule consistently wrong in the
    /// policy passes "mutate, then judge again"): under settings that keep the default roles,
    /// an admission CREATE that is admitted, as is or as patched, of a workload whose Pods
    /// the default selectors give one role (read by [`roles`], not by the policy) runs as that
    /// role's ServiceAccount; a puller's also has `automountServiceAccountToken: false`, no
    /// volume with an API credential (a token, an API-client pod certificate) and no mount over the token path. A ReplicaSet of a Deployment is left to
    /// the Deployment, so it is not held to this.
    pub fn check_absolute(&self, envelope: &Value) {
        let request = &envelope["request"];
        let gvk = &request["kind"];
        let kind = Kind::judged(
            gvk.get("group").and_then(Value::as_str),
            gvk["kind"].as_str().unwrap_or_default(),
        );
        let (Some(kind), Some(path)) = (kind, kind.and_then(Kind::rule_fields_path)) else {
            return;
        };
        // A ServiceAccount object runs as nothing (its own rule is checked relationally).
        if kind == Kind::ServiceAccount {
            return;
        }
        let settings = envelope.get("settings").unwrap_or(&Value::Null);
        if request["operation"] != "CREATE"
            || !request["subResource"].is_null()
            || is_audit(envelope)
            || !keeps_default_roles(settings)
            || (kind == Kind::ReplicaSet && controlled_by_deployment(&request["object"]))
        {
            return;
        }
        let text = serde_json::to_vec(envelope).expect("a Value serialises");
        let Some(original) = sent_object(&text) else {
            return;
        };
        let admitted = match self.decide(&text) {
            Answer::Accept { .. } => original,
            Answer::Mutate { object, .. } => apply_as_policy_server(&original, &object),
            Answer::Reject { .. } => return,
        };
        let [account] = roles(kind, &admitted, settings)[..] else {
            return;
        };
        let spec = at_path(&admitted, path)
            .unwrap_or_else(|| panic!("admitted a {kind:?} without a pod spec: {admitted}"));
        // The API server's conversion copies the deprecated alias into an empty
        // serviceAccountName (Convert_v1_PodSpec_To_core_PodSpec).
        let field = |key: &str| {
            spec.get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let runs_as = field("serviceAccountName").or_else(|| field("serviceAccount"));
        assert_eq!(
            runs_as,
            Some(account),
            "the {account} role runs as {runs_as:?}"
        );
        if let Some(alias) = field("serviceAccount") {
            assert_eq!(alias, account, "serviceAccount disagrees");
        }
        if account == ROLE_ACCOUNTS[2] {
            return;
        }
        assert_eq!(
            spec.get("automountServiceAccountToken"),
            Some(&json!(false)),
            "an admitted {account} mounts the token by default"
        );
        for volume in spec
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            assert!(
                !carries_api_credential(volume),
                "an admitted {account} has {volume}"
            );
        }
        for mount in mounts(spec) {
            let at = mount["mountPath"].as_str().unwrap_or_default();
            assert!(
                !covers_token_path(at),
                "an admitted {account} mounts {mount} over the token path"
            );
        }
    }

    /// The answer depends on the input, which no relational invariant sees (a policy answering
    /// the same to everything passes them all): a CREATE of a workload the default selectors
    /// give a role is never a clean accept when made to run as `default`, and is admitted once
    /// made compliant (the role's ServiceAccount; for a puller also automount off, no volume
    /// with an API credential, nothing mounted over the token path).
    pub fn check_dependence(&self, case: &Case, mode: &str) {
        let (kind, settings) = (case.kind, case.settings());
        let [account] = roles(kind, case.object(), settings)[..] else {
            return;
        };
        if kind == Kind::ServiceAccount {
            return;
        }
        let Some(path) = kind.rule_fields_path() else {
            return;
        };
        let envelope = case.in_mode(mode);
        let create = |edit: &dyn Fn(&mut Map<String, Value>)| {
            let mut object = case.object().clone();
            if let Some(spec) = at_path_mut(&mut object, path) {
                edit(spec);
            }
            let answer = self.decide_value(&with_request(
                &envelope,
                request(kind, "CREATE", &object, None),
            ));
            (answer, object)
        };
        let (as_default, object) = create(&|spec| {
            spec.insert("serviceAccountName".into(), json!("default"));
            spec.remove("serviceAccount");
        });
        if as_default.undecodable() {
            return;
        }
        assert!(
            !as_default.clean_accept(),
            "the {account} role running as default is accepted: {object}"
        );
        let (compliant, object) = create(&|spec| {
            spec.insert("serviceAccountName".into(), json!(account));
            spec.remove("serviceAccount");
            if account == ROLE_ACCOUNTS[2] {
                return;
            }
            spec.insert("automountServiceAccountToken".into(), json!(false));
            let credentials = volumes_where(spec, carries_api_credential);
            if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
                volumes.retain(|v| !credentials.iter().any(|c| c == name_of(v)));
            }
            retain_mounts(spec, |_, mount| {
                let at = mount["mountPath"].as_str().unwrap_or_default();
                !credentials.iter().any(|c| c == name_of(mount)) && !covers_token_path(at)
            });
        });
        assert!(
            compliant.allowed(),
            "the {account} role made compliant is refused: {compliant:?}\n{object}"
        );
    }

    /// The same request with fields no rule reads added means the same to the API server, and
    /// a mutation keeps the added fields where they were. Written with its keys shuffled and
    /// some of them `\u`-escaped, which no host sends, it is answered without a trap.
    pub fn check_spelling_invariance(&self, envelope: &Value, seed: u64) {
        let plain_text = serde_json::to_vec(envelope).expect("a Value serialises");
        let plain = self.decide(&plain_text);
        let mut noisy = envelope.clone();
        add_unknown_fields(&mut noisy, seed);
        let mut respelled = String::new();
        write_shuffled(&noisy, &mut Mix(seed), &mut respelled);
        self.answers(respelled.as_bytes());
        let text = serde_json::to_vec(&noisy).expect("a Value serialises");
        let spelled = self.decide(&text);
        let noisy_object = sent_object(&text);
        let mut expected = outcome(sent_object(&plain_text).as_ref(), &plain);
        let mut got = outcome(noisy_object.as_ref(), &spelled);
        if let (Some(mutated), Some(original)) = (&got.1, &noisy_object) {
            check_owned_paths(&noisy, original, mutated);
        }
        // On both sides: the grammar's own strings may start with the marker too.
        for mutated in [&mut got.1, &mut expected.1].into_iter().flatten() {
            remove_unknown_fields(mutated);
        }
        assert_eq!(
            got, expected,
            "unknown fields changed the outcome:\n{noisy}"
        );
    }

    /// Removing one violation never turns an admitted object into a rejected one, nor a clean
    /// accept into anything else. For cases under settings that keep the default roles.
    pub fn check_monotone(&self, case: &Case, mode: &str, fix: Fix, pick: usize) {
        let envelope = case.in_mode(mode);
        let before = self.decide_value(&envelope);
        if !before.allowed() {
            return;
        }
        let fixed = apply_fix(case.kind, case.object(), case.settings(), fix, pick);
        let after = self.decide_value(&with_object(&envelope, &fixed));
        assert!(after.allowed(), "{fix:?} turned {before:?} into {after:?}");
        if before.clean_accept() {
            assert!(
                after.clean_accept(),
                "{fix:?} turned a clean accept into {after:?}"
            );
        }
    }

    /// UPDATEs: controllers with mutable templates are judged in full, like a CREATE; an UPDATE
    /// of a Pod or a Job that changes nothing is never rejected or mutated; an object the API
    /// server records as terminating is accepted; a CREATE's own deletionTimestamp changes
    /// nothing. `other` is any object, the stored one of the UPDATE.
    pub fn check_updates(&self, case: &Case, other: &Value, mode: &str) {
        let (kind, object) = (case.kind, case.object());
        let envelope = case.in_mode(mode);
        let update = |old: &Value| {
            self.decide_value(&with_request(
                &envelope,
                request(kind, "UPDATE", object, Some(old)),
            ))
        };
        let create = self.decide_value(&envelope);
        let malformed = create.undecodable();
        // Issue 8: an UPDATE that leaves the pod template as it was is never rejected or mutated
        // for what it carries over, whatever the kind.
        let unchanged = update(object);
        assert!(
            matches!(unchanged, Answer::Accept { .. }) || malformed,
            "unchanged UPDATE: {unchanged:?}"
        );
        // One that changes a controller's pod spec is judged in full, like a CREATE.
        let spec = |o: &Value| {
            kind.rule_fields_path()
                .and_then(|path| at_path(o, path))
                .cloned()
        };
        if !kind.pod_spec_immutable() && spec(other) != spec(object) {
            assert_eq!(update(other), create, "an UPDATE judged unlike a CREATE");
        }
        let mut stored = object.clone();
        stored["metadata"]["deletionTimestamp"] = json!("2026-11-26T10:00:00Z");
        let finalizing = update(&stored);
        assert!(
            finalizing.accept_within(&create) || malformed,
            "terminating: {finalizing:?}"
        );
        let expected = outcome(Some(object), &create);
        let mut got = outcome(
            Some(&stored),
            &self.decide_value(&with_object(&envelope, &stored)),
        );
        if let Some(Value::Object(meta)) = got.1.as_mut().and_then(|o| o.get_mut("metadata")) {
            assert!(
                meta.remove("deletionTimestamp").is_some(),
                "the patch dropped the deletionTimestamp"
            );
        }
        assert_eq!(
            got, expected,
            "a CREATE's deletionTimestamp changed the decision"
        );
    }
}
