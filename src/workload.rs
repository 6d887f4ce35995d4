//! Partial, borrowed views of the objects the policy judges: only the fields the rules read are
//! decoded, everything else is skipped by the parser. These views never feed a mutation (that
//! works on the raw JSON), so ignoring unknown fields here loses nothing.

use serde::de::IgnoredAny;
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
pub struct Metadata<'a> {
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
    #[serde(default, borrow)]
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

/// What a controller copies into its children: a pod template (`S` = the pod spec) or a
/// CronJob's job template (`S` = the Job's spec, which holds the pod template).
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))]
struct Template<'a, S> {
    #[serde(default, borrow, deserialize_with = "decode_object")]
    metadata: Option<Metadata<'a>>,
    #[serde(default, deserialize_with = "decode_object")]
    spec: Option<S>,
}

/// The spec of a controller (or of a CronJob's Job): only its pod template is read.
#[derive(Debug, Default, Deserialize)]
struct ControllerSpec<'a> {
    #[serde(default, borrow, deserialize_with = "decode_object")]
    template: Option<Template<'a, PodSpec<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CronJobSpec<'a> {
    #[serde(default, borrow, deserialize_with = "decode_object")]
    job_template: Option<Template<'a, ControllerSpec<'a>>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "S: Deserialize<'de>"))]
struct Object<'a, S> {
    #[serde(default, borrow)]
    kind: Option<CowStr<'a>>,
    #[serde(default, borrow, deserialize_with = "decode_object")]
    metadata: Option<Metadata<'a>>,
    #[serde(default, deserialize_with = "decode_object")]
    spec: Option<S>,
    /// Only ServiceAccount objects carry this at the top level.
    #[serde(default)]
    automount_service_account_token: Automount,
}

/// A Pod or a controller, reduced to what the rules read.
#[derive(Debug)]
pub struct Workload<'a> {
    /// The kind of the object.
    pub kind: ResourceKind,
    /// The object's own metadata; its labels are moved to [`Workload::other_labels`].
    pub metadata: Metadata<'a>,
    /// The labels every Pod of this workload carries: a Pod's own, a controller's pod template's.
    /// Only these decide the role, because only these reach the Pods the policy judges later.
    pub pod_labels: Labels<'a>,
    /// Labels that reach no Pod, with where they were found: a controller's own and a CronJob's
    /// `spec.jobTemplate.metadata.labels` (which go to its Jobs, not their Pods).
    pub other_labels: Vec<(&'static str, Labels<'a>)>,
    /// The pod spec every Pod of the workload gets.
    pub pod: PodSpec<'a>,
}

/// A ServiceAccount object, judged only when `serviceAccountObjects` is on.
#[derive(Debug)]
pub struct ServiceAccountObject<'a> {
    /// The ServiceAccount's metadata: its name decides whether it is a puller's account.
    pub metadata: Metadata<'a>,
    /// Its `automountServiceAccountToken`, checked when `serviceAccountObjects` is on.
    pub automount: Automount,
}

/// The object of a request, as the rules see it.
#[derive(Debug)]
pub enum ObjectView<'a> {
    /// A Pod, or a controller with its pod template.
    Workload(Workload<'a>),
    /// A ServiceAccount, judged only when `serviceAccountObjects` is on.
    ServiceAccount(ServiceAccountObject<'a>),
}

impl<'a> ObjectView<'a> {
    /// The object's own metadata.
    pub fn metadata(&self) -> &Metadata<'a> {
        match self {
            ObjectView::Workload(w) => &w.metadata,
            ObjectView::ServiceAccount(s) => &s.metadata,
        }
    }
}

fn check_kind(expected: ResourceKind, found: Option<&CowStr<'_>>) -> Result<(), String> {
    match found {
        Some(k) if k.as_str() != expected.name() => Err(format!(
            "the request is for a {} but the object's kind is {:?}",
            expected.name(),
            k.as_str()
        )),
        _ => Ok(()),
    }
}

/// An object decoded by the shape of its kind, before the checks that make it a view.
enum Parsed<'a> {
    ServiceAccount(Object<'a, IgnoredAny>),
    Pod(Object<'a, PodSpec<'a>>),
    Controller(Object<'a, ControllerSpec<'a>>),
    CronJob(Object<'a, CronJobSpec<'a>>),
}

impl<'a> Parsed<'a> {
    /// Reads the object from any JSON deserializer: a slice of its own, or the payload's
    /// deserializer positioned on the request's `object` (so the envelope and the object are
    /// read in one pass).
    fn parse<D: Deserializer<'a>>(kind: ResourceKind, d: D) -> Result<Self, D::Error> {
        Ok(match kind {
            ResourceKind::ServiceAccount => Parsed::ServiceAccount(MapOnly::deserialize(d)?.0),
            ResourceKind::Pod => Parsed::Pod(MapOnly::deserialize(d)?.0),
            ResourceKind::CronJob => Parsed::CronJob(MapOnly::deserialize(d)?.0),
            _ => Parsed::Controller(MapOnly::deserialize(d)?.0),
        })
    }

    /// The view the rules read. Structural problems (a wrong kind, a missing `spec` or
    /// `template`) come back as a message for the rejection.
    fn view(self, kind: ResourceKind) -> Result<ObjectView<'a>, String> {
        let mut other_labels = Vec::new();
        let (mut metadata, pod_labels, pod) = match self {
            Parsed::ServiceAccount(object) => {
                check_kind(kind, object.kind.as_ref())?;
                return Ok(ObjectView::ServiceAccount(ServiceAccountObject {
                    metadata: object.metadata.unwrap_or_default(),
                    automount: object.automount_service_account_token,
                }));
            }
            Parsed::Pod(object) => {
                check_kind(kind, object.kind.as_ref())?;
                let spec = object.spec.ok_or_else(|| missing(kind, "spec"))?;
                let mut metadata = object.metadata.unwrap_or_default();
                let labels = metadata.labels.take().unwrap_or_default();
                (metadata, labels, spec)
            }
            Parsed::CronJob(object) => {
                check_kind(kind, object.kind.as_ref())?;
                let job = object
                    .spec
                    .ok_or_else(|| missing(kind, "spec"))?
                    .job_template
                    .ok_or_else(|| missing(kind, "spec.jobTemplate"))?;
                let template = job
                    .spec
                    .and_then(|s| s.template)
                    .ok_or_else(|| missing(kind, "spec.jobTemplate.spec.template"))?;
                let spec = template
                    .spec
                    .ok_or_else(|| missing(kind, "spec.jobTemplate.spec.template.spec"))?;
                other_labels.push(("spec.jobTemplate.metadata.labels", labels_of(job.metadata)));
                let metadata = object.metadata.unwrap_or_default();
                (metadata, labels_of(template.metadata), spec)
            }
            Parsed::Controller(object) => {
                check_kind(kind, object.kind.as_ref())?;
                let template = object
                    .spec
                    .ok_or_else(|| missing(kind, "spec"))?
                    .template
                    .ok_or_else(|| missing(kind, "spec.template"))?;
                let spec = template
                    .spec
                    .ok_or_else(|| missing(kind, "spec.template.spec"))?;
                let metadata = object.metadata.unwrap_or_default();
                (metadata, labels_of(template.metadata), spec)
            }
        };
        if kind != ResourceKind::Pod {
            other_labels.insert(
                0,
                (
                    "metadata.labels",
                    metadata.labels.take().unwrap_or_default(),
                ),
            );
        }
        Ok(ObjectView::Workload(Workload {
            kind,
            metadata,
            pod_labels,
            other_labels,
            pod,
        }))
    }
}

fn missing(kind: ResourceKind, path: &str) -> String {
    format!("the {} object has no {path}", kind.name())
}

fn labels_of<'a>(metadata: Option<Metadata<'a>>) -> Labels<'a> {
    metadata.and_then(|m| m.labels).unwrap_or_default()
}

/// Decodes the object of a request for `kind` from its own JSON text. Structural problems (a
/// wrong kind, a missing `spec` or `template`, a field of the wrong type) come back as a
/// message for the rejection.
pub fn decode(kind: ResourceKind, raw: &str) -> Result<ObjectView<'_>, String> {
    let cannot = |e: serde_json::Error| format!("cannot decode the {} object: {e}", kind.name());
    let mut de = serde_json::Deserializer::from_str(raw);
    let parsed = Parsed::parse(kind, &mut de).map_err(cannot)?;
    de.end().map_err(cannot)?;
    parsed.view(kind)
}

/// Decodes the object for `kind` where the deserializer stands, inside the payload: the
/// envelope's one pass. Any problem is an error of the deserializer, so the caller falls back
/// to [`decode`] for the message.
pub fn decode_in<'a, D: Deserializer<'a>>(
    kind: ResourceKind,
    d: D,
) -> Result<ObjectView<'a>, D::Error> {
    Parsed::parse(kind, d)?
        .view(kind)
        .map_err(serde::de::Error::custom)
}

impl Metadata<'_> {
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
mod tests {
    use super::*;

    fn workload(kind: ResourceKind, raw: &str) -> Workload<'_> {
        match decode(kind, raw).expect("decodes") {
            ObjectView::Workload(w) => w,
            ObjectView::ServiceAccount(_) => panic!("not a workload"),
        }
    }

    #[test]
    fn pod_fields_are_read_and_unknown_ones_skipped() {
        let raw = r#"{"kind":"Pod","metadata":{"generateName":"hook-image-puller-","namespace":"jhub",
            "labels":{"component":"hook-image-puller"},"futureField":{"x":1}},
            "spec":{"serviceAccountName":"default","serviceAccount":"default","automountServiceAccountToken":"false",
            "volumes":[{"name":"kube-api-access-1","projected":{"sources":[{"serviceAccountToken":{"path":"token"}},
              {"configMap":{"name":"kube-root-ca.crt"}},{"downwardAPI":{"items":[]}}]}}],
            "containers":[{"name":"pause","image":"x","volumeMounts":[{"name":"kube-api-access-1","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true}]}],
            "unknownSpecField":[1,2,3]}}"#;
        let w = workload(ResourceKind::Pod, raw);
        assert_eq!(
            w.metadata.display_name(),
            "jhub/hook-image-puller-<generated>"
        );
        assert_eq!(
            w.pod_labels.get("component").map(CowStr::as_str),
            Some("hook-image-puller")
        );
        assert!(w.other_labels.is_empty());
        assert_eq!(
            w.pod.service_account_name.as_ref().map(CowStr::as_str),
            Some("default")
        );
        assert_eq!(
            w.pod.automount_service_account_token,
            Automount::Other("\"false\"".into())
        );
        let volumes = w.pod.volumes.as_ref().expect("volumes");
        let sources = volumes[0]
            .projected
            .as_ref()
            .and_then(|p| p.sources.as_ref())
            .expect("sources");
        assert!(sources[0].service_account_token.is_some());
        assert!(sources[2].downward_api.is_some());
        let containers = w.pod.containers.as_ref().expect("containers");
        assert_eq!(containers[0].volume_mounts.as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn only_the_pod_template_labels_are_pod_labels() {
        let raw = r#"{"metadata":{"name":"c","labels":{"a":"1"}},"spec":{"jobTemplate":{"metadata":{"labels":{"b":"2"}},
            "spec":{"template":{"metadata":{"labels":{"c":"3"}},"spec":{"automountServiceAccountToken":false}}}}}}"#;
        let w = workload(ResourceKind::CronJob, raw);
        let keys = |l: &Labels<'_>| l.keys().map(|k| k.as_str().to_owned()).collect::<Vec<_>>();
        assert_eq!(keys(&w.pod_labels), ["c"]);
        let other: Vec<(&str, Vec<String>)> = w
            .other_labels
            .iter()
            .map(|(at, l)| (*at, keys(l)))
            .collect();
        assert_eq!(
            other,
            [
                ("metadata.labels", vec!["a".to_owned()]),
                ("spec.jobTemplate.metadata.labels", vec!["b".to_owned()])
            ]
        );
        assert_eq!(w.pod.automount_service_account_token, Automount::False);
        // No labels anywhere: an empty set, which selectors are matched against like any other.
        let w = workload(
            ResourceKind::DaemonSet,
            r#"{"spec":{"template":{"spec":{}}}}"#,
        );
        assert!(w.pod_labels.is_empty());
    }

    #[test]
    fn structural_problems_are_explained() {
        let err = |kind, raw| decode(kind, raw).expect_err("must fail");
        assert_eq!(
            err(ResourceKind::Pod, r#"{"metadata":{}}"#),
            "the Pod object has no spec"
        );
        assert_eq!(
            err(ResourceKind::DaemonSet, r#"{"spec":{}}"#),
            "the DaemonSet object has no spec.template"
        );
        assert_eq!(
            err(
                ResourceKind::Job,
                r#"{"spec":{"template":{"metadata":{}}}}"#
            ),
            "the Job object has no spec.template.spec"
        );
        assert_eq!(
            err(ResourceKind::CronJob, r#"{"spec":{"jobTemplate":{}}}"#),
            "the CronJob object has no spec.jobTemplate.spec.template"
        );
        assert_eq!(
            err(ResourceKind::Pod, r#"{"kind":"Deployment","spec":{}}"#),
            "the request is for a Pod but the object's kind is \"Deployment\""
        );
        assert!(
            err(ResourceKind::Pod, r#"{"spec":{"volumes":{"a":1}}}"#).starts_with(
                "cannot decode the Pod object: invalid type: map, expected a sequence"
            )
        );
        assert!(err(ResourceKind::Pod, r#"[1]"#).starts_with("cannot decode the Pod object"));
        assert!(
            err(ResourceKind::Pod, r#"{"spec":{"serviceAccountName":7}}"#)
                .contains("expected a string")
        );
    }

    #[test]
    fn arrays_where_objects_belong_are_refused() {
        // serde would fill a struct from an array by position: this pod spec read as compliant.
        for (kind, raw) in [
            (
                ResourceKind::Pod,
                r#"{"spec":["hook-image-puller","hook-image-puller",false]}"#,
            ),
            (ResourceKind::Pod, r#"["Pod",{},{}]"#),
            (ResourceKind::Pod, r#"{"metadata":[],"spec":{}}"#),
            (
                ResourceKind::Pod,
                r#"{"spec":{"volumes":[["t",{"sources":[{"serviceAccountToken":{}}]}]]}}"#,
            ),
            (
                ResourceKind::Pod,
                r#"{"spec":{"volumes":[{"name":"t","projected":[[{}]]}]}}"#,
            ),
            (
                ResourceKind::Pod,
                r#"{"spec":{"volumes":[{"name":"t","projected":{"sources":[[{}]]}}]}}"#,
            ),
            (
                ResourceKind::Pod,
                r#"{"spec":{"volumes":[{"name":"t","projected":{"sources":[{"serviceAccountToken":[]}]}}]}}"#,
            ),
            (
                ResourceKind::Pod,
                r#"{"spec":{"containers":[["c",[["v","/var/run/secrets"]]]]}}"#,
            ),
            (
                ResourceKind::Pod,
                r#"{"spec":{"containers":[{"name":"c","volumeMounts":[["v","/var/run/secrets"]]}]}}"#,
            ),
            (ResourceKind::DaemonSet, r#"{"spec":[{"spec":{}}]}"#),
            (ResourceKind::DaemonSet, r#"{"spec":{"template":[{},{}]}}"#),
            (
                ResourceKind::DaemonSet,
                r#"{"spec":{"template":{"metadata":[{}],"spec":{}}}}"#,
            ),
            (ResourceKind::CronJob, r#"{"spec":{"jobTemplate":[{},{}]}}"#),
            (
                ResourceKind::CronJob,
                r#"{"spec":{"jobTemplate":{"spec":[{"spec":{}}]}}}"#,
            ),
        ] {
            let e = decode(kind, raw).expect_err(raw);
            assert!(
                e.contains("invalid type: sequence, expected a map"),
                "{raw}: {e}"
            );
        }
    }

    #[test]
    fn automount_shapes() {
        let a = |json: &str| serde_json::from_str::<Automount>(json).expect("any JSON");
        assert_eq!(a("false"), Automount::False);
        assert_eq!(a("true"), Automount::True);
        assert_eq!(a("null"), Automount::Other("null".into()));
        assert_eq!(a("0"), Automount::Other("0".into()));
        // Spelled otherwise, shown the same.
        assert_eq!(a(r#""f\u0061lse""#), Automount::Other(r#""false""#.into()));
        assert_eq!(
            a(r#"{"\u0066alse": [true]}"#),
            Automount::Other("a JSON object".into())
        );
        assert_eq!(a("[ false ]"), Automount::Other("a JSON list".into()));
        let number = a(&"9".repeat(100));
        assert!(matches!(number, Automount::Other(ref t) if t.len() == 64 && t.ends_with("...")));
        let long = a(&format!("\"{}\"", "é".repeat(100)));
        assert!(matches!(long, Automount::Other(ref t) if t.len() <= 64 && t.ends_with("...")));
    }
}

#[cfg(test)]
mod owner_tests {
    use super::*;

    #[test]
    fn the_controlling_deployment_is_found() {
        let rs = |refs: &str| {
            format!(
                r#"{{"metadata":{{"ownerReferences":{refs}}},"spec":{{"template":{{"spec":{{}}}}}}}}"#
            )
        };
        let controller_kind = |refs: &str| match decode(ResourceKind::ReplicaSet, &rs(refs)) {
            Ok(ObjectView::Workload(w)) => w.metadata.controller().map(|o| o.is_deployment()),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            controller_kind(
                r#"[{"apiVersion":"apps/v1","kind":"Deployment","name":"d","uid":"u","controller":true}]"#
            ),
            Some(true)
        );
        assert_eq!(
            controller_kind(
                r#"[{"apiVersion":"apps/v1","kind":"Deployment","name":"d","uid":"u"}]"#
            ),
            None
        );
        assert_eq!(
            controller_kind(
                r#"[{"apiVersion":"example.com/v1","kind":"Deployment","name":"d","controller":true}]"#
            ),
            Some(false)
        );
        assert_eq!(controller_kind("[]"), None);
    }
}
