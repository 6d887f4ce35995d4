use super::*;

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
    evaluate(payload.as_bytes())
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
    // mode: reject words it as any rejection.
    match request_as(
        "null",
        "Pod",
        "CREATE",
        &pod(false),
        None,
        r#"{"mode":"reject"}"#,
    ) {
        Decision::Reject { message, .. } => assert!(message.contains("(mode: reject"), "{message}"),
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
    use crate::cluster::fake::FakeCluster;

    const ON: &str = r#"{"requireExistingServiceAccounts":true}"#;
    const ON_REJECT: &str = r#"{"requireExistingServiceAccounts":true,"mode":"reject"}"#;

    fn run(cluster: &FakeCluster, user: &str, object: &str, settings: &str) -> Decision {
        let payload = format!(
            r#"{{"request":{{"kind":{{"group":"","version":"v1","kind":"Pod"}},"operation":"CREATE","namespace":"jhub",
            "userInfo":{user},"object":{object}}},"settings":{settings}}}"#
        );
        evaluate_in(payload.as_bytes(), cluster)
    }

    fn asked(c: &FakeCluster) -> Vec<(String, String, bool)> {
        c.asked.borrow().clone()
    }

    fn q(name: &str, uncached: bool) -> (String, String, bool) {
        ("jhub".into(), name.into(), uncached)
    }

    #[test]
    fn compliant_and_mutated_pullers_need_their_account() {
        let compliant = pod(false).replace(r#""default""#, r#""hook-image-puller""#);
        for settings in [ON, ON_REJECT] {
            let found = FakeCluster::with(&[("jhub", "hook-image-puller", true)]);
            assert_eq!(run(&found, ADMIN, &compliant, settings), Decision::accept());
            assert_eq!(asked(&found), [q("hook-image-puller", false)]);

            let absent = FakeCluster::with(&[]);
            let Decision::Reject { message, .. } = run(&absent, ADMIN, &compliant, settings) else {
                panic!("expected a rejection")
            };
            assert!(message.contains(r#"would run as ServiceAccount "hook-image-puller" of namespace "jhub", which the policy could not find"#), "{message}");
            assert!(
                message.contains("Upgrade Zero to JupyterHub to 4.1.0 or later"),
                "{message}"
            );
            assert!(
                message.contains(r#"serviceaccounts \"hook-image-puller\" not found"#),
                "{message}"
            );
            assert_eq!(
                asked(&absent),
                [q("hook-image-puller", false), q("hook-image-puller", true)]
            );

            let fresh = FakeCluster::with(&[("jhub", "hook-image-puller", false)]);
            assert_eq!(run(&fresh, ADMIN, &compliant, settings), Decision::accept());
            assert_eq!(
                asked(&fresh),
                [q("hook-image-puller", false), q("hook-image-puller", true)]
            );
        }
        // A chart 4.0.0 pod about to be mutated to an account that does not exist.
        let absent = FakeCluster::with(&[]);
        assert!(matches!(
            run(&absent, ADMIN, &pod(false), ON),
            Decision::Reject { .. }
        ));
        let found = FakeCluster::with(&[("jhub", "hook-image-puller", true)]);
        assert!(matches!(
            run(&found, ADMIN, &pod(false), ON),
            Decision::Mutate { .. }
        ));
        // Audits look up the same way.
        let absent = FakeCluster::with(&[]);
        let Decision::Reject { message, .. } = run(&absent, "null", &compliant, ON) else {
            panic!("expected a failed audit")
        };
        assert!(
            message.contains("which the policy could not find"),
            "{message}"
        );
    }

    #[test]
    fn updates_that_start_no_pods_ask_nothing() {
        let compliant = pod(false).replace(r#""default""#, r#""hook-image-puller""#);
        let relabelled = compliant.replace(
            r#""namespace":"jhub","#,
            r#""namespace":"jhub","annotations":{"a":"b"},"#,
        );
        let none = FakeCluster::with(&[]);
        let payload = format!(
            r#"{{"request":{{"kind":{{"group":"","version":"v1","kind":"Pod"}},"operation":"UPDATE","namespace":"jhub",
            "userInfo":{ADMIN},"object":{relabelled},"oldObject":{compliant}}},"settings":{ON}}}"#
        );
        // A running Pod (its ServiceAccount deleted meanwhile) still takes a label or a finalizer.
        assert_eq!(evaluate_in(payload.as_bytes(), &none), Decision::accept());
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
        let compliant = pod(false).replace(r#""default""#, r#""hook-image-puller""#);
        assert_eq!(run(&none, ADMIN, &compliant, "{}"), Decision::accept());
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
        evaluate(payload.as_bytes())
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
