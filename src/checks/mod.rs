//! The rules. A [`Violation`] is structural: the rule with the offending value, the field path,
//! and the change the policy may make itself ([`Remedy`]). Its text is `render`'s business, so
//! an UPDATE compares what is wrong, never how it is worded.

mod borrowing;
mod service_account;
mod tokens;

pub use tokens::TOKEN_PATH;

use crate::chart::{self, ChartVersion};
use crate::detection::{self, Detected, Unmatched, Unrecognised};
use crate::json::non_empty;
use crate::kinds::{self, ResourceKind};
use crate::roles::RoleKind;
use crate::settings::Settings;
use crate::workload::{Automount, EPHEMERAL_CONTAINERS, Object, ServiceAccountObject, Workload};

/// A change the policy may make on its own in `mode: mutate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remedy {
    /// Write the role's ServiceAccount into `serviceAccountName`, which decides the identity.
    SetServiceAccountName(String),
    /// Overwrite the deprecated `serviceAccount` alias too, so the two fields never disagree.
    SetDeprecatedServiceAccount(String),
    /// Write an explicit `automountServiceAccountToken: false`; unset means the token is mounted.
    SetAutomountFalse,
    /// Remove the injected `kube-api-access-*` volume and every mount of it.
    RemoveInjectedVolume(String),
}

/// How `serviceAccountName` was found when it is not the role's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameFound {
    /// Set to another account's name.
    Name(String),
    /// Present but empty: the Pod runs as `runs_as` (the alias, or `default`).
    Empty {
        /// The account the Pod would really run as, so the message shows the consequence.
        runs_as: String,
    },
    /// Absent: the Pod runs as `runs_as` (the alias, or `default`).
    Unset {
        /// The account the Pod would really run as, so the message shows the consequence.
        runs_as: String,
    },
}

/// What is wrong, with the offending value: the identity of a violation, with its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Rule 1: the role runs as its own ServiceAccount.
    ServiceAccountName {
        /// The role the labels matched, whose settings key and Helm value the message names.
        role: RoleKind,
        /// The role's ServiceAccount.
        want: String,
        /// What the pod spec says instead.
        found: NameFound,
    },
    /// Rule 1, the deprecated alias `serviceAccount` names another account.
    DeprecatedServiceAccount {
        /// The role the labels matched.
        role: RoleKind,
        /// The role's ServiceAccount.
        want: String,
        /// The other account the alias names.
        found: String,
    },
    /// Rule 2: `automountServiceAccountToken` is not explicitly `false`.
    Automount {
        /// The value found: unset, `true`, or not a boolean.
        found: Automount,
    },
    /// Rule 3: a projected volume with a `serviceAccountToken` source.
    TokenVolume {
        /// The volume's name, which the fix asks to remove.
        volume: String,
        /// Added by the ServiceAccount admission plugin on a Pod: the policy may remove it itself.
        injected: bool,
        /// The containers that mount it: a debug container that starts mounting it exposes the
        /// token anew, so an UPDATE that adds a mounter introduces this violation.
        mounted_by: Vec<MountedBy>,
    },
    /// Rule 3: a projected `podCertificate` whose signer makes it an API client certificate.
    PodCertificate {
        /// The volume's name, which the fix asks to remove.
        volume: String,
        /// The signer that makes the certificate authenticate to the API server.
        signer: String,
        /// The containers that mount it, part of the identity as for [`Rule::TokenVolume`].
        mounted_by: Vec<MountedBy>,
    },
    /// Rule 3: something else mounted over the token path.
    TokenPathMount {
        /// The container (or init or ephemeral container) with the mount.
        container: String,
        /// The volume mounted there.
        volume: String,
        /// The mount path, as written: the token path, a parent of it, or another spelling.
        mount_path: String,
    },
    /// `reserveServiceAccounts`: a workload of no role runs as a prepuller's ServiceAccount.
    Borrowed {
        /// The reserved ServiceAccount the workload runs as.
        account: String,
        /// The role it is reserved for.
        owner: RoleKind,
    },
    /// The Pods' labels match several roles.
    AmbiguousRoles {
        /// Every role whose selector matched, so the operator sees which selectors overlap.
        roles: Vec<RoleKind>,
    },
    /// `serviceAccountObjects`: a puller ServiceAccount does not turn automount off.
    ServiceAccountAutomount {
        /// The role the ServiceAccount is configured for.
        owner: RoleKind,
        /// The ServiceAccount's `automountServiceAccountToken`.
        found: Automount,
    },
}

/// A container that mounts a credential volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountedBy {
    /// The pod spec's list: `containers`, `initContainers` or `ephemeralContainers`.
    pub list: &'static str,
    /// The container's name.
    pub container: String,
}

impl MountedBy {
    /// A debug container (`kubectl debug`), the only kind an UPDATE can add to a Pod.
    pub fn is_ephemeral(&self) -> bool {
        self.list == EPHEMERAL_CONTAINERS
    }
}

/// Where the labels that decide an object's role are: the Pod's own, or its pod template's.
pub fn pod_labels_field(kind: ResourceKind) -> String {
    kinds::labels_field(kind.pod_template_path())
}

/// One broken rule at one field: what renders a message, and what an UPDATE compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted path of the field, e.g. `spec.template.spec.serviceAccountName`.
    pub field: String,
    /// The broken rule with the offending value: compared across an UPDATE, rendered in messages.
    pub rule: Rule,
    /// The fix `mode: mutate` may apply; `None` when only the operator can fix it.
    pub remedy: Option<Remedy>,
}

impl Violation {
    /// Identity across an UPDATE's old and new object: same rule, same place, same value (for a
    /// credential volume, the same containers mounting it).
    pub fn same_as(&self, other: &Violation) -> bool {
        self.field == other.field && self.rule == other.rule
    }

    /// The containers mounting a credential volume; none for the other rules.
    pub fn mounted_by(&self) -> &[MountedBy] {
        match &self.rule {
            Rule::TokenVolume { mounted_by, .. } | Rule::PodCertificate { mounted_by, .. } => {
                mounted_by
            }
            _ => &[],
        }
    }
}

/// What the object is to the policy, for the first words of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// No role matched: at most `reserveServiceAccounts` applies.
    NoRole,
    /// The Pods' labels match this role, whose rules apply.
    Role(RoleKind),
    /// The Pods' labels match several roles: no role's rules are guessed, the overlap is refused.
    Ambiguous,
    /// A ServiceAccount object named as a role's account.
    AccountOf(RoleKind),
}

/// What the rules found in one object.
#[derive(Debug)]
pub struct Findings {
    /// `Kind namespace/name`.
    pub object: String,
    /// The object's kind, so a warning can name where its pod template's labels are.
    pub kind: ResourceKind,
    /// What the object is to the policy, for the first words of a message.
    pub subject: Subject,
    /// Every broken rule, in the order the message lists them.
    pub violations: Vec<Violation>,
    /// Roles the object's other labels suggest but its Pods will not match: warnings, not
    /// violations.
    pub unrecognised: Vec<Unrecognised>,
    /// Roles the chart's labels on its Pods name while no selector matches them: warnings,
    /// and an audit's failure.
    pub unmatched: Vec<Unmatched>,
    /// The Zero to JupyterHub version the object's labels name, which decides the Helm advice;
    /// read by [`Findings::locate`] only when a message needs it.
    pub chart: ChartVersion,
    /// The object's namespace (the request's, else its own), for the commands a fix gives;
    /// set with `chart`.
    pub namespace: Option<String>,
    /// The object's name when it is a DaemonSet: chart 4.1.0 and later create the continuous
    /// puller's ServiceAccount under that name and no other, so the advice can name it; set
    /// with `chart`.
    pub daemonset: Option<String>,
}

impl Findings {
    /// Nothing found yet in the object `object` of kind `kind`.
    pub fn new(object: String, kind: ResourceKind) -> Findings {
        Findings {
            object,
            kind,
            subject: Subject::NoRole,
            violations: Vec::new(),
            unrecognised: Vec::new(),
            unmatched: Vec::new(),
            chart: ChartVersion::Unknown,
            namespace: None,
            daemonset: None,
        }
    }

    /// Whether the policy may fix every violation itself (`mode: mutate`).
    pub fn fixable(&self) -> bool {
        self.violations.iter().all(|v| v.remedy.is_some())
    }

    /// Reads what only a message's advice needs: `namespace` and the chart version the labels
    /// of `object` name. Compliant objects never pay for it.
    pub fn locate(&mut self, object: &Object<'_>, namespace: Option<&str>) {
        self.namespace = namespace.map(str::to_owned);
        if let Object::Workload(w) = object {
            if w.kind == ResourceKind::DaemonSet {
                self.daemonset = w.metadata.name.as_ref().map(|n| n.as_str().to_owned());
            }
            self.chart = chart::of(
                w.other_labels
                    .iter()
                    .map(|(_, labels)| labels)
                    .chain([&w.pod_labels]),
            );
        }
    }
}

/// Runs the rules that apply to an object.
pub fn check(settings: &Settings, object: &Object<'_>) -> Findings {
    match object {
        Object::Workload(w) => check_workload(settings, w),
        Object::ServiceAccount(sa) => check_service_account_object(settings, sa),
    }
}

/// Runs the rules on a Pod or a controller: its role, then the rules of that role.
pub fn check_workload(settings: &Settings, workload: &Workload<'_>) -> Findings {
    let prefix = workload.kind.pod_spec_path().join(".");
    let mut violations = Vec::new();
    let detection = detection::detect(settings, workload);
    let subject = match detection.role {
        Detected::One(role) => {
            service_account::check(&prefix, &workload.pod, role, &mut violations);
            if role.kind.is_puller() {
                service_account::check_automount(&prefix, &workload.pod, &mut violations);
                tokens::check(workload.kind, &prefix, &workload.pod, &mut violations);
            }
            Subject::Role(role.kind)
        }
        Detected::Ambiguous(matched) => {
            violations.push(Violation {
                field: pod_labels_field(workload.kind),
                rule: Rule::AmbiguousRoles {
                    roles: matched.iter().map(|r| r.kind).collect(),
                },
                remedy: None,
            });
            Subject::Ambiguous
        }
        Detected::None => {
            if settings.reserve_service_accounts {
                borrowing::check(settings, &prefix, &workload.pod, &mut violations);
            }
            Subject::NoRole
        }
    };
    Findings {
        object: format!(
            "{} {}",
            workload.kind.name(),
            workload.metadata.display_name()
        ),
        kind: workload.kind,
        subject,
        violations,
        unrecognised: detection.unrecognised,
        unmatched: detection.unmatched,
        chart: ChartVersion::Unknown,
        namespace: None,
        daemonset: None,
    }
}

/// `serviceAccountObjects`: the puller ServiceAccounts themselves turn automount off, so that
/// no pod running under them gets a token by default.
pub fn check_service_account_object(
    settings: &Settings,
    sa: &ServiceAccountObject<'_>,
) -> Findings {
    let name = non_empty(&sa.metadata.name).unwrap_or_default();
    let owner = settings.owner_of(name).filter(|r| r.kind.is_puller());
    let mut findings = Findings::new(
        format!("ServiceAccount {}", sa.metadata.display_name()),
        ResourceKind::ServiceAccount,
    );
    if let Some(owner) = owner {
        findings.subject = Subject::AccountOf(owner.kind);
        if sa.automount != Automount::False {
            findings.violations.push(Violation {
                field: "automountServiceAccountToken".into(),
                rule: Rule::ServiceAccountAutomount {
                    owner: owner.kind,
                    found: sa.automount.clone(),
                },
                remedy: Some(Remedy::SetAutomountFalse),
            });
        }
    }
    findings
}

#[cfg(test)]
mod tests;
