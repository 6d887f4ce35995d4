use super::*;
use crate::checks::tokens::under_token_path;
use crate::workload::decode;

fn findings(settings: &Settings, kind: ResourceKind, raw: &str) -> Findings {
    check(settings, &decode(kind, raw).expect("decodes"))
}

const INJECTED: &str = r#"{"name":"kube-api-access-abcde","projected":{"defaultMode":420,"sources":[
    {"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},
    {"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},
    {"downwardAPI":{"items":[{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"},"path":"namespace"}]}}]}}"#;
const INJECTED_MOUNT: &str = r#"{"name":"kube-api-access-abcde","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true}"#;

fn hook_pod(spec: &str) -> String {
    format!(
        r#"{{"kind":"Pod","metadata":{{"name":"p","namespace":"jhub","labels":{{"component":"hook-image-puller"}}}},"spec":{spec}}}"#
    )
}

#[test]
fn compliant_hook_pod_has_no_findings() {
    let f = findings(
        &Settings::default(),
        ResourceKind::Pod,
        &hook_pod(
            r#"{"serviceAccountName":"hook-image-puller","serviceAccount":"hook-image-puller","automountServiceAccountToken":false,"containers":[{"name":"pause"}]}"#,
        ),
    );
    assert!(f.violations.is_empty(), "{:?}", f.violations);
    assert_eq!(f.subject, Subject::Role(RoleKind::HookPuller));
    assert_eq!(f.object, "Pod jhub/p");
}

#[test]
fn legacy_pod_running_as_default_gets_every_fixable_finding() {
    let spec = format!(
        r#"{{"serviceAccountName":"default","serviceAccount":"default","volumes":[{INJECTED}],
        "containers":[{{"name":"pause","volumeMounts":[{INJECTED_MOUNT}]}}],"initContainers":[{{"name":"i","volumeMounts":[{INJECTED_MOUNT}]}}]}}"#
    );
    let f = findings(&Settings::default(), ResourceKind::Pod, &hook_pod(&spec));
    let got: Vec<(&str, &Rule, Option<&Remedy>)> = f
        .violations
        .iter()
        .map(|v| (v.field.as_str(), &v.rule, v.remedy.as_ref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "spec.serviceAccountName",
                &Rule::ServiceAccountName {
                    role: RoleKind::HookPuller,
                    want: "hook-image-puller".into(),
                    found: NameFound::Name("default".into()),
                },
                Some(&Remedy::SetServiceAccountName("hook-image-puller".into()))
            ),
            (
                "spec.serviceAccount",
                &Rule::DeprecatedServiceAccount {
                    role: RoleKind::HookPuller,
                    want: "hook-image-puller".into(),
                    found: "default".into(),
                },
                Some(&Remedy::SetDeprecatedServiceAccount(
                    "hook-image-puller".into()
                ))
            ),
            (
                "spec.automountServiceAccountToken",
                &Rule::Automount {
                    found: Automount::Unset,
                },
                Some(&Remedy::SetAutomountFalse)
            ),
            (
                "spec.volumes[0]",
                &Rule::TokenVolume {
                    volume: "kube-api-access-abcde".into(),
                    injected: true,
                    mounted_by: vec![
                        MountedBy {
                            list: "containers",
                            container: "pause".into(),
                        },
                        MountedBy {
                            list: "initContainers",
                            container: "i".into(),
                        },
                    ],
                },
                Some(&Remedy::RemoveInjectedVolume(
                    "kube-api-access-abcde".into()
                ))
            ),
        ]
    );
}

#[test]
fn unset_name_runs_as_default_or_the_alias() {
    let s = Settings::default();
    let f = findings(
        &s,
        ResourceKind::Pod,
        &hook_pod(r#"{"automountServiceAccountToken":false}"#),
    );
    assert_eq!(f.violations.len(), 1);
    assert_eq!(
        f.violations[0].rule,
        Rule::ServiceAccountName {
            role: RoleKind::HookPuller,
            want: "hook-image-puller".into(),
            found: NameFound::Unset {
                runs_as: "default".into()
            },
        }
    );
    let f = findings(
        &s,
        ResourceKind::Pod,
        &hook_pod(r#"{"serviceAccount":"hook-image-puller","automountServiceAccountToken":false}"#),
    );
    assert!(f.violations.is_empty());
    let f = findings(
        &s,
        ResourceKind::Pod,
        &hook_pod(
            r#"{"serviceAccountName":"hook-image-puller","serviceAccount":"other","automountServiceAccountToken":false}"#,
        ),
    );
    assert_eq!(f.violations.len(), 1);
    assert_eq!(f.violations[0].field, "spec.serviceAccount");
    assert_eq!(
        f.violations[0].rule,
        Rule::DeprecatedServiceAccount {
            role: RoleKind::HookPuller,
            want: "hook-image-puller".into(),
            found: "other".into(),
        }
    );
}

#[test]
fn automount_must_be_the_boolean_false() {
    for (value, found) in [
        ("true", Automount::True),
        ("null", Automount::Other("null".into())),
        ("\"false\"", Automount::Other("\"false\"".into())),
    ] {
        let f = findings(
            &Settings::default(),
            ResourceKind::Pod,
            &hook_pod(&format!(
                r#"{{"serviceAccountName":"hook-image-puller","automountServiceAccountToken":{value}}}"#
            )),
        );
        assert_eq!(f.violations.len(), 1, "{value}");
        assert_eq!(f.violations[0].rule, Rule::Automount { found });
        assert_eq!(f.violations[0].remedy, Some(Remedy::SetAutomountFalse));
    }
}

#[test]
fn user_token_volumes_and_token_path_mounts_are_not_fixable() {
    let spec = r#"{"serviceAccountName":"hook-image-puller","automountServiceAccountToken":false,
        "volumes":[{"name":"my-token","projected":{"sources":[{"serviceAccountToken":{"path":"t","audience":"vault"}}]}},
                   {"name":"legacy","secret":{"secretName":"hook-image-puller-token-x"}}],
        "ephemeralContainers":[{"name":"debug","volumeMounts":[{"name":"legacy","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount/"}]}]}"#;
    let f = findings(&Settings::default(), ResourceKind::Pod, &hook_pod(spec));
    assert_eq!(f.violations.len(), 2, "{:?}", f.violations);
    assert_eq!(f.violations[0].field, "spec.volumes[0]");
    assert_eq!(f.violations[0].remedy, None);
    assert_eq!(
        f.violations[1].field,
        "spec.ephemeralContainers[0].volumeMounts[0]"
    );
    assert_eq!(f.violations[1].remedy, None);
}

#[test]
fn injected_volume_in_a_template_or_mounted_elsewhere_is_user_declared() {
    let s = Settings::default();
    let ds = format!(
        r#"{{"spec":{{"template":{{"metadata":{{"labels":{{"component":"continuous-image-puller"}}}},
        "spec":{{"serviceAccountName":"continuous-image-puller","automountServiceAccountToken":false,"volumes":[{INJECTED}]}}}}}}}}"#
    );
    let f = findings(&s, ResourceKind::DaemonSet, &ds);
    assert_eq!(f.violations.len(), 1);
    assert_eq!(f.violations[0].field, "spec.template.spec.volumes[0]");
    assert_eq!(f.violations[0].remedy, None);

    let pod = hook_pod(&format!(
        r#"{{"serviceAccountName":"hook-image-puller","automountServiceAccountToken":false,"volumes":[{INJECTED}],
        "containers":[{{"name":"c","volumeMounts":[{{"name":"kube-api-access-abcde","mountPath":"/token"}}]}}]}}"#
    ));
    let f = findings(&s, ResourceKind::Pod, &pod);
    assert_eq!(f.violations.len(), 1);
    assert_eq!(f.violations[0].remedy, None);
}

#[test]
fn awaiter_keeps_its_token_but_not_another_account() {
    let s = Settings::default();
    let pod = |sa: &str| {
        format!(
            r#"{{"metadata":{{"labels":{{"component":"image-puller"}}}},"spec":{{"serviceAccountName":"{sa}","volumes":[{INJECTED}],
            "containers":[{{"name":"a","volumeMounts":[{INJECTED_MOUNT}]}}]}}}}"#
        )
    };
    assert!(
        findings(&s, ResourceKind::Pod, &pod("hook-image-awaiter"))
            .violations
            .is_empty()
    );
    let f = findings(&s, ResourceKind::Pod, &pod("default"));
    assert_eq!(f.violations.len(), 1);
    assert_eq!(f.violations[0].field, "spec.serviceAccountName");
}

#[test]
fn reserved_accounts_cannot_be_borrowed() {
    let raw = |sa: &str| {
        format!(
            r#"{{"metadata":{{"labels":{{"app":"x"}}}},"spec":{{"template":{{"spec":{{"serviceAccountName":"{sa}"}}}}}}}}"#
        )
    };
    let s = Settings::default();
    let f = findings(
        &s,
        ResourceKind::Deployment,
        &raw("continuous-image-puller"),
    );
    assert_eq!(f.violations.len(), 1);
    assert_eq!(
        f.violations[0].field,
        "spec.template.spec.serviceAccountName"
    );
    assert_eq!(f.violations[0].remedy, None);
    assert_eq!(
        f.violations[0].rule,
        Rule::Borrowed {
            account: "continuous-image-puller".into(),
            owner: RoleKind::ContinuousPuller,
        }
    );
    assert!(
        findings(&s, ResourceKind::Deployment, &raw("default"))
            .violations
            .is_empty()
    );
    let off = Settings::from_json(r#"{"reserveServiceAccounts":false}"#).expect("valid");
    assert!(
        findings(
            &off,
            ResourceKind::Deployment,
            &raw("continuous-image-puller")
        )
        .violations
        .is_empty()
    );
}

#[test]
fn service_account_objects() {
    let s = Settings::from_json(r#"{"serviceAccountObjects":true}"#).expect("valid");
    let sa = |name: &str, extra: &str| {
        format!(
            r#"{{"kind":"ServiceAccount","metadata":{{"name":"{name}","namespace":"jhub"}}{extra}}}"#
        )
    };
    let f = findings(
        &s,
        ResourceKind::ServiceAccount,
        &sa("hook-image-puller", ""),
    );
    assert_eq!(f.violations.len(), 1);
    assert_eq!(f.violations[0].remedy, Some(Remedy::SetAutomountFalse));
    assert!(
        findings(
            &s,
            ResourceKind::ServiceAccount,
            &sa(
                "hook-image-puller",
                r#","automountServiceAccountToken":false"#
            )
        )
        .violations
        .is_empty()
    );
    assert!(
        findings(
            &s,
            ResourceKind::ServiceAccount,
            &sa("hook-image-awaiter", "")
        )
        .violations
        .is_empty()
    );
    assert!(
        findings(&s, ResourceKind::ServiceAccount, &sa("default", ""))
            .violations
            .is_empty()
    );
}

#[test]
fn token_path_prefixes() {
    assert!(under_token_path(
        "/var/run/secrets/kubernetes.io/serviceaccount"
    ));
    assert!(under_token_path(
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    ));
    assert!(under_token_path("/var/run/secrets"));
    assert!(!under_token_path(
        "/var/run/secrets/kubernetes.io/serviceaccounts"
    ));
    assert!(!under_token_path("/data"));
}

#[test]
fn token_path_spellings_the_runtime_resolves_are_caught() {
    // The API server accepts each of these; runc cleans them to the token path.
    for path in [
        "/var/run/secrets/kubernetes.io/serviceaccount/",
        "//var/run/secrets/kubernetes.io/serviceaccount",
        "/var//run/secrets/kubernetes.io/serviceaccount",
        "/var/run/./secrets/kubernetes.io/serviceaccount",
        "/var/run/secrets/kubernetes.io/serviceaccount/.",
        "/var/run/secrets/kubernetes.io/x/../serviceaccount",
        "/../var/run/secrets/kubernetes.io/serviceaccount",
        "var/run/secrets/kubernetes.io/serviceaccount",
        "/run/secrets/kubernetes.io/serviceaccount",
        "/run/secrets/kubernetes.io/serviceaccount/token",
        "/run/secrets",
        "/var/run/secrets/..",
        "/",
        "/..",
    ] {
        assert!(under_token_path(path), "{path}");
    }
    for path in [
        "/var/run/secrets/kubernetes.io/serviceaccount/../serviceaccounts",
        "/var/run/secrets/kubernetes.io/serviceaccount.d",
        "/run/secrets/kubernetes.io/serviceaccounts",
        "/srv/run/secrets/kubernetes.io/serviceaccount",
        "/tmp/..data",
    ] {
        assert!(!under_token_path(path), "{path}");
    }
}

#[test]
fn mounts_over_a_cleaned_token_path_are_not_fixable() {
    let spec = r#"{"serviceAccountName":"hook-image-puller","automountServiceAccountToken":false,
        "volumes":[{"name":"legacy","secret":{"secretName":"hook-image-puller-token-x"}}],
        "containers":[{"name":"c","volumeMounts":[{"name":"legacy","mountPath":"/var/run/secrets/kubernetes.io/x/../serviceaccount"}]},
                      {"name":"d","volumeMounts":[{"name":"legacy","mountPath":"/run/secrets/kubernetes.io/serviceaccount"}]}]}"#;
    let f = findings(&Settings::default(), ResourceKind::Pod, &hook_pod(spec));
    let fields: Vec<&str> = f.violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "spec.containers[0].volumeMounts[0]",
            "spec.containers[1].volumeMounts[0]"
        ]
    );
    assert!(f.violations.iter().all(|v| v.remedy.is_none()));
}

#[test]
fn api_client_pod_certificates_are_credentials_in_pullers() {
    let spec = |signer: &str, mounted: bool| {
        let mounts = if mounted {
            r#","containers":[{"name":"c","volumeMounts":[{"name":"cert","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}]}]"#
        } else {
            ""
        };
        format!(
            r#"{{"serviceAccountName":"hook-image-puller","automountServiceAccountToken":false,
            "volumes":[{{"name":"cert","projected":{{"sources":[{{"podCertificate":{{"signerName":"{signer}","keyType":"ED25519","credentialBundlePath":"bundle.pem"}}}}]}}}}]{mounts}}}"#
        )
    };
    let s = Settings::default();
    for mounted in [false, true] {
        let f = findings(
            &s,
            ResourceKind::Pod,
            &hook_pod(&spec(API_CLIENT_SIGNER_FOR_TESTS, mounted)),
        );
        assert_eq!(f.violations.len(), 1, "{:?}", f.violations);
        assert_eq!(f.violations[0].field, "spec.volumes[0]");
        assert_eq!(
            f.violations[0].rule,
            Rule::PodCertificate {
                volume: "cert".into(),
                signer: API_CLIENT_SIGNER_FOR_TESTS.into(),
                mounted_by: if mounted {
                    vec![MountedBy {
                        list: "containers",
                        container: "c".into(),
                    }]
                } else {
                    vec![]
                }
            }
        );
        assert_eq!(f.violations[0].remedy, None);
    }
    // Other signers are not API credentials; a mount at the token path still is a violation.
    let f = findings(
        &s,
        ResourceKind::Pod,
        &hook_pod(&spec("example.com/mtls", false)),
    );
    assert!(f.violations.is_empty(), "{:?}", f.violations);
    let f = findings(
        &s,
        ResourceKind::Pod,
        &hook_pod(&spec("example.com/mtls", true)),
    );
    assert_eq!(f.violations.len(), 1);
    assert!(matches!(f.violations[0].rule, Rule::TokenPathMount { .. }));
    // The awaiter keeps its credentials.
    let awaiter = format!(
        r#"{{"metadata":{{"labels":{{"component":"image-puller"}}}},"spec":{}}}"#,
        spec(API_CLIENT_SIGNER_FOR_TESTS, true).replace("hook-image-puller", "hook-image-awaiter")
    );
    assert!(
        findings(&s, ResourceKind::Pod, &awaiter)
            .violations
            .is_empty()
    );
}

const API_CLIENT_SIGNER_FOR_TESTS: &str = "kubernetes.io/kube-apiserver-client-pod";

#[test]
fn identity_is_the_rule_the_field_and_the_value() {
    let s = Settings::default();
    let f = |sa: &str| {
        findings(
            &s,
            ResourceKind::Pod,
            &hook_pod(&format!(
                r#"{{"serviceAccountName":"{sa}","automountServiceAccountToken":false}}"#
            )),
        )
        .violations
    };
    assert!(f("default")[0].same_as(&f("default")[0]));
    assert!(!f("default")[0].same_as(&f("other")[0]));
}

#[test]
fn a_credential_volume_is_identified_with_the_containers_that_mount_it() {
    let s = Settings::default();
    let spec = |debug_mounts: &str| {
        format!(
            r#"{{"serviceAccountName":"hook-image-puller","automountServiceAccountToken":false,
            "volumes":[{{"name":"tok","projected":{{"sources":[{{"serviceAccountToken":{{"path":"token"}}}}]}}}}],
            "containers":[{{"name":"pull","volumeMounts":[{{"name":"tok","mountPath":"/tok"}}]}}],
            "ephemeralContainers":[{{"name":"debugger"{debug_mounts}}}]}}"#
        )
    };
    let before = findings(&s, ResourceKind::Pod, &hook_pod(&spec("")));
    let after = findings(
        &s,
        ResourceKind::Pod,
        &hook_pod(&spec(
            r#","volumeMounts":[{"name":"tok","mountPath":"/tok"}]"#,
        )),
    );
    assert_eq!(
        after.violations[0].rule,
        Rule::TokenVolume {
            volume: "tok".into(),
            injected: false,
            mounted_by: vec![
                MountedBy {
                    list: "containers",
                    container: "pull".into()
                },
                MountedBy {
                    list: "ephemeralContainers",
                    container: "debugger".into()
                }
            ]
        }
    );
    assert_eq!(before.violations[0].mounted_by().len(), 1);
    assert_eq!(before.violations.len(), 1);
    assert!(!after.violations[0].same_as(&before.violations[0]));
    assert!(before.violations[0].same_as(&before.violations[0]));
}
