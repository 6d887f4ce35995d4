//! Which of a release's objects play the prepuller roles, and what the policy's settings must
//! say about each: the ServiceAccount its workload runs as (or, for a chart that predates the
//! puller ServiceAccounts, the one chart 4.1.0 and later create for it) and the `component`
//! label its Pods carry. Read from `helm template` output or a `kubectl get` dump; when a role
//! cannot be told apart, the error says why, so nothing half-right is written. The roles, their
//! labels, names and Helm values are the policy's own ([`RoleKind`]).

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use policy_host::chain::gvr;
use prepuller_serviceaccount_policy::roles::RoleKind;
use serde_json::Value;

use crate::input::Document;
use crate::kube::{is_stored, name_of, pod_spec};
use policy_host::chain::runs_as;

/// How Zero to JupyterHub makes a role's workload, the same on every chart version since 1.0:
/// its kind, and its template (the end of Helm's `# Source:`).
fn workload(role: RoleKind) -> (&'static str, &'static str) {
    match role {
        RoleKind::HookPuller => ("DaemonSet", "templates/image-puller/daemonset-hook.yaml"),
        RoleKind::ContinuousPuller => (
            "DaemonSet",
            "templates/image-puller/daemonset-continuous.yaml",
        ),
        RoleKind::Awaiter => ("Job", "templates/image-puller/job.yaml"),
    }
}

/// The chart's name for the role's workload without its prefix (`fullnameOverride`, or the
/// release's name): the name of the ServiceAccount chart 4.1.0 and later create for it too.
fn chart_name(role: RoleKind) -> String {
    role.default_role().service_account_name
}

/// What the settings say about one role, and why.
#[derive(Debug)]
pub struct RoleSettings {
    /// Which role.
    pub kind: RoleKind,
    /// `serviceAccountName`.
    pub service_account: String,
    /// The `component` label value its selector matches.
    pub component: String,
    /// Sentences for the comment above the role's settings.
    pub notes: Vec<String>,
    /// What the operator must act on before enforcing (the comment says it too).
    pub warning: Option<String>,
}

/// A release's prepuller roles.
#[derive(Debug)]
pub struct Release {
    /// The namespace of its workloads.
    pub namespace: String,
    /// The Helm release (its Pods' `release` label), when known.
    pub name: Option<String>,
    /// `jupyterhub-VERSION` (the workloads' `chart` or `helm.sh/chart` label), when known.
    pub chart: Option<String>,
    /// Hook puller, continuous puller, awaiter.
    pub roles: Vec<RoleSettings>,
}

/// A workload of the input found for a role.
struct Found<'a> {
    document: &'a Document,
    namespace: String,
    name: &'a str,
    /// Its pod template's labels.
    labels: &'a Value,
    /// The ServiceAccount its Pods run as.
    service_account: &'a str,
}

impl Found<'_> {
    /// `Kind namespace/name`, as the check's report names objects.
    fn title(&self) -> String {
        title(&self.document.object, &self.namespace)
    }
}

/// `Kind namespace/name` (`Kind name` without a namespace).
fn title(object: &Value, namespace: &str) -> String {
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = name_of(object);
    if namespace.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {namespace}/{name}")
    }
}

/// The labels the Pods of a workload carry (a Pod's own); `None` for an object that makes no
/// Pods.
fn pod_labels(object: &Value) -> Option<&Value> {
    let kind = object["kind"].as_str()?;
    gvr(kind).ok()?;
    let template = match kind {
        "Pod" => object,
        "CronJob" => &object["spec"]["jobTemplate"]["spec"]["template"],
        _ => &object["spec"]["template"],
    };
    Some(&template["metadata"]["labels"])
}

fn non_empty(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

/// The Pods that `owner` made: they carry its labels, and are its own.
fn owned_by(object: &Value, owner: &Found) -> bool {
    object["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| {
            refs.iter().any(|r| {
                r["kind"] == owner.document.object["kind"] && r["name"].as_str() == Some(owner.name)
            })
        })
}

/// The object's namespace: its own, else `-n`. An object whose namespace disagrees with `-n` is
/// refused, as `kubectl apply -n` refuses it.
fn namespace_of(document: &Document, flag: Option<&str>) -> Result<Option<String>> {
    let own = non_empty(&document.object["metadata"]["namespace"]);
    match (own, flag) {
        (Some(own), Some(flag)) if own != flag => bail!(
            "{}: the object is in namespace {own}, not {flag} (-n)",
            document.location()
        ),
        (Some(ns), _) | (None, Some(ns)) => Ok(Some(ns.to_owned())),
        (None, None) => Ok(None),
    }
}

/// The workload of this role in the input: recognised by the chart's template (`# Source:`) or
/// by the `component` label the chart gives its Pods. Two are an error: the settings would fit
/// one release and the policy would judge the other's Pods by them.
fn find<'a>(
    documents: &'a [Document],
    role: RoleKind,
    flag: Option<&str>,
) -> Result<Option<Found<'a>>> {
    let (kind, template) = workload(role);
    let mut found = Vec::new();
    for document in documents {
        let object = &document.object;
        if object["kind"] != kind {
            continue;
        }
        let Some(labels) = pod_labels(object) else {
            continue;
        };
        let by_source = document
            .source
            .as_deref()
            .is_some_and(|s| s.ends_with(template));
        if !by_source && labels["component"] != role.chart_component() {
            continue;
        }
        found.push(Found {
            document,
            namespace: namespace_of(document, flag)?.unwrap_or_default(),
            name: name_of(object),
            labels,
            service_account: runs_as(pod_spec(object)),
        });
    }
    if found.len() > 1 {
        let list: Vec<String> = found
            .iter()
            .map(|f| format!("{} ({})", f.title(), f.document.location()))
            .collect();
        bail!(
            "{} {}s in the input: {}: the settings fit one release; scaffold one release at a time",
            found.len(),
            role.description(),
            list.join(", ")
        );
    }
    Ok(found.pop())
}

/// Reads the roles from the input's objects; `flag` is `-n`.
pub fn identify(documents: &[Document], flag: Option<&str>) -> Result<Release> {
    let found = RoleKind::ALL
        .iter()
        .map(|&role| find(documents, role, flag))
        .collect::<Result<Vec<_>>>()?;
    // The awaiter alone is no release: it comes with the hook puller.
    let Some(any) = found[..2].iter().flatten().next() else {
        let (hook, continuous) = (RoleKind::HookPuller, RoleKind::ContinuousPuller);
        bail!(
            "no image puller in the input: no DaemonSet from {} or {}, nor one whose pod template is labelled component: {} or component: {}; give the release's `helm template` output or a `kubectl get` dump of its namespace",
            workload(hook).1,
            workload(continuous).1,
            hook.chart_component(),
            continuous.chart_component()
        );
    };
    if let Some(f) = found.iter().flatten().find(|f| f.namespace.is_empty()) {
        bail!(
            "{} ({}) names no namespace: give the release's namespace with -n, as to helm template",
            f.title(),
            f.document.location()
        );
    }
    let namespaces: BTreeSet<&str> = found
        .iter()
        .flatten()
        .map(|f| f.namespace.as_str())
        .collect();
    let namespace = match namespaces.into_iter().collect::<Vec<_>>()[..] {
        [ns] => ns.to_owned(),
        ref several => bail!(
            "the release's prepullers are in several namespaces ({}): scaffold one release at a time",
            several.join(", ")
        ),
    };
    // The chart's prefix (fullnameOverride, or the release name) is what its workload names
    // carry before the role's own name.
    let prefix = RoleKind::ALL.iter().zip(&found).find_map(|(&role, f)| {
        let f = f.as_ref()?;
        f.name.strip_suffix(chart_name(role).as_str())
    });
    let service_accounts: BTreeSet<(String, &str)> = documents
        .iter()
        .filter(|d| d.object["kind"] == "ServiceAccount")
        .map(|d| {
            Ok((
                namespace_of(d, flag)?.unwrap_or_default(),
                name_of(&d.object),
            ))
        })
        .collect::<Result<_>>()?;
    let context = Context {
        documents,
        namespace: &namespace,
        prefix,
        service_accounts: (!service_accounts.is_empty()).then_some(&service_accounts),
        live: documents.iter().any(|d| is_stored(&d.object)),
        hook_puller: found[0].is_some(),
    };
    let roles = RoleKind::ALL
        .iter()
        .zip(&found)
        .map(|(&role, f)| match f {
            Some(f) => context.role(role, f),
            None => context.absent(role),
        })
        .collect::<Result<Vec<_>>>()?;
    let chart_label = |f: &Found| {
        let labels = &f.document.object["metadata"]["labels"];
        non_empty(&labels["helm.sh/chart"])
            .or_else(|| non_empty(&labels["chart"]))
            .map(str::to_owned)
    };
    Ok(Release {
        namespace,
        name: non_empty(&any.labels["release"])
            .or_else(|| non_empty(&any.labels["app.kubernetes.io/instance"]))
            .map(str::to_owned),
        chart: found.iter().flatten().find_map(chart_label),
        roles,
    })
}

/// What the roles are read against.
struct Context<'a> {
    documents: &'a [Document],
    namespace: &'a str,
    /// The chart's prefix of the names, when a workload is named as the chart names it.
    prefix: Option<&'a str>,
    /// The input's ServiceAccounts, `None` when it holds none (a dump of workloads only).
    service_accounts: Option<&'a BTreeSet<(String, &'a str)>>,
    /// A `kubectl get` dump: Helm has deleted the hooks that succeeded.
    live: bool,
    /// Whether the input has the hook puller.
    hook_puller: bool,
}

impl Context<'_> {
    /// The role of a workload the input has.
    fn role(&self, role: RoleKind, found: &Found) -> Result<RoleSettings> {
        let title = found.title();
        let Some(component) = non_empty(&found.labels["component"]) else {
            bail!(
                "{title} ({}) is the {}, but its pod template has no `component` label, which Zero to JupyterHub gives its Pods on every chart version, so there is no label to select them by: give its pod template the chart's labels, or write the selector yourself (README.md, Settings)",
                found.document.location(),
                role.description()
            );
        };
        self.unique(role, found, component)?;
        let (service_account, note, warning) = match found.service_account {
            "default" if !role.is_puller() => bail!(
                "{title} runs as ServiceAccount \"default\" (as with {}.create: false), but the policy gives each role a ServiceAccount of its own: set {}.create=true (the chart's default) and scaffold again",
                role.helm_value(),
                role.helm_value()
            ),
            "default" => {
                // Chart 4.1.0 and later name the puller's ServiceAccount after its DaemonSet.
                let sa = found.name;
                let text = format!(
                    "{title} runs as `default`: {sa} is the ServiceAccount chart 4.1.0 and later create for it (Helm values {v}.create and {v}.name, which charts before 4.1.0 do not have: their values schema refuses them). Upgrade the chart to 4.1.0 or later, or create ServiceAccount {ns}/{sa} (and delete it before that upgrade: Helm does not take over objects it did not create), before enforcing: until it exists, mode: mutate moves the puller to it and the API server refuses its Pods.",
                    v = role.helm_value(),
                    ns = self.namespace
                );
                (sa, text.clone(), Some(text))
            }
            sa => {
                let (note, warning) = self.account(role, &title, sa);
                (sa, note, warning)
            }
        };
        Ok(RoleSettings {
            kind: role,
            service_account: service_account.to_owned(),
            component: component.to_owned(),
            notes: vec![
                note,
                format!("Its Pods are labelled component: {component}."),
            ],
            warning,
        })
    }

    /// What the comment says of `sa`, the ServiceAccount (not `default`) the role's workload
    /// `title` runs as, and the warning when the release does not create it.
    fn account(&self, role: RoleKind, title: &str, sa: &str) -> (String, Option<String>) {
        let ns = self.namespace;
        let Some(known) = self.service_accounts else {
            return (
                format!(
                    "{title} runs as ServiceAccount {sa}; the input holds no ServiceAccounts, so make sure {ns}/{sa} exists."
                ),
                None,
            );
        };
        if known.contains(&(ns.to_owned(), sa)) {
            return (
                format!("{title} runs as ServiceAccount {sa}, which the release creates."),
                None,
            );
        }
        let values = role.helm_value();
        let (why, fix) = match self.prefix.map(|p| format!("{p}{}", chart_name(role))) {
            Some(created) if known.contains(&(ns.to_owned(), created.as_str())) => (
                format!(
                    " (it creates {created} instead: the chart names this ServiceAccount object after the workload, whatever {values}.name says)"
                ),
                format!(
                    "drop {values}.name from the Helm values (the workload then runs as {created}) and scaffold again"
                ),
            ),
            _ => (
                String::new(),
                format!("set {values}.create=true in the Helm values"),
            ),
        };
        let text = format!(
            "{title} runs as ServiceAccount {sa}, which the release does not create{why}: the API server refuses its Pods until {ns}/{sa} exists. Create it, or {fix}."
        );
        (text.clone(), Some(text))
    }

    /// A role the release does not run: the chart's name for it. A live namespace has no hooks
    /// unless a `helm upgrade` runs (Helm deletes them once they succeed), so a dump without
    /// them says nothing about the release.
    fn absent(&self, role: RoleKind) -> Result<RoleSettings> {
        let hook = role != RoleKind::ContinuousPuller;
        if hook && self.live {
            bail!(
                "no {} in the input: it is a Helm hook, which Helm deletes once it succeeds, so a live namespace has it only during a helm upgrade: add what `helm get hooks RELEASE -n {}` prints to the inputs",
                role.description(),
                self.namespace
            );
        }
        let Some(prefix) = self.prefix else {
            bail!(
                "no {} in the input, and no prepuller of it is named as Zero to JupyterHub names them (…hook-image-puller, …continuous-image-puller, …hook-image-awaiter): cannot tell the name the chart gives it; write the settings yourself (README.md, Settings)",
                role.description()
            );
        };
        let enabled = if hook {
            "prePuller.hook.enabled"
        } else {
            "prePuller.continuous.enabled"
        };
        let sa = format!("{prefix}{}", chart_name(role));
        self.unique_absent(role)?;
        let mut notes = vec![format!(
            "The release runs no {} ({enabled}: false): {sa} and component: {} are what the chart names and labels it. Harmless: no Pod of the release runs as {sa} or carries that label, and the policy only keeps other workloads off it.",
            role.description(),
            role.chart_component()
        )];
        // `helm template --no-hooks` and `helm get manifest` leave the hooks out too, and a
        // hook ServiceAccount with a custom name would then be missed: said once, on the hook
        // puller (or on the awaiter when the hook puller is there).
        let warning = (hook && (role == RoleKind::HookPuller || self.hook_puller)).then(|| {
            format!(
                "no {} in the input, so the policy is written for a release with {enabled}: false; if the input was rendered without its hooks (helm template --no-hooks, helm get manifest), add them (helm template without --no-hooks, or helm get hooks) and scaffold again.",
                role.description()
            )
        });
        if warning.is_some() {
            notes.push(
                "If the input left the hooks out (helm template --no-hooks, helm get manifest), add them (helm template without --no-hooks, or helm get hooks) and scaffold again.".to_owned(),
            );
        }
        Ok(RoleSettings {
            kind: role,
            notes,
            service_account: sa,
            component: role.chart_component().to_owned(),
            warning,
        })
    }

    /// `Kind namespace/name` of another object of the input.
    fn title_of(&self, object: &Value) -> String {
        title(
            object,
            non_empty(&object["metadata"]["namespace"]).unwrap_or(self.namespace),
        )
    }

    /// The role's selector must select its own Pods only: any other pod template of the
    /// input with its label would be judged as the role.
    fn unique(&self, role: RoleKind, found: &Found, component: &str) -> Result<()> {
        for document in self.documents {
            let object = &document.object;
            if std::ptr::eq(document, found.document) || owned_by(object, found) {
                continue;
            }
            if pod_labels(object).is_some_and(|labels| labels["component"] == component) {
                bail!(
                    "{} ({}) carries component: {component} too, the label of the {}'s Pods ({}), so a selector on it would judge that workload as the {}: scaffold one release at a time, or write the selectors yourself (README.md, Settings)",
                    self.title_of(object),
                    document.location(),
                    role.description(),
                    found.title(),
                    role.description()
                );
            }
        }
        Ok(())
    }

    /// An absent role's label must mark no Pod of the input.
    fn unique_absent(&self, role: RoleKind) -> Result<()> {
        for document in self.documents {
            let object = &document.object;
            if pod_labels(object)
                .is_some_and(|labels| labels["component"] == role.chart_component())
            {
                bail!(
                    "{} ({}) carries component: {}, the label of the {}'s Pods, but is no {} {}: write the selectors yourself (README.md, Settings)",
                    self.title_of(object),
                    document.location(),
                    role.chart_component(),
                    role.description(),
                    workload(role).0,
                    role.description()
                );
            }
        }
        Ok(())
    }
}
