//! Partial, borrowed views of the objects the policy judges: only the fields the rules read are
//! decoded, everything else is skipped by the parser. These views never feed a mutation (that
//! works on the raw JSON), so ignoring unknown fields here loses nothing.

use std::fmt;

use serde::de::{self, DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::json::{CowStr, MapOnly, decode_object, decode_objects};
use crate::kinds::ResourceKind;
use crate::selector::Labels;

/// `automountServiceAccountToken` as found, including the shapes a typed decoder would refuse:
/// the rule is "explicitly `false`", so a string or a null must be seen, not rejected as noise.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Automount {
    /// Not written: the API server mounts the token.
    #[default]
    Unset,
    /// Explicitly `false`: what rule 2 asks of the pullers.
    False,
    /// Explicitly `true`.
    True,
    /// Anything that is not a boolean: a string or a scalar as JSON, else `a JSON object` or
    /// `a JSON list`, as messages show it.
    Other(String),
}

impl<'de> Deserialize<'de> for Automount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Read as the request's text, not as a JSON tree (whose number parsing would cost the
        // module more than this one value is worth). Messages show a string or a scalar the
        // same however the request spelled it, and an object or a list by what it is.
        let raw = <&RawValue>::deserialize(d)?;
        let text = raw.get();
        Ok(match text.as_bytes().first() {
            _ if text == "false" => Automount::False,
            _ if text == "true" => Automount::True,
            Some(b'"') => {
                let decoded =
                    serde_json::from_str::<CowStr<'_>>(text).map_err(serde::de::Error::custom)?;
                let shown = serde_json::to_string(decoded.as_str()).unwrap_or_default();
                Automount::Other(shorten(shown))
            }
            Some(b'{') => Automount::Other("a JSON object".into()),
            Some(b'[') => Automount::Other("a JSON list".into()),
            _ => Automount::Other(shorten(text.to_owned())),
        })
    }
}

/// At most 64 bytes of a value for a message, `...` marking a cut.
fn shorten(mut text: String) -> String {
    if text.len() > 64 {
        text.truncate(text.floor_char_boundary(61));
        text.push_str("...");
    }
    text
}

impl Automount {
    /// The value as messages show it.
    pub fn describe(&self) -> String {
        match self {
            Automount::Unset => "unset (defaults to true)".into(),
            Automount::False => "false".into(),
            Automount::True => "true".into(),
            Automount::Other(text) => format!("{text} (not a boolean)"),
        }
    }
}

/// The object metadata the policy reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta<'a> {
    /// The object's name; a Pod created by a controller has none yet at admission.
    #[serde(default, borrow)]
    pub name: Option<CowStr<'a>>,
    /// The name prefix of a Pod that has no name yet, shown in messages instead.
    #[serde(default, borrow)]
    pub generate_name: Option<CowStr<'a>>,
    /// The namespace, when the object carries it (the request's namespace is the fallback).
    #[serde(default, borrow)]
    pub namespace: Option<CowStr<'a>>,
    /// The object's own labels: a Pod's decide its role, a controller's only its warning.
    #[serde(default, borrow, deserialize_with = "crate::json::decode_optional_map")]
    pub labels: Option<Labels<'a>>,
    /// Set once the object is being deleted: a terminating object is only waiting for finalizers.
    #[serde(default)]
    pub deletion_timestamp: Option<IgnoredAny>,
    /// Who owns the object: a ReplicaSet its Deployment controls is left to the Deployment.
    #[serde(default, borrow, deserialize_with = "decode_objects")]
    pub owner_references: Option<Vec<OwnerReference<'a>>>,
}

/// An `ownerReferences` entry: the controlling one decides who owns the object's template.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference<'a> {
    /// The owner's `apps/v1`-style version: a Deployment must be the apps one.
    #[serde(default, borrow)]
    pub api_version: Option<CowStr<'a>>,
    /// The owner's kind.
    #[serde(default, borrow)]
    pub kind: Option<CowStr<'a>>,
    /// The owner's name, for the warning that names it.
    #[serde(default, borrow)]
    pub name: Option<CowStr<'a>>,
    /// `true` for the one owner that controls (and overwrites) the object.
    #[serde(default)]
    pub controller: Option<bool>,
}

/// The pod spec fields the rules read.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec<'a> {
    /// The ServiceAccount the Pods run as (empty or unset means `default`).
    #[serde(default, borrow)]
    pub service_account_name: Option<CowStr<'a>>,
    /// The deprecated alias, still mirrored by the API server into every Pod.
    #[serde(default, borrow)]
    pub service_account: Option<CowStr<'a>>,
    /// `automountServiceAccountToken`: rule 2 wants it `false` in the pullers.
    #[serde(default)]
    pub automount_service_account_token: Automount,
    /// The volumes: a token volume or the injected `kube-api-access-*` one breaks rule 3.
    #[serde(default, borrow, deserialize_with = "decode_objects")]
    pub volumes: Option<Vec<Volume<'a>>>,
    /// The containers, whose mounts rule 3 reads.
    #[serde(default, borrow, deserialize_with = "decode_objects")]
    pub containers: Option<Vec<Container<'a>>>,
    /// Init containers: their mounts count as much as the containers'.
    #[serde(default, borrow, deserialize_with = "decode_objects")]
    pub init_containers: Option<Vec<Container<'a>>>,
    /// Ephemeral containers: added later through a subresource, judged all the same.
    #[serde(default, borrow, deserialize_with = "decode_objects")]
    pub ephemeral_containers: Option<Vec<Container<'a>>>,
}

/// The pod spec's container lists by field name, in the order the rules report them; each
/// mounts volumes, so each is read and edited alike.
pub const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", EPHEMERAL_CONTAINERS];

/// The pod spec's list of debug containers, the only one an UPDATE of a Pod can add to.
pub const EPHEMERAL_CONTAINERS: &str = "ephemeralContainers";

impl<'a> PodSpec<'a> {
    /// Every container of every list, with its list's field name and its index there.
    pub fn containers(&self) -> impl Iterator<Item = (&'static str, usize, &Container<'a>)> {
        let lists = [
            &self.containers,
            &self.init_containers,
            &self.ephemeral_containers,
        ];
        CONTAINER_LISTS
            .into_iter()
            .zip(lists)
            .flat_map(|(list, cs)| {
                cs.iter()
                    .flatten()
                    .enumerate()
                    .map(move |(i, c)| (list, i, c))
            })
    }
}

/// A pod volume: its name and, if projected, its sources.
#[derive(Debug, Default, Deserialize)]
pub struct Volume<'a> {
    /// The name mounts refer to; the injected volume's starts with `kube-api-access-`.
    #[serde(default, borrow)]
    pub name: CowStr<'a>,
    /// Projected sources, where a ServiceAccount token is found.
    #[serde(default, borrow, deserialize_with = "decode_object")]
    pub projected: Option<Projected<'a>>,
}

/// A projected volume's sources.
#[derive(Debug, Default, Deserialize)]
pub struct Projected<'a> {
    /// The projected sources, in order.
    #[serde(default, borrow, deserialize_with = "decode_objects")]
    pub sources: Option<Vec<ProjectionSource<'a>>>,
}

/// One projected source: which kind it is, and what the rules read of it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectionSource<'a> {
    /// A ServiceAccount token: an API credential unless it carries an audience.
    #[serde(default, borrow, deserialize_with = "decode_object")]
    pub service_account_token: Option<TokenProjection<'a>>,
    /// A ConfigMap: part of the injected volume's shape (`kube-root-ca.crt`).
    #[serde(default, borrow, deserialize_with = "decode_object")]
    pub config_map: Option<NamedRef<'a>>,
    /// The downward API: part of the injected volume's shape.
    #[serde(default, rename = "downwardAPI")]
    pub downward_api: Option<IgnoredAny>,
    /// A Secret, which makes a volume something other than the injected one.
    #[serde(default)]
    pub secret: Option<IgnoredAny>,
    /// A ClusterTrustBundle, which makes a volume something other than the injected one.
    #[serde(default)]
    pub cluster_trust_bundle: Option<IgnoredAny>,
    /// A pod certificate: an API credential for the API server's client signer.
    #[serde(default, borrow, deserialize_with = "decode_object")]
    pub pod_certificate: Option<PodCertificateProjection<'a>>,
}

/// A projected `podCertificate` source: its signer decides whether it is an API credential.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCertificateProjection<'a> {
    /// The signer: `kubernetes.io/kube-apiserver-client-pod` authenticates to the API server.
    #[serde(default, borrow)]
    pub signer_name: Option<CowStr<'a>>,
}

/// A projected `serviceAccountToken` source: with an audience it is not the injected one.
#[derive(Debug, Default, Deserialize)]
pub struct TokenProjection<'a> {
    /// Who the token is for: without one it authenticates to the API server.
    #[serde(default, borrow)]
    pub audience: Option<CowStr<'a>>,
}

/// A reference by name (a projected `configMap` source).
#[derive(Debug, Default, Deserialize)]
pub struct NamedRef<'a> {
    /// The referenced object's name.
    #[serde(default, borrow)]
    pub name: Option<CowStr<'a>>,
}

/// A container, init container or ephemeral container: its name and mounts.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container<'a> {
    /// The container's name, for messages.
    #[serde(default, borrow)]
    pub name: CowStr<'a>,
    /// Where the container mounts volumes.
    #[serde(default, borrow, deserialize_with = "decode_objects")]
    pub volume_mounts: Option<Vec<VolumeMount<'a>>>,
}

/// Where a container mounts a volume.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount<'a> {
    /// The mounted volume's name.
    #[serde(default, borrow)]
    pub name: CowStr<'a>,
    /// Where it is mounted: nothing may land on the token path in a puller.
    #[serde(default, borrow)]
    pub mount_path: CowStr<'a>,
    /// A subdirectory of the volume mounted instead of its root.
    #[serde(default, borrow)]
    pub sub_path: Option<CowStr<'a>>,
    /// A subdirectory computed from environment variables; only its prefix is known.
    #[serde(default, borrow)]
    pub sub_path_expr: Option<CowStr<'a>>,
}

/// A Pod or a controller, reduced to what the rules read.
#[derive(Debug)]
pub struct Workload<'a> {
    /// The kind of the object.
    pub kind: ResourceKind,
    /// The object's own metadata; its labels are moved to [`Workload::other_labels`].
    pub metadata: ObjectMeta<'a>,
    /// The labels every Pod of this workload carries: a Pod's own, a controller's pod template's.
    /// Only these decide the role, because only these reach the Pods the policy judges later.
    pub pod_labels: Labels<'a>,
    /// Labels that reach no Pod, with the path of the map that carries them: a controller's
    /// own (`[]`) and a CronJob's job template's (which go to its Jobs, not their Pods).
    pub other_labels: Vec<(&'static [&'static str], Labels<'a>)>,
    /// The pod spec every Pod of the workload gets.
    pub pod: PodSpec<'a>,
}

/// A ServiceAccount object, judged only when `serviceAccountObjects` is on.
#[derive(Debug)]
pub struct ServiceAccountObject<'a> {
    /// The ServiceAccount's metadata: its name decides whether it is a puller's account.
    pub metadata: ObjectMeta<'a>,
    /// Its `automountServiceAccountToken`, checked when `serviceAccountObjects` is on.
    pub automount: Automount,
}

/// The object of a request, as the rules see it.
#[derive(Debug)]
pub enum Object<'a> {
    /// A Pod, or a controller with its pod template.
    Workload(Workload<'a>),
    /// A ServiceAccount, judged only when `serviceAccountObjects` is on.
    ServiceAccount(ServiceAccountObject<'a>),
}

impl<'a> Object<'a> {
    /// The object's own metadata.
    pub fn metadata(&self) -> &ObjectMeta<'a> {
        match self {
            Object::Workload(w) => &w.metadata,
            Object::ServiceAccount(s) => &s.metadata,
        }
    }
}

/// Decodes the object of a request for `kind` from its JSON text, reading only what the rules
/// read. Structural problems (a wrong kind, a missing `spec` or `template`, a field of the
/// wrong type, an array where an object belongs) come back as a message for the rejection.
pub fn decode(kind: ResourceKind, text: &str) -> Result<Object<'_>, String> {
    let cannot = |e: serde_json::Error| format!("cannot decode the {} object: {e}", kind.name());
    let path = kind.pod_template_path();
    let mut found = Found {
        kind: None,
        metadata: (0..=path.len()).map(|_| None).collect(),
        reached: 0,
        pod: None,
        automount: Automount::Unset,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    Level {
        kind,
        depth: 0,
        found: &mut found,
    }
    .deserialize(&mut de)
    .map_err(cannot)?;
    de.end().map_err(cannot)?;
    if let Some(k) = found.kind.filter(|k| k.as_str() != kind.name()) {
        return Err(format!(
            "the request is for a {} but the object's kind is {:?}",
            kind.name(),
            k.as_str()
        ));
    }
    let mut metadata = found.metadata;
    if kind == ResourceKind::ServiceAccount {
        return Ok(Object::ServiceAccount(ServiceAccountObject {
            metadata: metadata[0].take().unwrap_or_default(),
            automount: found.automount,
        }));
    }
    if found.reached < path.len() {
        return Err(missing(kind, &path[..=found.reached]));
    }
    let pod = found
        .pod
        .ok_or_else(|| missing(kind, kind.pod_spec_path()))?;
    let mut labels = |depth: usize| {
        let at = metadata[depth].as_mut().and_then(|m| m.labels.take());
        at.unwrap_or_default()
    };
    let pod_labels = labels(path.len());
    // Labels that reach no Pod: a controller's own, a CronJob's job template's (its Jobs').
    let other_labels = (0..path.len())
        .filter(|d| has_metadata(path, *d))
        .map(|d| (&path[..d], labels(d)))
        .collect();
    Ok(Object::Workload(Workload {
        kind,
        metadata: metadata[0].take().unwrap_or_default(),
        pod_labels,
        other_labels,
        pod,
    }))
}

fn missing(kind: ResourceKind, path: &[&str]) -> String {
    format!("the {} object has no {}", kind.name(), path.join("."))
}

/// Whether the map `depth` steps down `path` carries `metadata` of its own: the object and each
/// template on the way (a CronJob's job template, the pod template), not the `spec`s between.
fn has_metadata(path: &[&str], depth: usize) -> bool {
    matches!(
        path[..depth].last(),
        None | Some(&("template" | "jobTemplate"))
    )
}

/// What the walk down the kind's pod-template path (`ResourceKind::pod_template_path`, the one
/// place that says where a kind keeps its Pods' template) finds.
struct Found<'a> {
    /// The object's own `kind` field.
    kind: Option<CowStr<'a>>,
    /// The metadata of the map at each depth of the path, where it has any.
    metadata: Vec<Option<ObjectMeta<'a>>>,
    /// How many keys of the path were found.
    reached: usize,
    /// The pod template's `spec`.
    pod: Option<PodSpec<'a>>,
    /// A ServiceAccount's `automountServiceAccountToken`.
    automount: Automount,
}

/// The members of a map the walk reads; any other is skipped.
#[derive(Clone, Copy)]
enum Field {
    Kind,
    Metadata,
    Automount,
    PodSpec,
    Path,
}

impl Field {
    const COUNT: usize = 5;
}

/// One map of the walk: the object (depth 0) or the value of the path's `depth`-th key. Every
/// other member is skipped by the parser; a null counts as absent; a repeated member is
/// refused, as by a derived decoder.
struct Level<'f, 'a> {
    kind: ResourceKind,
    depth: usize,
    found: &'f mut Found<'a>,
}

impl<'de> DeserializeSeed<'de> for Level<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Level<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let path = self.kind.pod_template_path();
        let (top, at_template) = (self.depth == 0, self.depth == path.len());
        let is_account = self.kind == ResourceKind::ServiceAccount;
        let mut seen = [false; Field::COUNT];
        if self.depth > 0 {
            self.found.reached = self.depth;
        }
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            let field = match key.as_str() {
                "kind" if top => Field::Kind,
                "metadata" if has_metadata(path, self.depth) => Field::Metadata,
                "automountServiceAccountToken" if top && is_account => Field::Automount,
                "spec" if at_template && !is_account => Field::PodSpec,
                k if path.get(self.depth) == Some(&k) => Field::Path,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            if std::mem::replace(&mut seen[field as usize], true) {
                return Err(A::Error::custom(format_args!("duplicate field `{key}`")));
            }
            let found = &mut *self.found;
            match field {
                Field::Kind => found.kind = map.next_value()?,
                Field::Metadata => {
                    found.metadata[self.depth] =
                        map.next_value::<Option<MapOnly<_>>>()?.map(|m| m.0)
                }
                Field::Automount => found.automount = map.next_value()?,
                Field::PodSpec => found.pod = map.next_value::<Option<MapOnly<_>>>()?.map(|m| m.0),
                Field::Path => map.next_value_seed(Level {
                    kind: self.kind,
                    depth: self.depth + 1,
                    found,
                })?,
            }
        }
        Ok(())
    }
}

impl ObjectMeta<'_> {
    /// `namespace/name`, or the generateName prefix for Pods that have no name yet on CREATE.
    pub fn display_name(&self) -> String {
        let name = match (&self.name, &self.generate_name) {
            (Some(n), _) if !n.as_str().is_empty() => n.to_string(),
            (_, Some(g)) if !g.as_str().is_empty() => format!("{g}<generated>"),
            _ => "<unnamed>".to_owned(),
        };
        match &self.namespace {
            Some(ns) if !ns.as_str().is_empty() => format!("{ns}/{name}"),
            _ => name,
        }
    }

    /// The controlling owner (`controller: true`), if any: the object that will overwrite
    /// whatever a webhook changes in this one.
    pub fn controller(&self) -> Option<&OwnerReference<'_>> {
        self.owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
    }
}

impl OwnerReference<'_> {
    /// Whether this owner is an apps Deployment (`apps/v1`, or an older `apps` version).
    pub fn is_deployment(&self) -> bool {
        self.kind
            .as_ref()
            .is_some_and(|k| k.as_str() == "Deployment")
            && self
                .api_version
                .as_ref()
                .is_some_and(|v| v.as_str().starts_with("apps/"))
    }
}

#[cfg(test)]
mod tests;
