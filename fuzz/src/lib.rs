//! What the fuzz targets check beyond "no panic", and the grammar of the structure-aware target.
//!
//! Every payload goes through the policy's own waPC entry points (`validate`,
//! `validate_settings`), natively. Invariants, each a libFuzzer crash when broken:
//!
//! - the answer always parses as the SDK's `ValidationResponse` (or settings response); a
//!   rejection has a message and no object, a mutation has warnings;
//! - a mutation, applied as policy-server applies it (`json_patch::diff` then `json_patch::patch`),
//!   gives an object that is accepted with no patch and no warning, in `mode: mutate` and in
//!   `mode: reject`;
//! - a mutation touches only the paths the rules own: `serviceAccountName` and `serviceAccount`
//!   (set to a configured ServiceAccount), `automountServiceAccountToken` (set to `false`), and
//!   on Pods the injected `kube-api-access-*` volume with its mounts;
//! - `mode: reject` decides like `mode: mutate` but rejects what mutate fixes;
//! - the structure-aware target also checks that key order and unknown fields change nothing.

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use prepuller_serviceaccount_policy::request::ResourceKind;
use prepuller_serviceaccount_policy::settings::Settings;
use serde_json::{Map, Value, json};

pub const TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const INJECTED_PREFIX: &str = "kube-api-access-";
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// `validate` through the guest's entry point, its answer checked and decoded.
pub fn validate(payload: &[u8]) -> ValidationResponse {
    let bytes = prepuller_serviceaccount_policy::validate(payload)
        .unwrap_or_else(|e| panic!("validate returned a waPC error: {e}"));
    let r: ValidationResponse = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "validate answered something else than a ValidationResponse ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    if r.accepted {
        assert!(r.message.is_none(), "an accept with a message: {r:?}");
    } else {
        assert!(
            r.message.as_deref().is_some_and(|m| !m.is_empty()),
            "a rejection without a message: {r:?}"
        );
        assert!(
            r.mutated_object.is_none() && r.warnings.is_none(),
            "a rejection with an object or warnings: {r:?}"
        );
    }
    if r.mutated_object.is_some() {
        assert!(
            r.warnings.as_ref().is_some_and(|w| !w.is_empty()),
            "a mutation without warnings: {r:?}"
        );
    }
    r
}

/// `validate_settings` through the guest's entry point, its answer checked and decoded.
pub fn validate_settings(payload: &[u8]) -> SettingsValidationResponse {
    let bytes = prepuller_serviceaccount_policy::validate_settings(payload)
        .unwrap_or_else(|e| panic!("validate_settings returned a waPC error: {e}"));
    let r: SettingsValidationResponse = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "validate_settings answered something else ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
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
        text.is_some_and(|t| Settings::from_json(t).is_ok()),
        "validate_settings disagrees with Settings::from_json"
    );
    r
}

/// What an answer means for the API server: allowed, the object after the patch, the warnings,
/// the message (without the position of a decoding error, which depends on the spelling).
pub type Outcome = (bool, Option<Value>, Vec<String>, String);

pub fn outcome(original: Option<&Value>, r: &ValidationResponse) -> Outcome {
    let patched = r.mutated_object.as_ref().map(|m| {
        let original = original.unwrap_or_else(|| panic!("a mutation of a request without object"));
        apply_as_policy_server(original, m)
    });
    let message = normalise_message(r.message.as_deref().unwrap_or_default());
    (
        r.accepted,
        patched,
        r.warnings.clone().unwrap_or_default(),
        message,
    )
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

/// The object after policy-server turned the mutated object into a JSON patch and the API server
/// applied it.
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

/// The full check of one request payload: the answer itself, and, when the payload is JSON, the
/// relations between answers (idempotence, owned paths, the two modes) on its normalised text.
pub fn check_payload(payload: &[u8]) {
    validate(payload);
    let Ok(envelope) = serde_json::from_slice::<Value>(payload) else {
        return;
    };
    if envelope.get("request").is_some_and(Value::is_object) {
        check_relations(&envelope);
    }
}

fn payload_with(envelope: &Value, object: Option<&Value>, mode: Option<&str>) -> Vec<u8> {
    let mut e = envelope.clone();
    if let Some(object) = object {
        e["request"]["object"] = object.clone();
    }
    if let Some(mode) = mode {
        match e.get_mut("settings") {
            Some(Value::Object(s)) => {
                s.insert("mode".into(), json!(mode));
            }
            _ => e["settings"] = json!({"mode": mode}),
        }
    }
    serde_json::to_vec(&e).expect("a Value serialises")
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

fn check_relations(envelope: &Value) {
    // Every payload compared below is written from this one Value, so the same number is spelled
    // the same in each: serde_json's float parsing is not exact, and a Value written, parsed and
    // written again may differ in a last digit (which a message quoting automount would show).
    let text = serde_json::to_vec(envelope).expect("a Value serialises");
    let first = validate(&text);
    // The original object as policy-server reads it: parsed from the very bytes the policy got.
    let sent = serde_json::from_slice::<Value>(&text).expect("its own text parses");
    let object = sent["request"].get("object").filter(|o| !o.is_null());

    // The two modes.
    if mode_of(envelope) == Some("mutate") {
        let reject = validate(&payload_with(envelope, None, Some("reject")));
        match (&first, &reject) {
            (a, b) if a.mutated_object.is_some() => assert!(
                !b.accepted
                    && b.message
                        .as_deref()
                        .is_some_and(|m| { m.contains("(mode: reject, so nothing was changed)") }),
                "mutate mode fixed it, reject mode said {b:?}"
            ),
            // The object holds text policy-server could not parse (a lone surrogate, a number
            // beyond a float): harmless in an accept or a rejection, which never send it back,
            // so the policy checks for it only before echoing it in a mutation.
            (a, b)
                if !a.accepted
                    && !b.accepted
                    && a.message.as_deref().is_some_and(|m| {
                        m.starts_with("cannot decode the")
                            && [
                                "a lone surrogate",
                                "does not fit a 64-bit float",
                                "an invalid \\u escape",
                            ]
                            .iter()
                            .any(|f| m.contains(f))
                    }) => {}
            (a, b) => assert_eq!(
                outcome(object, a),
                outcome(object, b),
                "mutate and reject modes disagree on an object neither changes"
            ),
        }
    }

    let Some(mutated) = &first.mutated_object else {
        return;
    };
    let original = object.unwrap_or_else(|| panic!("a mutation of a request without object"));
    let fixed = apply_as_policy_server(original, mutated);
    check_owned_paths(envelope, original, &fixed);

    // Idempotence, and the fixed object passes reject mode.
    for mode in [None, Some("reject")] {
        let again = validate(&payload_with(envelope, Some(&fixed), mode));
        assert!(
            again.accepted && again.mutated_object.is_none() && again.warnings.is_none(),
            "the mutated object is not left alone (mode {mode:?}): {again:?}\nobject: {fixed}"
        );
    }
}

fn kind_of(envelope: &Value) -> ResourceKind {
    let gvk = &envelope["request"]["kind"];
    let kind = gvk["kind"].as_str().expect("a mutated request has a kind");
    ResourceKind::lookup(gvk.get("group").and_then(Value::as_str), kind)
        .expect("a mutated request has a judged kind")
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

fn volume_names(spec: Option<&Map<String, Value>>) -> BTreeSet<String> {
    spec.and_then(|s| s.get("volumes"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| name_of(v).to_owned())
        .collect()
}

fn without_owned(object: &Value, path: &[&str], removed: &BTreeSet<String>) -> Value {
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
        for list in CONTAINER_LISTS {
            for c in spec
                .get_mut(list)
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(Value::Array(mounts)) = c.get_mut("volumeMounts") {
                    mounts.retain(|m| !removed.contains(name_of(m)));
                }
            }
        }
    }
    out
}

/// Only the owned paths changed, each to a value the rules allow.
fn check_owned_paths(envelope: &Value, original: &Value, fixed: &Value) {
    let kind = kind_of(envelope);
    let path = kind.pod_spec_path();
    let (before, after) = (at_path(original, path), at_path(fixed, path));
    let removed: BTreeSet<String> = volume_names(before)
        .difference(&volume_names(after))
        .cloned()
        .collect();
    assert!(
        removed.is_empty()
            || (kind == ResourceKind::Pod
                && removed.iter().all(|n| n.starts_with(INJECTED_PREFIX))),
        "removed volumes {removed:?} from a {kind:?}"
    );
    assert_eq!(
        without_owned(original, path, &removed),
        without_owned(fixed, path, &removed),
        "the mutation changed a path the rules do not own"
    );
    let settings_text = envelope
        .get("settings")
        .map(Value::to_string)
        .unwrap_or_default();
    let settings = Settings::from_json(&settings_text).expect("a mutation under valid settings");
    for key in ["serviceAccountName", "serviceAccount"] {
        let new = after.and_then(|s| s.get(key));
        if new != before.and_then(|s| s.get(key)) {
            let new = new.and_then(Value::as_str).unwrap_or_default();
            assert!(
                settings.roles().any(|r| r.service_account_name == new),
                "{key} set to {new:?}, not a configured ServiceAccount"
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

// --- key order and unknown fields ---------------------------------------------------------------

/// splitmix64, for shuffling keys and placing unknown fields from one seed.
pub struct Mix(pub u64);

impl Mix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Adds fields no rule reads (never to label, annotation or matchLabels maps, nor inside an
/// automount value, which messages quote, nor to the settings, which refuse unknown keys).
pub fn add_unknown_fields(v: &mut Value, mix: &mut Mix, parent_key: &str) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k != "settings" {
                    add_unknown_fields(child, mix, k);
                }
            }
            if !matches!(
                parent_key,
                "labels" | "annotations" | "matchLabels" | "automountServiceAccountToken"
            ) && mix.below(3) == 0
            {
                let junk = [
                    json!(null),
                    json!(false),
                    json!(-1.5e300),
                    json!("serviceAccountName"),
                    json!([{"serviceAccountToken": {}}, "x"]),
                    json!({"automountServiceAccountToken": true, "mountPath": TOKEN_PATH}),
                ];
                let value = junk[mix.below(junk.len())].clone();
                map.insert(format!("x-unknown-{}", mix.below(1000)), value);
            }
        }
        Value::Array(items) => {
            for item in items {
                add_unknown_fields(item, mix, "");
            }
        }
        _ => {}
    }
}

pub fn remove_unknown_fields(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with("x-unknown-"));
            map.values_mut().for_each(remove_unknown_fields);
        }
        Value::Array(items) => items.iter_mut().for_each(remove_unknown_fields),
        _ => {}
    }
}

/// JSON text with every object's keys shuffled, and some keys spelled with `\u` escapes.
pub fn write_shuffled(v: &Value, mix: &mut Mix, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            for i in (1..entries.len()).rev() {
                entries.swap(i, mix.below(i + 1));
            }
            out.push('{');
            for (i, (k, child)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if mix.below(4) == 0 && k.is_ascii() {
                    out.push('"');
                    for c in k.chars() {
                        out.push_str(&format!("\\u{:04x}", c as u32));
                    }
                    out.push('"');
                } else {
                    out.push_str(&Value::String(k.clone()).to_string());
                }
                out.push(':');
                write_shuffled(child, mix, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_shuffled(item, mix, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The same request spelled differently (keys shuffled and escaped, fields no rule reads added)
/// means the same to the API server.
pub fn check_spelling_invariance(envelope: &Value, seed: u64) {
    let plain_text = serde_json::to_vec(envelope).expect("serialises");
    let plain = validate(&plain_text);
    let mut mix = Mix(seed);
    let mut noisy = envelope.clone();
    add_unknown_fields(&mut noisy, &mut mix, "");
    let mut text = String::new();
    write_shuffled(&noisy, &mut mix, &mut text);
    let spelled = validate(text.as_bytes());
    // The originals as policy-server reads them, from the bytes the policy got.
    let (Ok(envelope), Ok(noisy)) = (
        serde_json::from_slice::<Value>(&plain_text),
        serde_json::from_str::<Value>(&text),
    ) else {
        return;
    };
    let (envelope, noisy) = (&envelope, &noisy);
    let object = |e: &Value| e["request"].get("object").filter(|o| !o.is_null()).cloned();
    let mut expected = outcome(object(envelope).as_ref(), &plain);
    let mut got = outcome(object(noisy).as_ref(), &spelled);
    // On both sides: the grammar's own strings may start with the marker too.
    for mutated in [&mut got.1, &mut expected.1].into_iter().flatten() {
        remove_unknown_fields(mutated);
    }
    assert_eq!(got, expected, "spelling changed the outcome:\n{text}");
}

// --- the grammar of the structure-aware target ---------------------------------------------------

#[derive(Debug, Arbitrary)]
pub struct Case {
    kind: Kind,
    group: Group,
    operation: Operation,
    sub_resource: SubResource,
    settings: SettingsModel,
    object: Shape<Object>,
    old: Option<Object>,
    deletion: Deletion,
    pub seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
enum Kind {
    Pod,
    DaemonSet,
    Deployment,
    StatefulSet,
    ReplicaSet,
    ReplicationController,
    Job,
    CronJob,
    ServiceAccount,
    ConfigMap,
}

impl Kind {
    fn gvk(self) -> (&'static str, &'static str) {
        match self {
            Kind::Pod => ("", "Pod"),
            Kind::DaemonSet => ("apps", "DaemonSet"),
            Kind::Deployment => ("apps", "Deployment"),
            Kind::StatefulSet => ("apps", "StatefulSet"),
            Kind::ReplicaSet => ("apps", "ReplicaSet"),
            Kind::ReplicationController => ("", "ReplicationController"),
            Kind::Job => ("batch", "Job"),
            Kind::CronJob => ("batch", "CronJob"),
            Kind::ServiceAccount => ("", "ServiceAccount"),
            Kind::ConfigMap => ("", "ConfigMap"),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Group {
    Right,
    Missing,
    Empty,
    Other,
}

#[derive(Debug, Arbitrary)]
enum Operation {
    Create,
    Update,
    Delete,
    Connect,
    Missing,
    Lowercase,
}

#[derive(Debug, Arbitrary)]
enum SubResource {
    None,
    EphemeralContainers,
    Status,
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Deletion {
    None,
    Object,
    Old,
    Both,
}

/// Interesting strings, and any string.
#[derive(Debug, Arbitrary)]
enum Name {
    Component,
    App,
    HookPuller,
    ContinuousPuller,
    ImagePuller,
    Awaiter,
    Default,
    Myhub,
    Empty,
    Any(String),
}

impl Name {
    fn text(&self) -> &str {
        match self {
            Name::Component => "component",
            Name::App => "app",
            Name::HookPuller => "hook-image-puller",
            Name::ContinuousPuller => "continuous-image-puller",
            Name::ImagePuller => "image-puller",
            Name::Awaiter => "hook-image-awaiter",
            Name::Default => "default",
            Name::Myhub => "myhub-hook-image-puller",
            Name::Empty => "",
            Name::Any(s) => s,
        }
    }

    fn json(&self) -> Value {
        json!(self.text())
    }
}

/// A value of the wrong type, or none.
#[derive(Debug, Arbitrary)]
enum Junk {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    EmptyArray,
    EmptyObject,
    Array(Vec<i8>),
    Object(String, i8),
}

impl Junk {
    fn json(&self) -> Value {
        match self {
            Junk::Null => Value::Null,
            Junk::Bool(b) => json!(b),
            Junk::Int(i) => json!(i),
            Junk::Float(f) => json!(f),
            Junk::Str(s) => json!(s),
            Junk::EmptyArray => json!([]),
            Junk::EmptyObject => json!({}),
            Junk::Array(v) => json!(v),
            Junk::Object(k, v) => json!({ k: v }),
        }
    }
}

/// A field: absent, well-typed, or junk.
#[derive(Debug, Arbitrary)]
enum Field<T> {
    Absent,
    Present(T),
    Junk(Junk),
}

impl<T> Field<T> {
    fn put(&self, map: &mut Map<String, Value>, key: &str, f: impl FnOnce(&T) -> Value) {
        match self {
            Field::Absent => {}
            Field::Present(t) => {
                map.insert(key.into(), f(t));
            }
            Field::Junk(j) => {
                map.insert(key.into(), j.json());
            }
        }
    }
}

/// A part of the object that may be missing or the wrong type.
#[derive(Debug, Arbitrary)]
enum Shape<T> {
    Present(T),
    Missing,
    Junk(Junk),
}

#[derive(Debug, Arbitrary)]
struct SettingsModel {
    absent: bool,
    mode: Field<Mode>,
    hook: Option<RoleModel>,
    continuous: Option<RoleModel>,
    awaiter: Field<RoleModel>,
    reserve: Field<bool>,
    service_account_objects: Field<bool>,
    unknown: Option<(Name, Junk)>,
}

#[derive(Debug, Arbitrary)]
enum Mode {
    Mutate,
    Reject,
    Other(Name),
}

#[derive(Debug, Arbitrary)]
struct RoleModel {
    service_account_name: Field<Name>,
    selector: Field<Selector>,
}

#[derive(Debug, Arbitrary)]
struct Selector {
    match_labels: Option<Vec<(Name, Name)>>,
    match_expressions: Option<Vec<Requirement>>,
}

/// key, operator, values.
type Requirement = (Name, SelectorOp, Option<Vec<Name>>);

#[derive(Debug, Arbitrary)]
enum SelectorOp {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Other(Name),
}

impl RoleModel {
    fn json(&self) -> Value {
        let mut m = Map::new();
        self.service_account_name
            .put(&mut m, "serviceAccountName", Name::json);
        self.selector.put(&mut m, "selector", |s| {
            let mut sel = Map::new();
            if let Some(labels) = &s.match_labels {
                sel.insert("matchLabels".into(), labels_json(labels));
            }
            if let Some(exprs) = &s.match_expressions {
                let exprs: Vec<Value> = exprs
                    .iter()
                    .map(|(key, op, values)| {
                        let op = match op {
                            SelectorOp::In => "In",
                            SelectorOp::NotIn => "NotIn",
                            SelectorOp::Exists => "Exists",
                            SelectorOp::DoesNotExist => "DoesNotExist",
                            SelectorOp::Other(n) => n.text(),
                        };
                        let mut e = json!({"key": key.text(), "operator": op});
                        if let Some(values) = values {
                            e["values"] = values.iter().map(Name::json).collect();
                        }
                        e
                    })
                    .collect();
                sel.insert("matchExpressions".into(), Value::Array(exprs));
            }
            Value::Object(sel)
        });
        Value::Object(m)
    }
}

impl SettingsModel {
    fn json(&self) -> Option<Value> {
        if self.absent {
            return None;
        }
        let mut m = Map::new();
        self.mode.put(&mut m, "mode", |mode| match mode {
            Mode::Mutate => json!("mutate"),
            Mode::Reject => json!("reject"),
            Mode::Other(n) => n.json(),
        });
        if let Some(r) = &self.hook {
            m.insert("hookPuller".into(), r.json());
        }
        if let Some(r) = &self.continuous {
            m.insert("continuousPuller".into(), r.json());
        }
        self.awaiter.put(&mut m, "awaiter", RoleModel::json);
        self.reserve
            .put(&mut m, "reserveServiceAccounts", |b| json!(b));
        self.service_account_objects
            .put(&mut m, "serviceAccountObjects", |b| json!(b));
        if let Some((k, v)) = &self.unknown {
            m.insert(k.text().to_owned(), v.json());
        }
        Some(Value::Object(m))
    }
}

fn labels_json(labels: &[(Name, Name)]) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.text().to_owned(), v.json()))
            .collect(),
    )
}

#[derive(Debug, Arbitrary)]
struct Object {
    kind_field: KindField,
    name: Option<Name>,
    labels: Field<Vec<(Name, Name)>>,
    template_labels: Field<Vec<(Name, Name)>>,
    job_labels: Field<Vec<(Name, Name)>>,
    template: Shape<()>,
    spec: Shape<Spec>,
    automount: Field<Automount>,
    unknown: Option<(Name, Junk)>,
}

#[derive(Debug, Arbitrary)]
enum KindField {
    Right,
    Missing,
    Other(Kind),
}

#[derive(Debug, Arbitrary)]
struct Spec {
    service_account_name: Field<Name>,
    service_account: Field<Name>,
    automount: Field<Automount>,
    volumes: Field<Vec<Volume>>,
    containers: Field<Vec<Container>>,
    init_containers: Field<Vec<Container>>,
    ephemeral_containers: Field<Vec<Container>>,
    /// The ServiceAccount admission plugin's volume, injected into every container.
    injected: Option<u16>,
}

#[derive(Debug, Arbitrary)]
enum Automount {
    True,
    False,
    Null,
    StringFalse,
    Zero,
}

#[derive(Debug, Arbitrary)]
enum VolumeName {
    Injected(u8),
    Creds,
    Data,
    LegacyToken,
    Any(String),
}

impl VolumeName {
    fn text(&self) -> String {
        match self {
            VolumeName::Injected(n) => format!("{INJECTED_PREFIX}{:05}", n % 4),
            VolumeName::Creds => "creds".into(),
            VolumeName::Data => "data".into(),
            VolumeName::LegacyToken => "legacy-token".into(),
            VolumeName::Any(s) => s.clone(),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Volume {
    name: Field<VolumeName>,
    source: Source,
}

#[derive(Debug, Arbitrary)]
enum Source {
    /// Exactly what the ServiceAccount admission plugin writes.
    Injected,
    Projected(Field<Vec<ProjectionSource>>),
    Secret,
    ConfigMap,
    EmptyDir,
    Junk(Junk),
}

#[derive(Debug, Arbitrary)]
enum ProjectionSource {
    Token(Field<Name>),
    RootCa,
    ConfigMap(Name),
    DownwardApi,
    Secret,
    Empty,
    TokenAndConfigMap,
    Junk(Junk),
}

#[derive(Debug, Arbitrary)]
struct Container {
    name: Option<Name>,
    mounts: Field<Vec<Mount>>,
}

#[derive(Debug, Arbitrary)]
struct Mount {
    volume: Field<VolumeName>,
    path: MountPath,
    sub_path: Option<Name>,
    sub_path_expr: Option<Name>,
}

#[derive(Debug, Arbitrary)]
enum MountPath {
    Token,
    TokenSlash,
    TokenFile,
    Parent,
    Root,
    RunAlias,
    DoubleSlash,
    DotDot,
    Dot,
    Relative,
    Near,
    Data,
    Any(String),
    Junk(Junk),
}

impl MountPath {
    fn json(&self) -> Value {
        json!(match self {
            MountPath::Token => TOKEN_PATH,
            MountPath::TokenSlash => "/var/run/secrets/kubernetes.io/serviceaccount/",
            MountPath::TokenFile => "/var/run/secrets/kubernetes.io/serviceaccount/token",
            MountPath::Parent => "/var/run/secrets",
            MountPath::Root => "/",
            MountPath::RunAlias => "/run/secrets/kubernetes.io/serviceaccount",
            MountPath::DoubleSlash => "//var/run/secrets//kubernetes.io/serviceaccount",
            MountPath::DotDot => "/var/run/secrets/kubernetes.io/x/../serviceaccount",
            MountPath::Dot => "/var/run/./secrets/kubernetes.io/serviceaccount/.",
            MountPath::Relative => "var/run/secrets/kubernetes.io/serviceaccount",
            MountPath::Near => "/var/run/secrets/kubernetes.io/serviceaccounts",
            MountPath::Data => "/data",
            MountPath::Any(s) => s,
            MountPath::Junk(j) => return j.json(),
        })
    }
}

fn injected_volume(name: &str) -> Value {
    json!({"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}
    ]}})
}

impl Volume {
    fn json(&self) -> Value {
        let mut m = Map::new();
        self.name.put(&mut m, "name", |n| json!(n.text()));
        let name = m
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match &self.source {
            Source::Injected => {
                if let Value::Object(v) = injected_volume(&name) {
                    m.extend(v.into_iter().filter(|(k, _)| k != "name"));
                }
            }
            Source::Projected(sources) => {
                let mut p = Map::new();
                sources.put(&mut p, "sources", |sources| {
                    sources
                        .iter()
                        .map(|s| match s {
                            ProjectionSource::Token(audience) => {
                                let mut t = Map::new();
                                t.insert("path".into(), json!("token"));
                                audience.put(&mut t, "audience", Name::json);
                                json!({"serviceAccountToken": t})
                            }
                            ProjectionSource::RootCa => {
                                json!({"configMap": {"name": "kube-root-ca.crt"}})
                            }
                            ProjectionSource::ConfigMap(n) => json!({"configMap": {"name": n.text()}}),
                            ProjectionSource::DownwardApi => json!({"downwardAPI": {"items": []}}),
                            ProjectionSource::Secret => json!({"secret": {"name": "s"}}),
                            ProjectionSource::Empty => json!({}),
                            ProjectionSource::TokenAndConfigMap => {
                                json!({"serviceAccountToken": {}, "configMap": {"name": "kube-root-ca.crt"}})
                            }
                            ProjectionSource::Junk(j) => j.json(),
                        })
                        .collect()
                });
                m.insert("projected".into(), Value::Object(p));
            }
            Source::Secret => {
                m.insert(
                    "secret".into(),
                    json!({"secretName": "hook-image-puller-token-x"}),
                );
            }
            Source::ConfigMap => {
                m.insert("configMap".into(), json!({"name": "settings"}));
            }
            Source::EmptyDir => {
                m.insert("emptyDir".into(), json!({}));
            }
            Source::Junk(j) => return j.json(),
        }
        Value::Object(m)
    }
}

fn containers_json(list: &[Container], prefix: &str) -> Value {
    list.iter()
        .enumerate()
        .map(|(i, c)| {
            let mut m = Map::new();
            m.insert(
                "name".into(),
                c.name
                    .as_ref()
                    .map(Name::json)
                    .unwrap_or_else(|| json!(format!("{prefix}{i}"))),
            );
            m.insert("image".into(), json!("busybox"));
            c.mounts.put(&mut m, "volumeMounts", |mounts| {
                mounts
                    .iter()
                    .map(|mt| {
                        let mut m = Map::new();
                        mt.volume.put(&mut m, "name", |n| json!(n.text()));
                        m.insert("mountPath".into(), mt.path.json());
                        if let Some(s) = &mt.sub_path {
                            m.insert("subPath".into(), s.json());
                        }
                        if let Some(s) = &mt.sub_path_expr {
                            m.insert("subPathExpr".into(), s.json());
                        }
                        Value::Object(m)
                    })
                    .collect()
            });
            Value::Object(m)
        })
        .collect()
}

fn automount_json(a: &Automount) -> Value {
    match a {
        Automount::True => json!(true),
        Automount::False => json!(false),
        Automount::Null => Value::Null,
        Automount::StringFalse => json!("false"),
        Automount::Zero => json!(0),
    }
}

impl Spec {
    fn json(&self, pod: bool) -> Value {
        let mut m = Map::new();
        self.service_account_name
            .put(&mut m, "serviceAccountName", Name::json);
        self.service_account
            .put(&mut m, "serviceAccount", Name::json);
        self.automount
            .put(&mut m, "automountServiceAccountToken", automount_json);
        self.volumes
            .put(&mut m, "volumes", |v| v.iter().map(Volume::json).collect());
        self.containers
            .put(&mut m, "containers", |c| containers_json(c, "c"));
        self.init_containers
            .put(&mut m, "initContainers", |c| containers_json(c, "i"));
        self.ephemeral_containers
            .put(&mut m, "ephemeralContainers", |c| containers_json(c, "e"));
        if let (Some(suffix), true) = (self.injected, pod) {
            let name = format!("{INJECTED_PREFIX}{suffix:05}");
            if let Some(Value::Array(volumes)) =
                Some(m.entry("volumes").or_insert_with(|| json!([])))
            {
                volumes.push(injected_volume(&name));
            }
            for list in ["initContainers", "containers"] {
                for c in m
                    .get_mut(list)
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(c) = c.as_object_mut()
                        && let Value::Array(mounts) =
                            c.entry("volumeMounts").or_insert_with(|| json!([]))
                    {
                        mounts
                            .push(json!({"name": name, "mountPath": TOKEN_PATH, "readOnly": true}));
                    }
                }
            }
        }
        Value::Object(m)
    }
}

fn shape_json<T>(shape: &Shape<T>, f: impl FnOnce(&T) -> Value) -> Option<Value> {
    match shape {
        Shape::Present(t) => Some(f(t)),
        Shape::Missing => None,
        Shape::Junk(j) => Some(j.json()),
    }
}

impl Object {
    fn json(&self, kind: Kind) -> Value {
        let mut meta = Map::new();
        if let Some(n) = &self.name {
            meta.insert("name".into(), n.json());
        }
        meta.insert("namespace".into(), json!("jhub"));
        self.labels.put(&mut meta, "labels", |l| labels_json(l));
        let mut m = Map::new();
        m.insert("apiVersion".into(), json!("v1"));
        match &self.kind_field {
            KindField::Right => {
                m.insert("kind".into(), json!(kind.gvk().1));
            }
            KindField::Missing => {}
            KindField::Other(k) => {
                m.insert("kind".into(), json!(k.gvk().1));
            }
        }
        m.insert("metadata".into(), Value::Object(meta));
        let template = |spec: Option<Value>| {
            let mut t = Map::new();
            let mut tm = Map::new();
            self.template_labels
                .put(&mut tm, "labels", |l| labels_json(l));
            t.insert("metadata".into(), Value::Object(tm));
            if let Some(spec) = spec {
                t.insert("spec".into(), spec);
            }
            Value::Object(t)
        };
        let pod_spec = shape_json(&self.spec, |s| s.json(kind == Kind::Pod));
        match kind {
            Kind::Pod => {
                if let Some(spec) = pod_spec {
                    m.insert("spec".into(), spec);
                }
            }
            Kind::ServiceAccount | Kind::ConfigMap => {
                self.automount
                    .put(&mut m, "automountServiceAccountToken", automount_json);
            }
            Kind::CronJob => {
                let mut jm = Map::new();
                self.job_labels.put(&mut jm, "labels", |l| labels_json(l));
                let job_spec =
                    shape_json(&self.template, |_| json!({"template": template(pod_spec)}));
                let mut job = json!({"metadata": jm});
                if let Some(s) = job_spec {
                    job["spec"] = s;
                }
                m.insert(
                    "spec".into(),
                    json!({"schedule": "* * * * *", "jobTemplate": job}),
                );
            }
            _ => {
                let mut spec = json!({"selector": {"matchLabels": {"app": "x"}}});
                if let Some(t) = shape_json(&self.template, |_| template(pod_spec)) {
                    spec["template"] = t;
                }
                m.insert("spec".into(), spec);
            }
        }
        if let Some((k, v)) = &self.unknown {
            m.entry(k.text().to_owned()).or_insert_with(|| v.json());
        }
        Value::Object(m)
    }
}

impl Case {
    /// The `validate` payload: `{"request": ..., "settings": ...}`.
    pub fn payload(&self) -> Value {
        let (group, name) = self.kind.gvk();
        let mut gvk = Map::new();
        match self.group {
            Group::Right => {
                gvk.insert("group".into(), json!(group));
            }
            Group::Missing => {}
            Group::Empty => {
                gvk.insert("group".into(), json!(""));
            }
            Group::Other => {
                gvk.insert("group".into(), json!("example.com"));
            }
        }
        gvk.insert("version".into(), json!("v1"));
        gvk.insert("kind".into(), json!(name));
        let mut request = Map::new();
        request.insert("uid".into(), json!("f00d"));
        request.insert("kind".into(), Value::Object(gvk));
        let operation = match self.operation {
            Operation::Create => Some("CREATE"),
            Operation::Update => Some("UPDATE"),
            Operation::Delete => Some("DELETE"),
            Operation::Connect => Some("CONNECT"),
            Operation::Missing => None,
            Operation::Lowercase => Some("update"),
        };
        if let Some(op) = operation {
            request.insert("operation".into(), json!(op));
        }
        match &self.sub_resource {
            SubResource::None => {}
            SubResource::EphemeralContainers => {
                request.insert("subResource".into(), json!("ephemeralcontainers"));
            }
            SubResource::Status => {
                request.insert("subResource".into(), json!("status"));
            }
            SubResource::Other(s) => {
                request.insert("subResource".into(), json!(s));
            }
        }
        let stamp = json!("2026-11-26T10:00:00Z");
        let mut object = shape_json(&self.object, |o| o.json(self.kind));
        let mut old = self.old.as_ref().map(|o| o.json(self.kind));
        if matches!(self.deletion, Deletion::Object | Deletion::Both)
            && let Some(Value::Object(meta)) = object.as_mut().and_then(|o| o.get_mut("metadata"))
        {
            meta.insert("deletionTimestamp".into(), stamp.clone());
        }
        if matches!(self.deletion, Deletion::Old | Deletion::Both)
            && let Some(Value::Object(meta)) = old.as_mut().and_then(|o| o.get_mut("metadata"))
        {
            meta.insert("deletionTimestamp".into(), stamp);
        }
        if let Some(o) = object {
            request.insert("object".into(), o);
        }
        request.insert("oldObject".into(), old.unwrap_or(Value::Null));
        let mut payload = Map::new();
        payload.insert("request".into(), Value::Object(request));
        if let Some(s) = self.settings.json() {
            payload.insert("settings".into(), s);
        }
        Value::Object(payload)
    }
}
