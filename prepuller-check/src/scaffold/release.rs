//! Which of a release's objects play the prepuller roles, and what the policy's settings must
//! say about each: the ServiceAccount its workload runs as (or, for a chart that predates the
//! puller ServiceAccounts, the one chart 4.1.0 and later create for it) and the `component`
//! label its Pods carry. Read from `helm template` output or a `kubectl get` dump; when a role
//! cannot be told apart, the error says why, so nothing half-right is written.

use std::collections::BTreeSet;

use anyhow::{Result, bail};
use serde_json::Value;

use crate::input::Document;

/// One role as Zero to JupyterHub makes it (every chart version since 1.0 names and labels
/// these the same way).
#[derive(Debug)]
pub struct RoleSpec {
    /// Its key in the policy's settings.
    pub key: &'static str,
    /// How messages name it.
    pub description: &'static str,
    /// The kind of its workload.
    pub kind: &'static str,
    /// The `component` label the chart gives its Pods.
    pub component: &'static str,
    /// The chart's template of its workload (the end of Helm's `# Source:`).
    pub template: &'static str,
    /// Its workload's (and ServiceAccount's) name without the chart's prefix.
    pub name: &'static str,
    /// The Helm values that name its ServiceAccount.
    pub values: &'static str,
}

/// The hook puller: a pre-install/pre-upgrade hook DaemonSet.
pub const HOOK_PULLER: RoleSpec = RoleSpec {
    key: "hookPuller",
    description: "hook image puller",
    kind: "DaemonSet",
    component: "hook-image-puller",
    template: "templates/image-puller/daemonset-hook.yaml",
    name: "hook-image-puller",
    values: "prePuller.hook.serviceAccountImagePuller",
};

/// The continuous puller DaemonSet.
pub const CONTINUOUS_PULLER: RoleSpec = RoleSpec {
    key: "continuousPuller",
    description: "continuous image puller",
    kind: "DaemonSet",
    component: "continuous-image-puller",
    template: "templates/image-puller/daemonset-continuous.yaml",
    name: "continuous-image-puller",
    values: "prePuller.continuous.serviceAccount",
};

/// The hook-image-awaiter Job (a hook too), labelled `component: image-puller`.
pub const AWAITER: RoleSpec = RoleSpec {
    key: "awaiter",
    description: "hook image awaiter",
    kind: "Job",
    component: "image-puller",
    template: "templates/image-puller/job.yaml",
    name: "hook-image-awaiter",
    values: "prePuller.hook.serviceAccount",
};

/// The three roles, in the settings' order.
pub const ROLES: [&RoleSpec; 3] = [&HOOK_PULLER, &CONTINUOUS_PULLER, &AWAITER];

/// What the settings say about one role, and why.
#[derive(Debug)]
pub struct Role {
    /// Which role.
    pub spec: &'static RoleSpec,
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
    pub roles: Vec<Role>,
}

/// A workload of the input found for a role.
struct Found<'a> {
    document: &'a Document,
    namespace: String,
    name: &'a str,
    labels: &'a Value,
    /// `serviceAccountName`, else the deprecated `serviceAccount`; `None` runs as `default`.
    service_account: Option<&'a str>,
}

impl Found<'_> {
    /// `Kind namespace/name`, as the check's report names objects.
    fn title(&self) -> String {
        let kind = self.document.object["kind"].as_str().unwrap_or_default();
        if self.namespace.is_empty() {
            format!("{kind} {}", self.name)
        } else {
            format!("{kind} {}/{}", self.namespace, self.name)
        }
    }
}

/// The pod template's labels and spec of a workload (or a Pod's own), as the policy reads them.
fn pod_template(object: &Value) -> Option<(&Value, &Value)> {
    let template = match object["kind"].as_str()? {
        "Pod" => object,
        "CronJob" => &object["spec"]["jobTemplate"]["spec"]["template"],
        "DaemonSet"
        | "Deployment"
        | "StatefulSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => &object["spec"]["template"],
        _ => return None,
    };
    Some((&template["metadata"]["labels"], &template["spec"]))
}

fn non_empty(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

fn name_of(object: &Value) -> &str {
    non_empty(&object["metadata"]["name"])
        .or_else(|| non_empty(&object["metadata"]["generateName"]))
        .unwrap_or_default()
}

/// Whether the object was read from the cluster (a `kubectl get` dump), not rendered.
fn stored(object: &Value) -> bool {
    let metadata = &object["metadata"];
    metadata.get("uid").is_some() || metadata.get("creationTimestamp").is_some()
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
    role: &RoleSpec,
    flag: Option<&str>,
) -> Result<Option<Found<'a>>> {
    let mut found = Vec::new();
    for document in documents {
        let object = &document.object;
        if object["kind"] != role.kind {
            continue;
        }
        let Some((labels, spec)) = pod_template(object) else {
            continue;
        };
        let by_source = document
            .source
            .as_deref()
            .is_some_and(|s| s.ends_with(role.template));
        if !by_source && labels["component"] != role.component {
            continue;
        }
        found.push(Found {
            document,
            namespace: namespace_of(document, flag)?.unwrap_or_default(),
            name: name_of(object),
            labels,
            service_account: non_empty(&spec["serviceAccountName"])
                .or_else(|| non_empty(&spec["serviceAccount"])),
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
            role.description,
            list.join(", ")
        );
    }
    Ok(found.pop())
}

/// Reads the roles from the input's objects; `flag` is `-n`.
pub fn identify(documents: &[Document], flag: Option<&str>) -> Result<Release> {
    let found = ROLES
        .iter()
        .map(|role| find(documents, role, flag))
        .collect::<Result<Vec<_>>>()?;
    // The awaiter alone is no release: it comes with the hook puller.
    let Some(any) = found[..2].iter().flatten().next() else {
        bail!(
            "no image puller in the input: no DaemonSet from {} or {}, nor one whose pod template is labelled component: {} or component: {}; give the release's `helm template` output or a `kubectl get` dump of its namespace",
            HOOK_PULLER.template,
            CONTINUOUS_PULLER.template,
            HOOK_PULLER.component,
            CONTINUOUS_PULLER.component
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
    let prefix = ROLES
        .iter()
        .zip(&found)
        .find_map(|(role, f)| f.as_ref().and_then(|f| f.name.strip_suffix(role.name)));
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
        live: documents.iter().any(|d| stored(&d.object)),
        hook_puller: found[0].as_ref().map(Found::title),
    };
    let roles = ROLES
        .iter()
        .zip(&found)
        .map(|(role, f)| context.role(role, f.as_ref()))
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
    /// The hook puller found, if any.
    hook_puller: Option<String>,
}

impl Context<'_> {
    fn role(&self, role: &'static RoleSpec, found: Option<&Found>) -> Result<Role> {
        let Some(found) = found else {
            return self.absent(role);
        };
        let title = found.title();
        let Some(component) = non_empty(&found.labels["component"]) else {
            bail!(
                "{title} ({}) is the {}, but its pod template has no `component` label, which Zero to JupyterHub gives its Pods on every chart version, so there is no label to select them by: give its pod template the chart's labels, or write the selector yourself (README.md, Settings)",
                found.document.location(),
                role.description
            );
        };
        self.unique(role, found, component)?;
        let mut notes = Vec::new();
        let mut warning = None;
        let service_account = match found.service_account {
            Some(sa) if sa != "default" => {
                match self.service_accounts {
                    None => notes.push(format!(
                        "{title} runs as ServiceAccount {sa}; the input holds no ServiceAccounts, so make sure {}/{sa} exists.",
                        self.namespace
                    )),
                    Some(known) if known.contains(&(self.namespace.to_owned(), sa)) => notes
                        .push(format!(
                            "{title} runs as ServiceAccount {sa}, which the release creates."
                        )),
                    Some(known) => {
                        let chart_name = format!("{}{}", self.prefix.unwrap_or_default(), role.name);
                        let created = self.prefix.is_some()
                            && known.contains(&(self.namespace.to_owned(), &chart_name[..]));
                        let (why, fix) = if created {
                            (
                                format!(
                                    " (it creates {chart_name} instead: the chart names this ServiceAccount object after the workload, whatever {}.name says)",
                                    role.values
                                ),
                                format!(
                                    "drop {}.name from the Helm values (the workload then runs as {chart_name}) and scaffold again",
                                    role.values
                                ),
                            )
                        } else {
                            (
                                String::new(),
                                format!("set {}.create=true in the Helm values", role.values),
                            )
                        };
                        let text = format!(
                            "{title} runs as ServiceAccount {sa}, which the release does not create{why}: the API server refuses its Pods until {}/{sa} exists. Create it, or {fix}.",
                            self.namespace
                        );
                        notes.push(text.clone());
                        warning = Some(text);
                    }
                }
                sa.to_owned()
            }
            _ if role.key == AWAITER.key => bail!(
                "{title} runs as ServiceAccount \"default\" (as with {}.create: false), but the policy gives each role a ServiceAccount of its own: set {}.create=true (the chart's default) and scaffold again",
                role.values,
                role.values
            ),
            Some(_) | None => {
                // Chart 4.1.0 and later name the puller's ServiceAccount after its DaemonSet.
                let sa = found.name.to_owned();
                let text = format!(
                    "{title} runs as `default`: {sa} is the ServiceAccount chart 4.1.0 and later create for it (Helm values {v}.create and {v}.name, which charts before 4.1.0 do not have: their values schema refuses them). Upgrade the chart to 4.1.0 or later, or create ServiceAccount {ns}/{sa} (and delete it before that upgrade: Helm does not take over objects it did not create), before enforcing: until it exists, mode: mutate moves the puller to it and the API server refuses its Pods.",
                    v = role.values,
                    ns = self.namespace
                );
                notes.push(text.clone());
                warning = Some(text);
                sa
            }
        };
        notes.push(format!("Its Pods are labelled component: {component}."));
        Ok(Role {
            spec: role,
            service_account,
            component: component.to_owned(),
            notes,
            warning,
        })
    }

    /// A role the release does not run: the chart's name for it. A live namespace has no hooks
    /// unless a `helm upgrade` runs (Helm deletes them once they succeed), so a dump without
    /// them says nothing about the release.
    fn absent(&self, role: &'static RoleSpec) -> Result<Role> {
        let hook = role.key != CONTINUOUS_PULLER.key;
        if hook && self.live {
            bail!(
                "no {} in the input: it is a Helm hook, which Helm deletes once it succeeds, so a live namespace has it only during a helm upgrade: add what `helm get hooks RELEASE -n {}` prints to the inputs",
                role.description,
                self.namespace
            );
        }
        let Some(prefix) = self.prefix else {
            bail!(
                "no {} in the input, and no prepuller of it is named as Zero to JupyterHub names them (…hook-image-puller, …continuous-image-puller, …hook-image-awaiter): cannot tell the name the chart gives it; write the settings yourself (README.md, Settings)",
                role.description
            );
        };
        let enabled = if hook {
            "prePuller.hook.enabled"
        } else {
            "prePuller.continuous.enabled"
        };
        let sa = format!("{prefix}{}", role.name);
        self.unique_absent(role)?;
        let mut notes = vec![format!(
            "The release runs no {} ({enabled}: false): {sa} and component: {} are what the chart names and labels it. Harmless: no Pod of the release runs as {sa} or carries that label, and the policy only keeps other workloads off it.",
            role.description, role.component
        )];
        // `helm template --no-hooks` and `helm get manifest` leave the hooks out too, and a
        // hook ServiceAccount with a custom name would then be missed: said once, on the hook
        // puller (or on the awaiter when the hook puller is there).
        let warning = (hook && (role.key == HOOK_PULLER.key || self.hook_puller.is_some())).then(|| {
            format!(
                "no {} in the input, so the policy is written for a release with {enabled}: false; if the input was rendered without its hooks (helm template --no-hooks, helm get manifest), add them (helm template without --no-hooks, or helm get hooks) and scaffold again.",
                role.description
            )
        });
        if warning.is_some() {
            notes.push(
                "If the input left the hooks out (helm template --no-hooks, helm get manifest), add them (helm template without --no-hooks, or helm get hooks) and scaffold again.".to_owned(),
            );
        }
        Ok(Role {
            spec: role,
            notes,
            service_account: sa,
            component: role.component.to_owned(),
            warning,
        })
    }

    /// The role's selector must select its own Pods only: any other pod template of the
    /// input with its label would be judged as the role.
    fn unique(&self, role: &RoleSpec, found: &Found, component: &str) -> Result<()> {
        for document in self.documents {
            let object = &document.object;
            if std::ptr::eq(document, found.document) || owned_by(object, found) {
                continue;
            }
            if let Some((labels, _)) = pod_template(object)
                && labels["component"] == component
            {
                bail!(
                    "{} {}/{} ({}) carries component: {component} too, the label of the {}'s Pods ({}), so a selector on it would judge that workload as the {}: scaffold one release at a time, or write the selectors yourself (README.md, Settings)",
                    object["kind"].as_str().unwrap_or_default(),
                    namespace_of(document, Some(self.namespace))
                        .ok()
                        .flatten()
                        .unwrap_or_default(),
                    name_of(object),
                    document.location(),
                    role.description,
                    found.title(),
                    role.description
                );
            }
        }
        Ok(())
    }

    /// An absent role's label must mark no Pod of the input.
    fn unique_absent(&self, role: &RoleSpec) -> Result<()> {
        for document in self.documents {
            let object = &document.object;
            if let Some((labels, _)) = pod_template(object)
                && labels["component"] == role.component
            {
                bail!(
                    "{} {} ({}) carries component: {}, the label of the {}'s Pods, but is no {} {}: write the selectors yourself (README.md, Settings)",
                    object["kind"].as_str().unwrap_or_default(),
                    name_of(object),
                    document.location(),
                    role.component,
                    role.description,
                    role.kind,
                    role.description
                );
            }
        }
        Ok(())
    }
}
