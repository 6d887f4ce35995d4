//! Properties of the decision, natively, over generated Pods and pod templates (proptest).
//!
//! The objects come from a grammar of the fields the rules read (labels on the object, the
//! template and a CronJob's job template; `serviceAccountName`, `serviceAccount`,
//! `automountServiceAccountToken` of several JSON types; volumes with projected token,
//! configMap and downwardAPI sources, secrets, emptyDirs; containers, initContainers and
//! ephemeralContainers mounting them at the token path, its parents and its other spellings; the
//! volume the ServiceAccount admission plugin injects) plus fields the rules never read.
//! Patches are applied as policy-server does: `json_patch::diff(original, mutated)`, then
//! `json_patch::patch`.

use std::collections::BTreeSet;

use prepuller_serviceaccount_policy::evaluate::evaluate;
use prepuller_serviceaccount_policy::response::Decision;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

const TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
const INJECTED_PREFIX: &str = "kube-api-access-";
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];
/// The ServiceAccounts of the three roles under the settings `roles()` knows.
const ROLE_ACCOUNTS: [&str; 3] = [
    "hook-image-puller",
    "continuous-image-puller",
    "hook-image-awaiter",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pod,
    DaemonSet,
    Deployment,
    StatefulSet,
    ReplicaSet,
    ReplicationController,
    Job,
    CronJob,
}

impl Kind {
    const ALL: [Kind; 8] = [
        Kind::Pod,
        Kind::DaemonSet,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::ReplicaSet,
        Kind::ReplicationController,
        Kind::Job,
        Kind::CronJob,
    ];

    fn gvk(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Kind::Pod => ("", "v1", "Pod"),
            Kind::DaemonSet => ("apps", "v1", "DaemonSet"),
            Kind::Deployment => ("apps", "v1", "Deployment"),
            Kind::StatefulSet => ("apps", "v1", "StatefulSet"),
            Kind::ReplicaSet => ("apps", "v1", "ReplicaSet"),
            Kind::ReplicationController => ("", "v1", "ReplicationController"),
            Kind::Job => ("batch", "v1", "Job"),
            Kind::CronJob => ("batch", "v1", "CronJob"),
        }
    }

    fn pod_spec_path(self) -> &'static [&'static str] {
        match self {
            Kind::Pod => &["spec"],
            Kind::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
            _ => &["spec", "template", "spec"],
        }
    }

    /// Where label sets sit: the object's, the template's, a CronJob's job template's.
    fn label_paths(self) -> &'static [&'static [&'static str]] {
        match self {
            Kind::Pod => &[&["metadata"]],
            Kind::CronJob => &[
                &["metadata"],
                &["spec", "jobTemplate", "metadata"],
                &["spec", "jobTemplate", "spec", "template", "metadata"],
            ],
            _ => &[&["metadata"], &["spec", "template", "metadata"]],
        }
    }

    fn pod_spec_immutable(self) -> bool {
        matches!(self, Kind::Pod | Kind::Job)
    }
}

// --- the grammar -------------------------------------------------------------------------------

fn account() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(Some(json!(""))),
        3 => Just(Some(json!("default"))),
        3 => Just(Some(json!("hook-image-puller"))),
        3 => Just(Some(json!("continuous-image-puller"))),
        2 => Just(Some(json!("hook-image-awaiter"))),
        1 => Just(Some(json!("image-cache-warmer"))),
        1 => Just(Some(json!(7))),
    ]
}

fn automount() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        3 => Just(None),
        4 => Just(Some(json!(false))),
        2 => Just(Some(json!(true))),
        1 => Just(Some(Value::Null)),
        1 => Just(Some(json!("false"))),
        1 => Just(Some(json!(0))),
        1 => Just(Some(json!({"false": true}))),
    ]
}

const VOLUME_NAMES: [&str; 5] = [
    "kube-api-access-a1b2c",
    "kube-api-access-zz9",
    "creds",
    "data",
    "legacy-token",
];

fn injected_volume(name: &str) -> Value {
    json!({"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}
    ]}})
}

fn volume() -> impl Strategy<Value = Value> {
    (select(VOLUME_NAMES.to_vec()), 0..7u8).prop_map(|(name, shape)| match shape {
        0 => injected_volume(name),
        1 => json!({"name": name, "projected": {"sources": [{"serviceAccountToken": {"path": "t", "audience": "vault"}}]}}),
        2 => json!({"name": name, "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}),
        3 => json!({"name": name, "secret": {"secretName": "hook-image-puller-token-x"}}),
        4 => json!({"name": name, "configMap": {"name": "settings"}}),
        5 => json!({"name": name, "emptyDir": {}}),
        _ => json!({"name": name, "projected": {"sources": [
            {"configMap": {"name": "kube-root-ca.crt"}}, {"downwardAPI": {"items": []}}]}}),
    })
}

/// Mount paths: the token path, its parents, its spellings that the runtime resolves to it, and
/// places that have nothing to do with it.
const MOUNT_PATHS: [&str; 9] = [
    TOKEN_PATH,
    "/data",
    "/creds",
    "/var/run/secrets",
    "/var/run/secrets/kubernetes.io/serviceaccount/",
    "/run/secrets/kubernetes.io/serviceaccount",
    "/var/run/secrets/kubernetes.io/x/../serviceaccount",
    "/var/run/secrets/kubernetes.io/serviceaccounts",
    "/tmp",
];

/// The paths of [`MOUNT_PATHS`] that cover the token path.
fn covers_token_path(path: &str) -> bool {
    [
        TOKEN_PATH,
        "/var/run/secrets",
        "/var/run/secrets/kubernetes.io/serviceaccount/",
        "/run/secrets/kubernetes.io/serviceaccount",
        "/var/run/secrets/kubernetes.io/x/../serviceaccount",
    ]
    .contains(&path)
}

fn mount() -> impl Strategy<Value = Value> {
    (
        select(VOLUME_NAMES.to_vec()),
        select(MOUNT_PATHS.to_vec()),
        prop::option::weighted(0.15, Just("token")),
    )
        .prop_map(|(name, path, sub_path)| {
            let mut m = json!({"name": name, "mountPath": path, "readOnly": true});
            if let Some(s) = sub_path {
                m["subPath"] = json!(s);
            }
            m
        })
}

fn containers(prefix: &'static str, count: std::ops::Range<usize>) -> impl Strategy<Value = Value> {
    vec(prop::option::weighted(0.5, vec(mount(), 0..3)), count).prop_map(move |list| {
        Value::Array(
            list.into_iter()
                .enumerate()
                .map(|(i, mounts)| {
                    let mut c = json!({"name": format!("{prefix}{i}"), "image": "busybox"});
                    if let Some(mounts) = mounts {
                        c["volumeMounts"] = Value::Array(mounts);
                    }
                    c
                })
                .collect(),
        )
    })
}

/// What the ServiceAccount admission plugin does to a Pod whose automount is not off.
fn inject_token(spec: &mut Value, suffix: &str) {
    let name = format!("{INJECTED_PREFIX}{suffix}");
    let Some(spec) = spec.as_object_mut() else {
        return;
    };
    if let Value::Array(volumes) = spec.entry("volumes").or_insert_with(|| json!([])) {
        volumes.push(injected_volume(&name));
    }
    for list in ["initContainers", "containers"] {
        for c in spec
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(c) = c.as_object_mut()
                && let Value::Array(mounts) = c.entry("volumeMounts").or_insert_with(|| json!([]))
            {
                mounts.push(json!({"name": name, "mountPath": TOKEN_PATH, "readOnly": true}));
            }
        }
    }
}

// Strategies are boxed: their value trees are large, and nested unboxed they overflow a test
// thread's stack in debug builds.
fn pod_spec(kind: Kind) -> BoxedStrategy<Value> {
    (
        (account(), account(), automount()),
        vec(volume(), 0..4),
        containers("c", 1..3),
        containers("i", 0..3),
        containers("e", 0..2),
        (prop::bool::weighted(0.35), "[a-z0-9]{5}"),
    )
        .prop_map(
            move |((name, alias, automount), volumes, cs, inits, ephemerals, (inject, suffix))| {
                let mut spec = Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        spec.insert(k.to_owned(), v);
                    }
                };
                put("serviceAccountName", name);
                put("serviceAccount", alias);
                put("automountServiceAccountToken", automount);
                // Kubernetes refuses duplicate volume names: keep the first of each.
                let mut seen = BTreeSet::new();
                let volumes: Vec<Value> = volumes
                    .into_iter()
                    .filter(|v| seen.insert(v["name"].as_str().unwrap_or_default().to_owned()))
                    .collect();
                if !volumes.is_empty() {
                    spec.insert("volumes".into(), Value::Array(volumes));
                }
                spec.insert("containers".into(), cs);
                for (k, v) in [
                    ("initContainers", inits),
                    ("ephemeralContainers", ephemerals),
                ] {
                    if v.as_array().is_some_and(|a| !a.is_empty()) {
                        spec.insert(k.into(), v);
                    }
                }
                spec.insert("restartPolicy".into(), json!("Always"));
                let mut spec = Value::Object(spec);
                if inject && kind == Kind::Pod {
                    inject_token(&mut spec, &suffix);
                }
                spec
            },
        )
        .boxed()
}

fn labels() -> impl Strategy<Value = Option<Value>> {
    let component = prop_oneof![
        3 => Just(Some("hook-image-puller")),
        3 => Just(Some("continuous-image-puller")),
        2 => Just(Some("image-puller")),
        1 => Just(Some("hub")),
        3 => Just(None),
    ];
    (component, prop::bool::ANY).prop_map(|(component, app)| {
        let mut labels = Map::new();
        if let Some(c) = component {
            labels.insert("component".into(), json!(c));
        }
        if app {
            labels.insert("app".into(), json!("jupyterhub"));
        }
        (!labels.is_empty()).then_some(Value::Object(labels))
    })
}

fn metadata(name: &str, labels: Option<Value>) -> Value {
    let mut m = json!({"name": name, "namespace": "jhub"});
    if let Some(l) = labels {
        m["labels"] = l;
    }
    m
}

fn object(kind: Kind) -> BoxedStrategy<Value> {
    (pod_spec(kind), labels(), labels(), labels()).prop_map(move |(spec, own, template, job)| {
        let (group, version, name) = kind.gvk();
        let api_version = if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        };
        let template_of = |labels: Option<Value>, spec: Value| {
            json!({"metadata": metadata_labels_only(labels), "spec": spec})
        };
        let spec = match kind {
            Kind::Pod => spec,
            Kind::CronJob => json!({"schedule": "*/30 * * * *", "jobTemplate": {
                "metadata": metadata_labels_only(job), "spec": {"template": template_of(template, spec)}}}),
            _ => json!({"selector": {"matchLabels": {"app": "jupyterhub"}}, "template": template_of(template, spec)}),
        };
        json!({"apiVersion": api_version, "kind": name, "metadata": metadata("w", own), "spec": spec})
    })
    .boxed()
}

fn metadata_labels_only(labels: Option<Value>) -> Value {
    match labels {
        Some(l) => json!({"labels": l}),
        None => json!({}),
    }
}

/// Settings variants whose roles keep the default selectors and ServiceAccounts (`roles()`
/// below can then tell the role from the labels), without `mode`.
fn default_role_settings() -> impl Strategy<Value = Value> {
    select(vec![
        json!({}),
        json!({"reserveServiceAccounts": false}),
        json!({"awaiter": null}),
    ])
}

/// Any valid settings, without `mode`.
fn settings() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => default_role_settings(),
        1 => Just(json!({"hookPuller": {"serviceAccountName": "myhub-hook-image-puller"}})),
        1 => Just(json!({"continuousPuller": {"selector": {"matchExpressions": [
            {"key": "component", "operator": "In", "values": ["continuous-image-puller", "cip"]},
            {"key": "tier", "operator": "DoesNotExist"}]}}})),
    ]
}

/// Pods weigh as much as every controller kind together: only they carry the injected token.
fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![7 => Just(Kind::Pod), 7 => select(Kind::ALL.to_vec())]
}

fn kind_and_object() -> BoxedStrategy<(Kind, Value)> {
    kind()
        .prop_flat_map(|kind| (Just(kind), object(kind)))
        .boxed()
}

fn case() -> BoxedStrategy<(Kind, Value, Value)> {
    (kind_and_object(), settings())
        .prop_map(|((kind, object), settings)| (kind, object, settings))
        .boxed()
}

// --- evaluation ---------------------------------------------------------------------------------

fn with_mode(settings: &Value, mode: &str) -> Value {
    let mut s = settings.clone();
    s["mode"] = json!(mode);
    s
}

fn request(kind: Kind, operation: &str, object: &Value, old: Option<&Value>) -> Value {
    let (group, version, name) = kind.gvk();
    json!({"uid": "0d1e2f", "kind": {"group": group, "version": version, "kind": name},
        "operation": operation, "object": object, "oldObject": old})
}

/// A [`Decision`] with the mutated object as a JSON value, comparable.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Accept(Vec<String>),
    Mutate(Value, Vec<String>),
    Reject(String),
}

fn answer(d: Decision) -> Answer {
    match d {
        Decision::Accept { warnings } => Answer::Accept(warnings),
        Decision::Mutate { object, warnings } => Answer::Mutate(
            serde_json::to_value(&object).expect("the mutated object is JSON"),
            warnings,
        ),
        Decision::Reject { message } => Answer::Reject(message),
    }
}

fn evaluate_text(payload: &str) -> Answer {
    answer(evaluate(payload.as_bytes()))
}

fn run(request: &Value, settings: &Value) -> Answer {
    evaluate_text(&json!({"request": request, "settings": settings}).to_string())
}

fn decide(kind: Kind, object: &Value, settings: &Value) -> Answer {
    run(&request(kind, "CREATE", object, None), settings)
}

fn allowed(a: &Answer) -> bool {
    !matches!(a, Answer::Reject(_))
}

fn clean_accept(a: &Answer) -> bool {
    matches!(a, Answer::Accept(warnings) if warnings.is_empty())
}

/// The object after policy-server applied the policy's answer as a JSON patch.
fn patched(original: &Value, mutated: &Value) -> Value {
    let patch = json_patch::diff(original, mutated);
    let mut out = original.clone();
    json_patch::patch(&mut out, &patch).expect("a diff applies to its own original");
    out
}

fn pod_spec_of(kind: Kind, object: &Value) -> Option<&Map<String, Value>> {
    kind.pod_spec_path()
        .iter()
        .try_fold(object, |v, k| v.get(k))
        .and_then(Value::as_object)
}

fn pod_spec_mut(kind: Kind, object: &mut Value) -> Option<&mut Map<String, Value>> {
    kind.pod_spec_path()
        .iter()
        .try_fold(object, |v, k| v.get_mut(k))
        .and_then(Value::as_object_mut)
}

fn name_of(v: &Value) -> &str {
    v.get("name").and_then(Value::as_str).unwrap_or_default()
}

fn volume_names(kind: Kind, object: &Value) -> BTreeSet<String> {
    pod_spec_of(kind, object)
        .and_then(|s| s.get("volumes"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| name_of(v).to_owned())
        .collect()
}

/// The object without what the rules own: the two ServiceAccount fields, automount, and the
/// volumes named in `removed` with their mounts.
fn without_owned(kind: Kind, object: &Value, removed: &BTreeSet<String>) -> Value {
    let mut out = object.clone();
    if let Some(spec) = pod_spec_mut(kind, &mut out) {
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

/// The roles whose default selector (`component: ...`) matches one of the object's label sets.
fn roles(kind: Kind, object: &Value, settings: &Value) -> Vec<&'static str> {
    let components: BTreeSet<&str> = kind
        .label_paths()
        .iter()
        .filter_map(|path| path.iter().try_fold(object, |v, k| v.get(k)))
        .filter_map(|m| m.pointer("/labels/component").and_then(Value::as_str))
        .collect();
    let awaiter_on = settings.get("awaiter") != Some(&Value::Null);
    [
        ("hook-image-puller", "hook-image-puller"),
        ("continuous-image-puller", "continuous-image-puller"),
        ("image-puller", "hook-image-awaiter"),
    ]
    .into_iter()
    .filter(|(c, sa)| components.contains(c) && (awaiter_on || *sa != "hook-image-awaiter"))
    .map(|(_, sa)| sa)
    .collect()
}

// --- one fix: removing one violation -----------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Fix {
    ServiceAccountName,
    DeprecatedServiceAccount,
    AutomountFalse,
    RemoveTokenVolume,
    RemoveTokenPathMount,
    StopBorrowing,
}

fn fix() -> impl Strategy<Value = (Fix, Index)> {
    (
        select(vec![
            Fix::ServiceAccountName,
            Fix::DeprecatedServiceAccount,
            Fix::AutomountFalse,
            Fix::RemoveTokenVolume,
            Fix::RemoveTokenPathMount,
            Fix::StopBorrowing,
        ]),
        any::<Index>(),
    )
}

fn has_token_source(volume: &Value) -> bool {
    volume
        .pointer("/projected/sources")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s.get("serviceAccountToken").is_some()))
}

fn remove_mounts(spec: &mut Map<String, Value>, mut keep: impl FnMut(&str, usize, &Value) -> bool) {
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
                    keep(list, n - 1, m)
                });
            }
        }
    }
}

/// Makes one field compliant for the object's role (or, without a role, stops borrowing a
/// reserved ServiceAccount); leaves the object unchanged when that fix does not apply.
fn apply_fix(kind: Kind, object: &Value, settings: &Value, (fix, index): (Fix, Index)) -> Value {
    let roles = roles(kind, object, settings);
    let mut out = object.clone();
    let Some(spec) = pod_spec_mut(kind, &mut out) else {
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
            let tokens: Vec<String> = spec
                .get("volumes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|v| has_token_source(v))
                .map(|v| name_of(v).to_owned())
                .collect();
            if !tokens.is_empty() {
                let victim = tokens[index.index(tokens.len())].clone();
                if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
                    volumes.retain(|v| name_of(v) != victim);
                }
                remove_mounts(spec, |_, _, m| name_of(m) != victim);
            }
        }
        (Fix::RemoveTokenPathMount, _) => {
            let mut candidates = Vec::new();
            remove_mounts(spec, |_, n, m| {
                if covers_token_path(m["mountPath"].as_str().unwrap_or_default()) {
                    candidates.push(n);
                }
                true
            });
            if !candidates.is_empty() {
                let victim = candidates[index.index(candidates.len())];
                remove_mounts(spec, |_, n, _| n != victim);
            }
        }
        (Fix::StopBorrowing, []) => {
            for key in ["serviceAccountName", "serviceAccount"] {
                if spec
                    .get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|sa| ROLE_ACCOUNTS.contains(&sa))
                {
                    spec.insert(key.into(), json!("image-cache-warmer"));
                }
            }
        }
        _ => {}
    }
    out
}

// --- key order and unknown fields ---------------------------------------------------------------

/// splitmix64: a small deterministic generator for shuffling keys and placing unknown fields.
struct Mix(u64);

impl Mix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Adds fields no rule reads to objects (never to label or annotation maps, whose every key is
/// data, nor inside an automount value, which messages quote), with values of every JSON type.
fn add_unknown_fields(v: &mut Value, mix: &mut Mix, parent_key: &str) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                add_unknown_fields(child, mix, k);
            }
            if !matches!(
                parent_key,
                "labels" | "annotations" | "matchLabels" | "automountServiceAccountToken"
            ) && mix.below(3) == 0
            {
                let junk = [
                    json!(null),
                    json!(true),
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

/// JSON text with every object's keys in a shuffled order.
fn write_shuffled(v: &Value, mix: &mut Mix, out: &mut String) {
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
                out.push_str(&Value::String(k.clone()).to_string());
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

fn remove_unknown_fields(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with("x-unknown-"));
            map.values_mut().for_each(remove_unknown_fields);
        }
        Value::Array(items) => items.iter_mut().for_each(remove_unknown_fields),
        _ => {}
    }
}

/// What a decision means for the API server: allowed or not, the object after the patch (if
/// any), the warnings, the message.
type Outcome = (bool, Option<Value>, Vec<String>, String);

fn outcome(original: &Value, a: Answer) -> Outcome {
    match a {
        // When an object cannot be decoded, the error reported is the first one the parser
        // meets: with several, it depends on the order of keys, and its position on the text.
        Answer::Reject(message) if message.starts_with("cannot decode the") => (
            false,
            None,
            Vec::new(),
            message.split(':').next().unwrap_or_default().to_owned(),
        ),
        Answer::Accept(warnings) => (true, None, warnings, String::new()),
        Answer::Mutate(object, warnings) => (
            true,
            Some(patched(original, &object)),
            warnings,
            String::new(),
        ),
        Answer::Reject(message) => (false, None, Vec::new(), message),
    }
}

// --- the properties -----------------------------------------------------------------------------

/// 1024 cases per property; `PROPTEST_CASES=100000` for a long run.
fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(1024),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Applying the policy's patch and evaluating again gives no patch, no warning.
    #[test]
    fn a_mutated_object_is_left_alone((kind, object, settings) in case()) {
        let settings = with_mode(&settings, "mutate");
        if let Answer::Mutate(mutated, _) = decide(kind, &object, &settings) {
            let fixed = patched(&object, &mutated);
            prop_assert_eq!(&fixed, &mutated);
            let again = decide(kind, &fixed, &settings);
            prop_assert!(clean_accept(&again), "evaluated again: {:?}", again);
        }
    }

    /// After a mutation the object is accepted in `mode: reject` with the same settings.
    #[test]
    fn a_mutated_object_passes_reject_mode((kind, object, settings) in case()) {
        if let Answer::Mutate(mutated, _) = decide(kind, &object, &with_mode(&settings, "mutate")) {
            let again = decide(kind, &patched(&object, &mutated), &with_mode(&settings, "reject"));
            prop_assert!(clean_accept(&again), "in reject mode: {:?}", again);
        }
    }

    /// A mutation touches only the paths the rules own: the two ServiceAccount fields (set to the
    /// role's account), automount (set to false), and on Pods the injected `kube-api-access-*`
    /// volume with its mounts. Every other path is unchanged.
    #[test]
    fn a_mutation_touches_only_owned_paths((kind, object, settings) in case()) {
        if let Answer::Mutate(mutated, warnings) = decide(kind, &object, &with_mode(&settings, "mutate")) {
            prop_assert!(!warnings.is_empty(), "a mutation without a warning");
            let mutated = patched(&object, &mutated);
            let removed: BTreeSet<String> = volume_names(kind, &object)
                .difference(&volume_names(kind, &mutated))
                .cloned()
                .collect();
            prop_assert!(
                removed.iter().all(|n| n.starts_with(INJECTED_PREFIX)) && (removed.is_empty() || kind == Kind::Pod),
                "removed volumes {:?} from a {:?}", removed, kind
            );
            prop_assert_eq!(without_owned(kind, &object, &removed), without_owned(kind, &mutated, &removed));
            let (before, after) = (pod_spec_of(kind, &object), pod_spec_of(kind, &mutated));
            for key in ["serviceAccountName", "serviceAccount"] {
                let new = after.and_then(|s| s.get(key));
                if new != before.and_then(|s| s.get(key)) {
                    let new = new.and_then(Value::as_str).unwrap_or_default();
                    prop_assert!(
                        ROLE_ACCOUNTS.contains(&new) || new == "myhub-hook-image-puller",
                        "{} set to {:?}", key, new
                    );
                }
            }
            let automount = after.and_then(|s| s.get("automountServiceAccountToken"));
            if automount != before.and_then(|s| s.get("automountServiceAccountToken")) {
                prop_assert_eq!(automount, Some(&json!(false)));
            }
        }
    }

    /// Removing one violation never turns an accepted object into a rejected one, in either mode.
    #[test]
    fn accepting_is_monotone_in_compliance(
        (kind, object) in kind_and_object(),
        settings in default_role_settings(),
        mode in select(vec!["mutate", "reject"]),
        fix in fix(),
    ) {
        let settings = with_mode(&settings, mode);
        let before = decide(kind, &object, &settings);
        if allowed(&before) {
            let fixed = apply_fix(kind, &object, &settings, fix);
            let after = decide(kind, &fixed, &settings);
            prop_assert!(allowed(&after), "{:?} turned {:?} into {:?}", fix, before, after);
            if clean_accept(&before) {
                prop_assert!(clean_accept(&after), "{:?} turned a clean accept into {:?}", fix, after);
            }
        }
    }

    /// Decisions do not depend on the order of keys, nor on fields no rule reads.
    #[test]
    fn decisions_ignore_key_order_and_unknown_fields((kind, object, settings) in case(), seed in any::<u64>(), mode in select(vec!["mutate", "reject"])) {
        let settings = with_mode(&settings, mode);
        let plain = request(kind, "CREATE", &object, None);
        let mut mix = Mix(seed);
        let mut noisy = plain.clone();
        add_unknown_fields(&mut noisy, &mut mix, "");
        let mut text = String::from("{\"settings\":");
        write_shuffled(&settings, &mut mix, &mut text);
        text.push_str(",\"request\":");
        write_shuffled(&noisy, &mut mix, &mut text);
        text.push('}');
        let expected = outcome(&plain["object"], run(&plain, &settings));
        let mut got = outcome(&noisy["object"], evaluate_text(&text));
        if let Some(mutated) = &mut got.1 {
            // The unknown fields are kept where they were...
            let removed: BTreeSet<String> = volume_names(kind, &noisy["object"])
                .difference(&volume_names(kind, mutated))
                .cloned()
                .collect();
            prop_assert_eq!(
                without_owned(kind, &noisy["object"], &removed),
                without_owned(kind, mutated, &removed)
            );
            // ...and, without them, the object is the one the plain request gave.
            remove_unknown_fields(mutated);
        }
        prop_assert_eq!(got, expected);
    }

    /// `mode: reject` decides like `mode: mutate`, except that it rejects what mutate would fix.
    #[test]
    fn reject_mode_rejects_exactly_what_mutate_mode_fixes((kind, object, settings) in case()) {
        let mutate = decide(kind, &object, &with_mode(&settings, "mutate"));
        let reject = decide(kind, &object, &with_mode(&settings, "reject"));
        match (&mutate, &reject) {
            (Answer::Accept(_), Answer::Accept(_)) => prop_assert_eq!(&mutate, &reject),
            (Answer::Mutate(..), Answer::Reject(message)) => {
                prop_assert!(message.contains("(mode: reject, so nothing was changed)"), "{}", message)
            }
            (Answer::Reject(a), Answer::Reject(b)) => prop_assert_eq!(a, b),
            _ => prop_assert!(false, "mutate mode {:?}, reject mode {:?}", mutate, reject),
        }
    }

    /// UPDATEs: controllers with mutable templates are judged in full, like a CREATE; an UPDATE
    /// of a Pod or a Job that changes nothing is never rejected or mutated; an object the API
    /// server records as terminating is accepted; a CREATE's own deletionTimestamp changes nothing.
    #[test]
    fn updates_and_terminating_objects(
        (kind, object, settings) in case(),
        ((_, other), mode) in (kind_and_object(), select(vec!["mutate", "reject"])),
    ) {
        let settings = with_mode(&settings, mode);
        let create = decide(kind, &object, &settings);
        let malformed = matches!(&create, Answer::Reject(message) if message.starts_with("cannot decode"));
        if kind.pod_spec_immutable() {
            let unchanged = run(&request(kind, "UPDATE", &object, Some(&object)), &settings);
            prop_assert!(
                matches!(unchanged, Answer::Accept(_)) || malformed,
                "unchanged UPDATE: {:?}", unchanged
            );
        } else {
            let update = run(&request(kind, "UPDATE", &object, Some(&other)), &settings);
            prop_assert_eq!(&update, &create);
        }
        let mut stored = object.clone();
        stored["metadata"]["deletionTimestamp"] = json!("2026-11-26T10:00:00Z");
        let finalizing = run(&request(kind, "UPDATE", &object, Some(&stored)), &settings);
        prop_assert!(clean_accept(&finalizing) || malformed, "terminating: {:?}", finalizing);
        let expected = outcome(&object, create);
        let mut got = outcome(&stored, decide(kind, &stored, &settings));
        if let Some(Value::Object(meta)) = got.1.as_mut().and_then(|o| o.get_mut("metadata")) {
            prop_assert!(meta.remove("deletionTimestamp").is_some(), "the patch dropped the deletionTimestamp");
        }
        prop_assert_eq!(got, expected);
    }
}

/// The grammar is not vacuous: generated cases reach every decision, the removal of an injected
/// volume, and the unfixable rules, often enough for the properties above to mean something.
#[test]
fn the_grammar_reaches_every_decision() {
    let mut runner = TestRunner::deterministic();
    let (mut accept, mut mutate, mut reject, mut removal) = (0, 0, 0, 0);
    let n = 2000;
    for _ in 0..n {
        let (kind, object, settings) = case().new_tree(&mut runner).expect("a case").current();
        match decide(kind, &object, &with_mode(&settings, "mutate")) {
            Answer::Accept(_) => accept += 1,
            Answer::Mutate(mutated, _) => {
                mutate += 1;
                if volume_names(kind, &mutated).len() < volume_names(kind, &object).len() {
                    removal += 1;
                }
            }
            Answer::Reject(_) => reject += 1,
        }
    }
    let floor = n / 20;
    assert!(
        accept > floor && mutate > floor && reject > floor && removal > n / 200,
        "accept {accept}, mutate {mutate} (volume removed {removal}), reject {reject} of {n}"
    );
}
