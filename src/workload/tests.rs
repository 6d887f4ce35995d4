use super::*;

fn workload(kind: ResourceKind, raw: &str) -> Workload<'_> {
    match decode(kind, raw).expect("decodes") {
        Object::Workload(w) => w,
        Object::ServiceAccount(_) => panic!("not a workload"),
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
    let other: Vec<(String, Vec<String>)> = w
        .other_labels
        .iter()
        .map(|(at, l)| (crate::kinds::labels_field(at), keys(l)))
        .collect();
    assert_eq!(
        other,
        [
            ("metadata.labels".to_owned(), vec!["a".to_owned()]),
            (
                "spec.jobTemplate.metadata.labels".to_owned(),
                vec!["b".to_owned()]
            )
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
        "the CronJob object has no spec.jobTemplate.spec"
    );
    assert_eq!(
        err(ResourceKind::Pod, r#"{"kind":"Deployment","spec":{}}"#),
        "the request is for a Pod but the object's kind is \"Deployment\""
    );
    assert!(
        err(ResourceKind::Pod, r#"{"spec":{"volumes":{"a":1}}}"#)
            .starts_with("cannot decode the Pod object: invalid type: map, expected a sequence")
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

#[test]
fn the_controlling_deployment_is_found() {
    let rs = |refs: &str| {
        format!(
            r#"{{"metadata":{{"ownerReferences":{refs}}},"spec":{{"template":{{"spec":{{}}}}}}}}"#
        )
    };
    let controller_kind = |refs: &str| match decode(ResourceKind::ReplicaSet, &rs(refs)) {
        Ok(Object::Workload(w)) => w.metadata.controller().map(|o| o.is_deployment()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        controller_kind(
            r#"[{"apiVersion":"apps/v1","kind":"Deployment","name":"d","uid":"u","controller":true}]"#
        ),
        Some(true)
    );
    assert_eq!(
        controller_kind(r#"[{"apiVersion":"apps/v1","kind":"Deployment","name":"d","uid":"u"}]"#),
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

#[test]
fn a_repeated_member_on_the_walk_is_refused_like_a_typed_field() {
    for (kind, raw, key) in [
        (
            ResourceKind::Pod,
            r#"{"metadata":{},"metadata":{},"spec":{}}"#,
            "metadata",
        ),
        (
            ResourceKind::Pod,
            r#"{"spec":{},"spec":{"serviceAccountName":"x"}}"#,
            "spec",
        ),
        (
            ResourceKind::DaemonSet,
            r#"{"spec":{"template":{"spec":{}},"template":{"spec":{}}}}"#,
            "template",
        ),
        (
            ResourceKind::ServiceAccount,
            r#"{"automountServiceAccountToken":false,"automountServiceAccountToken":true}"#,
            "automountServiceAccountToken",
        ),
    ] {
        let e = decode(kind, raw).expect_err(raw);
        assert!(
            e.contains(&format!("duplicate field `{key}`")),
            "{raw}: {e}"
        );
    }
}
