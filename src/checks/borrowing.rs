//! `reserveServiceAccounts`: a workload of no role may not run as a prepuller's ServiceAccount.

use super::{Rule, Violation};
use crate::json::non_empty;
use crate::settings::Settings;
use crate::workload::PodSpec;

/// Flags either name field naming a role's ServiceAccount: no fix, since only the operator
/// knows which account the workload should have.
pub fn check(settings: &Settings, prefix: &str, pod: &PodSpec<'_>, out: &mut Vec<Violation>) {
    for (name, value) in [
        ("serviceAccountName", non_empty(&pod.service_account_name)),
        ("serviceAccount", non_empty(&pod.service_account)),
    ] {
        let Some(value) = value else { continue };
        if let Some(owner) = settings.owner_of(value) {
            out.push(Violation {
                field: format!("{prefix}.{name}"),
                rule: Rule::Borrowed {
                    account: value.to_owned(),
                    owner: owner.kind,
                },
                remedy: None,
            });
        }
    }
}
