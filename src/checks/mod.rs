//! The rules. A [`Violation`] is structural: the rule with the offending value, the field path,
//! and the change the policy may make itself ([`Remedy`]). Its text is `render`'s business, so
//! an UPDATE compares what is wrong, never how it is worded.

mod borrowing;
mod service_account;
mod tokens;

pub use tokens::{TOKEN_PATH, under_token_path};

use crate::json::non_empty;
use crate::kinds::ResourceKind;
use crate::roles::{self, Detected, RoleKind};
use crate::settings::Settings;
use crate::workload::{Automount, ObjectView, ServiceAccountObject, Workload};

/// A change the policy may make on its own in `mode: mutate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remedy {
    SetServiceAccountName(String),
    SetDeprecatedServiceAccount(String),
    SetAutomountFalse,
    /// Remove the injected `kube-api-access-*` volume and every mount of it.
    RemoveInjectedVolume(String),
}

/// How `serviceAccountName` was found when it is not the role's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameFound {
    Name(String),
    /// Present but empty: the Pod runs as `runs_as` (the alias, or `default`).
    Empty {
        runs_as: String,
    },
    Unset {
        runs_as: String,
    },
}

/// What is wrong, with the offending value: the identity of a violation, with its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Rule 1: the role runs as its own ServiceAccount.
    ServiceAccountName {
        role: RoleKind,
        want: String,
        found: NameFound,
    },
    /// Rule 1, the deprecated alias `serviceAccount` names another account.
    DeprecatedServiceAccount {
        role: RoleKind,
        want: String,
        found: String,
    },
    /// Rule 2: `automountServiceAccountToken` is not explicitly `false`.
    Automount { found: Automount },
    /// Rule 3: a projected volume with a `serviceAccountToken` source.
    TokenVolume { volume: String, injected: bool },
    /// Rule 3: a projected `podCertificate` whose signer makes it an API client certificate.
    PodCertificate { volume: String, signer: String },
    /// Rule 3: something else mounted over the token path.
    TokenPathMount {
        container: String,
        volume: String,
        mount_path: String,
    },
    /// `reserveServiceAccounts`: a workload of no role runs as a prepuller's ServiceAccount.
    Borrowed { account: String, owner: RoleKind },
    /// The Pods' labels match several roles.
    AmbiguousRoles { roles: Vec<RoleKind> },
    /// `serviceAccountObjects`: a puller ServiceAccount does not turn automount off.
    ServiceAccountAutomount { owner: RoleKind, found: Automount },
}

/// One broken rule at one field: what renders a message, and what an UPDATE compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted path of the field, e.g. `spec.template.spec.serviceAccountName`.
    pub field: String,
    pub rule: Rule,
    pub remedy: Option<Remedy>,
}

impl Violation {
    /// Identity across an UPDATE's old and new object: same rule, same place, same value.
    pub fn same_as(&self, other: &Violation) -> bool {
        self.field == other.field && self.rule == other.rule
    }
}

/// What the object is to the policy, for the first words of a message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Subject {
    #[default]
    NoRole,
    Role(RoleKind),
    Ambiguous,
    /// A ServiceAccount object named as a role's account.
    AccountOf(RoleKind),
}

/// A role that the object's own labels (or a CronJob's job template's) suggest, while the
/// labels its Pods will carry do not match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrecognised {
    pub role: RoleKind,
    /// Where the labels that match were found, e.g. `metadata.labels`.
    pub field: &'static str,
}

/// What the rules found in one object.
#[derive(Debug, Default)]
pub struct Findings {
    /// `Kind namespace/name`.
    pub object: String,
    pub kind: Option<ResourceKind>,
    pub subject: Subject,
    pub violations: Vec<Violation>,
    pub unrecognised: Vec<Unrecognised>,
}

impl Findings {
    /// Whether the policy may fix every violation itself (`mode: mutate`).
    pub fn fixable(&self) -> bool {
        self.violations.iter().all(|v| v.remedy.is_some())
    }
}

pub(crate) fn field(prefix: &str, rest: &str) -> String {
    if prefix.is_empty() {
        rest.to_owned()
    } else {
        format!("{prefix}.{rest}")
    }
}

/// Runs the rules that apply to an object.
pub fn check(settings: &Settings, object: &ObjectView<'_>) -> Findings {
    match object {
        ObjectView::Workload(w) => check_workload(settings, w),
        ObjectView::ServiceAccount(sa) => check_service_account_object(settings, sa),
    }
}

/// Runs the rules on a Pod or a controller: its role, then the rules of that role.
pub fn check_workload(settings: &Settings, workload: &Workload<'_>) -> Findings {
    let prefix = workload.kind.pod_spec_path().join(".");
    let mut violations = Vec::new();
    let detection = roles::detect(settings, workload);
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
            let at = match workload.kind.pod_template_path() {
                [] => "metadata.labels".to_owned(),
                path => format!("{}.metadata.labels", path.join(".")),
            };
            violations.push(Violation {
                field: at,
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
        kind: Some(workload.kind),
        subject,
        violations,
        unrecognised: detection
            .unrecognised
            .iter()
            .map(|u| Unrecognised {
                role: u.role.kind,
                field: u.field,
            })
            .collect(),
    }
}

/// `serviceAccountObjects`: the puller ServiceAccounts themselves turn automount off, so that
/// no pod running under them gets a token by default.
pub fn check_service_account_object(
    settings: &Settings,
    sa: &ServiceAccountObject<'_>,
) -> Findings {
    let name = non_empty(&sa.metadata.name).unwrap_or_default();
    let owner = [&settings.hook_puller, &settings.continuous_puller]
        .into_iter()
        .find(|r| r.service_account_name == name);
    let mut findings = Findings {
        object: format!("ServiceAccount {}", sa.metadata.display_name()),
        kind: Some(ResourceKind::ServiceAccount),
        ..Findings::default()
    };
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
