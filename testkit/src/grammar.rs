//! The one grammar of generated requests, for the properties and the structure-aware fuzz target.
//!
//! Written against [`arbitrary::Unstructured`], so libFuzzer's inputs and proptest's bytes drive
//! the same choices: the properties draw [`Profile::Tame`] cases from bytes proptest shrinks, the
//! fuzz target [`Profile::Wild`] ones from libFuzzer's input. Every choice point puts its
//! plainest option first, which is what exhausted input gives, so smaller bytes mean simpler cases.
//!
//! It covers the fields the rules read (labels of the object, its pod template and a CronJob's job
//! template; `serviceAccountName`, `serviceAccount` and `automountServiceAccountToken` of several
//! JSON types; token, configMap, downwardAPI, secret and emptyDir volumes; every container list
//! mounting them at the token path, its parents and other spellings; the injected token volume),
//! plus fields no rule reads.

use std::collections::BTreeSet;
use std::fmt;

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Map, Value, json};

use crate::kinds::Kind;
use crate::spelling::Mix;
use crate::{INJECTED_PREFIX, TOKEN_PATH};

/// How much of the grammar a case may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Well-formed CREATE requests for the eight workload kinds, Pods weighted as much as every
    /// other kind together (only they carry the injected token), under valid settings without
    /// `mode`: what the properties quantify over.
    Tame,
    /// [`Profile::Tame`] under settings that keep the default roles, so that
    /// [`crate::oracle::roles`] can tell an object's role from its labels.
    DefaultRoles,
    /// What the fuzzer explores beyond: ServiceAccounts and a kind the policy does not judge,
    /// every operation and subresource, missing and foreign API groups, requests without
    /// userInfo, values of the wrong type anywhere, arbitrary strings, duplicate and colliding
    /// volume names, stored objects, deletion timestamps, and any settings (valid or not).
    Wild,
}

/// The signer of pod certificates that authenticate to the API server as the Pod's
/// ServiceAccount.
pub const API_CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client-pod";

/// The ServiceAccounts of the three roles under default settings.
pub const ROLE_ACCOUNTS: [&str; 3] = [
    "hook-image-puller",
    "continuous-image-puller",
    "hook-image-awaiter",
];

/// A ServiceAccount of no role, for workloads that stop borrowing a reserved one.
pub const UNRESERVED_ACCOUNT: &str = "image-cache-warmer";

/// Strings the rules care about (label keys and values, ServiceAccount names), and the empty one.
const NAMES: [&str; 9] = [
    "component",
    "app",
    "hook-image-puller",
    "continuous-image-puller",
    "image-puller",
    "hook-image-awaiter",
    "default",
    "myhub-hook-image-puller",
    "",
];

/// Volume names: two spelled like the injected volume, and three that are not.
const VOLUME_NAMES: [&str; 5] = [
    "kube-api-access-a1b2c",
    "kube-api-access-zz9",
    "creds",
    "data",
    "legacy-token",
];

/// Mount paths, and whether each covers the token path: the token path, its parents and its
/// spellings that the runtime resolves to it, and places that have nothing to do with it. The
/// first [`TAME_MOUNT_PATHS`] are the tame profile's.
const MOUNT_PATHS: [(&str, bool); 14] = [
    (TOKEN_PATH, true),
    ("/data", false),
    ("/creds", false),
    ("/var/run/secrets", true),
    ("/var/run/secrets/kubernetes.io/serviceaccount/", true),
    ("/run/secrets/kubernetes.io/serviceaccount", true),
    ("/var/run/secrets/kubernetes.io/x/../serviceaccount", true),
    ("/var/run/secrets/kubernetes.io/serviceaccounts", false),
    ("/tmp", false),
    ("/", true),
    ("//var/run/secrets//kubernetes.io/serviceaccount", true),
    ("/var/run/./secrets/kubernetes.io/serviceaccount/.", true),
    ("/var/run/secrets/kubernetes.io/serviceaccount/token", false),
    ("var/run/secrets/kubernetes.io/serviceaccount", false),
];
const TAME_MOUNT_PATHS: usize = 9;

/// Whether a mount path of the grammar exposes the token path (the path itself, a parent, or a
/// spelling the runtime resolves to one of them).
pub fn covers_token_path(path: &str) -> bool {
    MOUNT_PATHS.iter().any(|(p, covers)| *covers && *p == path)
}

/// The volume the ServiceAccount admission plugin injects, exactly as it writes it.
pub fn injected_volume(name: &str) -> Value {
    json!({"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}, "path": "namespace"}]}}
    ]}})
}

/// What the ServiceAccount admission plugin does to a Pod whose automount is not off: the
/// injected volume, mounted at the token path in every container and init container.
pub fn inject_token(spec: &mut Map<String, Value>, name: &str) {
    if let Value::Array(volumes) = spec.entry("volumes").or_insert_with(|| json!([])) {
        volumes.push(injected_volume(name));
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

/// The request's author: a cluster administrator, as `kubectl` sends it.
pub fn admin() -> Value {
    json!({"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]})
}

/// An AdmissionRequest for `kind`, by [`admin`].
pub fn request(kind: Kind, operation: &str, object: &Value, old: Option<&Value>) -> Value {
    let (group, name) = kind.group_name();
    json!({"uid": "0d1e2f", "kind": {"group": group, "version": Kind::VERSION, "kind": name},
        "operation": operation, "userInfo": admin(), "object": object, "oldObject": old})
}

/// One generated request: its kind, the `validate` payload, and a seed for respelling it.
#[derive(Clone)]
pub struct Case {
    /// The kind of the request's object, which the oracle reads the rules' fields by.
    pub kind: Kind,
    /// `{"request": ..., "settings": ...}` (a wild case may leave the settings out).
    pub envelope: Value,
    /// Seeds the respellings ([`crate::spelling`]), so a failure replays exactly.
    pub seed: u64,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} (seed {}): {}", self.kind, self.seed, self.envelope)
    }
}

impl Case {
    /// The case `bytes` spell under `profile`.
    pub fn generate(u: &mut Unstructured<'_>, profile: Profile) -> Case {
        let mut g = Gen { u, profile };
        g.case()
    }

    /// The case `bytes` spell under `profile` (for generators that hand out bytes, as proptest).
    pub fn from_bytes(bytes: &[u8], profile: Profile) -> Case {
        Case::generate(&mut Unstructured::new(bytes), profile)
    }

    /// A case from a seed (for deterministic samples of the grammar).
    pub fn from_seed(seed: u64, profile: Profile) -> Case {
        let mut mix = Mix(seed);
        let bytes: Vec<u8> = (0..1024).map(|_| mix.next_u64() as u8).collect();
        Case::from_bytes(&bytes, profile)
    }

    /// The request's object (`null` when it has none).
    pub fn object(&self) -> &Value {
        &self.envelope["request"]["object"]
    }

    /// The settings (`null` when left out).
    pub fn settings(&self) -> &Value {
        &self.envelope["settings"]
    }
}

/// The fuzz target's cases: the wild profile.
impl<'a> Arbitrary<'a> for Case {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Case::generate(u, Profile::Wild))
    }
}

/// The choices, drawn from the input bytes.
struct Gen<'u, 'a> {
    u: &'u mut Unstructured<'a>,
    profile: Profile,
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

impl<'a> Gen<'_, 'a> {
    fn wild(&self) -> bool {
        self.profile == Profile::Wild
    }

    /// The index of a weighted choice.
    fn pick(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut r = self
            .u
            .int_in_range(0..=total.saturating_sub(1))
            .unwrap_or(0);
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        0
    }

    /// A weighted choice among the `tame` options and, in the wild profile, the `wild` ones
    /// numbered after them.
    fn choose(&mut self, tame: &[u32], wild: &[u32]) -> usize {
        let mut weights = tame.to_vec();
        if self.wild() {
            weights.extend_from_slice(wild);
        }
        self.pick(&weights)
    }

    /// True `num` times in `den`.
    fn chance(&mut self, num: u32, den: u32) -> bool {
        self.pick(&[den - num, num]) == 1
    }

    fn len(&mut self, min: usize, max: usize) -> usize {
        self.u.int_in_range(min..=max).unwrap_or(min)
    }

    /// An arbitrary value (the default once the input is exhausted).
    fn any<T: Arbitrary<'a> + Default>(&mut self) -> T {
        T::arbitrary(self.u).unwrap_or_default()
    }

    fn string(&mut self) -> String {
        self.any()
    }

    /// A string the rules care about or, in the wild profile, any string.
    fn name(&mut self) -> String {
        match self.choose(&[1; NAMES.len()], &[2]) {
            i if i < NAMES.len() => NAMES[i].to_owned(),
            _ => self.string(),
        }
    }

    /// A value of any JSON type, for a field that expects another.
    fn junk(&mut self) -> Value {
        match self.pick(&[1; 9]) {
            0 => Value::Null,
            1 => json!(self.any::<bool>()),
            2 => json!(self.any::<i64>()),
            3 => json!(self.any::<f64>()),
            4 => json!(self.string()),
            5 => json!([]),
            6 => json!({}),
            7 => json!(self.any::<Vec<i8>>()),
            _ => {
                let key = self.string();
                json!({ key: self.any::<i8>() })
            }
        }
    }

    /// In the wild profile, one time in four a value of the wrong type instead of `f`'s.
    fn or_junk(&mut self, f: impl FnOnce(&mut Self) -> Option<Value>) -> Option<Value> {
        if self.wild() && self.chance(1, 4) {
            Some(self.junk())
        } else {
            f(self)
        }
    }

    /// A part of the object that, in the wild profile, may be missing or of the wrong type.
    fn shape(&mut self, f: impl FnOnce(&mut Self) -> Value) -> Option<Value> {
        match self.choose(&[1], &[1, 1]) {
            0 => Some(f(self)),
            1 => None,
            _ => Some(self.junk()),
        }
    }

    fn kind(&mut self) -> Kind {
        // Pods weigh as much as every other workload kind together: only they carry the
        // injected token. ServiceAccounts and the unjudged kind are wild only.
        let wild = u32::from(self.wild());
        let weights: Vec<u32> = Kind::ALL
            .iter()
            .map(|k| match k {
                Kind::Pod => 8,
                Kind::ServiceAccount => 2 * wild,
                Kind::ConfigMap => wild,
                _ => 1,
            })
            .collect();
        Kind::ALL[self.pick(&weights)]
    }

    fn account(&mut self) -> Option<Value> {
        self.or_junk(|g| match g.choose(&[3, 1, 3, 3, 3, 2, 1, 1], &[1, 2]) {
            0 => None,
            1 => Some(json!("")),
            2 => Some(json!("default")),
            i @ 3..=5 => Some(json!(ROLE_ACCOUNTS[i - 3])),
            6 => Some(json!(UNRESERVED_ACCOUNT)),
            7 => Some(json!(7)),
            8 => Some(json!("myhub-hook-image-puller")),
            _ => Some(json!(g.string())),
        })
    }

    fn automount(&mut self) -> Option<Value> {
        self.or_junk(|g| match g.pick(&[3, 4, 2, 1, 1, 1, 1]) {
            0 => None,
            1 => Some(json!(false)),
            2 => Some(json!(true)),
            3 => Some(Value::Null),
            4 => Some(json!("false")),
            5 => Some(json!(0)),
            _ => Some(json!({"false": true})),
        })
    }

    fn volume_name(&mut self) -> Option<Value> {
        self.or_junk(|g| match g.choose(&[1; VOLUME_NAMES.len()], &[1, 1]) {
            i if i < VOLUME_NAMES.len() => Some(json!(VOLUME_NAMES[i])),
            i if i == VOLUME_NAMES.len() => Some(json!(g.string())),
            _ => None,
        })
    }

    fn volume(&mut self) -> Value {
        let mut m = Map::new();
        put(&mut m, "name", self.volume_name());
        let name = m
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let source = match self.choose(&[1; 8], &[2, 1]) {
            0 => injected_volume(&name)["projected"].clone(),
            1 => json!({"sources": [{"serviceAccountToken": {"path": "t", "audience": "vault"}}]}),
            2 => json!({"sources": [{"serviceAccountToken": {"path": "token"}}]}),
            3 => {
                m.insert(
                    "secret".into(),
                    json!({"secretName": "hook-image-puller-token-x"}),
                );
                return Value::Object(m);
            }
            4 => {
                m.insert("configMap".into(), json!({"name": "settings"}));
                return Value::Object(m);
            }
            5 => {
                m.insert("emptyDir".into(), json!({}));
                return Value::Object(m);
            }
            6 => {
                json!({"sources": [{"configMap": {"name": "kube-root-ca.crt"}}, {"downwardAPI": {"items": []}}]})
            }
            // A client certificate that authenticates to the API server as the Pod's
            // ServiceAccount (KEP-4317), or one of another signer.
            7 => {
                let signer = match self.pick(&[3, 1]) {
                    0 => API_CLIENT_SIGNER,
                    _ => "example.com/workload",
                };
                json!({"sources": [{"podCertificate": {"signerName": signer, "keyType": "ED25519",
                    "credentialBundlePath": "credentialbundle.pem"}}]})
            }
            8 => {
                let mut p = Map::new();
                let sources = self.or_junk(|g| {
                    let n = g.len(0, 3);
                    g.chance(7, 8)
                        .then(|| Value::Array((0..n).map(|_| g.projection_source()).collect()))
                });
                put(&mut p, "sources", sources);
                Value::Object(p)
            }
            _ => return self.junk(),
        };
        m.insert("projected".into(), source);
        Value::Object(m)
    }

    fn projection_source(&mut self) -> Value {
        match self.pick(&[1; 9]) {
            0 => {
                let mut t = Map::new();
                t.insert("path".into(), json!("token"));
                let audience = self.or_junk(|g| g.chance(1, 2).then(|| json!(g.name())));
                put(&mut t, "audience", audience);
                json!({ "serviceAccountToken": t })
            }
            1 => json!({"configMap": {"name": "kube-root-ca.crt"}}),
            2 => json!({"configMap": {"name": self.name()}}),
            3 => json!({"downwardAPI": {"items": []}}),
            4 => json!({"secret": {"name": "s"}}),
            5 => json!({}),
            6 => json!({"serviceAccountToken": {}, "configMap": {"name": "kube-root-ca.crt"}}),
            7 => json!({"podCertificate": {"signerName": API_CLIENT_SIGNER}}),
            _ => self.junk(),
        }
    }

    fn volumes(&mut self) -> Option<Value> {
        self.or_junk(|g| {
            let n = if g.wild() { g.len(0, 4) } else { g.len(0, 3) };
            let volumes: Vec<Value> = (0..n).map(|_| g.volume()).collect();
            // Kubernetes refuses duplicate volume names: tame cases keep the first of each.
            let mut seen = BTreeSet::new();
            let volumes: Vec<Value> = if g.wild() {
                volumes
            } else {
                volumes
                    .into_iter()
                    .filter(|v| seen.insert(v["name"].as_str().unwrap_or_default().to_owned()))
                    .collect()
            };
            (!volumes.is_empty()).then_some(Value::Array(volumes))
        })
    }

    fn mount_path(&mut self) -> Value {
        let wild_paths = MOUNT_PATHS.len() - TAME_MOUNT_PATHS;
        let mut wild = vec![1; wild_paths];
        wild.extend([1, 1]);
        match self.choose(&[1; TAME_MOUNT_PATHS], &wild) {
            i if i < MOUNT_PATHS.len() => json!(MOUNT_PATHS[i].0),
            i if i == MOUNT_PATHS.len() => json!(self.string()),
            _ => self.junk(),
        }
    }

    fn mount(&mut self) -> Value {
        let mut m = Map::new();
        put(&mut m, "name", self.volume_name());
        m.insert("mountPath".into(), self.mount_path());
        m.insert("readOnly".into(), json!(true));
        if self.chance(3, 20) {
            let sub_path = match self.choose(&[1], &[1]) {
                0 => json!("token"),
                _ => json!(self.name()),
            };
            m.insert("subPath".into(), sub_path);
        }
        if self.wild() && self.chance(1, 8) {
            m.insert("subPathExpr".into(), json!(self.name()));
        }
        Value::Object(m)
    }

    fn container(&mut self, prefix: &str, i: usize) -> Value {
        let mut c = Map::new();
        let name = match self.choose(&[1], &[1]) {
            0 => json!(format!("{prefix}{i}")),
            _ => json!(self.name()),
        };
        c.insert("name".into(), name);
        c.insert("image".into(), json!("busybox"));
        let mounts = self.or_junk(|g| {
            g.chance(1, 2).then(|| {
                let n = g.len(0, 2);
                Value::Array((0..n).map(|_| g.mount()).collect())
            })
        });
        put(&mut c, "volumeMounts", mounts);
        Value::Object(c)
    }

    /// A container list of `min..=max` containers (`0..=max + 1` in the wild profile); left out
    /// when empty, but for the wild profile's `containers`.
    fn containers(&mut self, prefix: &str, min: usize, max: usize) -> Option<Value> {
        self.or_junk(|g| {
            let n = if g.wild() {
                g.len(0, max + 1)
            } else {
                g.len(min, max)
            };
            let list: Vec<Value> = (0..n).map(|i| g.container(prefix, i)).collect();
            (!list.is_empty() || (g.wild() && prefix == "c")).then_some(Value::Array(list))
        })
    }

    fn pod_spec(&mut self, kind: Kind) -> Value {
        let mut m = Map::new();
        put(&mut m, "serviceAccountName", self.account());
        put(&mut m, "serviceAccount", self.account());
        put(&mut m, "automountServiceAccountToken", self.automount());
        put(&mut m, "volumes", self.volumes());
        put(&mut m, "containers", self.containers("c", 1, 2));
        put(&mut m, "initContainers", self.containers("i", 0, 2));
        put(&mut m, "ephemeralContainers", self.containers("e", 0, 1));
        m.insert("restartPolicy".into(), json!("Always"));
        if kind == Kind::Pod && self.chance(7, 20) {
            let suffix = match self.choose(&[1], &[1, 1]) {
                0 => {
                    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
                    (0..5)
                        .map(|_| char::from(ALPHABET[self.len(0, ALPHABET.len() - 1)]))
                        .collect()
                }
                // Colliding with a volume of the same name.
                1 => "a1b2c".to_owned(),
                _ => "zz9".to_owned(),
            };
            inject_token(&mut m, &format!("{INJECTED_PREFIX}{suffix}"));
        }
        Value::Object(m)
    }

    fn labels(&mut self) -> Option<Value> {
        self.or_junk(|g| {
            let mut labels = Map::new();
            if g.wild() && g.chance(1, 3) {
                for _ in 0..g.len(0, 3) {
                    let (k, v) = (g.name(), g.name());
                    labels.insert(k, json!(v));
                }
                return Some(Value::Object(labels));
            }
            let component = match g.pick(&[3, 3, 3, 2, 1]) {
                0 => None,
                1 => Some("hook-image-puller"),
                2 => Some("continuous-image-puller"),
                3 => Some("image-puller"),
                _ => Some("hub"),
            };
            if let Some(c) = component {
                labels.insert("component".into(), json!(c));
            }
            if g.chance(1, 2) {
                labels.insert("app".into(), json!("jupyterhub"));
            }
            (!labels.is_empty()).then_some(Value::Object(labels))
        })
    }

    /// `{"labels": ...}`, or `{}`.
    fn labels_only(&mut self) -> Value {
        let mut m = Map::new();
        put(&mut m, "labels", self.labels());
        Value::Object(m)
    }

    /// A pod template (wild: possibly missing or of the wrong type), around a pod spec (same).
    fn template(&mut self, kind: Kind) -> Option<Value> {
        self.shape(|g| {
            let mut t = Map::new();
            t.insert("metadata".into(), g.labels_only());
            put(&mut t, "spec", g.shape(|g| g.pod_spec(kind)));
            Value::Object(t)
        })
    }

    fn object(&mut self, kind: Kind) -> Value {
        let mut meta = Map::new();
        match self.choose(&[1], &[1, 1]) {
            0 => {
                meta.insert("name".into(), json!("w"));
            }
            1 => {
                meta.insert("name".into(), json!(self.name()));
            }
            _ => {}
        }
        meta.insert("namespace".into(), json!("jhub"));
        put(&mut meta, "labels", self.labels());
        put(&mut meta, "ownerReferences", self.owner(kind));
        let mut m = Map::new();
        m.insert("apiVersion".into(), json!(kind.api_version()));
        match self.choose(&[1], &[1, 1]) {
            0 => {
                m.insert("kind".into(), json!(kind.group_name().1));
            }
            1 => {}
            _ => {
                let other = Kind::ALL[self.len(0, Kind::ALL.len() - 1)];
                m.insert("kind".into(), json!(other.group_name().1));
            }
        }
        m.insert("metadata".into(), Value::Object(meta));
        match kind {
            Kind::Pod => put(&mut m, "spec", self.shape(|g| g.pod_spec(kind))),
            Kind::ServiceAccount | Kind::ConfigMap => {
                put(&mut m, "automountServiceAccountToken", self.automount());
            }
            Kind::CronJob => {
                let mut job = Map::new();
                job.insert("metadata".into(), self.labels_only());
                let job_spec = self.shape(|g| {
                    let mut s = Map::new();
                    put(&mut s, "template", g.template(kind));
                    Value::Object(s)
                });
                put(&mut job, "spec", job_spec);
                m.insert(
                    "spec".into(),
                    json!({"schedule": "*/30 * * * *", "jobTemplate": job}),
                );
            }
            _ => {
                let mut spec = Map::new();
                spec.insert(
                    "selector".into(),
                    json!({"matchLabels": {"app": "jupyterhub"}}),
                );
                put(&mut spec, "template", self.template(kind));
                m.insert("spec".into(), Value::Object(spec));
            }
        }
        if self.wild() && self.chance(1, 4) {
            let (key, value) = (self.name(), self.junk());
            m.entry(key).or_insert(value);
        }
        Value::Object(m)
    }

    /// A controlling owner: for a ReplicaSet, a Deployment one time in three (whose ReplicaSets
    /// the policy leaves to the Deployment); in the wild profile, any kind's owner or junk.
    fn owner(&mut self, kind: Kind) -> Option<Value> {
        let owner = |kind: &str, controller: Value| {
            json!([{"apiVersion": "apps/v1", "kind": kind, "name": "w",
                "uid": "6b0c7a5e-0000-4000-8000-000000000001", "controller": controller}])
        };
        match self.choose(&[2, u32::from(kind == Kind::ReplicaSet)], &[1, 1, 1]) {
            0 => None,
            1 => Some(owner("Deployment", json!(true))),
            2 => Some(owner("Deployment", json!(false))),
            3 => Some(owner("DaemonSet", json!(true))),
            _ => Some(self.junk()),
        }
    }

    fn settings(&mut self) -> Option<Value> {
        let presets = match self.profile {
            Profile::DefaultRoles => 3,
            Profile::Tame => 5,
            Profile::Wild => return self.settings_model(),
        };
        Some(preset_settings(self.len(0, presets - 1)))
    }

    /// Any settings, valid or not, `mode` included; the presets among them.
    fn settings_model(&mut self) -> Option<Value> {
        match self.pick(&[1, 1, 3]) {
            0 => return None,
            1 => return Some(preset_settings(self.len(0, 4))),
            _ => {}
        }
        let mut m = Map::new();
        let mode = self.or_junk(|g| match g.pick(&[2, 2, 2, 1]) {
            0 => None,
            1 => Some(json!("mutate")),
            2 => Some(json!("reject")),
            _ => Some(json!(g.name())),
        });
        put(&mut m, "mode", mode);
        for key in ["hookPuller", "continuousPuller", "awaiter"] {
            let role = self.role();
            put(&mut m, key, role);
        }
        for key in ["reserveServiceAccounts", "serviceAccountObjects"] {
            let flag = self.or_junk(|g| g.chance(2, 3).then(|| json!(g.any::<bool>())));
            put(&mut m, key, flag);
        }
        if self.chance(1, 8) {
            let (key, value) = (self.name(), self.junk());
            m.insert(key, value);
        }
        Some(Value::Object(m))
    }

    fn role(&mut self) -> Option<Value> {
        self.or_junk(|g| {
            if g.chance(1, 2) {
                return None;
            }
            let mut r = Map::new();
            let account = g.or_junk(|g| g.chance(2, 3).then(|| json!(g.name())));
            put(&mut r, "serviceAccountName", account);
            let selector = g.or_junk(|g| g.chance(1, 2).then(|| g.selector()));
            put(&mut r, "selector", selector);
            Some(Value::Object(r))
        })
    }

    fn selector(&mut self) -> Value {
        let mut s = Map::new();
        if self.chance(1, 2) {
            let mut labels = Map::new();
            for _ in 0..self.len(0, 2) {
                let (k, v) = (self.name(), self.name());
                labels.insert(k, json!(v));
            }
            s.insert("matchLabels".into(), Value::Object(labels));
        }
        if self.chance(1, 2) {
            let n = self.len(0, 2);
            let expressions: Vec<Value> = (0..n)
                .map(|_| {
                    let key = self.name();
                    let operator = match self.pick(&[1; 5]) {
                        0 => "In".to_owned(),
                        1 => "NotIn".to_owned(),
                        2 => "Exists".to_owned(),
                        3 => "DoesNotExist".to_owned(),
                        _ => self.name(),
                    };
                    let mut e = json!({"key": key, "operator": operator});
                    if self.chance(2, 3) {
                        let values: Vec<String> =
                            (0..self.len(0, 2)).map(|_| self.name()).collect();
                        e["values"] = json!(values);
                    }
                    e
                })
                .collect();
            s.insert("matchExpressions".into(), Value::Array(expressions));
        }
        Value::Object(s)
    }

    fn case(&mut self) -> Case {
        let kind = self.kind();
        let settings = self.settings();
        let object = self.object(kind);
        let request = if self.wild() {
            self.wild_request(kind, object)
        } else {
            request(kind, "CREATE", &object, None)
        };
        let mut envelope = json!({ "request": request });
        if let Some(s) = settings {
            envelope["settings"] = s;
        }
        Case {
            kind,
            envelope,
            seed: self.any(),
        }
    }

    fn wild_request(&mut self, kind: Kind, object: Value) -> Value {
        let (group, name) = kind.group_name();
        let mut gvk = Map::new();
        match self.pick(&[3, 1, 1, 1]) {
            0 => put(&mut gvk, "group", Some(json!(group))),
            1 => {}
            2 => put(&mut gvk, "group", Some(json!(""))),
            _ => put(&mut gvk, "group", Some(json!("example.com"))),
        }
        gvk.insert("version".into(), json!(Kind::VERSION));
        gvk.insert("kind".into(), json!(name));
        let mut r = Map::new();
        r.insert("uid".into(), json!("f00d"));
        r.insert("kind".into(), Value::Object(gvk));
        let operation = match self.pick(&[2, 2, 1, 1, 1, 1]) {
            0 => Some("CREATE"),
            1 => Some("UPDATE"),
            2 => Some("DELETE"),
            3 => Some("CONNECT"),
            4 => None,
            _ => Some("update"),
        };
        put(&mut r, "operation", operation.map(|o| json!(o)));
        let sub_resource = match self.pick(&[3, 1, 1, 1]) {
            0 => None,
            1 => Some(json!("ephemeralcontainers")),
            2 => Some(json!("status")),
            _ => Some(json!(self.string())),
        };
        put(&mut r, "subResource", sub_resource);
        let user = match self.pick(&[3, 1, 1, 1]) {
            0 => Some(admin()),
            1 => None,
            2 => Some(json!({"username": ""})),
            _ => Some(self.junk()),
        };
        put(&mut r, "userInfo", user);
        let mut object = match self.pick(&[4, 1, 1]) {
            0 => Some(object),
            1 => None,
            _ => Some(self.junk()),
        };
        let mut old = self.chance(1, 2).then(|| self.object(kind));
        let stamp = json!("2026-11-26T10:00:00Z");
        let deletion = self.pick(&[3, 1, 1, 1]);
        for (which, o) in [(1, &mut object), (2, &mut old)] {
            if (deletion == which || deletion == 3)
                && let Some(Value::Object(meta)) = o.as_mut().and_then(|o| o.get_mut("metadata"))
            {
                meta.insert("deletionTimestamp".into(), stamp.clone());
            }
        }
        put(&mut r, "object", object);
        r.insert("oldObject".into(), old.unwrap_or(Value::Null));
        Value::Object(r)
    }
}

/// Valid settings without `mode`: the first three keep the default roles.
fn preset_settings(i: usize) -> Value {
    match i {
        0 => json!({}),
        1 => json!({"reserveServiceAccounts": false}),
        2 => json!({"awaiter": null}),
        3 => json!({"hookPuller": {"serviceAccountName": "myhub-hook-image-puller"}}),
        _ => json!({"continuousPuller": {"selector": {"matchExpressions": [
            {"key": "component", "operator": "In", "values": ["continuous-image-puller", "cip"]},
            {"key": "tier", "operator": "DoesNotExist"}]}}}),
    }
}
