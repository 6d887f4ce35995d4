//! Partial, borrowed views of the objects the policy judges: only the fields the rules read are
//! decoded, everything else is skipped by the parser. These views never feed a mutation (that
//! works on the raw JSON), so ignoring unknown fields here loses nothing.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::request::{ResourceKind, Str};
use crate::selector::Labels;

/// `automountServiceAccountToken` as found, including the shapes a typed decoder would refuse:
/// the rule is "explicitly `false`", so a string or a null must be seen, not rejected as noise.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Automount {
    #[default]
    Unset,
    False,
    True,
    /// Anything that is not a boolean, shown in messages as its JSON text.
    Other(String),
}

impl<'de> Deserialize<'de> for Automount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(false) => Automount::False,
            serde_json::Value::Bool(true) => Automount::True,
            other => {
                let mut text = other.to_string();
                if text.len() > 64 {
                    text.truncate(text.floor_char_boundary(61));
                    text.push_str("...");
                }
                Automount::Other(text)
            }
        })
    }
}

impl Automount {
    pub fn describe(&self) -> String {
        match self {
            Automount::Unset => "unset (defaults to true)".into(),
            Automount::False => "false".into(),
            Automount::True => "true".into(),
            Automount::Other(text) => format!("{text} (not a boolean)"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata<'a> {
    #[serde(default, borrow)]
    pub name: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub generate_name: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub namespace: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub labels: Option<Labels<'a>>,
    #[serde(default)]
    pub deletion_timestamp: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec<'a> {
    #[serde(default, borrow)]
    pub service_account_name: Option<Str<'a>>,
    /// The deprecated alias, still mirrored by the API server into every Pod.
    #[serde(default, borrow)]
    pub service_account: Option<Str<'a>>,
    #[serde(default)]
    pub automount_service_account_token: Automount,
    #[serde(default, borrow, deserialize_with = "maps")]
    pub volumes: Option<Vec<Volume<'a>>>,
    #[serde(default, borrow, deserialize_with = "maps")]
    pub containers: Option<Vec<Container<'a>>>,
    #[serde(default, borrow, deserialize_with = "maps")]
    pub init_containers: Option<Vec<Container<'a>>>,
    #[serde(default, borrow, deserialize_with = "maps")]
    pub ephemeral_containers: Option<Vec<Container<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Volume<'a> {
    #[serde(default, borrow)]
    pub name: Str<'a>,
    #[serde(default, borrow, deserialize_with = "map")]
    pub projected: Option<Projected<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Projected<'a> {
    #[serde(default, borrow, deserialize_with = "maps")]
    pub sources: Option<Vec<ProjectionSource<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectionSource<'a> {
    #[serde(default, borrow, deserialize_with = "map")]
    pub service_account_token: Option<TokenProjection<'a>>,
    #[serde(default, borrow, deserialize_with = "map")]
    pub config_map: Option<NamedRef<'a>>,
    #[serde(default, rename = "downwardAPI")]
    pub downward_api: Option<IgnoredAny>,
    #[serde(default)]
    pub secret: Option<IgnoredAny>,
    #[serde(default)]
    pub cluster_trust_bundle: Option<IgnoredAny>,
    #[serde(default)]
    pub pod_certificate: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenProjection<'a> {
    #[serde(default, borrow)]
    pub audience: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct NamedRef<'a> {
    #[serde(default, borrow)]
    pub name: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container<'a> {
    #[serde(default, borrow)]
    pub name: Str<'a>,
    #[serde(default, borrow, deserialize_with = "maps")]
    pub volume_mounts: Option<Vec<VolumeMount<'a>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount<'a> {
    #[serde(default, borrow)]
    pub name: Str<'a>,
    #[serde(default, borrow)]
    pub mount_path: Str<'a>,
    #[serde(default, borrow)]
    pub sub_path: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub sub_path_expr: Option<Str<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Template<'a> {
    #[serde(default, borrow, deserialize_with = "map")]
    metadata: Option<Metadata<'a>>,
    #[serde(default, borrow, deserialize_with = "map")]
    spec: Option<PodSpec<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct TemplateSpec<'a> {
    #[serde(default, borrow, deserialize_with = "map")]
    template: Option<Template<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CronJobSpec<'a> {
    #[serde(default, borrow, deserialize_with = "map")]
    job_template: Option<JobTemplate<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct JobTemplate<'a> {
    #[serde(default, borrow, deserialize_with = "map")]
    metadata: Option<Metadata<'a>>,
    #[serde(default, borrow, deserialize_with = "map")]
    spec: Option<TemplateSpec<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "S: Deserialize<'de>"))]
struct Object<'a, S> {
    #[serde(default, borrow)]
    kind: Option<Str<'a>>,
    #[serde(default, borrow, deserialize_with = "map")]
    metadata: Option<Metadata<'a>>,
    #[serde(default, deserialize_with = "map")]
    spec: Option<S>,
    /// Only ServiceAccount objects carry this at the top level.
    #[serde(default)]
    automount_service_account_token: Automount,
}

/// A struct that must be a JSON object. serde's derived structs also accept a JSON array and
/// fill their fields by position (`"spec": ["hook-image-puller", "hook-image-puller", false]`
/// would read as a compliant pod spec). The API server never sends one, and the mutation opens
/// objects as maps, so an array where an object belongs is a decoding error, as in Go.
struct MapOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MapOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData)).map(MapOnly)
    }
}

/// An optional struct field that must be a JSON object (or null).
fn map<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Option::<MapOnly<T>>::deserialize(d)?.map(|m| m.0))
}

/// An optional list of structs, each a JSON object.
fn maps<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    Ok(Option::<Vec<MapOnly<T>>>::deserialize(d)?.map(|v| v.into_iter().map(|m| m.0).collect()))
}

/// A Pod or a controller's pod template, reduced to what the rules read.
#[derive(Debug)]
pub struct Workload<'a> {
    pub kind: ResourceKind,
    pub metadata: Metadata<'a>,
    /// Every label set that identifies the workload: the object's own, and for controllers the
    /// pod template's (and a CronJob's job template's). A role is matched against each, so
    /// labelling only the controller or only the template does not hide a puller.
    pub label_sets: Vec<Labels<'a>>,
    pub pod: PodSpec<'a>,
}

/// A ServiceAccount object, judged only when `serviceAccountObjects` is on.
#[derive(Debug)]
pub struct ServiceAccountObject<'a> {
    pub metadata: Metadata<'a>,
    pub automount: Automount,
}

#[derive(Debug)]
pub enum Decoded<'a> {
    Workload(Workload<'a>),
    ServiceAccount(ServiceAccountObject<'a>),
}

impl<'a> Decoded<'a> {
    pub fn metadata(&self) -> &Metadata<'a> {
        match self {
            Decoded::Workload(w) => &w.metadata,
            Decoded::ServiceAccount(s) => &s.metadata,
        }
    }
}

fn check_kind(expected: ResourceKind, found: Option<&Str<'_>>) -> Result<(), String> {
    match found {
        Some(k) if k.as_str() != expected.name() => Err(format!(
            "the request is for a {} but the object's kind is {:?}",
            expected.name(),
            k.as_str()
        )),
        _ => Ok(()),
    }
}

fn decode_object<'a, S: Deserialize<'a>>(
    kind: ResourceKind,
    raw: &'a str,
) -> Result<Object<'a, S>, String> {
    let MapOnly(object): MapOnly<Object<'a, S>> = serde_json::from_str(raw)
        .map_err(|e| format!("cannot decode the {} object: {e}", kind.name()))?;
    check_kind(kind, object.kind.as_ref())?;
    Ok(object)
}

fn missing(kind: ResourceKind, path: &str) -> String {
    format!("the {} object has no {path}", kind.name())
}

/// Decodes the object of a request for `kind`. Structural problems (a wrong kind, a missing
/// `spec` or `template`, a field of the wrong type) come back as a message for the rejection.
pub fn decode(kind: ResourceKind, raw: &str) -> Result<Decoded<'_>, String> {
    let mut label_sets = Vec::new();
    let (metadata, pod) = match kind {
        ResourceKind::ServiceAccount => {
            let object: Object<'_, IgnoredAny> = decode_object(kind, raw)?;
            return Ok(Decoded::ServiceAccount(ServiceAccountObject {
                metadata: object.metadata.unwrap_or_default(),
                automount: object.automount_service_account_token,
            }));
        }
        ResourceKind::Pod => {
            let object: Object<'_, PodSpec<'_>> = decode_object(kind, raw)?;
            let spec = object.spec.ok_or_else(|| missing(kind, "spec"))?;
            (object.metadata.unwrap_or_default(), spec)
        }
        ResourceKind::CronJob => {
            let object: Object<'_, CronJobSpec<'_>> = decode_object(kind, raw)?;
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
            label_sets.extend(job.metadata.and_then(|m| m.labels));
            label_sets.extend(template.metadata.and_then(|m| m.labels));
            (object.metadata.unwrap_or_default(), spec)
        }
        _ => {
            let object: Object<'_, TemplateSpec<'_>> = decode_object(kind, raw)?;
            let template = object
                .spec
                .ok_or_else(|| missing(kind, "spec"))?
                .template
                .ok_or_else(|| missing(kind, "spec.template"))?;
            let spec = template
                .spec
                .ok_or_else(|| missing(kind, "spec.template.spec"))?;
            label_sets.extend(template.metadata.and_then(|m| m.labels));
            (object.metadata.unwrap_or_default(), spec)
        }
    };
    let mut metadata = metadata;
    label_sets.extend(metadata.labels.take());
    Ok(Decoded::Workload(Workload {
        kind,
        metadata,
        label_sets,
        pod,
    }))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(kind: ResourceKind, raw: &str) -> Workload<'_> {
        match decode(kind, raw).expect("decodes") {
            Decoded::Workload(w) => w,
            Decoded::ServiceAccount(_) => panic!("not a workload"),
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
        assert_eq!(w.label_sets.len(), 1);
        assert_eq!(
            w.pod.service_account_name.as_ref().map(Str::as_str),
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
    fn controllers_collect_every_label_set() {
        let raw = r#"{"metadata":{"name":"c","labels":{"a":"1"}},"spec":{"jobTemplate":{"metadata":{"labels":{"b":"2"}},
            "spec":{"template":{"metadata":{"labels":{"c":"3"}},"spec":{"automountServiceAccountToken":false}}}}}}"#;
        let w = workload(ResourceKind::CronJob, raw);
        assert_eq!(w.label_sets.len(), 3);
        assert_eq!(w.pod.automount_service_account_token, Automount::False);
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
        let long = a(&format!("\"{}\"", "é".repeat(100)));
        assert!(matches!(long, Automount::Other(ref t) if t.len() <= 64 && t.ends_with("...")));
    }
}
