//! `--output policyreport`: the reports Kubewarden's audit scanner would write for the input, so
//! an operator sees in Policy Reporter (or `kubectl get reports`) what the first scan after the
//! install will say. It follows kubewarden-controller's `internal/audit-scanner`: which objects
//! get a report (`policies/client.go`, `scanner/scanner.go`), what the report says
//! (`report/report.go`, `openreports.go`, `policyreports.go`), in the group its `--report-kind`
//! selects. The verdict is the audit's (the scanner's request names no user), on the object as the
//! cluster stores it; docs/check.md says which fields the offline check cannot know and what it
//! writes instead.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use clap::ValueEnum;
use policy_host::Policy;
use policy_host::chain::gvr;
use policy_host::kinds::resource_of;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::check::{Checker, Options};
use crate::input::Document;
use crate::kube::{is_stored, name_of};
use crate::model::{Audit, ObjectReport, Report, Verdict};
use crate::scope::{PolicyMode, Scope, policy_resource, selector_matches};

/// The report CRDs, named as the audit scanner's `--report-kind` (the kubewarden-controller
/// chart's `auditScanner.reportCRDsKind`) names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportKind {
    /// `openreports.io/v1alpha1` Report and ClusterReport: the chart's default.
    Openreports,
    /// `wgpolicyk8s.io/v1alpha2` PolicyReport and ClusterPolicyReport (deprecated).
    Policyreport,
}

impl ReportKind {
    fn api_version(self) -> &'static str {
        match self {
            ReportKind::Openreports => "openreports.io/v1alpha1",
            ReportKind::Policyreport => "wgpolicyk8s.io/v1alpha2",
        }
    }

    fn kind(self, cluster_scoped: bool) -> &'static str {
        match (self, cluster_scoped) {
            (ReportKind::Openreports, false) => "Report",
            (ReportKind::Openreports, true) => "ClusterReport",
            (ReportKind::Policyreport, false) => "PolicyReport",
            (ReportKind::Policyreport, true) => "ClusterPolicyReport",
        }
    }
}

/// The value of the scanner's run label on every report written here: the scanner's next run
/// deletes the reports of other runs (`DeleteOldReports`), so it replaces these with its own.
pub const RUN_UID: &str = "prepuller-check";

/// What the scanner reads from the policy resource.
struct PolicyFacts {
    /// `GetUniqueName()`: `clusterwide-NAME`, `namespaced-NS-NAME`; the result's `policy`.
    unique_name: String,
    /// `metadata.name`, the `policy-name` property.
    name: String,
    /// An AdmissionPolicy's namespace, the `policy-namespace` property.
    namespace: Option<String>,
    uid: String,
    resource_version: String,
    category: Option<String>,
    severity: Option<String>,
    mutating: bool,
    context_aware: bool,
    /// A ClusterAdmissionPolicy is also audited on cluster-scoped objects; an AdmissionPolicy
    /// never is.
    cluster_wide: bool,
}

impl PolicyFacts {
    /// From the `--policy` file (already read into `scope`), else the check's defaults.
    fn read(policy_file: Option<&Path>, scope: &Scope) -> Result<PolicyFacts> {
        let Some(path) = policy_file else {
            return Ok(PolicyFacts {
                unique_name: scope.policy_id.clone(),
                name: scope.policy_id.clone(),
                namespace: None,
                uid: String::new(),
                resource_version: String::new(),
                category: None,
                severity: None,
                mutating: scope.mutating,
                context_aware: scope.context_aware.as_ref().is_some_and(|c| !c.is_empty()),
                cluster_wide: true,
            });
        };
        let resource = policy_resource(path)?;
        let metadata = &resource["metadata"];
        let text_of = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let annotation = |key: &str| metadata["annotations"][key].as_str().map(str::to_owned);
        let cluster_wide = scope.only_namespace.is_none();
        Ok(PolicyFacts {
            unique_name: scope.policy_id.clone(),
            name: text_of(&metadata["name"]),
            namespace: scope.only_namespace.clone(),
            uid: text_of(&metadata["uid"]),
            resource_version: text_of(&metadata["resourceVersion"]),
            category: annotation("io.kubewarden.policy.category"),
            severity: annotation("io.kubewarden.policy.severity"),
            mutating: scope.mutating,
            // An AdmissionPolicy cannot be context aware (its IsContextAware is false).
            context_aware: cluster_wide
                && resource["spec"]["contextAwareResources"]
                    .as_array()
                    .is_some_and(|c| !c.is_empty()),
            cluster_wide,
        })
    }

    /// `computeProperties`.
    fn properties(&self) -> Value {
        let mut p = Map::new();
        let kind = if self.mutating {
            "mutating"
        } else {
            "validating"
        };
        p.insert(kind.into(), json!("true"));
        if self.context_aware {
            p.insert("context-aware".into(), json!("true"));
        }
        p.insert(
            "policy-resource-version".into(),
            json!(self.resource_version),
        );
        p.insert("policy-uid".into(), json!(self.uid));
        p.insert("policy-name".into(), json!(self.name));
        if let Some(ns) = &self.namespace {
            p.insert("policy-namespace".into(), json!(ns));
        }
        Value::Object(p)
    }
}

/// One object the scanner audits: the object as stored, and whether the policy's
/// objectSelector lets it be evaluated (otherwise its report has no result).
struct Audited {
    object: Value,
    /// Already stored in the input (a dump, or `--as-audit`), not just rendered.
    stored: bool,
    namespace: Option<String>,
    selected: bool,
    verdict: Option<Audit>,
}

/// The reports as YAML documents, after a header of comments naming what the check cannot
/// show. `policy_file` is `--policy`; `options` the check's.
pub fn yaml(
    report: &Report,
    documents: &[Document],
    policy: &Policy,
    scope: &Scope,
    options: &Options,
    policy_file: Option<&Path>,
    kind: ReportKind,
) -> Result<String> {
    let facts = PolicyFacts::read(policy_file, scope)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# prepuller-check: what Kubewarden's audit scanner writes ({}) for policy {}",
        kind.api_version(),
        facts.unique_name
    );
    for note in &report.notes {
        let _ = writeln!(out, "# note: {note}");
    }
    if !scope.background_audit {
        out.push_str(
            "# spec.backgroundAudit is false: the audit scanner skips the policy and writes no \
             report\n",
        );
        return Ok(out);
    }
    // The scanner lists the resources of the rules with a CREATE operation and no wildcard
    // (`filterWildcardRules`, `filterNonCreateOperations`), in the namespaces the policy selects;
    // the objectSelector only decides whether the policy is evaluated on what it lists.
    let listing = Scope {
        rules: scope
            .rules
            .iter()
            .filter(|r| {
                r.operations.iter().any(|o| o == "CREATE")
                    && ![&r.api_groups, &r.api_versions, &r.resources]
                        .iter()
                        .any(|l| l.iter().any(|x| x == "*"))
            })
            .cloned()
            .collect(),
        object_selector: None,
        ..scope.clone()
    };
    let mut audited: Vec<Audited> = Vec::new();
    let mut rejected = Vec::new();
    let mut refused = Vec::new();
    let mut transient = Vec::new();
    // Objects whose controllers create objects the scanner lists.
    let mut parents = Vec::new();
    let mut stored_accounts: BTreeSet<(String, String)> = BTreeSet::new();
    for (document, object) in documents.iter().zip(&report.objects) {
        let stored = options.as_audit || is_stored(&document.object);
        let state = if stored {
            let mut state = document.object.clone();
            if let Some(ns) = &object.namespace {
                state["metadata"]["namespace"] = json!(ns);
            }
            state
        } else if object.admission.decision == Verdict::Reject {
            // Refused at admission: never stored, never audited.
            rejected.push(object.title());
            continue;
        } else if object.refused_by_api_server.is_some() {
            // A Pod whose ServiceAccount does not exist (before the webhooks, or the one the
            // policy moved it onto): never stored either.
            refused.push(object.title());
            continue;
        } else {
            if creates_listed(object, &listing)? {
                parents.push(object.title());
            }
            // As admitted: the policy's changes (none in monitor mode), in the object's namespace.
            let mut state = object
                .fixed
                .clone()
                .unwrap_or_else(|| document.object.clone());
            if let Some(ns) = &object.namespace {
                state["metadata"]["namespace"] = json!(ns);
            }
            state
        };
        if state["kind"] == "ServiceAccount" && state["apiVersion"] == "v1" {
            stored_accounts.insert((
                object.namespace.clone().unwrap_or_default(),
                state["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ));
        }
        if object.namespace.is_none() && !facts.cluster_wide {
            continue;
        }
        let (group, version, resource) = resource_of(&state);
        let labels = &state["metadata"]["labels"];
        if listing
            .sends(
                (&group, &version, &resource),
                "CREATE",
                object.namespace.as_deref(),
                labels,
            )?
            .is_some()
        {
            continue;
        }
        let delete_policy = state["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
            .as_str()
            .unwrap_or_default();
        if delete_policy
            .split(',')
            .any(|p| p.trim() == "hook-succeeded")
        {
            transient.push(object.title());
        }
        let selected = match &scope.object_selector {
            Some(selector) => selector_matches(selector, labels)?,
            None => true,
        };
        audited.push(Audited {
            object: state,
            stored,
            namespace: object.namespace.clone(),
            selected,
            verdict: if stored && selected {
                object.audit.clone()
            } else {
                None
            },
        });
    }
    audit_rendered(&mut audited, policy, scope, options, stored_accounts)?;

    let fails = audited
        .iter()
        .filter(|a| a.verdict.as_ref().is_some_and(|v| v.result == "fail"))
        .count();
    let _ = writeln!(out, "# {} reports, {fails} fail", audited.len());
    if !rejected.is_empty() {
        let _ = writeln!(
            out,
            "# rejected at admission, so never stored nor audited: {}",
            rejected.join(", ")
        );
    }
    if !refused.is_empty() {
        let _ = writeln!(
            out,
            "# refused by the API server, their ServiceAccount missing, so never stored nor \
             audited: {}",
            refused.join(", ")
        );
    }
    if !transient.is_empty() {
        let _ = writeln!(
            out,
            "# Helm hooks deleted once they succeed (helm.sh/hook-delete-policy: hook-succeeded), \
             their reports with them: {}",
            transient.join(", ")
        );
    }
    if audited.iter().any(|a| uid_of(&a.object).is_none()) {
        out.push_str(
            "# objects without a uid: their reports are named by a UUID of apiVersion, kind, \
             namespace and name, with no owner\n",
        );
    }
    if audited.iter().any(|a| !a.stored) {
        out.push_str("# objects not stored yet are audited as admitted\n");
    }
    if !parents.is_empty() {
        let _ = writeln!(
            out,
            "# not shown: the objects the controllers create from these, which the scanner audits \
             too once they exist (the text report shows how they are admitted): {}",
            parents.join(", ")
        );
    }
    if !audited.is_empty() {
        out.push_str(
            "# each report holds this policy's result only; the scanner's report of an object \
             holds the result of every policy that audits it\n",
        );
    }
    for a in &audited {
        out.push_str("---\n");
        out.push_str(&serde_norway::to_string(&document(
            kind,
            &facts,
            scope.policy_mode,
            a,
        ))?);
    }
    Ok(out)
}

/// The audit of objects not stored yet, on the object as admitted, as the check audits stored
/// objects, in the cluster after the install: the ServiceAccounts the cluster has and those of
/// the input that were stored exist.
fn audit_rendered(
    audited: &mut [Audited],
    policy: &Policy,
    scope: &Scope,
    options: &Options,
    mut known: BTreeSet<(String, String)>,
) -> Result<()> {
    known.extend(options.existing_service_accounts.iter().cloned());
    let checker = Checker::new(policy, scope, options);
    let host = checker.host(&known)?;
    for a in audited
        .iter_mut()
        .filter(|a| a.selected && a.verdict.is_none())
    {
        a.verdict = Some(checker.audit(&host, &a.object)?);
    }
    Ok(())
}

/// Whether the controllers create, from this admitted object, objects the scanner lists (in its
/// namespace, under a rule with CREATE): the ones the API server would store.
fn creates_listed(object: &ObjectReport, listing: &Scope) -> Result<bool> {
    for derived in &object.derived {
        if derived.admission.decision == Verdict::Reject || derived.refused_by_api_server.is_some()
        {
            continue;
        }
        let kind = derived.object.split(' ').next().unwrap_or_default();
        let Ok(resource) = gvr(kind) else { continue };
        if listing
            .sends(
                resource,
                "CREATE",
                object.namespace.as_deref(),
                &Value::Null,
            )?
            .is_none()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A deterministic UUID (version 8, from SHA-256) naming the report of an object that has no
/// uid yet.
fn synthetic_uid(object: &Value, namespace: Option<&str>) -> String {
    let identity = format!(
        "{}\n{}\n{}\n{}",
        object["apiVersion"].as_str().unwrap_or_default(),
        object["kind"].as_str().unwrap_or_default(),
        namespace.unwrap_or_default(),
        name_of(object)
    );
    let digest = Sha256::digest(identity.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn uid_of(object: &Value) -> Option<&str> {
    object["metadata"]["uid"].as_str().filter(|u| !u.is_empty())
}

/// One report, as `NewOpenReport`/`NewPolicyReport` (and their cluster forms) and `AddResult`
/// build it, serialized as the Go types serialize (`omitempty` fields left out).
fn document(
    kind: ReportKind,
    facts: &PolicyFacts,
    policy_mode: PolicyMode,
    audited: &Audited,
) -> Value {
    let object = &audited.object;
    let uid = uid_of(object);
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let object_kind = object["kind"].as_str().unwrap_or_default();
    let name = name_of(object);
    let mut metadata = json!({
        "name": uid.map_or_else(|| synthetic_uid(object, audited.namespace.as_deref()), str::to_owned),
        "labels": {
            "app.kubernetes.io/managed-by": "kubewarden",
            "kubewarden.io/policyreport-version": "v2",
            "kubewarden.io/audit-scanner-run-uid": RUN_UID,
        },
    });
    let mut scope = json!({"apiVersion": api_version, "kind": object_kind, "name": name});
    if let Some(ns) = &audited.namespace {
        metadata["namespace"] = json!(ns);
        scope["namespace"] = json!(ns);
    }
    if let Some(uid) = uid {
        // Without a uid there is no owner: the garbage collector would delete a report whose
        // owner does not exist.
        metadata["ownerReferences"] = json!([{"apiVersion": api_version, "kind": object_kind,
            "name": name, "uid": uid}]);
        scope["uid"] = json!(uid);
    }
    if let Some(version) = object["metadata"]["resourceVersion"]
        .as_str()
        .filter(|v| !v.is_empty())
    {
        scope["resourceVersion"] = json!(version);
    }
    let mut results = Vec::new();
    let (mut pass, mut fail) = (0, 0);
    if let Some(verdict) = &audited.verdict {
        if verdict.result == "fail" {
            fail += 1;
        } else {
            pass += 1;
        }
        let mut result = json!({
            "source": "kubewarden",
            "policy": facts.unique_name,
            "timestamp": {"seconds": 0, "nanos": 0},
            "result": verdict.result,
            "scored": true,
            "resourceSelector": {},
            "properties": facts.properties(),
        });
        if let Some(category) = facts.category.as_deref().filter(|c| !c.is_empty()) {
            result["category"] = json!(category);
        }
        // computePolicyResultSeverity: info in monitor mode, else the annotation.
        let severity = match policy_mode {
            PolicyMode::Monitor => Some("info"),
            PolicyMode::Protect => facts.severity.as_deref(),
        };
        if let Some(severity) = severity.filter(|s| !s.is_empty()) {
            result["severity"] = json!(severity);
        }
        if let Some(message) = verdict.message.as_deref().filter(|m| !m.is_empty()) {
            result["message"] = json!(message);
        }
        results.push(result);
    }
    let mut report = json!({
        "apiVersion": kind.api_version(),
        "kind": kind.kind(audited.namespace.is_none()),
        "metadata": metadata,
        "scope": scope,
        "summary": {"pass": pass, "fail": fail, "warn": 0, "error": 0, "skip": 0},
    });
    if !results.is_empty() {
        report["results"] = Value::Array(results);
    }
    if kind == ReportKind::Openreports {
        // The Report's own `source` has no omitempty and the scanner never sets it.
        report["source"] = json!("");
    }
    report
}
