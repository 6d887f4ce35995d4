//! The report model: what the check finds for each input object, and the one rule that says
//! whether an object fails the check.

use serde::Serialize;
use serde_json::Value;

use crate::scope::PolicyMode;

/// The check's verdict on one request: what the API server gets back, or that the webhook never
/// receives it. Not the policy crate's `Decision` (the module's answer with its object and
/// messages), which policy-server may still turn into another verdict (monitor mode, a patch
/// from a policy not allowed to mutate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Admitted unchanged.
    Accept,
    /// Admitted with a patch.
    Mutate,
    /// Refused.
    Reject,
    /// The webhook never receives it.
    NotSent,
}

impl Verdict {
    /// How the text report writes it.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Accept => "ACCEPT",
            Verdict::Mutate => "MUTATE",
            Verdict::Reject => "REJECT",
            Verdict::NotSent => "NOT SENT",
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
    pub decision: Verdict,
    /// In monitor mode: what the module decided, which policy-server only logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would: Option<Verdict>,
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

impl Admission {
    /// What an object the webhook never receives gets.
    pub fn not_sent() -> Admission {
        Admission {
            decision: Verdict::NotSent,
            would: None,
            changes: Vec::new(),
            patch: None,
            warnings: Vec::new(),
            message: None,
        }
    }
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
    pub fn failure(&self, policy_mode: PolicyMode, fail_on_mutate: bool) -> Option<Failure> {
        let refused_by_api_server = self.refused_by_api_server.is_some()
            || self
                .all_derived()
                .any(|d| d.refused_by_api_server.is_some());
        if refused_by_api_server {
            return Some(Failure::RefusedByApiServer);
        }
        if policy_mode == PolicyMode::Monitor {
            return None;
        }
        let is = |decision: Verdict| {
            self.admission.decision == decision
                || self
                    .next_update
                    .as_ref()
                    .is_some_and(|u| u.admission.decision == decision)
                || self.all_derived().any(|d| d.admission.decision == decision)
        };
        if is(Verdict::Reject) {
            Some(Failure::Rejected)
        } else if fail_on_mutate && is(Verdict::Mutate) {
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
