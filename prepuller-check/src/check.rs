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
use policy_host::chain::{runs_as, service_account_plugin};
use policy_host::kinds::{group_version, is_cluster_scoped, known_kind, resource_of};
use policy_host::{AdmissionRequest, ContextAwareAccess, Fixtures, Host, Operation, Policy};
use serde_json::{Value, json};

use crate::accounts::{Accounts, SERVICE_ACCOUNTS_UNCHECKED};
use crate::fixed::as_written;
use crate::helm::install_order;
use crate::input::Document;
use crate::kube::{is_stored, name_of, pod_spec};
use crate::model::{Admission, ObjectReport, Report, Verdict};
use crate::scope::Scope;
use crate::server;
use prepuller_serviceaccount_policy::evaluate::service_account_fix;
use prepuller_serviceaccount_policy::settings::Settings;

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

/// The checker: the compiled module, the scope and the options.
pub struct Checker<'a> {
    pub(crate) policy: &'a Policy,
    pub(crate) scope: &'a Scope,
    pub(crate) options: &'a Options,
    /// The scope's settings as the policy crate reads them, once.
    settings: Option<Settings>,
}

impl<'a> Checker<'a> {
    /// A checker; the settings must have been validated by the module.
    pub fn new(policy: &'a Policy, scope: &'a Scope, options: &'a Options) -> Self {
        Checker {
            policy,
            scope,
            options,
            settings: scope.policy_settings(),
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
        for document in documents {
            if let Some(note) = self.guessed_resource_note(&document.object)
                && !notes.contains(&note)
            {
                notes.push(note);
            }
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

    /// For a kind the tables do not know, whose resource [`resource_of`] guesses: a note when
    /// the policy's rules name resources of its group and version, so that whether the webhook
    /// receives it rests on the guess (a rule on `*` sends it whatever its name).
    fn guessed_resource_note(&self, object: &Value) -> Option<String> {
        if known_kind(object).is_some() {
            return None;
        }
        let (group, version) = group_version(object);
        let rests_on_name = self.scope.rules.iter().any(|rule| {
            rule.resources.iter().any(|named| {
                let resource = named.split('/').next().unwrap_or_default();
                resource != "*"
                    && ["CREATE", "UPDATE"]
                        .iter()
                        .any(|op| rule.matches(group, version, resource, op))
            })
        });
        let kind = object["kind"].as_str().unwrap_or_default();
        let (_, _, guess) = resource_of(object);
        rests_on_name.then(|| {
            format!(
                "{kind} ({}): not a kind Kubernetes or Kubewarden serves, so its resource is \
                 guessed as {guess:?} (its CustomResourceDefinition's spec.names.plural is the \
                 real one), and the policy's rules name resources of its group: whether the \
                 webhook receives it is judged on that guess",
                object["apiVersion"].as_str().unwrap_or_default()
            )
        })
    }

    fn namespace_of(&self, object: &Value) -> Option<String> {
        if is_cluster_scoped(object) {
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
            admission: Admission::not_sent(),
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
            service_account_plugin(&mut object);
            if let Some((account, why)) = accounts.refusal(&object) {
                report.refused_by_api_server = Some(why);
                missing.push(account);
                report.advice = self.advice(&object, document, &report, &missing, accounts)?;
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
                    self.admit(&host, &object, None, Operation::Create, &self.options.user)?;
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
        if let (Some(admitted), Verdict::Mutate) = (&admitted, report.admission.decision) {
            report.fixed = Some(as_written(&document.object, &object, admitted));
        }
        missing.extend(
            report
                .all_derived()
                .filter_map(|d| d.missing_service_account.clone()),
        );
        if report.not_sent.is_none() || !missing.is_empty() {
            report.advice = self.advice(&object, document, &report, &missing, accounts)?;
        }
        Ok(report)
    }

    /// The advice for one object (advice.rs), from what the policy wants of it: the
    /// ServiceAccount its fix moves the Pods onto, read from the policy crate's own findings
    /// (the same in every mode, so a rejection is not evaluated again in mode mutate).
    fn advice(
        &self,
        sent: &Value,
        document: &Document,
        report: &ObjectReport,
        missing: &[String],
        accounts: &Accounts,
    ) -> Result<Vec<String>> {
        let decision = report.admission.would.unwrap_or(report.admission.decision);
        if decision == Verdict::Accept && missing.is_empty() {
            return Ok(Vec::new());
        }
        let wanted = match (&self.settings, decision) {
            (Some(settings), Verdict::Mutate | Verdict::Reject) => {
                let (group, _) = group_version(sent);
                let kind = sent["kind"].as_str().unwrap_or_default();
                service_account_fix(settings, group, kind, &sent.to_string())
            }
            _ => None,
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

    /// One request through the module and policy-server's handling of its answer; the object
    /// as stored when admitted.
    pub(crate) fn admit(
        &self,
        host: &Host<Fixtures>,
        object: &Value,
        old: Option<&Value>,
        operation: Operation,
        user: &str,
    ) -> Result<(Admission, Option<Value>)> {
        let request = api_server_request(object, old, operation, user)?;
        let response = self
            .policy
            .evaluate_with_host(&request, &self.scope.settings, host)?;
        server::answer(self.scope, object, &response)
    }

    pub(crate) fn not_sent_reason(
        &self,
        object: &Value,
        operation: &str,
    ) -> Result<Option<String>> {
        let (group, version, resource) = resource_of(object);
        let namespace = object["metadata"]["namespace"].as_str();
        self.scope.sends(
            (&group, &version, &resource),
            operation,
            namespace,
            &object["metadata"]["labels"],
        )
    }
}

/// The request the API server sends for `object` on `user`'s behalf (`old`: the object an
/// UPDATE replaces, as stored).
pub(crate) fn api_server_request(
    object: &Value,
    old: Option<&Value>,
    operation: Operation,
    user: &str,
) -> Result<Value> {
    let mut request = AdmissionRequest::builder(operation, object)?.user(user, &[]);
    if let Some(old) = old {
        request = request.old_object(old);
    }
    Ok(request.to_value()?)
}
