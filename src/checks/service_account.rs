//! Rules 1 and 2: the role's own ServiceAccount, and automount explicitly off.

use super::{NameFound, Remedy, Rule, Violation};
use crate::json::non_empty;
use crate::roles::Role;
use crate::workload::{Automount, PodSpec};

/// Rule 1: the effective ServiceAccount (`serviceAccountName`, else the deprecated
/// `serviceAccount`, else `default`) is the role's, and both name fields agree with it.
pub fn check(prefix: &str, pod: &PodSpec<'_>, role: &Role, out: &mut Vec<Violation>) {
    let want = role.service_account_name.as_str();
    let name = non_empty(&pod.service_account_name);
    let alias = non_empty(&pod.service_account);
    let effective = name.or(alias).unwrap_or("default");
    let found = match name {
        Some(n) if n != want => Some(NameFound::Name(n.to_owned())),
        None if effective != want => {
            let runs_as = effective.to_owned();
            Some(match pod.service_account_name {
                Some(_) => NameFound::Empty { runs_as },
                None => NameFound::Unset { runs_as },
            })
        }
        _ => None,
    };
    if let Some(found) = found {
        out.push(Violation {
            field: format!("{prefix}.serviceAccountName"),
            rule: Rule::ServiceAccountName {
                role: role.kind,
                want: want.to_owned(),
                found,
            },
            remedy: Some(Remedy::SetServiceAccountName(want.to_owned())),
        });
    }
    if let Some(a) = alias.filter(|a| *a != want) {
        out.push(Violation {
            field: format!("{prefix}.serviceAccount"),
            rule: Rule::DeprecatedServiceAccount {
                role: role.kind,
                want: want.to_owned(),
                found: a.to_owned(),
            },
            remedy: Some(Remedy::SetDeprecatedServiceAccount(want.to_owned())),
        });
    }
}

/// Rule 2: `automountServiceAccountToken` is explicitly `false`.
pub fn check_automount(prefix: &str, pod: &PodSpec<'_>, out: &mut Vec<Violation>) {
    let automount = &pod.automount_service_account_token;
    if *automount != Automount::False {
        out.push(Violation {
            field: format!("{prefix}.automountServiceAccountToken"),
            rule: Rule::Automount {
                found: automount.clone(),
            },
            remedy: Some(Remedy::SetAutomountFalse),
        });
    }
}
