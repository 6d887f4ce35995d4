//! The check: each object sent as the API server sends it, answered by the compiled module as
//! policy-server answers (its monitor mode and mutation constraint applied), the patch applied;
//! then what the controllers derive from it, admitted in turn (policy-host's chain harness:
//! Deployment -> ReplicaSet -> Pod, CronJob -> Job -> Pod, the others -> Pod, with the
//! ServiceAccount admission plugin). ServiceAccount lookups are answered from the input's
//! ServiceAccounts created before the object in Helm's install order, plus the ones the cluster
//! already has. Objects already stored also get the audit scanner's verdict and the answer to the
//! next UPDATE that changes their pod template.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use policy_host::chain::{INJECTED, children, controller_user, gvr, service_account_plugin};
use policy_host::{AdmissionResponse, ContextAwareAccess, Fixtures, Host, Policy};
use serde::Serialize;
use serde_json::{Value, json};

use crate::input::Document;
use crate::scope::{Mode, Scope};

/// What the API server gets back for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Admitted unchanged.
    Accept,
    /// Admitted with a patch.
    Mutate,
    /// Refused.
    Reject,
    /// The webhook never receives it.
    NotSent,
}

impl Decision {
    /// How the text report writes it.
    pub fn word(self) -> &'static str {
        match self {
            Decision::Accept => "ACCEPT",
            Decision::Mutate => "MUTATE",
            Decision::Reject => "REJECT",
            Decision::NotSent => "NOT SENT",
        }
    }
}

/// Why an object fails the check (the exit status 1): see [`ObjectReport::failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// The API server refuses a Pod of it, whatever the policy answers.
    RefusedByApiServer,
    /// The policy rejects it, its next UPDATE or an object derived from it.
    Rejected,
    /// `--fail-on-mutate`: the policy mutates it, its next UPDATE or an object derived from it.
    Mutated,
}

/// One admission: the decision, what the patch changes, warnings and message.
#[derive(Debug, Clone, Serialize)]
pub struct Admission {
    /// The decision policy-server hands the API server.
    pub decision: Decision,
    /// In monitor mode: what the module decided, which policy-server only logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would: Option<Decision>,
    /// The patch's changes, one readable line each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// The JSON patch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<Value>,
    /// The warnings `kubectl` prints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The rejection's message (in monitor mode, the one policy-server logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An object a controller derives, and how it fares.
#[derive(Debug, Clone, Serialize)]
pub struct Derived {
    /// `Kind namespace/name`.
    pub object: String,
    /// Who creates it.
    pub user: String,
    /// Its admission (absent when the API server refuses it before the webhook, or the
    /// webhook never receives it).
    #[serde(flatten)]
    pub admission: Admission,
    /// Why the API server refused it: its ServiceAccount does not exist, before any webhook
    /// (its admission is then `not-sent`) or after the webhooks changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_by_api_server: Option<String>,
    /// The ServiceAccount whose absence got it refused.
    #[serde(skip)]
    pub missing_service_account: Option<String>,
}

/// The next UPDATE that changes a stored object's pod template, and the objects its rollout
/// creates.
#[derive(Debug, Clone, Serialize)]
pub struct NextUpdate {
    /// The UPDATE's admission.
    #[serde(flatten)]
    pub admission: Admission,
    /// What the controllers derive from the updated object, each admitted in turn.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub derived: Vec<Derived>,
}

/// What the audit scanner records in the object's PolicyReport.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    /// `pass` or `fail`.
    pub result: &'static str,
    /// The failure's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Everything about one input object.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    /// The file it came from.
    pub file: String,
    /// Its document number in the file.
    pub document: usize,
    /// Its index in a `List`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// Helm's `# Source:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Its kind.
    pub kind: String,
    /// Its namespace, after defaulting (none for cluster-scoped kinds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its name (or generateName).
    pub name: String,
    /// Why the webhook never receives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_sent: Option<String>,
    /// The CREATE's admission (for an object already stored, too: what recreating it gets).
    pub admission: Admission,
    /// For a Pod: why the API server refuses it, its ServiceAccount not existing (before the
    /// webhooks when its admission is `not-sent`, else after them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_by_api_server: Option<String>,
    /// What its controllers derive, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub derived: Vec<Derived>,
    /// For a stored object: the audit scanner's verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<Audit>,
    /// For a stored object with a pod template: the next UPDATE that changes the template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_update: Option<NextUpdate>,
    /// What to change so that the release needs no change by the policy and nothing is refused
    /// (advice.rs): chart values for the objects Zero to JupyterHub renders, fitting its version.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub advice: Vec<String>,
    /// For `--write-fixed`: the input document with the policy's changes and nothing else, when
    /// the policy changed it.
    #[serde(skip)]
    pub fixed: Option<Value>,
}

impl ObjectReport {
    /// `Kind namespace/name`.
    pub fn title(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    /// Whether and why it fails the check: the one rule that the exit status, the text
    /// summary's verdict, the JSON summary and JUnit's failures all read. A Pod the API server
    /// refuses (its ServiceAccount missing) fails in either mode, since monitor mode does not
    /// stop it; in protect mode so does anything the policy refuses (the object, its next
    /// UPDATE, what its controllers derive), and with `--fail-on-mutate` anything it mutates.
    pub fn failure(&self, mode: Mode, fail_on_mutate: bool) -> Option<Failure> {
        let refused_by_api_server = self.refused_by_api_server.is_some()
            || self
                .all_derived()
                .any(|d| d.refused_by_api_server.is_some());
        if refused_by_api_server {
            return Some(Failure::RefusedByApiServer);
        }
        if mode == Mode::Monitor {
            return None;
        }
        let is = |decision: Decision| {
            self.admission.decision == decision
                || self
                    .next_update
                    .as_ref()
                    .is_some_and(|u| u.admission.decision == decision)
                || self.all_derived().any(|d| d.admission.decision == decision)
        };
        if is(Decision::Reject) {
            Some(Failure::Rejected)
        } else if fail_on_mutate && is(Decision::Mutate) {
            Some(Failure::Mutated)
        } else {
            None
        }
    }

    /// Every derived object: the CREATE's, then the next UPDATE's.
    pub fn all_derived(&self) -> impl Iterator<Item = &Derived> {
        self.derived
            .iter()
            .chain(self.next_update.iter().flat_map(|u| &u.derived))
    }
}

/// How the check runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The namespace of objects that have none (`-n`).
    pub namespace: String,
    /// The user named in CREATE requests.
    pub user: String,
    /// ServiceAccounts the cluster already has (`NS/NAME`).
    pub existing_service_accounts: Vec<(String, String)>,
    /// Treat every object as already stored (`--as-audit`).
    pub as_audit: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            namespace: "default".into(),
            user: "kubernetes-admin".into(),
            existing_service_accounts: Vec::new(),
            as_audit: false,
        }
    }
}

/// Kinds without a namespace: their requests carry none.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "Node",
    "PersistentVolume",
    "ClusterRole",
    "ClusterRoleBinding",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "CustomResourceDefinition",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ClusterAdmissionPolicy",
    "ClusterAdmissionPolicyGroup",
    "PolicyServer",
    "RuntimeClass",
    "CSIDriver",
    "VolumeAttachment",
];

/// Helm's install order of kinds (pkg/release/util/kind_sorter.go); others come last.
const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The group, version and resource of an object: the workload kinds as the API server names
/// them, any other kind by Kubernetes' plural convention (only compared with the rules).
pub fn resource_of(object: &Value) -> (String, String, String) {
    let kind = object["kind"].as_str().unwrap_or_default();
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let resource = match gvr(kind) {
        Ok((_, _, resource)) => resource.to_owned(),
        Err(_) => {
            let lower = kind.to_ascii_lowercase();
            if lower == "serviceaccount" {
                "serviceaccounts".into()
            } else if let Some(stem) = lower.strip_suffix('y') {
                format!("{stem}ies")
            } else if lower.ends_with('s') || lower.ends_with("ch") {
                format!("{lower}es")
            } else {
                format!("{lower}s")
            }
        }
    };
    (group.to_owned(), version.to_owned(), resource)
}

/// Helm's install order of the input: pre-install hooks by weight, kind and name, then the
/// release's objects by kind and name, then the other hooks. Returns input indices.
pub fn install_order(documents: &[Document]) -> Vec<usize> {
    let key = |d: &Document| {
        let o = &d.object;
        let annotations = &o["metadata"]["annotations"];
        let hook = annotations["helm.sh/hook"].as_str();
        let phase = match hook {
            Some(h) if h.split(',').any(|h| h.trim() == "pre-install") => 0,
            None => 1,
            Some(_) => 2,
        };
        let weight: i64 = annotations["helm.sh/hook-weight"]
            .as_str()
            .and_then(|w| w.trim().parse().ok())
            .unwrap_or(0);
        let kind = o["kind"].as_str().unwrap_or_default();
        let rank = INSTALL_ORDER
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(INSTALL_ORDER.len());
        let name = o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (
            phase,
            if phase == 1 { 0 } else { weight },
            rank,
            kind.to_owned(),
            name,
        )
    };
    let mut order: Vec<usize> = (0..documents.len()).collect();
    order.sort_by_cached_key(|i| key(&documents[*i]));
    order
}

/// Whether the object is already stored: it has a uid or a creation time (a `kubectl get` dump).
pub fn is_stored(object: &Value) -> bool {
    let m = &object["metadata"];
    m.get("uid").is_some_and(|v| !v.is_null())
        || m.get("creationTimestamp").is_some_and(|v| !v.is_null())
}

/// The checker: the compiled module, the scope and the options.
pub struct Checker<'a> {
    policy: &'a Policy,
    scope: &'a Scope,
    options: &'a Options,
}

/// The whole run's result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Per input object, in input order.
    pub objects: Vec<ObjectReport>,
    /// What could not be evaluated offline.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Whether Pods were refused when their ServiceAccount does not exist: only when the input
    /// holds ServiceAccounts or `--existing-serviceaccount` names some (else a note says so).
    pub service_accounts_checked: bool,
}

/// The note of a run that cannot judge whether ServiceAccounts exist.
pub const SERVICE_ACCOUNTS_UNCHECKED: &str = "the input holds no ServiceAccount and no \
    --existing-serviceaccount was given, so whether the ServiceAccounts its Pods run as exist is \
    not checked (the API server refuses a Pod whose ServiceAccount does not exist): check the \
    release with its ServiceAccounts (helm template prints them; kubectl get \
    serviceaccounts,pods,daemonsets,... -o yaml), or name those the cluster has with \
    --existing-serviceaccount NAMESPACE/NAME";

/// ServiceAccounts as the API server's ServiceAccount admission plugin finds them
/// (plugin/pkg/admission/serviceaccount): it looks a Pod's ServiceAccount up before the
/// webhooks (Admit) and again after them (Validate), on every Pod CREATE, and refuses the Pod
/// when it does not exist. The namespace's `default` always exists (its controller creates it).
#[derive(Debug, Clone)]
pub struct Accounts {
    /// `(namespace, name)` of those that exist when the object is created.
    pub known: BTreeSet<(String, String)>,
    /// Whether existence is judged: only when the input holds ServiceAccounts or
    /// `--existing-serviceaccount` names some; otherwise nothing says which exist.
    pub checked: bool,
    /// `(namespace, name)` of every ServiceAccount of the input, whenever it is created.
    pub input: BTreeSet<(String, String)>,
}

impl Accounts {
    /// The plugin's refusal of `pod`: the missing ServiceAccount and the API server's message.
    pub fn refusal(&self, pod: &Value) -> Option<(String, String)> {
        if !self.checked {
            return None;
        }
        let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
        let account = runs_as(&pod["spec"]);
        if account == "default"
            || self
                .known
                .contains(&(namespace.to_owned(), account.to_owned()))
        {
            return None;
        }
        Some((
            account.to_owned(),
            format!(
                "pods \"{}\" is forbidden: error looking up service account \
                 {namespace}/{account}: serviceaccount \"{account}\" not found",
                name_of(pod)
            ),
        ))
    }
}

/// The ServiceAccount a pod spec runs as: `serviceAccountName`, else the deprecated
/// `serviceAccount` (v1 decoding copies it), else `default`.
pub fn runs_as(spec: &Value) -> &str {
    spec["serviceAccountName"]
        .as_str()
        .filter(|s| !s.is_empty())
        .or_else(|| spec["serviceAccount"].as_str().filter(|s| !s.is_empty()))
        .unwrap_or("default")
}

/// The pod spec of a Pod or of a workload's pod template (`Null` when there is none).
pub fn pod_spec(object: &Value) -> &Value {
    match object["kind"].as_str().unwrap_or_default() {
        "Pod" => &object["spec"],
        "CronJob" => &object["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        _ => &object["spec"]["template"]["spec"],
    }
}

/// `metadata.name`, else `metadata.generateName`.
pub(crate) fn name_of(object: &Value) -> &str {
    object["metadata"]["name"]
        .as_str()
        .or_else(|| object["metadata"]["generateName"].as_str())
        .unwrap_or_default()
}

impl<'a> Checker<'a> {
    /// A checker; the settings must have been validated by the module.
    pub fn new(policy: &'a Policy, scope: &'a Scope, options: &'a Options) -> Self {
        Checker {
            policy,
            scope,
            options,
        }
    }

    /// Checks every document.
    pub fn check(&self, documents: &[Document]) -> Result<Report> {
        let order = install_order(documents);
        let stored_input = self.options.as_audit || documents.iter().any(|d| is_stored(&d.object));
        let input: BTreeSet<(String, String)> = documents
            .iter()
            .filter_map(|d| self.service_account_of(d))
            .collect();
        let mut accounts = Accounts {
            known: self
                .options
                .existing_service_accounts
                .iter()
                .cloned()
                .collect(),
            checked: !self.options.existing_service_accounts.is_empty() || !input.is_empty(),
            input,
        };
        if stored_input {
            // Stored objects all exist already: every ServiceAccount of the input does.
            accounts.known.extend(accounts.input.iter().cloned());
        }
        let mut notes = self.scope.notes.clone();
        if !accounts.checked {
            notes.push(SERVICE_ACCOUNTS_UNCHECKED.to_owned());
        }
        let mut reports: Vec<Option<ObjectReport>> = vec![None; documents.len()];
        for index in order {
            let document = &documents[index];
            let report = self
                .check_one(document, &accounts, stored_input)
                .with_context(|| document.location())?;
            if let Some(sa) = self.service_account_of(document) {
                accounts.known.insert(sa);
            }
            reports[index] = Some(report);
        }
        Ok(Report {
            objects: reports.into_iter().flatten().collect(),
            notes,
            service_accounts_checked: accounts.checked,
        })
    }

    fn namespace_of(&self, object: &Value) -> Option<String> {
        let kind = object["kind"].as_str().unwrap_or_default();
        if CLUSTER_SCOPED.contains(&kind) {
            return None;
        }
        Some(
            object["metadata"]["namespace"]
                .as_str()
                .filter(|s| !s.is_empty())
                .unwrap_or(&self.options.namespace)
                .to_owned(),
        )
    }

    fn service_account_of(&self, document: &Document) -> Option<(String, String)> {
        let o = &document.object;
        (o["kind"] == "ServiceAccount" && o["apiVersion"] == "v1").then(|| {
            (
                self.namespace_of(o).unwrap_or_default(),
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
    }

    pub(crate) fn host(&self, known: &BTreeSet<(String, String)>) -> Result<Host<Fixtures>> {
        let mut fixtures = Fixtures::new();
        for (ns, name) in known {
            fixtures = fixtures.found(json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": ns}}))?;
        }
        let host = Host::new(fixtures);
        Ok(match &self.scope.context_aware {
            None => host,
            Some(types) if types.is_empty() => host.with_access(ContextAwareAccess::Denied),
            Some(types) => host.with_access(ContextAwareAccess::Only(types.clone())),
        })
    }

    fn check_one(
        &self,
        document: &Document,
        accounts: &Accounts,
        stored_input: bool,
    ) -> Result<ObjectReport> {
        let mut object = document.object.clone();
        let namespace = self.namespace_of(&object);
        if let Some(ns) = &namespace {
            // The API server sets the request's namespace on an object that has none.
            object["metadata"]["namespace"] = json!(ns);
        }
        let mut report = ObjectReport {
            file: document.file.clone(),
            document: document.document,
            item: document.item,
            source: document.source.clone(),
            kind: object["kind"].as_str().unwrap_or_default().to_owned(),
            namespace: namespace.clone(),
            name: name_of(&object).to_owned(),
            not_sent: None,
            admission: not_sent(),
            refused_by_api_server: None,
            derived: Vec::new(),
            audit: None,
            next_update: None,
            advice: Vec::new(),
            fixed: None,
        };
        let host = self.host(&accounts.known)?;
        let stored = stored_input && (self.options.as_audit || is_stored(&object));
        let pod = object["kind"] == "Pod" && object["apiVersion"] == "v1";
        let mut missing = Vec::new();
        if pod && !stored {
            // Every Pod CREATE goes through the ServiceAccount admission plugin before the
            // webhooks, as the Pods controllers derive do.
            if pod_spec_is_well_formed(&object) {
                let lists = ["initContainers", "containers"];
                let absent: Vec<&str> = lists
                    .into_iter()
                    .filter(|list| object["spec"].get(*list).is_none())
                    .collect();
                service_account_plugin(&mut object);
                // The harness indexes lists a Pod may not have; the API server adds none.
                if let Some(spec) = object["spec"].as_object_mut() {
                    spec.retain(|key, value| !(value.is_null() && absent.contains(&key.as_str())));
                }
            }
            if let Some((account, why)) = accounts.refusal(&object) {
                report.refused_by_api_server = Some(why);
                missing.push(account);
                report.advice =
                    self.advice(&host, &object, document, &report, &missing, accounts)?;
                return Ok(report);
            }
        }
        // An object the webhook is not sent is stored as it is, and what follows still
        // happens: its controller creates Pods (which the rules may send, and which the
        // ServiceAccount plugin judges anyway), and a stored object gets its next UPDATE.
        let admitted = match self.not_sent_reason(&object, "CREATE")? {
            Some(why) => {
                report.not_sent = Some(why);
                Some(object.clone())
            }
            None => {
                let (admission, admitted) =
                    self.admit(&host, &object, None, "CREATE", Some(&self.options.user))?;
                report.admission = admission;
                admitted
            }
        };
        if stored {
            // The audit scanner audits with the policies whose rules send CREATE.
            if report.not_sent.is_none() {
                report.audit = Some(self.audit(&host, &object)?);
            }
            report.next_update = self.next_update(&host, &object, accounts)?;
        } else if let Some(admitted) = &admitted {
            if pod {
                // The plugin looks the ServiceAccount up again after the webhooks.
                if let Some((account, why)) = accounts.refusal(admitted) {
                    report.refused_by_api_server = Some(why);
                    missing.push(account);
                }
            } else {
                report.derived = self.derive(&host, admitted, accounts)?;
            }
        }
        if let (Some(admitted), Decision::Mutate) = (&admitted, report.admission.decision) {
            report.fixed = Some(as_written(&document.object, &object, admitted));
        }
        missing.extend(
            report
                .all_derived()
                .filter_map(|d| d.missing_service_account.clone()),
        );
        if report.not_sent.is_none() || !missing.is_empty() {
            report.advice = self.advice(&host, &object, document, &report, &missing, accounts)?;
        }
        Ok(report)
    }

    /// The advice for one object (advice.rs), from what the policy wants of it: its patch (which
    /// monitor mode drops and a non-mutating policy refuses, but which says what it wants), or
    /// for a rejection without one, the patch the module makes in mode mutate.
    fn advice(
        &self,
        host: &Host<Fixtures>,
        sent: &Value,
        document: &Document,
        report: &ObjectReport,
        missing: &[String],
        accounts: &Accounts,
    ) -> Result<Vec<String>> {
        let decision = report.admission.would.unwrap_or(report.admission.decision);
        if decision == Decision::Accept && missing.is_empty() {
            return Ok(Vec::new());
        }
        let patch = match (&report.admission.patch, decision) {
            (Some(patch), _) => Some(serde_json::from_value::<json_patch::Patch>(patch.clone())?),
            (None, Decision::Reject) if self.scope.settings.is_object() => {
                let mut settings = self.scope.settings.clone();
                settings["mode"] = json!("mutate");
                settings["requireExistingServiceAccounts"] = json!(false);
                let user = Some(self.options.user.as_str());
                self.evaluate_with(host, sent, None, "CREATE", user, false, &settings)?
                    .decoded_patch()?
            }
            _ => None,
        };
        let wanted = match patch {
            Some(patch) => {
                let mut wanted = sent.clone();
                json_patch::patch(&mut wanted, &patch).context("the patch does not apply")?;
                Some(runs_as(pod_spec(&wanted)).to_owned())
            }
            None => None,
        }
        .filter(|w| w != runs_as(pod_spec(sent)));
        Ok(crate::advice::advise(&crate::advice::Case {
            object: sent,
            source: document.source.as_deref(),
            decision,
            wanted: wanted.as_deref(),
            missing,
            known: &accounts.known,
            input: &accounts.input,
        }))
    }

    fn not_sent_reason(&self, object: &Value, operation: &str) -> Result<Option<String>> {
        let (group, version, resource) = resource_of(object);
        let namespace = object["metadata"]["namespace"].as_str();
        self.scope.sends(
            (&group, &version, &resource),
            operation,
            namespace,
            &object["metadata"]["labels"],
        )
    }

    /// One request through the module and policy-server's handling; the object as stored
    /// when admitted.
    fn admit(
        &self,
        host: &Host<Fixtures>,
        object: &Value,
        old: Option<&Value>,
        operation: &str,
        user: Option<&str>,
    ) -> Result<(Admission, Option<Value>)> {
        let response = self.evaluate(host, object, old, operation, user, false)?;
        let vanilla = decision_of(&response);
        let mut admission = Admission {
            decision: vanilla,
            would: None,
            changes: Vec::new(),
            patch: None,
            warnings: response.warnings.clone().unwrap_or_default(),
            message: response.message().map(str::to_owned),
        };
        let patch = response.decoded_patch()?;
        if let Some(patch) = &patch {
            admission.changes = changes(object, patch);
            admission.patch = Some(serde_json::to_value(patch)?);
        }
        match self.scope.mode {
            Mode::Monitor => {
                // policy-server accepts and drops the patch; the answer is only logged.
                admission.would = Some(vanilla);
                admission.decision = Decision::Accept;
                return Ok((admission, Some(object.clone())));
            }
            Mode::Protect if !self.scope.mutating && patch.is_some() => {
                admission.decision = Decision::Reject;
                admission.message = Some(format!(
                    "Request rejected by policy {}. The policy attempted to mutate the request, \
                     but it is currently configured to not allow mutations.",
                    self.scope.policy_id
                ));
                return Ok((admission, None));
            }
            Mode::Protect => {}
        }
        let admitted = match (vanilla, patch) {
            (Decision::Reject, _) => None,
            (_, Some(patch)) => {
                let mut admitted = object.clone();
                json_patch::patch(&mut admitted, &patch).context("the patch does not apply")?;
                Some(admitted)
            }
            (_, None) => Some(object.clone()),
        };
        Ok((admission, admitted))
    }

    fn evaluate(
        &self,
        host: &Host<Fixtures>,
        object: &Value,
        old: Option<&Value>,
        operation: &str,
        user: Option<&str>,
        audit: bool,
    ) -> Result<AdmissionResponse> {
        let settings = &self.scope.settings;
        self.evaluate_with(host, object, old, operation, user, audit, settings)
    }

    /// [`Checker::evaluate`] with other settings.
    #[allow(clippy::too_many_arguments)]
    fn evaluate_with(
        &self,
        host: &Host<Fixtures>,
        object: &Value,
        old: Option<&Value>,
        operation: &str,
        user: Option<&str>,
        audit: bool,
        settings: &Value,
    ) -> Result<AdmissionResponse> {
        let kind = object["kind"].as_str().unwrap_or_default();
        let (group, version, resource) = resource_of(object);
        let mut request = json!({
            "uid": "5eed0000-0000-4000-8000-000000000017",
            "kind": {"group": group, "version": version, "kind": kind},
            // The audit scanner names the kind where the resource belongs.
            "resource": {"group": group, "version": version,
                "resource": if audit { kind.to_owned() } else { resource }},
            "requestKind": {"group": group, "version": version, "kind": kind},
            "name": object["metadata"]["name"],
            "operation": operation,
            "object": object,
        });
        if let Some(ns) = object["metadata"]["namespace"].as_str() {
            request["namespace"] = json!(ns);
        }
        match user {
            Some(user) => {
                request["userInfo"] = json!({"username": user, "groups": ["system:authenticated"]});
                request["dryRun"] = json!(false);
            }
            None if audit => {}
            None => request["userInfo"] = json!({}),
        }
        if let Some(old) = old {
            request["oldObject"] = old.clone();
        }
        Ok(self.policy.evaluate_with_host(&request, settings, host)?)
    }

    /// The audit scanner's request (a CREATE without a user), answered without
    /// policy-server's monitor handling, as audits are.
    pub(crate) fn audit(&self, host: &Host<Fixtures>, object: &Value) -> Result<Audit> {
        let response = self.evaluate(host, object, None, "CREATE", None, true)?;
        Ok(if response.allowed {
            Audit {
                result: "pass",
                message: None,
            }
        } else {
            Audit {
                result: "fail",
                message: response.message().map(str::to_owned),
            }
        })
    }

    /// The next UPDATE that changes the pod template (what `kubectl rollout restart` sends), and
    /// the objects its rollout creates.
    fn next_update(
        &self,
        host: &Host<Fixtures>,
        object: &Value,
        accounts: &Accounts,
    ) -> Result<Option<NextUpdate>> {
        let pointer = match object["kind"].as_str().unwrap_or_default() {
            "CronJob" => "/spec/jobTemplate/spec/template",
            "DaemonSet"
            | "Deployment"
            | "StatefulSet"
            | "ReplicaSet"
            | "ReplicationController"
            | "Job" => "/spec/template",
            _ => return Ok(None),
        };
        let mut updated = object.clone();
        let Some(template) = updated.pointer_mut(pointer) else {
            return Ok(None);
        };
        if !template["metadata"].is_object() {
            template["metadata"] = json!({});
        }
        if !template["metadata"]["annotations"].is_object() {
            template["metadata"]["annotations"] = json!({});
        }
        template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] =
            json!("2026-01-01T00:00:00Z");
        if self.not_sent_reason(&updated, "UPDATE")?.is_some() {
            return Ok(None);
        }
        let (admission, admitted) = self.admit(
            host,
            &updated,
            Some(object),
            "UPDATE",
            Some(&self.options.user),
        )?;
        let derived = match &admitted {
            Some(admitted) => self.derive(host, admitted, accounts)?,
            None => Vec::new(),
        };
        Ok(Some(NextUpdate { admission, derived }))
    }

    /// The objects the controllers derive from an admitted object, each admitted in turn; a
    /// Pod whose ServiceAccount does not exist is refused by the API server, before the
    /// webhooks or after them.
    fn derive(
        &self,
        host: &Host<Fixtures>,
        admitted: &Value,
        accounts: &Accounts,
    ) -> Result<Vec<Derived>> {
        let mut out = Vec::new();
        let mut queue = vec![admitted.clone()];
        while let Some(parent) = queue.pop() {
            let parent_kind = parent["kind"].as_str().unwrap_or_default().to_owned();
            if gvr(&parent_kind).is_err() {
                continue;
            }
            for child in children(&parent)? {
                let kind = child["kind"].as_str().unwrap_or_default();
                let ns = child["metadata"]["namespace"].as_str().unwrap_or_default();
                let title = format!("{kind} {ns}/{}", name_of(&child));
                let user = controller_user(&parent_kind);
                let pod = kind == "Pod";
                let refusal = |object: &Value| {
                    if pod { accounts.refusal(object) } else { None }
                };
                if let Some((account, why)) = refusal(&child) {
                    out.push(Derived {
                        object: title,
                        user,
                        admission: not_sent(),
                        refused_by_api_server: Some(why),
                        missing_service_account: Some(account),
                    });
                    continue;
                }
                if self.not_sent_reason(&child, "CREATE")?.is_some() {
                    out.push(Derived {
                        object: title,
                        user,
                        admission: not_sent(),
                        refused_by_api_server: None,
                        missing_service_account: None,
                    });
                    queue.push(child);
                    continue;
                }
                let (admission, admitted) =
                    self.admit(host, &child, None, "CREATE", Some(&user))?;
                let (missing, refused) = admitted.as_ref().and_then(refusal).unzip();
                out.push(Derived {
                    object: title,
                    user,
                    admission,
                    refused_by_api_server: refused,
                    missing_service_account: missing.clone(),
                });
                if let (Some(admitted), None) = (admitted, missing) {
                    queue.push(admitted);
                }
            }
        }
        Ok(out)
    }
}

/// Whether the ServiceAccount admission plugin's work can be done on this Pod as the harness
/// does it (its spec, containers and volumes of the right types); a malformed Pod is sent as
/// written, for the module to reject.
fn pod_spec_is_well_formed(pod: &Value) -> bool {
    let spec = &pod["spec"];
    let list_of_objects = |v: &Value| {
        v.is_null()
            || v.as_array()
                .is_some_and(|items| items.iter().all(Value::is_object))
    };
    spec.is_object()
        && list_of_objects(&spec["volumes"])
        && ["containers", "initContainers"].iter().all(|list| {
            list_of_objects(&spec[*list])
                && spec[*list].as_array().is_none_or(|containers| {
                    containers
                        .iter()
                        .all(|c| c["volumeMounts"].is_null() || c["volumeMounts"].is_array())
                })
        })
}

/// The input document with the policy's changes and nothing else: `admitted` without what the
/// API server added before the webhook (`sent`): the namespace of a document that had none,
/// and on a Pod the ServiceAccount plugin's defaults and token volume. A manifest written with
/// `-n jhub` baked in would be refused by `kubectl apply -n other` and pinned to that namespace
/// by GitOps tools.
fn as_written(original: &Value, sent: &Value, admitted: &Value) -> Value {
    let mut out = admitted.clone();
    if original["metadata"].get("namespace").is_none()
        && let Some(metadata) = out["metadata"].as_object_mut()
    {
        metadata.remove("namespace");
    }
    if out["kind"] != "Pod" {
        return out;
    }
    let Some(spec) = out["spec"].as_object_mut() else {
        return out;
    };
    if original["spec"].get("serviceAccountName").is_none()
        && spec.get("serviceAccountName") == sent["spec"].get("serviceAccountName")
    {
        spec.remove("serviceAccountName");
    }
    // The deprecated field, which the API server fills in from serviceAccountName.
    if original["spec"].get("serviceAccount").is_none()
        && (spec.get("serviceAccount") == sent["spec"].get("serviceAccount")
            || spec.get("serviceAccount") == spec.get("serviceAccountName"))
    {
        spec.remove("serviceAccount");
    }
    let injected = |v: &Value| v["name"] == INJECTED;
    let had_injected = original["spec"]["volumes"]
        .as_array()
        .is_some_and(|v| v.iter().any(injected));
    if had_injected {
        return out;
    }
    if let Some(Value::Array(volumes)) = spec.get_mut("volumes") {
        volumes.retain(|v| !injected(v));
        if volumes.is_empty() && original["spec"].get("volumes").is_none() {
            spec.remove("volumes");
        }
    }
    for list in ["initContainers", "containers"] {
        let Some(Value::Array(containers)) = spec.get_mut(list) else {
            continue;
        };
        for (i, container) in containers.iter_mut().enumerate() {
            let Some(container) = container.as_object_mut() else {
                continue;
            };
            if let Some(Value::Array(mounts)) = container.get_mut("volumeMounts") {
                mounts.retain(|m| !injected(m));
                if mounts.is_empty() && original["spec"][list][i].get("volumeMounts").is_none() {
                    container.remove("volumeMounts");
                }
            }
        }
    }
    out
}

fn not_sent() -> Admission {
    Admission {
        decision: Decision::NotSent,
        would: None,
        changes: Vec::new(),
        patch: None,
        warnings: Vec::new(),
        message: None,
    }
}

fn decision_of(response: &AdmissionResponse) -> Decision {
    match (response.allowed, &response.patch) {
        (false, _) => Decision::Reject,
        (true, Some(_)) => Decision::Mutate,
        (true, None) => Decision::Accept,
    }
}

/// The patch as readable lines: `spec.template.spec.serviceAccountName: "default" ->
/// "hook-image-puller"`, `(unset)` for what was not there and `(removed)` for what goes.
pub fn changes(object: &Value, patch: &json_patch::Patch) -> Vec<String> {
    use json_patch::PatchOperation as Op;
    let mut out = Vec::new();
    let mut current = object.clone();
    for op in &patch.0 {
        let (path, after) = match op {
            Op::Add(a) => (a.path.to_string(), Some(&a.value)),
            Op::Replace(r) => (r.path.to_string(), Some(&r.value)),
            Op::Remove(r) => (r.path.to_string(), None),
            Op::Move(m) => (m.path.to_string(), None),
            Op::Copy(c) => (c.path.to_string(), None),
            Op::Test(_) => continue,
        };
        let before = current.pointer(&path).cloned();
        let is_add_to_array = matches!(op, Op::Add(_))
            && path
                .rsplit_once('/')
                .and_then(|(parent, _)| current.pointer(parent))
                .is_some_and(Value::is_array);
        let before = if is_add_to_array { None } else { before };
        out.push(format!(
            "{}: {} -> {}",
            dotted(&current, &path),
            before.as_ref().map_or("(unset)".into(), short),
            after.map_or("(removed)".into(), short)
        ));
        let _ = json_patch::patch(&mut current, &json_patch::Patch(vec![op.clone()]));
    }
    out
}

/// A JSON pointer as a field path: `/spec/volumes/2` -> `spec.volumes[2]`.
fn dotted(object: &Value, pointer: &str) -> String {
    let mut out = String::new();
    let mut at = object;
    for raw in pointer.split('/').skip(1) {
        let segment = raw.replace("~1", "/").replace("~0", "~");
        match at {
            Value::Array(items) => {
                out.push_str(&format!("[{segment}]"));
                at = segment
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i))
                    .unwrap_or(&Value::Null);
            }
            _ => {
                if !out.is_empty() {
                    out.push('.');
                }
                if segment.contains('.') || segment.contains('/') {
                    out.push_str(&format!("[{segment:?}]"));
                } else {
                    out.push_str(&segment);
                }
                at = at.get(&segment).unwrap_or(&Value::Null);
            }
        }
    }
    out
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 120 {
        let cut: String = text.chars().take(117).collect();
        format!("{cut}...")
    } else {
        text
    }
}

/// The settings the module must accept before anything is checked, as policy-server checks
/// them at start-up.
pub fn validate_settings(policy: &Policy, settings: &Value) -> Result<Option<String>> {
    let verdict = policy.validate_settings(settings)?;
    Ok((!verdict.valid).then(|| verdict.message.unwrap_or_default()))
}
