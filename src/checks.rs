//! The rules. Each finding says where (field path), what was found, what is expected, how to
//! fix it, and whether the policy may fix it itself (its [`Remedy`]).

use crate::request::{ResourceKind, Str};
use crate::roles::{self, Detected};
use crate::settings::{Role, Settings};
use crate::workload::{Automount, Container, PodSpec, ServiceAccountObject, Volume, Workload};

/// Where Kubernetes mounts a ServiceAccount token in every container.
pub const TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The name prefix of the volume the ServiceAccount admission plugin injects into Pods.
const INJECTED_VOLUME_PREFIX: &str = "kube-api-access-";

/// A change the policy may make on its own in `mode: mutate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remedy {
    SetServiceAccountName(String),
    SetDeprecatedServiceAccount(String),
    SetAutomountFalse,
    /// Remove the injected `kube-api-access-*` volume and every mount of it.
    RemoveInjectedVolume(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted path of the field, e.g. `spec.template.spec.serviceAccountName`.
    pub field: String,
    pub found: String,
    pub expected: String,
    /// What the operator should change.
    pub fix: String,
    pub remedy: Option<Remedy>,
}

impl Violation {
    /// Identity across an UPDATE's old and new object: same place, same offending value.
    pub fn same_as(&self, other: &Violation) -> bool {
        self.field == other.field && self.found == other.found
    }
}

/// What the rules found in one object.
#[derive(Debug, Default)]
pub struct Findings {
    /// The object and its role, for the first words of a message.
    pub subject: String,
    pub violations: Vec<Violation>,
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

fn non_empty<'a>(s: &'a Option<Str<'_>>) -> Option<&'a str> {
    s.as_ref().map(Str::as_str).filter(|s| !s.is_empty())
}

fn field(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_owned()
    } else {
        format!("{prefix}.{rest}")
    }
}

pub fn check_workload(settings: &Settings, workload: &Workload<'_>) -> Findings {
    let prefix = workload.kind.pod_spec_path().join(".");
    let object = format!(
        "{} {}",
        workload.kind.name(),
        workload.metadata.display_name()
    );
    let mut violations = Vec::new();
    let subject = match roles::detect(settings, workload) {
        Detected::One(role) => {
            check_service_account(&prefix, &workload.pod, role, &mut violations);
            if role.kind.is_puller() {
                check_automount(
                    &prefix,
                    &workload.pod.automount_service_account_token,
                    &mut violations,
                );
                check_token_volumes(workload.kind, &prefix, &workload.pod, &mut violations);
            }
            format!(
                "{object} ({}, matched by {}.selector)",
                role.kind.description(),
                role.kind.settings_key()
            )
        }
        Detected::Ambiguous(matched) => {
            let keys: Vec<String> = matched
                .iter()
                .map(|r| format!("{}.selector", r.kind.settings_key()))
                .collect();
            violations.push(Violation {
                field: "metadata.labels".into(),
                found: format!("labels matching {}", keys.join(" and ")),
                expected: "labels matching at most one prepuller role".into(),
                fix: "correct the workload's labels, or make the policy's selectors disjoint"
                    .into(),
                remedy: None,
            });
            format!("{object} (labels match several prepuller roles)")
        }
        Detected::None => {
            if settings.reserve_service_accounts {
                check_borrowed(settings, &prefix, &workload.pod, &mut violations);
            }
            object
        }
    };
    Findings {
        subject,
        violations,
    }
}

/// Rule 1: the effective ServiceAccount is the role's, and both name fields agree with it.
fn check_service_account(prefix: &str, pod: &PodSpec<'_>, role: &Role, out: &mut Vec<Violation>) {
    let want = role.service_account_name.as_str();
    let name = non_empty(&pod.service_account_name);
    let alias = non_empty(&pod.service_account);
    let effective = name.or(alias).unwrap_or("default");
    let helm = role.kind.helm_value();
    let fix = format!(
        "run it as ServiceAccount {} (Zero to JupyterHub: {helm}.create=true and {helm}.name; the chart creates the puller ServiceAccounts since 4.1.0; if yours is named otherwise, set {}.serviceAccountName in the policy settings)",
        quoted(want),
        role.kind.settings_key()
    );
    let found_name = match (name, &pod.service_account_name) {
        (Some(n), _) if n != want => Some(quoted(n)),
        (None, _) if effective != want => Some(match &pod.service_account_name {
            Some(_) => format!("\"\" (runs as {})", quoted(effective)),
            None => format!("unset (runs as {})", quoted(effective)),
        }),
        _ => None,
    };
    if let Some(found) = found_name {
        out.push(Violation {
            field: field(prefix, "serviceAccountName"),
            found,
            expected: quoted(want),
            fix: fix.clone(),
            remedy: Some(Remedy::SetServiceAccountName(want.to_owned())),
        });
    }
    if let Some(a) = alias.filter(|a| *a != want) {
        out.push(Violation {
            field: field(prefix, "serviceAccount"),
            found: quoted(a),
            expected: quoted(want),
            fix: format!(
                "set the deprecated serviceAccount to {} as well, or drop it",
                quoted(want)
            ),
            remedy: Some(Remedy::SetDeprecatedServiceAccount(want.to_owned())),
        });
    }
}

/// Rule 2: `automountServiceAccountToken` is explicitly `false`.
fn check_automount(prefix: &str, automount: &Automount, out: &mut Vec<Violation>) {
    if *automount != Automount::False {
        out.push(Violation {
            field: field(prefix, "automountServiceAccountToken"),
            found: automount.describe(),
            expected: "false".into(),
            fix: "set automountServiceAccountToken: false in the pod spec (Zero to JupyterHub sets it on both puller DaemonSets; look for a patch or overlay that drops it)".into(),
            remedy: Some(Remedy::SetAutomountFalse),
        });
    }
}

fn has_token_source(volume: &Volume<'_>) -> bool {
    volume
        .projected
        .as_ref()
        .and_then(|p| p.sources.as_ref())
        .is_some_and(|sources| sources.iter().any(|s| s.service_account_token.is_some()))
}

fn containers<'p, 'a>(
    pod: &'p PodSpec<'a>,
) -> impl Iterator<Item = (&'static str, usize, &'p Container<'a>)> {
    [
        ("containers", &pod.containers),
        ("initContainers", &pod.init_containers),
        ("ephemeralContainers", &pod.ephemeral_containers),
    ]
    .into_iter()
    .flat_map(|(list, cs)| {
        cs.iter()
            .flatten()
            .enumerate()
            .map(move |(i, c)| (list, i, c))
    })
}

/// The volume exactly as the ServiceAccount admission plugin injects it: its name prefix, a
/// token (no audience), the cluster CA and the namespace, mounted only at the token path.
fn is_injected(pod: &PodSpec<'_>, volume: &Volume<'_>) -> bool {
    if !volume.name.as_str().starts_with(INJECTED_VOLUME_PREFIX) {
        return false;
    }
    let Some(sources) = volume.projected.as_ref().and_then(|p| p.sources.as_ref()) else {
        return false;
    };
    let mut tokens = 0;
    for source in sources {
        let set = [
            source.service_account_token.is_some(),
            source.config_map.is_some(),
            source.downward_api.is_some(),
            source.secret.is_some(),
            source.cluster_trust_bundle.is_some(),
            source.pod_certificate.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            return false;
        }
        if let Some(token) = &source.service_account_token {
            if token.audience.is_some() {
                return false;
            }
            tokens += 1;
        } else if let Some(cm) = &source.config_map {
            if non_empty(&cm.name) != Some("kube-root-ca.crt") {
                return false;
            }
        } else if source.downward_api.is_none() {
            return false;
        }
    }
    tokens == 1
        && containers(pod).all(|(_, _, c)| {
            c.volume_mounts.iter().flatten().all(|m| {
                m.name != volume.name
                    || (m.mount_path == *TOKEN_PATH
                        && non_empty(&m.sub_path).is_none()
                        && non_empty(&m.sub_path_expr).is_none())
            })
        })
}

/// Where the token path lands in images whose `/var/run` is a symlink to `/run` (Debian, Ubuntu,
/// Alpine, ...): the runtime follows the symlink, so a mount here covers the token path too.
const TOKEN_PATH_VIA_RUN: &str = "/run/secrets/kubernetes.io/serviceaccount";

/// The mount path as the container runtime resolves it: the API server only checks that
/// mountPath is non-empty and unique as a string, so `//`, `.` and `..` reach the runtime, which
/// cleans them (`..` never climbs above `/`). Relative paths are taken from `/`.
fn normalize_mount_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// True when a mount at `path` covers the token path: the path itself, below it, or a parent.
fn under_token_path(path: &str) -> bool {
    let path = normalize_mount_path(path);
    [TOKEN_PATH, TOKEN_PATH_VIA_RUN].into_iter().any(|token| {
        path == token
            || path == "/"
            || path
                .strip_prefix(token)
                .is_some_and(|rest| rest.starts_with('/'))
            || token
                .strip_prefix(path.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Rule 3: no token reaches the containers, through a projected token volume of any name, or
/// through anything else mounted over the token path.
fn check_token_volumes(
    kind: ResourceKind,
    prefix: &str,
    pod: &PodSpec<'_>,
    out: &mut Vec<Violation>,
) {
    let mut token_volumes: Vec<&str> = Vec::new();
    for (i, volume) in pod.volumes.iter().flatten().enumerate() {
        if !has_token_source(volume) {
            continue;
        }
        token_volumes.push(volume.name.as_str());
        let injected = kind == ResourceKind::Pod && is_injected(pod, volume);
        out.push(Violation {
            field: field(prefix, &format!("volumes[{i}]")),
            found: format!(
                "projected volume {} with a serviceAccountToken source{}",
                quoted(volume.name.as_str()),
                if injected { " (injected by Kubernetes)" } else { "" }
            ),
            expected: "no ServiceAccount token volume".into(),
            fix: format!(
                "remove volume {} and its volumeMounts: image pullers never call the Kubernetes API",
                quoted(volume.name.as_str())
            ),
            remedy: injected.then(|| Remedy::RemoveInjectedVolume(volume.name.to_string())),
        });
    }
    for (list, i, container) in containers(pod) {
        for (j, mount) in container.volume_mounts.iter().flatten().enumerate() {
            if under_token_path(mount.mount_path.as_str())
                && !token_volumes.contains(&mount.name.as_str())
            {
                out.push(Violation {
                    field: field(prefix, &format!("{list}[{i}].volumeMounts[{j}]")),
                    found: format!(
                        "volume {} mounted at {} in container {}",
                        quoted(mount.name.as_str()),
                        mount.mount_path,
                        quoted(container.name.as_str())
                    ),
                    expected: format!("nothing mounted at {TOKEN_PATH}"),
                    fix: "remove this mount: the ServiceAccount token path must stay empty in image pullers".into(),
                    remedy: None,
                });
            }
        }
    }
}

/// `reserveServiceAccounts`: a workload of no role may not run as a prepuller's ServiceAccount.
fn check_borrowed(settings: &Settings, prefix: &str, pod: &PodSpec<'_>, out: &mut Vec<Violation>) {
    for (name, value) in [
        ("serviceAccountName", non_empty(&pod.service_account_name)),
        ("serviceAccount", non_empty(&pod.service_account)),
    ] {
        let Some(value) = value else { continue };
        if let Some(owner) = settings.owner_of(value) {
            out.push(Violation {
                field: field(prefix, name),
                found: quoted(value),
                expected: "a ServiceAccount not reserved for the prepullers".into(),
                fix: format!(
                    "give this workload a ServiceAccount of its own: {} is reserved for the {} ({}.serviceAccountName, reserveServiceAccounts: true); if it is a {} its labels must match {}.selector",
                    quoted(value),
                    owner.kind.description(),
                    owner.kind.settings_key(),
                    owner.kind.description(),
                    owner.kind.settings_key()
                ),
                remedy: None,
            });
        }
    }
}

/// `serviceAccountObjects`: the puller ServiceAccounts themselves turn automount off, so that
/// no pod running under them gets a token by default.
pub fn check_service_account_object(
    settings: &Settings,
    sa: &ServiceAccountObject<'_>,
) -> Findings {
    let name = non_empty(&sa.metadata.name).unwrap_or_default();
    let subject = format!("ServiceAccount {}", sa.metadata.display_name());
    let owner = [&settings.hook_puller, &settings.continuous_puller]
        .into_iter()
        .find(|r| r.service_account_name == name);
    let mut violations = Vec::new();
    if let Some(owner) = owner {
        if sa.automount != Automount::False {
            violations.push(Violation {
                field: "automountServiceAccountToken".into(),
                found: sa.automount.describe(),
                expected: "false".into(),
                fix: format!(
                    "set automountServiceAccountToken: false on the {} ServiceAccount (the chart does not set it: add it with a Helm post-renderer or a patch)",
                    owner.kind.description()
                ),
                remedy: Some(Remedy::SetAutomountFalse),
            });
        }
        return Findings {
            subject: format!(
                "{subject} (the {} ServiceAccount, {}.serviceAccountName)",
                owner.kind.description(),
                owner.kind.settings_key()
            ),
            violations,
        };
    }
    Findings {
        subject,
        violations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{Decoded, decode};

    fn findings(settings: &Settings, kind: ResourceKind, raw: &str) -> Findings {
        match decode(kind, raw).expect("decodes") {
            Decoded::Workload(w) => check_workload(settings, &w),
            Decoded::ServiceAccount(sa) => check_service_account_object(settings, &sa),
        }
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
        assert_eq!(
            f.subject,
            "Pod jhub/p (hook image puller, matched by hookPuller.selector)"
        );
    }

    #[test]
    fn legacy_pod_running_as_default_gets_every_fixable_finding() {
        let spec = format!(
            r#"{{"serviceAccountName":"default","serviceAccount":"default","volumes":[{INJECTED}],
            "containers":[{{"name":"pause","volumeMounts":[{INJECTED_MOUNT}]}}],"initContainers":[{{"name":"i","volumeMounts":[{INJECTED_MOUNT}]}}]}}"#
        );
        let f = findings(&Settings::default(), ResourceKind::Pod, &hook_pod(&spec));
        let got: Vec<(&str, &str, Option<&Remedy>)> = f
            .violations
            .iter()
            .map(|v| (v.field.as_str(), v.found.as_str(), v.remedy.as_ref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "spec.serviceAccountName",
                    "\"default\"",
                    Some(&Remedy::SetServiceAccountName("hook-image-puller".into()))
                ),
                (
                    "spec.serviceAccount",
                    "\"default\"",
                    Some(&Remedy::SetDeprecatedServiceAccount(
                        "hook-image-puller".into()
                    ))
                ),
                (
                    "spec.automountServiceAccountToken",
                    "unset (defaults to true)",
                    Some(&Remedy::SetAutomountFalse)
                ),
                (
                    "spec.volumes[0]",
                    "projected volume \"kube-api-access-abcde\" with a serviceAccountToken source (injected by Kubernetes)",
                    Some(&Remedy::RemoveInjectedVolume(
                        "kube-api-access-abcde".into()
                    ))
                ),
            ]
        );
        assert!(
            f.violations[0]
                .fix
                .contains("prePuller.hook.serviceAccountImagePuller.create=true")
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
        assert_eq!(f.violations[0].found, "unset (runs as \"default\")");
        let f = findings(
            &s,
            ResourceKind::Pod,
            &hook_pod(
                r#"{"serviceAccount":"hook-image-puller","automountServiceAccountToken":false}"#,
            ),
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
        assert_eq!(f.violations[0].found, "\"other\"");
    }

    #[test]
    fn automount_must_be_the_boolean_false() {
        for (value, found) in [
            ("true", "true"),
            ("null", "null (not a boolean)"),
            ("\"false\"", "\"false\" (not a boolean)"),
        ] {
            let f = findings(
                &Settings::default(),
                ResourceKind::Pod,
                &hook_pod(&format!(
                    r#"{{"serviceAccountName":"hook-image-puller","automountServiceAccountToken":{value}}}"#
                )),
            );
            assert_eq!(f.violations.len(), 1, "{value}");
            assert_eq!(f.violations[0].found, found);
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
        assert!(
            f.violations[0]
                .fix
                .contains("prePuller.hook.serviceAccount.create=true")
        );
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
        assert!(
            f.violations[0]
                .fix
                .contains("reserved for the continuous image puller")
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
}
