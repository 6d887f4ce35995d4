//! What to change so that the release needs no change by the policy and nothing of it is
//! refused, computed from facts rather than from the module's prose: the part an object plays in
//! the Zero to JupyterHub chart (its template's kind and `component` label), whether the chart
//! rendered it (its `helm.sh/chart` label, `chart` before 4.0.0, and its `# Source:`), the
//! chart's version, the ServiceAccount it runs as, the one the policy moves it onto and the ones
//! whose absence gets Pods refused. Chart values are advised only for the chart's own pullers
//! and awaiter, and only values the chart's version has: chart 4.0.0's values schema refuses
//! `prePuller.hook.serviceAccountImagePuller` and `prePuller.continuous.serviceAccount` (added
//! in 4.1.0), so `helm upgrade` would refuse that advice.

use std::collections::BTreeSet;

use prepuller_serviceaccount_policy::chart::{self, ChartVersion};
use prepuller_serviceaccount_policy::roles::RoleKind;
use serde_json::Value;

use crate::kube::pod_spec;
use crate::model::Verdict;
use policy_host::chain::runs_as;

/// One object's facts.
#[derive(Debug)]
pub struct Case<'a> {
    /// The object as sent (its namespace set).
    pub object: &'a Value,
    /// Helm's `# Source:`.
    pub source: Option<&'a str>,
    /// What the module decides (in monitor mode, what it would).
    pub decision: Verdict,
    /// The ServiceAccount the policy moves its Pods onto, when not the one they run as.
    pub wanted: Option<&'a str>,
    /// ServiceAccounts whose absence gets it or its Pods refused by the API server.
    pub missing: &'a [String],
    /// `(namespace, name)` of the ServiceAccounts that exist when it is created.
    pub known: &'a BTreeSet<(String, String)>,
    /// `(namespace, name)` of every ServiceAccount of the input.
    pub input: &'a BTreeSet<(String, String)>,
}

/// The chart that rendered an object, from its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Chart {
    /// `jupyterhub-4.0.0`, as the label says it.
    label: String,
    /// What the version means for the puller ServiceAccounts, as the policy reads it.
    version: ChartVersion,
}

impl Chart {
    /// Chart 4.1.0 added `prePuller.hook.serviceAccountImagePuller` and
    /// `prePuller.continuous.serviceAccount`, both creating the ServiceAccount by default. A
    /// pre-release the policy cannot place (`4.0.1-0.dev`, `4.1.0-beta.1`) is advised as an
    /// older chart: upgrading to 4.1.0 is right for it either way.
    fn has_puller_accounts(&self) -> bool {
        matches!(self.version, ChartVersion::WithPullerAccounts(_))
    }
}

/// The object's Zero to JupyterHub chart, when the chart rendered it: the label the chart puts
/// on everything it renders (`helm.sh/chart`, `chart` before 4.0.0), and a `# Source:` (when
/// there is one, not in a `kubectl get` dump) among the chart's templates, so that a workload
/// of another chart that copied the labels is not taken for the chart's.
fn chart_of(object: &Value, source: Option<&str>) -> Option<Chart> {
    let labels = &object["metadata"]["labels"];
    let label = labels["helm.sh/chart"]
        .as_str()
        .or_else(|| labels["chart"].as_str())?;
    if let Some(source) = source
        && !(source.starts_with("jupyterhub/templates/")
            || source.contains("/charts/jupyterhub/templates/"))
    {
        return None;
    }
    Some(Chart {
        label: label.to_owned(),
        version: chart::parse(label)?,
    })
}

/// The chart's own labelling of the roles: `component` on the pullers' DaemonSets and the
/// awaiter's Job, the same in chart 3.x and 4.x.
fn part_of(object: &Value) -> Option<RoleKind> {
    let component = object["metadata"]["labels"]["component"].as_str()?;
    let kind = object["kind"].as_str()?;
    RoleKind::ALL.into_iter().find(|role| {
        role.chart_component() == component
            && kind == if role.is_puller() { "DaemonSet" } else { "Job" }
    })
}

/// The advice for one object, one line each; nothing when it is admitted unchanged and nothing
/// of it is refused.
pub fn advise(case: &Case<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let namespace = case.object["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    // ServiceAccounts whose absence a line already explains.
    let mut explained: Vec<&str> = Vec::new();
    match (chart_of(case.object, case.source), part_of(case.object)) {
        (Some(chart), Some(part)) => {
            if let Some(line) = chart_line(case, &chart, part, namespace, &mut explained) {
                out.push(line);
            }
        }
        // The chart's other objects: the policy's own message says what to change.
        (Some(_), None) => {}
        // What a controller made (a dump's Pods and ReplicaSets) changes with its controller.
        (None, _) if controlled(case.object) => {}
        (None, _) => {
            let what = match case.decision {
                Verdict::Mutate => {
                    Some("make the changes above in its own manifest (--write-fixed writes them)")
                }
                Verdict::Reject => Some("change its own manifest as the message above says"),
                Verdict::Accept | Verdict::NotSent => None,
            };
            if let Some(what) = what {
                let mut line = format!(
                    "not rendered by the Zero to JupyterHub chart as one of its image pullers or \
                     its awaiter, so no chart value applies: {what}"
                );
                if case.wanted.is_some() {
                    line.push_str(
                        "; if it is no image puller, give its Pods labels that no role's selector \
                         in the policy settings matches",
                    );
                }
                out.push(line);
            }
        }
    }
    for account in case.missing {
        if explained.contains(&account.as_str()) {
            continue;
        }
        explained.push(account);
        out.push(format!(
            "ServiceAccount {account:?} is neither in the input nor named with \
             --existing-serviceaccount, and the API server refuses Pods that run as a \
             ServiceAccount that does not exist: create it (kubectl create serviceaccount \
             {account} -n {namespace}), or name it with --existing-serviceaccount \
             {namespace}/{account} when the cluster has it"
        ));
    }
    out
}

/// Whether a controller owns the object.
fn controlled(object: &Value) -> bool {
    object["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|owners| owners.iter().any(|o| o["controller"] == true))
}

/// The advice for the chart's puller or awaiter, fitting the chart's version.
fn chart_line<'a>(
    case: &Case<'a>,
    chart: &Chart,
    part: RoleKind,
    namespace: &str,
    explained: &mut Vec<&'a str>,
) -> Option<String> {
    let label = &chart.label;
    let name = case.object["metadata"]["name"].as_str().unwrap_or_default();
    let runs = runs_as(pod_spec(case.object));
    let description = part.description();
    let value = part.helm_value();
    let key = part.settings_key();
    let exists = |account: &str| {
        case.known
            .contains(&(namespace.to_owned(), account.to_owned()))
    };
    if part != RoleKind::Awaiter && !chart.has_puller_accounts() {
        // Before 4.1.0 the pullers run as `default` and no value changes that.
        let wanted = case.wanted?;
        explained.push(wanted);
        let settings = if wanted != name {
            format!(" (then set {key}.serviceAccountName: {name} in the policy settings)")
        } else {
            String::new()
        };
        let meanwhile = if exists(wanted) {
            format!(
                "until then the policy (mode: mutate) moves the puller onto ServiceAccount \
                 {wanted:?}, which exists"
            )
        } else {
            format!(
                "or create ServiceAccount {wanted:?} (kubectl create serviceaccount {wanted} -n \
                 {namespace}), onto which the policy (mode: mutate) moves the puller"
            )
        };
        return Some(format!(
            "chart {label} has no value for the {description}'s ServiceAccount ({value} arrives \
             in chart 4.1.0, and the values schema of earlier charts refuses it): upgrade the \
             chart to 4.1.0 or later, which creates ServiceAccount {name:?} and runs the puller \
             as it{settings}; {meanwhile}"
        ));
    }
    let in_input = |account: &str| {
        case.input
            .contains(&(namespace.to_owned(), account.to_owned()))
    };
    let runs_exists = exists(runs) || in_input(runs);
    if part == RoleKind::ContinuousPuller && runs != name && !runs_exists && in_input(name) {
        // serviceaccount-continuous.yaml names the ServiceAccount after the DaemonSet, while
        // the DaemonSet runs as prePuller.continuous.serviceAccount.name.
        explained.push(runs);
        let policy_name = case.wanted.unwrap_or(runs);
        let settings = if policy_name != name {
            format!(" (and continuousPuller.serviceAccountName: {name} in the policy settings)")
        } else {
            String::new()
        };
        let outcome = match case.wanted {
            _ if case.missing.iter().any(|m| m == runs) => {
                ", so the API server refuses the puller's Pods".to_owned()
            }
            Some(wanted) => format!(" (the policy moves the puller onto {wanted:?})"),
            None => String::new(),
        };
        return Some(format!(
            "chart {label} names the continuous image puller's ServiceAccount after the \
             DaemonSet ({name:?}), not after {value}.name ({runs:?}), which the DaemonSet runs \
             as: the release never creates {runs:?}{outcome}. Set {value}.name={name}{settings}, \
             or create ServiceAccount {runs:?} yourself (kubectl create serviceaccount {runs} -n \
             {namespace}), or, when the cluster already has it, name it with \
             --existing-serviceaccount {namespace}/{runs}"
        ));
    }
    // From 4.1.0 the chart runs each puller as its own ServiceAccount: the settings name
    // another.
    let wanted = case.wanted?;
    explained.push(wanted);
    let by_value = match part {
        RoleKind::HookPuller | RoleKind::Awaiter => format!(
            "{value}.name={wanted} (the chart then creates it and runs the {description} as it)"
        ),
        // The chart names the ServiceAccount it creates after the DaemonSet whatever the value
        // says: only the DaemonSet's own name works.
        RoleKind::ContinuousPuller if wanted == name => format!(
            "{value}.create=true and {value}.name unset (the chart then creates {name:?} and runs \
             the puller as it)"
        ),
        RoleKind::ContinuousPuller => format!(
            "{value}.create=true and {value}.name unset, and continuousPuller.serviceAccountName: \
             {name} in the policy settings (the chart creates {name:?} and runs the puller as it)"
        ),
    };
    Some(if runs_exists {
        let created = if in_input(runs) {
            ", which the release creates"
        } else {
            ", which exists"
        };
        let or_value = match part {
            RoleKind::ContinuousPuller if wanted != name => String::new(),
            _ => format!(", or {by_value}"),
        };
        format!(
            "chart {label} runs the {description} as ServiceAccount {runs:?}{created}, the \
             policy settings expect {wanted:?}: set {key}.serviceAccountName: {runs} in them\
             {or_value}"
        )
    } else {
        format!(
            "chart {label} runs the {description} as ServiceAccount {runs:?}, which does not \
             exist, the policy settings expect {wanted:?}: set {by_value}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chart_versions_from_labels() {
        let object = |label: &str| json!({"metadata": {"labels": {"helm.sh/chart": label}}});
        let chart = chart_of(&object("jupyterhub-4.0.0"), None).unwrap();
        assert_eq!(
            chart.version,
            ChartVersion::WithoutPullerAccounts("4.0.0".into())
        );
        assert!(!chart.has_puller_accounts());
        assert!(
            chart_of(&object("jupyterhub-4.1.0"), None)
                .unwrap()
                .has_puller_accounts()
        );
        assert!(
            !chart_of(&object("jupyterhub-4.1.0-0.dev.git.6.h1"), None)
                .unwrap()
                .has_puller_accounts()
        );
        assert!(
            chart_of(&object("jupyterhub-4.4.0_build.1"), None)
                .unwrap()
                .has_puller_accounts()
        );
        // 3.x labels with `chart` only.
        let old = json!({"metadata": {"labels": {"chart": "jupyterhub-3.3.8"}}});
        assert_eq!(
            chart_of(&old, None).unwrap().version,
            ChartVersion::WithoutPullerAccounts("3.3.8".into())
        );
        // Another chart, or another chart's template with the labels copied.
        assert_eq!(chart_of(&object("binderhub-1.0.0"), None), None);
        assert_eq!(chart_of(&object("jupyterhub-x"), None), None);
        assert_eq!(
            chart_of(
                &object("jupyterhub-4.0.0"),
                Some("mine/templates/cron.yaml")
            ),
            None
        );
        assert!(
            chart_of(
                &object("jupyterhub-4.0.0"),
                Some("parent/charts/jupyterhub/templates/image-puller/daemonset-hook.yaml")
            )
            .is_some()
        );
    }
}
