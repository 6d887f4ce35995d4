use super::*;
use crate::cluster::KubewardenHost;

const LEGACY_HOOK_POD: &str = r#"{"kind":"Pod","metadata":{"name":"p","namespace":"jhub",
    "labels":{"component":"hook-image-puller"}DELETION},"spec":{"serviceAccountName":"default",
    "automountServiceAccountToken":false,"containers":[{"name":"pause","image":"pause"}]}}"#;

const ADMIN: &str = r#"{"username":"kubernetes-admin"}"#;

fn pod(deleting: bool) -> String {
    LEGACY_HOOK_POD.replace(
        "DELETION",
        if deleting {
            r#","deletionTimestamp":"2026-11-26T10:00:00Z""#
        } else {
            ""
        },
    )
}

fn request_as(
    user: &str,
    kind: &str,
    operation: &str,
    object: &str,
    old: Option<&str>,
    settings: &str,
) -> Decision {
    let group = match kind {
        "Pod" => "",
        "Job" | "CronJob" => "batch",
        _ => "apps",
    };
    let payload = format!(
        r#"{{"request":{{"kind":{{"group":"{group}","version":"v1","kind":"{kind}"}},"operation":"{operation}",
        "userInfo":{user},"object":{object},"oldObject":{}}},"settings":{settings}}}"#,
        old.unwrap_or("null")
    );
    evaluate(payload.as_bytes(), &KubewardenHost)
}

fn request(operation: &str, object: &str, old: Option<&str>, settings: &str) -> Decision {
    request_as(ADMIN, "Pod", operation, object, old, settings)
}

fn warnings(d: &Decision) -> &[String] {
    match d {
        Decision::Accept { warnings }
        | Decision::Mutate { warnings, .. }
        | Decision::Reject { warnings, .. } => warnings,
    }
}

#[test]
fn a_deletion_timestamp_on_create_exempts_nothing() {
    // A mutating webhook sees the client's deletionTimestamp before the API server clears it.
    match request("CREATE", &pod(true), None, "{}") {
        Decision::Mutate { warnings, .. } => assert_eq!(warnings.len(), 1, "{warnings:?}"),
        other => panic!("expected a mutation, got {other:?}"),
    }
    match request("CREATE", &pod(true), None, r#"{"mode":"reject"}"#) {
        Decision::Reject { message, .. } => {
            assert!(message.contains("spec.serviceAccountName"), "{message}")
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn only_the_stored_object_says_terminating() {
    let reject = r#"{"mode":"reject"}"#;
    // The stored object is terminating: finalizers may be removed, whatever the new object says.
    assert_eq!(
        request("UPDATE", &pod(true), Some(&pod(true)), reject),
        Decision::accept()
    );
    assert_eq!(
        request("UPDATE", &pod(false), Some(&pod(true)), reject),
        Decision::accept()
    );
    // A deletionTimestamp only in the new object is the client's (the API server refuses it):
    // judged like any UPDATE, here an unchanged template, accepted with a warning.
    match request("UPDATE", &pod(true), Some(&pod(false)), reject) {
        Decision::Accept { warnings } => assert_eq!(warnings.len(), 1, "{warnings:?}"),
        other => panic!("expected an accept with a warning, got {other:?}"),
    }
}

#[test]
fn audits_fail_what_only_a_mutation_would_fix() {
    for user in ["null", "{}", r#"{"username":""}"#] {
        match request_as(user, "Pod", "CREATE", &pod(false), None, "{}") {
            Decision::Reject { message, .. } => {
                assert!(message.contains("(audit of the stored object"), "{message}");
                assert!(
                    message.contains(
                        r#"(1) spec.serviceAccountName is "default", expected "hook-image-puller""#
                    ),
                    "{message}"
                );
            }
            other => panic!("expected a failed audit, got {other:?}"),
        }
    }
    let compliant = pod(false).replace(r#""default""#, r#""hook-image-puller""#);
    assert_eq!(
        request_as("null", "Pod", "CREATE", &compliant, None, "{}"),
        Decision::accept()
    );
    // mode: reject: an audit changes nothing in any mode, so it does not say it left the object
    // unchanged; an admission does.
    assert_eq!(
        request_as("null", "Pod", "CREATE", &pod(false), None, r#"{"mode":"reject"}"#),
        Decision::Reject {
            message: r#"Pod jhub/p (hook image puller, matched by hookPuller.selector) breaks the prepuller ServiceAccount policy (audit of the stored object; with mode: reject the policy fixes nothing at admission either, so make these changes yourself): (1) spec.serviceAccountName is "default", expected "hook-image-puller": run it as ServiceAccount "hook-image-puller" (Zero to JupyterHub 4.1.0 or later: prePuller.hook.serviceAccountImagePuller.create=true and prePuller.hook.serviceAccountImagePuller.name=hook-image-puller; an older chart has no value for it: upgrade it, or create it with kubectl create serviceaccount hook-image-puller -n jhub and let the policy's mode: mutate set it; if yours is named otherwise, set hookPuller.serviceAccountName in the policy settings)"#.into(),
            warnings: vec![]
        }
    );
    match request_as(
        ADMIN,
        "Pod",
        "CREATE",
        &pod(false),
        None,
        r#"{"mode":"reject"}"#,
    ) {
        Decision::Reject { message, .. } => assert!(
            message.contains("(mode: reject, so nothing was changed)"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
}

const RS: &str = r#"{"kind":"ReplicaSet","metadata":{"name":"d-5d8f","namespace":"jhub"OWNER},
    "spec":{"replicas":REPLICAS,"template":{"metadata":{"labels":{"component":"hook-image-puller","pod-template-hash":"5d8f"}},
    "spec":{"serviceAccountName":"default","containers":[{"name":"c"}]}}}}"#;
const DEPLOYMENT_OWNER: &str = r#","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"d","uid":"u","controller":true,"blockOwnerDeletion":true}]"#;

fn rs(owner: &str, replicas: u32) -> String {
    RS.replace("OWNER", owner)
        .replace("REPLICAS", &replicas.to_string())
}

#[test]
fn a_replicaset_its_deployment_controls_is_left_to_the_deployment() {
    for settings in ["{}", r#"{"mode":"reject"}"#] {
        for user in [ADMIN, "null"] {
            let d = request_as(
                user,
                "ReplicaSet",
                "CREATE",
                &rs(DEPLOYMENT_OWNER, 1),
                None,
                settings,
            );
            let Decision::Accept { warnings } = &d else {
                panic!("expected an accept, got {d:?}")
            };
            assert_eq!(warnings.len(), 2, "{warnings:?}");
            assert!(
                warnings[0].starts_with(r#"spec.template.spec.serviceAccountName is "default", expected "hook-image-puller": left as is, this ReplicaSet is controlled by Deployment jhub/d"#),
                "{warnings:?}"
            );
        }
    }
    // Without a controlling Deployment it is judged like any controller.
    let d = request_as(ADMIN, "ReplicaSet", "CREATE", &rs("", 1), None, "{}");
    assert!(matches!(d, Decision::Mutate { .. }), "{d:?}");
    let not_controller = DEPLOYMENT_OWNER.replace(r#""controller":true,"#, "");
    let d = request_as(
        ADMIN,
        "ReplicaSet",
        "CREATE",
        &rs(&not_controller, 1),
        None,
        "{}",
    );
    assert!(matches!(d, Decision::Mutate { .. }), "{d:?}");
}

#[test]
fn updates_that_keep_the_template_are_never_blocked() {
    // A scale by full UPDATE of a stored, non-compliant ReplicaSet of no Deployment.
    for settings in ["{}", r#"{"mode":"reject"}"#] {
        let d = request_as(
            ADMIN,
            "ReplicaSet",
            "UPDATE",
            &rs("", 3),
            Some(&rs("", 1)),
            settings,
        );
        let Decision::Accept { warnings } = &d else {
            panic!("expected an accept, got {d:?}")
        };
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("left as is, this UPDATE does not change the pod template"));
    }
    // A template change is judged in full.
    let changed = rs("", 1).replace(r#""name":"c""#, r#""name":"c2""#);
    let d = request_as(
        ADMIN,
        "ReplicaSet",
        "UPDATE",
        &changed,
        Some(&rs("", 1)),
        "{}",
    );
    assert!(matches!(d, Decision::Mutate { .. }), "{d:?}");
    let d = request_as(
        ADMIN,
        "ReplicaSet",
        "UPDATE",
        &changed,
        Some(&rs("", 1)),
        r#"{"mode":"reject"}"#,
    );
    assert!(matches!(d, Decision::Reject { .. }), "{d:?}");
}

#[test]
fn labels_on_the_controller_only_give_no_role_and_a_warning() {
    let ds = r#"{"kind":"DaemonSet","metadata":{"name":"h","namespace":"jhub","labels":{"component":"hook-image-puller"}},
        "spec":{"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c"}]}}}}"#;
    for settings in ["{}", r#"{"mode":"reject"}"#] {
        let d = request_as(ADMIN, "DaemonSet", "CREATE", ds, None, settings);
        let Decision::Accept { warnings } = &d else {
            panic!("expected an accept, got {d:?}")
        };
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].starts_with(
            "metadata.labels match hookPuller.selector but spec.template.metadata.labels do not"
        ));
    }
    // Judged as any other workload: borrowing a reserved account is refused, warning included.
    let borrowing = ds.replace(
        r#""containers""#,
        r#""serviceAccountName":"hook-image-puller","containers""#,
    );
    let d = request_as(ADMIN, "DaemonSet", "CREATE", &borrowing, None, "{}");
    let Decision::Reject { message, .. } = &d else {
        panic!("expected a rejection, got {d:?}")
    };
    assert!(
        message.contains("reserved for the hook image puller"),
        "{message}"
    );
    assert_eq!(warnings(&d).len(), 1);
}

mod require_existing {
    use super::*;
    use crate::cluster::fake::{FakeCluster, NOT_GRANTED, UNREACHABLE, forbidden, sdk_error};

    const ON: &str = r#"{"requireExistingServiceAccounts":true}"#;
    const ON_REJECT: &str = r#"{"requireExistingServiceAccounts":true,"mode":"reject"}"#;
    const SUBJECT: &str = "Pod jhub/p (hook image puller, matched by hookPuller.selector)";
    const NOT_FOUND: &str = r#"error invoking host capability kubernetes.get_resource: Host error: Callback evaluation failure: Cannot find v1/ServiceAccount named 'hook-image-puller' inside of namespace 'Some("jhub")'"#;

    fn run(cluster: &FakeCluster, user: &str, object: &str, settings: &str) -> Decision {
        let payload = format!(
            r#"{{"request":{{"kind":{{"group":"","version":"v1","kind":"Pod"}},"operation":"CREATE","namespace":"jhub",
            "userInfo":{user},"object":{object}}},"settings":{settings}}}"#
        );
        evaluate(payload.as_bytes(), cluster)
    }

    fn asked(c: &FakeCluster) -> Vec<(String, String, bool)> {
        c.asked.borrow().clone()
    }

    fn q(name: &str, uncached: bool) -> (String, String, bool) {
        ("jhub".into(), name.into(), uncached)
    }

    fn compliant() -> String {
        pod(false).replace(r#""default""#, r#""hook-image-puller""#)
    }

    fn missing() -> Decision {
        Decision::Reject {
            message: format!(
                r#"{SUBJECT} would run as ServiceAccount "hook-image-puller" of namespace "jhub", which does not exist (requireExistingServiceAccounts: true; the host answered {NOT_FOUND:?}): the API server will refuse its Pods, and a Helm hook waiting for them will time out. Have the chart create it (Zero to JupyterHub 4.1.0 or later: prePuller.hook.serviceAccountImagePuller.create=true and prePuller.hook.serviceAccountImagePuller.name=hook-image-puller; an older chart cannot: upgrade it), or create it (kubectl create serviceaccount hook-image-puller -n jhub), or set hookPuller.serviceAccountName in the policy settings to the ServiceAccount you use"#
            ),
            warnings: vec![],
        }
    }

    #[test]
    fn compliant_and_mutated_pullers_need_their_account() {
        for settings in [ON, ON_REJECT] {
            let found = FakeCluster::with(&[("jhub", "hook-image-puller", true)]);
            assert_eq!(
                run(&found, ADMIN, &compliant(), settings),
                Decision::accept()
            );
            assert_eq!(asked(&found), [q("hook-image-puller", false)]);

            let absent = FakeCluster::with(&[]);
            assert_eq!(run(&absent, ADMIN, &compliant(), settings), missing());
            assert_eq!(
                asked(&absent),
                [q("hook-image-puller", false), q("hook-image-puller", true)]
            );

            let fresh = FakeCluster::with(&[("jhub", "hook-image-puller", false)]);
            assert_eq!(
                run(&fresh, ADMIN, &compliant(), settings),
                Decision::accept()
            );
            assert_eq!(
                asked(&fresh),
                [q("hook-image-puller", false), q("hook-image-puller", true)]
            );
        }
        // A chart 4.0.0 pod about to be mutated to an account that does not exist.
        let absent = FakeCluster::with(&[]);
        assert_eq!(run(&absent, ADMIN, &pod(false), ON), missing());
        let found = FakeCluster::with(&[("jhub", "hook-image-puller", true)]);
        assert!(matches!(
            run(&found, ADMIN, &pod(false), ON),
            Decision::Mutate { .. }
        ));
        // Audits look up the same way.
        let absent = FakeCluster::with(&[]);
        assert_eq!(run(&absent, "null", &compliant(), ON), missing());
    }

    /// The cause and the fix each refusal names.
    fn refusals() -> Vec<(String, &'static str, &'static str)> {
        vec![
            (
                NOT_GRANTED.to_owned(),
                "the policy is not granted ServiceAccount lookups",
                "requireExistingServiceAccounts needs a ClusterAdmissionPolicy listing contextAwareResources [{apiVersion: v1, kind: ServiceAccount}] (an AdmissionPolicy cannot look anything up: Kubewarden grants it none, so use the ClusterAdmissionPolicy or set requireExistingServiceAccounts: false; a policy's hostCapabilities must allow kubernetes/get_resource)",
            ),
            (
                forbidden("jhub", "hook-image-puller"),
                "the API server forbids policy-server's ServiceAccount to read ServiceAccounts",
                "let policy-server's ServiceAccount get, list and watch serviceaccounts (the ClusterRole and ClusterRoleBinding in the policy's README, Require existing ServiceAccounts)",
            ),
            (
                UNREACHABLE.to_owned(),
                "the lookup failed (the API server may be unreachable)",
                "check that policy-server reaches the API server (its logs say why the lookup failed)",
            ),
        ]
    }

    #[test]
    fn a_refused_lookup_admits_a_compliant_puller_with_the_cause() {
        for (host, cause, fix) in refusals() {
            let answer = sdk_error(&host);
            let warning = format!(
                r#"{SUBJECT} runs as ServiceAccount "hook-image-puller" of namespace "jhub", which the policy could not look up: {cause} (requireExistingServiceAccounts: true; the host answered {answer:?}). Admitted, since the API server itself refuses Pods whose ServiceAccount does not exist; for the lookup to work, {fix}"#
            );
            // Admission in both modes, and the audit scanner's request alike.
            for (user, settings) in [
                (ADMIN, ON),
                (ADMIN, ON_REJECT),
                ("null", ON),
                ("null", ON_REJECT),
            ] {
                let cluster = FakeCluster::refusing(&host);
                assert_eq!(
                    run(&cluster, user, &compliant(), settings),
                    Decision::Accept {
                        warnings: vec![warning.clone()]
                    },
                    "{host} {user} {settings}"
                );
                // Not granted is refused the same way twice: asked once.
                let asks = if host == NOT_GRANTED { 1 } else { 2 };
                assert_eq!(asked(&cluster).len(), asks);
                assert!(!warning.contains("which does not exist"));
            }
        }
    }

    #[test]
    fn a_refused_lookup_makes_no_blind_mutation() {
        for (host, cause, fix) in refusals() {
            let answer = sdk_error(&host);
            let cluster = FakeCluster::refusing(&host);
            assert_eq!(
                run(&cluster, ADMIN, &pod(false), ON),
                Decision::Reject {
                    message: format!(
                        r#"{SUBJECT} would be changed to run as ServiceAccount "hook-image-puller" of namespace "jhub", which the policy could not look up: {cause} (requireExistingServiceAccounts: true; the host answered {answer:?}), so nothing was changed. For the lookup to work, {fix}; or make these changes yourself: (1) spec.serviceAccountName is "default", expected "hook-image-puller": run it as ServiceAccount "hook-image-puller" (Zero to JupyterHub 4.1.0 or later: prePuller.hook.serviceAccountImagePuller.create=true and prePuller.hook.serviceAccountImagePuller.name=hook-image-puller; an older chart has no value for it: upgrade it, or create it with kubectl create serviceaccount hook-image-puller -n jhub and let the policy's mode: mutate set it; if yours is named otherwise, set hookPuller.serviceAccountName in the policy settings)"#
                    ),
                    warnings: vec![]
                },
                "{host}"
            );
            // Rejected for its violations before any lookup: in reject mode, and in an audit.
            for (user, settings) in [(ADMIN, ON_REJECT), ("null", ON)] {
                let cluster = FakeCluster::refusing(&host);
                let d = run(&cluster, user, &pod(false), settings);
                let Decision::Reject { message, .. } = &d else {
                    panic!("{d:?}")
                };
                assert!(!message.contains("look up"), "{message}");
                assert!(asked(&cluster).is_empty());
            }
        }
    }

    #[test]
    fn updates_that_start_no_pods_ask_nothing() {
        let relabelled = compliant().replace(
            r#""namespace":"jhub","#,
            r#""namespace":"jhub","annotations":{"a":"b"},"#,
        );
        let none = FakeCluster::with(&[]);
        let payload = format!(
            r#"{{"request":{{"kind":{{"group":"","version":"v1","kind":"Pod"}},"operation":"UPDATE","namespace":"jhub",
            "userInfo":{ADMIN},"object":{relabelled},"oldObject":{}}},"settings":{ON}}}"#,
            compliant()
        );
        // A running Pod (its ServiceAccount deleted meanwhile) still takes a label or a finalizer.
        assert_eq!(evaluate(payload.as_bytes(), &none), Decision::accept());
        assert!(asked(&none).is_empty(), "{:?}", asked(&none));
    }

    #[test]
    fn nothing_else_asks_the_host() {
        let none = FakeCluster::with(&[]);
        let unrelated =
            r#"{"metadata":{"labels":{"app":"x"}},"spec":{"serviceAccountName":"default"}}"#;
        let borrower = r#"{"metadata":{"labels":{"app":"x"}},"spec":{"serviceAccountName":"hook-image-puller"}}"#;
        assert_eq!(run(&none, ADMIN, unrelated, ON), Decision::accept());
        assert!(matches!(
            run(&none, ADMIN, borrower, ON),
            Decision::Reject { .. }
        ));
        // The setting off: today's decision, no question.
        assert_eq!(run(&none, ADMIN, &compliant(), "{}"), Decision::accept());
        // A rejected puller is not looked up either.
        assert!(matches!(
            run(&none, ADMIN, &pod(false), ON_REJECT),
            Decision::Reject { .. }
        ));
        assert!(asked(&none).is_empty(), "{:?}", asked(&none));
    }
}

#[test]
fn a_service_account_update_is_judged_by_its_automount() {
    let sa = |automount: &str| {
        format!(
            r#"{{"kind":"ServiceAccount","metadata":{{"name":"hook-image-puller","namespace":"jhub"}}{automount}}}"#
        )
    };
    let update = |new: &str, old: &str, mode: &str| {
        let payload = format!(
            r#"{{"request":{{"kind":{{"group":"","version":"v1","kind":"ServiceAccount"}},"operation":"UPDATE",
            "userInfo":{ADMIN},"object":{new},"oldObject":{old}}},
            "settings":{{"serviceAccountObjects":true,"mode":"{mode}"}}}}"#
        );
        evaluate(payload.as_bytes(), &KubewardenHost)
    };
    let off = sa(r#","automountServiceAccountToken":false"#);
    let on = sa(r#","automountServiceAccountToken":true"#);
    // Turning the token back on is what the UPDATE introduces: refused, or fixed.
    let Decision::Reject { message, .. } = update(&on, &off, "reject") else {
        panic!("accepted a puller ServiceAccount turning automount back on")
    };
    assert!(
        message.contains("automountServiceAccountToken is true, expected false"),
        "{message}"
    );
    assert!(matches!(
        update(&on, &off, "mutate"),
        Decision::Mutate { .. }
    ));
    // An UPDATE that leaves a non-compliant automount as it was is not blocked.
    let unset = sa("");
    let annotated = unset.replace(
        r#""namespace":"jhub""#,
        r#""namespace":"jhub","annotations":{"a":"b"}"#,
    );
    assert!(
        matches!(update(&annotated, &unset, "reject"), Decision::Accept { warnings } if warnings.len() == 1)
    );
}

/// An UPDATE of a Pod or a Job is refused only for what it introduces, and since their pod spec
/// cannot change, the message says what to undo, never the fix of a CREATE.
mod introduced {
    use super::*;

    const UNLABELLED: &str = r#"{"kind":"Pod","metadata":{"name":"p","namespace":"jhub","labels":{"app":"x"}},
        "spec":{"serviceAccountName":"default","containers":[{"name":"c","image":"pause"}]EXTRA}}"#;

    fn unlabelled(extra: &str) -> String {
        UNLABELLED.replace("EXTRA", extra)
    }

    fn relabelled(extra: &str) -> String {
        unlabelled(extra).replace(
            r#"{"app":"x"}"#,
            r#"{"app":"x","component":"hook-image-puller"}"#,
        )
    }

    #[test]
    fn a_running_pod_relabelled_into_a_role_is_told_not_to_add_the_labels() {
        for settings in ["{}", r#"{"mode":"reject"}"#] {
            let d = request("UPDATE", &relabelled(""), Some(&unlabelled("")), settings);
            assert_eq!(
                d,
                Decision::Reject {
                    message: r#"Pod jhub/p (hook image puller, matched by hookPuller.selector) breaks the prepuller ServiceAccount policy with this UPDATE: its new metadata.labels make it a hook image puller, but a Pod's pod spec cannot change after creation to comply; do not add these labels (to run a hook image puller, create a new Pod that complies): (1) spec.serviceAccountName is "default", expected "hook-image-puller"; (2) spec.automountServiceAccountToken is unset (defaults to true), expected false"#.into(),
                    warnings: vec![]
                }
            );
            let Decision::Reject { message, .. } = d else {
                unreachable!()
            };
            assert!(!message.contains("run it as ServiceAccount"), "{message}");
        }
        // Relabelled out of its role while running as the role's account: keep the labels.
        let puller = relabelled("")
            .replace(r#""default""#, r#""hook-image-puller""#)
            .replace(
                r#""containers""#,
                r#""automountServiceAccountToken":false,"containers""#,
            );
        let plain = puller.replace(r#","component":"hook-image-puller""#, "");
        assert_eq!(
            request("UPDATE", &plain, Some(&puller), "{}"),
            Decision::Reject {
                message: r#"Pod jhub/p breaks the prepuller ServiceAccount policy with this UPDATE: its new metadata.labels change its role, but a Pod's pod spec cannot change after creation to comply; keep the labels it had (or create a new Pod that complies): (1) spec.serviceAccountName is "hook-image-puller", expected a ServiceAccount not reserved for the prepullers"#.into(),
                warnings: vec![]
            }
        );
    }

    #[test]
    fn a_suspended_job_relabelled_into_a_role_is_told_not_to_add_the_labels() {
        let job = |labels: &str| {
            format!(
                r#"{{"kind":"Job","metadata":{{"name":"j","namespace":"jhub"}},"spec":{{"suspend":true,
                "template":{{"metadata":{{"labels":{labels}}},"spec":{{"serviceAccountName":"default","containers":[{{"name":"c"}}]}}}}}}}}"#
            )
        };
        let d = request_as(
            ADMIN,
            "Job",
            "UPDATE",
            &job(r#"{"component":"image-puller"}"#),
            Some(&job(r#"{"app":"x"}"#)),
            "{}",
        );
        assert_eq!(
            d,
            Decision::Reject {
                message: r#"Job jhub/j (hook image awaiter, matched by awaiter.selector) breaks the prepuller ServiceAccount policy with this UPDATE: its new spec.template.metadata.labels make it a hook image awaiter, but a Job's pod spec cannot change after creation to comply; do not add these labels (to run a hook image awaiter, create a new Job that complies): (1) spec.template.spec.serviceAccountName is "default", expected "hook-image-awaiter""#.into(),
                warnings: vec![]
            }
        );
    }

    const PULLER: &str = r#"{"kind":"Pod","metadata":{"name":"p","namespace":"jhub","labels":{"component":"hook-image-puller"}},
        "spec":{"serviceAccountName":"hook-image-puller","automountServiceAccountToken":false,
        "volumes":[{"name":"tok","projected":{"sources":[{"serviceAccountToken":{"path":"token"}}]}},{"name":"data","emptyDir":{}}],
        "containers":[{"name":"c","image":"pause"}]EPHEMERAL}}"#;

    fn puller(ephemeral: &str) -> String {
        PULLER.replace("EPHEMERAL", ephemeral)
    }

    fn debug(update: &str, old: &str) -> Decision {
        let payload = format!(
            r#"{{"request":{{"kind":{{"group":"","version":"v1","kind":"Pod"}},"subResource":"ephemeralcontainers",
            "resource":{{"group":"","version":"v1","resource":"pods"}},"operation":"UPDATE","namespace":"jhub",
            "userInfo":{ADMIN},"object":{update},"oldObject":{old}}},"settings":{{}}}}"#
        );
        evaluate(payload.as_bytes(), &KubewardenHost)
    }

    /// The fuzzer's find: an ephemeralcontainers request spelled `"operation":"update"` was
    /// judged as a CREATE, and the stored Pod of a puller came back as a patch of the body.
    #[test]
    fn a_debug_request_is_never_patched_whatever_its_operation_says() {
        let stored = r#"{"kind":"Pod","metadata":{"name":"p","namespace":"jhub","labels":{"component":"hook-image-puller"}},
            "spec":{"containers":[{"name":"c","image":"pause"}]}}"#;
        let body = r#"{"kind":"Pod","metadata":{"name":"p","namespace":"jhub"},
            "spec":{"containers":[{"name":"c","image":"pause"}],"ephemeralContainers":[{"name":"debugger","image":"busybox"}]}}"#;
        for operation in [r#","operation":"update""#, r#","operation":"CREATE""#, ""] {
            let payload = format!(
                r#"{{"request":{{"kind":{{"group":"","version":"v1","kind":"Pod"}},"subResource":"ephemeralcontainers",
                "resource":{{"group":"","version":"v1","resource":"pods"}}{operation},"namespace":"jhub",
                "userInfo":{ADMIN},"object":{body},"oldObject":{stored}}},"settings":{{}}}}"#
            );
            let d = evaluate(payload.as_bytes(), &KubewardenHost);
            // The stored puller runs as default with a token: an UPDATE leaves what it does
            // not change as it is, and this one adds only a debug container without mounts.
            assert!(matches!(d, Decision::Accept { .. }), "{operation}: {d:?}");
        }
    }

    const CARRIED: &str = r#"spec.volumes[0] is projected volume "tok" with a serviceAccountToken source, expected no ServiceAccount token volume: left as is, this field cannot change on UPDATE; recreate the object to fix it"#;

    #[test]
    fn a_debug_container_mounting_the_token_path_is_told_not_to() {
        let d = debug(
            &puller(
                r#","ephemeralContainers":[{"name":"debugger","volumeMounts":[{"name":"data","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]}]"#,
            ),
            &puller(""),
        );
        assert_eq!(
            d,
            Decision::Reject {
                message: r#"Pod jhub/p (hook image puller, matched by hookPuller.selector) breaks the prepuller ServiceAccount policy with this UPDATE: (1) spec.ephemeralContainers[0].volumeMounts[0] is volume "data" mounted at /var/run/secrets/kubernetes.io/serviceaccount in container "debugger", expected nothing mounted at /var/run/secrets/kubernetes.io/serviceaccount: do not mount volume "data" at /var/run/secrets/kubernetes.io/serviceaccount in the debug container "debugger" (add it without this mount)"#.into(),
                warnings: vec![CARRIED.into()]
            }
        );
    }

    #[test]
    fn a_debug_container_newly_mounting_a_token_volume_introduces_it() {
        // No container mounted "tok" before: the debug container exposes the token anew.
        let d = debug(
            &puller(
                r#","ephemeralContainers":[{"name":"debugger","volumeMounts":[{"name":"tok","mountPath":"/tok"}]}]"#,
            ),
            &puller(""),
        );
        assert_eq!(
            d,
            Decision::Reject {
                message: r#"Pod jhub/p (hook image puller, matched by hookPuller.selector) breaks the prepuller ServiceAccount policy with this UPDATE: (1) spec.volumes[0] is projected volume "tok" with a serviceAccountToken source, expected no ServiceAccount token volume: do not mount volume "tok" in the debug container "debugger" (add it without this mount)"#.into(),
                warnings: vec![]
            }
        );
        // A debug container that mounts nothing carries the stored violation over.
        let d = debug(
            &puller(r#","ephemeralContainers":[{"name":"debugger"}]"#),
            &puller(""),
        );
        assert_eq!(
            d,
            Decision::Accept {
                warnings: vec![CARRIED.into()]
            }
        );
    }
    /// Issue 22: the API server keeps only the body's ephemeral containers, so the stored Pod
    /// with them is judged, whatever else the body says.
    #[test]
    fn the_stored_pod_is_judged_with_the_bodys_ephemeral_containers() {
        let mounting_tok = r#","ephemeralContainers":[{"name":"debugger","volumeMounts":[{"name":"tok","mountPath":"/tok"}]}]"#;
        let introduced = debug(&puller(mounting_tok), &puller(""));
        // A body that drops the token volume, or relabels the Pod out of every role, or both:
        // the same decision.
        for body in [
            puller(mounting_tok).replace(
                r#""volumes":[{"name":"tok","projected":{"sources":[{"serviceAccountToken":{"path":"token"}}]}},{"name":"data","emptyDir":{}}],"#,
                "",
            ),
            puller(mounting_tok).replace(r#"{"component":"hook-image-puller"}"#, r#"{"app":"debug"}"#),
            puller(mounting_tok)
                .replace(r#"{"component":"hook-image-puller"}"#, "{}")
                .replace(r#""serviceAccountName":"hook-image-puller","#, ""),
        ] {
            assert_eq!(debug(&body, &puller("")), introduced, "{body}");
        }
        // Whatever the body says outside its ephemeral containers, adding none keeps the Pod.
        let relabelled = puller("").replace(r#"{"component":"hook-image-puller"}"#, "{}");
        assert_eq!(
            debug(&relabelled, &puller("")),
            Decision::Accept {
                warnings: vec![CARRIED.into()]
            }
        );
        // The stored Pod is needed: the API server always sends it.
        let payload = format!(
            r#"{{"request":{{"kind":{{"group":"","version":"v1","kind":"Pod"}},"subResource":"ephemeralcontainers",
            "operation":"UPDATE","namespace":"jhub","userInfo":{ADMIN},"object":{}}},"settings":{{}}}}"#,
            puller(mounting_tok)
        );
        assert_eq!(
            evaluate(payload.as_bytes(), &KubewardenHost),
            Decision::reject(
                "the pods/ephemeralcontainers UPDATE has no oldObject, the stored Pod it changes"
                    .into()
            )
        );
    }
}

/// Issue 22: a workload whose Pods carry the chart's label for a role that no selector matches
/// is admitted with a warning and fails an audit.
#[test]
fn chart_role_labels_matching_no_role_warn_and_fail_audits() {
    let settings = r#"{"hookPuller":{"selector":{"matchLabels":{"app.kubernetes.io/component":"hook-image-puller"}}},"continuousPuller":{"selector":{"matchLabels":{"app.kubernetes.io/component":"continuous-image-puller"}}},"awaiter":{"selector":{"matchLabels":{"app.kubernetes.io/component":"image-puller"}}}}"#;
    let ds = r#"{"kind":"DaemonSet","metadata":{"name":"hook-image-puller","namespace":"jhub","labels":{"component":"hook-image-puller","app.kubernetes.io/component":"hook-image-puller"}},
        "spec":{"template":{"metadata":{"labels":{"component":"hook-image-puller","app":"jupyterhub","release":"jhub"}},"spec":{"containers":[{"name":"c"}]}}}}"#;
    let warning = "spec.template.metadata.labels carry component: hook-image-puller, Zero to JupyterHub's label for the hook image puller, but match no prepuller role (hookPuller.selector is {matchLabels: {app.kubernetes.io/component: hook-image-puller}}), so its Pods are not judged as the hook image puller; make hookPuller.selector match what every chart version puts on the hook image puller's Pods, such as component: hook-image-puller (chart 4.0.0 and earlier put app.kubernetes.io/component on the objects only, not on their pod templates)";
    let reject = format!(r#"{{"mode":"reject",{}"#, &settings[1..]);
    for settings in [settings, reject.as_str()] {
        assert_eq!(
            request_as(ADMIN, "DaemonSet", "CREATE", ds, None, settings),
            Decision::Accept {
                warnings: vec![warning.to_owned()]
            },
            "{settings}"
        );
        assert_eq!(
            request_as("{}", "DaemonSet", "CREATE", ds, None, settings),
            Decision::Reject {
                message: format!(
                    "DaemonSet jhub/hook-image-puller is not judged as the prepuller its labels name (audit of the stored object; admission accepts it with this warning, which a PolicyReport does not show): (1) {warning}"
                ),
                warnings: vec![]
            },
            "{settings}"
        );
    }
    // A ReplicaSet its Deployment controls passes its audit with the warning: the Deployment
    // fails its own.
    let rs = ds
        .replace(r#""kind":"DaemonSet""#, r#""kind":"ReplicaSet""#)
        .replace(
            r#""namespace":"jhub","#,
            &format!(r#""namespace":"jhub"{DEPLOYMENT_OWNER},"#),
        );
    match request_as("{}", "ReplicaSet", "CREATE", &rs, None, settings) {
        Decision::Accept { warnings } => assert_eq!(warnings.len(), 1, "{warnings:?}"),
        other => panic!("expected an accept, got {other:?}"),
    }
    // With a violation too (borrowing), the audit fails on it; the warning rides along.
    let borrower = ds.replace(
        r#""containers""#,
        r#""serviceAccountName":"hook-image-puller","containers""#,
    );
    match request_as("{}", "DaemonSet", "CREATE", &borrower, None, settings) {
        Decision::Reject { message, warnings } => {
            assert!(
                message.contains("reserved for the hook image puller"),
                "{message}"
            );
            assert_eq!(warnings, [warning]);
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// `service_account_fix` is the ServiceAccount of `mode: mutate`'s patch, in either mode, and
/// nothing where the policy moves nothing.
#[test]
fn the_service_account_fix_is_the_one_mutate_writes() {
    let settings = Settings::from_json("{}").unwrap();
    let custom =
        Settings::from_json(r#"{"mode":"reject","hookPuller":{"serviceAccountName":"mine"}}"#)
            .unwrap();
    let mutated_to =
        |kind: &str, object: &str| match request_as(ADMIN, kind, "CREATE", object, None, "{}") {
            Decision::Mutate { object, .. } => {
                let value: serde_json::Value = serde_json::from_str(object.get()).unwrap();
                let spec = if kind == "Pod" {
                    &value["spec"]
                } else {
                    &value["spec"]["template"]["spec"]
                };
                spec["serviceAccountName"].as_str().map(str::to_owned)
            }
            _ => None,
        };
    let legacy = pod(false);
    assert_eq!(
        service_account_fix(&settings, "", "Pod", &legacy).as_deref(),
        Some("hook-image-puller")
    );
    assert_eq!(
        service_account_fix(&settings, "", "Pod", &legacy),
        mutated_to("Pod", &legacy)
    );
    assert_eq!(
        service_account_fix(&custom, "", "Pod", &legacy).as_deref(),
        Some("mine")
    );
    // A ReplicaSet without its Deployment is moved; with it, left to the Deployment.
    assert_eq!(
        service_account_fix(&settings, "apps", "ReplicaSet", &rs("", 1)),
        mutated_to("ReplicaSet", &rs("", 1))
    );
    assert!(mutated_to("ReplicaSet", &rs("", 1)).is_some());
    assert_eq!(
        service_account_fix(&settings, "apps", "ReplicaSet", &rs(DEPLOYMENT_OWNER, 1)),
        None
    );
    // Compliant, only the automount to fix, or a kind or group the policy does not judge.
    let compliant = legacy.replace(r#""default""#, r#""hook-image-puller""#);
    assert_eq!(service_account_fix(&settings, "", "Pod", &compliant), None);
    let automount = compliant.replace(r#""automountServiceAccountToken":false,"#, "");
    assert!(matches!(
        request_as(ADMIN, "Pod", "CREATE", &automount, None, "{}"),
        Decision::Mutate { .. }
    ));
    assert_eq!(service_account_fix(&settings, "", "Pod", &automount), None);
    assert_eq!(service_account_fix(&settings, "apps", "Pod", &legacy), None);
    assert_eq!(service_account_fix(&settings, "", "Service", &legacy), None);
    assert_eq!(service_account_fix(&settings, "", "Pod", "not json"), None);
    // A token volume the API server did not inject: only the operator can remove it.
    let mounted = legacy.replace(
        r#""containers""#,
        r#""volumes":[{"name":"t","projected":{"sources":[{"serviceAccountToken":{"path":"token"}}]}}],"containers""#,
    );
    assert!(matches!(
        request_as(ADMIN, "Pod", "CREATE", &mounted, None, "{}"),
        Decision::Reject { .. }
    ));
    assert_eq!(service_account_fix(&settings, "", "Pod", &mounted), None);
}
